//! The recorder's definitions and accounting, on hand-made exchanges.

use super::*;
use crate::client::{Failure, Reasoning, openai::Usage};
use crate::scenario::{Aggregation, Metric};

/// Records each exchange as one scheduled request sent at `t0` with a 3-token prompt.
fn record_all<const N: usize>(r: &mut Recorder, t0: Instant, exchanges: [Exchange; N]) {
    for exchange in exchanges {
        r.scheduled += 1;
        r.record(&Sample {
            intended: t0,
            prompt_tokens: 3,
            expect: Expect::default(),
            exchange,
        });
    }
}

fn success(t0: Instant, ttft_ms: u64, gaps_ms: &[u64], tokens: Option<u64>) -> Exchange {
    let first = t0 + Duration::from_millis(ttft_ms);
    let end = first + Duration::from_millis(gaps_ms.iter().sum());
    Exchange::Ok(Success {
        sent: t0,
        first_content: Some(first),
        end,
        content_gaps_us: gaps_ms.iter().map(|g| g * 1000).collect(),
        content_chunks: gaps_ms.len() as u64 + 1,
        reasoning: Reasoning {
            first_output: Some(first),
            counted: 0,
        },
        usage: tokens.map(|n| Usage {
            prompt_tokens: Some(10),
            completion_tokens: Some(n),
            reasoning_tokens: None,
        }),
        body_words: 0,
    })
}

#[test]
fn definitions_of_the_per_request_metrics() {
    let t0 = Instant::now();
    let mut r = Recorder::new();
    r.scheduled = 1;
    r.record(&Sample {
        intended: t0,
        prompt_tokens: 10,
        expect: Expect::default(),
        exchange: success(t0, 100, &[10, 20, 30], Some(4)),
    });
    assert_eq!(
        r.value(Metric::Ttft, Aggregation::Max),
        Some(r.ttft.max() as f64)
    );
    assert!((r.ttft.max() as f64 - 100_000.0).abs() < 100.0);
    assert!((r.request_latency.max() as f64 - 160_000.0).abs() < 200.0);
    // TPOT = (e2e - ttft) / (N - 1) = 60 ms / 3; NTPOT = e2e / N = 160 ms / 4.
    assert!((r.tpot.max() as f64 - 20_000.0).abs() < 50.0);
    assert!((r.ntpot.max() as f64 - 40_000.0).abs() < 50.0);
    assert_eq!(r.itl.len(), 3);
    assert_eq!((r.output_tokens_total, r.output_tokens_from_usage), (4, 1));
    assert_eq!(r.accounted(), r.scheduled);
}

#[test]
fn every_outcome_lands_in_one_bucket() {
    let t0 = Instant::now();
    let mut r = Recorder::new();
    let failed = Exchange::Failed(Failure {
        kind: FailureKind::HttpStatus(500),
        message: "boom".into(),
        sent: t0,
        end: t0,
    });
    record_all(
        &mut r,
        t0,
        [
            success(t0, 5, &[1], None),
            failed.clone(),
            failed,
            Exchange::TimedOut {
                sent: t0,
                timeout: Timeout::Idle,
            },
        ],
    );
    r.scheduled += 1;
    r.cancelled += 1;
    assert_eq!((r.ok, r.failed(), r.timed_out, r.cancelled), (1, 2, 1, 1));
    assert_eq!(r.accounted(), 5);
    assert_eq!(r.error_rate(), 0.75);
    assert_eq!(r.value(Metric::ErrorRate, Aggregation::Count), Some(3.0));
    assert_eq!(r.failures[&FailureKind::HttpStatus(500)].samples.len(), 2);
    // Without usage, output tokens are the content chunks.
    assert_eq!(r.output_tokens_total, 2);
    let all = Recorder::merged([&r, &r]);
    assert_eq!((all.scheduled, all.accounted(), all.stages), (10, 10, 2));
}

/// A reasoning model's success: `think_ms` of reasoning chunks after the first token, then the answer.
fn reasoned(t0: Instant, think_ms: u64, counted: u64, from_usage: Option<u64>) -> Exchange {
    let mut exchange = success(t0, 100, &[10, 10, 10], Some(4));
    if let Exchange::Ok(s) = &mut exchange {
        s.reasoning = Reasoning {
            first_output: Some(t0 + Duration::from_millis(100 + think_ms)),
            counted,
        };
        if let Some(usage) = &mut s.usage {
            usage.reasoning_tokens = from_usage;
        }
    }
    exchange
}

#[test]
fn reasoning_tokens_come_from_usage_else_from_chunks_and_ttfo_from_the_first_answer() {
    let t0 = Instant::now();
    let mut r = Recorder::new();
    record_all(
        &mut r,
        t0,
        [
            reasoned(t0, 20, 2, Some(7)),
            reasoned(t0, 30, 3, None),
            success(t0, 50, &[1], Some(2)),
        ],
    );
    // The server's 7, the client's 3 chunks, and 0 for the answer without reasoning.
    assert_eq!(
        (r.reasoning_tokens_total, r.reasoning_tokens_from_usage),
        (10, 1)
    );
    assert_eq!(
        r.value(Metric::ReasoningTokens, Aggregation::Max),
        Some(7.0)
    );
    assert_eq!(
        r.value(Metric::ReasoningTokens, Aggregation::Min),
        Some(0.0)
    );
    assert_eq!(
        r.value(Metric::ReasoningTokens, Aggregation::Count),
        Some(3.0)
    );
    assert!(r.saw_reasoning());
    // TTFT is the first token of any kind; TTFO the first answer token.
    assert!((r.ttft.max() as f64 - 100_000.0).abs() < 100.0);
    assert!((r.ttfo.max() as f64 - 130_000.0).abs() < 200.0);
    assert!((r.ttfo.min() as f64 - 50_000.0).abs() < 100.0);
    // Merged across stages and shards, and through a shard's file, nothing is lost.
    let all = Recorder::merged([&r, &r]);
    assert_eq!(all.reasoning_tokens.len(), 6);
    assert_eq!((all.reasoning_tokens_total, all.ttfo.len()), (20, 6));
    let shards = Recorder::merged_shards([&r, &r]);
    assert_eq!(shards.reasoning_tokens_from_usage, 2);
    let back = Recorder::from_file(&r.to_file(t0), t0).unwrap();
    assert_eq!(back.ttfo, r.ttfo);
    assert_eq!(back.reasoning_tokens, r.reasoning_tokens);
    assert_eq!(back.reasoning_tokens_total, 10);
    let mut copy = Recorder::new();
    copy.copy_from(&r);
    copy.clear();
    assert_eq!((copy.reasoning_tokens_total, copy.ttfo.len()), (0, 0));
}
