//! The split of one schedule over shards: for every arrival process, any number of shards and any
//! seed, the shards' arrivals together are exactly the unsharded schedule, each arrival in one shard.

use std::time::Duration;

use infergate::plan::arrivals::{Arrivals, Process};
use infergate::plan::shard::Shard;
use proptest::prelude::*;

fn process(kind: u8, burstiness: f64) -> Process {
    match kind % 3 {
        0 => Process::Constant,
        1 => Process::Poisson,
        _ => Process::Gamma { burstiness },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_union_of_the_shards_is_the_unsharded_schedule(
        kind in 0u8..3,
        burstiness in 0.2f64..4.0,
        rate in 1.0f64..400.0,
        millis in 1u64..3_000,
        seed in any::<u64>(),
        count in 1u32..9,
    ) {
        let p = process(kind, burstiness);
        let duration = Duration::from_millis(millis);
        let whole: Vec<(u64, Duration)> = Arrivals::new(p, rate, duration, seed)
            .enumerate()
            .map(|(i, d)| (i as u64, d))
            .collect();
        let mut union: Vec<(u64, Duration)> = (0..count)
            .flat_map(|i| {
                Shard::new(i, count)
                    .unwrap()
                    .arrivals(Arrivals::new(p, rate, duration, seed))
                    .collect::<Vec<_>>()
            })
            .collect();
        union.sort();
        prop_assert_eq!(union, whole);
    }
}

mod merge {
    use std::time::{Duration, Instant};

    use infergate::client::openai::Usage;
    use infergate::client::{Exchange, Failure, FailureKind, Success, Timeout};
    use infergate::measure::recorder::{Expect, Recorder, Sample};
    use proptest::prelude::*;

    /// A request's end, from a few numbers: 0 and 1 succeed (streamed, or not), 2 fails, 3 times out.
    fn sample(
        base: Instant,
        i: usize,
        kind: u8,
        ttft_ms: u64,
        gaps: &[u64],
        tokens: u64,
    ) -> Sample {
        let intended = base + Duration::from_millis(i as u64 * 7);
        let sent = intended + Duration::from_micros(ttft_ms * 13 % 997);
        let first = sent + Duration::from_millis(ttft_ms);
        let end = first + Duration::from_micros(gaps.iter().sum());
        let exchange = match kind % 4 {
            0 | 1 => Exchange::Ok(Success {
                sent,
                first_content: (kind % 4 == 0).then_some(first),
                end,
                content_gaps_us: gaps.to_vec(),
                content_chunks: gaps.len() as u64 + 1,
                reasoning: Default::default(),
                usage: Some(Usage {
                    prompt_tokens: Some(32),
                    completion_tokens: Some(tokens),
                    reasoning_tokens: None,
                }),
                body_words: tokens,
            }),
            2 => Exchange::Failed(Failure {
                kind: if ttft_ms % 2 == 0 {
                    FailureKind::HttpStatus(503)
                } else {
                    FailureKind::StreamInterrupted
                },
                message: format!("failure {i}"),
                sent,
                end,
            }),
            _ => Exchange::TimedOut {
                timeout: if ttft_ms % 2 == 0 {
                    Timeout::Total
                } else {
                    Timeout::Idle
                },
                sent,
            },
        };
        Sample {
            intended,
            prompt_tokens: 32,
            expect: Expect {
                prompt: true,
                output: Some(16),
            },
            exchange,
        }
    }

    fn counts(r: &Recorder) -> Vec<u64> {
        let mut v = vec![
            r.ok,
            r.timed_out,
            r.idle_timeouts,
            r.input_tokens_total,
            r.output_tokens_total,
            r.output_tokens_from_usage,
            r.prompt_token_mismatches,
            r.token_count_mismatches,
        ];
        v.extend(r.failures.values().map(|g| g.count));
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Merging the recorders of any split gives every count and every HDR bucket of the
        /// recorder that saw all the requests.
        #[test]
        fn merged_shards_equal_the_recorder_of_the_union(
            requests in prop::collection::vec(
                (0u8..4, 1u64..5_000, prop::collection::vec(1u64..200_000, 0..20), 1u64..64),
                0..200,
            ),
            count in 1usize..6,
        ) {
            let base = Instant::now();
            let mut whole = Recorder::new();
            let mut shards: Vec<Recorder> = (0..count).map(|_| Recorder::new()).collect();
            for (i, (kind, ttft, gaps, tokens)) in requests.iter().enumerate() {
                let s = sample(base, i, *kind, *ttft, gaps, *tokens);
                whole.record(&s);
                shards[i % count].record(&s);
            }
            let merged = Recorder::merged_shards(&shards);
            prop_assert_eq!(counts(&merged), counts(&whole));
            // The windows too: the union's send, schedule and completion rates.
            prop_assert_eq!(merged.achieved_rate(), whole.achieved_rate());
            prop_assert_eq!(merged.scheduled_rate(), whole.scheduled_rate());
            prop_assert_eq!(merged.completion_rate(), whole.completion_rate());
            for (a, b) in [
                (&merged.ttft, &whole.ttft),
                (&merged.itl, &whole.itl),
                (&merged.tpot, &whole.tpot),
                (&merged.ntpot, &whole.ntpot),
                (&merged.request_latency, &whole.request_latency),
                (&merged.latency_from_intended, &whole.latency_from_intended),
                (&merged.schedule_delay, &whole.schedule_delay),
                (&merged.prompt_tokens, &whole.prompt_tokens),
                (&merged.output_tokens, &whole.output_tokens),
            ] {
                let buckets = |h: &hdrhistogram::Histogram<u64>| -> Vec<(u64, u64)> {
                    h.iter_recorded()
                        .map(|v| (v.value_iterated_to(), v.count_at_value()))
                        .collect()
                };
                prop_assert_eq!(buckets(a), buckets(b));
            }
        }
    }
}

mod files {
    use std::time::{Duration, Instant};

    use infergate::client::openai::Usage;
    use infergate::client::{Exchange, Success};
    use infergate::measure::recorder::{Expect, Recorder, Sample};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// A recorder written as a shard's file and read back at another origin is the same recorder:
        /// every count and bucket, and its windows shifted with the origin (so rates are unchanged).
        #[test]
        fn a_recorder_survives_its_file(
            requests in prop::collection::vec((1u64..5_000, 0u64..400_000, 1u64..64), 1..100),
        ) {
            let base = Instant::now();
            let mut r = Recorder::new();
            for (i, (ttft, gap, tokens)) in requests.iter().enumerate() {
                let intended = base + Duration::from_millis(i as u64 * 3);
                let first = intended + Duration::from_millis(*ttft);
                r.scheduled += 1;
                r.record(&Sample {
                    intended,
                    prompt_tokens: 9,
                    expect: Expect::default(),
                    exchange: Exchange::Ok(Success {
                        sent: intended,
                        first_content: Some(first),
                        end: first + Duration::from_micros(*gap),
                        content_gaps_us: vec![*gap],
                        content_chunks: 2,
                        reasoning: Default::default(),
                        usage: Some(Usage { prompt_tokens: Some(9), completion_tokens: Some(*tokens), reasoning_tokens: None }),
                        body_words: 0,
                    }),
                });
            }
            let file = r.to_file(base);
            let json = serde_json::to_string(&file).unwrap();
            let back = Recorder::from_file(&serde_json::from_str(&json).unwrap(), base + Duration::from_secs(7)).unwrap();
            prop_assert_eq!(back.to_file(base + Duration::from_secs(7)), file);
            prop_assert_eq!(back.achieved_rate(), r.achieved_rate());
            prop_assert_eq!(back.ttft.len(), r.ttft.len());
        }
    }
}
