//! Servers and files shared by the integration tests: a server that misbehaves on purpose, a real
//! S3-compatible store, real tokenizers, and `infergate bench` run gently.

pub mod bench;
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

/// Load tests take turns, two at a time. Every test that drives load holds a turn for its whole run,
/// and so does a test that keeps a core busy for a while (real tokenizers, kubectl); light tests run
/// in parallel as usual. The load tests mostly wait on timers (measured on 2026-12-06 on 2 cores: the
/// saturation suite's comparison used 12 s of CPU in 113 s, the capacity search 10 s in 78 s), and
/// every verdict here is built for a busy machine (loose runner-validity limits, four times slower
/// simulators, intervals), so one other load beside a test is less than the build they are sized for:
/// two at a time, each took as long as alone, also beside two busy loops. Three at a time stretched
/// them there (the saturation report 23 s -> 84 s): they began to measure each other. (tokio's
/// semaphore: fair, it does not poison, so one failing test does not fail the rest, and a permit may be
/// held across `.await`.)
static TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A turn, for async tests.
pub async fn turn() -> tokio::sync::SemaphorePermit<'static> {
    TURNS
        .acquire()
        .await
        .expect("the semaphore is never closed")
}

/// A turn, for tests that are not async.
pub fn turn_blocking() -> tokio::sync::SemaphorePermit<'static> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime to wait on")
        .block_on(turn())
}
