//! The report schema: every JSON file a run writes, as `Serialize + Deserialize` structs. The run
//! writes them (`json`), and `report`, `compare` and the baselines read them back through the same
//! types, so a field cannot be renamed on one side only. The layout and units are inference-perf's
//! (`*_lifecycle_metrics.json`, seconds) plus infergate's `verdicts.json` and `timeline.json`;
//! `samples.json` is `gate::baseline::samples::RunSamples`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::gate::knee::Knee;
use crate::gate::{CheckKind, Status, Verdict};
use crate::measure::server::ServerSummary;
pub use crate::report::prometheus::PrometheusReport;

mod comparison;
use crate::run::sweep::SweepOutcome;
pub use comparison::{BaselineEntry, ConfirmationEntry, IntervalEntry, ProblemEntry, RowEntry};

/// Where each file lives in a scenario's report directory.
pub mod files {
    pub const VERDICTS: &str = "verdicts.json";
    pub const SUMMARY: &str = "summary_lifecycle_metrics.json";
    pub const WARMUP: &str = "warmup_lifecycle_metrics.json";
    pub const TIMELINE: &str = "timeline.json";
    pub const SAMPLES: &str = crate::gate::baseline::samples::FILE_NAME;

    /// Server-side metrics in inference-perf's layout (`report.prometheus.summary`).
    pub const PROMETHEUS_SUMMARY: &str = "summary_prometheus_metrics.json";

    /// `stage_{i}_prometheus_metrics.json` (`report.prometheus.per_stage`).
    pub fn prometheus_stage(index: usize) -> String {
        format!("stage_{index}_prometheus_metrics.json")
    }

    /// Replayed sessions (`trace_session_replay`), inference-perf's names.
    pub const SESSION_SUMMARY: &str = "summary_session_lifecycle_metrics.json";
    pub const PER_SESSION: &str = "per_session_lifecycle_metrics.json";

    /// `stage_{i}_session_lifecycle_metrics.json`.
    pub fn session_stage(index: usize) -> String {
        format!("stage_{index}_session_lifecycle_metrics.json")
    }

    /// `stage_{i}_lifecycle_metrics.json`.
    pub fn stage(index: usize) -> String {
        format!("stage_{index}_lifecycle_metrics.json")
    }

    /// `adapter_{name}_lifecycle_metrics.json` (inference-perf's `per_adapter`).
    pub fn adapter(name: &str) -> String {
        format!("adapter_{}_lifecycle_metrics.json", safe(name))
    }

    /// `adapter_{name}_stage_{i}_lifecycle_metrics.json` (inference-perf's `per_adapter_stage`).
    pub fn adapter_stage(name: &str, index: usize) -> String {
        format!(
            "adapter_{}_stage_{index}_lifecycle_metrics.json",
            safe(name)
        )
    }

    /// An adapter's name as part of a file name: anything but letters, digits, `.`, `-` and `_`
    /// becomes `_` (so `org/adapter` cannot leave the directory).
    fn safe(name: &str) -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// A distribution: mean, extremes and inference-perf's percentiles (`median` for p50).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    #[serde(rename = "p0.1")]
    pub p0_1: f64,
    pub p1: f64,
    pub p5: f64,
    pub p10: f64,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    /// `report.request_lifecycle.percentiles` beyond these, keyed as inference-perf keys them (`p97`,
    /// `p99.99`).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more: BTreeMap<String, f64>,
}

impl Distribution {
    /// `(percentile, value)` from the minimum (0) to the maximum (100).
    pub fn curve(&self) -> [(f64, f64); 13] {
        [
            (0.0, self.min),
            (0.1, self.p0_1),
            (1.0, self.p1),
            (5.0, self.p5),
            (10.0, self.p10),
            (25.0, self.p25),
            (50.0, self.median),
            (75.0, self.p75),
            (90.0, self.p90),
            (95.0, self.p95),
            (99.0, self.p99),
            (99.9, self.p99_9),
            (100.0, self.max),
        ]
    }
}

