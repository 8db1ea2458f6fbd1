//! Opt-in tests against real outside programs, each run only where its program is there:
//!
//! - `llama`: llama.cpp's `llama-server` with a tiny random-weight Llama 3 model, started by
//!   `scripts/real-engine.sh`. Mini versions of the baseline, saturation and concurrency-sweep
//!   suites, plus a chat run, with the same tokenizer as the server.
//! - `prometheus`: a real Prometheus server (Debian's `prometheus` package) scraping two simulator
//!   replicas behind a round-robin forwarder; `.ci/run` installs the package and requires the test.
//!
//! ```sh
//! scripts/real-engine.sh all                     # build once (~7 min), make the model, start the server
//! export $(scripts/real-engine.sh env)           # INFERGATE_ENGINE_URL, INFERGATE_ENGINE_TOKENIZER
//! cargo test --test real_engine -- --test-threads 1
//! ```
//!
//! A test whose program is missing is reported as *ignored*, with the reason printed first, never as
//! passed: the llama.cpp build takes longer than this project's CI budget allows (see the README).
//! Trials run one at a time (load tests side by side would measure each other).

mod llama;
mod prometheus;
mod servers;

use std::future::Future;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let mut trials = llama::trials();
    trials.extend(prometheus::trials());
    libtest_mimic::run(&args, trials).exit_code()
}

/// A trial running `test` on a multi-threaded runtime of two workers, or an ignored one when `missing`
/// says why it cannot run (printed once, before the run, unless only listing).
fn trial<F, Fut>(name: &str, missing: Option<&str>, test: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let trial = Trial::test(name, move || -> Result<(), Failed> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?
            .block_on(test());
        Ok(())
    });
    trial.with_ignored_flag(missing.is_some())
}

/// Prints why the trials of `what` are ignored, when they are.
fn say_ignored(what: &str, missing: Option<&str>) {
    let listing = std::env::args().any(|a| a == "--list");
    if let (Some(reason), false) = (missing, listing) {
        eprintln!("ignored: {what}: {reason}");
    }
}
