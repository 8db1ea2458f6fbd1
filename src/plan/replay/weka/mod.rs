//! Weka KV-cache-tester traces as calls (inference-perf's `weka_trace_replay`): a trace records each
//! request's lengths and the hashes of its prompt's fixed-size token blocks, not its text. The text
//! is rebuilt so that the same block hash is always the same tokens (every call, shard and run), and
//! so every prefix the trace shares is shared on the wire, which is what a prefix cache sees:
//!
//! - a block is `block_size` of the tokenizer's single-token words, drawn from the block's hash (and
//!   the trace id and seed); a prompt's tail beyond its last whole block, and blocks the trace did
//!   not hash, are drawn from the turn's own seed;
//! - turn 0 is a `system` message (the trace's `tool_tokens + system_tokens`, rounded up to blocks)
//!   and a `user` message; each later turn keeps the longest block prefix it shares with the turn
//!   before, then adds the previous answer's blocks as an `assistant` message and the rest as `user`
//!   (inference-perf's `ConversationReconstructor`);
//! - a call's recorded answer is the assistant text the next turn adds (the last turn's, drawn);
//! - starts are the trace's `t` with idle gaps between requests over `trace_idle_gap_cap_seconds`
//!   cut to it; a call ends `api_time` after it starts; subagents' requests are packed into streams
//!   of non-overlapping requests, each stream a conversation of its own.
//!
//! The calls then form a graph like any trace's (`graph`). inference-perf draws block text from a
//! tokenized Shakespeare corpus with Python's `random`; infergate draws words, so the texts differ,
//! but which calls share which blocks is the same.

use serde::Deserialize;
use serde_json::{Map, json};

use super::otel::Call;
use crate::plan::tokens::TokenCounter;
use crate::scenario::replay::Weka;

#[derive(Debug, Clone, Deserialize)]
pub struct Trace {
    pub id: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub block_size: Option<u32>,
    #[serde(default)]
    pub tool_tokens: u64,
    #[serde(default)]
    pub system_tokens: u64,
    pub requests: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum Entry {
    #[serde(rename = "n", alias = "s")]
    Request(Request),
    #[serde(rename = "subagent")]
    Subagent(Subagent),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Request {
    pub t: f64,
    #[serde(default)]
    pub model: String,
    #[serde(rename = "in")]
    pub input: u64,
    #[serde(rename = "out")]
    pub output: u64,
    #[serde(default)]
    pub hash_ids: Vec<u64>,
    #[serde(default)]
    pub api_time: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subagent {
    pub t: f64,
    pub agent_id: String,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub requests: Vec<Request>,
    #[serde(default)]
    pub tool_tokens: u64,
    #[serde(default)]
    pub system_tokens: u64,
}

mod rebuild;
mod timing;

use rebuild::{Conversation, Words};
use timing::{Warp, streams};

/// The calls of one conversation (the trace's own requests, or one subagent stream).
fn conversation(
    w: &mut Words<'_>,
    bs: u32,
    id: &str,
    requests: &[Request],
    starts: &[f64],
    prefix_tokens: u64,
    out: &mut Vec<Call>,
) {
    let mut conv = Conversation::default();
    for (k, req) in requests.iter().enumerate() {
        let seed = format!("{}:{id}:turn_{k}:partial_tail", w.trace());
        match k {
            0 => conv.first(w, bs, req, prefix_tokens, &seed),
            _ => conv.next(w, bs, &requests[k - 1], req, &seed),
        }
        let messages = conv.messages(w);
        let answer = match requests.get(k + 1) {
            Some(next) => {
                let mut ahead = conv.clone();
                let seed = format!("{}:{id}:turn_{}:partial_tail", w.trace(), k + 1);
                ahead.next(w, bs, req, next, &seed);
                ahead.last_answer(w)
            }
            None => {
                let seed = format!("{}:{id}:final_turn_completion", w.trace());
                w.text(&w.tail(req.output, &seed))
            }
        };
        let start_ms = (starts[k] * 1000.0) as i64;
        out.push(Call {
            span_id: format!("{id}_turn_{k}"),
            start_ms,
            end_ms: start_ms + (req.api_time.unwrap_or(0.0) * 1000.0) as i64,
            // The recorded name: the replayer maps it (`use_static_model`, `model_mapping`).
            model: req.model.clone(),
            messages,
            output: Some(json!({"role": "assistant", "content": answer})),
            completion_tokens: Some(req.output),
            temperature: Some(0.0),
            tools: None,
            attributes: Map::new(),
        });
    }
}

/// The calls of `trace`, in start order.
pub fn calls(trace: &Trace, weka: &Weka, tokens: &TokenCounter, seed: u64) -> Vec<Call> {
    let bs = trace
        .block_size
        .filter(|&b| b > 0)
        .unwrap_or(weka.block_size);
    let mut w = Words::new(tokens, seed, &trace.id);
    let mut parent = Vec::new();
    let mut subagents = Vec::new();
    for entry in &trace.requests {
        match entry {
            Entry::Request(r) => parent.push(r.clone()),
            Entry::Subagent(s) => subagents.push(s),
        }
    }
    let absolute = |s: &Subagent, r: &Request| if r.t + 1e-6 < s.t { s.t + r.t } else { r.t };
    let children: Vec<(String, &Subagent, Vec<Request>)> = subagents
        .iter()
        .flat_map(|s| {
            let packed = streams(&s.requests);
            let many = packed.len() > 1;
            packed.into_iter().enumerate().map(move |(i, reqs)| {
                let id = match many {
                    true => format!("sa_{}_s{i}", s.agent_id),
                    false => format!("sa_{}_s0", s.agent_id),
                };
                (id, *s, reqs)
            })
        })
        .collect();
    let mut all_starts: Vec<f64> = parent.iter().map(|r| r.t).collect();
    for (_, s, reqs) in &children {
        all_starts.extend(reqs.iter().map(|r| absolute(s, r)));
    }
    let cap = weka.idle_gap_cap.as_secs_f64();
    let warp = Warp::new(all_starts, cap);
    let mut out = Vec::new();
    let starts: Vec<f64> = parent.iter().map(|r| warp.map(r.t)).collect();
    let prefix = trace.tool_tokens + trace.system_tokens;
    conversation(&mut w, bs, "parent", &parent, &starts, prefix, &mut out);
    for (id, s, reqs) in &children {
        let starts: Vec<f64> = reqs.iter().map(|r| warp.map(absolute(s, r))).collect();
        let prefix = s.tool_tokens + s.system_tokens;
        conversation(&mut w, bs, id, reqs, &starts, prefix, &mut out);
    }
    out.sort_by(|a, b| (a.start_ms, &a.span_id).cmp(&(b.start_ms, &b.span_id)));
    let t0 = out.first().map_or(0, |c| c.start_ms);
    for c in &mut out {
        c.start_ms -= t0;
        c.end_ms -= t0;
    }
    out
}
