//! The fourth phase of a run, *load*: the load threads start, the shards meet, and the warm-up, the
//! probes (sweep or capacity search) and every measured stage run in turn, each watched for progress
//! and `abortOnFail` thresholds, the engine's metrics scraped alongside.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use super::breakers::Breakers;
use super::capacity::CapacityOutcome;
use super::planning::Planned;
use super::prepare::{Checked, Prepared};
use super::progress::StageProgress;
use super::schedule::Schedule;
use super::stop::{Stop, StopHandle, stop_pair};
use super::sweep::SweepOutcome;
use super::workers::{Shared, Workers};
use super::{Meet, RunError, RunOptions, StageResult};
use crate::measure::recorder::Recorder;
use crate::measure::server::{Source, promql};
use crate::scenario::Scenario;

/// What the *load* phase produced, before it is collected into a `RunResult`.
pub(super) struct Loaded {
    pub stages: Vec<StageResult>,
    pub warmup: Option<StageResult>,
    pub sweep: Option<SweepOutcome>,
    pub capacity: Option<CapacityOutcome>,
    /// Why an `abortOnFail` threshold or a circuit breaker stopped the run, if one did.
    pub aborted: Option<String>,
    /// Requests the client sent twice (a kept-alive connection closed under them).
    pub resent: u64,
    /// The instant the shards agreed to start at, when they met.
    pub origin: Option<Instant>,
    /// Prometheus windows, one per measured stage, read after the run.
    pub windows: Vec<promql::Window>,
}

/// Everything one run's stages share while they run.
struct Driving<'a> {
    scenario: &'a Scenario,
    options: &'a RunOptions,
    workers: Workers,
    stop: Stop,
    handle: Arc<StopHandle>,
    clock: Instant,
    scrape: Option<&'a Source>,
}

/// Starts the load threads and runs the warm-up, the probes and the stages.
pub(super) async fn drive(
    scenario: &Scenario,
    options: &RunOptions,
    prepared: &Prepared,
    checked: &Checked,
    mut planned: Planned,
    clock: Instant,
) -> Result<Loaded, RunError> {
    // One stop for the run, set by a signal (forwarded from `options.stop`), by an abort threshold
    // or by a circuit breaker.
    let (handle, stop) = stop_pair();
    let handle = Arc::new(handle);
    let breakers = Breakers::new(&scenario.load.circuit_breakers, Arc::clone(&handle));
    let shared = Shared {
        session_caps: planned.plan.session_caps,
        breakers: breakers.clone(),
        trace: planned.trace.take(),
        slo: scenario.goodput,
        replay: planned.replayer.take(),
    };
    if options.kernel_stamps {
        crate::client::stamp_with_kernel();
    }
    // Each connection is a descriptor: grow the table now, not on the send path.
    crate::client::fds::reserve();
    let workers = Workers::start(
        planned.threads,
        options.shard,
        &planned.endpoint,
        &planned.generator,
        shared,
    )?;
    let forward = tokio::spawn({
        let (handle, signal) = (Arc::clone(&handle), options.stop.clone());
        async move {
            signal.wait().await;
            handle.stop(signal.reason().unwrap_or_default());
        }
    });
    let origin = match &options.meet {
        Some(meet) => Some(meet_at(meet).await?),
        None => None,
    };
    let mut driving = Driving {
        scenario,
        options,
        workers,
        stop,
        handle,
        clock,
        scrape: checked.scrape.as_ref(),
    };
    let loaded = driving.all(&mut planned, origin, prepared).await;
    forward.abort();
    let mut loaded = loaded?;
    loaded.aborted = loaded.aborted.or_else(|| breakers.and_then(|b| b.opened()));
    Ok(loaded)
}

