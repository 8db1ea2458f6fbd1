//! Servers and files shared by the integration tests: a server that misbehaves on purpose, a real
//! S3-compatible store, and real tokenizers.

pub mod fault_server;
pub mod kustomize;
pub mod openai_mock;
pub mod prometheus;
pub mod s3_server;
pub mod tokenizers;

/// Load tests take turns. Two at once on a 2-core machine measure each other (schedule delay, the
/// runner's validity limits, `infergate bench`'s pinned cores), so every test that drives load holds
/// a turn for its whole run, and so does a test that keeps a core busy for a while (real tokenizers,
/// kubectl); light tests run in parallel as usual. (tokio's mutex: it does not
/// poison, so one failing test does not fail the rest, and it may be held across `.await`.)
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A turn, for async tests.
pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}

/// A turn, for tests that are not async.
pub fn turn_blocking() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.blocking_lock()
}
