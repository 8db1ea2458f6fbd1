//! The run as the unit: what one more run of an unchanged target is expected to show for a statistic,
//! predicted from the values the saved runs (the history) showed for it.
//!
//! A statistic moves between runs of the same engine far more than within one (a cold engine, a
//! neighbour's load, clocks, batching luck): nine runs of one llama.cpp engine here spread with a CV of
//! 45 % while each run's own interval for its p50 was a few per cent wide. So each statistic is
//! compared with the history's *run-level* values:
//!
//! - Latencies and throughputs are compared on a log scale (their noise is multiplicative); rates
//!   (error rate, SLO attainment) on their own scale, in percentage points.
//! - With `n ≥ MIN_RUNS` saved values `x₁…xₙ` (mean `m`, standard deviation `s`), one new run's value
//!   `y` is predicted by Student's t with `n − 1` degrees of freedom around `m`, with the prediction
//!   interval's variance `s²(1 + 1/n)`. The saved values already carry the within-run noise of runs of
//!   this length, so nothing is added for it, except when this run is noisier within itself than the
//!   saved runs were on average (its own interval wider): then the excess variance is added. A rate
//!   (compared as a difference) is never given less than its own binomial variance, since its saved
//!   values can all be equal (no errors in any run) while its noise is real.
//! - With fewer runs (the old single-run layout, a new history), the spread cannot be measured: the
//!   rule falls back to an *assumed* run-to-run spread `regression.run_spread` (a CV, default 20 %
//!   against a real target, 0 against the embedded simulator, which has no drift) plus both sides'
//!   within-run noise, with normal quantiles; the verdict says so.
//!
//! `Prediction::p_value` is the one-sided p-value of "this run is worse", `Prediction::boundary` the
//! value at which a test at a given level would call it worse; the family of rows shares one error
//! budget (`family`).

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The fewest saved runs whose spread is measured rather than assumed.
pub const MIN_RUNS: usize = 3;

/// How a statistic's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Ratios: latencies and throughputs (all values above zero).
    Log,
    /// Differences: rates, and anything that can be zero.
    Linear,
}

impl Scale {
    fn to(self, v: f64) -> f64 {
        match self {
            Scale::Log => v.ln(),
            Scale::Linear => v,
        }
    }

    fn from(self, v: f64) -> f64 {
        match self {
            Scale::Log => v.exp(),
            Scale::Linear => v,
        }
    }
}

/// A value with its within-run standard error on the comparison's scale, when the run had enough
/// samples to say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    pub value: f64,
    pub se: Option<f64>,
}

impl Observed {
    /// `value` with the standard error taken from an interval at one standard error (`low..high`).
    pub fn from_interval(value: f64, low_high: Option<(f64, f64)>, scale: Scale) -> Observed {
        let se = low_high.and_then(|(low, high)| match scale {
            Scale::Log if low <= 0.0 || high <= 0.0 => None,
            _ => Some((scale.to(high) - scale.to(low)) / 2.0),
        });
        Observed { value, se }
    }
}

/// What one more run is expected to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub scale: Scale,
    /// The history's centre on the comparison's scale (mean of logs, or mean).
    pub centre: f64,
    /// The standard deviation of one new run's value around `centre`, on the scale.
    pub sd: f64,
    /// Student's t degrees of freedom; `None` for normal quantiles (an assumed spread).
    pub df: Option<f64>,
    /// Saved runs behind it.
    pub runs: usize,
    /// Set when the spread was assumed (fewer than `MIN_RUNS` runs): the CV assumed.
    pub assumed: Option<f64>,
    /// Paired blocks of an interleaved A/B run rather than a history of saved runs.
    pub paired: bool,
}

/// Why no prediction could be made.
pub type Unpredictable = String;

