//! Token lengths drawn from a scenario's distributions, as inference-perf draws them: a real-valued
//! sample, clipped to `[min, max]`, rounded, clipped again (`sample_from_distribution` in its
//! `utils/numeric/distribution`). `skew_normal` is Azzalini's with location `mean`, scale `std_dev`
//! and shape `skew` (so its mean is not `mean` unless `skew` is 0); `lognormal` is moment-matched so
//! that it has the given mean and standard deviation; `poisson` has rate `mean`.

use rand::Rng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, LogNormal, Normal, Poisson, SkewNormal};

use crate::scenario::LengthDistribution;

/// Draws one length from `distribution`.
pub fn sample_length(distribution: LengthDistribution, rng: &mut StdRng) -> u32 {
    use LengthDistribution as D;
    let (x, min, max): (f64, u32, u32) = match distribution {
        D::Fixed(n) => return n,
        D::Uniform { min, max } => return rng.random_range(min..=max),
        D::Normal {
            mean,
            std_dev,
            min,
            max,
        } => {
            let normal = Normal::new(mean, std_dev).expect("std_dev is finite and positive");
            (normal.sample(rng), min, max)
        }
        D::SkewNormal {
            mean,
            std_dev,
            skew,
            min,
            max,
        } => {
            let skewed = SkewNormal::new(mean, std_dev, skew).expect("validated parameters");
            (skewed.sample(rng), min, max)
        }
        D::LogNormal {
            mean,
            std_dev,
            min,
            max,
        } => {
            let log_normal = LogNormal::from_mean_cv(mean, std_dev / mean).expect("mean > 0");
            (log_normal.sample(rng), min, max)
        }
        D::Poisson { mean, min, max } => {
            let poisson = Poisson::new(mean).expect("mean > 0");
            (poisson.sample(rng), min, max)
        }
    };
    (x.clamp(f64::from(min), f64::from(max)).round() as u32).clamp(min, max)
}

#[cfg(test)]
mod tests {
    //! Each distribution against its own cumulative distribution function: a Kolmogorov-Smirnov
    //! distance over 20,000 seeded draws, on bounds wide enough that clipping is negligible. The
    //! draws are rounded, so `P(X <= k)` is compared with `F(k + 0.5)`.

    use super::*;
    use rand::SeedableRng;

    const N: usize = 20_000;
    /// The KS critical distance at a 0.1 % level for N draws (1.95 / sqrt(N)).
    const CRITICAL: f64 = 1.95 / 141.42;

