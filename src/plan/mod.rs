//! Stage 2 of the pipeline: what to send, and when. Uses `scenario` and `client` (hub downloads).
//!
//! Pure planning: a validated `Scenario` (plus run options) becomes the list of stages to run.
//!
//! No I/O and no clocks. The only transformation is the *quick* mode used when infergate runs a suite
//! against its embedded simulator: stages are shortened so a fresh clone finishes every suite in a few
//! minutes, and every report says so.

pub mod arrivals;
pub mod datagen;
pub mod datasets;
pub mod lengths;
pub mod media;
pub mod replay;
pub mod sessions;
pub mod shard;
pub mod tokens;
pub mod trace;
pub mod visionarena;

use std::time::Duration;

use crate::plan::arrivals::Process;
use crate::scenario::capacity::Over;
use crate::scenario::{Arrival, Load, Scenario, Stage, Warmup};

/// How much to shorten stages when running against the embedded simulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quick {
    /// Open-loop stages run at most this long.
    pub max_stage_duration: Duration,
    /// Closed-loop stages send at most `requests_per_slot x concurrency` requests.
    pub requests_per_slot: u64,
    /// The pause between stages is at most this long.
    pub max_interval: Duration,
}

impl Default for Quick {
    fn default() -> Self {
        Quick {
            max_stage_duration: Duration::from_secs(4),
            requests_per_slot: 3,
            max_interval: Duration::from_millis(250),
        }
    }
}

/// Quick mode's limits on multi-turn sessions: answers and tool-call latencies (seconds to minutes in
/// inference-perf's workload catalog) are capped so a session's turns fit in a quick stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SessionCaps {
    pub max_tokens: Option<u32>,
    pub tool_latency: Option<Duration>,
    /// The longest context (prompt plus answer) a turn may use.
    pub max_context: Option<u32>,
}

/// Quick mode's caps on session turns.
pub const QUICK_SESSION_CAPS: SessionCaps = SessionCaps {
    max_tokens: Some(128),
    tool_latency: Some(Duration::from_millis(100)),
    max_context: Some(4_096),
};

