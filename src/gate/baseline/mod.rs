//! Baselines: the runs saved for a scenario (on pushes to main, say), kept as a history, and the
//! noise-aware comparison of a later run with them.
//!
//! Saved runs live under `LOCATION/<scenario>/` (a directory or `s3://bucket/prefix`; see
//! `store::baseline`). Comparing takes the runs whose load-relevant config hash matches (refusing when
//! none does, unless forced) and judges every statistic the `regression` block and the relative
//! thresholds (`p(99) < baseline * 1.10`) name, *with the run as the unit*: each statistic of this run
//! against the spread of the same statistic over the saved runs (`spread`), all rows sharing the
//! run's one error budget (`family`), each verdict *regressed*, *improved*, *no change* or
//! *inconclusive* with the smallest change it could have caught (`change`). Only *regressed* fails.

pub mod change;
pub mod checks;
pub mod family;
pub mod samples;
pub mod spread;
pub use crate::measure::interval;
pub use checks::{allowance_text, checks, summary};

use change::{Allowance, Judgement, Test, Worse};
use interval::Interval;
use samples::RunSamples;
use spread::{Observed, Prediction, Scale};

use crate::scenario::threshold::format_metric_value;
use crate::scenario::{Aggregation, Metric, MetricKind, Op, Regression, Threshold};

/// One saved run as read back.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub samples: RunSamples,
    /// e.g. `commit 1a2b3c4 (main), 2026-11-22 10:04 UTC`.
    pub about: String,
}

/// The saved runs of a scenario, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub runs: Vec<Baseline>,
    /// Saved runs that could not be read, and why.
    pub skipped: Vec<String>,
}

impl History {
    /// One saved run (the old single-run layout, or `infergate compare A B`).
    pub fn single(run: Baseline) -> History {
        History {
            runs: vec![run],
            skipped: Vec::new(),
        }
    }

    /// `10 saved runs, newest commit 1a2b3c4 (main), run 2026-12-06 10:04:05 UTC`.
    pub fn about(&self) -> String {
        match self.runs.as_slice() {
            [] => "no saved runs".to_string(),
            [one] => format!("1 saved run, {}", one.about),
            [.., newest] => format!("{} saved runs, newest {}", self.runs.len(), newest.about),
        }
    }
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
    /// What the comparison left out or assumed, for people (saved runs of another config, ...).
    pub notes: Vec<String>,
    /// The run's error budget (`1 − regression.confidence`), shared by all rows.
    pub budget: f64,
    /// Set when a rerun confirmed (or did not confirm) a regression: the runs judged, this one
    /// last, and how many of them regressed.
    pub confirmation: Option<Confirmation>,
    /// What `Row::runs` counts: `saved run(s)`, or `pairs of blocks` in an A/B run.
    pub unit: &'static str,
}

impl Comparison {
    /// The rows called regressed, by `Row::key`.
    pub fn regressed_keys(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| r.judgement.change == change::Change::Regressed)
            .map(Row::key)
            .collect()
    }

    /// After a confirming rerun: keeps *regressed* only on the rows that regressed in every
    /// earlier run too (`earlier`: each earlier run's `regressed_keys`); the others become
    /// inconclusive, with a note that the rerun did not confirm them.
    pub fn confirm(&mut self, earlier: &[Vec<String>]) {
        for row in &mut self.rows {
            if row.judgement.change != change::Change::Regressed {
                continue;
            }
            let key = row.key();
            let missed: Vec<String> = earlier
                .iter()
                .enumerate()
                .filter(|(_, keys)| !keys.contains(&key))
                .map(|(i, _)| (i + 1).to_string())
                .collect();
            if !missed.is_empty() {
                row.judgement.change = change::Change::Inconclusive;
                let note = format!(
                    "regressed in this run but not in run {}: not confirmed",
                    missed.join(", ")
                );
                row.judgement.note = Some(match row.judgement.note.take() {
                    Some(old) => format!("{note}; {old}"),
                    None => note,
                });
            }
        }
        self.confirmation = Some(Confirmation {
            runs: earlier.len() + 1,
            earlier: earlier.to_vec(),
        });
    }
}

/// What a confirming rerun found (`regression.confirm`).
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// Runs judged, this one included.
    pub runs: usize,
    /// For each earlier run, the rows that regressed in it (`Row::key`).
    pub earlier: Vec<Vec<String>>,
}

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

