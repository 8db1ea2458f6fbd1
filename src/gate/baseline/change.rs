//! The verdict on one statistic, given what an unchanged target's run was expected to show
//! (`spread::Prediction`), whether the run's error budget lets this row be called worse
//! (`family::holm`), and the change allowed: *regressed*, *improved*, *no change* or *inconclusive*.
//! Only *regressed* fails a gate.
//!
//! - *regressed*: significantly worse within the run's error budget, and by more than allowed;
//! - *improved*: the mirror image, at the level of the family's first step;
//! - *no change*: neither, and the row could have caught a change of its allowance (its minimum
//!   detectable effect is within the allowance, or the allowance is zero: any change beyond the noise);
//! - *inconclusive*: neither, but the noise hides changes of the allowed size ("could only catch
//!   ≥ 38 % here"), or there was nothing to compare.

use serde::{Deserialize, Serialize};

use super::spread::Prediction;
pub use crate::scenario::regression::Allowance;

/// What a comparison concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Worse than the history by more than allowed, beyond the noise, within the run's budget.
    Regressed,
    /// Better than the history by more than allowed, beyond the noise.
    Improved,
    /// Within the allowance, and the row could have told.
    NoChange,
    /// Too noisy to tell at the allowed size, or nothing to compare.
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
    /// Throughputs, attainment.
    Lower,
}

impl Worse {
    /// +1 or −1: the sign of a change for the worse.
    pub fn sign(self) -> f64 {
        match self {
            Worse::Higher => 1.0,
            Worse::Lower => -1.0,
        }
    }
}

/// The verdict and the reason, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub change: Change,
    /// The relative change from the history's centre, when that is not zero.
    pub delta: Option<f64>,
    /// Why, when inconclusive, or what the comparison assumed.
    pub note: Option<String>,
    /// The smallest change for the worse this row could have caught at this history and run
    /// length: relative (0.38 = 38 %) for relative allowances, in the metric's units for absolute
    /// ones; `None` when nothing was compared.
    pub mde: Option<f64>,
    /// The one-sided p-value of "this run is worse".
    pub p_value: Option<f64>,
}

impl Judgement {
    /// Nothing to compare, and why.
    pub fn nothing(note: String, delta: Option<f64>) -> Judgement {
        Judgement {
            change: Change::Inconclusive,
            delta,
            note: Some(note),
            mde: None,
            p_value: None,
        }
    }
}

/// What `judge` needs to know about one row's test.
pub struct Test<'a> {
    pub prediction: &'a Prediction,
    pub value: f64,
    pub worse: Worse,
    pub allowance: Allowance,
    /// Holm let this row be called worse.
    pub rejected: bool,
    /// The level of the family's first step (the strictest): the MDE and *improved* use it.
    pub first_step: f64,
}

/// The verdict on one row.
pub fn judge(test: &Test<'_>) -> Judgement {
    let Test {
        prediction: p,
        value,
        worse,
        allowance,
        ..
    } = *test;
    let sign = worse.sign();
    let centre = p.centre_value();
    let delta = (centre != 0.0).then(|| (value - centre) / centre.abs());
    // The change for the worse, in the allowance's terms, and the same for the boundary.
    let bad = |v: f64| match allowance {
        Allowance::Relative(_) if centre != 0.0 => sign * (v - centre) / centre.abs(),
        _ => sign * (v - centre),
    };
    let allowed = match allowance {
        Allowance::Relative(f) | Allowance::Absolute(f) => f,
    };
    let mde = bad(p.boundary(test.first_step, sign)).max(0.0);
    let change = bad(value);
    let p_value = p.p_value(value, sign);
    let verdict = if test.rejected && change > allowed {
        Change::Regressed
    } else if p.p_value(value, -sign) <= test.first_step && -change > allowed {
        Change::Improved
    } else if allowed > 0.0 && mde > allowed {
        Change::Inconclusive
    } else {
        Change::NoChange
    };
    let mut notes = Vec::new();
    if verdict == Change::Inconclusive {
        let remedy = if p.paired {
            "run longer, or more pairs of blocks (--pairs)"
        } else {
            "run longer, or add runs to the history"
        };
        notes.push(format!(
            "could only catch {} here: {remedy}",
            catchable(mde, allowance)
        ));
    }
    if test.rejected && verdict != Change::Regressed {
        notes.push(format!(
            "a real change, within the {} allowed",
            amount(allowed, allowance)
        ));
    }
    if let Some(cv) = p.assumed {
        notes.push(format!(
            "{} saved run(s), fewer than {} to measure the spread: assumed a {:.0}% run-to-run spread (regression.run_spread)",
            p.runs,
            super::spread::MIN_RUNS,
            cv * 100.0
        ));
    }
    Judgement {
        change: verdict,
        delta,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        mde: Some(mde),
        p_value: Some(p_value),
    }
}

