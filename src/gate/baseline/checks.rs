//! A comparison as the gate's checks: one per row, failing only when regressed (and, after a
//! confirming rerun, only when it regressed in every run), or one saying why nothing was compared;
//! and the short texts reports share (`13.20ms vs 12.95ms (+1.9%)`, `10%`).

use super::change::{Allowance, Change};
use super::{Comparison, Problem, Row, RowSource};
use crate::gate::{Check, CheckKind, Verdict};
use crate::scenario::{Metric, MetricKind};

/// The gate's checks for a comparison: one per row (failing only when regressed), or one saying why
/// nothing was compared.
pub fn checks(comparison: &Comparison) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(problem) = &comparison.problem {
        let (verdict, observed, message) = match problem {
            Problem::NotConfigured => (
                Verdict::Pass,
                "not compared",
                "thresholds refer to a baseline but none was given (--baseline, INFERGATE_BASELINE or regression.baseline); relative thresholds were not checked".to_string(),
            ),
            Problem::Missing => (
                Verdict::Pass,
                "no baseline",
                format!(
                    "no baseline for this scenario at {}; nothing compared (save one with --save-baseline)",
                    comparison.location
                ),
            ),
            Problem::Refused(reason) => (Verdict::Fail, "refused", reason.clone()),
            Problem::Unreadable(reason) => (
                Verdict::Fail,
                "unreadable",
                format!("cannot read the baseline at {}: {reason}", comparison.location),
            ),
        };
        out.push(Check {
            kind: CheckKind::Regression,
            name: "baseline: compared with the baseline".to_string(),
            verdict,
            observed: observed.to_string(),
            observed_value: None,
            message,
        });
    }
    for row in &comparison.rows {
        let name = match &row.source {
            RowSource::Regression => format!(
                "regression: {} {} within {}",
                row.scope,
                row.statistic(),
                allowance_text(row.allowance, row.metric)
            ),
            RowSource::Threshold(text) => format!("{text} ({})", row.scope),
        };
        let change = row.judgement.change;
        let observed = format!("{} ({})", summary(row), change.label());
        let mut said = vec![observed.clone()];
        let blind = row
            .judgement
            .note
            .as_ref()
            .is_some_and(|n| n.contains("could only catch"));
        if let Some(mde) = row.judgement.mde {
            let mut runs = format!("{} {}", row.runs, comparison.unit);
            if !blind {
                let catch = super::change::catchable(mde, row.allowance);
                runs.push_str(&format!("; could catch {catch}"));
            }
            said.push(runs);
        }
        if let (Change::Regressed, Some(k)) = (change, &comparison.confirmation) {
            said.push(format!(
                "regressed in {} of {} runs (confirmed by {} rerun(s))",
                k.runs,
                k.runs,
                k.runs - 1
            ));
        }
        said.extend(row.judgement.note.clone());
        let message = said.join("; ");
        out.push(Check {
            kind: CheckKind::Regression,
            name,
            verdict: if change == Change::Regressed {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            observed,
            observed_value: row.current_value,
            message,
        });
    }
    out
}

/// `13.20ms vs 12.95ms (+1.9%)`.
pub fn summary(row: &Row) -> String {
    let value = |v: Option<f64>| v.map_or("n/a".to_string(), |v| row.format(v));
    let delta = row
        .judgement
        .delta
        .map_or(String::new(), |d| format!(" ({:+.1}%)", d * 100.0));
    format!(
        "{} vs {}{delta}",
        value(row.current_value),
        value(row.baseline_value)
    )
}

/// `10%` or `1.00 pp`.
pub fn allowance_text(allowance: Allowance, metric: Metric) -> String {
    match allowance {
        // Capacity's own default: the two searches' brackets are the whole allowance.
        Allowance::Relative(f) if metric == Metric::Capacity && f == 0.0 => {
            "the searches' precision".to_string()
        }
        Allowance::Relative(f) => format!("{:.0}%", f * 100.0),
        Allowance::Absolute(d) if metric.kind() == MetricKind::Rate => {
            format!("{:.2} pp", d * 100.0)
        }
        Allowance::Absolute(d) => format!("{d}"),
    }
}