/// One statistic compared.
#[derive(Debug, Clone)]
pub struct Row {
    /// `stage 0 (rate 5/s for 60s)` or `whole run`.
    pub scope: String,
    pub metric: Metric,
    pub aggregation: Aggregation,
    /// What asked for it.
    pub source: RowSource,
    pub allowance: Allowance,
    /// This run's value with its own (within-run) 95 % interval.
    pub current: Interval,
    /// What a run of the unchanged target was expected to show: the history's centre, and the
    /// prediction interval at the level of the family's first step.
    pub expected: Interval,
    /// The values themselves, shown even when an interval is unavailable.
    pub current_value: Option<f64>,
    /// The history's centre (a geometric mean for latencies and throughputs).
    pub baseline_value: Option<f64>,
    /// Saved runs behind the comparison.
    pub runs: usize,
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

    /// Names the row across runs of one scenario: `stage 0 (...) ttft p(99) [regression]`.
    pub fn key(&self) -> String {
        format!("{} {} [{}]", self.scope, self.statistic(), self.source)
    }
}

/// One statistic to compare, before it is judged.
pub(crate) struct Spec {
    pub stage: Option<usize>,
    pub metric: Metric,
    pub aggregation: Aggregation,
    pub allowance: Allowance,
    pub source: RowSource,
}

impl Spec {
    /// Which way is worse for this statistic.
    pub fn worse(&self) -> Worse {
        match self.metric.higher_is_better() {
            true => Worse::Lower,
            false => Worse::Higher,
        }
    }

    /// Ratios for relative allowances, differences for absolute ones.
    pub fn scale(&self) -> Scale {
        match self.allowance {
            Allowance::Relative(_) => Scale::Log,
            Allowance::Absolute(_) => Scale::Linear,
        }
    }
}

/// Compares `current` with the saved runs for every statistic that `regression` and the relative
/// thresholds ask for. Only runs of the same load-relevant config count; when none is, the
/// comparison is refused (one `Problem::Refused`, no rows) unless `force`. `run_spread` is the
/// run-to-run spread (a CV) assumed while the history is too short to measure it.
pub fn compare(
    current: &RunSamples,
    history: &History,
    regression: &Regression,
    thresholds: &[Threshold],
    force: bool,
    run_spread: f64,
) -> Comparison {
    let budget = 1.0 - regression.confidence;
    let mut comparison = Comparison {
        location: String::new(),
        about: Some(history.about()),
        problem: None,
        rows: Vec::new(),
        notes: Vec::new(),
        budget,
        confirmation: None,
        unit: "saved run(s)",
    };
    if history.runs.is_empty() {
        comparison.problem = Some(Problem::Unreadable(history.skipped.join("; ")));
        return comparison;
    }
    let (same, other): (Vec<&Baseline>, Vec<&Baseline>) = history
        .runs
        .iter()
        .partition(|b| mismatch(&b.samples, current).is_empty());
    let runs: Vec<&RunSamples> = match (same.is_empty(), force) {
        (false, _) => same.iter().map(|b| &b.samples).collect(),
        (true, true) => other.iter().map(|b| &b.samples).collect(),
        (true, false) => {
            let newest = other
                .last()
                .map_or_else(Vec::new, |b| mismatch(&b.samples, current));
            comparison.problem = Some(Problem::Refused(format!(
                "the baseline is not comparable: {}; record a new baseline, or pass --force-baseline (INFERGATE_FORCE_BASELINE=1) to compare anyway",
                newest.join("; ")
            )));
            return comparison;
        }
    };
    comparison.notes.extend(history.skipped.iter().cloned());
    if !same.is_empty() && !other.is_empty() {
        comparison.notes.push(format!(
            "{} of {} saved runs offered other load (config hash or quick mode) and were left out",
            other.len(),
            history.runs.len()
        ));
    }
    let specs = specs(current, &runs, regression, thresholds);
    let tested: Vec<Tested> = specs
        .into_iter()
        .map(|spec| Tested::new(spec, current, &runs, run_spread))
        .collect();
    let p_values: Vec<Option<f64>> = tested.iter().map(Tested::p_value).collect();
    let rejected = family::holm(&p_values, budget);
    let first_step = family::first_step_level(budget, p_values.iter().flatten().count());
    comparison.rows = tested
        .into_iter()
        .zip(rejected)
        .map(|(t, rejected)| t.row(current, rejected, first_step))
        .collect();
    comparison
}