/// `≥ 38%` or `≥ 1.20 pp` (rates) for an MDE.
pub fn catchable(mde: f64, allowance: Allowance) -> String {
    format!("≥ {}", amount(mde, allowance))
}

fn amount(x: f64, allowance: Allowance) -> String {
    match allowance {
        Allowance::Relative(_) if x.is_finite() => format!("{:.0}%", x * 100.0),
        Allowance::Absolute(_) if x.is_finite() => format!("{:.2} pp", x * 100.0),
        _ => "no change at all".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::spread::{Observed, Scale};
    use super::*;

    fn prediction(history: &[f64]) -> Prediction {
        let saved: Vec<Observed> = history
            .iter()
            .map(|&value| Observed { value, se: None })
            .collect();
        let current = Observed {
            value: 1.0,
            se: None,
        };
        Prediction::new(&saved, &current, Scale::Log, 0.0).unwrap()
    }

    fn verdict(p: &Prediction, value: f64, worse: Worse, rejected: bool) -> Judgement {
        judge(&Test {
            prediction: p,
            value,
            worse,
            allowance: Allowance::Relative(0.10),
            rejected,
            first_step: 0.01,
        })
    }

    const QUIET: [f64; 10] = [
        100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9, 100.0,
    ];

    #[test]
    fn a_clear_slowdown_within_the_budget_regresses_and_a_speedup_improves() {
        let p = prediction(&QUIET);
        let j = verdict(&p, 130.0, Worse::Higher, true);
        assert_eq!(j.change, Change::Regressed);
        assert!((j.delta.unwrap() - 0.3).abs() < 0.01);
        assert!(j.mde.unwrap() < 0.05, "{j:?}");
        // Not rejected by the family (another row used the budget): not called a regression.
        assert_eq!(
            verdict(&p, 130.0, Worse::Higher, false).change,
            Change::NoChange
        );
        assert_eq!(
            verdict(&p, 70.0, Worse::Higher, false).change,
            Change::Improved
        );
        // Throughputs: lower is worse.
        assert_eq!(
            verdict(&p, 70.0, Worse::Lower, true).change,
            Change::Regressed
        );
    }

    #[test]
    fn a_real_change_within_the_allowance_passes_and_says_so() {
        let p = prediction(&QUIET);
        let j = verdict(&p, 105.0, Worse::Higher, true);
        assert_eq!(j.change, Change::NoChange);
        assert!(j.note.unwrap().contains("within the 10% allowed"));
    }

    #[test]
    fn a_noisy_history_says_what_it_cannot_catch() {
        let p = prediction(&[60.0, 150.0, 90.0, 120.0, 75.0]);
        let j = verdict(&p, 112.0, Worse::Higher, false);
        assert_eq!(j.change, Change::Inconclusive);
        let note = j.note.unwrap();
        assert!(note.starts_with("could only catch ≥ "), "{note}");
        assert!(j.mde.unwrap() > 1.0, "{:?}", j.mde);
    }
}