/// One lifecycle report: a stage, the warm-up, or the whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub load_summary: LoadSummary,
    pub successes: Successes,
    pub failures: Failures,
    pub cancelled: u64,
    /// What the engine's `/metrics` said over the same window, when it was scraped.
    pub server_metrics: Option<ServerSummary>,
    /// Multi-turn sessions, when the data has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionsEntry>,
    /// Images, audio and video sent, when the prompts carried any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<crate::measure::recorder::media::MediaCounts>,
}

/// Replayed agent sessions (`summary_session_lifecycle_metrics.json` and per stage), in
/// inference-perf's field names; durations in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReplaySummary {
    pub num_sessions: u64,
    pub num_sessions_succeeded: u64,
    pub num_sessions_failed: u64,
    pub total_events: u64,
    pub total_events_completed: u64,
    /// Calls sent that failed or timed out.
    pub total_events_failed: u64,
    /// Calls never sent: one they depend on failed (or the run stopped).
    pub total_events_cancelled: u64,
    pub session_duration_sec: Option<Spread>,
    pub num_events: Option<Spread>,
    pub total_input_tokens: Option<Spread>,
    pub total_output_tokens: Option<Spread>,
    /// Calls on each session's critical path (the chain of calls that ended last).
    pub critical_path_events: Option<Spread>,
    /// Time on the critical path spent in calls rather than in replayed gaps.
    pub critical_path_call_sec: Option<Spread>,
}

/// A small distribution over sessions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Multi-turn sessions: how many conversations began and completed, and the requests by turn index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsEntry {
    /// Conversations begun (first turns sent).
    pub started: u64,
    /// Conversations whose last turn succeeded.
    pub completed: u64,
    /// Requests that were turns of a session.
    pub turns: u64,
    pub by_turn: Vec<TurnEntry>,
}

/// The requests of one turn index (0 the first turn of a conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnEntry {
    pub turn: u32,
    /// This entry also counts every later turn.
    pub and_later: bool,
    pub requests: u64,
    pub ok: u64,
    pub time_to_first_token: Option<Distribution>,
    pub inter_token_latency: Option<Distribution>,
    pub prompt_tokens: Option<Distribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Requests scheduled.
    pub count: u64,
    pub schedule_delay: Option<Distribution>,
    /// Seconds from the first send to the last.
    pub send_duration: f64,
    pub requested_rate: Option<f64>,
    pub achieved_rate: Option<f64>,
    pub scheduled_rate: Option<f64>,
    pub in_flight_cap_waits: u64,
    pub ramp_up: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Successes {
    pub count: u64,
    pub latency: Latency,
    pub throughput: Throughput,
    pub prompt_tokens: Option<Distribution>,
    pub output_len: Option<Distribution>,
    pub output_tokens_from_server_usage: u64,
    /// Reasoning tokens per success (absent when no success carried reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<Distribution>,
    /// Of the successes, those whose reasoning count came from the server's
    /// `usage.completion_tokens_details.reasoning_tokens` (the rest were counted by chunks).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_tokens_from_server_usage: u64,
    pub prompt_token_mismatches: u64,
    pub token_count_mismatches: u64,
    /// With `report.goodput`: how many successes met the per-request SLOs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_metrics: Option<GoodputEntry>,
}

/// `successes.goodput_metrics`, in inference-perf's keys: the first five and the attainments are its
/// definitions (percentages of the successes); `slo_attainment` is infergate's (a fraction of the
/// requests sent, so failures count against it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoodputEntry {
    pub goodput_percentage: f64,
    /// Good requests per second of the window.
    pub request_goodput: f64,
    /// Prompt and output tokens of good requests per second.
    pub token_goodput: f64,
    pub good_requests: u64,
    /// The successes judged.
    pub total_requests: u64,
    pub slo_attainment: Option<f64>,
    /// The constraints, seconds.
    pub constraints: std::collections::BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_attainment_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_attainment_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_attainment_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntpot_attainment_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_latency_attainment_percentage: Option<f64>,
}

