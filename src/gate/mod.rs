//! Stage 5 of the pipeline, after `run` and `measure`: the verdict. Uses the stages below it; never
//! the reports or the store.
//!
//! The verdict: thresholds and runner-validity limits checked against a run's recorders.
//!
//! Two kinds of check, kept apart on purpose. A *threshold* failing means the target missed its SLO.
//! A *validity* limit failing means infergate could not produce the load it was asked for (schedule
//! delay too high, send rate too low, or requests unaccounted for): the numbers then describe the runner
//! as much as the target, so the run is *invalid*, never passed, and reported as an error rather than a
//! failure.

pub mod ab;
pub mod baseline;
pub mod knee;

use crate::measure::recorder::Recorder;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::run::{Abort, RunResult};
use crate::scenario::metric::trim_number as trim;
use crate::scenario::threshold::format_micros;
use crate::scenario::{Aggregation, Metric, Threshold, Validity};
use baseline::samples::RunSamples;

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// The target missed a threshold.
    Fail,
    /// The runner broke a validity limit.
    Invalid,
}

/// Which family a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Threshold,
    Validity,
    /// A comparison with the baseline (`regression` block or a relative threshold).
    Regression,
}

impl Verdict {
    /// `pass`, `fail` or `invalid`, as reports write it.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Invalid => "invalid",
        }
    }
}

impl Status {
    /// `passed`, `failed` or `invalid`, as reports write it.
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Invalid => "invalid",
        }
    }
}

impl CheckKind {
    /// `threshold`, `validity` or `regression`, as reports write it.
    pub fn word(self) -> &'static str {
        match self {
            CheckKind::Threshold => "threshold",
            CheckKind::Validity => "validity",
            CheckKind::Regression => "regression",
        }
    }
}

/// One evaluated check, ready for people and for JUnit.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub kind: CheckKind,
    /// e.g. `ttft: p(99) < 1200ms` or `runner: stage 0 schedule_delay p(99) < 10ms`.
    pub name: String,
    pub verdict: Verdict,
    /// The observed value, formatted (`n/a` when there was nothing to measure).
    pub observed: String,
    /// The observed value in canonical units, when there was one.
    pub observed_value: Option<f64>,
    /// Why, in one sentence, e.g. `observed 1.52s, limit < 1.20s`.
    pub message: String,
}

/// The overall result of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    /// At least one threshold failed (and the run was valid).
    Failed,
    /// The runner could not keep up; thresholds were not judged.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct GateReport {
    pub checks: Vec<Check>,
    pub status: Status,
    /// The comparison with the baseline, when one was asked for.
    pub comparison: Option<crate::gate::baseline::Comparison>,
    /// What a baseline comparison judges, and what `samples.json` keeps: made once, here.
    pub samples: Box<RunSamples>,
}

impl GateReport {
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.verdict != Verdict::Pass)
    }

    /// Adds the baseline comparison and its checks; a regression fails a valid run.
    pub fn attach(&mut self, comparison: crate::gate::baseline::Comparison) {
        self.checks
            .extend(crate::gate::baseline::checks(&comparison));
        self.comparison = Some(comparison);
        self.status = status_of(&self.checks);
    }
}

impl GateReport {
    /// Adds every validity limit one shard of a merged run broke, named after the shard, so a shard
    /// that fell behind makes the whole run invalid and the message says which.
    pub fn add_shard_validity(&mut self, validity: &Validity, shard: &RunResult) {
        self.add_part_validity(validity, shard, &format!("shard {}", shard.shard));
    }

    /// Adds every validity limit a part of the run (a shard, an A/B block) broke, named `label`.
    pub fn add_part_validity(&mut self, validity: &Validity, part: &RunResult, label: &str) {
        let broken = validity_checks(validity, part)
            .into_iter()
            .filter(|c| c.verdict != Verdict::Pass);
        for mut check in broken {
            check.name = format!("{label}: {}", check.name);
            self.checks.push(check);
        }
        self.status = status_of(&self.checks);
    }
}

fn status_of(checks: &[Check]) -> Status {
    if checks.iter().any(|c| c.verdict == Verdict::Invalid) {
        Status::Invalid
    } else if checks.iter().any(|c| c.verdict == Verdict::Fail) {
        Status::Failed
    } else {
        Status::Passed
    }
}

