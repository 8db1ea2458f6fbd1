//! Servers and files shared by the integration tests: a server that misbehaves on purpose, a real
//! S3-compatible store, and real tokenizers.

pub mod fault_server;
pub mod kustomize;
pub mod openai_mock;
pub mod s3_server;
pub mod tokenizers;

/// Runner-validity limits for a test that is not about them, as a scenario's `validity:` line. The
/// defaults (schedule delay p99 < 10 ms, >= 95 % of the scheduled rate) hold on idle cores, but on a
/// shared 2-core machine a test's few sends can be 100 ms late behind another build, and a run that is
/// invalid is never judged. Tests about those limits (`gate_sim`, `cli`, `sharded_runs`) set their own.
pub const LOOSE_VALIDITY: &str = "validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}\n";

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
