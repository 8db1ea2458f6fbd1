//! One error budget per run. A scenario compares many rows (stages × metrics × percentiles, rates);
//! judged one by one at 95 % each, twenty rows would fail an unchanged target's run far more often
//! than one time in twenty. `regression.confidence` is therefore the chance that *the run* passes
//! when nothing changed, over all its rows together: the rows' one-sided p-values go through
//! Holm's step-down procedure (Holm 1979).
//!
//! Why Holm: it holds the family-wise error rate at the budget whatever the rows' dependence, which
//! is strong and unknown here (a slower engine moves TTFT, ITL and latency together, and so does
//! run-to-run drift); it rejects everything Bonferroni does and more; and it needs no model of that
//! dependence, which a history of ten runs could not estimate for twenty rows. Because the rows are
//! positively correlated it is conservative: the realised false-alarm rate is below the budget
//! (`infergate bench --gate` measures it), at the price of power, which each row's minimum detectable
//! effect reports honestly.

/// Which hypotheses Holm's procedure rejects at family-wise level `alpha`. Entries without a p-value
/// (a row that could not be tested) are not in the family and are never rejected.
pub fn holm(p_values: &[Option<f64>], alpha: f64) -> Vec<bool> {
    let mut order: Vec<(usize, f64)> = p_values
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = order.len();
    let mut rejected = vec![false; p_values.len()];
    for (k, &(i, p)) in order.iter().enumerate() {
        if p > alpha / (m - k) as f64 {
            break;
        }
        rejected[i] = true;
    }
    rejected
}

/// The level a row faces at Holm's first step, the strictest: the level at which a change in this
/// row alone would have to be caught, and so the one its minimum detectable effect is quoted at.
pub fn first_step_level(alpha: f64, family: usize) -> f64 {
    alpha / family.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::super::spread::{Observed, Prediction, Scale};
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn holm_steps_down_and_stops_at_the_first_survivor() {
        let p = [Some(0.01), Some(0.04), None, Some(0.03), Some(0.005)];
        // m = 4: 0.005 ≤ .05/4, 0.01 ≤ .05/3, 0.03 > .05/2: stop.
        assert_eq!(holm(&p, 0.05), [true, false, false, false, true]);
        assert_eq!(holm(&[Some(0.04)], 0.05), [true]);
        assert_eq!(holm(&[None, None], 0.05), [false, false]);
        assert_eq!(first_step_level(0.05, 4), 0.0125);
    }

    /// Runs of an unchanged target with `rows` statistics sharing a run-to-run drift (correlation
    /// `shared`), each judged against a history of ten: the share of runs with any row called worse.
    fn false_alarms(rows: usize, shared: f64, trials: usize, per_row: bool) -> f64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(rows as u64 * 7919 + trials as u64);
        let unit = Normal::new(0.0, 1.0).unwrap();
        let run = |rng: &mut rand::rngs::StdRng| {
            let drift: f64 = unit.sample(rng);
            (0..rows)
                .map(|_| {
                    let own: f64 = unit.sample(rng);
                    (0.3 * (shared.sqrt() * drift + (1.0 - shared).sqrt() * own)).exp()
                })
                .collect::<Vec<f64>>()
        };
        let mut alarms = 0;
        for _ in 0..trials {
            let history: Vec<Vec<f64>> = (0..10).map(|_| run(&mut rng)).collect();
            let current = run(&mut rng);
            let p: Vec<Option<f64>> = (0..rows)
                .map(|j| {
                    let saved: Vec<Observed> = history
                        .iter()
                        .map(|r| Observed {
                            value: r[j],
                            se: None,
                        })
                        .collect();
                    let now = Observed {
                        value: current[j],
                        se: None,
                    };
                    let prediction = Prediction::new(&saved, &now, Scale::Log, 0.0).unwrap();
                    Some(prediction.p_value(current[j], 1.0))
                })
                .collect();
            let any = match per_row {
                true => p.iter().any(|p| p.unwrap() <= 0.05),
                false => holm(&p, 0.05).iter().any(|&r| r),
            };
            alarms += usize::from(any);
        }
        alarms as f64 / trials as f64
    }

    /// The family-wise rate, by simulation over many A/A runs: at most the 5 % budget whether the
    /// rows move independently or together, where judging each row at 5 % fails a run with twenty
    /// independent rows about two times in three.
    #[test]
    fn the_family_wise_false_alarm_rate_stays_within_the_budget_by_simulation() {
        for (rows, shared) in [(20, 0.0), (20, 0.8), (6, 0.5)] {
            let rate = false_alarms(rows, shared, 4_000, false);
            assert!(rate <= 0.06, "{rows} rows, shared {shared}: {rate}");
        }
        let naive = false_alarms(20, 0.0, 2_000, true);
        assert!(naive > 0.5, "row by row: {naive}");
    }
}
