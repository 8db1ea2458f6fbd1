//! `load.capacity`: the highest load at which the scenario's SLO holds.
//!
//! A ramp doubles the load from `min` until a step fails its SLO (or `max` holds), then bisects
//! between the highest load that held and the lowest that failed until the two are within the
//! precision, in at most `max_steps` steps. Each step is a fresh stage at one load, judged alone
//! (`judge`): the goodput attainment against its target, and/or thresholds on its own requests.
//! A step is made long enough for the statistics it judges: an open-loop step lasts until it holds
//! the requests a p(99) or a 99 % attainment needs at 95 % confidence (`measure::interval`), at least
//! `step_duration` and at most `max_step_duration`; a closed-loop step sends that many requests. A
//! step that still had too few says so. Probe steps are kept out of every other statistic and
//! reported on their own, like the sweep's.
//!
//! The answer is the highest load that held: the true limit lies between it and the lowest load
//! that failed, and that gap is the precision reported.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::interval::{min_samples, z_for};
use crate::measure::recorder::Recorder;
use crate::plan::Quick;
use crate::scenario::capacity::{Capacity, Over};
use crate::scenario::metric::trim_number as trim;
use crate::scenario::threshold::{Aggregation, Metric, MetricKind, Threshold};
use crate::scenario::{Stage, Stage::Concurrency, Stage::Rate};

/// The confidence a step is sized for.
const STEP_CONFIDENCE: f64 = 0.95;

/// One search step as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// The rate (req/s) or concurrency tried.
    pub load: f64,
    pub sent: u64,
    pub ok: u64,
    /// Failed or timed out.
    pub failed: u64,
    pub seconds: f64,
    pub slo_attainment: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub holds: bool,
    /// What broke the SLO, when it did.
    pub why: Option<String>,
    /// Set when the step held fewer requests than the judged statistics need.
    pub too_few_samples: Option<String>,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityOutcome {
    pub over: Over,
    pub unit: String,
    /// The highest load that held; `None` when the SLO failed even at `min`.
    pub value: Option<f64>,
    /// How far above `value` the limit may lie: the gap to the lowest load that failed (or the
    /// stated precision when `max` held).
    pub precision: f64,
    /// The SLO each step was judged by.
    pub judged_by: String,
    pub min: f64,
    pub max: f64,
    pub steps: Vec<CapacityStep>,
    pub note: Option<String>,
}

impl CapacityStep {
    /// `holds`, or `fails: why`, with the too-few-samples note when there is one.
    pub fn verdict(&self) -> String {
        let few = self.too_few_samples.as_ref().map(|f| format!(" ({f})"));
        match &self.why {
            None => format!("holds{}", few.unwrap_or_default()),
            Some(why) => format!("fails: {why}{}", few.unwrap_or_default()),
        }
    }
}

impl CapacityOutcome {
    /// One line for people: `capacity 72.5 req/s (the limit is below 75), by ..., after 8 steps`.
    pub fn describe(&self) -> String {
        let found = match self.value {
            Some(v) if self.precision > 0.0 => format!(
                "{v} {} (the limit is below {})",
                self.unit,
                trim(v + self.precision)
            ),
            Some(v) => format!("{v} {}", self.unit),
            None => format!("below min ({} {})", self.min, self.unit),
        };
        let ramp = self
            .steps
            .iter()
            .filter(|s| s.too_few_samples.is_some())
            .count();
        let few = match ramp {
            0 => String::new(),
            n => format!("; {n} step(s) had too few samples for what they judged"),
        };
        let note = self
            .note
            .as_deref()
            .map(|n| format!("; {n}"))
            .unwrap_or_default();
        let steps = match self.steps.len() {
            1 => "1 step".to_string(),
            n => format!("{n} steps"),
        };
        format!(
            "capacity {found}, by {}, after {steps}{few}{note}",
            self.judged_by
        )
    }
}

/// How much one step sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepLength {
    Open(Duration),
    Closed(u64),
}

impl StepLength {
    /// The step at `load` as a stage: `load` req/s for the duration, or `load` slots for the requests.
    pub fn stage(self, load: f64) -> Stage {
        match self {
            StepLength::Open(duration) => Rate {
                rate: load,
                duration,
            },
            StepLength::Closed(num_requests) => Concurrency {
                num_requests,
                concurrency: load as u32,
            },
        }
    }
}

