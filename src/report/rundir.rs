//! A run directory read back (`RunDir`) through the report schema: the numbers the plots, the HTML
//! report and `infergate compare` need, from `verdicts.json`, the lifecycle files and `timeline.json`.

use std::path::Path;

use super::schema::{
    self, Distribution, GoodputEntry, Lifecycle, ReadError, SessionsEntry, TimelineEntry, Verdicts,
    VerdictsFile, files,
};
use crate::measure::server::ServerSummary;

/// One stage as the plots see it; latencies in milliseconds (p50, p95, p99).
#[derive(Debug, Clone)]
pub struct StagePoint {
    pub index: usize,
    pub describe: String,
    /// Requested rate, or concurrency for closed-loop stages.
    pub load: f64,
    pub ttft: [Option<f64>; 3],
    pub itl: [Option<f64>; 3],
    pub e2e: [Option<f64>; 3],
    pub output_tokens_per_sec: f64,
    pub requests_per_sec: f64,
    pub ok: u64,
    pub failed: u64,
    /// What the engine's `/metrics` said during the stage, when it was scraped.
    pub server: Option<ServerSummary>,
    /// With `report.goodput`: how many met the per-request SLOs.
    pub goodput: Option<GoodputEntry>,
    /// A reasoning model's stage: time to first output token (ms, as `ttft`), reasoning tokens per
    /// request, and how many successes' counts the server gave.
    pub reasoning: Option<StageReasoning>,
}

/// A stage's reasoning figures (`StagePoint::reasoning`).
#[derive(Debug, Clone)]
pub struct StageReasoning {
    pub ttfo: [Option<f64>; 3],
    pub tokens: Distribution,
    pub from_server_usage: u64,
}

/// Percentile curves (percentile, milliseconds) over the whole run.
#[derive(Debug, Clone)]
pub struct Summary {
    pub ttft: Vec<(f64, f64)>,
    pub itl: Vec<(f64, f64)>,
}

/// Where a multi-stage run saturated (from the knee, or from a sweep).
#[derive(Debug, Clone)]
pub struct KneeMark {
    pub load: f64,
    pub recommended: f64,
}

/// A saved run.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub scenario: String,
    pub verdicts: Verdicts,
    pub stages: Vec<StagePoint>,
    pub closed_loop: bool,
    pub knee: Option<KneeMark>,
    /// What a capacity search found, with its steps (drawn on the latency-by-load plot).
    pub capacity: Option<crate::run::capacity::CapacityOutcome>,
    pub summary: Option<Summary>,
    pub timeline: Vec<TimelineEntry>,
    /// Multi-turn sessions over the whole run, when the data had them.
    pub sessions: Option<SessionsEntry>,
    /// Media sent over the whole run, when the prompts carried any.
    pub media: Option<crate::measure::recorder::media::MediaCounts>,
    /// Replayed agent sessions, when the run replayed any.
    pub replay: Option<schema::SessionReplaySummary>,
}

/// Why a run directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{}: the run did not happen: {message}", dir.display())]
    NotRun {
        dir: std::path::PathBuf,
        message: String,
    },
}

fn ms(d: &Option<Distribution>, get: fn(&Distribution) -> f64) -> Option<f64> {
    d.as_ref().map(|d| get(d) * 1e3)
}

fn three(d: &Option<Distribution>) -> [Option<f64>; 3] {
    [ms(d, |d| d.median), ms(d, |d| d.p95), ms(d, |d| d.p99)]
}

fn curve(d: &Option<Distribution>) -> Vec<(f64, f64)> {
    d.as_ref().map_or_else(Vec::new, |d| {
        d.curve().iter().map(|&(q, v)| (q, v * 1e3)).collect()
    })
}

impl RunDir {
    /// Reads a scenario's run directory (the one holding `verdicts.json`).
    pub fn load(dir: &Path) -> Result<RunDir, RunDirError> {
        let verdicts = match VerdictsFile::read(&dir.join(files::VERDICTS))? {
            VerdictsFile::Judged(v) => *v,
            VerdictsFile::Error(e) => {
                return Err(RunDirError::NotRun {
                    dir: dir.to_path_buf(),
                    message: e.error,
                });
            }
        };
        let closed_loop = verdicts.stage_loads.iter().any(|l| l.concurrency.is_some());
        let mut stages = Vec::new();
        for l in &verdicts.stage_loads {
            let life: Lifecycle = schema::read(&dir.join(files::stage(l.index)))?;
            let latency = &life.successes.latency;
            let throughput = &life.successes.throughput;
            stages.push(StagePoint {
                index: l.index,
                describe: l.describe.clone(),
                load: l
                    .rate
                    .or(l.concurrency.map(f64::from))
                    .unwrap_or(l.index as f64),
                ttft: three(&latency.time_to_first_token),
                itl: three(&latency.inter_token_latency),
                e2e: three(&latency.request_latency),
                output_tokens_per_sec: throughput.output_tokens_per_sec,
                requests_per_sec: throughput.requests_per_sec,
                ok: life.successes.count,
                failed: life.failures.count,
                server: life.server_metrics,
                reasoning: life
                    .successes
                    .reasoning_tokens
                    .map(|tokens| StageReasoning {
                        ttfo: three(&latency.time_to_first_output_token),
                        tokens,
                        from_server_usage: life.successes.reasoning_tokens_from_server_usage,
                    }),
                goodput: life.successes.goodput_metrics,
            });
        }
        let knee = match (&verdicts.knee, &verdicts.sweep) {
            (Some(k), _) => Some(KneeMark {
                load: k.load,
                recommended: k.recommended,
            }),
            (None, Some(s)) => Some(KneeMark {
                load: s.saturation_rate,
                recommended: s.recommended_rate,
            }),
            (None, None) => None,
        };
        let capacity = verdicts.capacity.clone();
        let lifecycle = schema::read::<Lifecycle>(&dir.join(files::SUMMARY)).ok();
        let sessions = lifecycle.as_ref().and_then(|l| l.sessions.clone());
        let media = lifecycle.as_ref().and_then(|l| l.media);
        let summary = lifecycle
            .map(|s| Summary {
                ttft: curve(&s.successes.latency.time_to_first_token),
                itl: curve(&s.successes.latency.inter_token_latency),
            })
            .filter(|s| !s.ttft.is_empty() || !s.itl.is_empty());
        let timeline = schema::read(&dir.join(files::TIMELINE)).unwrap_or_default();
        Ok(RunDir {
            scenario: verdicts.scenario.clone(),
            verdicts,
            stages,
            closed_loop,
            knee,
            capacity,
            sessions,
            media,
            summary,
            timeline,
            replay: schema::read(&dir.join(files::SESSION_SUMMARY)).ok(),
        })
    }

    /// The x axis of per-stage plots.
    pub fn load_unit(&self) -> &'static str {
        if self.closed_loop {
            "concurrency (requests in flight)"
        } else {
            "requested rate (req/s)"
        }
    }

    pub fn load_unit_short(&self) -> &'static str {
        if self.closed_loop { " conc" } else { " req/s" }
    }

    /// Seconds from the run's start at which each stage began.
    pub fn stage_starts(&self) -> &[f64] {
        &self.verdicts.stage_offsets
    }
}
