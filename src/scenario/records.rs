//! `report.request_lifecycle.per_request`: one record per finished request in
//! `per_request_lifecycle_metrics.json`, streamed to disk as requests finish. `per_request_fields`
//! (infergate's) keeps only the fields named; every field by default.

use super::ScenarioError;
use super::locate::Step;
use super::raw::RawScenario;
use super::validate::Checker;

/// The fields a record may hold, in the order records write them.
pub const FIELDS: [&str; 13] = [
    "stage_id",
    "scheduled_time",
    "start_time",
    "end_time",
    "outcome",
    "prompt_tokens",
    "output_tokens",
    "ttft",
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
