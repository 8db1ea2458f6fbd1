//! Circuit breakers while a run goes (`load.circuit_breakers`): every finished request is fed to each
//! breaker as it ends, over all load threads of the process; a breaker that opens stops the run the
//! way an `abortOnFail` threshold does (sending stops, requests in flight get their grace, the rest
//! count as cancelled) and the run fails with the breaker's name and what tripped it.
//!
//! As in inference-perf: a request the breaker's `matches` select is a hit when any of its `rules`
//! holds (every selected one when there are none); `consecutive` opens after that many hits in a row
//! of selected requests, `rate_over_window` when hits make at least `threshold` of the selected
//! requests of the last `window_sec` seconds, once there are `min_samples` of them. A breaker that has
//! opened stays open.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::client::{Exchange, FailureKind};
use crate::measure::recorder::Sample;
use crate::run::stop::StopHandle;
use crate::scenario::breaker::{Breaker, Outcome, Trigger};

/// The run's breakers and what they have seen.
pub struct Breakers {
    breakers: Vec<Breaker>,
    /// Per breaker, per trigger.
    state: Mutex<Vec<Vec<TriggerState>>>,
    stop: Arc<StopHandle>,
    opened: Mutex<Option<String>>,
}

#[derive(Default)]
struct TriggerState {
    in_a_row: u32,
    window: VecDeque<(Instant, bool)>,
}

impl std::fmt::Debug for Breakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.breakers.iter().map(|b| b.name.as_str()).collect();
        f.debug_struct("Breakers")
            .field("breakers", &names)
            .finish()
    }
}

/// inference-perf's `error_type` for an outcome (its names are Python's exception classes).
pub fn error_type(exchange: &Exchange) -> Option<(String, &str)> {
    match exchange {
        Exchange::Ok(_) => None,
        Exchange::TimedOut { .. } => Some(("TimeoutError".into(), "Request timed out")),
        Exchange::Failed(f) => {
            let kind = match f.kind {
                FailureKind::HttpStatus(code) => format!("HTTP Error {code}"),
                FailureKind::RateLimited => "HTTP Error 429".into(),
                FailureKind::Connect => "ClientConnectorError".into(),
                FailureKind::StreamInterrupted | FailureKind::IncompleteStream => {
                    "ClientPayloadError".into()
                }
                FailureKind::Malformed => "ValueError".into(),
                FailureKind::ServerError => "ServerError".into(),
                FailureKind::NoContent => "NoContent".into(),
                FailureKind::Other => "ClientError".into(),
            };
            Some((kind, f.message.as_str()))
        }
    }
}

impl Breakers {
    /// `None` when the run has no breakers.
    pub fn new(breakers: &[Breaker], stop: Arc<StopHandle>) -> Option<Arc<Breakers>> {
        if breakers.is_empty() {
            return None;
        }
        let state = breakers
            .iter()
            .map(|b| b.triggers.iter().map(|_| TriggerState::default()).collect())
            .collect();
        Some(Arc::new(Breakers {
            breakers: breakers.to_vec(),
            state: Mutex::new(state),
            stop,
            opened: Mutex::new(None),
        }))
    }

    /// Why a breaker opened, if one did.
    pub fn opened(&self) -> Option<String> {
        self.opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Feeds one finished request to every breaker.
    pub fn feed(&self, sample: &Sample, ended: Instant) {
        let error = error_type(&sample.exchange);
        let outcome = Outcome {
            error: error.as_ref().map(|(kind, msg)| (kind.as_str(), *msg)),
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for (b, triggers) in self.breakers.iter().zip(state.iter_mut()) {
            if !b.matches.iter().any(|m| m.holds(&outcome)) {
                continue;
            }
            let hit = b.rules.is_empty() || b.rules.iter().any(|r| r.holds(&outcome));
            for (trigger, s) in b.triggers.iter().zip(triggers.iter_mut()) {
                if let Some(why) = update(trigger, s, hit, ended) {
                    self.open(&b.name, why);
                }
            }
        }
    }

    fn open(&self, name: &str, why: String) {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if opened.is_none() {
            let reason = format!("circuit breaker `{name}` opened: {why}");
            self.stop.stop(reason.clone());
            *opened = Some(reason);
        }
    }
}

/// One trigger's view of one more selected request; why it fires, if it does.
fn update(trigger: &Trigger, s: &mut TriggerState, hit: bool, at: Instant) -> Option<String> {
    match *trigger {
        Trigger::Consecutive(n) => {
            s.in_a_row = if hit { s.in_a_row + 1 } else { 0 };
            (s.in_a_row >= n).then(|| format!("{n} hits in a row"))
        }
        Trigger::RateOverWindow {
            window,
            threshold,
            min_samples,
        } => {
            s.window.push_back((at, hit));
            while s
                .window
                .front()
                .is_some_and(|&(t, _)| at.saturating_duration_since(t) > window)
            {
                s.window.pop_front();
            }
            let total = s.window.len();
            let hits = s.window.iter().filter(|(_, h)| *h).count();
            let rate = hits as f64 / total as f64;
            (total >= min_samples as usize && rate >= threshold).then(|| {
                format!(
                    "{hits} of the last {total} selected requests in {}s were hits ({:.0} % >= {:.0} %)",
                    window.as_secs_f64(),
                    rate * 100.0,
                    threshold * 100.0
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn consecutive_counts_hits_in_a_row_and_a_miss_starts_again() {
        let (t, mut s, now) = (
            Trigger::Consecutive(3),
            TriggerState::default(),
            Instant::now(),
        );
        assert!(update(&t, &mut s, true, now).is_none());
        assert!(update(&t, &mut s, true, now).is_none());
        assert!(update(&t, &mut s, false, now).is_none());
        assert!(update(&t, &mut s, true, now).is_none());
        assert!(update(&t, &mut s, true, now).is_none());
        assert_eq!(
            update(&t, &mut s, true, now).as_deref(),
            Some("3 hits in a row")
        );
    }

    #[test]
    fn rate_over_window_needs_min_samples_and_forgets_what_left_the_window() {
        let t = Trigger::RateOverWindow {
            window: Duration::from_secs(2),
            threshold: 0.8,
            min_samples: 4,
        };
        let (mut s, t0) = (TriggerState::default(), Instant::now());
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(update(&t, &mut s, true, at(0)).is_none());
        assert!(update(&t, &mut s, true, at(100)).is_none());
        assert!(
            update(&t, &mut s, true, at(200)).is_none(),
            "3 < min_samples"
        );
        assert!(
            update(&t, &mut s, false, at(300)).is_none(),
            "3 of 4 < 80 %"
        );
        // Past two seconds the first two hits have left the window (else this would be 6 of 7).
        assert!(
            update(&t, &mut s, true, at(2150)).is_none(),
            "3 in the window"
        );
        assert!(update(&t, &mut s, true, at(2160)).is_none(), "3 of 4");
        let why = update(&t, &mut s, true, at(2170)).unwrap();
        assert!(why.starts_with("4 of the last 5"), "{why}");
    }
}
