//! GitHub Actions' job summary: when `GITHUB_STEP_SUMMARY` names a file, each scenario appends a
//! markdown section (its status, every check with the observed value and verdict, and the comparison
//! with its baseline: value, baseline, change, verdict), so a pull request's checks page shows the
//! verdicts without opening an artifact.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::gate::baseline::change::{Change, catchable};
use crate::gate::baseline::{Comparison, Problem, RowSource, allowance_text};
use crate::gate::{CheckKind, ScenarioOutcome, Status, Verdict};

/// The markdown section for one scenario; `notes` (copies saved or uploaded) become a list under it.
pub fn render(outcome: &ScenarioOutcome, notes: &[String]) -> String {
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
            for c in gate
                .checks
                .iter()
                .filter(|c| c.kind != CheckKind::Regression)
            {
                let verdict = match c.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Fail => "**fail**",
                    Verdict::Invalid => "**invalid**",
                };
                let name = c.name.replace('|', "\\|");
                let _ = writeln!(out, "| `{name}` | {} | {verdict} |", c.observed);
            }
            out.push('\n');
            if let (Some(slo), Some(attained)) = (run.total.slo, run.total.slo_attainment()) {
                let _ = writeln!(
                    out,
                    "Goodput ({}): {} good requests, {:.1} % of those sent, {:.2} good req/s.\n",
                    slo.describe(),
                    run.total.goodput.good,
                    attained * 100.0,
                    run.total.goodput_per_sec()
                );
            }
            if let Some(capacity) = &run.capacity {
                let _ = writeln!(out, "Capacity: {}.\n", capacity.describe());
            }
            if let Some(comparison) = &gate.comparison {
                out.push_str(&comparison_markdown(comparison));
            }
        }
        ScenarioOutcome::Error {
            scenario, message, ..
        } => {
            let _ = writeln!(out, "### infergate: `{scenario}` ⛔ error\n\n{message}\n");
        }
    }
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    if !notes.is_empty() {
        out.push('\n');
    }
    out
}

/// The comparison with the baseline: where it came from, then one row per statistic with the current
/// value, the baseline's, the change and the verdict.
pub fn comparison_markdown(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = write!(out, "**Baseline** `{}`", comparison.location);
    if let Some(about) = &comparison.about {
        let _ = write!(out, ", {about}");
    }
    out.push_str("\n\n");
    match &comparison.problem {
        Some(Problem::NotConfigured) => out.push_str(
            "No baseline was given (`--baseline`, `INFERGATE_BASELINE` or `regression.baseline`); relative thresholds were not checked.\n\n",
        ),
        Some(Problem::Missing) => out.push_str(
            "No baseline saved for this scenario yet; nothing compared. Runs saved with `--save-baseline` (e.g. on pushes to main) become the baseline.\n\n",
        ),
        Some(Problem::Refused(reason)) => {
            let _ = writeln!(out, "⛔ Comparison refused: {reason}.\n");
        }
        Some(Problem::Unreadable(reason)) => {
            let _ = writeln!(out, "⛔ Cannot read the baseline: {reason}.\n");
        }
        None => {}
    }
    for note in &comparison.notes {
        let _ = writeln!(out, "note: {note}\n");
    }
    if let Some(k) = &comparison.confirmation {
        let _ = writeln!(
            out,
            "Confirmed over {} runs: a row fails only if it regressed in every one.\n",
            k.runs
        );
    }
    if comparison.rows.is_empty() {
        return out;
    }
    // Rows whose noise hides a change of their own allowance: said once, above the table.
    let blind: Vec<String> = comparison
        .rows
        .iter()
        .filter(|r| r.judgement.change == Change::Inconclusive)
        .filter_map(|r| {
            let mde = r.judgement.mde?;
            Some(format!(
                "{} {}: could only catch {} here (allowed {})",
                r.scope,
                r.statistic(),
                catchable(mde, r.allowance),
                allowance_text(r.allowance, r.metric)
            ))
        })
        .collect();
    if !blind.is_empty() {
        let _ = writeln!(
            out,
            "❔ Cannot detect its own allowance (run longer, add runs to the history, or compare side by side with `infergate ab`):\n\n- {}\n",
            blind.join("\n- ")
        );
    }
    let _ = writeln!(
        out,
        "| scope | statistic | this run | saved runs | change | could catch | allowed | verdict |\n|---|---|---|---|---|---|---|---|"
    );
    for row in &comparison.rows {
        let value = |v: Option<f64>| v.map_or("n/a".to_string(), |v| row.format(v));
        let delta = row
            .judgement
            .delta
            .map_or("n/a".to_string(), |d| format!("{:+.1}%", d * 100.0));
        let verdict = match row.judgement.change {
            Change::Regressed => "🔴 **regressed**".to_string(),
            Change::Improved => "🟢 improved".to_string(),
            Change::NoChange => "no change".to_string(),
            Change::Inconclusive => match &row.judgement.note {
                Some(note) => format!("❔ inconclusive ({note})"),
                None => "❔ inconclusive".to_string(),
            },
        };
        let statistic = match &row.source {
            RowSource::Regression => row.statistic(),
            RowSource::Threshold(text) => format!("`{}`", text.replace('|', "\\|")),
        };
        let _ = writeln!(
            out,
            "| {} | {statistic} | {} | {} ({}) | {delta} | {} | {} | {verdict} |",
            row.scope,
            value(row.current_value),
            value(row.baseline_value),
            row.runs,
            row.judgement
                .mde
                .map_or("n/a".to_string(), |m| catchable(m, row.allowance)),
            allowance_text(row.allowance, row.metric),
        );
    }
    out.push('\n');
    out
}

/// Appends `render(outcome)` to `$GITHUB_STEP_SUMMARY` when it is set; a failure to write is reported,
/// never fatal.
pub fn append(outcome: &ScenarioOutcome, notes: &[String]) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(render(outcome, notes).as_bytes()));
    if let Err(e) = written {
        eprintln!("note: cannot write the GitHub step summary: {e}");
    }
}
