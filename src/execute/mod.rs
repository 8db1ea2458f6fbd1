//! One scenario file, start to finish: load it, run it, judge it (with its baseline, when there is
//! one), write its reports, save or upload copies, and print its table. The harness and the CLI both
//! call `scenario_file`, so a suite behaves the same either way.
//!
//! With `--shard I/N`, the run is one shard of several (`shards`): it meets the others first, and
//! afterwards leaves its results for shard 0, which merges them and judges the whole.
//!
//! Ctrl-C or SIGTERM during a run stops it gracefully: no new requests, a short grace for those in
//! flight, partial reports and JUnit marked incomplete, and every later scenario skipped. A second
//! signal exits at once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::gate::{ErrorCause, ScenarioOutcome, abort_rule, evaluate};
use crate::options::Options;
use crate::report;
use crate::run::stop::stop_pair;
use crate::run::{RunOptions, run_scenario};

mod ab;
mod confirm;
pub mod shards;
use crate::scenario::Scenario;
use crate::store::publish;

/// Where a suite's reports go: each scenario gets `ROOT/<name>/`.
#[derive(Debug, Clone)]
pub enum OutRoot {
    /// This root for every scenario.
    Fixed(PathBuf),
    /// The file's `storage.local_storage.path`, else this root.
    FileOr(PathBuf),
}

/// Runs the file at `path` as the scenario `name`, writing reports under `out`'s root for it; returns
/// the outcome and that root.
pub fn scenario_file(
    path: &Path,
    name: &str,
    options: &Options,
    out: &OutRoot,
) -> (ScenarioOutcome, PathBuf) {
    let mut loaded = None;
    let parsed = Scenario::load(path);
    let root = match (out, &parsed) {
        (OutRoot::Fixed(root), _) => root.clone(),
        (OutRoot::FileOr(root), Ok(scenario)) => scenario
            .storage
            .local_path
            .clone()
            .unwrap_or_else(|| root.clone()),
        (OutRoot::FileOr(root), Err(_)) => root.clone(),
    };
    let out_dir = &root.join(name);
    let outcome = match parsed {
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
            let outcome = match &options.ab {
                Some(ab) => ab::run_ab(&scenario, name, options, ab, out_dir),
                None => confirm::run_compared(&scenario, name, options, out_dir),
            };
            loaded = Some(scenario);
            outcome
        }
    };
    let outcome = finish(loaded.as_ref(), name, options, out_dir, outcome);
    (outcome, root)
}

/// The end of every judged scenario, one run's or a merge's: the baseline comparison, the reports,
/// copies and uploads, the job summary and the table.
pub fn finish(
    loaded: Option<&Scenario>,
    name: &str,
    options: &Options,
    out_dir: &Path,
    mut outcome: ScenarioOutcome,
) -> ScenarioOutcome {
    // A merge of shards' results is compared here; a whole run already was (`confirm`).
    if let (ScenarioOutcome::Judged { gate, run }, Some(scenario)) = (&mut outcome, loaded)
        && run.shard.count() == 1
        && gate.comparison.is_none()
        && let Some(baselines) = publish::baselines(scenario, name, &options.publish, out_dir)
    {
        gate.attach(publish::compare(
            scenario,
            &baselines,
            &options.publish,
            &gate.samples,
        ));
    }
    if let Err(e) = report::write_scenario(out_dir, &outcome) {
        eprintln!("[{name}] {e}");
    }
    // A shard other than 0 saves no baseline and uploads nothing: the merged run does.
    let merged_or_whole =
        matches!(&outcome, ScenarioOutcome::Judged { run, .. } if run.shard.count() == 1);
    let copies = match loaded {
        Some(scenario) if merged_or_whole || matches!(outcome, ScenarioOutcome::Error { .. }) => {
            publish::copies(scenario, name, &options.publish, out_dir, &outcome)
        }
        _ => Vec::new(),
    };
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
fn run_and_evaluate(
    scenario: &Scenario,
    name: &str,
    options: &Options,
    out_dir: &Path,
) -> ScenarioOutcome {
    let meeting = options
        .sharding
        .as_ref()
        .map(|s| shards::meeting(scenario, name, s));
    let meeting = match meeting.transpose() {
        Ok(meeting) => meeting,
        Err(message) => {
            return ScenarioOutcome::Error {
                scenario: name.to_string(),
                message,
                cause: ErrorCause::BadInput,
            };
        }
    };
    let run_options = RunOptions {
        abort: abort_rule(&scenario.thresholds),
        meet: meeting.as_ref().map(shards::meet),
        records: scenario
            .per_request
            .map(|_| out_dir.join(crate::run::records::FILE_NAME)),
        ..options.run.clone()
    };
    let (run, runtime) = match run_stoppable(scenario, name, run_options) {
        Ok(done) => done,
        Err(outcome) => return *outcome,
    };
    if let Some(meeting) = &meeting {
        return runtime.block_on(shards::after_run(scenario, meeting, run));
    }
    let gate = evaluate(&scenario.thresholds, &scenario.validity, &run);
    ScenarioOutcome::Judged {
        run: Box::new(run),
        gate,
    }
}

/// Runs the scenario on the load runtime with `options`, stopping gracefully at a signal (Ctrl-C or
/// SIGTERM: no new requests, a short grace for those in flight; a second signal exits at once);
/// hands back the run and the runtime, or the error as an outcome.
fn run_stoppable(
    scenario: &Scenario,
    name: &str,
    options: RunOptions,
) -> Result<(crate::run::RunResult, tokio::runtime::Runtime), Box<ScenarioOutcome>> {
    let failed = |message: String| {
        Box::new(ScenarioOutcome::Error {
            scenario: name.to_string(),
            message,
            cause: ErrorCause::Run,
        })
    };
    let runtime = crate::run::load_runtime()
        .map_err(|e| failed(format!("cannot start the async runtime: {e}")))?;
    let (handle, stop) = stop_pair();
    let options = RunOptions { stop, ..options };
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
            Ok((run, runtime))
        }
        Err(e) => Err(failed(e.to_string())),
    }
}

/// Set once a signal has interrupted a run; later scenarios are then skipped.
static INTERRUPTED: OnceLock<String> = OnceLock::new();

/// Why a signal interrupted the suite, once one has.
fn interrupted() -> Option<&'static String> {
    INTERRUPTED.get()
}

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
