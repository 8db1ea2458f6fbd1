//! The scenario file as written: a serde mirror of inference-perf's config plus infergate's own blocks.
//!
//! Every struct refuses unknown keys, so a misspelt key is an error naming its line and column.
//! Fields that inference-perf knows but infergate does not honour yet are still declared here (as
//! `Option<Value>` or typed), so that `validate` can refuse or warn about them *by name* instead of
//! calling them unknown. Nothing here checks meaning; that is `validate`'s job.

mod breaker;
mod capacity;
mod data;
mod media;
mod replay;

pub use breaker::*;
pub use capacity::*;
pub use data::*;
pub use media::*;
pub use replay::*;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml::Value;

/// A whole scenario file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    #[serde(default)]
    pub api: RawApi,
    #[serde(default)]
    pub data: RawData,
    #[serde(default)]
    pub load: RawLoad,
    pub server: Option<RawServer>,
    pub tokenizer: Option<RawTokenizer>,
    pub storage: Option<RawStorage>,
    pub report: Option<RawReport>,
    pub metrics: Option<RawMetrics>,
    pub circuit_breakers: Option<Vec<RawBreaker>>,
    /// infergate: `metric[{stage:N}]: ["expression", ...]` (a single expression is accepted too).
    #[serde(default)]
    pub thresholds: IndexMap<String, OneOrMany>,
    /// infergate: limits on the runner itself; a breach means the numbers cannot be trusted.
    pub validity: Option<RawValidity>,
    /// infergate: how a run is compared with its baseline.
    pub regression: Option<RawRegression>,
}

/// One threshold, or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(RawThreshold),
    Many(Vec<RawThreshold>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&RawThreshold> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v.iter().collect(),
        }
    }
}

/// `"p(99) < 1s"`, or k6's object form `{threshold: "rate < 50%", abortOnFail: true, delayAbortEval: 30s}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawThreshold {
    Expression(String),
    Object(RawThresholdObject),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholdObject {
    pub threshold: String,
    #[serde(rename = "abortOnFail", default)]
    pub abort_on_fail: bool,
    #[serde(rename = "delayAbortEval")]
    pub delay_abort_eval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    #[serde(rename = "type", default)]
    pub kind: ApiType,
    #[serde(default)]
    pub streaming: bool,
    pub headers: Option<IndexMap<String, String>>,
    pub slo_unit: Option<Value>,
    pub slo_tpot_header: Option<Value>,
    pub slo_ttft_header: Option<Value>,
    pub response_format: Option<Value>,
    pub session_id_header_key: Option<Value>,
    pub session_token_header_key: Option<Value>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiType {
    #[default]
    Completion,
    Chat,
    AnthropicMessages,
    Embeddings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    #[serde(rename = "type", default)]
    pub kind: LoadType,
    #[serde(default = "default_interval")]
    pub interval: f64,
    #[serde(default)]
    pub stages: Vec<RawStage>,
    pub sweep: Option<RawSweep>,
    /// infergate: search for the highest load that meets the SLO, then run stages at fractions of it.
    pub capacity: Option<RawCapacity>,
    pub num_workers: Option<u32>,
    #[serde(default = "default_worker_max_concurrency")]
    pub worker_max_concurrency: u32,
    pub worker_max_tcp_connections: Option<u32>,
    pub trace: Option<RawTrace>,
    pub circuit_breakers: Option<Vec<String>>,
    pub request_timeout: Option<f64>,
    /// infergate: seconds a started stream may stay silent before it counts as timed out.
    pub idle_timeout: Option<f64>,
    /// infergate: gamma shape of Poisson gaps (vLLM's `--burstiness`); 1 is Poisson.
    pub burstiness: Option<f64>,
    /// infergate: load sent before the first stage and left out of every statistic.
    pub warmup: Option<RawWarmup>,
    pub request_retries: Option<u32>,
    pub request_retry_backoff_sec: Option<f64>,
    pub stage_teardown_grace_seconds: Option<f64>,
    pub lora_traffic_split: Option<Vec<RawLoraSplit>>,
    pub base_seed: Option<u64>,
}

impl Default for RawLoad {
    fn default() -> Self {
        RawLoad {
            kind: LoadType::default(),
            interval: default_interval(),
            stages: Vec::new(),
            sweep: None,
            capacity: None,
            num_workers: None,
            worker_max_concurrency: default_worker_max_concurrency(),
            worker_max_tcp_connections: None,
            trace: None,
            circuit_breakers: None,
            request_timeout: None,
            idle_timeout: None,
            burstiness: None,
            warmup: None,
            request_retries: None,
            request_retry_backoff_sec: None,
            stage_teardown_grace_seconds: None,
            lora_traffic_split: None,
            base_seed: None,
        }
    }
}

fn default_interval() -> f64 {
    1.0
}
fn default_worker_max_concurrency() -> u32 {
    100
}

/// `warmup: {requests: N}` or `warmup: {duration: S}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWarmup {
    pub requests: Option<u64>,
    pub duration: Option<f64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadType {
    #[default]
    Constant,
    Poisson,
    Concurrent,
    TraceReplay,
    TraceSessionReplay,
}

/// inference-perf's `load.sweep`, plus infergate's probe settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    #[serde(rename = "type", default)]
    pub kind: SweepType,
    /// inference-perf's probe burst size; infergate probes with a stepped ramp instead (unused).
    pub num_requests: Option<u64>,
    /// inference-perf's probe timeout (unused).
    pub timeout: Option<f64>,
    #[serde(default = "default_num_stages")]
    pub num_stages: u32,
    #[serde(default = "default_stage_duration")]
    pub stage_duration: f64,
    /// inference-perf's percentile of the burn-down rate (unused).
    pub saturation_percentile: Option<f64>,
    /// infergate: the ramp's first rate, requests per second.
    pub start_rate: Option<f64>,
    /// infergate: the ramp never goes above this rate.
    pub max_rate: Option<f64>,
    /// infergate: seconds per ramp step.
    pub probe_duration: Option<f64>,
}

