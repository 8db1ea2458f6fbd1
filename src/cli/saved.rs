//! `infergate report` and `infergate compare`: saved runs redrawn, and two runs side by side.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::report;

use super::exit;

/// Redraw the plots and report.html of saved runs (scenario directories, or a run directory).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  infergate report reports/saturation\n  infergate report reports/"
)]
pub struct ReportArgs {
    /// Directories holding verdicts.json, or directories of them.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
}

/// Show two saved runs of a scenario side by side (markdown), stage by stage.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  infergate compare baseline-run/saturation reports/saturation")]
pub struct CompareArgs {
    /// The earlier run (a scenario directory holding verdicts.json).
    pub a: PathBuf,
    /// The later run.
    pub b: PathBuf,
}

/// Scenario directories under `dirs`: each directory holding `verdicts.json`, or its subdirectories that do.
fn run_dirs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        if dir.join("verdicts.json").is_file() {
            found.push(dir.clone());
        } else if let Ok(entries) = std::fs::read_dir(dir) {
            let mut subdirs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("verdicts.json").is_file())
                .collect();
            subdirs.sort();
            found.extend(subdirs);
        }
    }
    found
}

pub fn report(args: ReportArgs) -> ExitCode {
    let dirs = &args.dirs;
    let found = run_dirs(dirs);
    if found.is_empty() {
        eprintln!("error: no run directories (holding verdicts.json) under the given paths");
        return ExitCode::from(exit::BAD_INPUT);
    }
    let mut code = exit::PASSED;
    for dir in found {
        match report::html::render_dir(&dir) {
            Ok(()) => println!("{}", dir.join("report.html").display()),
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::BAD_INPUT;
            }
        }
    }
    ExitCode::from(code)
}

pub fn compare(args: CompareArgs) -> ExitCode {
    let (a, b) = (args.a.as_path(), args.b.as_path());
    use report::rundir::RunDir;
    match (RunDir::load(a), RunDir::load(b)) {
        (Ok(ra), Ok(rb)) => {
            let a_name = a.display().to_string();
            let b_name = b.display().to_string();
            print!("{}", report::compare::render(&ra, &rb, &a_name, &b_name));
            if let Some(verdicts) = report::compare::noise_aware(a, b) {
                print!("{verdicts}");
            }
            ExitCode::from(exit::PASSED)
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