/// Checks every validity limit, then every threshold.
pub fn evaluate(thresholds: &[Threshold], validity: &Validity, run: &RunResult) -> GateReport {
    let mut checks = validity_checks(validity, run);
    if let Some(reason) = &run.aborted {
        checks.push(Check {
            kind: CheckKind::Threshold,
            name: "run: not aborted by a threshold or circuit breaker".to_string(),
            verdict: Verdict::Fail,
            observed: "aborted".to_string(),
            observed_value: None,
            message: format!("{reason}; the remaining requests were cancelled"),
        });
    }
    if let Some(found) = run.capacity.as_ref().filter(|c| c.value.is_none()) {
        checks.push(Check {
            kind: CheckKind::Threshold,
            name: format!(
                "capacity: the SLO holds at min ({} {})",
                found.min, found.unit
            ),
            verdict: Verdict::Fail,
            observed: "below min".to_string(),
            observed_value: None,
            message: found.note.clone().unwrap_or_default(),
        });
    }
    // Thresholds relative to a baseline are judged by `baseline::compare`.
    for threshold in thresholds.iter().filter(|t| t.baseline_factor.is_none()) {
        if threshold.metric.is_server() {
            checks.push(server_check(threshold, run));
            continue;
        }
        if threshold.metric == Metric::Capacity {
            checks.push(capacity_check(threshold, run));
            continue;
        }
        let recorder = match threshold.stage {
            Some(i) => &run.stages[i].recorder,
            None => &run.total,
        };
        let recorder = match &threshold.adapter {
            Some(name) => {
                let index = run.lora.as_ref().and_then(|l| l.position(name));
                // An adapter no request went to has an empty recorder: the threshold fails as any
                // threshold without observations does.
                match index.and_then(|i| recorder.adapters.get(i)) {
                    Some(adapter) => adapter,
                    None => &Recorder::new(),
                }
            }
            None => recorder,
        };
        checks.push(threshold_check(threshold, recorder));
    }
    GateReport {
        status: status_of(&checks),
        checks,
        comparison: None,
        samples: Box::new(RunSamples::from_run(run)),
    }
}

/// The rule that stops a run when one of its `abortOnFail` thresholds fails mid-run (`None` when the
/// scenario has none); the driver asks it as each stage goes (see `abort_reason`).
pub fn abort_rule(thresholds: &[Threshold]) -> Option<Abort> {
    let aborting: Vec<Threshold> = thresholds
        .iter()
        .filter(|t| t.abort_on_fail)
        .cloned()
        .collect();
    if aborting.is_empty() {
        return None;
    }
    Some(Abort(Arc::new(move |stage, earlier, current, elapsed| {
        abort_reason(&aborting, stage, earlier, current, elapsed)
    })))
}

/// For `abortOnFail` thresholds while a run is under way: the reason to stop, if one of them, past its
/// `delayAbortEval`, fails on what has been measured so far (stage-scoped ones on their own stage only).
pub fn abort_reason(
    thresholds: &[Threshold],
    stage: usize,
    earlier: &Recorder,
    current: &Recorder,
    elapsed: std::time::Duration,
) -> Option<String> {
    let mut whole_run: Option<Recorder> = None;
    for t in thresholds.iter().filter(|t| {
        t.abort_on_fail
            && t.baseline_factor.is_none()
            && !t.metric.is_server()
            && elapsed >= t.delay_abort_eval
    }) {
        let recorder = match t.stage {
            Some(s) if s == stage => current,
            Some(_) => continue,
            None => whole_run.get_or_insert_with(|| Recorder::merged([earlier, current])),
        };
        let check = threshold_check(t, recorder);
        if check.verdict == Verdict::Fail && check.observed_value.is_some() {
            return Some(format!(
                "aborted by `{}` (abortOnFail): {}",
                t.label(),
                check.message
            ));
        }
    }
    None
}

fn threshold_check(threshold: &Threshold, recorder: &Recorder) -> Check {
    let observed = recorder.value(threshold.metric, threshold.aggregation);
    let missing = format!(
        "no observations of {} (no successful requests measured it)",
        threshold.metric.name()
    );
    check_against_limit(threshold, observed, missing)
}

