//! Stage 1 of the pipeline, the input. Uses nothing else of the crate.
//!
//! Scenario files: loading, validation and the validated `Scenario` the rest of infergate runs.
//!
//! `raw` mirrors the file (inference-perf's config plus `thresholds` and `validity`), `validate` turns it
//! into a `Scenario` whose every field is honoured, `threshold` parses k6-style expressions and `locate`
//! finds line numbers for errors found after parsing.

pub mod breaker;
pub mod capacity;
pub mod credentials;
pub mod env;
pub mod filter;
pub mod goodput;
pub mod locate;
pub mod media;
pub mod metric;
pub mod raw;
pub mod records;
pub mod regression;
pub mod replay;
pub mod scrape;
pub mod storage;
pub mod threshold;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use credentials::{Secret, TlsFiles};
pub use regression::Regression;
pub use storage::{Addressing, GcsStorage, S3Storage, Storage};
pub use threshold::{Aggregation, Metric, MetricKind, Op, Threshold};

/// A scenario file that loaded and passed validation.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it was read from.
    pub path: PathBuf,
    pub api: Api,
    pub data: Data,
    pub tokenizer: Option<TokenizerSpec>,
    pub load: Load,
    pub server: Server,
    pub storage: Storage,
    pub thresholds: Vec<Threshold>,
    pub validity: Validity,
    /// How runs are compared with a baseline.
    pub regression: Regression,
    /// Where server-side metrics are scraped from (`metrics`).
    pub scrape: scrape::Scrape,
    /// `report.request_lifecycle.percentiles` beyond inference-perf's default set, which reports always
    /// give.
    pub percentiles: Vec<f64>,
    /// Per-request records (`report.request_lifecycle.per_request`), when asked for.
    pub per_request: Option<records::PerRequest>,
    /// `load.capacity`: the search for the highest load that meets the SLO, when given.
    pub capacity: Option<capacity::Capacity>,
    /// Per-request SLOs (`report.goodput.constraints`), when given.
    pub goodput: Option<goodput::Goodput>,
    /// Which server-metrics report files are written (`report.prometheus`).
    pub server_reports: scrape::ServerReports,
    /// Things the file asks for that infergate accepts but does not honour (yet); shown with every run.
    pub warnings: Vec<String>,
    /// FNV-1a of the load-relevant sections: a baseline with another hash offered different load.
    pub config_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// `/v1/completions`
    Completion,
    /// `/v1/chat/completions`
    Chat,
}

#[derive(Debug, Clone)]
pub struct Api {
    pub kind: ApiKind,
    pub streaming: bool,
    pub headers: Vec<(String, String)>,
    /// `api.response_format` in the API's form: `{"type": "json_object"}` or `{"type":
    /// "json_schema", "json_schema": {"name", "schema"}}`, as inference-perf sends it.
    pub response_format: Option<serde_json::Value>,
    /// `api.session_id_header_key`: the header that carries a session's id on each of its requests.
    pub session_id_header: Option<String>,
    /// `api.session_token_header_key`: a response header whose value is sent back on the session's
    /// later requests (router session affinity).
    pub session_token_header: Option<String>,
}

/// How token lengths are drawn for each request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LengthDistribution {
    /// Always this many tokens.
    Fixed(u32),
    /// Normal(mean, std_dev) rounded and clamped to [min, max] (inference-perf's behaviour).
    Normal {
        mean: f64,
        std_dev: f64,
        min: u32,
        max: u32,
    },
    /// Uniform over [min, max].
    Uniform { min: u32, max: u32 },
    /// Azzalini's skew-normal with location `mean`, scale `std_dev` and shape `skew`, rounded and
    /// clamped (inference-perf's `skew_normal`).
    SkewNormal {
        mean: f64,
        std_dev: f64,
        skew: f64,
        min: u32,
        max: u32,
    },
    /// The lognormal with this mean and standard deviation, rounded and clamped.
    LogNormal {
        mean: f64,
        std_dev: f64,
        min: u32,
        max: u32,
    },
    /// Poisson with rate `mean`, clamped.
    Poisson { mean: f64, min: u32, max: u32 },
}