impl Driving<'_> {
    /// The warm-up, the probes and the measured stages, in order.
    async fn all(
        &mut self,
        planned: &mut Planned,
        origin: Option<Instant>,
        prepared: &Prepared,
    ) -> Result<Loaded, RunError> {
        let (scenario, options, stop) = (self.scenario, self.options, self.stop.clone());
        // As inference-perf does, stages are a scrape interval apart when a Prometheus server is
        // read, so that each stage's last requests are scraped before the next begins (unless
        // sharded: the other shards do not know).
        let interval = match self.scrape {
            Some(Source::Server(p)) if options.shard.count() == 1 => {
                planned.plan.interval.max(p.scrape_interval)
            }
            _ => planned.plan.interval,
        };
        let mut schedule = Schedule::new(origin, interval);
        let warmup = match &planned.plan.warmup {
            Some(stage) if !stop.is_set() => {
                let cap = planned.plan.max_in_flight;
                Some(self.warmup(stage, cap, &mut schedule).await?)
            }
            _ => None,
        };
        let mut probing = super::probes::Probing {
            scenario,
            options,
            workers: &self.workers,
            plan: &mut planned.plan,
            stop: &stop,
            quick: planned.quick,
        };
        let sweep = match &scenario.load.sweep {
            Some(sweep) if !stop.is_set() => Some(probing.sweep(sweep).await?),
            _ => None,
        };
        let capacity = match &scenario.capacity {
            Some(cap) if !stop.is_set() => Some(probing.capacity(cap).await?),
            _ => None,
        };
        // Per-request records: the measured stages only (the warm-up and the probes are done).
        let records = match (scenario.per_request, &options.records) {
            (Some(keep), Some(path)) => {
                let lora = prepared.lora_names.clone();
                let (records, file) =
                    super::records::start(path, keep, self.clock, lora).map_err(|e| {
                        RunError::Setup(format!("cannot write {}: {e}", path.display()))
                    })?;
                self.workers.records = Some(records);
                Some(file)
            }
            _ => None,
        };
        let (stages, windows, aborted) = self.stages(&planned.plan, &mut schedule).await?;
        self.workers.records = None;
        if let Some(file) = records {
            file.finish().map_err(RunError::Setup)?;
        }
        Ok(Loaded {
            stages,
            warmup,
            sweep,
            capacity,
            aborted,
            resent: self.workers.resent(),
            origin,
            windows,
        })
    }

    /// The warm-up stage, left out of every statistic.
    async fn warmup(
        &self,
        stage: &crate::plan::PlannedStage,
        max_in_flight: usize,
        schedule: &mut Schedule,
    ) -> Result<StageResult, RunError> {
        let offset = self.clock.elapsed();
        let started = schedule.start(stage);
        let recorder = self
            .workers
            .run_stage(stage, max_in_flight, started, &self.stop, None)
            .await?;
        if self.options.progress {
            eprintln!(
                "[{}] warm-up ({}): {} sent, left out of every statistic",
                self.scenario.name(),
                stage.describe(),
                recorder.sent()
            );
        }
        schedule.pause(&self.stop).await;
        Ok(StageResult {
            stage: stage.clone(),
            recorder,
            offset,
            started,
            server: None,
        })
    }

    /// Every measured stage, watched for progress and `abortOnFail` thresholds; returns the stages,
    /// the Prometheus windows to read afterwards and why an abort threshold stopped the run, if one did.
    async fn stages(
        &mut self,
        plan: &crate::plan::Plan,
        schedule: &mut Schedule,
    ) -> Result<(Vec<StageResult>, Vec<promql::Window>, Option<String>), RunError> {
        let (scenario, options, clock) = (self.scenario, self.options, self.clock);
        let aborted: Cell<Option<String>> = Cell::new(None);
        let mut stages: Vec<StageResult> = Vec::with_capacity(plan.stages.len());
        let mut windows = Vec::new();
        for (i, stage) in plan.stages.iter().enumerate() {
            if i > 0 {
                schedule.pause(&self.stop).await;
            }
            if self.stop.is_set() {
                break;
            }
            let earlier = match options.abort {
                None => Recorder::new(),
                Some(_) => Recorder::merged(stages.iter().map(|s| &s.recorder)),
            };
            let offset = clock.elapsed();
            let mut progress =
                StageProgress::start(options.progress, &scenario.name(), stage, plan.stages.len());
            let handle = &self.handle;
            let mut watch = |current: &Recorder| {
                progress.update(current);
                let reason = options
                    .abort
                    .as_ref()
                    .and_then(|abort| abort.check(i, &earlier, current, clock.elapsed()));
                if let Some(reason) = reason {
                    aborted.set(Some(reason.clone()));
                    handle.stop(reason);
                }
            };
            let scraping = match self.scrape {
                Some(source) => Some(source.watch().await),
                None => None,
            };
            // Watching costs a look at every thread's recorder four times a second: only when used.
            let watched = options.progress || options.abort.is_some();
            let watch: Option<&mut (dyn FnMut(&Recorder) + '_)> = watched.then_some(&mut watch);
            let started = schedule.start(stage);
            let recorder = self
                .workers
                .run_stage(stage, plan.max_in_flight, started, &self.stop, watch)
                .await?;
            let server = match scraping {
                Some(watching) => watching.finish(&mut windows).await,
                None => None,
            };
            progress.finish(&recorder);
            stages.push(StageResult {
                stage: stage.clone(),
                recorder,
                offset,
                started,
                server,
            });
        }
        Ok((stages, windows, aborted.take()))
    }
}

/// Meets the other shards; returns the agreed start on this process's clock (the first stage's
/// pacer waits for it precisely).
async fn meet_at(meet: &Meet) -> Result<Instant, RunError> {
    let at = (meet.0)().await.map_err(RunError::Rendezvous)?;
    let wait = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Ok(Instant::now() + wait)
}
