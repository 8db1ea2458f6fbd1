//! `infergate bench --merge-shards N`: how long merging shards' results takes.
//!
//! Records `requests` requests (with spread-out latencies and token counts) split over `shards`
//! recorders, writes each as the JSON a shard leaves (`RecorderFile`), then times what a merge does
//! with them: read and parse every file, rebuild each recorder, and merge them exactly. The cost
//! follows the number of distinct histogram buckets, not the number of requests.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::client::openai::Usage;
use crate::client::{Exchange, Reasoning, Success};
use crate::measure::recorder::wire::RecorderFile;
use crate::measure::recorder::{Expect, Recorder, Sample};

/// What the merge cost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeRow {
    pub shards: u32,
    pub requests: u64,
    /// Bytes of one shard's recorder file, on average.
    pub file_bytes: usize,
    /// Parsing, rebuilding and merging every shard, milliseconds.
    pub merge_ms: f64,
    /// The merged recorder's request count (equals `requests`).
    pub merged_ok: u64,
}

fn sample(base: Instant, rng: &mut StdRng) -> Sample {
    let sent = base + Duration::from_micros(rng.random_range(0..600_000_000));
    let first = sent + Duration::from_micros(rng.random_range(5_000..2_000_000));
    let gaps: Vec<u64> = (0..8).map(|_| rng.random_range(500..80_000)).collect();
    let end = first + Duration::from_micros(gaps.iter().sum());
    Sample {
        intended: sent,
        prompt_tokens: rng.random_range(16..4096),
        expect: Expect::default(),
        exchange: Exchange::Ok(Success {
            sent,
            first_content: Some(first),
            end,
            content_gaps_us: gaps,
            content_chunks: 9,
            reasoning: Reasoning {
                first_output: Some(first),
                counted: 0,
            },
            usage: Some(Usage {
                prompt_tokens: None,
                completion_tokens: Some(rng.random_range(9..2048)),
                reasoning_tokens: None,
            }),
            body_words: 0,
        }),
    }
}

/// Builds the shards' files, then times merging them.
pub fn run(shards: u32, requests: u64) -> MergeRow {
    let shards = shards.max(1);
    let base = Instant::now();
    let mut rng = StdRng::seed_from_u64(7);
    let mut recorders: Vec<Recorder> = (0..shards).map(|_| Recorder::new()).collect();
    for i in 0..requests {
        let r = &mut recorders[(i % u64::from(shards)) as usize];
        r.scheduled += 1;
        r.record(&sample(base, &mut rng));
    }
    let files: Vec<Vec<u8>> = recorders
        .iter()
        .map(|r| serde_json::to_vec(&r.to_file(base)).expect("serialises"))
        .collect();
    drop(recorders);
    let started = Instant::now();
    let rebuilt: Vec<Recorder> = files
        .iter()
        .map(|bytes| {
            let file: RecorderFile = serde_json::from_slice(bytes).expect("parses");
            Recorder::from_file(&file, base).expect("rebuilds")
        })
        .collect();
    let merged = Recorder::merged_shards(&rebuilt);
    let merge_ms = started.elapsed().as_secs_f64() * 1e3;
    MergeRow {
        shards,
        requests,
        file_bytes: files.iter().map(Vec::len).sum::<usize>() / files.len(),
        merge_ms,
        merged_ok: merged.ok,
    }
}