#[derive(Debug, Clone)]
pub struct Data {
    pub source: DataSource,
    pub input: LengthDistribution,
    pub output: LengthDistribution,
    /// `data.multimodal`: media drawn for each request (a shared prefix's own are in `SharedPrefix`).
    pub media: Option<media::Media>,
}

impl Data {
    /// Whether requests are turns of multi-turn sessions (`conversation_replay`, or `shared_prefix`
    /// with `enable_multi_turn_chat`).
    pub fn has_sessions(&self) -> bool {
        match &self.source {
            DataSource::Conversations(_) => true,
            DataSource::SharedPrefix(p) => p.multi_turn,
            DataSource::Replay(_) => true,
            _ => false,
        }
    }
}

/// Where prompts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// `synthetic`, `random` or `mock`: vocabulary words, lengths from the distributions.
    Generated,
    /// `shared_prefix`: groups of prompts that share a system prompt (prefix-cache workloads).
    SharedPrefix(SharedPrefix),
    /// `shareGPT`: the first human turn of each conversation in a local JSON file; the answer's
    /// length (in tokens) is the request's `max_tokens`.
    /// Without a path, the dataset inference-perf downloads (`plan::datasets`).
    ShareGpt { path: Option<PathBuf> },
    /// `random`/`synthetic` with `data.trace`: generated prompts whose lengths are the trace's rows
    /// (request `i` gets row `i`'s context and generated tokens), read when the run starts.
    TraceLengths { path: PathBuf },
    /// `conversation_replay`: synthetic multi-turn conversations, each turn sent with the history.
    Conversations(Conversations),
    /// `visionarena`: the first user turn and its images from rows of the hub dataset.
    VisionArena(media::VisionArena),
    /// `otel_trace_replay` / `weka_trace_replay`: recorded agent sessions, replayed as graphs of
    /// calls by `trace_session_replay` stages.
    Replay(Box<replay::SessionReplay>),
}

/// inference-perf's `data.conversation_replay`: `count` conversations, each a system prompt (a part
/// shared by all, and a part of its own) and a number of turns; each turn asks a question and sends
/// the whole conversation so far, the model's real answers included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversations {
    pub seed: u64,
    pub count: u32,
    pub shared_system_prompt_len: u32,
    /// Drawn once per conversation (none: no part of its own).
    pub dynamic_system_prompt_len: Option<LengthDistribution>,
    /// Drawn once per conversation.
    pub turns: LengthDistribution,
    /// Drawn once per turn: the question's length.
    pub input: LengthDistribution,
    /// Drawn once per turn: its `max_tokens`.
    pub output: LengthDistribution,
    /// Whole seconds, drawn once per turn: how long the next turn waits after this one ended.
    pub tool_call_latency: Option<LengthDistribution>,
    /// The context a turn may use: oldest turns are left out to fit (inference-perf's default 225000).
    pub max_model_len: u32,
}

/// inference-perf's `data.shared_prefix`.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedPrefix {
    pub num_groups: u32,
    pub num_prompts_per_group: u32,
    /// Drawn once per group.
    pub system_prompt_len: LengthDistribution,
    /// Drawn once per prompt.
    pub question_len: LengthDistribution,
    /// Drawn once per prompt: its `max_tokens`.
    pub output_len: LengthDistribution,
    /// Seeds the prompts' construction (else the scenario's seed).
    pub seed: Option<u64>,
    /// `enable_multi_turn_chat`: every prompt is a user who asks its question again each round, with
    /// the conversation so far (its group's system prompt, earlier questions and real answers).
    pub multi_turn: bool,
    /// `shared_prefix.multimodal`: media drawn once per group, part of the shared prefix.
    pub media: Option<Box<media::Media>>,
}

