//! The `data` section as written: prompt sources, `shared_prefix`, and inference-perf's length
//! `Distribution`.

use serde::Deserialize;
use serde_yaml::Value;

use super::{RawMultimodal, RawOtelReplay, RawVisionArena, RawWekaReplay};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    #[serde(rename = "type", default)]
    pub kind: DataType,
    pub path: Option<String>,
    pub input_distribution: Option<RawDistribution>,
    pub output_distribution: Option<RawDistribution>,
    pub shared_prefix: Option<RawSharedPrefix>,
    pub multimodal: Option<RawMultimodal>,
    pub trace: Option<RawTrace>,
    pub otel_trace_replay: Option<RawOtelReplay>,
    pub weka_trace_replay: Option<RawWekaReplay>,
    pub conversation_replay: Option<RawConversationReplay>,
    pub sharegpt4video: Option<Value>,
    pub visionarena: Option<RawVisionArena>,
}

/// inference-perf's `shared_prefix`, with its defaults and its aliases. The three lengths are a number
/// of tokens or a `Distribution`; they stay YAML values here so that a misspelt key inside a
/// distribution is reported by name (an untagged enum would only say that nothing matched).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSharedPrefix {
    #[serde(default = "default_num_groups", alias = "num_unique_system_prompts")]
    pub num_groups: u32,
    #[serde(default = "default_num_groups", alias = "num_users_per_system_prompt")]
    pub num_prompts_per_group: u32,
    pub system_prompt_len: Option<Value>,
    pub question_len: Option<Value>,
    pub output_len: Option<Value>,
    pub seed: Option<u64>,
    /// Legacy: a distribution for `question_len` given as a number.
    pub question_distribution: Option<RawDistribution>,
    /// Legacy: a distribution for `output_len` given as a number.
    pub output_distribution: Option<RawDistribution>,
    #[serde(default)]
    pub enable_multi_turn_chat: bool,
    pub multimodal: Option<RawMultimodal>,
}

/// inference-perf's `conversation_replay`: synthetic multi-turn conversations, with its defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConversationReplay {
    #[serde(default = "default_conversation_seed")]
    pub seed: u64,
    #[serde(default = "default_num_conversations")]
    pub num_conversations: u32,
    #[serde(default = "default_shared_system_prompt_len")]
    pub shared_system_prompt_len: u32,
    pub dynamic_system_prompt_len: Option<RawDistribution>,
    pub turns_per_conversation: Option<RawDistribution>,
    pub input_tokens_per_turn: Option<RawDistribution>,
    pub output_tokens_per_turn: Option<RawDistribution>,
    pub tool_call_latency_sec: Option<RawDistribution>,
    pub max_model_len: Option<u32>,
}

fn default_conversation_seed() -> u64 {
    42
}
fn default_num_conversations() -> u32 {
    200
}
fn default_shared_system_prompt_len() -> u32 {
    8359
}

/// `shared_prefix.system_prompt_len` when not given.
pub const DEFAULT_SYSTEM_PROMPT_LEN: u32 = 100;
/// `shared_prefix.question_len` and `output_len` when not given.
pub const DEFAULT_QUESTION_LEN: u32 = 50;

fn default_num_groups() -> u32 {
    10
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DataType {
    #[default]
    #[serde(rename = "mock")]
    Mock,
    #[serde(rename = "shareGPT")]
    ShareGpt,
    #[serde(rename = "synthetic")]
    Synthetic,
    #[serde(rename = "random")]
    Random,
    #[serde(rename = "shared_prefix")]
    SharedPrefix,
    #[serde(rename = "cnn_dailymail")]
    CnnDailymail,
    #[serde(rename = "infinity_instruct")]
    InfinityInstruct,
    #[serde(rename = "billsum_conversations")]
    BillsumConversations,
    #[serde(rename = "otel_trace_replay")]
    OtelTraceReplay,
    #[serde(rename = "weka_trace_replay")]
    WekaTraceReplay,
    #[serde(rename = "conversation_replay")]
    ConversationReplay,
    #[serde(rename = "sharegpt4video")]
    ShareGpt4Video,
    #[serde(rename = "visionarena")]
    VisionArena,
}

/// inference-perf's `TraceConfig`: a trace file and its format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    pub file: String,
    #[serde(default)]
    pub format: TraceFormat,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TraceFormat {
    #[default]
    AzurePublicDataset,
}

/// inference-perf's `Distribution` with its defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistribution {
    #[serde(default = "default_min")]
    pub min: u32,
    #[serde(default = "default_max")]
    pub max: u32,
    #[serde(default = "default_mean")]
    pub mean: f64,
    /// inference-perf's default is 200; `None` lets `validate` tell it apart from an explicit value.
    pub std_dev: Option<f64>,
    pub total_count: Option<u64>,
    #[serde(rename = "type", default)]
    pub kind: DistributionType,
    pub variance: Option<f64>,
    #[serde(default)]
    pub skew: f64,
}

fn default_min() -> u32 {
    10
}
fn default_max() -> u32 {
    1024
}
fn default_mean() -> f64 {
    512.0
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributionType {
    #[default]
    Normal,
    SkewNormal,
    Lognormal,
    Uniform,
    Poisson,
    Fixed,
}
