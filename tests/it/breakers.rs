//! Circuit breakers end to end: a target that fails every request opens inference-perf's breaker,
//! the run stops early with every request accounted for, and the verdict names the breaker.

use std::path::Path;

use infergate::gate::{Status, evaluate};
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use wiremock::ResponseTemplate;

use crate::support::openai_mock::{completions, serving};

#[tokio::test(flavor = "current_thread")]
async fn a_breaker_on_failures_stops_the_run_and_fails_it_by_name() {
    let _turn = crate::support::turn().await;
    let server = serving(&["m"]).await;
    completions(
        &server,
        ResponseTemplate::new(503).set_body_string("overloaded"),
    )
    .await;
    // inference-perf's examples/vllm/config-circuitbreaker.yml, with an HTTP error as the match.
    // About the breaker, not the runner: a late send on a busy machine must not make it invalid.
    let s = Scenario::from_source(
        Path::new("cb.yaml"),
        &(String::from(
            "circuit_breakers:
  - name: unavailable
    metrics:
      matches:
        - error.error_type == 'HTTP Error 503'
    triggers:
      - type: consecutive
        threshold: 5
      - type: rate_over_window
        window_sec: 2.5
        threshold: 0.8
        min_samples: 50
  - name: unused
    metrics: {matches: [error]}
    triggers: [{type: consecutive, threshold: 1}]
load:
  type: constant
  stages: [{rate: 20, duration: 10}]
  circuit_breakers: [unavailable]
",
        ) + crate::support::LOOSE_VALIDITY),
    )
    .unwrap();
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    let t = &run.total;
    let reason = run.aborted.clone().expect("the breaker stopped the run");
    assert!(
        reason.contains("circuit breaker `unavailable` opened: 5 hits in a row"),
        "{reason}"
    );
    assert!(t.failed() >= 5, "{:?}", t.failures);
    assert!(
        t.cancelled > 100,
        "the rest of the 200 were cancelled (stopped in the first half): {}",
        t.cancelled
    );
    assert_eq!(t.accounted(), t.scheduled);
    assert_eq!(t.scheduled, 200);
    let report = evaluate(&s.thresholds, &s.validity, &run);
    assert_eq!(report.status, Status::Failed);
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.message.contains("circuit breaker `unavailable`")),
        "{:?}",
        report.checks
    );
}

#[test]
fn breakers_are_checked_by_name_and_expression() {
    let error_of = |yaml: &str| {
        Scenario::from_source(Path::new("cb.yaml"), yaml)
            .unwrap_err()
            .to_string()
    };
    let base = "circuit_breakers:
  - name: slow
    metrics:
      matches: [\"error.error_type == 'TimeoutError'\"]
    triggers: [{type: consecutive, threshold: 3}]
load:
  stages: [{rate: 1, duration: 1}]
  circuit_breakers: [slow]
";
    let s = Scenario::from_source(Path::new("cb.yaml"), base).unwrap();
    assert_eq!(s.load.circuit_breakers.len(), 1);
    let e = error_of(&base.replace("circuit_breakers: [slow]", "circuit_breakers: [slo]"));
    assert!(
        e.contains("load.circuit_breakers[0]: no breaker named `slo`"),
        "{e}"
    );
    let e = error_of(&base.replace(
        "error.error_type == 'TimeoutError'",
        "end_time - start_time > `5`",
    ));
    assert!(
        e.starts_with("cb.yaml:4:7: circuit_breakers[0].metrics.matches[0]")
            && e.contains("infergate reads these forms"),
        "{e}"
    );
    let e = error_of(&base.replace(
        "type: consecutive, threshold: 3",
        "type: consecutive, threshhold: 3",
    ));
    assert!(e.contains("threshhold"), "{e}");
}
