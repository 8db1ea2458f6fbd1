//! Arrival processes as iterators of offsets from a stage's start.
//!
//! Offsets are absolute (the i-th request is due at `start + offset_i`), so a late send never pushes the
//! rest of the schedule back: the load generator sleeps until each deadline and records how late it was.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp};

/// The open-loop arrival processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// Evenly spaced: offsets 0, 1/rate, 2/rate, ...
    Constant,
    /// Exponential gaps with mean 1/rate (a Poisson process), the first request at 0.
    Poisson,
}

/// The offsets of one stage: every arrival strictly before `duration`.
pub struct Arrivals {
    process: Process,
    rate: f64,
    duration: f64,
    next_offset: f64,
    index: u64,
    rng: StdRng,
    gaps: Exp<f64>,
}

impl Arrivals {
    /// `rate` must be positive and finite (checked when the scenario loads).
    pub fn new(process: Process, rate: f64, duration: Duration, seed: u64) -> Arrivals {
        Arrivals {
            process,
            rate,
            duration: duration.as_secs_f64(),
            next_offset: 0.0,
            index: 0,
            rng: StdRng::seed_from_u64(seed),
            gaps: Exp::new(rate).expect("rate is positive"),
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let offset = match self.process {
            // Multiplying (rather than adding gaps) keeps float error from accumulating.
            Process::Constant => self.index as f64 / self.rate,
            Process::Poisson => self.next_offset,
        };
        if offset >= self.duration {
            return None;
        }
        self.index += 1;
        if self.process == Process::Poisson {
            self.next_offset += self.gaps.sample(&mut self.rng);
        }
        Some(Duration::from_secs_f64(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_evenly_spaced_and_ends_before_the_duration() {
        let offsets: Vec<_> =
            Arrivals::new(Process::Constant, 4.0, Duration::from_secs(2), 1).collect();
        assert_eq!(offsets.len(), 8);
        assert_eq!(offsets[0], Duration::ZERO);
        assert_eq!(offsets[1], Duration::from_millis(250));
        assert_eq!(offsets[7], Duration::from_millis(1750));
    }

    #[test]
    fn poisson_is_seeded_and_has_the_requested_mean_rate() {
        let a: Vec<_> =
            Arrivals::new(Process::Poisson, 50.0, Duration::from_secs(200), 7).collect();
        let b: Vec<_> =
            Arrivals::new(Process::Poisson, 50.0, Duration::from_secs(200), 7).collect();
        assert_eq!(a, b, "same seed, same schedule");
        let rate = a.len() as f64 / 200.0;
        assert!((rate - 50.0).abs() < 2.0, "mean rate {rate}");
        // Exponential gaps: the coefficient of variation is 1 (constant spacing would give 0).
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.05, "coefficient of variation {cv}");
        let c: Vec<_> =
            Arrivals::new(Process::Poisson, 50.0, Duration::from_secs(200), 8).collect();
        assert_ne!(a, c, "another seed, another schedule");
    }
}
