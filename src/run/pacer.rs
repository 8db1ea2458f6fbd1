//! The open-loop metronome: a small thread that sleeps until each arrival's deadline and hands the
//! deadline to the load generator through a channel.
//!
//! tokio's timer has 1 ms ticks and, on a busy runtime, fires only when the runtime next looks at it,
//! so sleeping on it makes sends up to a few milliseconds late. Spinning for milliseconds before every
//! deadline fixes that but burns the core the requests need. A thread blocked in `recv_timeout` (a
//! futex with a high-resolution timeout, ~50 µs slack) wakes on time and costs nothing while it waits.
//! It hands each deadline over `HEAD_START` (2 ms) early, which absorbs the operating system's latency
//! in waking first this thread and then the runtime's on a busy machine; `Pacer::next` spends the rest
//! yielding to other tasks (which keep running), so the send itself happens on a thread that is
//! already running. The yielding shows up as CPU time when the runtime has nothing else to do.

use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::plan::arrivals::Arrivals;

/// How long before its deadline an arrival is handed to the runtime.
const HEAD_START: Duration = Duration::from_millis(2);

/// A running metronome for one stage's arrivals.
pub struct Pacer {
    due: mpsc::UnboundedReceiver<Instant>,
    stop: Option<std_mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<u64>>,
}

impl Pacer {
    /// Starts ticking: arrival `i` is handed over at `started + offset_i`.
    pub fn start(started: Instant, arrivals: Arrivals) -> std::io::Result<Pacer> {
        let (due_tx, due) = mpsc::unbounded_channel();
        let (stop, stop_rx) = std_mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("infergate-pacer".into())
            .spawn(move || tick(started, arrivals, &due_tx, &stop_rx))?;
        Ok(Pacer {
            due,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The deadline of the next request, once it has come; `None` after the last.
    pub async fn next(&mut self) -> Option<Instant> {
        let deadline = self.due.recv().await?;
        while Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        Some(deadline)
    }

    /// Stops the metronome and returns how many arrivals were never handed over or never taken.
    pub fn cancel(mut self) -> u64 {
        self.stop.take();
        let never_ticked = self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0);
        let mut not_taken = 0;
        while self.due.try_recv().is_ok() {
            not_taken += 1;
        }
        never_ticked + not_taken
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's loop; returns how many arrivals it never handed over because it was stopped.
fn tick(
    started: Instant,
    mut arrivals: Arrivals,
    due: &mpsc::UnboundedSender<Instant>,
    stop: &std_mpsc::Receiver<()>,
) -> u64 {
    while let Some(offset) = arrivals.next() {
        let deadline = started + offset;
        let wake = deadline.checked_sub(HEAD_START).unwrap_or(deadline);
        loop {
            let now = Instant::now();
            if now >= wake {
                break;
            }
            match stop.recv_timeout(wake - now) {
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                // Stopped (the sender is dropped, never used to send).
                _ => return 1 + arrivals.count() as u64,
            }
        }
        if due.send(deadline).is_err() {
            return 1 + arrivals.count() as u64;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::arrivals::Process;
    use std::time::Duration;

    #[tokio::test]
    async fn hands_over_every_deadline_in_order_and_not_early() {
        let started = Instant::now();
        let arrivals = Arrivals::new(Process::Constant, 200.0, Duration::from_millis(100), 1);
        let mut pacer = Pacer::start(started, arrivals).unwrap();
        let mut seen = Vec::new();
        while let Some(deadline) = pacer.next().await {
            assert!(
                Instant::now() >= deadline,
                "handed over before its deadline"
            );
            seen.push(deadline);
        }
        assert_eq!(seen.len(), 20);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn cancel_counts_what_was_never_taken() {
        let started = Instant::now();
        let arrivals = Arrivals::new(Process::Constant, 10.0, Duration::from_secs(10), 1);
        let mut pacer = Pacer::start(started, arrivals).unwrap();
        assert!(pacer.next().await.is_some());
        assert_eq!(pacer.cancel(), 99);
    }
}
