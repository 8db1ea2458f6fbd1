//! Replayed agent sessions as measured (`trace_session_replay`): one record per session, with its
//! outcome, its calls' counts, its duration and its critical path (the chain of calls that ended
//! last, each the predecessor its successor waited for longest). Records are few (one per session),
//! so they are kept whole and merged by concatenation; distributions are computed when reported.

use serde::{Deserialize, Serialize};

/// One replayed session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    /// The trace file (or dataset row) it replays.
    pub source: String,
    pub stage: usize,
    /// From its first call's dispatch to its last call's end.
    pub duration_us: u64,
    pub events: u64,
    /// Calls that were sent and succeeded.
    pub completed: u64,
    /// Calls that were sent and failed or timed out.
    pub failed: u64,
    /// Calls never sent: a call they depend on failed, or the run stopped.
    pub cancelled: u64,
    /// Every call succeeded.
    pub success: bool,
    /// The first failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Event ids from the first call to the last one to end.
    pub critical_path: Vec<String>,
    /// Time on the critical path spent in calls (the rest is waits for tools and gaps replayed).
    pub critical_calls_us: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `bad_tool_call_handling: use_recorded`: live answers replaced by recorded ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recorded_substitutions: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The sessions of a stage (or, merged, of a scenario).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayStats {
    pub sessions: Vec<SessionRecord>,
}

impl ReplayStats {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn add(&mut self, other: &ReplayStats) {
        self.sessions.extend(other.sessions.iter().cloned());
    }

    pub fn succeeded(&self) -> u64 {
        self.sessions.iter().filter(|s| s.success).count() as u64
    }

    /// Calls never sent because one they depend on failed (or the run stopped).
    pub fn cancelled(&self) -> u64 {
        self.sessions.iter().map(|s| s.cancelled).sum()
    }

    /// The `q`-quantile (0..=1) of `value` over the sessions, nearest rank.
    pub fn quantile(&self, q: f64, value: impl Fn(&SessionRecord) -> u64) -> Option<u64> {
        let mut v: Vec<u64> = self.sessions.iter().map(value).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }

    /// One line for the console: `3 sessions, 2 succeeded, 1 failed; 14 calls: 11 ok, 1 failed, 2
    /// cancelled; duration p50 1.2 s, max 3.4 s; critical path 5 calls (p50)`.
    pub fn summary(&self) -> String {
        let n = self.sessions.len() as u64;
        let ok = self.succeeded();
        let sum = |f: fn(&SessionRecord) -> u64| self.sessions.iter().map(f).sum::<u64>();
        let seconds = |us: Option<u64>| format!("{:.2} s", us.unwrap_or(0) as f64 / 1e6);
        format!(
            "{n} sessions, {ok} succeeded, {} failed; {} calls: {} ok, {} failed, {} cancelled; \
             duration p50 {}, max {}; critical path p50 {} calls, {} of it in calls",
            n - ok,
            sum(|s| s.events),
            sum(|s| s.completed),
            sum(|s| s.failed),
            sum(|s| s.cancelled),
            seconds(self.quantile(0.5, |s| s.duration_us)),
            seconds(self.quantile(1.0, |s| s.duration_us)),
            self.quantile(0.5, |s| s.critical_path.len() as u64)
                .unwrap_or(0),
            seconds(self.quantile(0.5, |s| s.critical_calls_us)),
        )
    }
}
