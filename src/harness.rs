//! The `cargo test --test perf-suites` front door: every scenario file becomes a libtest-mimic trial.
//!
//! Trials are named by their path under the suites directory (`baseline`, `team/chat-smoke`), sorted,
//! and run one at a time unless `--test-threads` says otherwise (parallel load tests would measure each
//! other). `--list` and filters work as with any test binary and `--list` runs nothing. After the run,
//! `junit.xml` is written beside the per-scenario reports. Environment:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `INFERGATE_SUITES` | directory of scenario files | the directory passed to `main` |
//! | `INFERGATE_TARGET` | endpoint URL for every scenario (overrides `server.base_url`); `scenario` uses each file's own `server.base_url` | the embedded simulator |
//! | `INFERGATE_OUT` | where reports and `junit.xml` go | `$CARGO_TARGET_DIR/infergate` or `target/infergate` |
//! | `INFERGATE_FULL` | `1` runs full stage lengths even against the simulator | quick mode |
//! | `INFERGATE_WAIT_READY` | seconds to keep polling a target that is down or starting | no wait |
//! | `INFERGATE_API_KEY` | bearer token for every scenario (overrides `server.api_key`) | the file's |
//! | `INFERGATE_BASELINE` | compare with the baselines here (directory or `s3://bucket/prefix`) | `regression.baseline` |
//! | `INFERGATE_SAVE_BASELINE` | add each valid run to its scenario's history of saved runs here | not saved |
//! | `INFERGATE_FORCE_BASELINE` | `1`: compare even when the load config differs | refuse |
//! | `INFERGATE_BASELINE_TARGET` | judge `INFERGATE_TARGET` against this endpoint, interleaved A/B | not A/B |
//! | `INFERGATE_AB_PAIRS` | pairs of blocks per stage in an A/B run | 6 |
//! | `INFERGATE_UPLOAD` | `auto`, `always`, `never`: upload to `storage.simple_storage_service` | `auto` (not for the simulator) |
//! | `INFERGATE_TOKENIZER` | a tokenizer for every scenario (overrides `tokenizer`) | the file's |
//!
//! They are read by `options::SuiteArgs`, as `infergate run` reads them; a bad value stops the run
//! before any load, naming the variable (exit code 2).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::execute::{self, OutRoot};
use crate::gate::{ScenarioOutcome, Status};
use crate::options::SuiteArgs;
use crate::report;
use crate::run::Target;

/// Runs every scenario under `suites_dir` (or `$INFERGATE_SUITES`) as a test; returns the exit code.
pub fn main(suites_dir: &str) -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let dir = std::env::var_os("INFERGATE_SUITES")
        .map_or_else(|| PathBuf::from(suites_dir), PathBuf::from);
    let files = match scenario_files(&dir) {
        Ok(files) if files.is_empty() => {
            eprintln!(
                "error: no scenario files (*.yaml, *.yml) under {}",
                dir.display()
            );
            return ExitCode::from(2);
        }
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: cannot read suites directory {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let options = match SuiteArgs::from_env() {
        Ok(args) => match args.options(Target::Simulator) {
            Ok(options) => options,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let out_root = options.out.clone().unwrap_or_else(default_out_root);
    let outcomes: Arc<Mutex<Vec<ScenarioOutcome>>> = Arc::default();
    let trials = files
        .into_iter()
        .map(|path| {
            let name = trial_name(&dir, &path);
            let options = options.clone();
            let out = OutRoot::Fixed(out_root.clone());
            let outcomes = Arc::clone(&outcomes);
            Trial::test(name.clone(), move || {
                let (outcome, _) = execute::scenario_file(&path, &name, &options, &out);
                let verdict = trial_verdict(&outcome);
                outcomes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(outcome);
                verdict
            })
        })
        .collect();
    let listing = args.list;
    let conclusion = libtest_mimic::run(&args, trials);
    if !listing {
        let mut outcomes = outcomes.lock().unwrap_or_else(|e| e.into_inner());
        if !outcomes.is_empty() {
            outcomes.sort_by(|a, b| a.scenario().cmp(b.scenario()));
            let path = out_root.join("junit.xml");
            match report::write_junit(&path, &outcomes) {
                Ok(()) => eprintln!("JUnit report: {}", path.display()),
                Err(e) => eprintln!("error: {e}"),
            }
        }
    }
    conclusion.exit_code()
}

fn trial_verdict(outcome: &ScenarioOutcome) -> Result<(), Failed> {
    match outcome {
        ScenarioOutcome::Error { message, .. } => Err(format!("could not run: {message}").into()),
        ScenarioOutcome::Judged { gate, .. } => {
            let reasons: Vec<String> = gate
                .failed_checks()
                .map(|c| format!("{}: {}", c.name, c.message))
                .collect();
            match gate.status {
                Status::Passed => Ok(()),
                Status::Failed => {
                    Err(format!("thresholds failed:\n  {}", reasons.join("\n  ")).into())
                }
                Status::Invalid => Err(format!(
                    "invalid run, not a verdict on the target:\n  {}",
                    reasons.join("\n  ")
                )
                .into()),
            }
        }
    }
}

/// `$CARGO_TARGET_DIR/infergate`, or `target/infergate`.
fn default_out_root() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("infergate")
}

/// Every `*.yaml` / `*.yml` file under `dir`, recursively, sorted. Hidden entries are skipped (a
/// ConfigMap mounted in a pod holds each file three times: the file, and copies under `..data/`
/// and a timestamped `..<date>/`), and so is `kustomization.yaml`, which lets a suites folder be
/// the kustomize root that turns it into that ConfigMap.
pub fn scenario_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.starts_with("kustomization.") {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `suites/team/chat.yaml` under `suites` is `team/chat`.
fn trial_name(dir: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(dir).unwrap_or(path).with_extension("");
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_mounted_configmap_and_its_kustomization_give_each_scenario_once() {
        // The layout the kubelet gives a ConfigMap volume: files are links into `..data`, which
        // links to a timestamped folder.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let stamp = d.join("..2026_12_02_00_00_00.1");
        std::fs::create_dir_all(stamp.join("team")).unwrap();
        std::fs::write(stamp.join("chat.yaml"), "").unwrap();
        std::os::unix::fs::symlink("..2026_12_02_00_00_00.1", d.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/chat.yaml", d.join("chat.yaml")).unwrap();
        std::fs::create_dir(d.join("team")).unwrap();
        std::fs::write(d.join("team/rag.yml"), "").unwrap();
        std::fs::write(d.join("kustomization.yaml"), "").unwrap();
        std::fs::write(d.join("notes.txt"), "").unwrap();
        let found = scenario_files(d).unwrap();
        assert_eq!(found, vec![d.join("chat.yaml"), d.join("team/rag.yml")]);
    }
}
