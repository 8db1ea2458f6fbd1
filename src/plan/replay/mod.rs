//! Recorded agent sessions to replay (`otel_trace_replay`, `weka_trace_replay`): the corpus, read
//! before any load.
//!
//! A Weka trace becomes calls with rebuilt text (`weka`). Every OTel record (a trace file, or a
//! dataset row) gets inference-perf's added fields (`session_id`,
//! `source_id`, `models`, `max_tokens`, `total_tokens`, `harness`, `benchmark`), passes the
//! `filter` or is left out, and becomes one session: its calls as a graph (`graph`). Sessions are
//! shuffled by the seed (as inference-perf shuffles its rows), then duplicated round-robin up to
//! `duplicate_sessions_target` (ids `{id}_dup{N}`). Stage `k` replays the next `num_sessions`
//! sessions after those of earlier stages (all that are left without it), wrapping around to the
//! start when a stage asks for more than are left.

pub mod graph;
pub mod otel;
pub mod sources;
pub mod weka;

use std::path::Path;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::Value;

use crate::plan::tokens::TokenCounter;
use crate::plan::{Plan, Quick, StageLoad};
use crate::scenario::replay::{SessionReplay, TraceKind};
pub use graph::{Event, Segment};

/// One recorded session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    /// The file (or dataset row) it came from.
    pub source: String,
    /// Its calls in start order; duplicates share their original's.
    pub events: Arc<[Event]>,
    /// A copy made by `duplicate_sessions_target`: its unique messages get a random prefix.
    pub duplicate: bool,
}

/// The sessions of a run, in replay order.
#[derive(Debug, Default)]
pub struct Corpus {
    pub sessions: Vec<Session>,
    /// What was left out, and why (shown as warnings).
    pub skipped: Vec<String>,
    /// Records the filter left out.
    pub filtered: usize,
}

