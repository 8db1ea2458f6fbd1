//! What a run produced, before judging: each stage's plan and recorder, the whole run merged, the
//! warm-up and sweep kept apart, and the run's metadata.

use std::time::{Duration, Instant, SystemTime};

use crate::plan::shard::Shard;

use crate::measure::recorder::Recorder;
use crate::measure::server::StageServer;
use crate::plan::PlannedStage;

use super::sweep::SweepOutcome;

/// One stage's plan and what it recorded.
#[derive(Debug, Clone)]
pub struct StageResult {
    pub stage: PlannedStage,
    pub recorder: Recorder,
    /// When the stage started, from the start of the run.
    pub offset: Duration,
    /// When the stage started (on every load thread).
    pub started: Instant,
    /// What the engine's `/metrics` said during the stage, when it was scraped.
    pub server: Option<StageServer>,
}

/// Everything a run produced, before judging.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub scenario: String,
    /// The endpoint, without credentials.
    pub target: String,
    pub model: String,
    /// What the engine says its version is (`GET /version`, `/info`, `/props`), when it says.
    pub server_version: Option<String>,
    /// True when the embedded simulator was the target.
    pub simulated: bool,
    /// Set when quick mode shortened stages.
    pub shortened: Option<String>,
    pub stages: Vec<StageResult>,
    /// All stages merged.
    pub total: Recorder,
    pub started_at: SystemTime,
    pub elapsed: Duration,
    pub warnings: Vec<String>,
    /// Why a signal stopped the run before its plan was done, if one did.
    pub stopped: Option<String>,
    /// Why an `abortOnFail` threshold stopped the run, if one did.
    pub aborted: Option<String>,
    /// What the warm-up recorded (`load.warmup`), kept out of `stages` and `total`.
    pub warmup: Option<StageResult>,
    /// What `load.sweep`'s ramp found; its probe steps are kept out of `stages` and `total`.
    pub sweep: Option<SweepOutcome>,
    /// What `load.capacity`'s search found; its steps are kept out of `stages` and `total`.
    pub capacity: Option<super::capacity::CapacityOutcome>,
    /// The hash of the load-relevant configuration (`Scenario::config_hash`).
    pub config_hash: String,
    /// The part of the load this run sent (`0/1`: all of it).
    pub shard: Shard,
    /// The instant the shards agreed to start at, when they met at a rendezvous.
    pub origin: Option<Instant>,
    /// `load.lora_traffic_split`: the adapters requests went to (each recorder's `adapters` follow
    /// its order) and the reports they get.
    pub lora: Option<crate::scenario::Lora>,
    /// `report.prometheus`: which server-metrics files in inference-perf's layout are written.
    pub server_reports: crate::scenario::scrape::ServerReports,
    /// `report.request_lifecycle.percentiles` the lifecycle files add to inference-perf's set.
    pub percentiles: Vec<f64>,
}
