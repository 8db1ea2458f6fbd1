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

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::otel::Call;
use crate::plan::tokens::TokenCounter;
use crate::scenario::replay::{ModelChoice, Weka};

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

/// Draws block and tail words.
struct Words<'a> {
    tokens: &'a TokenCounter,
    seed: u64,
    trace: &'a str,
    cache: HashMap<u64, Vec<u32>>,
}

fn mix(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64's finaliser spreads the bits.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Words<'_> {
    /// `n` consecutive corpus words from an offset drawn from `key`.
    fn run(&self, key: u64, n: u64) -> Vec<u32> {
        let len = self.tokens.word_count() as u64;
        (0..n)
            .map(|i| ((key.wrapping_add(i)) % len) as u32)
            .collect()
    }

    fn block(&mut self, hash: u64, size: u32) -> Vec<u32> {
        if let Some(w) = self.cache.get(&hash) {
            return w.clone();
        }
        let key = mix(self.seed, format!("{}:{hash}", self.trace).as_bytes());
        let words = self.run(key, u64::from(size));
        self.cache.insert(hash, words.clone());
        words
    }

    fn blocks(&mut self, hashes: &[u64], size: u32) -> Vec<u32> {
        hashes.iter().flat_map(|&h| self.block(h, size)).collect()
    }

    fn tail(&self, n: u64, seed: &str) -> Vec<u32> {
        self.run(mix(self.seed, seed.as_bytes()), n)
    }

    fn text(&self, words: &[u32]) -> String {
        let mut s = String::with_capacity(words.len() * 8);
        for &w in words {
            s.push(' ');
            s.push_str(self.tokens.word(w as usize));
        }
        s
    }
}

#[derive(Debug, Clone)]
struct Segment {
    role: &'static str,
    blocks: u64,
    words: Vec<u32>,
}

/// inference-perf's `ConversationReconstructor`.
#[derive(Debug, Clone, Default)]
struct Conversation {
    segments: Vec<Segment>,
}

impl Conversation {
    fn first(&mut self, w: &mut Words<'_>, bs: u32, req: &Request, prefix_tokens: u64, seed: &str) {
        let b = u64::from(bs);
        let full = req.input / b;
        let tail = req.input - full * b;
        let covered = full.min(req.hash_ids.len() as u64) as usize;
        let missing = (full - covered as u64) * b;
        let mut cursor = 0;
        self.segments.clear();
        if prefix_tokens > 0 {
            let blocks = prefix_tokens.div_ceil(b).min(req.hash_ids.len() as u64) as usize;
            if blocks > 0 {
                let words = w.blocks(&req.hash_ids[..blocks], bs);
                self.segments.push(Segment {
                    role: "system",
                    blocks: blocks as u64,
                    words,
                });
                cursor = blocks;
            }
        }
        let user_blocks = covered.saturating_sub(cursor);
        let mut words = w.blocks(&req.hash_ids[cursor..cursor + user_blocks], bs);
        if missing + tail > 0 {
            words.extend(w.tail(missing + tail, seed));
        }
        self.segments.push(Segment {
            role: "user",
            blocks: user_blocks as u64,
            words,
        });
    }

    fn next(&mut self, w: &mut Words<'_>, bs: u32, prev: &Request, curr: &Request, seed: &str) {
        let b = u64::from(bs);
        let m = curr.hash_ids.len();
        let missing = (curr.input / b).saturating_sub(m as u64) * b;
        let lcp = prev
            .hash_ids
            .iter()
            .zip(&curr.hash_ids)
            .take_while(|(a, c)| a == c)
            .count();
        self.truncate(lcp as u64, b);
        let mut region = w.blocks(&curr.hash_ids[lcp..m], bs);
        let tail = missing + curr.input % b;
        if tail > 0 {
            region.extend(w.tail(tail, seed));
        }
        let new_blocks = (m - lcp) as u64;
        let answer_blocks = prev.output.div_ceil(b).min(new_blocks);
        let cut = ((answer_blocks * b) as usize).min(region.len());
        if answer_blocks > 0 {
            self.segments.push(Segment {
                role: "assistant",
                blocks: answer_blocks,
                words: region[..cut].to_vec(),
            });
        }
        if cut < region.len() {
            let words = region[cut..].to_vec();
            self.segments.push(Segment {
                role: "user",
                blocks: new_blocks - answer_blocks,
                words,
            });
        }
    }

    /// Keeps the first `target` blocks (inference-perf's `truncate_synth_buf_at_block`). At the
    /// boundary the segment keeps exactly its blocks' words: the previous turn's partial tail (and
    /// any words drawn for blocks it did not hash) go. inference-perf strips the tail's length from
    /// the boundary segment even when the tail was in a later one, which cuts a shared system prompt.
    fn truncate(&mut self, target: u64, b: u64) {
        if target == 0 {
            self.segments.clear();
            return;
        }
        let mut cursor = 0;
        for i in 0..self.segments.len() {
            let seg = &mut self.segments[i];
            if cursor + seg.blocks < target {
                cursor += seg.blocks;
                continue;
            }
            if cursor + seg.blocks == target {
                seg.words.truncate((seg.blocks * b) as usize);
                self.segments.truncate(i + 1);
                return;
            }
            if cursor == target {
                self.segments.truncate(i);
                return;
            }
            let kept = target - cursor;
            seg.blocks = kept;
            seg.words
                .truncate(((kept * b) as usize).min(seg.words.len()));
            self.segments.truncate(i + 1);
            return;
        }
    }

    fn messages(&self, w: &Words<'_>) -> Vec<Value> {
        self.segments
            .iter()
            .map(|s| json!({"role": s.role, "content": w.text(&s.words)}))
            .collect()
    }

    fn last_answer(&self) -> Option<&Segment> {
        self.segments.iter().rev().find(|s| s.role == "assistant")
    }
}

/// Maps request starts so that no gap between consecutive starts exceeds `cap` seconds.
struct Warp {
    gaps: Vec<(f64, f64, f64)>, // (raw start, raw end, shift before)
    cap: f64,
}

impl Warp {
    fn new(mut starts: Vec<f64>, cap: f64) -> Warp {
        starts.sort_by(f64::total_cmp);
        let mut gaps = Vec::new();
        let mut shift = 0.0;
        for pair in starts.windows(2) {
            let gap = pair[1] - pair[0];
            if cap > 0.0 && gap > cap {
                gaps.push((pair[0], pair[1], shift));
                shift += gap - cap;
            }
        }
        Warp { gaps, cap }
    }

    fn map(&self, t: f64) -> f64 {
        let mut shift = 0.0;
        for &(start, end, before) in &self.gaps {
            if t < start {
                return t - before;
            }
            if t < end {
                return if t - start <= self.cap {
                    t - before
                } else {
                    start - before + self.cap
                };
            }
            shift = before + (end - start - self.cap);
        }
        t - shift
    }
}

/// Subagent requests packed into streams whose requests do not overlap.
fn streams(requests: &[Request]) -> Vec<Vec<Request>> {
    let mut sorted = requests.to_vec();
    sorted.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut streams: Vec<(f64, Vec<Request>)> = Vec::new();
    for r in sorted {
        let end = r.t + r.api_time.unwrap_or(0.0);
        match streams.iter_mut().find(|(e, _)| *e <= r.t) {
            Some(stream) => {
                stream.0 = end;
                stream.1.push(r);
            }
            None => streams.push((end, vec![r])),
        }
    }
    streams.into_iter().map(|(_, s)| s).collect()
}

/// The calls of one conversation (the trace's own requests, or one subagent stream).
#[allow(clippy::too_many_arguments)]
fn conversation(
    w: &mut Words<'_>,
    bs: u32,
    id: &str,
    requests: &[Request],
    starts: &[f64],
    prefix_tokens: u64,
    model: &dyn Fn(&str) -> String,
    out: &mut Vec<Call>,
) {
    let mut conv = Conversation::default();
    for (k, req) in requests.iter().enumerate() {
        let seed = format!("{}:{id}:turn_{k}:partial_tail", w.trace);
        match k {
            0 => conv.first(w, bs, req, prefix_tokens, &seed),
            _ => conv.next(w, bs, &requests[k - 1], req, &seed),
        }
        let messages = conv.messages(w);
        let answer = match requests.get(k + 1) {
            Some(next) => {
                let mut ahead = conv.clone();
                let seed = format!("{}:{id}:turn_{}:partial_tail", w.trace, k + 1);
                ahead.next(w, bs, req, next, &seed);
                ahead
                    .last_answer()
                    .map(|s| w.text(&s.words))
                    .unwrap_or_default()
            }
            None => {
                let seed = format!("{}:{id}:final_turn_completion", w.trace);
                w.text(&w.tail(req.output, &seed))
            }
        };
        let start_ms = (starts[k] * 1000.0) as i64;
        out.push(Call {
            span_id: format!("{id}_turn_{k}"),
            start_ms,
            end_ms: start_ms + (req.api_time.unwrap_or(0.0) * 1000.0) as i64,
            model: model(&req.model),
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
pub fn calls(
    trace: &Trace,
    weka: &Weka,
    models: &ModelChoice,
    tokens: &TokenCounter,
    seed: u64,
) -> Vec<Call> {
    let bs = trace
        .block_size
        .filter(|&b| b > 0)
        .unwrap_or(weka.block_size);
    let mut w = Words {
        tokens,
        seed,
        trace: &trace.id,
        cache: HashMap::new(),
    };
    let model = |recorded: &str| match models {
        ModelChoice::Static(name) => name.clone(),
        ModelChoice::Mapping(map) => map
            .get(recorded)
            .cloned()
            .unwrap_or_else(|| recorded.to_string()),
        ModelChoice::Scenario => recorded.to_string(),
    };
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
    conversation(
        &mut w, bs, "parent", &parent, &starts, prefix, &model, &mut out,
    );
    for (id, s, reqs) in &children {
        let starts: Vec<f64> = reqs.iter().map(|r| warp.map(absolute(s, r))).collect();
        let prefix = s.tool_tokens + s.system_tokens;
        conversation(&mut w, bs, id, reqs, &starts, prefix, &model, &mut out);
    }
    out.sort_by(|a, b| (a.start_ms, &a.span_id).cmp(&(b.start_ms, &b.span_id)));
    let t0 = out.first().map_or(0, |c| c.start_ms);
    for c in &mut out {
        c.start_ms -= t0;
        c.end_ms -= t0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(input: u64, output: u64, hash_ids: Vec<u64>) -> Request {
        Request {
            t: 0.0,
            model: String::new(),
            input,
            output,
            hash_ids,
            api_time: None,
        }
    }

    #[test]
    fn a_turn_keeps_the_blocks_it_shares_and_adds_the_answer_and_its_own() {
        let tokens = TokenCounter::builtin();
        let mut w = Words {
            tokens: &tokens,
            seed: 42,
            trace: "t",
            cache: HashMap::new(),
        };
        let (one, two) = (req(40, 20, vec![1, 2]), req(88, 10, vec![1, 2, 3, 4, 5]));
        let mut c = Conversation::default();
        c.first(&mut w, 16, &one, 32, "s0");
        let first = c.messages(&w);
        // 32 prefix tokens: two system blocks; the 8 tokens after them are the user's tail.
        assert_eq!(first[0]["role"], "system");
        assert_eq!(
            first[0]["content"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .count(),
            32
        );
        assert_eq!(
            first[1]["content"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .count(),
            8
        );
        c.next(&mut w, 16, &one, &two, "s1");
        let second = c.messages(&w);
        assert_eq!(second[0], first[0], "the shared blocks are the same text");
        assert_eq!(second[1]["role"], "assistant");
        // The answer's 20 tokens round up to 2 blocks; the rest (1 block and the 8-token tail) is the user's.
        assert_eq!(
            second[1]["content"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .count(),
            32
        );
        assert_eq!(
            second[2]["content"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .count(),
            24
        );
        let words: usize = second
            .iter()
            .map(|m| m["content"].as_str().unwrap().split_whitespace().count())
            .sum();
        assert_eq!(words, 88, "as many tokens as the trace's input");
    }

    #[test]
    fn idle_gaps_over_the_cap_are_cut_to_it() {
        let warp = Warp::new(vec![0.0, 1.0, 101.0, 102.0], 10.0);
        assert_eq!(warp.map(1.0), 1.0);
        assert_eq!(warp.map(5.0), 5.0, "within the cap, time runs");
        assert_eq!(warp.map(50.0), 11.0, "the rest of the gap is cut");
        assert_eq!(warp.map(101.0), 11.0);
        assert_eq!(warp.map(102.0), 12.0);
    }

    #[test]
    fn overlapping_subagent_requests_go_to_separate_streams() {
        let r = |t: f64, api: f64| Request {
            t,
            model: String::new(),
            input: 1,
            output: 1,
            hash_ids: vec![],
            api_time: Some(api),
        };
        let packed = streams(&[r(0.0, 2.0), r(1.0, 1.0), r(2.5, 1.0)]);
        assert_eq!(packed.len(), 2);
        assert_eq!(
            packed[0].len(),
            2,
            "the third reuses the first stream once it ended"
        );
    }
}