    /// The largest gap between the draws' empirical CDF and `cdf`, at every integer in range.
    fn ks_distance(d: LengthDistribution, cdf: impl Fn(f64) -> f64, seed: u64) -> f64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut xs: Vec<u32> = (0..N).map(|_| sample_length(d, &mut rng)).collect();
        xs.sort_unstable();
        let (lo, hi) = (xs[0], xs[N - 1]);
        let mut worst: f64 = 0.0;
        let mut below = 0;
        for k in lo..=hi {
            while below < N && xs[below] <= k {
                below += 1;
            }
            let empirical = below as f64 / N as f64;
            worst = worst.max((empirical - cdf(f64::from(k) + 0.5)).abs());
        }
        worst
    }

    /// The standard normal CDF (Abramowitz and Stegun 7.1.26, error below 1.5e-7).
    fn phi(z: f64) -> f64 {
        let x = z.abs() / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.327_591_1 * x);
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let erf = 1.0 - poly * (-x * x).exp();
        if z >= 0.0 {
            0.5 * (1.0 + erf)
        } else {
            0.5 * (1.0 - erf)
        }
    }

    #[test]
    fn lognormal_lengths_follow_the_moment_matched_lognormal() {
        let (mean, sd) = (300.0_f64, 150.0_f64);
        let d = LengthDistribution::LogNormal {
            mean,
            std_dev: sd,
            min: 1,
            max: 100_000,
        };
        let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
        let mu = mean.ln() - sigma2 / 2.0;
        let cdf = |x: f64| phi((x.ln() - mu) / sigma2.sqrt());
        let distance = ks_distance(d, cdf, 1);
        assert!(distance < CRITICAL, "KS distance {distance}");
        // The same draws against the wrong parameters are told apart.
        let wrong = |x: f64| phi((x.ln() - mu * 1.02) / sigma2.sqrt());
        assert!(ks_distance(d, wrong, 1) > CRITICAL);
    }

    #[test]
    fn poisson_lengths_follow_the_poisson_law() {
        let lambda = 40.0_f64;
        let d = LengthDistribution::Poisson {
            mean: lambda,
            min: 0,
            max: 10_000,
        };
        let cdf = |x: f64| {
            let (mut term, mut sum) = ((-lambda).exp(), 0.0);
            for k in 0..=(x.floor() as u32) {
                if k > 0 {
                    term *= lambda / f64::from(k);
                }
                sum += term;
            }
            sum
        };
        let distance = ks_distance(d, cdf, 2);
        assert!(distance < CRITICAL, "KS distance {distance}");
    }

    #[test]
    fn skew_normal_lengths_follow_azzalinis_law() {
        let (location, scale, shape) = (500.0_f64, 100.0_f64, 4.0_f64);
        let d = LengthDistribution::SkewNormal {
            mean: location,
            std_dev: scale,
            skew: shape,
            min: 1,
            max: 100_000,
        };
        // F(x) = integral of 2/scale * pdf(z) * Phi(shape z), z = (t - location) / scale.
        let cdf = |x: f64| {
            let (from, steps) = (location - 8.0 * scale, 4_000);
            let h = (x - from) / f64::from(steps);
            let f = |t: f64| {
                let z = (t - location) / scale;
                2.0 / scale * (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
                    * phi(shape * z)
            };
            (0..steps)
                .map(|i| {
                    let a = from + h * f64::from(i);
                    (f(a) + f(a + h)) * h / 2.0
                })
                .sum::<f64>()
        };
        let distance = ks_distance(d, cdf, 3);
        assert!(distance < CRITICAL, "KS distance {distance}");
        let unskewed = |x: f64| phi((x - location) / scale);
        assert!(ks_distance(d, unskewed, 3) > CRITICAL, "the skew shows");
    }

    #[test]
    fn every_draw_is_clipped_to_min_and_max() {
        let mut rng = StdRng::seed_from_u64(4);
        for d in [
            LengthDistribution::LogNormal {
                mean: 100.0,
                std_dev: 300.0,
                min: 20,
                max: 150,
            },
            LengthDistribution::Poisson {
                mean: 5.0,
                min: 4,
                max: 6,
            },
            LengthDistribution::SkewNormal {
                mean: 50.0,
                std_dev: 40.0,
                skew: -3.0,
                min: 10,
                max: 60,
            },
        ] {
            let xs: Vec<u32> = (0..5_000).map(|_| sample_length(d, &mut rng)).collect();
            let (lo, hi) = match d {
                LengthDistribution::LogNormal { min, max, .. }
                | LengthDistribution::Poisson { min, max, .. }
                | LengthDistribution::SkewNormal { min, max, .. } => (min, max),
                _ => unreachable!(),
            };
            assert!(xs.iter().all(|x| (lo..=hi).contains(x)), "{d:?}");
            assert!(
                xs.contains(&lo) && xs.contains(&hi),
                "{d:?}: both tails pile up"
            );
        }
    }

    #[test]
    fn normal_lengths_are_clamped_and_centred() {
        let d = LengthDistribution::Normal {
            mean: 200.0,
            std_dev: 20.0,
            min: 190,
            max: 260,
        };
        let mut rng = StdRng::seed_from_u64(3);
        let xs: Vec<u32> = (0..10_000).map(|_| sample_length(d, &mut rng)).collect();
        assert!(xs.iter().all(|&x| (190..=260).contains(&x)));
        assert!(xs.contains(&190), "the lower tail piles up at min");
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64;
        assert!((mean - 203.0).abs() < 3.0, "mean {mean}");
    }
}