/// What kind of load a planned stage produces.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum StageLoad {
    /// Requests at scheduled offsets, never waiting for responses.
    Open {
        process: Process,
        rate: f64,
        duration: Duration,
    },
    /// `concurrency` slots, each sending its next request when the previous one ends.
    Closed { num_requests: u64, concurrency: u32 },
    /// `trace_session_replay`: sessions `first..first + count` of the corpus (wrapping), at most
    /// `concurrent` at a time (0: all at once), started at most `rate` per second. `count` is set
    /// once the corpus is read (`replay::fit`).
    Sessions {
        concurrent: u32,
        first: u64,
        count: Option<u64>,
        rate: Option<f64>,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlannedStage {
    pub index: usize,
    pub load: StageLoad,
    /// The stage as the file wrote it (differs from `load` in quick mode).
    pub configured: Stage,
    /// Seed for this stage's arrivals.
    pub seed: u64,
}

impl PlannedStage {
    /// The stage as run, e.g. `10 req/s x 4s (constant)` or `concurrency 20 x 60 req`.
    pub fn describe(&self) -> String {
        match self.load {
            StageLoad::Open {
                process,
                rate,
                duration,
            } => {
                let kind = match process {
                    Process::Constant => "constant",
                    Process::Poisson => "poisson",
                    Process::Gamma { .. } => "gamma",
                    Process::Trace => "trace",
                };
                format!("{rate} req/s x {}s ({kind})", duration.as_secs_f64())
            }
            StageLoad::Closed {
                num_requests,
                concurrency,
            } => {
                format!("concurrency {concurrency} x {num_requests} req")
            }
            StageLoad::Sessions {
                concurrent,
                count,
                rate,
                ..
            } => {
                let count = count.map_or("every".to_string(), |n| n.to_string());
                let at_once = match concurrent {
                    0 => "all at once".to_string(),
                    n => format!("{n} at a time"),
                };
                let rate = rate.map_or(String::new(), |r| format!(", {r} sessions/s"));
                format!("{count} sessions, {at_once}{rate}")
            }
        }
    }

    /// The requested rate of an open-loop stage.
    pub fn requested_rate(&self) -> Option<f64> {
        match self.load {
            StageLoad::Open { rate, .. } => Some(rate),
            StageLoad::Closed { .. } | StageLoad::Sessions { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Run before the first stage, shaped like it, and left out of every statistic.
    pub warmup: Option<PlannedStage>,
    pub stages: Vec<PlannedStage>,
    pub interval: Duration,
    pub request_timeout: Option<Duration>,
    pub idle_timeout: Duration,
    pub max_in_flight: usize,
    /// Load threads (`load.num_workers`).
    pub threads: u32,
    /// Seed for request contents.
    pub data_seed: u64,
    /// `Some(description)` when quick mode shortened anything.
    pub shortened: Option<String>,
    /// Limits on multi-turn sessions' turns (quick mode).
    pub session_caps: SessionCaps,
}

/// The warm-up run when a scenario sets none but is compared with saved runs (or saved as one): a
/// tenth of the first stage's time, at least 1 s and at most 10 s, for an open-loop stage; two
/// requests per slot for a closed-loop one; none for session replay (sessions are the load).
pub fn default_warmup(first: &PlannedStage) -> Option<Warmup> {
    match first.load {
        StageLoad::Open { duration, .. } => Some(Warmup::Duration(
            (duration / 10).clamp(Duration::from_secs(1), Duration::from_secs(10)),
        )),
        StageLoad::Closed { concurrency, .. } => Some(Warmup::Requests(2 * concurrency as u64)),
        StageLoad::Sessions { .. } => None,
    }
}

/// The warm-up: the first stage's load, for `warmup` requests or seconds (capped like a stage in quick
/// mode). A request count at a rate becomes that many evenly spaced arrivals' worth of time.
pub fn warmup_stage(
    warmup: Warmup,
    first: &PlannedStage,
    quick: Option<Quick>,
) -> Option<PlannedStage> {
    let cap = |d: Duration| quick.map_or(d, |q| d.min(q.max_stage_duration));
    let load = match (first.load, warmup) {
        (StageLoad::Open { process, rate, .. }, Warmup::Requests(n)) => StageLoad::Open {
            process,
            rate,
            duration: cap(Duration::from_secs_f64(n as f64 / rate)),
        },
        (StageLoad::Open { process, rate, .. }, Warmup::Duration(d)) => StageLoad::Open {
            process,
            rate,
            duration: cap(d),
        },
        (StageLoad::Closed { concurrency, .. }, Warmup::Requests(n)) => {
            let cap = quick.map_or(n, |q| {
                n.min(q.requests_per_slot.max(1) * concurrency as u64)
            });
            StageLoad::Closed {
                num_requests: cap,
                concurrency,
            }
        }
        (StageLoad::Closed { .. }, Warmup::Duration(_)) | (StageLoad::Sessions { .. }, _) => {
            return None;
        }
    };
    Some(PlannedStage {
        load,
        seed: first.seed ^ 0x5741_524d,
        ..first.clone()
    })
}

/// The arrival process of a scenario's open-loop stages.
pub fn open_process(load: &crate::scenario::Load) -> Process {
    match load.arrival {
        Arrival::Poisson if load.burstiness == 1.0 => Process::Poisson,
        Arrival::Poisson => Process::Gamma {
            burstiness: load.burstiness,
        },
        Arrival::Trace => Process::Trace,
        _ => Process::Constant,
    }
}

/// How a stage of `load` runs: open loop with the load's arrival process, or closed loop; `quick`
/// shortens it (the flag says whether it did).
pub fn stage_load(load: &Load, stage: Stage, quick: Option<Quick>) -> (StageLoad, bool) {
    match stage {
        Stage::Rate { rate, duration } => {
            let cut = quick.is_some_and(|q| duration > q.max_stage_duration);
            let duration = match quick {
                Some(q) if cut => q.max_stage_duration,
                _ => duration,
            };
            let process = open_process(load);
            let open = StageLoad::Open {
                process,
                rate,
                duration,
            };
            (open, cut)
        }
        Stage::Concurrency {
            num_requests,
            concurrency,
        } => {
            let cap = quick.map(|q| q.requests_per_slot.max(1) * concurrency as u64);
            let cut = cap.is_some_and(|cap| num_requests > cap);
            let num_requests = match cap {
                Some(cap) if cut => cap,
                _ => num_requests,
            };
            let closed = StageLoad::Closed {
                num_requests,
                concurrency,
            };
            (closed, cut)
        }
        Stage::Sessions {
            concurrent,
            sessions,
            rate,
        } => {
            let load = StageLoad::Sessions {
                concurrent,
                first: 0,
                count: sessions,
                rate,
            };
            (load, false)
        }
    }
}

/// Builds the plan. `quick` shortens stages (embedded-simulator runs only).
pub fn plan(scenario: &Scenario, quick: Option<Quick>) -> Plan {
    let load = &scenario.load;
    let mut shortened = false;
    let stages: Vec<PlannedStage> = load
        .stages
        .iter()
        .enumerate()
        .map(|(index, &configured)| {
            let (stage_load, cut) = stage_load(load, configured, quick);
            shortened |= cut;
            PlannedStage {
                index,
                load: stage_load,
                configured,
                seed: load.seed.wrapping_add(1 + index as u64),
            }
        })
        .collect();
    let interval = match quick {
        Some(q) if load.interval > q.max_interval => q.max_interval,
        _ => load.interval,
    };
    // Without stages of its own, a capacity search warms up at its `min` load.
    let searched = scenario.capacity.as_ref().map(|c| {
        let configured = match c.over {
            Over::Rate => Stage::Rate {
                rate: c.min,
                duration: Duration::ZERO,
            },
            Over::Concurrency => Stage::Concurrency {
                num_requests: 0,
                concurrency: c.min as u32,
            },
        };
        PlannedStage {
            index: 0,
            load: stage_load(load, configured, None).0,
            configured,
            seed: scenario.load.seed.wrapping_add(1),
        }
    });
    let warmup = load
        .warmup
        .and_then(|w| warmup_stage(w, stages.first().or(searched.as_ref())?, quick));
    let session_caps = match quick {
        Some(_) if scenario.data.has_sessions() => {
            shortened = true;
            QUICK_SESSION_CAPS
        }
        _ => SessionCaps::default(),
    };
    Plan {
        warmup,
        stages,
        interval,
        request_timeout: load.request_timeout,
        idle_timeout: load.idle_timeout,
        max_in_flight: load.max_in_flight,
        threads: load.threads,
        data_seed: load.seed,
        shortened: (shortened && quick.is_some()).then(|| {
            let q = quick.unwrap_or_default();
            let mut said = format!(
                "quick mode (embedded simulator): stages capped at {}s or {} requests per concurrency slot",
                q.max_stage_duration.as_secs_f64(),
                q.requests_per_slot
            );
            if let SessionCaps {
                max_tokens: Some(tokens),
                tool_latency: Some(latency),
                max_context: Some(context),
            } = session_caps
            {
                said.push_str(&format!(
                    "; session turns ask for at most {tokens} tokens, use at most {context} tokens of context and wait at most {} ms for a tool call",
                    latency.as_millis()
                ));
            }
            said
        }),
        session_caps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(yaml: &str) -> Scenario {
        Scenario::from_source(Path::new("t.yaml"), yaml).unwrap()
    }

    #[test]
    fn full_plans_keep_the_file_as_written() {
        let s = scenario(
            "load:\n  type: poisson\n  stages:\n    - {rate: 5, duration: 180}\n    - {rate: 10, duration: 180}\n",
        );
        let p = plan(&s, None);
        assert_eq!(p.stages.len(), 2);
        assert_eq!(
            p.stages[1].load,
            StageLoad::Open {
                process: Process::Poisson,
                rate: 10.0,
                duration: Duration::from_secs(180)
            }
        );
        assert_ne!(p.stages[0].seed, p.stages[1].seed);
        assert_eq!(p.shortened, None);
        assert_eq!(p.interval, Duration::from_secs(1));
    }

    #[test]
    fn quick_mode_shortens_and_says_so() {
        let s = scenario(
            "load:\n  type: concurrent\n  stages:\n    - {num_requests: 1000, concurrency_level: 200}\n    - {num_requests: 10, concurrency_level: 10}\n",
        );
        let p = plan(&s, Some(Quick::default()));
        assert_eq!(
            p.stages[0].load,
            StageLoad::Closed {
                num_requests: 600,
                concurrency: 200
            }
        );
        assert_eq!(
            p.stages[1].load,
            StageLoad::Closed {
                num_requests: 10,
                concurrency: 10
            }
        );
        assert!(p.shortened.unwrap().contains("quick mode"));
        let s = scenario("load:\n  stages:\n    - {rate: 1, duration: 2}\n");
        assert_eq!(
            plan(&s, Some(Quick::default())).shortened,
            None,
            "nothing to shorten"
        );
    }
}
