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

/// Load tests take turns, two at a time. Every test that drives load holds a turn for its whole run,
/// and so does a test that keeps a core busy for a while (real tokenizers, kubectl); light tests run
/// in parallel as usual. Measured on 2026-12-06 on a 2-core machine, the load tests are mostly waiting
/// on timers (the saturation suite's comparison, 113 s alone, used 12 s of CPU; the capacity search 10 s
/// in 78 s), and every verdict here is built for a busy machine (loose runner-validity limits, four
/// times slower simulators, intervals), so a second load beside a test is less than the build beside it
/// that they are sized for; one at a time, `it` took 505 s, the sum of its turns. More than two would
/// start to measure each other (the capacity search's probes load a core). (tokio's semaphore: it is
/// fair, does not poison, so one failing test does not fail the rest, and may be held across `.await`.)
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
