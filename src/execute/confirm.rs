//! A run compared with its scenario's saved runs, and a regression confirmed before it fails the
//! build: with `regression.confirm: N` (1 against a real target, 0 against the simulator by default)
//! a run whose comparison regressed is run again, up to N times, and the scenario fails only on the
//! rows that regressed in every run. Each earlier run's reports are kept in `run-<k>/` beside the
//! final run's, whose comparison names what the earlier runs found.
//!
//! Against the embedded simulator, which shares this machine with the runner, a run the runner calls
//! invalid (it fell behind its schedule: another process had the cores) says nothing about the target,
//! so it is run again, up to `INVALID_RERUNS` times, and the last run counts; each invalid run's
//! reports are kept in `invalid-<k>/`. Against a real target an invalid run stands as it is.

use std::path::Path;

use crate::gate::baseline::Comparison;
use crate::gate::{ScenarioOutcome, Status};
use crate::options::Options;
use crate::report;
use crate::scenario::Scenario;
use crate::store::publish::{self, Baselines};

/// Runs `scenario` and judges it; when it is compared with saved runs (and not one shard of
/// several), compares it and confirms a regression by running again.
pub(super) fn run_compared(
    scenario: &Scenario,
    name: &str,
    options: &Options,
    out_dir: &Path,
) -> ScenarioOutcome {
    let baselines = match options.sharding {
        Some(_) => None,
        None => publish::baselines(scenario, name, &options.publish, out_dir),
    };
    let mut options = options.clone();
    options.run.default_warmup = options.publish.baseline.is_some()
        || options.publish.save_baseline.is_some()
        || scenario.regression.baseline.is_some();
    let mut outcome = valid_run(scenario, name, &options, out_dir);
    let Some(baselines) = baselines else {
        return outcome;
    };
    attach(scenario, &baselines, &options, &mut outcome, &[]);
    let ScenarioOutcome::Judged { run, .. } = &outcome else {
        return outcome;
    };
    let confirm = scenario.regression.confirm_for(run.simulated) as usize;
    let mut earlier: Vec<Vec<String>> = Vec::new();
    while earlier.len() < confirm && super::interrupted().is_none() {
        let regressed = regressed_rows(&outcome);
        if regressed.is_empty() {
            break;
        }
        let kept = out_dir.join(format!("run-{}", earlier.len() + 1));
        if let Err(e) = report::write_scenario(&kept, &outcome) {
            eprintln!("[{name}] {e}");
        }
        eprintln!(
            "[{name}] regressed: {}; running again to confirm (regression.confirm: {confirm}; this run's reports are in {})",
            regressed.join(", "),
            kept.display()
        );
        earlier.push(regressed);
        outcome = valid_run(scenario, name, &options, out_dir);
        attach(scenario, &baselines, &options, &mut outcome, &earlier);
    }
    outcome
}

/// Invalid runs against the simulator run again at most this many times.
pub const INVALID_RERUNS: usize = 2;

/// Runs and judges `scenario`; against the simulator, runs it again while the runner calls the run
/// invalid (see the module's docs).
fn valid_run(
    scenario: &Scenario,
    name: &str,
    options: &Options,
    out_dir: &Path,
) -> ScenarioOutcome {
    let mut outcome = super::run_and_evaluate(scenario, name, options, out_dir);
    for k in 1..=INVALID_RERUNS {
        let ScenarioOutcome::Judged { run, gate } = &outcome else {
            break;
        };
        let stopped = run.stopped.is_some() || super::interrupted().is_some();
        if !run.simulated || gate.status != Status::Invalid || stopped {
            break;
        }
        let why: Vec<String> = gate.failed_checks().map(|c| c.message.clone()).collect();
        let kept = out_dir.join(format!("invalid-{k}"));
        if let Err(e) = report::write_scenario(&kept, &outcome) {
            eprintln!("[{name}] {e}");
        }
        eprintln!(
            "[{name}] invalid against the simulator, which shares this machine ({}); running again ({k} of {INVALID_RERUNS}; this run's reports are in {})",
            why.join("; "),
            kept.display()
        );
        outcome = super::run_and_evaluate(scenario, name, options, out_dir);
    }
    outcome
}

/// Compares a judged run with the saved runs and adds the comparison to its gate; `earlier` are
/// the rows that regressed in each earlier run, and a row regresses now only if it did in each.
fn attach(
    scenario: &Scenario,
    baselines: &Baselines,
    options: &Options,
    outcome: &mut ScenarioOutcome,
    earlier: &[Vec<String>],
) {
    let ScenarioOutcome::Judged { gate, .. } = outcome else {
        return;
    };
    let mut comparison = publish::compare(scenario, baselines, &options.publish, &gate.samples);
    if !earlier.is_empty() {
        comparison.confirm(earlier);
    }
    gate.attach(comparison);
}

/// The keys of the rows a judged run's comparison called regressed.
fn regressed_rows(outcome: &ScenarioOutcome) -> Vec<String> {
    match outcome {
        ScenarioOutcome::Judged { gate, .. } => gate
            .comparison
            .as_ref()
            .map_or_else(Vec::new, Comparison::regressed_keys),
        ScenarioOutcome::Error { .. } => Vec::new(),
    }
}