/// Why `saved` offered other load than `current` (empty when it did not).
fn mismatch(saved: &RunSamples, current: &RunSamples) -> Vec<String> {
    let mut out = Vec::new();
    if saved.config_hash != current.config_hash {
        out.push(format!(
            "its load-relevant config hash is {}, this run's is {} (api, data, load, tokenizer or model changed)",
            saved.config_hash, current.config_hash
        ));
    }
    if saved.shortened != current.shortened {
        out.push(
            "one run was shortened by quick mode and the other was not (INFERGATE_FULL)"
                .to_string(),
        );
    }
    out
}

/// Every statistic to compare: the `regression` block's per stage, capacity when the run searched,
/// then the relative thresholds.
fn specs(
    current: &RunSamples,
    runs: &[&RunSamples],
    regression: &Regression,
    thresholds: &[Threshold],
) -> Vec<Spec> {
    let stages = runs
        .iter()
        .map(|r| r.stages.len())
        .max()
        .unwrap_or(0)
        .min(current.stages.len());
    specs_for(
        stages,
        current.total.capacity.is_some(),
        regression,
        thresholds,
    )
}

/// The statistics to compare for `stages` stages (and capacity, when searched).
pub(crate) fn specs_for(
    stages: usize,
    capacity: bool,
    regression: &Regression,
    thresholds: &[Threshold],
) -> Vec<Spec> {
    let mut specs = Vec::new();
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
                specs.push(Spec {
                    stage: Some(i),
                    metric,
                    aggregation,
                    allowance,
                    source: RowSource::Regression,
                });
            }
        }
    }
    if capacity {
        // A fall beyond the searches' precision and the runs' spread is a regression (or beyond the
        // allowance, when `regression.metrics.capacity` gives one).
        let allowance = regression
            .metrics
            .iter()
            .find(|m| m.0 == Metric::Capacity)
            .map_or(Allowance::Relative(0.0), |m| m.1);
        specs.push(Spec {
            stage: None,
            metric: Metric::Capacity,
            aggregation: Aggregation::Value,
            allowance,
            source: RowSource::Regression,
        });
    }
    for t in thresholds {
        let Some(factor) = t.baseline_factor else {
            continue;
        };
        let allowance = match t.op {
            Op::Gt | Op::Ge => Allowance::Relative(1.0 - factor),
            _ => Allowance::Relative(factor - 1.0),
        };
        specs.push(Spec {
            stage: t.stage,
            metric: t.metric,
            aggregation: t.aggregation,
            allowance,
            source: RowSource::Threshold(t.label()),
        });
    }
    specs
}

/// A statistic with what the history predicted for it, before the family's budget is applied.
struct Tested {
    spec: Spec,
    current: Interval,
    current_value: Option<f64>,
    worse: Worse,
    prediction: Result<Prediction, String>,
}

impl Tested {
    fn new(spec: Spec, current: &RunSamples, runs: &[&RunSamples], run_spread: f64) -> Tested {
        let (worse, scale) = (spec.worse(), spec.scale());
        let (stage, metric, aggregation) = (spec.stage, spec.metric, spec.aggregation);
        let within = |s: &RunSamples, z: f64| match s.scope(stage) {
            Some(samples) => samples.estimate(metric, aggregation, z),
            None => Err(format!("has no stage {}", stage.unwrap_or_default())),
        };
        let raw = |s: &RunSamples| -> Option<(f64, Option<(f64, f64)>)> {
            let value = s.scope(stage)?.point(metric, aggregation)?;
            Some((value, within(s, 1.0).ok().map(|e| (e.low, e.high))))
        };
        let current_value = current
            .scope(stage)
            .and_then(|s| s.point(metric, aggregation));
        let saved: Vec<(f64, Option<(f64, f64)>)> = runs.iter().filter_map(|r| raw(r)).collect();
        let prediction = match raw(current) {
            None => Err(match within(current, 1.0) {
                Err(note) => format!("this run: {note}"),
                Ok(_) => "this run has no value".to_string(),
            }),
            Some(now) => {
                // A zero cannot be compared as a ratio: such a statistic is compared as a difference.
                let positive = now.0 > 0.0 && saved.iter().all(|h| h.0 > 0.0);
                let scale = if positive { scale } else { Scale::Linear };
                let observed =
                    |&(v, b): &(f64, Option<(f64, f64)>)| Observed::from_interval(v, b, scale);
                let history: Vec<Observed> = saved.iter().map(observed).collect();
                Prediction::new(&history, &observed(&now), scale, run_spread)
            }
        };
        Tested {
            current: within(current, crate::measure::interval::Z95),
            current_value,
            worse,
            prediction,
            spec,
        }
    }

