//! `data.otel_trace_replay` and `data.weka_trace_replay` as written: inference-perf's
//! `SessionReplayConfig` and its two subclasses, with their defaults. `hf_dataset_path` is a string
//! or a map, and stays a YAML value so `validate` can say which shapes are allowed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::Value;

/// Declares a trace-replay config: inference-perf's `SessionReplayConfig` fields (the same in
/// both formats, with its defaults) followed by the format's own. A macro rather than
/// `#[serde(flatten)]`, which cannot refuse unknown keys.
macro_rules! session_replay {
    ($(#[$doc:meta])* $name:ident { $($(#[$fa:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[serde(default)]
            pub use_static_model: bool,
            #[serde(default)]
            pub static_model_name: String,
            pub model_mapping: Option<BTreeMap<String, String>>,
            #[serde(default = "default_max_tokens")]
            pub default_max_tokens: u32,
            #[serde(default = "yes")]
            pub override_tool_call_max_tokens: bool,
            #[serde(default)]
            pub inject_random_session_id: bool,
            pub duplicate_sessions_target: Option<u64>,
            #[serde(default = "default_max_wait_ms")]
            pub max_wait_ms: u64,
            #[serde(default = "default_predecessor_wait")]
            pub predecessor_wait_timeout_sec: f64,
            #[serde(default = "yes")]
            pub include_errors: bool,
            #[serde(default)]
            pub skip_invalid_files: bool,
            pub trace_directory: Option<String>,
            pub trace_files: Option<Vec<String>>,
            pub hf_dataset_path: Option<Value>,
            $($(#[$fa])* pub $field: $ty,)*
        }
    };
}

session_replay! {
    /// inference-perf's `OTelTraceReplayConfig`.
    RawOtelReplay {
        filter: Option<String>,
        #[serde(default)]
        disable_output_substitution: bool,
        attribute_to_header_map: Option<BTreeMap<String, String>>,
        attribute_to_label_map: Option<BTreeMap<String, String>>,
        #[serde(default)]
        bad_tool_call_handling: BadToolCallHandling,
    }
}

session_replay! {
    /// inference-perf's `WekaTraceReplayConfig`.
    RawWekaReplay {
        #[serde(default = "default_idle_gap_cap")]
        trace_idle_gap_cap_seconds: f64,
        #[serde(default)]
        ignore_trace_delays: bool,
        #[serde(default)]
        use_think_time_only: bool,
        #[serde(default = "default_block_size")]
        default_block_size: u32,
        #[serde(default = "default_dataset_entries")]
        num_dataset_entries: u32,
    }
}

/// inference-perf's `BadToolCallHandling`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadToolCallHandling {
    #[default]
    None,
    UseRecorded,
}

fn yes() -> bool {
    true
}
fn default_max_tokens() -> u32 {
    1000
}
fn default_max_wait_ms() -> u64 {
    15_000
}
fn default_predecessor_wait() -> f64 {
    3600.0
}
fn default_idle_gap_cap() -> f64 {
    60.0
}
fn default_block_size() -> u32 {
    64
}
fn default_dataset_entries() -> u32 {
    100
}