/// Latency distributions, seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub request_latency: Option<Distribution>,
    pub request_latency_from_intended_send: Option<Distribution>,
    pub time_to_first_token: Option<Distribution>,
    /// The first answer (not reasoning) chunk − sent: AIPerf's name. Equal to TTFT without reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_output_token: Option<Distribution>,
    pub inter_token_latency: Option<Distribution>,
    pub time_per_output_token: Option<Distribution>,
    pub normalized_time_per_output_token: Option<Distribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub input_tokens_per_sec: f64,
    pub output_tokens_per_sec: f64,
    pub total_tokens_per_sec: f64,
    pub requests_per_sec: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failures {
    /// Failed and timed-out requests.
    pub count: u64,
    pub timed_out: u64,
    pub timed_out_idle: u64,
    /// Failure kind (`http_500`, `connect`, ...) → how many, with a few messages.
    pub by_label: BTreeMap<String, FailureLabel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureLabel {
    pub count: u64,
    pub samples: Vec<String>,
}

/// `verdicts.json`: a judged run, or a scenario that could not run.
#[derive(Debug, Clone, PartialEq)]
pub enum VerdictsFile {
    Judged(Box<Verdicts>),
    Error(ErrorVerdicts),
}

/// `verdicts.json` of a scenario that could not run (`status: error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorVerdicts {
    pub scenario: String,
    /// Always `error`.
    pub status: String,
    pub error: String,
}

/// `verdicts.json` of a judged run: its metadata and every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdicts {
    pub infergate_version: String,
    pub scenario: String,
    pub status: Status,
    pub target: String,
    pub model: String,
    pub server_version: Option<String>,
    pub simulated: bool,
    pub shortened: Option<String>,
    pub started_at_unix: f64,
    pub ended_at_unix: f64,
    pub elapsed_seconds: f64,
    pub config_hash: String,
    pub environment: Environment,
    /// Each stage described (`rate 5/s for 60s`).
    pub stages: Vec<String>,
    pub warnings: Vec<String>,
    pub knee: Option<Knee>,
    /// Seconds from the run's start at which each stage began.
    pub stage_offsets: Vec<f64>,
    pub stage_loads: Vec<StageLoadEntry>,
    pub sweep: Option<SweepOutcome>,
    /// What `load.capacity`'s search found: the value, its unit and precision, and every step.
    pub capacity: Option<crate::run::capacity::CapacityOutcome>,
    pub checks: Vec<CheckEntry>,
    pub baseline: Option<BaselineEntry>,
}

/// Where the run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub host: Option<String>,
    pub os: String,
    pub arch: String,
    pub cpus: Option<usize>,
}

/// A stage's load, for plots and comparisons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageLoadEntry {
    pub index: usize,
    pub describe: String,
    /// Requested rate of an open-loop stage.
    pub rate: Option<f64>,
    /// Requests in flight of a closed-loop stage.
    pub concurrency: Option<u32>,
}

/// One check as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckEntry {
    pub name: String,
    pub kind: CheckKind,
    pub verdict: Verdict,
    pub observed: String,
    pub message: String,
}

/// One second of one stage, on the run's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub stage: usize,
    /// Seconds from the run's start.
    pub t: f64,
    pub in_flight: u64,
    pub completed_per_s: f64,
    pub ttft_avg_ms: Option<f64>,
    pub e2e_avg_ms: Option<f64>,
}

/// Why a report file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Reads one report file into its type.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ReadError::Json {
        path: path.to_path_buf(),
        source,
    })
}

impl VerdictsFile {
    /// Reads `verdicts.json`, telling a judged run from a scenario that could not run by `status`.
    pub fn read(path: &Path) -> Result<VerdictsFile, ReadError> {
        let value: serde_json::Value = read(path)?;
        let json = |source| ReadError::Json {
            path: path.to_path_buf(),
            source,
        };
        if value["status"] == "error" {
            serde_json::from_value(value)
                .map(VerdictsFile::Error)
                .map_err(json)
        } else {
            serde_json::from_value(value)
                .map(|v| VerdictsFile::Judged(Box::new(v)))
                .map_err(json)
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
