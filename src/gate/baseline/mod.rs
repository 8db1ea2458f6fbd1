//! Baselines: a run saved for its scenario (on pushes to main, say) and the noise-aware comparison of
//! later runs with it.
//!
//! A baseline is a scenario's report directory copied to `LOCATION/<scenario>/`, where LOCATION is a
//! directory or `s3://bucket/prefix`. Comparing reads its `samples.json` (the distributions behind
//! every statistic) and `verdicts.json` (where it came from), refuses when the load-relevant config
//! hash differs unless forced, and judges every statistic the `regression` block and the relative
//! thresholds (`p(99) < baseline * 1.10`) name: *regressed*, *improved*, *no change* or
//! *inconclusive*. Only *regressed* fails.

pub mod change;
pub mod samples;
pub use crate::measure::interval;

use change::{Allowance, Change, Judgement, Worse, compare_intervals};
use interval::Interval;
use samples::RunSamples;

use crate::gate::{Check, CheckKind, Verdict};
use crate::scenario::threshold::format_metric_value;
use crate::scenario::{Aggregation, Metric, MetricKind, Op, Regression, Threshold};

/// A baseline as read back.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub samples: RunSamples,
    /// e.g. `commit 1a2b3c4 (main), 2026-11-22 10:04 UTC`.
    pub about: String,
}

/// Why nothing (or not everything) was compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// No baseline location was given, yet thresholds refer to one.
    NotConfigured,
    /// The location holds no baseline for this scenario (the first run, or a new scenario).
    Missing,
    /// The baseline offered different load; comparing would mislead.
    Refused(String),
    /// The baseline could not be read.
    Unreadable(String),
}

/// Everything compared for one scenario.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Where the baseline was looked for.
    pub location: String,
    pub about: Option<String>,
    pub problem: Option<Problem>,
    pub rows: Vec<Row>,
}

/// One statistic compared.
/// What asked for a statistic to be compared.
#[derive(Debug, Clone, PartialEq)]
pub enum RowSource {
    /// The `regression` block (or its defaults).
    Regression,
    /// A relative threshold, as written (`ttft: p(99) < baseline * 1.10`).
    Threshold(String),
}

impl std::fmt::Display for RowSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowSource::Regression => f.write_str("regression"),
            RowSource::Threshold(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    /// `stage 0 (rate 5/s for 60s)` or `whole run`.
    pub scope: String,
    pub metric: Metric,
    pub aggregation: Aggregation,
    /// What asked for it.
    pub source: RowSource,
    pub allowance: Allowance,
    pub current: Interval,
    pub baseline: Interval,
    /// The values themselves, shown even when an interval is unavailable.
    pub current_value: Option<f64>,
    pub baseline_value: Option<f64>,
    pub judgement: Judgement,
}

impl Row {
    /// `ttft p(99)`.
    pub fn statistic(&self) -> String {
        format!("{} {}", self.metric.name(), self.aggregation)
    }

    /// A value of this row's metric for people.
    pub fn format(&self, value: f64) -> String {
        if self.metric == Metric::Capacity {
            return crate::scenario::metric::trim_number(value);
        }
        format_metric_value(self.metric.kind(), self.aggregation, value)
    }
}

/// Compares `current` with `baseline` for every statistic that `regression` and the relative
/// thresholds ask for. Refuses (one `Problem::Refused`, no rows) when the load differed, unless `force`.
pub fn compare(
    current: &RunSamples,
    baseline: &Baseline,
    regression: &Regression,
    thresholds: &[Threshold],
    force: bool,
) -> (Vec<Row>, Option<Problem>) {
    let base = &baseline.samples;
    let mut mismatch = Vec::new();
    if base.config_hash != current.config_hash {
        mismatch.push(format!(
            "its load-relevant config hash is {}, this run's is {} (api, data, load, tokenizer or model changed)",
            base.config_hash, current.config_hash
        ));
    }
    if base.shortened != current.shortened {
        mismatch.push(
            "one run was shortened by quick mode and the other was not (INFERGATE_FULL)"
                .to_string(),
        );
    }
    if !mismatch.is_empty() && !force {
        let reason = format!(
            "the baseline is not comparable: {}; record a new baseline, or pass --force-baseline (INFERGATE_FORCE_BASELINE=1) to compare anyway",
            mismatch.join("; ")
        );
        return (Vec::new(), Some(Problem::Refused(reason)));
    }
    let z = interval::z_for(regression.confidence);
    let mut rows = Vec::new();
    let stages = current.stages.len().min(base.stages.len());
    for i in 0..stages {
        for &(metric, allowance) in regression
            .metrics
            .iter()
            .filter(|m| m.0 != Metric::Capacity)
        {
            let aggregations: Vec<Aggregation> = match metric.kind() {
                MetricKind::Trend => regression
                    .percentiles
                    .iter()
                    .map(|&p| Aggregation::Percentile(p))
                    .collect(),
                MetricKind::Rate => vec![Aggregation::Rate],
                MetricKind::Throughput => vec![Aggregation::Value],
                MetricKind::Gauge => vec![Aggregation::Avg],
            };
            for aggregation in aggregations {
                rows.push(row(
                    current,
                    base,
                    Some(i),
                    metric,
                    aggregation,
                    allowance,
                    RowSource::Regression,
                    z,
                ));
            }
        }
    }
    if current.total.capacity.is_some() {
        // A fall beyond the two searches' brackets is a regression (or beyond the allowance, when
        // `regression.metrics.capacity` gives one).
        let allowance = regression
            .metrics
            .iter()
            .find(|m| m.0 == Metric::Capacity)
            .map_or(Allowance::Relative(0.0), |m| m.1);
        let (metric, aggregation) = (Metric::Capacity, Aggregation::Value);
        let source = RowSource::Regression;
        rows.push(row(
            current,
            base,
            None,
            metric,
            aggregation,
            allowance,
            source,
            z,
        ));
    }
    for t in thresholds {
        let Some(factor) = t.baseline_factor else {
            continue;
        };
        let allowance = match t.op {
            Op::Gt | Op::Ge => Allowance::Relative(1.0 - factor),
            _ => Allowance::Relative(factor - 1.0),
        };
        rows.push(row(
            current,
            base,
            t.stage,
            t.metric,
            t.aggregation,
            allowance,
            RowSource::Threshold(t.label()),
            z,
        ));
    }
    (rows, None)
}