/// A `server.*` threshold, on what the engine's `/metrics` reported during its stage or the run.
fn server_check(threshold: &Threshold, run: &RunResult) -> Check {
    let server = match threshold.stage {
        Some(i) => run.stages[i].server.clone(),
        None => crate::measure::server::StageServer::merged(
            run.stages.iter().filter_map(|s| s.server.as_ref()),
        ),
    };
    let observed = server
        .as_ref()
        .and_then(|s| s.value(threshold.metric, threshold.aggregation));
    let missing = match &server {
        None => "the engine's metrics were not scraped: the target has no /metrics with engine metrics, or `metrics` is off".to_string(),
        Some(s) => format!(
            "{} did not report {} ({} scrapes, {} failed{})",
            s.url,
            threshold.metric.name(),
            s.scrapes,
            s.failed_scrapes,
            s.last_error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    };
    check_against_limit(threshold, observed, missing)
}

/// `capacity: ["value >= 30"]`, on what the search found.
fn capacity_check(threshold: &Threshold, run: &RunResult) -> Check {
    let found = run.capacity.as_ref();
    let missing = match found {
        None => "no capacity search ran".to_string(),
        Some(c) => c.note.clone().unwrap_or_default(),
    };
    let mut check = check_against_limit(threshold, found.and_then(|c| c.value), String::new());
    let limit = format!("{} {}", threshold.op.symbol(), trim(threshold.limit));
    check.message = match found.and_then(|c| Some((c, c.value?))) {
        Some((c, value)) => {
            check.observed = format!("{value} {}", c.unit);
            format!(
                "observed {value} {} (the limit is below {}; by {}), limit {limit}",
                c.unit,
                trim(value + c.precision),
                c.judged_by,
            )
        }
        None => format!("{missing}; limit {limit}"),
    };
    check
}

fn check_against_limit(threshold: &Threshold, observed: Option<f64>, missing: String) -> Check {
    let limit = format!(
        "{} {}",
        threshold.op.symbol(),
        threshold.format_value(threshold.limit)
    );
    let (verdict, observed_text, message) = match observed {
        Some(v) => {
            let text = threshold.format_value(v);
            let verdict = if threshold.op.holds(v, threshold.limit) {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            (
                verdict,
                text.clone(),
                format!("observed {text}, limit {limit}"),
            )
        }
        None => (
            Verdict::Fail,
            "n/a".to_string(),
            format!("{missing}, limit {limit}"),
        ),
    };
    Check {
        kind: CheckKind::Threshold,
        name: threshold.label(),
        verdict,
        observed: observed_text,
        observed_value: observed,
        message,
    }
}

fn validity_checks(validity: &Validity, run: &RunResult) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Some(reason) = &run.stopped {
        let done = run.stages.len();
        checks.push(Check {
            kind: CheckKind::Validity,
            name: "runner: the run completed".to_string(),
            verdict: Verdict::Invalid,
            observed: "incomplete".to_string(),
            observed_value: None,
            message: format!(
                "incomplete: {reason}; {done} stage(s) ran, {} request(s) cancelled; partial results",
                run.total.cancelled
            ),
        });
    }
    for (i, stage) in run.stages.iter().enumerate() {
        let r = &stage.recorder;
        let limit = validity.max_schedule_delay_p99_us;
        let p99 = r.value(Metric::ScheduleDelay, Aggregation::Percentile(99.0));
        let mut message = match p99 {
            Some(v) => format!(
                "observed {}, limit < {}",
                format_micros(v),
                format_micros(limit)
            ),
            None => "no requests were sent".to_string(),
        };
        if r.in_flight_cap_waits > 0 {
            message.push_str(&format!(
                "; {} sends waited for an in-flight slot (load.num_workers x load.worker_max_concurrency)",
                r.in_flight_cap_waits
            ));
        }
        let ok = p99.is_none_or(|v| v < limit);
        checks.push(Check {
            kind: CheckKind::Validity,
            name: format!(
                "runner: stage {i} schedule_delay p(99) < {}",
                format_micros(limit)
            ),
            verdict: if ok { Verdict::Pass } else { Verdict::Invalid },
            observed: p99.map_or("n/a".into(), format_micros),
            observed_value: p99,
            message: if ok {
                message
            } else {
                format!("the runner could not keep up: {message}")
            },
        });
        if let (Some(achieved), Some(scheduled)) = (r.achieved_rate(), r.scheduled_rate()) {
            let ratio = achieved / scheduled;
            let ok = ratio >= validity.min_achieved_rate;
            let message = format!(
                "sent at {achieved:.2} req/s of the {scheduled:.2} req/s scheduled ({:.1}%), limit >= {:.0}%",
                ratio * 100.0,
                validity.min_achieved_rate * 100.0
            );
            checks.push(Check {
                kind: CheckKind::Validity,
                name: format!(
                    "runner: stage {i} achieved rate >= {:.0}%",
                    validity.min_achieved_rate * 100.0
                ),
                verdict: if ok { Verdict::Pass } else { Verdict::Invalid },
                observed: format!("{:.1}%", ratio * 100.0),
                observed_value: Some(ratio),
                message: if ok {
                    message
                } else {
                    format!("the runner could not keep up: {message}")
                },
            });
        }
        let accounted = r.accounted();
        if accounted != r.scheduled {
            checks.push(Check {
                kind: CheckKind::Validity,
                name: format!("runner: stage {i} every request accounted for"),
                verdict: Verdict::Invalid,
                observed: format!("{accounted} of {}", r.scheduled),
                observed_value: Some(accounted as f64),
                message: format!(
                    "{} requests scheduled but {accounted} ended (ok + failed + timed out + cancelled)",
                    r.scheduled
                ),
            });
        }
    }
    checks
}

/// What happened to one scenario file: it ran and was judged, or it could not run at all.
#[derive(Debug, Clone)]
pub enum ScenarioOutcome {
    Judged {
        run: Box<crate::run::RunResult>,
        gate: GateReport,
    },
    /// A bad file, an unreachable target, a setup problem: no numbers to judge.
    Error {
        scenario: String,
        message: String,
        cause: ErrorCause,
    },
}

/// Why a scenario could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCause {
    /// The scenario file is wrong.
    BadInput,
    /// The target or the machine would not cooperate.
    Run,
}

impl ScenarioOutcome {
    pub fn scenario(&self) -> &str {
        match self {
            ScenarioOutcome::Judged { run, .. } => &run.scenario,
            ScenarioOutcome::Error { scenario, .. } => scenario,
        }
    }
}