/// The requests a step needs for what it judges, and which statistic needs the most.
pub fn needed(cap: &Capacity) -> (u64, String) {
    let z = z_for(STEP_CONFIDENCE);
    let attainment = cap
        .judge
        .attainment
        .map(|a| (min_samples(a.min(0.9999), z), "slo_attainment".to_string()));
    let thresholds = cap.judge.thresholds.iter().map(|t| {
        let q = match (t.metric.kind(), t.aggregation) {
            (_, Aggregation::Percentile(p)) => p / 100.0,
            // A rate limit near 0 (errors) or near 1 (attainment) is a tail: it needs as many
            // requests as the matching percentile.
            (MetricKind::Rate, _) if t.limit > 0.0 && t.limit < 0.5 => 1.0 - t.limit,
            (MetricKind::Rate, _) if t.limit >= 0.5 && t.limit < 1.0 => t.limit,
            _ => 0.5,
        };
        (min_samples(q.min(0.9999), z), t.label())
    });
    attainment
        .into_iter()
        .chain(thresholds)
        .max_by_key(|(n, _)| *n)
        .unwrap_or((1, String::new()))
}

/// How long (open loop) or how many requests (closed loop) a step at `load` runs. Against the
/// embedded simulator (`quick`) steps are held to quick mode's stage length (open loop: half of it
/// to all of it) or requests per slot (closed loop, at least 4), and may say they had too few.
pub fn step_length(cap: &Capacity, load: f64, quick: Option<Quick>) -> StepLength {
    let (need, _) = needed(cap);
    match (cap.over, quick) {
        (Over::Rate, _) => {
            let (shortest, longest) = match quick {
                Some(q) => (
                    cap.step_duration.min(q.max_stage_duration / 2),
                    cap.max_step_duration.min(q.max_stage_duration),
                ),
                None => (cap.step_duration, cap.max_step_duration),
            };
            let enough = Duration::from_secs_f64(need as f64 / load);
            StepLength::Open(enough.clamp(shortest, longest))
        }
        (Over::Concurrency, None) => StepLength::Closed(need.max(4 * load as u64)),
        (Over::Concurrency, Some(q)) => {
            let slots = load as u64;
            StepLength::Closed(need.max(4 * slots).min(q.requests_per_slot.max(4) * slots))
        }
    }
}

/// Judges one step's requests against the SLO. A step the runner could not drive as asked (sends
/// held back by the in-flight cap, or a schedule-delay p99 above `runner_limit_us`) does not hold
/// either: its latencies would hide the target's queue in the runner's.
pub fn judge(
    cap: &Capacity,
    load: f64,
    r: &Recorder,
    seconds: f64,
    runner_limit_us: f64,
) -> CapacityStep {
    let mut broken = Vec::new();
    if r.sent() == 0 {
        broken.push("nothing was sent".to_string());
    }
    if r.in_flight_cap_waits > 0 {
        broken.push(format!(
            "the runner held back {} sends at its in-flight cap (load.num_workers x load.worker_max_concurrency)",
            r.in_flight_cap_waits
        ));
    }
    let delay = r.value(Metric::ScheduleDelay, Aggregation::Percentile(99.0));
    if let Some(d) = delay.filter(|d| *d >= runner_limit_us) {
        broken.push(format!(
            "the runner fell behind: schedule delay p(99) {:.1} ms",
            d / 1e3
        ));
    }
    if let Some(target) = cap.judge.attainment {
        let got = r.slo_attainment().unwrap_or(0.0);
        if got < target {
            broken.push(format!(
                "slo_attainment {:.2}% < {}%",
                got * 100.0,
                trim(target * 100.0)
            ));
        }
    }
    for t in &cap.judge.thresholds {
        if let Some(why) = threshold_broken(t, r) {
            broken.push(why);
        }
    }
    let (need, what) = needed(cap);
    let have = match cap.judge.attainment {
        Some(_) => r.sent(),
        None => r.ok.min(r.sent()),
    };
    let too_few_samples = (have < need)
        .then(|| format!("too few samples: {have} requests for {what}, needs at least {need}"));
    CapacityStep {
        load,
        sent: r.sent(),
        ok: r.ok,
        failed: r.failed() + r.timed_out,
        seconds,
        slo_attainment: r.slo.and(r.slo_attainment()),
        ttft_p99_ms: r
            .value(Metric::Ttft, Aggregation::Percentile(99.0))
            .map(|v| v / 1e3),
        holds: broken.is_empty(),
        why: (!broken.is_empty()).then(|| broken.join("; ")),
        too_few_samples,
    }
}

