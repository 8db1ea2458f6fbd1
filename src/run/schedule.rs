//! When each stage starts: back to back (after `load.interval`) in one process, or at planned offsets
//! from the moment the shards agreed on, so stages stay aligned across hosts.

use std::time::{Duration, Instant};

use crate::plan::{PlannedStage, StageLoad};

/// When each stage starts. Alone, a stage starts as soon as the previous one has drained and the
/// pause (`load.interval`) is over. Met with other shards, each stage starts at its planned offset
/// from the agreed start (the open-loop durations and pauses before it), so stages stay aligned
/// across hosts; a stage after a closed-loop one (whose length nobody can plan) starts when the
/// previous one has drained, as does any stage whose planned start has already passed.
pub(super) struct Schedule {
    /// The planned start of the next stage, while one can be planned.
    planned: Option<Instant>,
    interval: Duration,
}

impl Schedule {
    pub(super) fn new(origin: Option<Instant>, interval: Duration) -> Schedule {
        Schedule {
            planned: origin,
            interval,
        }
    }

    /// The start of `stage`, and the plan for the one after it.
    pub(super) fn start(&mut self, stage: &PlannedStage) -> Instant {
        let start = self.planned.map_or_else(soon, |at| at.max(soon()));
        self.planned = match (self.planned, stage.load) {
            (Some(at), StageLoad::Open { duration, .. }) => Some(at + duration + self.interval),
            _ => None,
        };
        start
    }

    /// The pause between stages: none when the next start is planned (it includes the pause).
    pub(super) async fn pause(&self, stop: &super::stop::Stop) {
        if self.planned.is_none() && !self.interval.is_zero() {
            stop.sleep(self.interval).await;
        }
    }
}

/// How far ahead a stage's start is set, so every load thread has woken, taken the stage and set up
/// its pacer before the first deadline (a thread woken on a busy machine can take milliseconds).
const STAGE_LEAD: Duration = Duration::from_millis(25);

/// The start of a stage that begins now, on every load thread at once.
pub(super) fn soon() -> Instant {
    Instant::now() + STAGE_LEAD
}
