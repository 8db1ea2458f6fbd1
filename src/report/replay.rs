//! Replayed sessions' reports: the summary (whole run and per stage) and one record per session,
//! in inference-perf's file and field names.

use crate::measure::recorder::replay::{ReplayStats, SessionRecord};
use crate::report::schema::{SessionReplaySummary, Spread};

/// The summary of `stats`' sessions.
pub fn summary(stats: &ReplayStats) -> SessionReplaySummary {
    let s = &stats.sessions;
    let sum = |f: fn(&SessionRecord) -> u64| s.iter().map(f).sum::<u64>();
    let ok = stats.succeeded();
    SessionReplaySummary {
        num_sessions: s.len() as u64,
        num_sessions_succeeded: ok,
        num_sessions_failed: s.len() as u64 - ok,
        total_events: sum(|r| r.events),
        total_events_completed: sum(|r| r.completed),
        total_events_failed: sum(|r| r.failed),
        total_events_cancelled: sum(|r| r.cancelled),
        session_duration_sec: spread(stats, 1e6, |r| r.duration_us),
        num_events: spread(stats, 1.0, |r| r.events),
        total_input_tokens: spread(stats, 1.0, |r| r.input_tokens),
        total_output_tokens: spread(stats, 1.0, |r| r.output_tokens),
        critical_path_events: spread(stats, 1.0, |r| r.critical_path.len() as u64),
        critical_path_call_sec: spread(stats, 1e6, |r| r.critical_calls_us),
    }
}

fn spread(
    stats: &ReplayStats,
    scale: f64,
    f: impl Fn(&SessionRecord) -> u64 + Copy,
) -> Option<Spread> {
    let at = |q: f64| stats.quantile(q, f).map(|v| v as f64 / scale);
    let n = stats.sessions.len() as f64;
    let mean = stats.sessions.iter().map(|r| f(r) as f64).sum::<f64>() / n / scale;
    Some(Spread {
        mean,
        min: at(0.0)?,
        median: at(0.5)?,
        p90: at(0.9)?,
        p99: at(0.99)?,
        max: at(1.0)?,
    })
}
