//! The recorder's definitions and accounting, on hand-made exchanges.

use super::*;
use crate::client::{Failure, Reasoning, openai::Usage};
use crate::scenario::{Aggregation, Metric};

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
    for exchange in [
        success(t0, 5, &[1], None),
        failed.clone(),
        failed,
        Exchange::TimedOut {
            sent: t0,
            timeout: Timeout::Idle,
        },
    ] {
        r.scheduled += 1;
        r.record(&Sample {
            intended: t0,
            prompt_tokens: 3,
            expect: Expect::default(),
            exchange,
        });
    }
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
