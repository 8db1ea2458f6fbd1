//! A histogram's cumulative buckets as Prometheus exposes them, with the arithmetic a stage needs:
//! growth between two scrapes, sums over stages, and `histogram_quantile`'s interpolation.

use serde::{Deserialize, Serialize};

/// Cumulative histogram buckets `(upper bound, count)`, ascending, with the sum and count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Buckets {
    /// The last bound is usually `+Inf`, written as the string `"+Inf"` (JSON has no infinity).
    #[serde(with = "le")]
    pub bounds: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// Bucket bounds in JSON: numbers, and `"+Inf"` for the infinite one.
mod le {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Bound {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(bounds: &[(f64, f64)], s: S) -> Result<S::Ok, S::Error> {
        let written: Vec<(Bound, f64)> = bounds
            .iter()
            .map(|&(le, n)| match le.is_finite() {
                true => (Bound::Number(le), n),
                false => (
                    Bound::Text(if le > 0.0 { "+Inf" } else { "-Inf" }.into()),
                    n,
                ),
            })
            .collect();
        written.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
        let read = Vec::<(Bound, f64)>::deserialize(d)?;
        read.into_iter()
            .map(|(le, n)| match le {
                Bound::Number(x) => Ok((x, n)),
                Bound::Text(t) => t
                    .parse::<f64>()
                    .map(|x| (x, n))
                    .map_err(|_| serde::de::Error::custom(format!("bucket bound `{t}`"))),
            })
            .collect()
    }
}

impl Buckets {
    /// `self − earlier`, bucket by bucket (bounds that do not match are dropped).
    pub(super) fn minus(&self, earlier: &Buckets) -> Buckets {
        Buckets {
            bounds: self
                .bounds
                .iter()
                .map(|&(le, c)| {
                    let before = earlier
                        .bounds
                        .iter()
                        .find(|b| b.0 == le)
                        .map_or(0.0, |b| b.1);
                    (le, (c - before).max(0.0))
                })
                .collect(),
            sum: (self.sum - earlier.sum).max(0.0),
            count: (self.count - earlier.count).max(0.0),
        }
    }

    pub(super) fn plus(&mut self, other: &Buckets) {
        if self.bounds.is_empty() {
            self.bounds = other.bounds.clone();
        } else {
            for (le, c) in &mut self.bounds {
                *c += other
                    .bounds
                    .iter()
                    .find(|b| b.0 == *le)
                    .map_or(0.0, |b| b.1);
            }
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The q-quantile by linear interpolation inside its bucket, as Prometheus' `histogram_quantile`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.bounds.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(le, c) in &self.bounds {
            if c >= rank {
                if le.is_infinite() {
                    return Some(lower.0);
                }
                let width = c - lower.1;
                let within = if width > 0.0 {
                    (rank - lower.1) / width
                } else {
                    1.0
                };
                return Some(lower.0 + (le - lower.0) * within);
            }
            lower = (le, c);
        }
        Some(lower.0)
    }
}
