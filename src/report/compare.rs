//! `infergate compare A B`: two saved runs side by side, stage by stage, with the change from A to B,
//! then, when both runs saved their samples, the noise-aware verdict on B with A as the baseline
//! (the same comparison a `--baseline` run makes, with the default `regression` settings).

use std::fmt::Write as _;

use std::path::Path;

use super::rundir::{RunDir, StagePoint};
use crate::gate::baseline::samples::{self, RunSamples};
use crate::gate::baseline::{self as baselines, Baseline, History};
use crate::scenario::Regression;

fn delta(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 => format!("{:+.1} %", (b - a) / a * 100.0),
        _ => "n/a".into(),
    }
}

fn value(v: Option<f64>, unit: &str) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.2}{unit}"))
}

type Getter = fn(&StagePoint) -> Option<f64>;

const ROWS: [(&str, &str, Getter); 8] = [
    ("TTFT p50", " ms", |s| s.ttft[0]),
    ("TTFT p99", " ms", |s| s.ttft[2]),
    ("ITL p50", " ms", |s| s.itl[0]),
    ("ITL p99", " ms", |s| s.itl[2]),
    ("e2e p50", " ms", |s| s.e2e[0]),
    ("e2e p99", " ms", |s| s.e2e[2]),
    ("requests/s", "", |s| Some(s.requests_per_sec)),
    ("output tokens/s", "", |s| Some(s.output_tokens_per_sec)),
];

/// A markdown comparison of two runs of the same scenario (stages matched by index).
pub fn render(a: &RunDir, b: &RunDir, a_name: &str, b_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {} — A: `{a_name}` ({}) vs B: `{b_name}` ({})\n",
        a.scenario,
        a.verdicts.status.word(),
        b.verdicts.status.word()
    );
    if a.scenario != b.scenario {
        let _ = writeln!(
            out,
            "note: these are different scenarios (`{}` and `{}`)\n",
            a.scenario, b.scenario
        );
    }
    for sa in &a.stages {
        let Some(sb) = b.stages.iter().find(|s| s.index == sa.index) else {
            let _ = writeln!(out, "stage {} ({}): only in A\n", sa.index, sa.describe);
            continue;
        };
        let _ = writeln!(out, "### stage {}: {}\n", sa.index, sa.describe);
        let _ = writeln!(out, "| metric | A | B | change |\n|---|---|---|---|");
        for (name, unit, get) in ROWS {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} |",
                value(get(sa), unit),
                value(get(sb), unit),
                delta(get(sa), get(sb))
            );
        }
        let _ = writeln!(out, "| failed | {} | {} | |\n", sa.failed, sb.failed);
    }
    for sb in b
        .stages
        .iter()
        .filter(|sb| !a.stages.iter().any(|sa| sa.index == sb.index))
    {
        let _ = writeln!(out, "stage {} ({}): only in B\n", sb.index, sb.describe);
    }
    out
}

/// The noise-aware verdicts on run `b` against run `a` as the baseline, when both saved
/// `samples.json`; configs that differ are compared anyway, with a note.
pub fn noise_aware(a: &Path, b: &Path) -> Option<String> {
    let read = |dir: &Path| -> Option<RunSamples> {
        let text = std::fs::read_to_string(dir.join(samples::FILE_NAME)).ok()?;
        serde_json::from_str(&text).ok()
    };
    let (sa, sb) = (read(a)?, read(b)?);
    let mut out = String::from("## Noise-aware verdicts: B against A as the baseline\n\n");
    if sa.config_hash != sb.config_hash || sa.shortened != sb.shortened {
        out.push_str("note: the runs offered different load (config hash or quick mode differ); compared anyway.\n\n");
    }
    let simulated = sa.simulated && sb.simulated;
    let regression = Regression::default();
    let history = History::single(Baseline {
        samples: sa,
        about: "run A".to_string(),
    });
    let spread = regression.run_spread_for(simulated);
    let mut comparison = baselines::compare(&sb, &history, &regression, &[], true, spread);
    comparison.location = a.display().to_string();
    out.push_str(&super::step_summary::comparison_markdown(&comparison));
    Some(out)
}
