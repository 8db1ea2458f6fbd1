//! The open-loop metronome: hands a stage's arrivals to the load generator at their deadlines, each
//! with its request built beforehand.
//!
//! tokio's timer has 1 ms ticks, so sleeping on it makes sends up to a millisecond late; spinning
//! before every deadline keeps the send on time but burns the core the requests need (and, with
//! several load threads, the cores the others need). So on Linux each deadline is a `timerfd`
//! registered with the load thread's own runtime and armed for the deadline itself: the kernel's
//! high-resolution timer wakes the runtime's epoll, and the thread sleeps until then, so CPU follows
//! the work. At high rates the thread is awake with responses anyway and the wake-up costs nothing;
//! at low rates waking an idle thread takes 0.1–0.3 ms here, which is the schedule delay a low rate
//! shows (no spinning to hide it). (Elsewhere tokio's timer is used.) The next request is built right
//! after the previous one is handed over, while waiting for its deadline, never on the send path.

use std::time::{Duration, Instant};

use crate::plan::datagen::RequestSpec;

/// One arrival, due now: when it was due, its global index and its request.
pub struct Due {
    pub deadline: Instant,
    pub index: u64,
    pub spec: RequestSpec,
}

/// A stage's arrivals on a precise timer.
pub struct Pacer<A, P> {
    started: Instant,
    arrivals: A,
    prepare: P,
    /// The next arrival, once drawn and prepared (kept when a wait for it is cancelled).
    pending: Option<Due>,
    timer: Timer,
}

impl<A, P> Pacer<A, P>
where
    A: Iterator<Item = (u64, Duration)>,
    P: FnMut(u64) -> RequestSpec,
{
    /// Arrival `(index, offset)` is due at `started + offset`, with the request `prepare(index)`. Must
    /// be called on the runtime that awaits `next`.
    pub fn new(started: Instant, arrivals: A, prepare: P) -> std::io::Result<Self> {
        Ok(Pacer {
            started,
            arrivals,
            prepare,
            pending: None,
            timer: Timer::new()?,
        })
    }

    /// The next arrival, once it is due; `None` after the last. Cancel-safe: an arrival whose wait
    /// is dropped is handed over by the next call (or counted by `remaining`).
    pub async fn next(&mut self) -> Option<Due> {
        if self.pending.is_none() {
            let (index, offset) = self.arrivals.next()?;
            self.pending = Some(Due {
                deadline: self.started + offset,
                index,
                spec: (self.prepare)(index),
            });
        }
        let deadline = self.pending.as_ref()?.deadline;
        self.timer.sleep_until(deadline).await;
        self.pending.take()
    }

    /// How many arrivals were never handed over.
    pub fn remaining(self) -> u64 {
        self.pending.is_some() as u64 + self.arrivals.count() as u64
    }
}

#[cfg(target_os = "linux")]
use linux::Timer;

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::time::Instant;

    use timerfd::{ClockId, SetTimeFlags, TimerFd, TimerState};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// A one-shot `timerfd` on the monotonic clock (the one `Instant` reads).
    pub struct Timer(AsyncFd<TimerFd>);

    impl Timer {
        pub fn new() -> io::Result<Timer> {
            let fd = TimerFd::new_custom(ClockId::Monotonic, true, true)?;
            // SAFETY: `TimerFd` owns its descriptor (an `OwnedFd`), which stays open and the same
            // for as long as the `AsyncFd` holds it.
            let registered = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
            Ok(Timer(registered?))
        }

        pub async fn sleep_until(&mut self, deadline: Instant) {
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return;
                }
                // Armed afresh each time round, so a wake-up that comes early can never leave the
                // wait with a disarmed timer.
                self.0
                    .get_mut()
                    .set_state(TimerState::Oneshot(deadline - now), SetTimeFlags::Default);
                loop {
                    let Ok(mut ready) = self.0.readable().await else {
                        // The reactor is gone (shutting down): fall back to the coarse timer.
                        tokio::time::sleep_until(deadline.into()).await;
                        return;
                    };
                    let expired = ready.try_io(|fd| match fd.get_ref().read() {
                        0 => Err(io::ErrorKind::WouldBlock.into()),
                        n => Ok(n),
                    });
                    if matches!(expired, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
struct Timer;

#[cfg(not(target_os = "linux"))]
impl Timer {
    fn new() -> std::io::Result<Timer> {
        Ok(Timer)
    }

    async fn sleep_until(&mut self, deadline: Instant) {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::arrivals::{Arrivals, Process};
    use std::time::Duration;

    fn spec(index: u64) -> RequestSpec {
        RequestSpec {
            prompt: format!("request {index}"),
            prompt_tokens: 2,
            max_tokens: 1,
            turn: None,
            adapter: None,
            media: None,
        }
    }

    fn every(rate: f64, duration: Duration) -> impl Iterator<Item = (u64, Duration)> {
        Arrivals::new(Process::Constant, rate, duration, 1)
            .enumerate()
            .map(|(i, d)| (i as u64, d))
    }

    #[tokio::test]
    async fn hands_over_every_deadline_in_order_and_not_early() {
        let started = Instant::now();
        let mut pacer =
            Pacer::new(started, every(200.0, Duration::from_millis(100)), spec).unwrap();
        let mut seen = Vec::new();
        while let Some(due) = pacer.next().await {
            assert!(
                Instant::now() >= due.deadline,
                "handed over before its deadline"
            );
            assert_eq!(due.spec.prompt, format!("request {}", due.index));
            seen.push(due.deadline);
        }
        assert_eq!(seen.len(), 20);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn an_interrupted_wait_loses_nothing() {
        let started = Instant::now();
        let mut pacer = Pacer::new(started, every(1.0, Duration::from_secs(100)), spec).unwrap();
        assert_eq!(pacer.next().await.map(|d| d.index), Some(0));
        // Arrival 1 is due in 1 s; give up waiting after 10 ms. (Due in 100 ms, a busy machine's
        // stall of that long would let it arrive before the timeout is looked at.)
        let waited = tokio::time::timeout(Duration::from_millis(10), pacer.next()).await;
        assert!(waited.is_err());
        assert_eq!(pacer.remaining(), 99);
    }
}
