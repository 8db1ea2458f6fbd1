//! GitHub Actions' job summary: when `GITHUB_STEP_SUMMARY` names a file, each scenario appends a
//! markdown section (its status, and every check with the observed value and verdict), so a pull
//! request's checks page shows the verdicts without opening an artifact.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::gate::{ScenarioOutcome, Status, Verdict};

/// The markdown section for one scenario.
pub fn render(outcome: &ScenarioOutcome) -> String {
    let mut out = String::new();
    match outcome {
        ScenarioOutcome::Judged { run, gate } => {
            let status = match gate.status {
                Status::Passed => "✅ passed",
                Status::Failed => "❌ failed",
                Status::Invalid => "⚠️ invalid (the runner could not keep up)",
            };
            let _ = writeln!(out, "### infergate: `{}` {status}\n", run.scenario);
            let _ = writeln!(
                out,
                "Target `{}`, model `{}`{}.\n",
                run.target,
                run.model,
                if run.simulated {
                    " (embedded simulator)"
                } else {
                    ""
                }
            );
            let _ = writeln!(out, "| check | observed | verdict |\n|---|---|---|");
            for c in &gate.checks {
                let verdict = match c.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Fail => "**fail**",
                    Verdict::Invalid => "**invalid**",
                };
                let name = c.name.replace('|', "\\|");
                let _ = writeln!(out, "| `{name}` | {} | {verdict} |", c.observed);
            }
            out.push('\n');
        }
        ScenarioOutcome::Error {
            scenario, message, ..
        } => {
            let _ = writeln!(out, "### infergate: `{scenario}` ⛔ error\n\n{message}\n");
        }
    }
    out
}

/// Appends `render(outcome)` to `$GITHUB_STEP_SUMMARY` when it is set; a failure to write is reported,
/// never fatal.
pub fn append(outcome: &ScenarioOutcome) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(render(outcome).as_bytes()));
    if let Err(e) = written {
        eprintln!("note: cannot write the GitHub step summary: {e}");
    }
}