impl Prediction {
    /// Predicts one new run from the values of saved runs alone (two or more): their mean on
    /// `scale`, and their sample variance widened by `1 + 1/n` for the mean's own uncertainty, with
    /// `n − 1` degrees of freedom.
    pub fn of_runs(values: &[f64], scale: Scale) -> Prediction {
        let (centre, s2) = Prediction::moments(values, scale);
        let n = values.len() as f64;
        Prediction {
            scale,
            centre,
            sd: (s2 * (1.0 + 1.0 / n)).sqrt(),
            df: Some(n - 1.0),
            runs: values.len(),
            assumed: None,
            paired: false,
        }
    }

    /// The runs' mean and sample variance (n - 1) on `scale`, before any widening for a new run.
    pub fn moments(values: &[f64], scale: Scale) -> (f64, f64) {
        let n = values.len() as f64;
        let centre = values.iter().map(|&v| scale.to(v)).sum::<f64>() / n;
        let s2 = values
            .iter()
            .map(|&v| (scale.to(v) - centre).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        (centre, s2)
    }

    /// Predicts a new run from `history` (each run's value of the statistic), given `current` (this
    /// run's, for its within-run noise) and the spread to assume below `MIN_RUNS` runs (a CV).
    pub fn new(
        history: &[Observed],
        current: &Observed,
        scale: Scale,
        assumed_cv: f64,
    ) -> Result<Prediction, Unpredictable> {
        if history.is_empty() {
            return Err("no saved run has this statistic".to_string());
        }
        if scale == Scale::Log && (current.value <= 0.0 || history.iter().any(|h| h.value <= 0.0)) {
            return Err("a value of zero cannot be compared as a ratio".to_string());
        }
        let n = history.len() as f64;
        let values: Vec<f64> = history.iter().map(|h| h.value).collect();
        let own = current.se.unwrap_or(0.0).powi(2);
        let saved_se: Vec<f64> = history.iter().filter_map(|h| h.se).collect();
        if history.len() >= MIN_RUNS {
            let mut prediction = Prediction::of_runs(&values, scale);
            let within = match saved_se.is_empty() {
                true => 0.0,
                false => saved_se.iter().map(|e| e * e).sum::<f64>() / saved_se.len() as f64,
            };
            let mut variance = prediction.sd.powi(2) + (own - within).max(0.0);
            if scale == Scale::Linear {
                // A rate's saved values can all be the same (no errors in any run) while a run's
                // own binomial noise is real: never below it.
                variance = variance.max(own);
            }
            prediction.sd = variance.sqrt();
            return Ok(prediction);
        }
        // (Fewer than MIN_RUNS runs: their own variance is not used.)
        let (centre, _) = Prediction::moments(&values, scale);
        // Too few runs to measure their spread: assume one, and add both sides' own noise, which
        // must then be known.
        if current.se.is_none() {
            return Err("this run has too few samples for an interval, and the history too few runs to measure its spread".to_string());
        }
        if saved_se.len() < history.len() {
            return Err("the saved run has too few samples for an interval, and the history too few runs to measure its spread".to_string());
        }
        let between = match scale {
            Scale::Log => (1.0 + assumed_cv * assumed_cv).ln(),
            Scale::Linear => 0.0,
        };
        let within = saved_se.iter().map(|e| e * e).sum::<f64>() / n;
        let variance = between * (1.0 + 1.0 / n) + own + within / n;
        Ok(Prediction {
            scale,
            centre,
            sd: variance.sqrt(),
            df: None,
            runs: history.len(),
            assumed: Some(assumed_cv),
            paired: false,
        })
    }

    /// Interleaved A/B: blocks of the same requests paired as `(a, b)`, drift hitting both alike.
    /// The prediction is A's centre with the spread of the mean paired difference (Student's t with
    /// `pairs − 1` degrees of freedom); the value to judge is B's, A's centre moved by the mean
    /// difference. `None` with fewer than two pairs, or a zero in a ratio.
    pub fn paired(pairs: &[(f64, f64)], scale: Scale) -> Option<(Prediction, f64)> {
        if pairs.len() < 2
            || (scale == Scale::Log && pairs.iter().any(|&(a, b)| a <= 0.0 || b <= 0.0))
        {
            return None;
        }
        let n = pairs.len() as f64;
        let d: Vec<f64> = pairs
            .iter()
            .map(|&(a, b)| scale.to(b) - scale.to(a))
            .collect();
        let mean = d.iter().sum::<f64>() / n;
        let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let centre = pairs.iter().map(|&(a, _)| scale.to(a)).sum::<f64>() / n;
        let prediction = Prediction {
            scale,
            centre,
            sd: sd / n.sqrt(),
            df: Some(n - 1.0),
            runs: pairs.len(),
            assumed: None,
            paired: true,
        };
        Some((prediction, scale.from(centre + mean)))
    }

    /// The history's centre as a value of the statistic (a geometric mean for ratios).
    pub fn centre_value(&self) -> f64 {
        self.scale.from(self.centre)
    }

    /// The upper quantile `1 − alpha` of the statistic's standardised distribution.
    pub fn critical(&self, alpha: f64) -> f64 {
        let p = (1.0 - alpha).clamp(1e-12, 1.0 - 1e-12);
        match self.df {
            Some(df) => StudentsT::new(0.0, 1.0, df).map_or(f64::INFINITY, |t| t.inverse_cdf(p)),
            None => Normal::standard().inverse_cdf(p),
        }
    }

    /// How many standard deviations `value` lies beyond the centre, `worse` being +1 (higher is
    /// worse) or −1 (lower is worse). An exact prediction (no spread at all) makes any difference
    /// infinitely many.
    pub fn statistic(&self, value: f64, worse: f64) -> f64 {
        let d = worse * (self.scale.to(value) - self.centre);
        match self.sd > 0.0 {
            true => d / self.sd,
            false if d.abs() < 1e-12 => 0.0,
            false => d.signum() * f64::INFINITY,
        }
    }

    /// The one-sided p-value of "`value` is worse than an unchanged target would show".
    pub fn p_value(&self, value: f64, worse: f64) -> f64 {
        let t = self.statistic(value, worse);
        if t.is_infinite() {
            return if t > 0.0 { 0.0 } else { 1.0 };
        }
        let cdf = match self.df {
            Some(df) => StudentsT::new(0.0, 1.0, df).map_or(0.5, |d| d.cdf(t)),
            None => Normal::standard().cdf(t),
        };
        (1.0 - cdf).clamp(0.0, 1.0)
    }

    /// The value beyond which a one-sided test at `alpha` calls a run worse.
    pub fn boundary(&self, alpha: f64, worse: f64) -> f64 {
        self.scale
            .from(self.centre + worse * self.critical(alpha) * self.sd)
    }

    /// The two-sided prediction interval at `1 − 2·alpha`, as values of the statistic.
    pub fn interval(&self, alpha: f64) -> (f64, f64) {
        let half = self.critical(alpha) * self.sd;
        (
            self.scale.from(self.centre - half),
            self.scale.from(self.centre + half),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, LogNormal, Normal as Gauss};

    fn plain(values: &[f64]) -> Vec<Observed> {
        values
            .iter()
            .map(|&value| Observed { value, se: None })
            .collect()
    }

    /// The defining property, shown by simulation: for runs drawn from one lognormal distribution, a
    /// new run falls outside the 90 % prediction interval of a history of `n` about 10 % of the time,
    /// for small and large histories alike (a normal interval from 3 runs would miss far more often).
    #[test]
    fn prediction_intervals_cover_new_runs_at_their_level_by_simulation() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let spread = LogNormal::new(6.0, 0.4).unwrap();
        for n in [3usize, 5, 10, 30] {
            let trials = 20_000;
            let mut missed = 0;
            for _ in 0..trials {
                let history: Vec<f64> = (0..n).map(|_| spread.sample(&mut rng)).collect();
                let new = Observed {
                    value: spread.sample(&mut rng),
                    se: None,
                };
                let p = Prediction::new(&plain(&history), &new, Scale::Log, 0.0).unwrap();
                let (low, high) = p.interval(0.05);
                missed += usize::from(new.value < low || new.value > high);
            }
            let rate = missed as f64 / trials as f64;
            assert!((0.085..0.115).contains(&rate), "n={n}: missed {rate}");
        }
    }

    /// The one-sided p-value of an unchanged run is uniform: P(p ≤ α) ≈ α.
    #[test]
    fn p_values_of_unchanged_runs_are_uniform() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let noise = Gauss::new(0.0f64, 0.2).unwrap();
        let trials = 20_000;
        let mut below = [0usize; 3];
        for _ in 0..trials {
            let history: Vec<f64> = (0..10).map(|_| noise.sample(&mut rng).exp()).collect();
            let y = noise.sample(&mut rng).exp();
            let current = Observed { value: y, se: None };
            let p = Prediction::new(&plain(&history), &current, Scale::Log, 0.0)
                .unwrap()
                .p_value(y, 1.0);
            for (i, alpha) in [0.01, 0.05, 0.2].into_iter().enumerate() {
                below[i] += usize::from(p <= alpha);
            }
        }
        for (i, alpha) in [0.01, 0.05, 0.2].into_iter().enumerate() {
            let rate = below[i] as f64 / trials as f64;
            assert!(
                (rate - alpha).abs() < alpha * 0.15 + 0.002,
                "α={alpha}: {rate}"
            );
        }
    }

