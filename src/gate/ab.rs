//! Interleaved A/B: two deployments judged side by side. Each stage runs as short blocks alternating
//! between the baseline target (A) and the target (B) in ABBA order, each pair of blocks sending the
//! same requests, so that whatever drifts (the host, the neighbours, the time of day) hits both
//! alike. Every statistic is taken per block, and the paired differences (log ratios for latencies
//! and throughputs, differences for rates) give the effect of B over A with a Student's t interval
//! over the pairs; the rows share the run's error budget (Holm) and are judged as a baseline
//! comparison is (`baseline::change`), so the verdicts, reports and exit codes are the same.

use super::baseline::change::{self, Judgement, Test};
use super::baseline::spread::Prediction;
use super::baseline::{Comparison, Row, family, specs_for};
use crate::measure::interval::Estimate;
use crate::measure::recorder::Recorder;
use crate::scenario::{Regression, Threshold};

/// One stage's blocks, paired in the order they ran: `(A's block, B's block)`.
pub struct StageBlocks<'a> {
    /// `rate 5/s for 60s`.
    pub describe: String,
    pub pairs: Vec<(&'a Recorder, &'a Recorder)>,
}

/// Compares B with A, stage by stage, for every statistic `regression` and the relative thresholds
/// (`baseline` being A) ask for.
pub fn compare(
    stages: &[StageBlocks<'_>],
    regression: &Regression,
    thresholds: &[Threshold],
    location: String,
) -> Comparison {
    let budget = 1.0 - regression.confidence;
    let specs = specs_for(stages.len(), false, regression, thresholds);
    let tested: Vec<Option<(Prediction, f64)>> = specs
        .iter()
        .map(|spec| {
            let stage = &stages[spec.stage?];
            let pairs: Option<Vec<(f64, f64)>> = stage
                .pairs
                .iter()
                .map(|(a, b)| {
                    let value = |r: &Recorder| r.value(spec.metric, spec.aggregation);
                    Some((value(a)?, value(b)?))
                })
                .collect();
            Prediction::paired(&pairs?, spec.scale())
        })
        .collect();
    let p_values: Vec<Option<f64>> = tested
        .iter()
        .zip(&specs)
        .map(|(t, spec)| t.as_ref().map(|(p, b)| p.p_value(*b, spec.worse().sign())))
        .collect();
    let rejected = family::holm(&p_values, budget);
    let first_step = family::first_step_level(budget, p_values.iter().flatten().count());
    let rows = specs
        .into_iter()
        .zip(tested)
        .zip(rejected)
        .map(|((spec, tested), rejected)| {
            let scope = match spec.stage {
                Some(i) => format!("stage {i} ({})", stages[i].describe),
                None => "whole run".to_string(),
            };
            let (judgement, current, expected, values, pairs) = match &tested {
                Some((p, b)) => {
                    let mut judgement = change::judge(&Test {
                        prediction: p,
                        value: *b,
                        worse: spec.worse(),
                        allowance: spec.allowance,
                        rejected,
                        first_step,
                    });
                    let t = p.critical(0.025);
                    let (low, high) = (shift(p, *b, -t), shift(p, *b, t));
                    let a = p.centre_value();
                    judgement.note = Some(effect_note(a, *b, low, high, p.runs, judgement.note));
                    let (e_low, e_high) = p.interval(first_step);
                    let current = Ok(Estimate {
                        value: *b,
                        low,
                        high,
                    });
                    let expected = Ok(Estimate {
                        value: a,
                        low: e_low,
                        high: e_high,
                    });
                    (judgement, current, expected, (Some(*b), Some(a)), p.runs)
                }
                None => {
                    let note = "fewer than two pairs of blocks measured this".to_string();
                    let judgement = Judgement::nothing(note.clone(), None);
                    (judgement, Err(note.clone()), Err(note), (None, None), 0)
                }
            };
            Row {
                scope,
                metric: spec.metric,
                aggregation: spec.aggregation,
                source: spec.source,
                allowance: spec.allowance,
                current,
                expected,
                current_value: values.0,
                baseline_value: values.1,
                runs: pairs,
                judgement,
            }
        })
        .collect();
    Comparison {
        location,
        about: None,
        problem: None,
        rows,
        notes: Vec::new(),
        budget,
        confirmation: None,
        unit: "pairs of blocks",
    }
}

/// B's value with its mean paired difference moved by `t` standard errors.
fn shift(p: &Prediction, b: f64, t: f64) -> f64 {
    match p.scale {
        super::baseline::spread::Scale::Log => b * (t * p.sd).exp(),
        super::baseline::spread::Scale::Linear => b + t * p.sd,
    }
}

/// `B/A +23.0% (95% CI +12.1% to +35.2%) over 6 ABBA pairs`, before what `judge` said.
fn effect_note(a: f64, b: f64, low: f64, high: f64, pairs: usize, said: Option<String>) -> String {
    let rel = |x: f64| match a != 0.0 {
        true => format!("{:+.1}%", (x - a) / a.abs() * 100.0),
        false => format!("{:+.4}", x - a),
    };
    let effect = format!(
        "B against A {} (95% CI {} to {}) over {pairs} pairs of blocks",
        rel(b),
        rel(low),
        rel(high)
    );
    match said {
        Some(s) => format!("{effect}; {s}"),
        None => effect,
    }
}

#[cfg(test)]
mod tests {
    use super::super::baseline::spread::Scale;
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// Paired blocks under heavy drift shared by both sides: an A/A design stays within its budget
    /// and a 25 % slowdown is caught nearly always, where the drift alone (45 %) would hide it from
    /// any comparison of unpaired runs. Shown by simulation.
    #[test]
    fn pairing_cancels_shared_drift_by_simulation() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let drift = Normal::new(0.0f64, 0.43).unwrap();
        let own = Normal::new(0.0f64, 0.05).unwrap();
        let trial = |rng: &mut rand::rngs::StdRng, effect: f64| {
            let pairs: Vec<(f64, f64)> = (0..6)
                .map(|_| {
                    let d = drift.sample(rng);
                    let a = (6.0 + d + own.sample(rng)).exp();
                    let b = (6.0 + d + own.sample(rng)).exp() * effect;
                    (a, b)
                })
                .collect();
            let (p, b) = Prediction::paired(&pairs, Scale::Log).unwrap();
            p.p_value(b, 1.0) <= 0.05
        };
        let runs = 4_000;
        let false_alarms = (0..runs).filter(|_| trial(&mut rng, 1.0)).count();
        let caught = (0..runs).filter(|_| trial(&mut rng, 1.25)).count();
        let (fa, det) = (
            false_alarms as f64 / runs as f64,
            caught as f64 / runs as f64,
        );
        assert!((0.035..0.065).contains(&fa), "false alarms {fa}");
        assert!(det > 0.95, "detection {det}");
        assert!(Prediction::paired(&[(1.0, 1.0)], Scale::Log).is_none());
    }
}
