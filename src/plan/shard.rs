//! Splitting one scenario's load over `N` workers (threads, processes or pods) so that together they
//! send exactly what one worker would. Shard `I` of `N` owns every `N`-th arrival of the global
//! schedule (global indexes `I`, `I + N`, `I + 2N`, ...), drawn from the same seeded process, so the
//! union of the shards' schedules *is* the unsharded schedule, for constant, Poisson and gamma arrivals
//! alike. Closed-loop stages split `concurrency` and `num_requests` as evenly as possible, the first
//! `total mod N` shards taking one more, so the sums are exact.
//!
//! This is the split alone; running shards side by side and merging their results build on it.

use std::fmt;
use std::time::Duration;

use super::arrivals::Arrivals;

/// Which part of the load a worker sends: shard `index` of `count` (`0/1` is all of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why `I/N` is not a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not a shard: write I/N, e.g. 0/3 for the first of three")]
    Syntax(String),
    #[error("`{0}`: there must be at least one shard")]
    NoShards(String),
    #[error("`{text}`: shards are numbered from 0 to {last}")]
    OutOfRange { text: String, last: u32 },
}

impl Shard {
    /// The whole load, unsplit.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        let text = format!("{index}/{count}");
        if count == 0 {
            return Err(ShardError::NoShards(text));
        }
        if index >= count {
            return Err(ShardError::OutOfRange {
                text,
                last: count - 1,
            });
        }
        Ok(Shard { index, count })
    }

    /// `I/N`, as `--shard` and `INFERGATE_SHARD` take it.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (i, n) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index = i.trim().parse::<u32>().map_err(|_| syntax())?;
        let count = n.trim().parse::<u32>().map_err(|_| syntax())?;
        Shard::new(index, count).map_err(|e| match e {
            ShardError::OutOfRange { last, .. } => ShardError::OutOfRange {
                text: text.to_string(),
                last,
            },
            ShardError::NoShards(_) => ShardError::NoShards(text.to_string()),
            other => other,
        })
    }

    pub fn index(self) -> u32 {
        self.index
    }

    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the arrival with this global index is this shard's.
    pub fn owns(self, global_index: u64) -> bool {
        global_index % u64::from(self.count) == u64::from(self.index)
    }

    /// This shard's part of `total` (requests or concurrency slots): `total / N`, plus one for the
    /// first `total mod N` shards. The parts of all shards add up to `total`.
    pub fn share(self, total: u64) -> u64 {
        let n = u64::from(self.count);
        total / n + u64::from(u64::from(self.index) < total % n)
    }

    /// This shard's arrivals of a stage's schedule, each with its global index (which also picks the
    /// request the unsharded run would send at that moment).
    pub fn arrivals(self, all: Arrivals) -> impl Iterator<Item = (u64, Duration)> {
        all.enumerate()
            .map(|(i, offset)| (i as u64, offset))
            .filter(move |(i, _)| self.owns(*i))
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_say_what_is_wrong() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::parse(" 0 / 1 "), Ok(Shard::WHOLE));
        assert_eq!(Shard::parse("2/3").unwrap().to_string(), "2/3");
        let err = |t: &str| Shard::parse(t).unwrap_err().to_string();
        assert!(
            err("3/3").contains("numbered from 0 to 2"),
            "{}",
            err("3/3")
        );
        assert!(err("0/0").contains("at least one shard"));
        assert!(err("two/3").contains("write I/N"));
        assert!(err("1").contains("write I/N"));
    }

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for count in 1..=7u32 {
            for total in [0u64, 1, 5, 6, 7, 100, 1001] {
                let parts: Vec<u64> = (0..count)
                    .map(|i| Shard::new(i, count).unwrap().share(total))
                    .collect();
                assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {count}");
                let (lo, hi) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                assert!(hi - lo <= 1, "{parts:?}");
            }
        }
    }
}
