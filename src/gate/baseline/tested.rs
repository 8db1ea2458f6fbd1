//! One statistic of a run against the saved runs: what they predicted for it (`spread`), its p-value
//! for the family's budget, and then its row with the verdict (`change`).

use super::Row;
use super::change::{self, Judgement, Test, Worse};
use super::interval::{self, Interval};
use super::samples::RunSamples;
use super::specs::Spec;
use super::spread::{Observed, Prediction, Scale};

/// A statistic with what the history predicted for it, before the family's budget is applied.
pub(super) struct Tested {
    spec: Spec,
    current: Interval,
    current_value: Option<f64>,
    worse: Worse,
    prediction: Result<Prediction, String>,
}

impl Tested {
    pub(super) fn new(
        spec: Spec,
        current: &RunSamples,
        runs: &[&RunSamples],
        run_spread: f64,
    ) -> Tested {
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

    pub(super) fn p_value(&self) -> Option<f64> {
        let (p, value) = (self.prediction.as_ref().ok()?, self.current_value?);
        Some(p.p_value(value, self.worse.sign()))
    }

    pub(super) fn row(self, current: &RunSamples, rejected: bool, first_step: f64) -> Row {
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