#[allow(clippy::too_many_arguments)]
fn row(
    current: &RunSamples,
    base: &RunSamples,
    stage: Option<usize>,
    metric: Metric,
    aggregation: Aggregation,
    allowance: Allowance,
    source: RowSource,
    z: f64,
) -> Row {
    let estimate = |s: &RunSamples| match s.scope(stage) {
        Some(samples) => samples.estimate(metric, aggregation, z),
        None => Err(format!("has no stage {}", stage.unwrap_or_default())),
    };
    let (current_interval, baseline_interval) = (estimate(current), estimate(base));
    let point = |s: &RunSamples| s.scope(stage).and_then(|x| x.point(metric, aggregation));
    let (current_value, baseline_value) = (point(current), point(base));
    let worse = if metric.higher_is_better() {
        Worse::Lower
    } else {
        Worse::Higher
    };
    let mut judgement = compare_intervals(&current_interval, &baseline_interval, worse, allowance);
    if let (Some(c), Some(b)) = (current_value, baseline_value)
        && b != 0.0
    {
        judgement.delta = Some((c - b) / b.abs());
    }
    let scope = match stage.and_then(|i| current.stages.get(i)) {
        Some(s) => format!("stage {} ({})", stage.unwrap_or_default(), s.describe),
        None => "whole run".to_string(),
    };
    Row {
        scope,
        metric,
        aggregation,
        source,
        allowance,
        current: current_interval,
        baseline: baseline_interval,
        current_value,
        baseline_value,
        judgement,
    }
}

/// The gate's checks for a comparison: one per row (failing only when regressed), or one saying why
/// nothing was compared.
pub fn checks(comparison: &Comparison) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(problem) = &comparison.problem {
        let (verdict, observed, message) = match problem {
            Problem::NotConfigured => (
                Verdict::Pass,
                "not compared",
                "thresholds refer to a baseline but none was given (--baseline, INFERGATE_BASELINE or regression.baseline); relative thresholds were not checked".to_string(),
            ),
            Problem::Missing => (
                Verdict::Pass,
                "no baseline",
                format!(
                    "no baseline for this scenario at {}; nothing compared (save one with --save-baseline)",
                    comparison.location
                ),
            ),
            Problem::Refused(reason) => (Verdict::Fail, "refused", reason.clone()),
            Problem::Unreadable(reason) => (
                Verdict::Fail,
                "unreadable",
                format!("cannot read the baseline at {}: {reason}", comparison.location),
            ),
        };
        out.push(Check {
            kind: CheckKind::Regression,
            name: "baseline: compared with the baseline".to_string(),
            verdict,
            observed: observed.to_string(),
            observed_value: None,
            message,
        });
    }
    for row in &comparison.rows {
        let name = match &row.source {
            RowSource::Regression => format!(
                "regression: {} {} within {}",
                row.scope,
                row.statistic(),
                allowance_text(row.allowance, row.metric)
            ),
            RowSource::Threshold(text) => format!("{text} ({})", row.scope),
        };
        let change = row.judgement.change;
        let observed = format!("{} ({})", summary(row), change.label());
        let message = match &row.judgement.note {
            Some(note) => format!("{observed}: {note}"),
            None => observed.clone(),
        };
        out.push(Check {
            kind: CheckKind::Regression,
            name,
            verdict: if change == Change::Regressed {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            observed,
            observed_value: row.current_value,
            message,
        });
    }
    out
}

