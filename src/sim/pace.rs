//! How much slower than its configured timing the simulator runs, so that it can stand in for a real
//! engine's run-to-run noise: `--drift CV` draws, once per start, a factor from a lognormal
//! distribution with that coefficient of variation (median 1), as a real engine's runs differ with
//! its host, its neighbours and its warm-up; `--slowdown PCT` makes it that much slower on purpose
//! (the "B" side of a test of the gate); `--cold-start SECONDS` makes it twice as slow when it
//! starts, easing linearly to its drawn pace over that time, as a cold engine is.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};

/// The simulator's pace: every engine step and fixed timing is multiplied by `factor_at`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Drift × slowdown: the factor once warm.
    pub factor: f64,
    /// How long a cold start lasts (zero: none).
    pub cold: Duration,
    started: Instant,
}

impl Default for Pace {
    fn default() -> Self {
        Pace::steady(1.0)
    }
}

impl Pace {
    /// Always `factor` times the configured timing.
    pub fn steady(factor: f64) -> Pace {
        Pace {
            factor,
            cold: Duration::ZERO,
            started: Instant::now(),
        }
    }

    /// A start's pace: a drift factor drawn with coefficient of variation `drift` (from `seed`, or
    /// at random), times `1 + slowdown`, with a cold start of `cold`.
    pub fn draw(drift: f64, slowdown: f64, cold: Duration, seed: Option<u64>) -> Pace {
        let mut rng = match seed {
            Some(seed) => rand::rngs::StdRng::seed_from_u64(seed),
            None => rand::rngs::StdRng::from_os_rng(),
        };
        let sigma = (1.0 + drift * drift).ln().sqrt();
        let drawn = match LogNormal::new(0.0, sigma) {
            Ok(d) if sigma > 0.0 => d.sample(&mut rng),
            _ => 1.0,
        };
        Pace {
            factor: drawn * (1.0 + slowdown).max(0.01),
            cold,
            started: Instant::now(),
        }
    }

    /// The factor now: `factor`, doubled at the start of a cold start and easing to it.
    pub fn factor_now(&self) -> f64 {
        let since = self.started.elapsed();
        if since >= self.cold {
            return self.factor;
        }
        let left = 1.0 - since.as_secs_f64() / self.cold.as_secs_f64();
        self.factor * (1.0 + left)
    }

    /// `d` at the pace of now.
    pub fn scale(&self, d: Duration) -> Duration {
        d.mul_f64(self.factor_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over many starts the drawn factors have the asked-for spread and a median of 1.
    #[test]
    fn drift_draws_factors_with_the_asked_for_spread() {
        let factors: Vec<f64> = (0..20_000)
            .map(|seed| Pace::draw(0.45, 0.0, Duration::ZERO, Some(seed)).factor)
            .collect();
        let n = factors.len() as f64;
        let mean = factors.iter().sum::<f64>() / n;
        let sd = (factors.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!((sd / mean - 0.45).abs() < 0.02, "cv {}", sd / mean);
        let mut sorted = factors.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(
            (sorted[10_000] - 1.0).abs() < 0.02,
            "median {}",
            sorted[10_000]
        );
        assert_eq!(Pace::draw(0.0, 0.25, Duration::ZERO, Some(1)).factor, 1.25);
        let same = Pace::draw(0.1, 0.0, Duration::ZERO, Some(9)).factor;
        assert_eq!(same, Pace::draw(0.1, 0.0, Duration::ZERO, Some(9)).factor);
    }

    #[test]
    fn a_cold_start_is_twice_as_slow_at_first_and_eases_to_the_pace() {
        let cold = Pace::draw(0.0, 0.0, Duration::from_secs(3600), Some(1));
        let now = cold.factor_now();
        assert!(now > 1.99 && now <= 2.0, "{now}");
        assert_eq!(
            Pace::steady(1.5).scale(Duration::from_millis(10)),
            Duration::from_millis(15)
        );
    }
}
