//! One scenario file, start to finish: load it, run it, judge it (with its baseline, when there is
//! one), write its reports, save or upload copies, and print its table. The harness and the CLI both call `scenario_file`, so a suite behaves the same either way.
//!
//! Ctrl-C or SIGTERM during a run stops it gracefully: no new requests, a short grace for those in
//! flight, partial reports and JUnit marked incomplete, and every later scenario skipped. A second
//! signal exits at once.

use std::path::Path;
use std::sync::OnceLock;

use crate::gate::{ErrorCause, ScenarioOutcome, evaluate};
use crate::report;
use crate::run::stop::stop_pair;
use crate::run::{RunOptions, run_scenario};
use crate::scenario::Scenario;
use crate::store::publish;

/// Runs the file at `path` as the scenario `name`, writing reports under `out_dir`.
pub fn scenario_file(
    path: &Path,
    name: &str,
    options: &RunOptions,
    out_dir: &Path,
) -> ScenarioOutcome {
    let mut loaded = None;
    let outcome = match Scenario::load(path) {
        _ if INTERRUPTED.get().is_some() => ScenarioOutcome::Error {
            scenario: name.to_string(),
            message: format!("not run: {}", INTERRUPTED.get().map_or("", String::as_str)),
            cause: ErrorCause::Run,
        },
        Err(e) => ScenarioOutcome::Error {
            scenario: name.to_string(),
            message: e.to_string(),
            cause: ErrorCause::BadInput,
        },
        Ok(scenario) => {
            let mut outcome = judge(&scenario, name, options);
            if let ScenarioOutcome::Judged { run, gate } = &mut outcome
                && let Some(comparison) =
                    publish::compare(&scenario, name, &options.publish, out_dir, run)
            {
                gate.attach(comparison);
            }
            loaded = Some(scenario);
            outcome
        }
    };
    if let Err(e) = report::write_scenario(out_dir, &outcome) {
        eprintln!("[{name}] {e}");
    }
    let copies = loaded.map_or_else(Vec::new, |scenario| {
        publish::copies(&scenario, name, &options.publish, out_dir, &outcome)
    });
    for line in &copies {
        eprintln!("[{name}] {line}");
    }
    report::step_summary::append(&outcome, &copies);
    match &outcome {
        ScenarioOutcome::Judged { run, gate } => {
            println!("{}", report::table::render(run, gate));
            println!("[{name}] reports in {}", out_dir.display());
        }
        ScenarioOutcome::Error { message, .. } => eprintln!("[{name}] error: {message}"),
    }
    outcome
}

/// Runs the scenario on a single-threaded runtime: the load generator's timers, sends and reads share
/// one core with no cross-thread wake-ups, so schedule delay measures the runner and nothing else.
/// The embedded simulator, when used, runs on a thread of its own.
fn judge(scenario: &Scenario, name: &str, options: &RunOptions) -> ScenarioOutcome {
    let runtime = match crate::run::load_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return ScenarioOutcome::Error {
                scenario: name.to_string(),
                message: format!("cannot start the async runtime: {e}"),
                cause: ErrorCause::Run,
            };
        }
    };
    let (handle, stop) = stop_pair();
    let options = RunOptions {
        stop,
        ..options.clone()
    };
    runtime.spawn(async move {
        let reason = next_signal().await;
        eprintln!(
            "{reason}: stopping; requests in flight get a few seconds (again to exit at once)"
        );
        let _ = INTERRUPTED.set(format!("the run was {reason}"));
        handle.stop(reason);
        next_signal().await;
        eprintln!("second signal: exiting now");
        std::process::exit(130);
    });
    match runtime.block_on(run_scenario(scenario, &options)) {
        Ok(mut run) => {
            run.scenario = name.to_string();
            let gate = evaluate(&scenario.thresholds, &scenario.validity, &run);
            ScenarioOutcome::Judged {
                run: Box::new(run),
                gate,
            }
        }
        Err(e) => ScenarioOutcome::Error {
            scenario: name.to_string(),
            message: e.to_string(),
            cause: ErrorCause::Run,
        },
    }
}

/// Set once a signal has interrupted a run; later scenarios are then skipped.
static INTERRUPTED: OnceLock<String> = OnceLock::new();

/// Waits for Ctrl-C or SIGTERM and names it.
async fn next_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "interrupted by Ctrl-C";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted by Ctrl-C",
            _ = term.recv() => "terminated by SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted by Ctrl-C"
    }
}
