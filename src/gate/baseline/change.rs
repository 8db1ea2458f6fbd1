//! The noise-aware verdict on one statistic: given the current run's interval, the baseline's and the
//! change allowed, say *regressed*, *improved*, *no change* or *inconclusive*. Only *regressed* fails
//! a gate.

use serde::{Deserialize, Serialize};

use super::interval::{Estimate, Interval};
pub use crate::scenario::regression::Allowance;

/// What a comparison concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Worse than the baseline by more than allowed, beyond the noise of both runs.
    Regressed,
    /// Better than the baseline by more than allowed, beyond the noise.
    Improved,
    /// Within the allowance, and the intervals say so.
    NoChange,
    /// The intervals are too wide to tell, or a side has too few samples.
    Inconclusive,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::Regressed => "regressed",
            Change::Improved => "improved",
            Change::NoChange => "no change",
            Change::Inconclusive => "inconclusive",
        }
    }
}

/// Which way is worse for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// Latencies, error rates.
    Higher,
    /// Throughputs.
    Lower,
}

/// The verdict and the reason, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub change: Change,
    /// The relative change of the point values, when the baseline's is not zero.
    pub delta: Option<f64>,
    /// Why, when inconclusive for lack of samples.
    pub note: Option<String>,
}

/// Compares `current` with `baseline`: regressed when even the best case of the current run is worse
/// than the worst acceptable value for the baseline's worst case, improved in the mirror case, no
/// change when the current interval lies inside the baseline's widened by the allowance.
pub fn compare_intervals(
    current: &Interval,
    baseline: &Interval,
    worse: Worse,
    allow: Allowance,
) -> Judgement {
    let (c, b) = match (current, baseline) {
        (Ok(c), Ok(b)) => (*c, *b),
        (Err(note), _) => return inconclusive(current, baseline, format!("this run: {note}")),
        (_, Err(note)) => return inconclusive(current, baseline, format!("baseline: {note}")),
    };
    let delta = relative_delta(&c, &b);
    // Work in "higher is worse" space: for throughputs, negate.
    let (c, b) = match worse {
        Worse::Higher => (c, b),
        Worse::Lower => (flip(c), flip(b)),
    };
    let worst_ok = |v: f64| widen(v, allow, 1.0);
    let best_ok = |v: f64| widen(v, allow, -1.0);
    let change = if c.low > worst_ok(b.high) {
        Change::Regressed
    } else if c.high < best_ok(b.low) {
        Change::Improved
    } else if c.high <= worst_ok(b.high) && c.low >= best_ok(b.low) {
        Change::NoChange
    } else {
        Change::Inconclusive
    };
    Judgement {
        change,
        delta,
        note: None,
    }
}

fn inconclusive(current: &Interval, baseline: &Interval, note: String) -> Judgement {
    let delta = match (current, baseline) {
        (Ok(c), Ok(b)) => relative_delta(c, b),
        _ => None,
    };
    Judgement {
        change: Change::Inconclusive,
        delta,
        note: Some(note),
    }
}

fn relative_delta(c: &Estimate, b: &Estimate) -> Option<f64> {
    (b.value != 0.0).then(|| (c.value - b.value) / b.value.abs())
}

fn flip(e: Estimate) -> Estimate {
    Estimate {
        value: -e.value,
        low: -e.high,
        high: -e.low,
    }
}

/// Moves `v` (in "higher is worse" space) by the allowance, up (`sign` 1) or down (`sign` −1).
fn widen(v: f64, allow: Allowance, sign: f64) -> f64 {
    match allow {
        Allowance::Absolute(d) => v + sign * d,
        // For "lower is worse" metrics v is negated; the allowance scales with its magnitude.
        Allowance::Relative(f) => v + sign * f * v.abs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(value: f64, half: f64) -> Interval {
        Ok(Estimate {
            value,
            low: value - half,
            high: value + half,
        })
    }

    const TEN: Allowance = Allowance::Relative(0.10);

    #[test]
    fn clear_slowdown_regresses_and_clear_speedup_improves() {
        let j = compare_intervals(&est(120.0, 2.0), &est(100.0, 2.0), Worse::Higher, TEN);
        assert_eq!(j.change, Change::Regressed);
        assert!((j.delta.unwrap() - 0.2).abs() < 1e-9);
        let j = compare_intervals(&est(80.0, 2.0), &est(100.0, 2.0), Worse::Higher, TEN);
        assert_eq!(j.change, Change::Improved);
    }

    #[test]
    fn noise_within_the_allowance_is_no_change() {
        let j = compare_intervals(&est(103.0, 2.0), &est(100.0, 2.0), Worse::Higher, TEN);
        assert_eq!(j.change, Change::NoChange);
    }

    #[test]
    fn wide_intervals_are_inconclusive_not_regressed() {
        let j = compare_intervals(&est(120.0, 30.0), &est(100.0, 30.0), Worse::Higher, TEN);
        assert_eq!(j.change, Change::Inconclusive);
        let j = compare_intervals(
            &Err("too few samples".into()),
            &est(100.0, 1.0),
            Worse::Higher,
            TEN,
        );
        assert_eq!(j.change, Change::Inconclusive);
        assert!(j.note.unwrap().starts_with("this run: too few"));
    }

    #[test]
    fn throughput_falling_is_the_regression() {
        let j = compare_intervals(&est(80.0, 1.0), &est(100.0, 1.0), Worse::Lower, TEN);
        assert_eq!(j.change, Change::Regressed);
        let j = compare_intervals(&est(120.0, 1.0), &est(100.0, 1.0), Worse::Lower, TEN);
        assert_eq!(j.change, Change::Improved);
        let j = compare_intervals(&est(97.0, 1.0), &est(100.0, 1.0), Worse::Lower, TEN);
        assert_eq!(j.change, Change::NoChange);
    }

    #[test]
    fn absolute_allowance_for_rates() {
        let one_point = Allowance::Absolute(0.01);
        let j = compare_intervals(&est(0.05, 0.005), &est(0.0, 0.0), Worse::Higher, one_point);
        assert_eq!(j.change, Change::Regressed);
        assert_eq!(j.delta, None);
        let j = compare_intervals(&est(0.0, 0.0), &est(0.0, 0.0), Worse::Higher, one_point);
        assert_eq!(j.change, Change::NoChange);
    }
}