/// `tokenizer`: what counts tokens and builds prompts.
#[derive(Debug, Clone)]
pub struct TokenizerSpec {
    /// A `tokenizer.json`, a directory holding one, or a Hugging Face model id.
    pub name: String,
    /// For gated models on the hub.
    pub token: Option<Secret>,
}

/// Whether a tokenizer name is a file path rather than a hub model id: it starts with `/`, `.` or `~`,
/// ends with `.json`, or has more than one `/` (ids are `org/name`).
pub fn looks_like_path(name: &str) -> bool {
    name.starts_with(['/', '.', '~']) || name.ends_with(".json") || name.matches('/').count() > 1
}

/// How requests arrive within a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Evenly spaced: rate 2 sends at 0 s, 0.5 s, 1 s, ...
    Constant,
    /// A Poisson process: exponential gaps with mean 1/rate, seeded.
    Poisson,
    /// Closed loop: a fixed number of requests in flight.
    Concurrent,
    /// `trace_replay`: each request at its trace row's offset (`Load::trace`).
    Trace,
    /// `trace_session_replay`: whole recorded sessions, each call when the calls it depends on end.
    Sessions,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// Open loop: `rate` requests per second for `duration`.
    Rate { rate: f64, duration: Duration },
    /// Closed loop: `num_requests` in total with `concurrency` in flight.
    Concurrency { num_requests: u64, concurrency: u32 },
    /// `trace_session_replay`: `sessions` recorded sessions (none: every one left), `concurrent`
    /// at a time (0: all at once), started at most `rate` per second.
    Sessions {
        concurrent: u32,
        sessions: Option<u64>,
        rate: Option<f64>,
    },
}

/// `load.sweep`: a stepped ramp finds the saturation rate, then `num_stages` stages run up to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sweep {
    /// Geometric spacing halves the rate from stage to stage below saturation; linear spaces evenly.
    pub geometric: bool,
    pub num_stages: u32,
    pub stage_duration: Duration,
    pub start_rate: f64,
    pub max_rate: f64,
    pub probe_duration: Duration,
}

/// How much warm-up load to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Warmup {
    /// This many requests, at the first stage's rate or concurrency.
    Requests(u64),
    /// This long at the first stage's rate (open-loop loads only).
    Duration(Duration),
}

#[derive(Debug, Clone)]
pub struct Load {
    pub arrival: Arrival,
    /// Gamma shape of the gaps of a `poisson` load (1 = Poisson, < 1 burstier).
    pub burstiness: f64,
    /// Load sent before the first stage, shaped like it, and kept out of every statistic.
    pub warmup: Option<Warmup>,
    /// Empty when `sweep` generates the stages at run time.
    pub stages: Vec<Stage>,
    /// Find the saturation rate first, then run stages up to it.
    pub sweep: Option<Sweep>,
    /// Pause between stages.
    pub interval: Duration,
    /// Total time a request may take before it is counted as timed out.
    pub request_timeout: Option<Duration>,
    /// Longest silence between reads once a stream has produced content (default 30 s).
    pub idle_timeout: Duration,
    /// Requests in flight at most (`num_workers x worker_max_concurrency`); open-loop sends wait for a
    /// free slot, and the wait shows up as schedule delay.
    pub max_in_flight: usize,
    /// Load threads in one process (`num_workers`; one when unset), each with its own runtime.
    pub threads: u32,
    /// Seed for arrivals and lengths; a fixed default keeps runs reproducible.
    pub seed: u64,
    /// `load.circuit_breakers`: the breakers that stop the run when they open.
    pub circuit_breakers: Vec<breaker::Breaker>,
    /// `load.trace.file` (`trace_replay`): the trace whose timestamps are the arrivals, read when the
    /// run starts.
    pub trace: Option<PathBuf>,
    /// `load.lora_traffic_split`: LoRA adapters to spread requests over.
    pub lora: Option<Lora>,
}

