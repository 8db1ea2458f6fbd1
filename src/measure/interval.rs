//! Confidence intervals for the statistics a baseline comparison looks at, computed from what a run
//! saved (`samples.json`), so the current run and a baseline months old go through the same code.
//!
//! - A percentile of `n` observations: distribution-free order-statistic bounds. The rank of the true
//!   q-quantile among `n` samples is Binomial(n, q); with the normal approximation the interval runs
//!   from rank `⌊nq − z·√(nq(1−q))⌋` to `⌈nq + z·√(nq(1−q))⌉ + 1`. When either rank falls outside
//!   `1..=n` there are too few samples for that percentile and the estimate is inconclusive.
//!   Observations that come in clusters (a request's inter-token gaps share its batch, its load and
//!   its stalls) are not independent: the interval's width then follows the number of clusters
//!   (`independent`, the requests), applied as a spread of the quantile `q ± z·√(q(1−q)/m)`, and
//!   "too few samples" counts clusters.
//! - A mean: `mean ± z·sd/√n`.
//! - A rate (errors / requests): the Wilson score interval.
//! - A throughput: the count of completions treated as Poisson, `(k ± z·√k) / T`; token throughputs
//!   take the same relative width.
//! - Min, max and counts have no useful interval; they are compared as exact values.

use serde::{Deserialize, Serialize};

use crate::scenario::metric::trim_number;

/// A statistic with its interval, in the metric's canonical units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// A value taken as exact.
    pub fn exact(value: f64) -> Estimate {
        Estimate {
            value,
            low: value,
            high: value,
        }
    }
}

/// A statistic, or why it has no usable interval.
pub type Interval = Result<Estimate, String>;

/// The two-sided 95 % normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The per-interval `z` for a comparison at two-sided `confidence` (0.95 = 95 %). Two intervals that
/// do not overlap at `z/√2` each correspond to a two-sample test at about the requested level, which
/// keeps "regressed" from firing on noise without demanding twice the samples.
pub fn z_for(confidence: f64) -> f64 {
    normal_quantile(1.0 - (1.0 - confidence) / 2.0) / std::f64::consts::SQRT_2
}

/// Observations of one metric as `(value, count)` pairs in ascending value order (an HDR histogram's
/// recorded buckets), each independent of the others.
pub fn percentile(buckets: &[(u64, u64)], q: f64, z: f64) -> Interval {
    let n: u64 = buckets.iter().map(|b| b.1).sum();
    clustered_percentile(buckets, q, z, n)
}

/// As `percentile`, for observations that fall in `independent` clusters (at most one cluster per
/// observation); the interval is as wide as `independent` samples would make it.
pub fn clustered_percentile(buckets: &[(u64, u64)], q: f64, z: f64, independent: u64) -> Interval {
    let n: u64 = buckets.iter().map(|b| b.1).sum();
    if n == 0 {
        return Err("no observations".to_string());
    }
    let m = independent.clamp(1, n);
    let (nf, mf) = (n as f64, m as f64);
    let spread = z * (mf * q * (1.0 - q)).sqrt();
    let (low, high) = ((mf * q - spread).floor(), (mf * q + spread).ceil() + 1.0);
    if low < 1.0 || high > mf {
        let unit = if m < n { " requests" } else { "" };
        return Err(format!(
            "too few samples: {m}{unit} for p({}), needs at least {}",
            trim_number(q * 100.0),
            min_samples(q, z)
        ));
    }
    // The same quantiles of the whole sample: ranks scaled from `m` to `n`.
    let scale = |rank: f64| ((rank / mf) * nf).round().clamp(1.0, nf) as u64;
    let point_rank = (nf * q).ceil().max(1.0);
    Ok(Estimate {
        value: value_at_rank(buckets, point_rank as u64) as f64,
        low: value_at_rank(buckets, if m == n { low as u64 } else { scale(low) }) as f64,
        high: value_at_rank(buckets, if m == n { high as u64 } else { scale(high) }) as f64,
    })
}

/// The smallest `n` for which `percentile` gives an interval for `q` at `z`.
pub fn min_samples(q: f64, z: f64) -> u64 {
    (1u64..10_000_000)
        .find(|&n| {
            let nf = n as f64;
            let spread = z * (nf * q * (1.0 - q)).sqrt();
            (nf * q - spread).floor() >= 1.0 && (nf * q + spread).ceil() + 1.0 <= nf
        })
        .unwrap_or(u64::MAX)
}

