//! Stage 3 of the pipeline, running: it makes the load. `run_scenario` resolves the target (or starts
//! the embedded simulator), checks it answers (`preflight`), and drives the warm-up, the sweep's probes
//! (`sweep`) and every stage (`driver`, paced by `pacer`, shown by `progress`, stopped by `stop`,
//! each request written down by `records` when asked),
//! handing back a `RunResult` of recorders for the gate to judge.
//!
//! Imports `scenario`, `client`, `plan`, `sim` and `measure`; never the gate or the reports (abort
//! rules come in as a closure, `Abort`).

pub mod breakers;
pub mod capacity;
pub mod driver;
mod load;
pub mod merge;
mod options;
pub mod pacer;
mod planning;
pub mod preflight;
mod prepare;
mod probes;
pub mod progress;
pub mod records;
pub mod replay;
mod result;
mod runner;
mod schedule;
mod send;
pub mod sessions;
pub mod stop;
pub mod sweep;
pub mod workers;

pub use crate::client::http::redact_url;
pub use options::{
    Abort, AbortCheck, DEFAULT_REQUEST_TIMEOUT, Meet, MeetFn, RunOptions, Target, api_key_from_env,
};
pub use result::{RunResult, StageResult};
pub use runner::run_scenario;

/// Why a run could not produce results at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("target {target} is not usable: {reason}")]
    Target { target: String, reason: String },
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error(transparent)]
    Tokenizer(#[from] crate::plan::tokens::TokenizerError),
    #[error("cannot start the embedded simulator: {0}")]
    Simulator(#[source] std::io::Error),
    /// The data or the sweep could not be set up (a dataset that does not load, say).
    #[error("{0}")]
    Setup(String),
    /// The shards did not all meet (`--rendezvous`).
    #[error("rendezvous: {0}")]
    Rendezvous(String),
}

/// The runtime a run drives its load from: single-threaded, so timers, sends and reads share one core
/// with no cross-thread hand-offs (the pacer's timerfd wakes this runtime's own epoll; see `pacer`).
/// Wake-ups from other threads (the stop signal, the embedded simulator's shutdown) arrive through the
/// runtime's remote queue, which tokio checks every `global_queue_interval` task polls (31 by
/// default); checking it every 4 keeps them from waiting behind hundreds of ready stream reads.
pub fn load_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .global_queue_interval(4)
        .build()
}
