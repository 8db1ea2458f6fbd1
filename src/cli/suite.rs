//! `infergate run` and `infergate validate`: scenario files (or directories of them) run and judged,
//! or only checked.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::execute::{self, OutRoot};
use crate::gate::{ErrorCause, ScenarioOutcome, Status};
use crate::harness::scenario_files;
use crate::options::SuiteArgs;
use crate::report;
use crate::run::Target;
use crate::scenario::Scenario;

use super::exit;

/// Run scenario files and judge them.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  infergate run suites/baseline.yaml --target http://localhost:8000\n  \
                  infergate run suites/ --out reports/\n  infergate run suites/smoke.yaml   \
                  # no target: the embedded simulator, stages shortened\n\n\
                  Docs: docs/scenarios.md (the file), docs/thresholds.md (limits), docs/gate.md \
                  (--baseline, --save-baseline), docs/running.md (every INFERGATE_* variable)."
)]
pub struct RunArgs {
    /// Scenario files or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub suite: SuiteArgs,
}

/// Judge a deployment against another side by side: each stage alternates short blocks between
/// the two in ABBA order with the same requests, and the paired differences decide.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Runs each scenario against two deployments at once, interleaved: every stage is cut \
                  into --pairs pairs of blocks run in ABBA order (A B, B A, ...) against \
                  --baseline-target (A) and --target (B), both blocks of a pair sending the same \
                  requests. Drift in the host or the cluster hits both sides alike, so the paired \
                  differences judge B against A far more surely than two separate runs can. Each \
                  side runs the stage's whole length. Reports: B's in the scenario's directory with \
                  the verdict per statistic (the effect and its interval), A's in `a/`. Exit codes \
                  as for `run`.",
    after_help = "Examples:\n  infergate ab suites/baseline.yaml --baseline-target http://vllm-old:8000 --target http://vllm-new:8000\n  \
                  infergate ab suites/ --baseline-target $OLD --target $NEW --pairs 10"
)]
pub struct AbArgs {
    /// Scenario files or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub suite: SuiteArgs,
}

/// `infergate ab`: `run` with both targets required.
pub fn ab(args: AbArgs) -> ExitCode {
    let missing: Vec<&str> = [
        (
            "--baseline-target URL (INFERGATE_BASELINE_TARGET)",
            args.suite.baseline_target.is_none(),
        ),
        (
            "--target URL (INFERGATE_TARGET)",
            args.suite.target.is_none(),
        ),
    ]
    .into_iter()
    .filter_map(|(flag, absent)| absent.then_some(flag))
    .collect();
    if !missing.is_empty() {
        eprintln!(
            "error: infergate ab needs {}: the deployment to judge against, and the one judged",
            missing.join(" and ")
        );
        return ExitCode::from(exit::BAD_INPUT);
    }
    run(RunArgs {
        paths: args.paths,
        suite: args.suite,
    })
}

/// Check scenario files without running them; lists every file's error with line and key.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  infergate validate suites/")]
pub struct ValidateArgs {
    /// Scenario files or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Files named directly, plus every scenario file under named directories; on error, says why and
/// gives the exit code.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ExitCode> {
    find_files(paths).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(exit::BAD_INPUT)
    })
}

fn find_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = scenario_files(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if found.is_empty() {
                return Err(format!(
                    "{}: no scenario files (*.yaml, *.yml)",
                    path.display()
                ));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

pub fn run(args: RunArgs) -> ExitCode {
    let files = match expand(&args.paths) {
        Ok(files) => files,
        Err(code) => return code,
    };
    let options = match args.suite.options(Target::Scenario) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    // `--out`, else each file's `storage.local_storage.path`, else `reports/`.
    let out = match &options.out {
        Some(dir) => OutRoot::Fixed(dir.clone()),
        None => OutRoot::FileOr(PathBuf::from("reports")),
    };
    let mut outcomes = Vec::new();
    for file in &files {
        let name = file
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        let (outcome, out_root) = execute::scenario_file(file, &name, &options, &out);
        outcomes.push(outcome);
        if let Err(e) = report::write_junit(&out_root.join("junit.xml"), &outcomes) {
            eprintln!("error: {e}");
        }
    }
    ExitCode::from(exit_code(&outcomes))
}

/// The most serious outcome decides: run error > bad input > invalid > failed > passed.
pub(super) fn exit_code(outcomes: &[ScenarioOutcome]) -> u8 {
    outcomes
        .iter()
        .map(|o| match o {
            ScenarioOutcome::Error {
                cause: ErrorCause::BadInput,
                ..
            } => exit::BAD_INPUT,
            ScenarioOutcome::Error {
                cause: ErrorCause::Run,
                ..
            } => exit::RUN_ERROR,
            ScenarioOutcome::Judged { gate, .. } => match gate.status {
                Status::Passed => exit::PASSED,
                Status::Failed => exit::THRESHOLD_FAILED,
                Status::Invalid => exit::RUNNER_INVALID,
            },
        })
        .max_by_key(|code| match *code {
            exit::RUN_ERROR => 4,
            exit::BAD_INPUT => 3,
            exit::RUNNER_INVALID => 2,
            exit::THRESHOLD_FAILED => 1,
            _ => 0,
        })
        .unwrap_or(exit::PASSED)
}

pub fn validate(args: ValidateArgs) -> ExitCode {
    let files = match expand(&args.paths) {
        Ok(files) => files,
        Err(code) => return code,
    };
    let mut bad = 0;
    for file in &files {
        match Scenario::load(file) {
            Ok(scenario) => {
                let implicit = scenario.thresholds.iter().filter(|t| t.implicit).count();
                let search = scenario.capacity.as_ref().map(|c| {
                    format!(
                        ", capacity search over {} in [{}, {}] {} by {}",
                        c.over.name(),
                        c.min,
                        c.max,
                        c.over.unit(),
                        c.judge.describe()
                    )
                });
                println!(
                    "ok: {} ({} stages, {} thresholds{}{})",
                    file.display(),
                    scenario.load.stages.len(),
                    scenario.thresholds.len(),
                    if implicit > 0 {
                        ", error_rate < 1% by default"
                    } else {
                        ""
                    },
                    search.unwrap_or_default()
                );
                for warning in &scenario.warnings {
                    println!("  warning: {warning}");
                }
            }
            Err(errors) => {
                bad += 1;
                for e in errors.0 {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} scenario files have errors", files.len());
        ExitCode::from(exit::BAD_INPUT)
    } else {
        ExitCode::from(exit::PASSED)
    }
}