/// The mean of the observations with its normal-approximation interval.
pub fn mean(buckets: &[(u64, u64)], z: f64) -> Interval {
    let n: u64 = buckets.iter().map(|b| b.1).sum();
    if n < 2 {
        return Err(format!("too few samples: {n} for a mean"));
    }
    let nf = n as f64;
    let mean = buckets
        .iter()
        .map(|&(v, c)| v as f64 * c as f64)
        .sum::<f64>()
        / nf;
    let var = buckets
        .iter()
        .map(|&(v, c)| (v as f64 - mean).powi(2) * c as f64)
        .sum::<f64>()
        / (nf - 1.0);
    let half = z * (var / nf).sqrt();
    Ok(Estimate {
        value: mean,
        low: mean - half,
        high: mean + half,
    })
}

/// `events` out of `trials` as a fraction, with the Wilson score interval.
pub fn proportion(events: u64, trials: u64, z: f64) -> Interval {
    if trials == 0 {
        return Err("no requests".to_string());
    }
    let n = trials as f64;
    let p = events as f64 / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Ok(Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// A per-second figure `value` backed by `count` independent completions: the Poisson interval of the
/// count, scaled to `value`.
pub fn throughput(value: f64, count: u64, z: f64) -> Interval {
    if count == 0 {
        return Err("no completed requests".to_string());
    }
    let k = count as f64;
    let relative = z * k.sqrt() / k;
    Ok(Estimate {
        value,
        low: value * (1.0 - relative).max(0.0),
        high: value * (1.0 + relative),
    })
}

fn value_at_rank(buckets: &[(u64, u64)], rank: u64) -> u64 {
    let mut seen = 0;
    for &(value, count) in buckets {
        seen += count;
        if seen >= rank {
            return value;
        }
    }
    buckets.last().map_or(0, |b| b.0)
}

/// Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation; relative error below 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(n: u64) -> Vec<(u64, u64)> {
        (1..=n).map(|v| (v, 1)).collect()
    }

    #[test]
    fn normal_quantiles_match_tables() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.005) + 2.575_829).abs() < 1e-5);
        assert!((z_for(0.95) - 1.959_964 / std::f64::consts::SQRT_2).abs() < 1e-5);
    }

    #[test]
    fn percentile_bounds_bracket_the_point_and_narrow_with_samples() {
        let z = z_for(0.95);
        let small = percentile(&uniform(200), 0.5, z).unwrap();
        let large = percentile(&uniform(20_000), 0.5, z).unwrap();
        assert!(
            small.low < small.value && small.value < small.high,
            "{small:?}"
        );
        assert_eq!(small.value, 100.0);
        let width = |e: Estimate, n: f64| (e.high - e.low) / n;
        assert!(width(large, 20_000.0) < width(small, 200.0) / 5.0);
    }

    #[test]
    fn too_few_samples_for_a_tail_percentile_is_said_plainly() {
        let z = z_for(0.95);
        let err = percentile(&uniform(50), 0.99, z).unwrap_err();
        assert!(err.contains("too few samples: 50 for p(99)"), "{err}");
        let needed = min_samples(0.99, z);
        assert!((200..2_000).contains(&needed), "{needed}");
        assert!(percentile(&uniform(needed), 0.99, z).is_ok());
        assert!(percentile(&uniform(needed - 1), 0.99, z).is_err());
    }

    #[test]
    fn clustered_observations_are_as_wide_as_their_clusters() {
        let z = z_for(0.95);
        let all = uniform(10_000);
        let free = percentile(&all, 0.99, z).unwrap();
        // The same 10,000 gaps from 100 requests: too few for p(99), and wider at the median.
        let err = clustered_percentile(&all, 0.99, z, 100).unwrap_err();
        assert!(
            err.contains("too few samples: 100 requests for p(99)"),
            "{err}"
        );
        let (a, b) = (
            percentile(&all, 0.5, z).unwrap(),
            clustered_percentile(&all, 0.5, z, 100).unwrap(),
        );
        assert_eq!(a.value, b.value);
        assert!(b.high - b.low > 5.0 * (a.high - a.low), "{a:?} {b:?}");
        assert!(free.high - free.low > 0.0);
        // As many clusters as observations is the unclustered interval.
        assert_eq!(
            clustered_percentile(&all, 0.9, z, 10_000),
            percentile(&all, 0.9, z)
        );
    }

    #[test]
    fn wilson_interval_handles_zero_errors() {
        let e = proportion(0, 400, z_for(0.95)).unwrap();
        assert_eq!(e.value, 0.0);
        assert_eq!(e.low, 0.0);
        assert!(e.high > 0.0 && e.high < 0.02, "{e:?}");
        assert!(proportion(0, 0, 1.0).is_err());
    }

    #[test]
    fn mean_and_throughput_intervals_are_centred() {
        let m = mean(&[(10, 50), (20, 50)], 1.0).unwrap();
        assert!((m.value - 15.0).abs() < 1e-9);
        assert!((m.value - m.low - (m.high - m.value)).abs() < 1e-9);
        let t = throughput(100.0, 400, 2.0).unwrap();
        assert!((t.low - 90.0).abs() < 1e-9 && (t.high - 110.0).abs() < 1e-9);
    }
}