    fn p_value(&self) -> Option<f64> {
        let (p, value) = (self.prediction.as_ref().ok()?, self.current_value?);
        Some(p.p_value(value, self.worse.sign()))
    }

    fn row(self, current: &RunSamples, rejected: bool, first_step: f64) -> Row {
        let Spec {
            stage,
            metric,
            aggregation,
            allowance,
            source,
        } = self.spec;
        let (judgement, expected, baseline_value, runs) =
            match (&self.prediction, self.current_value) {
                (Ok(p), Some(value)) => {
                    let judgement = change::judge(&Test {
                        prediction: p,
                        value,
                        worse: self.worse,
                        allowance,
                        rejected,
                        first_step,
                    });
                    let (low, high) = p.interval(first_step);
                    let centre = p.centre_value();
                    let expected = Ok(interval::Estimate {
                        value: centre,
                        low,
                        high,
                    });
                    (judgement, expected, Some(centre), p.runs)
                }
                (Err(note), _) => (
                    Judgement::nothing(note.clone(), None),
                    Err(note.clone()),
                    None,
                    0,
                ),
                (Ok(_), None) => {
                    let note = "this run has no value".to_string();
                    (Judgement::nothing(note.clone(), None), Err(note), None, 0)
                }
            };
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
            current: self.current,
            expected,
            current_value: self.current_value,
            baseline_value,
            runs,
            judgement,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::change::Change;
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
            simulated: true,
            stages: vec![stage.clone()],
            total: stage,
        }
    }

    fn one(samples: RunSamples) -> History {
        History::single(Baseline {
            samples,
            about: "base".into(),
        })
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
        let base = one(samples(1000, 0, 990, 9.9));
        let judge = |current: RunSamples| {
            let c = compare(&current, &base, &regression, &[], false, 0.0);
            assert_eq!(c.problem, None);
            c.rows
                .iter()
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

    /// Capacity is compared whenever the run searched: a fall well beyond the searches' brackets is
    /// a regression, one bisection step is not.
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
        let base = one(with(107.5, 1.25));
        let change = |current: RunSamples| {
            let c = compare(&current, &base, &regression, &[], false, 0.0);
            assert_eq!(c.rows.len(), 1, "{:?}", c.rows);
            assert_eq!(
                (c.rows[0].metric, c.rows[0].scope.as_str()),
                (Metric::Capacity, "whole run")
            );
            c.rows[0].judgement.change
        };
        assert_eq!(change(with(90.0, 1.25)), Change::Regressed);
        // One bisection step lower: the limits may be the same.
        assert_ne!(change(with(106.25, 1.25)), Change::Regressed);
        assert_eq!(change(with(107.5, 1.25)), Change::NoChange);
        assert_eq!(change(with(120.0, 2.5)), Change::Improved);
        // Allowed 20 %, a 16 % fall passes.
        let allowed = Regression {
            metrics: vec![(Metric::Capacity, Allowance::Relative(0.20))],
            ..Regression::default()
        };
        let c = compare(&with(90.0, 1.25), &base, &allowed, &[], false, 0.0);
        assert_ne!(c.rows[0].judgement.change, Change::Regressed);
    }

    /// Saved runs of another config are left out, and said to be; none comparable is a refusal.
    #[test]
    fn runs_of_other_load_are_left_out_or_refused() {
        let mut other = samples(1000, 0, 990, 9.9);
        other.config_hash = "other".into();
        let history = History {
            runs: vec![
                Baseline {
                    samples: other.clone(),
                    about: "old".into(),
                },
                Baseline {
                    samples: samples(1000, 0, 990, 9.9),
                    about: "new".into(),
                },
            ],
            skipped: Vec::new(),
        };
        let c = compare(
            &samples(1000, 0, 990, 9.9),
            &history,
            &Regression::default(),
            &[],
            false,
            0.0,
        );
        assert_eq!(c.problem, None);
        assert!(
            c.notes[0].starts_with("1 of 2 saved runs offered other load"),
            "{:?}",
            c.notes
        );
        let refused = compare(
            &samples(1000, 0, 990, 9.9),
            &one(other),
            &Regression::default(),
            &[],
            false,
            0.0,
        );
        assert!(matches!(refused.problem, Some(Problem::Refused(_))));
        assert!(refused.rows.is_empty());
    }
}
