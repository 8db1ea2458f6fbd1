//! Stopping a run early: a signal (Ctrl-C, SIGTERM) or an aborting threshold sets it, the load
//! generator stops sending, gives requests in flight a short grace, and counts the rest as cancelled.

use std::time::Duration;

use tokio::sync::watch;

/// How long requests in flight may finish after a stop before they are cancelled.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Sets the stop. Dropping it without setting it means "never stop".
#[derive(Debug)]
pub struct StopHandle(watch::Sender<Option<String>>);

/// Watches for the stop; cheap to clone.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<Option<String>>);

/// A connected handle and watcher.
pub fn stop_pair() -> (StopHandle, Stop) {
    let (tx, rx) = watch::channel(None);
    (StopHandle(tx), Stop(rx))
}

impl StopHandle {
    /// Stops the run, saying why (e.g. `interrupted by Ctrl-C`). The first reason wins.
    pub fn stop(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.0.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// A watcher for this handle.
    pub fn watcher(&self) -> Stop {
        Stop(self.0.subscribe())
    }
}

impl Default for Stop {
    /// A stop that never happens.
    fn default() -> Self {
        stop_pair().1
    }
}

impl Stop {
    /// Why the run was stopped, if it was.
    pub fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    pub fn is_set(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Completes when the stop is set; never, if its handle is gone unset.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Sleeps for `duration`, or less if the stop is set meanwhile (the pause between stages).
    pub async fn sleep(&self, duration: std::time::Duration) {
        tokio::select! {
            _ = self.wait() => {}
            _ = tokio::time::sleep(duration) => {}
        }
    }

    /// Completes `STOP_GRACE` after the stop is set.
    pub async fn grace_over(&self) {
        self.wait().await;
        tokio::time::sleep(STOP_GRACE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_first_reason_wins_and_waiters_wake() {
        let (handle, stop) = stop_pair();
        assert!(!stop.is_set());
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.wait().await }
        });
        handle.stop("first");
        handle.stop("second");
        waiter.await.unwrap();
        assert_eq!(stop.reason().as_deref(), Some("first"));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_default_stop_never_fires() {
        let stop = Stop::default();
        let waited = tokio::time::timeout(Duration::from_secs(3600), stop.wait()).await;
        assert!(waited.is_err());
    }
}