    /// A run noisier within itself than the saved ones widens the prediction by the excess only.
    #[test]
    fn a_noisier_run_widens_the_prediction_by_its_excess_noise() {
        let history: Vec<Observed> = [100.0, 110.0, 90.0, 105.0, 95.0]
            .iter()
            .map(|&value| Observed {
                value,
                se: Some(0.01),
            })
            .collect();
        let quiet = Observed {
            value: 100.0,
            se: Some(0.01),
        };
        let noisy = Observed {
            value: 100.0,
            se: Some(0.5),
        };
        let a = Prediction::new(&history, &quiet, Scale::Log, 0.0).unwrap();
        let b = Prediction::new(&history, &noisy, Scale::Log, 0.0).unwrap();
        assert!(b.sd >= 0.5 && b.sd < 0.52, "{b:?}");
        assert!(a.sd < 0.1 && a.sd > 0.05, "{a:?}");
        assert_eq!(a.df, Some(4.0));
    }

    /// Below `MIN_RUNS`, the assumed spread rules, and both sides' own noise must be known.
    #[test]
    fn too_short_a_history_assumes_a_spread_and_needs_both_intervals() {
        let one = [Observed {
            value: 100.0,
            se: Some(0.02),
        }];
        let current = Observed {
            value: 120.0,
            se: Some(0.02),
        };
        let p = Prediction::new(&one, &current, Scale::Log, 0.20).unwrap();
        assert_eq!((p.runs, p.df, p.assumed), (1, None, Some(0.20)));
        // Twice the assumed between-run variance (one new run, one saved), plus each side's own.
        let expected = (2.0 * 1.04f64.ln() + 0.0004 + 0.0004).sqrt();
        assert!((p.sd - expected).abs() < 1e-12, "{p:?}");
        // No assumed spread: the two runs' own noise alone; 20 % is then far beyond it.
        let q = Prediction::new(&one, &current, Scale::Log, 0.0).unwrap();
        assert!(q.p_value(120.0, 1.0) < 1e-6);
        let blind = Observed {
            value: 120.0,
            se: None,
        };
        assert!(Prediction::new(&one, &blind, Scale::Log, 0.2).is_err());
    }

    /// The boundary is where the p-value crosses the level, both ways round.
    #[test]
    fn the_boundary_is_where_the_p_value_crosses_the_level() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let history: Vec<f64> = (0..8).map(|_| rng.random_range(80.0..120.0)).collect();
        let current = Observed {
            value: 100.0,
            se: None,
        };
        let p = Prediction::new(&plain(&history), &current, Scale::Log, 0.0).unwrap();
        for worse in [1.0, -1.0] {
            let b = p.boundary(0.01, worse);
            assert!((p.p_value(b, worse) - 0.01).abs() < 1e-6);
            assert!(p.p_value(b * (1.0 + worse * 0.01), worse) < 0.01);
        }
    }
}
