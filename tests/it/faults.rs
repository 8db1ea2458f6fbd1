//! Faults a target can throw at the load generator, injected by a small raw-TCP server on 127.0.0.1
//! (wiremock cannot reset a connection, stall a stream or stream 30 MB without a newline). Every run
//! completes, every scheduled request lands in exactly one bucket, and nothing panics.

use std::path::Path;

use crate::support::fault_server::{Fault, fault_server};
use infergate::client::FailureKind;
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;

/// The timeouts tell a stalled stream (idle) from a silent server (the whole request); they are far
/// apart and far above what a healthy answer takes even on a busy machine, where a 0.3 s idle limit
/// once cut a healthy stream.
fn scenario(requests: u32) -> Scenario {
    let yaml = format!(
        "api: {{streaming: true}}
load:
  type: concurrent
  stages: [{{num_requests: {requests}, concurrency_level: 4}}]
  request_timeout: 4
  idle_timeout: 1
"
    );
    Scenario::from_source(Path::new("faults.yaml"), &yaml).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_the_server_closes_after_answering_is_not_a_failed_request() {
    let _turn = crate::support::turn().await;
    // Closed loop, one slot: each request goes out on the connection of the one before it, which
    // the server closes (llama.cpp's behaviour after a streamed response).
    let url = fault_server(vec![Fault::HealthyThenClose]).await;
    let yaml = "api: {streaming: true}\nload:\n  type: concurrent\n  stages: [{num_requests: 12, concurrency_level: 1}]\n";
    let s = Scenario::from_source(Path::new("close.yaml"), yaml).unwrap();
    let options = RunOptions {
        target: Target::Url(url),
        ..RunOptions::default()
    };
    let result = run_scenario(&s, &options).await.unwrap();
    assert_eq!(result.total.ok, 12, "{:?}", result.total.failures);
    assert!(
        result.warnings.iter().any(|w| w.contains("sent twice")),
        "the re-sends are reported: {:?}",
        result.warnings
    );
}

#[tokio::test(flavor = "current_thread")]
async fn every_fault_is_counted_once_and_the_run_completes() {
    let _turn = crate::support::turn().await;
    let faults = vec![
        Fault::Healthy,
        Fault::ResetAfter(2),
        Fault::StallAfterFirstToken,
        Fault::BrokenJson,
        Fault::NoDone,
        Fault::UsageOnly,
        Fault::EmptyChoices,
        Fault::HugeLine,
        Fault::NeverAnswer,
        Fault::Status(503),
        Fault::Status(429),
    ];
    let rounds = 2;
    let url = fault_server(faults.clone()).await;
    let options = RunOptions {
        target: Target::Url(url),
        ..RunOptions::default()
    };
    let run = run_scenario(&scenario((faults.len() * rounds) as u32), &options)
        .await
        .unwrap();
    let r = &run.total;
    assert_eq!(r.scheduled, 22);
    assert_eq!(
        r.accounted(),
        r.scheduled,
        "ok + failed + timed out + cancelled = scheduled"
    );
    assert_eq!(r.ok, 2, "the healthy ones");
    let count = |kind: FailureKind| r.failures.get(&kind).map_or(0, |g| g.count);
    assert_eq!(
        count(FailureKind::StreamInterrupted),
        2,
        "{:#?}",
        r.failures
    );
    assert_eq!(
        count(FailureKind::Malformed),
        4,
        "broken JSON and the 30 MB line: {:#?}",
        r.failures
    );
    assert_eq!(count(FailureKind::IncompleteStream), 2);
    assert_eq!(
        count(FailureKind::NoContent),
        4,
        "usage-only and empty choices"
    );
    assert_eq!(count(FailureKind::HttpStatus(503)), 2);
    assert_eq!(count(FailureKind::RateLimited), 2);
    assert_eq!(
        (r.timed_out, r.idle_timeouts),
        (4, 2),
        "a stalled stream and a silent server, twice each"
    );
    let huge = &r.failures[&FailureKind::Malformed].samples;
    assert!(
        huge.iter().any(|m| m.contains("MiB without an end")),
        "{huge:?}"
    );
    assert_eq!(
        r.output_tokens_total, 6,
        "usage of the two healthy requests"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_that_dies_mid_run_is_recorded_not_fatal() {
    let _turn = crate::support::turn().await;
    let url = fault_server(vec![Fault::Healthy, Fault::ResetAfter(0)]).await;
    let options = RunOptions {
        target: Target::Url(url),
        ..RunOptions::default()
    };
    let run = run_scenario(&scenario(10), &options).await.unwrap();
    assert_eq!(
        (run.total.ok, run.total.failed(), run.total.accounted()),
        (5, 5, 10)
    );
    assert!((run.total.error_rate() - 0.5).abs() < 1e-9);
}
