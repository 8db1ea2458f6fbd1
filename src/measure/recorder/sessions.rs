//! Multi-turn sessions as measured: how many started and completed, and each turn index's requests,
//! TTFT, ITL and prompt length, which is where a server's prefix caching shows (later turns resend
//! the whole conversation; with caching their TTFT stays flat as their prompts grow).
//!
//! Turns from `MAX_TURNS - 1` on share the last slot. Nothing is allocated for runs without sessions.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::wire::Buckets;
use super::{Sample, micros};
use crate::client::Exchange;

/// Turn indexes kept apart; later turns are counted in the last.
pub const MAX_TURNS: usize = 16;

/// Where a finished request stood in its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnMark {
    /// The turn's index within its conversation (0 the first).
    pub index: u32,
    /// The conversation's last turn: the session completes when it succeeds.
    pub last: bool,
}

/// One turn index's requests.
#[derive(Debug, Clone)]
pub struct TurnStats {
    pub requests: u64,
    pub ok: u64,
    pub ttft: Histogram<u64>,
    pub itl: Histogram<u64>,
    pub prompt_tokens: Histogram<u64>,
}

/// A per-turn histogram: two significant digits (1 %), a tenth of the memory of the run's own.
fn histogram(highest: u64) -> Histogram<u64> {
    Histogram::new_with_bounds(1, highest, 2).expect("static bounds are valid")
}

impl TurnStats {
    fn new() -> TurnStats {
        TurnStats {
            requests: 0,
            ok: 0,
            ttft: histogram(3_600_000_000),
            itl: histogram(3_600_000_000),
            prompt_tokens: histogram(100_000_000),
        }
    }
}

/// Sessions of a stage (or, merged, of a scenario).
#[derive(Debug, Clone, Default)]
pub struct SessionStats {
    /// Conversations begun (first turns sent).
    pub started: u64,
    /// Conversations whose last turn succeeded.
    pub completed: u64,
    /// By turn index; empty when the run has no sessions.
    pub turns: Vec<TurnStats>,
}

impl SessionStats {
    /// Requests that belonged to a session.
    pub fn requests(&self) -> u64 {
        self.turns.iter().map(|t| t.requests).sum()
    }

    pub fn record(&mut self, mark: TurnMark, sample: &Sample) {
        let slot = (mark.index as usize).min(MAX_TURNS - 1);
        while self.turns.len() <= slot {
            self.turns.push(TurnStats::new());
        }
        self.started += u64::from(mark.index == 0);
        let turn = &mut self.turns[slot];
        turn.requests += 1;
        let Exchange::Ok(s) = &sample.exchange else {
            return;
        };
        turn.ok += 1;
        self.completed += u64::from(mark.last);
        let prompt = s.usage.and_then(|u| u.prompt_tokens);
        turn.prompt_tokens
            .saturating_record(prompt.unwrap_or(u64::from(sample.prompt_tokens)));
        if let Some(first) = s.first_content {
            turn.ttft
                .saturating_record(micros(first.saturating_duration_since(s.sent)));
            for &gap in &s.content_gaps_us {
                turn.itl.saturating_record(gap);
            }
        }
    }

    /// Adds `other`'s counts and histograms to these.
    pub fn add(&mut self, other: &SessionStats) {
        self.started += other.started;
        self.completed += other.completed;
        while self.turns.len() < other.turns.len() {
            self.turns.push(TurnStats::new());
        }
        for (mine, theirs) in self.turns.iter_mut().zip(&other.turns) {
            mine.requests += theirs.requests;
            mine.ok += theirs.ok;
            for (m, t) in [
                (&mut mine.ttft, &theirs.ttft),
                (&mut mine.itl, &theirs.itl),
                (&mut mine.prompt_tokens, &theirs.prompt_tokens),
            ] {
                m.add(t).expect("histograms share bounds");
            }
        }
    }

    /// Empty again, keeping the histograms' memory.
    pub fn clear(&mut self) {
        (self.started, self.completed) = (0, 0);
        for t in &mut self.turns {
            (t.requests, t.ok) = (0, 0);
            t.ttft.reset();
            t.itl.reset();
            t.prompt_tokens.reset();
        }
    }
}

/// `SessionStats` in a shard's file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionsFile {
    pub started: u64,
    pub completed: u64,
    /// Per turn index: requests, ok, and the ttft, itl and prompt_tokens histograms.
    pub turns: Vec<(u64, u64, [Buckets; 3])>,
}

impl SessionsFile {
    pub fn is_empty(&self) -> bool {
        self.turns.is_empty() && self.started == 0
    }

    pub fn of(stats: &SessionStats) -> SessionsFile {
        SessionsFile {
            started: stats.started,
            completed: stats.completed,
            turns: stats
                .turns
                .iter()
                .map(|t| {
                    let b = super::wire::buckets;
                    (
                        t.requests,
                        t.ok,
                        [b(&t.ttft), b(&t.itl), b(&t.prompt_tokens)],
                    )
                })
                .collect(),
        }
    }

    pub fn stats(&self) -> SessionStats {
        let fill = |h: &mut Histogram<u64>, buckets: &Buckets| {
            for &(value, count) in buckets {
                h.saturating_record_n(value, count);
            }
        };
        SessionStats {
            started: self.started,
            completed: self.completed,
            turns: self
                .turns
                .iter()
                .map(|(requests, ok, [ttft, itl, prompt])| {
                    let mut t = TurnStats::new();
                    (t.requests, t.ok) = (*requests, *ok);
                    fill(&mut t.ttft, ttft);
                    fill(&mut t.itl, itl);
                    fill(&mut t.prompt_tokens, prompt);
                    t
                })
                .collect(),
        }
    }
}