/// `13.20ms vs 12.95ms (+1.9%)`.
pub fn summary(row: &Row) -> String {
    let value = |v: Option<f64>| v.map_or("n/a".to_string(), |v| row.format(v));
    let delta = row
        .judgement
        .delta
        .map_or(String::new(), |d| format!(" ({:+.1}%)", d * 100.0));
    format!(
        "{} vs {}{delta}",
        value(row.current_value),
        value(row.baseline_value)
    )
}

/// `10%` or `1.00 pp`.
pub fn allowance_text(allowance: Allowance, metric: Metric) -> String {
    match allowance {
        // Capacity's own default: the two searches' brackets are the whole allowance.
        Allowance::Relative(f) if metric == Metric::Capacity && f == 0.0 => {
            "the searches' precision".to_string()
        }
        Allowance::Relative(f) => format!("{:.0}%", f * 100.0),
        Allowance::Absolute(d) if metric.kind() == MetricKind::Rate => {
            format!("{:.2} pp", d * 100.0)
        }
        Allowance::Absolute(d) => format!("{d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::samples::StageSamples;
    use super::*;

    fn samples(ok: u64, errors: u64, good: u64, goodput_per_sec: f64) -> RunSamples {
        let stage = StageSamples {
            describe: "rate 10/s for 100s".into(),
            ok,
            errors,
            token_count_mismatches: 0,
            requests_per_sec: ok as f64 / 100.0,
            output_tokens_per_sec: 0.0,
            input_tokens_per_sec: 0.0,
            good,
            goodput_per_sec,
            token_goodput_per_sec: goodput_per_sec * 10.0,
            capacity: None,
            trends: Default::default(),
        };
        RunSamples {
            config_hash: "h".into(),
            shortened: false,
            stages: vec![stage.clone()],
            total: stage,
        }
    }

    /// A fall in attainment or in goodput is the bad direction, judged against the noise.
    #[test]
    fn falling_attainment_and_goodput_are_regressions() {
        let regression = Regression {
            metrics: vec![
                (Metric::SloAttainment, Allowance::Absolute(0.01)),
                (Metric::Goodput, Allowance::Relative(0.10)),
            ],
            ..Regression::default()
        };
        let base = Baseline {
            samples: samples(1000, 0, 990, 9.9),
            about: "base".into(),
        };
        let judge = |current: RunSamples| {
            let (rows, problem) = compare(&current, &base, &regression, &[], false);
            assert_eq!(problem, None);
            rows.iter()
                .map(|r| (r.metric, r.judgement.change))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            judge(samples(1000, 0, 800, 8.0)),
            [
                (Metric::SloAttainment, Change::Regressed),
                (Metric::Goodput, Change::Regressed)
            ]
        );
        // The same attainment from fewer requests sent: failures count against it.
        let worse = judge(samples(900, 100, 890, 8.9));
        assert_eq!(worse[0], (Metric::SloAttainment, Change::Regressed));
        let same = judge(samples(1000, 0, 992, 9.92));
        assert!(
            same.iter().all(|(_, c)| *c != Change::Regressed),
            "{same:?}"
        );
        let better = judge(samples(1000, 0, 1000, 14.0));
        assert_eq!(better[1], (Metric::Goodput, Change::Improved));
    }

    /// Capacity is compared whenever the run searched: a fall is a regression only when this run's
    /// bracket lies wholly below the baseline's answer.
    #[test]
    fn a_capacity_fall_beyond_the_brackets_is_a_regression() {
        let with = |value: f64, precision: f64| {
            let mut s = samples(1000, 0, 0, 0.0);
            s.total.capacity = Some((value, precision));
            s
        };
        let regression = Regression {
            metrics: vec![],
            ..Regression::default()
        };
        let base = Baseline {
            samples: with(107.5, 1.25),
            about: "base".into(),
        };
        let change = |current: RunSamples| {
            let (rows, _) = compare(&current, &base, &regression, &[], false);
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!(
                (rows[0].metric, rows[0].scope.as_str()),
                (Metric::Capacity, "whole run")
            );
            rows[0].judgement.change
        };
        assert_eq!(change(with(90.0, 1.25)), Change::Regressed);
        // One bisection step lower: the limits may be the same.
        assert_eq!(change(with(106.25, 1.25)), Change::Inconclusive);
        assert_eq!(change(with(107.5, 1.25)), Change::NoChange);
        assert_eq!(change(with(120.0, 2.5)), Change::Improved);
        // Allowed 20 %, a 16 % fall passes.
        let allowed = Regression {
            metrics: vec![(Metric::Capacity, Allowance::Relative(0.20))],
            ..Regression::default()
        };
        let (rows, _) = compare(&with(90.0, 1.25), &base, &allowed, &[], false);
        assert_ne!(rows[0].judgement.change, Change::Regressed);
    }
}
