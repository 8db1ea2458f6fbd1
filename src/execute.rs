//! One scenario file, start to finish: load it, run it, judge it, write its reports and print its
//! table. The harness and the CLI both call `scenario_file`, so a suite behaves the same either way.

use std::path::Path;

use crate::gate::{ErrorCause, ScenarioOutcome, evaluate};
use crate::outputs;
use crate::run::{RunOptions, run_scenario};
use crate::scenario::Scenario;

/// Runs the file at `path` as the scenario `name`, writing reports under `out_dir`.
pub fn scenario_file(
    path: &Path,
    name: &str,
    options: &RunOptions,
    out_dir: &Path,
) -> ScenarioOutcome {
    let outcome = match Scenario::load(path) {
        Err(e) => ScenarioOutcome::Error {
            scenario: name.to_string(),
            message: e.to_string(),
            cause: ErrorCause::BadInput,
        },
        Ok(scenario) => judge(&scenario, name, options),
    };
    if let Err(e) = outputs::write_scenario(out_dir, &outcome) {
        eprintln!("[{name}] {e}");
    }
    match &outcome {
        ScenarioOutcome::Judged { run, gate } => {
            println!("{}", outputs::table::render(run, gate));
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return ScenarioOutcome::Error {
                scenario: name.to_string(),
                message: format!("cannot start the async runtime: {e}"),
                cause: ErrorCause::Run,
            };
        }
    };
    match runtime.block_on(run_scenario(scenario, options)) {
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
