//! Probe steps run before the measured stages and kept out of every statistic: the sweep's ramp
//! (`sweep`) and the capacity search (`capacity`). Each finds a load, then replaces the plan's stages
//! with the ones that follow from it.

use std::time::{Duration, Instant};

use super::capacity::CapacityOutcome;
use super::schedule::soon;
use super::stop::Stop;
use super::sweep::SweepOutcome;
use super::workers::Workers;
use super::{RunError, RunOptions};
use crate::measure::recorder::Recorder;
use crate::plan::{Plan, PlannedStage, Quick};
use crate::scenario::{Scenario, Stage};

/// Sweep probe steps are at most this long against the embedded simulator (quick mode).
const PROBE_QUICK_CAP: Duration = Duration::from_secs(2);

/// What the probes share: the workers, the plan they replace the stages of, and the run's stop.
pub(super) struct Probing<'a> {
    pub scenario: &'a Scenario,
    pub options: &'a RunOptions,
    pub workers: &'a Workers,
    pub plan: &'a mut Plan,
    pub stop: &'a Stop,
    pub quick: Option<Quick>,
}

impl Probing<'_> {
    /// Runs one probe stage at once, at full length (probes size themselves); `None` when the run
    /// was stopped (or the stage failed: `failed`).
    async fn step(
        &self,
        configured: Stage,
        seed: u64,
        failed: &mut Option<RunError>,
    ) -> Option<Recorder> {
        if self.stop.is_set() || failed.is_some() {
            return None;
        }
        let stage = PlannedStage {
            index: 0,
            load: crate::plan::stage_load(&self.scenario.load, configured, None).0,
            configured,
            seed: self.plan.data_seed ^ seed,
        };
        let recorder = match self
            .workers
            .run_stage(&stage, self.plan.max_in_flight, soon(), self.stop, None)
            .await
        {
            Ok(recorder) => recorder,
            Err(e) => {
                *failed = Some(e);
                return None;
            }
        };
        self.stop.sleep(self.plan.interval).await;
        (!self.stop.is_set()).then_some(recorder)
    }

    /// Replaces the plan's stages with `stages`, planned as the file's would be.
    fn replan(&mut self, stages: Vec<Stage>) {
        let mut generated = self.scenario.clone();
        generated.load.stages = stages;
        let replanned = crate::plan::plan(&generated, self.quick);
        self.plan.stages = replanned.stages;
        self.plan.shortened = replanned.shortened;
    }

    /// `load.sweep`: the ramp to saturation, then its stages.
    pub async fn sweep(
        &mut self,
        sweep: &crate::scenario::Sweep,
    ) -> Result<SweepOutcome, RunError> {
        let quick_cap = self.quick.map(|_| PROBE_QUICK_CAP);
        let duration = super::sweep::probe_duration(sweep, quick_cap);
        let name = self.scenario.name();
        let mut step = 0u64;
        let mut failed = None;
        let outcome = super::sweep::find_saturation(
            sweep,
            async |rate| {
                step += 1;
                let configured = Stage::Rate { rate, duration };
                let seed = 0x5357_4545_5000 + step;
                self.step(configured, seed, &mut failed).await
            },
            |probe| {
                if self.options.progress {
                    eprintln!("{}", sweep_line(&name, probe));
                }
            },
        )
        .await
        .map_err(RunError::Setup)?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.replan(super::sweep::stages(sweep, outcome.saturation_rate));
        if self.options.progress {
            eprintln!(
                "[{name}] sweep: saturation at {} req/s, recommended production rate {} req/s; running {} stages up to it",
                outcome.saturation_rate,
                outcome.recommended_rate,
                self.plan.stages.len()
            );
        }
        Ok(outcome)
    }

    /// `load.capacity`: the search, then the stages at fractions of what it found (when asked for).
    pub async fn capacity(
        &mut self,
        cap: &crate::scenario::capacity::Capacity,
    ) -> Result<CapacityOutcome, RunError> {
        let name = self.scenario.name();
        let quick = self.quick;
        let mut step = 0u64;
        let mut failed = None;
        let runner_limit = self.scenario.validity.max_schedule_delay_p99_us;
        let outcome = super::capacity::find_capacity(
            cap,
            runner_limit,
            async |load| {
                step += 1;
                let seed = 0x4341_5041_0000 + step;
                let configured = super::capacity::step_length(cap, load, quick).stage(load);
                let started = Instant::now();
                let recorder = self.step(configured, seed, &mut failed).await?;
                let seconds = (started.elapsed().saturating_sub(self.plan.interval)).as_secs_f64();
                Some((recorder, seconds))
            },
            |s| {
                if self.options.progress {
                    eprintln!("{}", capacity_line(&name, s, cap.over.unit()));
                }
            },
        )
        .await
        .map_err(RunError::Setup)?;
        if let Some(e) = failed {
            return Err(e);
        }
        match outcome.value {
            Some(value) if !cap.stages.is_empty() => {
                self.replan(super::capacity::stages(cap, value));
            }
            None if !cap.stages.is_empty() => self.plan.stages.clear(),
            _ => {}
        }
        if self.options.progress {
            eprintln!(
                "[{name}] {}; running {} stage(s)",
                outcome.describe(),
                self.plan.stages.len()
            );
        }
        Ok(outcome)
    }
}

fn sweep_line(scenario: &str, p: &super::sweep::Probe) -> String {
    let ttft = p.ttft_p90_ms.map_or("n/a".into(), |v| format!("{v:.1}ms"));
    let verdict = p.saturated.as_deref().unwrap_or("good");
    format!(
        "[{scenario}] sweep probe {} req/s: completed {:.1} req/s, ttft p90 {ttft}, errors {:.1} %: {verdict}",
        p.rate,
        p.completed_rate,
        p.error_rate * 100.0
    )
}

fn capacity_line(scenario: &str, s: &super::capacity::CapacityStep, unit: &str) -> String {
    let ttft = s.ttft_p99_ms.map_or("n/a".into(), |v| format!("{v:.1}ms"));
    let attainment = s
        .slo_attainment
        .map(|a| format!(", slo_attainment {:.2}%", a * 100.0))
        .unwrap_or_default();
    let verdict = s.verdict();
    format!(
        "[{scenario}] capacity step {} {unit}: {} sent in {:.1}s, ttft p99 {ttft}{attainment}: {verdict}",
        s.load, s.sent, s.seconds
    )
}
