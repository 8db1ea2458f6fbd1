//! Agentic session replay as validated: inference-perf's `otel_trace_replay` (and
//! `weka_trace_replay`) data, replayed by `trace_session_replay` stages. Each trace is one session:
//! a graph of LLM calls, each waiting for the calls it depends on (see `plan::replay`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::filter::Filter;

/// Where the traces come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceSource {
    /// Every `*.json` file in the directory, in name order.
    Directory(PathBuf),
    /// The files (glob patterns allowed), in the order given.
    Files(Vec<String>),
    /// A dataset on the Hugging Face hub, downloaded and cached.
    Hub {
        repo: String,
        revision: String,
        split: String,
    },
}

/// Which model each call names.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChoice {
    /// `use_static_model`: every call names this model.
    Static(String),
    /// `model_mapping`: recorded names mapped; unmapped names go to the scenario's model.
    Mapping(BTreeMap<String, String>),
    /// Neither: the scenario's model.
    Scenario,
}

/// The trace format.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceKind {
    /// OpenTelemetry GenAI spans.
    Otel,
    /// Weka KV-cache-tester traces (block hashes, no text).
    Weka(Weka),
}

/// `weka_trace_replay`'s own settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weka {
    pub idle_gap_cap: Duration,
    pub ignore_trace_delays: bool,
    pub use_think_time_only: bool,
    pub block_size: u32,
    pub num_dataset_entries: u32,
}

/// inference-perf's `SessionReplayConfig` and its OTel fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReplay {
    pub kind: TraceKind,
    pub source: TraceSource,
    /// The scenario file's directory and its ancestors: where relative trace paths are looked up
    /// after the working directory.
    pub search: Vec<PathBuf>,
    pub model: ModelChoice,
    /// `max_tokens` for a call whose recorded output gives no length.
    pub default_max_tokens: u32,
    /// A call whose recorded output was a tool call asks for `max(4 x recorded, 4096)` tokens.
    pub override_tool_call_max_tokens: bool,
    /// Prefix unique messages with `[SESS:<random>] ` (duplicates always are).
    pub inject_random_session_id: bool,
    /// Duplicate sessions round-robin until the corpus has this many.
    pub duplicate_sessions_target: Option<u64>,
    /// A recorded gap between a call's predecessors ending and its start is replayed up to this.
    pub max_wait: Duration,
    /// How long a call waits for its predecessors before failing (`None`: for ever).
    pub predecessor_timeout: Option<Duration>,
    pub include_errors: bool,
    pub skip_invalid_files: bool,
    pub filter: Option<Filter>,
    /// Send predecessors' live answers in later calls (off: the recorded ones).
    pub output_substitution: bool,
    /// `attribute_to_header_map`: span attribute -> request header.
    pub header_map: Vec<(String, String)>,
    /// `bad_tool_call_handling: use_recorded`.
    pub use_recorded_on_bad_tool_calls: bool,
}
