//! The console view of a run: one row per stage with the figures people look at first, then every
//! check with its verdict.

use std::fmt::Write;

use crate::gate::{GateReport, Status, Verdict};
use crate::recorder::Recorder;
use crate::run::RunResult;
use crate::scenario::threshold::format_micros;
use crate::scenario::{Aggregation, Metric};

const COLUMNS: [&str; 11] = [
    "stage",
    "load",
    "sent",
    "ok",
    "err",
    "req/s",
    "out tok/s",
    "ttft p50",
    "ttft p99",
    "itl p99",
    "e2e p99",
];

/// Renders the stage table and the checks as plain text.
pub fn render(run: &RunResult, gate: &GateReport) -> String {
    let mut rows: Vec<Vec<String>> = run
        .stages
        .iter()
        .map(|s| row(&s.stage.index.to_string(), &s.stage.describe(), &s.recorder))
        .collect();
    if run.stages.len() > 1 {
        rows.push(row("all", "", &run.total));
    }
    if let Some(w) = &run.warmup {
        let load = format!("{} (not counted)", w.stage.describe());
        rows.insert(0, row("warm-up", &load, &w.recorder));
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([COLUMNS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} against {} (model {}){}",
        run.scenario,
        run.target,
        run.model,
        if run.simulated {
            ", embedded simulator"
        } else {
            ""
        }
    );
    if let Some(note) = &run.shortened {
        let _ = writeln!(out, "note: {note}");
    }
    for warning in &run.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 1 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(out, "{}", line(COLUMNS.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    for check in &gate.checks {
        let mark = match check.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Invalid => "INVALID",
        };
        let _ = writeln!(out, "  [{mark}] {}: {}", check.name, check.message);
    }
    let verdict = match gate.status {
        Status::Passed => "PASSED",
        Status::Failed => "FAILED: the target missed a threshold",
        Status::Invalid => "INVALID: the runner's own checks failed, so thresholds were not judged",
    };
    let _ = writeln!(out, "result: {verdict}");
    out
}

fn row(stage: &str, load: &str, r: &Recorder) -> Vec<String> {
    let p = |m: Metric, q: f64| {
        r.value(m, Aggregation::Percentile(q))
            .map_or("n/a".into(), format_micros)
    };
    vec![
        stage.to_string(),
        load.to_string(),
        r.sent().to_string(),
        r.ok.to_string(),
        (r.failed() + r.timed_out).to_string(),
        format!("{:.2}", r.requests_per_sec()),
        format!("{:.0}", r.output_tokens_per_sec()),
        p(Metric::Ttft, 50.0),
        p(Metric::Ttft, 99.0),
        p(Metric::Itl, 99.0),
        p(Metric::RequestLatency, 99.0),
    ]
}
