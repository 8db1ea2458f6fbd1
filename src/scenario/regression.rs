//! `regression`: how a run is compared with the saved runs (the history) of its scenario.
//!
//! ```yaml
//! regression:
//!   baseline: s3://perf-baselines/main   # or a directory; --baseline / INFERGATE_BASELINE override it
//!   confidence: 95%                      # the chance an unchanged target's run passes, all rows together
//!   percentiles: [50, 99]                # of every latency metric below
//!   history: 10                          # saved runs kept (--save-baseline appends, the oldest go)
//!   confirm: 1                           # reruns a regression must survive (default: 1, 0 on the simulator)
//!   run_spread: 20%                      # assumed run-to-run spread below 3 saved runs (0 on the simulator)
//!   metrics:                             # allowed change in the bad direction
//!     ttft: 10%                          # latencies and throughputs: relative to the history
//!     error_rate: 1%                     # rates: percentage points
//! ```
//!
//! Every key is optional, and a scenario with no block is still compared when a baseline is given,
//! with the defaults above plus `itl` and `request_latency` at 10 %.

use super::ScenarioError;
use super::locate::Step;
use super::raw::RawScenario;
use super::threshold::{Metric, MetricKind, parse_fraction};
use super::validate::Checker;

/// How far a statistic may move in the bad direction before it counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// A fraction of the baseline's value (0.10 = 10 %).
    Relative(f64),
    /// An amount in the metric's units (rates: 0.01 = one percentage point).
    Absolute(f64),
}

/// The validated `regression` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// Where baselines live, when the file says.
    pub baseline: Option<String>,
    /// The chance that a run of an unchanged target passes, over all its rows together (0.95): one
    /// minus the run's error budget.
    pub confidence: f64,
    /// Percentiles (0..100] compared for every latency metric.
    pub percentiles: Vec<f64>,
    /// The metrics compared, each with its allowance.
    pub metrics: Vec<(Metric, Allowance)>,
    /// Saved runs kept per scenario when a run is saved.
    pub history: u32,
    /// Reruns a regression must survive before it fails the scenario; `None`: 1 against a real
    /// target, 0 against the embedded simulator.
    pub confirm: Option<u32>,
    /// The run-to-run spread (a CV) assumed while the history has too few runs to measure it;
    /// `None`: 20 % against a real target, 0 against the embedded simulator (which has no drift).
    pub run_spread: Option<f64>,
}

/// Saved runs kept per scenario unless `regression.history` says.
pub const DEFAULT_HISTORY: u32 = 10;

/// The run-to-run spread assumed against a real target while the history is too short.
pub const DEFAULT_RUN_SPREAD: f64 = 0.20;

impl Regression {
    /// Reruns a regression must survive, for a run against the simulator or not.
    pub fn confirm_for(&self, simulated: bool) -> u32 {
        self.confirm.unwrap_or(if simulated { 0 } else { 1 })
    }

    /// The run-to-run spread to assume, for a run against the simulator or not.
    pub fn run_spread_for(&self, simulated: bool) -> f64 {
        self.run_spread
            .unwrap_or(if simulated { 0.0 } else { DEFAULT_RUN_SPREAD })
    }
}

impl Default for Regression {
    fn default() -> Self {
        Regression {
            baseline: None,
            confidence: 0.95,
            percentiles: vec![50.0, 99.0],
            metrics: vec![
                (Metric::Ttft, Allowance::Relative(0.10)),
                (Metric::Itl, Allowance::Relative(0.10)),
                (Metric::RequestLatency, Allowance::Relative(0.10)),
                (Metric::ErrorRate, Allowance::Absolute(0.01)),
            ],
            history: DEFAULT_HISTORY,
            confirm: None,
            run_spread: None,
        }
    }
}

pub(super) fn check(c: &Checker<'_>, raw: &RawScenario) -> Result<Regression, ScenarioError> {
    let mut out = Regression::default();
    let Some(r) = &raw.regression else {
        return Ok(out);
    };
    let at = |key| [Step::Key("regression"), Step::Key(key)];
    out.baseline = r.baseline.clone().filter(|b| !b.trim().is_empty());
    if let Some(confidence) = &r.confidence {
        let value =
            parse_fraction(&confidence.text()).map_err(|m| c.error(&at("confidence"), m))?;
        if !(0.5..1.0).contains(&value) {
            return Err(c.error(
                &at("confidence"),
                "must be at least 50% and below 100%, e.g. 95%",
            ));
        }
        out.confidence = value;
    }
    if let Some(history) = r.history {
        if history == 0 {
            return Err(c.error(
                &at("history"),
                "keep at least 1 saved run (10 by default; 3 or more measure the run-to-run spread)",
            ));
        }
        out.history = history;
    }
    if let Some(confirm) = r.confirm {
        if confirm > 5 {
            return Err(c.error(
                &at("confirm"),
                "at most 5 reruns (0 turns confirmation off)",
            ));
        }
        out.confirm = Some(confirm);
    }
    if let Some(spread) = &r.run_spread {
        let value = parse_fraction(&spread.text())
            .map_err(|m| c.error(&at("run_spread"), format!("{m} (a CV, e.g. 20%)")))?;
        if !(0.0..=5.0).contains(&value) {
            return Err(c.error(&at("run_spread"), "give a spread from 0% to 500%, e.g. 20%"));
        }
        out.run_spread = Some(value);
    }
    if let Some(percentiles) = &r.percentiles {
        if percentiles.is_empty() || percentiles.iter().any(|p| !(*p > 0.0 && *p < 100.0)) {
            return Err(c.error(
                &at("percentiles"),
                "give percentiles between 0 and 100 (exclusive), e.g. [50, 99]",
            ));
        }
        out.percentiles = percentiles.clone();
    }
    if let Some(metrics) = &r.metrics {
        out.metrics.clear();
        for (name, allowed) in metrics {
            let here = [
                Step::Key("regression"),
                Step::Key("metrics"),
                Step::Key(name.as_str()),
            ];
            let metric = Metric::parse(name).map_err(|m| c.error(&here, m))?;
            if metric.is_server() {
                return Err(c.error(
                    &here,
                    "server-side metrics are scraped, not kept in baselines; give them absolute thresholds",
                ));
            }
            if metric == Metric::ScheduleDelay {
                return Err(c.error(
                    &here,
                    "schedule_delay measures the runner, not the target; its limit is `validity`",
                ));
            }
            let amount = parse_fraction(&allowed.text()).map_err(|m| {
                c.error(&here, format!("{m} (the allowed change, e.g. 10% or 0.1)"))
            })?;
            if !(amount >= 0.0 && amount.is_finite()) {
                return Err(c.error(&here, "the allowed change cannot be negative"));
            }
            let allowance = match metric.kind() {
                MetricKind::Rate => Allowance::Absolute(amount),
                MetricKind::Trend | MetricKind::Throughput | MetricKind::Gauge => {
                    Allowance::Relative(amount)
                }
            };
            out.metrics.push((metric, allowance));
        }
    }
    Ok(out)
}
