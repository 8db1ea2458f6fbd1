//! Rebuilding a Weka trace's text: blocks of single-token words drawn from their hashes, and each
//! conversation's turns as inference-perf's `ConversationReconstructor` builds them (see the parent
//! module).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Request;
use crate::plan::tokens::TokenCounter;

/// Draws block and tail words.
pub(super) struct Words<'a> {
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
    pub(super) fn new<'a>(tokens: &'a TokenCounter, seed: u64, trace: &'a str) -> Words<'a> {
        Words {
            tokens,
            seed,
            trace,
            cache: HashMap::new(),
        }
    }

    pub(super) fn trace(&self) -> &str {
        self.trace
    }

    /// `n` consecutive corpus words from an offset drawn from `key`.
    pub(super) fn run(&self, key: u64, n: u64) -> Vec<u32> {
        let len = self.tokens.word_count() as u64;
        (0..n)
            .map(|i| ((key.wrapping_add(i)) % len) as u32)
            .collect()
    }

    pub(super) fn block(&mut self, hash: u64, size: u32) -> Vec<u32> {
        if let Some(w) = self.cache.get(&hash) {
            return w.clone();
        }
        let key = mix(self.seed, format!("{}:{hash}", self.trace).as_bytes());
        let words = self.run(key, u64::from(size));
        self.cache.insert(hash, words.clone());
        words
    }

    pub(super) fn blocks(&mut self, hashes: &[u64], size: u32) -> Vec<u32> {
        hashes.iter().flat_map(|&h| self.block(h, size)).collect()
    }

    pub(super) fn tail(&self, n: u64, seed: &str) -> Vec<u32> {
        self.run(mix(self.seed, seed.as_bytes()), n)
    }

    pub(super) fn text(&self, words: &[u32]) -> String {
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
pub(super) struct Conversation {
    segments: Vec<Segment>,
}

impl Conversation {
    pub(super) fn first(
        &mut self,
        w: &mut Words<'_>,
        bs: u32,
        req: &Request,
        prefix_tokens: u64,
        seed: &str,
    ) {
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

    pub(super) fn next(
        &mut self,
        w: &mut Words<'_>,
        bs: u32,
        prev: &Request,
        curr: &Request,
        seed: &str,
    ) {
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

    pub(super) fn messages(&self, w: &Words<'_>) -> Vec<Value> {
        self.segments
            .iter()
            .map(|s| json!({"role": s.role, "content": w.text(&s.words)}))
            .collect()
    }

    /// The text of the last assistant message (empty without one).
    pub(super) fn last_answer(&self, w: &Words<'_>) -> String {
        let answer = self.segments.iter().rev().find(|s| s.role == "assistant");
        answer.map(|s| w.text(&s.words)).unwrap_or_default()
    }
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
}
