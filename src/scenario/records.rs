//! `report.request_lifecycle`: what the request reports hold beyond the defaults. `per_request` asks
//! for one record per finished request in `per_request_lifecycle_metrics.json`, streamed to disk as
//! requests finish; `per_request_fields` (infergate's) keeps only the fields named, every field by
//! default. `percentiles` adds percentiles to every distribution of the lifecycle files.

use super::ScenarioError;
use super::locate::Step;
use super::raw::RawScenario;
use super::validate::Checker;

/// The fields a record may hold, in the order records write them.
pub const FIELDS: [&str; 15] = [
    "stage_id",
    "scheduled_time",
    "start_time",
    "end_time",
    "outcome",
    "prompt_tokens",
    "output_tokens",
    "reasoning_tokens",
    "ttft",
    "ttfo",
    "request_latency",
    "chunk_gaps",
    "good",
    "adapter",
    "error",
];

/// Which fields records keep: `keep[i]` for `FIELDS[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerRequest {
    pub keep: [bool; FIELDS.len()],
}

impl PerRequest {
    pub fn keeps(&self, field: &str) -> bool {
        FIELDS
            .iter()
            .position(|f| *f == field)
            .is_some_and(|i| self.keep[i])
    }
}

/// `Some` when the file asks for per-request records.
pub(super) fn check(
    c: &Checker<'_>,
    raw: &RawScenario,
) -> Result<Option<PerRequest>, ScenarioError> {
    let Some(lifecycle) = raw
        .report
        .as_ref()
        .and_then(|r| r.request_lifecycle.as_ref())
    else {
        return Ok(None);
    };
    let here = [
        Step::Key("report"),
        Step::Key("request_lifecycle"),
        Step::Key("per_request_fields"),
    ];
    let on = lifecycle.per_request == Some(true);
    let Some(fields) = &lifecycle.per_request_fields else {
        return Ok(on.then_some(PerRequest {
            keep: [true; FIELDS.len()],
        }));
    };
    if !on {
        return Err(c.error(&here, "per_request_fields needs per_request: true"));
    }
    let mut keep = [false; FIELDS.len()];
    for field in fields {
        let i = FIELDS.iter().position(|f| f == field).ok_or_else(|| {
            c.error(
                &here,
                format!("unknown field `{field}`; allowed: {}", FIELDS.join(", ")),
            )
        })?;
        keep[i] = true;
    }
    Ok(Some(PerRequest { keep }))
}

/// inference-perf's percentiles, which every distribution always has (`Distribution`'s fields).
pub const DEFAULT_PERCENTILES: [f64; 11] = [
    0.1, 1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9,
];

/// `report.request_lifecycle.percentiles` beyond the defaults (empty when none), each in (0, 100].
pub(super) fn percentiles(c: &Checker<'_>, raw: &RawScenario) -> Result<Vec<f64>, ScenarioError> {
    let listed = raw
        .report
        .as_ref()
        .and_then(|r| r.request_lifecycle.as_ref())
        .and_then(|l| l.percentiles.as_ref());
    let here = [
        Step::Key("report"),
        Step::Key("request_lifecycle"),
        Step::Key("percentiles"),
    ];
    let mut extra = Vec::new();
    for &p in listed.into_iter().flatten() {
        if !(p > 0.0 && p <= 100.0) {
            return Err(c.error(
                &here,
                format!("{p} is not a percentile: give numbers in (0, 100], e.g. [50, 99, 99.9]"),
            ));
        }
        if !DEFAULT_PERCENTILES.contains(&p) && !extra.contains(&p) {
            extra.push(p);
        }
    }
    Ok(extra)
}
