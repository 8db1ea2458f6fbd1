//! What a history can tell apart: for each statistic a comparison would judge, the saved runs'
//! centre, their run-to-run spread, and the smallest change for the worse the next run could be caught
//! with (the same test and error budget a comparison uses), so a team sees before a pull request
//! whether its gate can catch the changes it cares about (`infergate history`).

use super::specs::specs_for;
use super::spread::{MIN_RUNS, Prediction, Scale};
use super::{History, family};
use crate::scenario::{Aggregation, Metric, Regression};

/// One statistic's noise across the saved runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Noise {
    /// `stage 0 ttft p(99)`.
    pub statistic: String,
    pub metric: Metric,
    pub aggregation: Aggregation,
    /// Saved runs that had it.
    pub runs: usize,
    /// The centre (a geometric mean for latencies and throughputs).
    pub centre: f64,
    /// The run-to-run coefficient of variation (ratios), or standard deviation (rates); NaN with
    /// one run.
    pub spread: f64,
    pub scale: Scale,
    /// The smallest change for the worse the next run could be caught with, when the history has
    /// enough runs to measure its spread.
    pub mde: Option<f64>,
}

/// The noise of every statistic `regression` would compare, over the newest runs of the history that
/// share its newest run's load.
pub fn noise(history: &History, regression: &Regression) -> Vec<Noise> {
    let Some(newest) = history.runs.last() else {
        return Vec::new();
    };
    let runs: Vec<_> = history
        .runs
        .iter()
        .filter(|r| r.samples.config_hash == newest.samples.config_hash)
        .map(|r| &r.samples)
        .collect();
    let specs = specs_for(newest.samples.stages.len(), false, regression, &[]);
    let budget = 1.0 - regression.confidence;
    let first_step = family::first_step_level(budget, specs.len());
    specs
        .iter()
        .filter_map(|spec| {
            let stage = spec.stage?;
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.scope(Some(stage))?.point(spec.metric, spec.aggregation))
                .collect();
            if values.is_empty() {
                return None;
            }
            let positive = values.iter().all(|v| *v > 0.0);
            let scale = if positive {
                spec.scale()
            } else {
                Scale::Linear
            };
            let prediction = Prediction::of_runs(&values, scale);
            // The runs' own sample variance, without the widening for one new run.
            let (_, var) = Prediction::moments(&values, scale);
            let centre = prediction.centre_value();
            let spread = match scale {
                Scale::Log => (var.exp() - 1.0).sqrt(),
                Scale::Linear => var.sqrt(),
            };
            let sign = spec.worse().sign();
            let mde = (values.len() >= MIN_RUNS).then(|| {
                let edge = prediction.boundary(first_step, sign);
                match scale {
                    Scale::Log => sign * (edge - centre) / centre,
                    Scale::Linear => sign * (edge - centre),
                }
            });
            Some(Noise {
                statistic: format!("stage {stage} {} {}", spec.metric.name(), spec.aggregation),
                metric: spec.metric,
                aggregation: spec.aggregation,
                runs: values.len(),
                centre,
                spread,
                scale,
                mde,
            })
        })
        .collect()
}