/// Reads and builds every session (from the hub at `hub_url`, cached under `cache`).
pub async fn load(
    replay: &SessionReplay,
    tokens: &TokenCounter,
    seed: u64,
    simulated: bool,
    hub_url: &str,
    cache: &Path,
) -> Result<Corpus, String> {
    let mut corpus = Corpus::default();
    let records = sources::records(replay, simulated, hub_url, cache, &mut corpus.skipped).await?;
    let total = records.len();
    let mut ids = std::collections::HashSet::new();
    for (i, record) in records.into_iter().enumerate() {
        let built = match &replay.kind {
            TraceKind::Otel => otel_session(replay, record.value, &record.source, i),
            TraceKind::Weka(w) => serde_json::from_value::<weka::Trace>(record.value)
                .map_err(|e| format!("not a Weka trace: {e}"))
                .and_then(|t| match ids.insert(t.id.clone()) {
                    true => Ok(Some((t.id.clone(), weka::calls(&t, w, tokens, seed)))),
                    false => Err(format!("the trace id {} appears twice", t.id)),
                }),
        };
        match built {
            Ok(None) => corpus.filtered += 1,
            Ok(Some((_, calls))) if calls.is_empty() => {
                corpus
                    .skipped
                    .push(format!("{}: no LLM calls", record.source));
            }
            Ok(Some((id, calls))) => corpus.sessions.push(Session {
                id,
                source: record.source,
                events: graph::build(calls).into(),
                duplicate: false,
            }),
            Err(e) if replay.skip_invalid_files => {
                corpus.skipped.push(format!("{}: {e}", record.source));
            }
            Err(e) => {
                return Err(format!(
                    "{}: {e} (skip_invalid_files: true skips it)",
                    record.source
                ));
            }
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    corpus.sessions.shuffle(&mut rng);
    for (slot, s) in corpus.sessions.iter_mut().enumerate() {
        s.id = format!("trace{slot}_{}", s.id);
    }
    if corpus.sessions.is_empty() {
        let why = match (total, corpus.filtered) {
            (0, _) => "no trace records were found".to_string(),
            (n, f) if f == n => format!("the filter left out all {n} records"),
            (n, _) => format!("none of the {n} records holds an LLM call it can replay"),
        };
        return Err(format!("otel_trace_replay: {why}"));
    }
    if let Some(target) = replay.duplicate_sessions_target {
        let originals = corpus.sessions.len();
        let mut k = 0;
        while (corpus.sessions.len() as u64) < target {
            let source = &corpus.sessions[k % originals];
            k += 1;
            let copy = Session {
                id: format!("{}_dup{k}", source.id),
                duplicate: true,
                ..source.clone()
            };
            corpus.sessions.push(copy);
        }
    }
    Ok(corpus)
}

/// An OTel record's session id and calls; `None` when the filter leaves it out.
fn otel_session(
    replay: &SessionReplay,
    mut value: Value,
    source: &str,
    index: usize,
) -> Result<Option<(String, Vec<otel::Call>)>, String> {
    normalize(&mut value, source, index);
    if let Some(filter) = &replay.filter
        && !filter.keeps(&value)
    {
        return Ok(None);
    }
    let id = value["session_id"]
        .as_str()
        .unwrap_or("session")
        .to_string();
    Ok(Some((id, otel::calls(&value, replay.include_errors)?)))
}

/// inference-perf's `_normalize_file_trace`: the fields a dataset row has, added to a file's record.
fn normalize(value: &mut Value, source: &str, index: usize) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if !obj.contains_key("session_id") {
        let stem = Path::new(source)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("session_{index}"));
        let id = obj
            .get("trace_id")
            .and_then(Value::as_str)
            .map_or(stem, str::to_string);
        obj.insert("session_id".into(), Value::String(id));
    }
    obj.insert("source_id".into(), Value::String(source.to_string()));
    for key in ["harness", "benchmark"] {
        obj.entry(key)
            .or_insert_with(|| Value::String("unknown".into()));
    }
    // Read from the spans in place (a record's spans hold every call's messages), then added.
    let spans = obj
        .get("spans")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let attr = |s: &Value, k: &str| s.get("attributes").and_then(|a| a.get(k)).cloned();
    let mut models: Vec<Value> = spans
        .iter()
        .filter_map(|s| attr(s, "gen_ai.request.model"))
        .collect();
    models.sort_by_key(|m| m.to_string());
    models.dedup();
    let tokens: Vec<u64> = spans
        .iter()
        .map(|s| {
            let n = |k| attr(s, k).and_then(|v| v.as_u64()).unwrap_or(0);
            n("gen_ai.usage.input_tokens") + n("gen_ai.usage.output_tokens")
        })
        .collect();
    obj.entry("models").or_insert(Value::Array(models));
    obj.entry("max_tokens")
        .or_insert_with(|| Value::from(tokens.iter().copied().max().unwrap_or(0)));
    obj.entry("total_tokens")
        .or_insert_with(|| Value::from(tokens.iter().sum::<u64>()));
}

/// Gives each session stage its slice of the corpus (`sessions` sessions long). In quick mode a
/// stage replays at most `requests_per_slot` sessions per concurrent session; says whether that
/// cut any.
pub fn fit(plan: &mut Plan, sessions: u64, quick: Option<Quick>) -> bool {
    let mut next = 0;
    let mut cut = false;
    for stage in &mut plan.stages {
        let StageLoad::Sessions {
            concurrent,
            first,
            count,
            ..
        } = &mut stage.load
        else {
            continue;
        };
        let left = sessions - next % sessions;
        let mut n = count.unwrap_or(left);
        if let Some(q) = quick {
            let cap = q.requests_per_slot.max(1) * u64::from((*concurrent).max(1));
            cut |= n > cap;
            n = n.min(cap);
        }
        *first = next % sessions;
        *count = Some(n);
        next += n;
    }
    cut
}