fn default_num_stages() -> u32 {
    5
}
fn default_stage_duration() -> f64 {
    180.0
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SweepType {
    #[default]
    #[serde(rename = "linear")]
    Linear,
    #[serde(rename = "geometric")]
    Geometric,
}

/// One stage; which fields are required depends on `load.type` (checked in `validate`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub rate: Option<f64>,
    pub duration: Option<f64>,
    pub num_requests: Option<u64>,
    pub concurrency_level: Option<u32>,
    pub concurrent_sessions: Option<Value>,
    pub session_rate: Option<Value>,
    pub num_sessions: Option<Value>,
    pub timeout: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    #[serde(rename = "type", default)]
    pub kind: ServerType,
    pub model_name: Option<String>,
    pub base_url: Option<String>,
    #[serde(default = "default_true")]
    pub ignore_eos: bool,
    pub api_key: Option<String>,
    pub cert_path: Option<String>,
    pub key_path: Option<String>,
    /// infergate: PEM certificates to trust besides the system roots (a private CA).
    pub ca_cert_path: Option<String>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerType {
    #[default]
    Vllm,
    Sglang,
    Tgi,
    Mock,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenizer {
    pub pretrained_model_name_or_path: Option<String>,
    pub trust_remote_code: Option<bool>,
    pub token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub local_storage: Option<RawLocalStorage>,
    pub google_cloud_storage: Option<RawGcsStorage>,
    pub simple_storage_service: Option<RawS3Storage>,
}

/// inference-perf's `GoogleCloudStorageConfig`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGcsStorage {
    pub bucket_name: String,
    pub path: Option<String>,
    pub report_file_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocalStorage {
    pub path: Option<String>,
    pub report_file_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawS3Storage {
    pub bucket_name: String,
    pub path: Option<String>,
    pub report_file_prefix: Option<String>,
    pub endpoint_url: Option<String>,
    pub region_name: Option<String>,
    pub addressing_style: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub request_lifecycle: Option<RawRequestLifecycle>,
    pub prometheus: Option<RawPrometheusReport>,
    pub goodput: Option<RawGoodput>,
}

/// `report.goodput`: per-request SLOs in seconds, by figure (`ttft`, `tpot`, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGoodput {
    pub constraints: Option<std::collections::BTreeMap<String, f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequestLifecycle {
    pub summary: Option<bool>,
    pub per_stage: Option<bool>,
    pub per_request: Option<bool>,
    /// infergate: which fields each per-request record keeps (all by default).
    pub per_request_fields: Option<Vec<String>>,
    pub percentiles: Option<Vec<f64>>,
    pub use_server_output_tokens: Option<bool>,
    pub metrics_only: Option<bool>,
    pub per_adapter: Option<bool>,
    pub per_adapter_stage: Option<bool>,
}

/// `report.prometheus`: inference-perf's server-metrics report files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheusReport {
    pub summary: Option<bool>,
    pub per_stage: Option<bool>,
}

/// One entry of `load.lora_traffic_split`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoraSplit {
    pub name: String,
    pub split: f64,
}

/// infergate's runner-validity limits; see `Validity` for the defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidity {
    /// e.g. `10ms`: every stage's schedule delay p99 must stay below it.
    pub max_schedule_delay_p99: Option<String>,
    /// e.g. `95%`: every open-loop stage must send at no less than this share of its scheduled rate.
    pub min_achieved_rate: Option<String>,
}

/// `metrics`: inference-perf's server-side metrics client, plus infergate's `dcgm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub prometheus: Option<RawPrometheus>,
    /// infergate: a DCGM exporter to scrape for GPU utilisation.
    pub dcgm: Option<RawDcgm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    pub url: Option<String>,
    pub scrape_interval: Option<f64>,
    pub filters: Option<Vec<String>>,
    pub google_managed: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDcgm {
    pub url: String,
}

/// `regression`: the comparison with a baseline run (see `scenario::regression`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegression {
    /// Where baselines live: a directory or `s3://bucket/prefix` (overridden by `--baseline`).
    pub baseline: Option<String>,
    /// e.g. `95%`.
    pub confidence: Option<RawNumber>,
    /// e.g. `[50, 99]`.
    pub percentiles: Option<Vec<f64>>,
    /// Metric → allowed change, e.g. `ttft: 10%` (rates: percentage points).
    pub metrics: Option<IndexMap<String, RawNumber>>,
    /// Saved runs kept per scenario, e.g. `10`.
    pub history: Option<u32>,
    /// Reruns a regression must survive, e.g. `1`.
    pub confirm: Option<u32>,
    /// The run-to-run spread assumed while the history is too short to measure it, e.g. `20%`.
    pub run_spread: Option<RawNumber>,
}

/// A number written bare (`0.1`) or with a unit (`10%`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawNumber {
    Number(f64),
    Text(String),
}

impl RawNumber {
    pub fn text(&self) -> String {
        match self {
            RawNumber::Number(n) => n.to_string(),
            RawNumber::Text(t) => t.clone(),
        }
    }
}