fn threshold_broken(t: &Threshold, r: &Recorder) -> Option<String> {
    match r.value(t.metric, t.aggregation) {
        Some(v) if t.op.holds(v, t.limit) => None,
        Some(v) => Some(format!("{} was {}", t.label(), t.format_value(v))),
        None => Some(format!("{}: no observations", t.label())),
    }
}

/// Runs the search: `probe(load)` runs one step and returns what it recorded and how long it took
/// (`None` when the run was stopped); `report` sees each judged step.
pub async fn find_capacity(
    cap: &Capacity,
    runner_limit_us: f64,
    mut probe: impl AsyncFnMut(f64) -> Option<(Recorder, f64)>,
    mut report: impl FnMut(&CapacityStep),
) -> Result<CapacityOutcome, String> {
    let mut steps: Vec<CapacityStep> = Vec::new();
    let mut step = async |load: f64, steps: &mut Vec<CapacityStep>| {
        let (recorder, seconds) = probe(load).await?;
        let judged = judge(cap, load, &recorder, seconds, runner_limit_us);
        report(&judged);
        let holds = judged.holds;
        steps.push(judged);
        Some(holds)
    };
    let stopped = || "the capacity search was stopped".to_string();
    let (mut held, mut failed): (Option<f64>, Option<f64>) = (None, None);
    let mut load = cap.min;
    while steps.len() < cap.max_steps as usize {
        if step(load, &mut steps).await.ok_or_else(stopped)? {
            held = Some(load);
            if load >= cap.max {
                break;
            }
            load = round(cap.over, (load * 2.0).min(cap.max));
        } else {
            failed = Some(load);
            break;
        }
    }
    if let (Some(mut low), Some(mut high)) = (held, failed) {
        while high - low > cap.precision.at(low, cap.over) && steps.len() < cap.max_steps as usize {
            let mid = round(cap.over, (low + high) / 2.0);
            if mid <= low || mid >= high {
                break;
            }
            match step(mid, &mut steps).await.ok_or_else(stopped)? {
                true => low = mid,
                false => high = mid,
            }
        }
        (held, failed) = (Some(low), Some(high));
    }
    let unit = cap.over.unit();
    let stated = |v: f64| cap.precision.at(v, cap.over);
    let (precision, note) = match (held, failed) {
        (None, _) => (
            0.0,
            Some(format!(
                "the SLO failed at min ({} {unit}): the capacity is below it",
                cap.min
            )),
        ),
        (Some(v), None) if v >= cap.max => (
            stated(v),
            Some(format!(
                "the SLO held at max ({} {unit}): the capacity is at least that",
                cap.max
            )),
        ),
        (Some(v), None) => (
            stated(v),
            Some(format!(
                "max_steps ({}) ran out while ramping: the capacity is at least {v} {unit}",
                cap.max_steps
            )),
        ),
        (Some(low), Some(high)) => {
            let note = (high - low > stated(low)).then(|| {
                format!(
                    "max_steps ({}) ran out before the stated precision: the limit lies between {low} and {high} {unit}",
                    cap.max_steps
                )
            });
            (high - low, note)
        }
    };
    Ok(CapacityOutcome {
        over: cap.over,
        unit: unit.to_string(),
        value: held,
        precision,
        judged_by: cap.judge.describe(),
        min: cap.min,
        max: cap.max,
        steps,
        note,
    })
}

/// Rates to the hundredth, concurrencies to whole slots.
fn round(over: Over, v: f64) -> f64 {
    match over {
        Over::Rate => (v * 100.0).round() / 100.0,
        Over::Concurrency => v.round(),
    }
}

/// The stages run after the search: `cap.stages` fractions of the capacity found.
pub fn stages(cap: &Capacity, value: f64) -> Vec<Stage> {
    cap.stages
        .iter()
        .map(|f| match cap.over {
            Over::Rate => Rate {
                rate: round(Over::Rate, (value * f).max(0.01)),
                duration: cap.stage_duration,
            },
            Over::Concurrency => {
                let concurrency = ((value * f).floor() as u32).max(1);
                Concurrency {
                    num_requests: cap.num_requests.unwrap_or(20 * concurrency as u64),
                    concurrency,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
