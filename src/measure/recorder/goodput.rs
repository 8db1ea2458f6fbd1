//! Goodput as requests finish: each success is judged against `report.goodput.constraints` once,
//! then only counts are kept (good requests, their tokens, and per constraint how many met it), so
//! per-request SLOs need no per-request storage and merge exactly across threads and shards.
//!
//! The definitions are inference-perf's (`reportgen/base.py`): a constraint on a figure the request
//! does not have (no TTFT from a non-streamed reply, no TPOT from a one-token answer) is not met, and
//! a request's `itl` is the mean of its own inter-token gaps. Failed requests are never good.

use serde::{Deserialize, Serialize};

use crate::scenario::goodput::{Goodput, Slo};

/// One success's figures, in microseconds (`None` where the request has no such figure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub ttft: Option<u64>,
    /// Time to the first answer (not reasoning) token.
    pub ttfo: Option<u64>,
    pub tpot: Option<u64>,
    pub itl: Option<u64>,
    pub ntpot: Option<u64>,
    pub request_latency: u64,
    /// Prompt tokens (the server's `usage`, else the built length) and output tokens.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of the output tokens, reasoning (the server's count, else the client's).
    pub reasoning_tokens: u64,
}

impl Figures {
    fn get(&self, slo: Slo) -> Option<u64> {
        match slo {
            Slo::Ttft => self.ttft,
            Slo::Tpot => self.tpot,
            Slo::Itl => self.itl,
            Slo::Ntpot => self.ntpot,
            Slo::RequestLatency => Some(self.request_latency),
        }
    }
}

/// The counts behind every goodput figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodputCounts {
    /// Successes judged (each constraint applies to every one of them).
    pub judged: u64,
    /// Successes that met every constraint.
    pub good: u64,
    /// Prompt plus output tokens of the good ones.
    pub good_tokens: u64,
    /// Per constraint, in `Slo::ALL` order: successes that met it.
    pub met: [u64; 5],
}

impl GoodputCounts {
    /// Judges one success; says whether it was good.
    pub fn judge(&mut self, slo: &Goodput, figures: &Figures) -> bool {
        let tokens = figures.input_tokens + figures.output_tokens;
        self.judged += 1;
        let mut good = true;
        for (constraint, limit) in slo.constraints() {
            let met = figures.get(constraint).is_some_and(|v| v <= limit);
            self.met[constraint.index()] += met as u64;
            good &= met;
        }
        if good {
            self.good += 1;
            self.good_tokens += tokens;
        }
        good
    }

    pub fn add(&mut self, other: &GoodputCounts) {
        self.judged += other.judged;
        self.good += other.good;
        self.good_tokens += other.good_tokens;
        for (mine, theirs) in self.met.iter_mut().zip(other.met) {
            *mine += theirs;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.judged == 0
    }

    /// `n` as a fraction of the successes judged (inference-perf's goodput and attainment
    /// percentages, divided by 100); `None` before any was judged.
    pub fn of_judged(&self, n: u64) -> Option<f64> {
        (self.judged > 0).then(|| n as f64 / self.judged as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_good_only_when_it_meets_every_constraint() {
        let mut slo = Goodput::default();
        slo.limits[Slo::Ttft.index()] = Some(100);
        slo.limits[Slo::Tpot.index()] = Some(10);
        let mut counts = GoodputCounts::default();
        let fast = Figures {
            ttft: Some(100),
            tpot: Some(10),
            request_latency: 500,
            input_tokens: 3,
            output_tokens: 4,
            ..Figures::default()
        };
        assert!(counts.judge(&slo, &fast));
        let slow_first = Figures {
            ttft: Some(101),
            ..fast
        };
        assert!(!counts.judge(&slo, &slow_first));
        // No TPOT (a one-token answer): that constraint is not met.
        let one_token = Figures { tpot: None, ..fast };
        assert!(!counts.judge(&slo, &one_token));
        assert_eq!((counts.judged, counts.good, counts.good_tokens), (3, 1, 7));
        assert_eq!(counts.met[Slo::Ttft.index()], 2);
        assert_eq!(counts.met[Slo::Tpot.index()], 2);
        assert_eq!(counts.met[Slo::Itl.index()], 0);
        assert_eq!(counts.of_judged(counts.good), Some(1.0 / 3.0));
        assert_eq!(GoodputCounts::default().of_judged(0), None);
        let mut twice = counts;
        twice.add(&counts);
        assert_eq!((twice.judged, twice.good, twice.met[0]), (6, 2, 4));
    }
}
