//! Arrival processes as iterators of offsets from a stage's start.
//!
//! Offsets are absolute (the i-th request is due at `start + offset_i`), so a late send never pushes the
//! rest of the schedule back: the load generator sleeps until each deadline and records how late it was.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp, Gamma};

/// The open-loop arrival processes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Process {
    /// Evenly spaced: offsets 0, 1/rate, 2/rate, ...
    Constant,
    /// Exponential gaps with mean 1/rate (a Poisson process), the first request at 0.
    Poisson,
    /// Gamma-distributed gaps with mean 1/rate and shape `burstiness` (vLLM's `--burstiness`): below 1
    /// burstier than Poisson, above 1 more even; 1 is Poisson.
    Gamma { burstiness: f64 },
    /// A trace's rows (`load.type: trace_replay`): the offsets come with the stage (`Arrivals::trace`).
    Trace,
}

/// The offsets of one stage: every arrival strictly before `duration`.
pub struct Arrivals {
    rate: f64,
    duration: f64,
    next_offset: f64,
    index: u64,
    rng: StdRng,
    gaps: Gaps,
}

/// The gap distribution of a random process, or a trace's offsets.
enum Gaps {
    Exponential(Exp<f64>),
    Gamma(Gamma<f64>),
    None,
    Trace(Arc<[Duration]>),
}

impl Arrivals {
    /// `rate` (and `burstiness`) must be positive and finite (checked when the scenario loads).
    pub fn new(process: Process, rate: f64, duration: Duration, seed: u64) -> Arrivals {
        Arrivals {
            rate,
            duration: duration.as_secs_f64(),
            next_offset: 0.0,
            index: 0,
            rng: StdRng::seed_from_u64(seed),
            gaps: match process {
                Process::Constant => Gaps::None,
                Process::Poisson => Gaps::Exponential(Exp::new(rate).expect("rate is positive")),
                Process::Gamma { burstiness } => Gaps::Gamma(
                    Gamma::new(burstiness, 1.0 / (rate * burstiness))
                        .expect("burstiness and rate are positive"),
                ),
                // No offsets given: nothing is sent (`trace` is how a trace's stage is made).
                Process::Trace => Gaps::Trace(Arc::from([])),
            },
        }
    }

    /// A trace's arrivals: its offsets before `duration`, in order.
    pub fn trace(offsets: Arc<[Duration]>, duration: Duration) -> Arrivals {
        Arrivals {
            rate: 1.0,
            duration: duration.as_secs_f64(),
            next_offset: 0.0,
            index: 0,
            rng: StdRng::seed_from_u64(0),
            gaps: Gaps::Trace(offsets),
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let offset = match &self.gaps {
            // Multiplying (rather than adding gaps) keeps float error from accumulating.
            Gaps::None => self.index as f64 / self.rate,
            Gaps::Trace(offsets) => offsets.get(self.index as usize)?.as_secs_f64(),
            _ => self.next_offset,
        };
        if offset >= self.duration {
            return None;
        }
        self.index += 1;
        self.next_offset += match &self.gaps {
            Gaps::Exponential(d) => d.sample(&mut self.rng),
            Gaps::Gamma(d) => d.sample(&mut self.rng),
            Gaps::None | Gaps::Trace(_) => 0.0,
        };
        Some(Duration::from_secs_f64(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(process: Process, rate: f64, seconds: u64, seed: u64) -> Vec<f64> {
        let offsets: Vec<_> =
            Arrivals::new(process, rate, Duration::from_secs(seconds), seed).collect();
        offsets
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect()
    }

    #[test]
    fn poisson_gaps_pass_a_kolmogorov_smirnov_test_against_the_exponential() {
        let rate = 100.0;
        let mut g = gaps(Process::Poisson, rate, 100, 11);
        g.sort_by(f64::total_cmp);
        let n = g.len() as f64;
        let d = g
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let cdf = 1.0 - (-rate * x).exp();
                (cdf - i as f64 / n)
                    .abs()
                    .max(((i + 1) as f64 / n - cdf).abs())
            })
            .fold(0.0, f64::max);
        // The 1 % critical value is 1.63 / sqrt(n); constant spacing would give d close to 0.63.
        assert!(d < 1.63 / n.sqrt(), "KS distance {d} over {n} gaps");
    }

    #[test]
    fn gamma_burstiness_keeps_the_rate_and_changes_the_spread() {
        for (burstiness, cv_expected) in [(0.25, 2.0), (1.0, 1.0), (4.0, 0.5)] {
            let g = gaps(Process::Gamma { burstiness }, 50.0, 400, 5);
            let mean = g.iter().sum::<f64>() / g.len() as f64;
            let sd = (g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / g.len() as f64).sqrt();
            assert!(
                (mean * 50.0 - 1.0).abs() < 0.05,
                "burstiness {burstiness}: mean gap {mean}"
            );
            assert!(
                (sd / mean - cv_expected).abs() < 0.1 * cv_expected,
                "burstiness {burstiness}: cv {}",
                sd / mean
            );
        }
    }

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