/// `load.lora_traffic_split`: each request's `model` is one of these adapters, drawn by its share
/// (seeded, so a run sends the same adapter for the same request), and the reports it gets
/// (`report.request_lifecycle.per_adapter`, default on, and `per_adapter_stage`, default off).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lora {
    pub adapters: Vec<(String, f64)>,
    pub per_adapter: bool,
    pub per_adapter_stage: bool,
}

impl Lora {
    /// The adapters' names, in order (a recorder's `adapters` follow it).
    pub fn names(&self) -> Vec<String> {
        self.adapters.iter().map(|a| a.0.clone()).collect()
    }

    /// The adapters' shares, in order.
    pub fn shares(&self) -> Vec<f64> {
        self.adapters.iter().map(|a| a.1).collect()
    }

    /// Where adapter `name` is in the order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.adapters.iter().position(|a| a.0 == name)
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub base_url: Option<String>,
    pub model_name: Option<String>,
    pub ignore_eos: bool,
    /// Bearer token. Never printed: see `Secret`.
    pub api_key: Option<Secret>,
    /// Extra trusted roots and a client certificate, paths relative to the scenario file.
    pub tls: TlsFiles,
}

/// Limits on the runner itself. A breach means infergate could not produce the load it was asked for,
/// so its latency figures describe the runner as much as the target: the run is invalid, not failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Validity {
    /// Schedule delay p99 per stage must stay below this (microseconds). Seed 002: "<10ms".
    pub max_schedule_delay_p99_us: f64,
    /// Open-loop stages must send at no less than this fraction of their scheduled rate.
    pub min_achieved_rate: f64,
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            max_schedule_delay_p99_us: 10_000.0,
            min_achieved_rate: 0.95,
        }
    }
}

/// A problem with a scenario file, with its position where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted key path, e.g. `load.stages[1].rate`, where known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Every problem found in one scenario file, in file order where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            ScenarioErrors(vec![ScenarioError {
                path: path.to_path_buf(),
                line: None,
                column: None,
                key: None,
                message: format!("cannot read the file: {e}"),
            }])
        })?;
        Scenario::from_source(path, &source)
    }

    /// Validates scenario text; `path` is used in messages only.
    pub fn from_source(path: &Path, source: &str) -> Result<Scenario, ScenarioErrors> {
        let mut scenario = validate::validate(path, source)?;
        scenario.config_hash = load_hash(source);
        Ok(scenario)
    }

    /// The scenario's name: its file name without the extension.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string())
    }
}

/// The sections that decide what load is offered: `api`, `data`, `load`, `tokenizer`, and `server`
/// without its address, credentials and TLS files. Thresholds, storage and comments may change without
/// making a baseline incomparable; a different model, prompt shape or stage plan may not.
const LOAD_SECTIONS: [&str; 5] = ["api", "data", "load", "tokenizer", "server"];
const SERVER_KEYS_NOT_HASHED: [&str; 4] = ["base_url", "api_key", "tls", "type"];

/// FNV-1a of the load-relevant sections (`LOAD_SECTIONS`) as YAML, keys in file order.
fn load_hash(source: &str) -> String {
    let Ok(serde_yaml::Value::Mapping(document)) = serde_yaml::from_str(source) else {
        return fnv1a(source.as_bytes());
    };
    let mut selected = serde_yaml::Mapping::new();
    for section in LOAD_SECTIONS {
        let Some(value) = document.get(section) else {
            continue;
        };
        let mut value = value.clone();
        if section == "server"
            && let serde_yaml::Value::Mapping(server) = &mut value
        {
            for key in SERVER_KEYS_NOT_HASHED {
                server.remove(key);
            }
        }
        selected.insert(section.into(), value);
    }
    fnv1a(
        serde_yaml::to_string(&selected)
            .unwrap_or_default()
            .as_bytes(),
    )
}

/// 64-bit FNV-1a, as 16 hex digits: stable across Rust versions, unlike `DefaultHasher`.
pub fn fnv1a(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}
