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
pub mod noise;
pub mod samples;
mod specs;
pub mod spread;
mod tested;
pub use crate::measure::interval;
pub use checks::{allowance_text, checks, summary};
pub(crate) use specs::specs_for;
use tested::Tested;

use change::{Allowance, Judgement};
use interval::Interval;
use samples::RunSamples;

use crate::scenario::{Aggregation, Metric, Regression, Threshold};

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
        self.metric.format_value(self.aggregation, value)
    }

    /// Names the row across runs of one scenario: `stage 0 (...) ttft p(99) [regression]`.
    pub fn key(&self) -> String {
        format!("{} {} [{}]", self.scope, self.statistic(), self.source)
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
    let specs = specs::specs(current, &runs, regression, thresholds);
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

#[cfg(test)]
mod tests;
