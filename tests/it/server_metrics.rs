//! Server-side metrics over real HTTP on 127.0.0.1: the simulator's vLLM-named `/metrics` scraped during
//! each stage, a llama.cpp-named page served by wiremock as a configured `metrics.prometheus.url`, and
//! a metrics URL that does not answer.

use std::path::Path;

use infergate::gate::{Status, Verdict, evaluate};
use infergate::run::{RunOptions, RunResult, Target, run_scenario};
use infergate::scenario::{Aggregation, Metric, Scenario};
use infergate::sim::{EngineConfig, SimConfig};

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_source(Path::new("metrics.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"))
}

async fn run(s: &Scenario, engine: EngineConfig) -> RunResult {
    let options = RunOptions {
        target: Target::Simulator,
        sim: SimConfig {
            engine,
            ..SimConfig::default()
        },
        ..RunOptions::default()
    };
    run_scenario(s, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

const STAGES: &str = r#"api: {type: completion, streaming: true}
data:
  type: random
  input_distribution: {mean: 32, std_dev: 0, min: 32, max: 32}
  output_distribution: {mean: 32, std_dev: 0, min: 32, max: 32}
load:
  type: constant
  interval: 0.2
  stages: [{rate: 10, duration: 1.5}, {rate: 60, duration: 1.5}]
# About scraping, not the runner: a late wake-up on a shared machine must not make it invalid.
validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_metrics_are_scraped_per_stage_and_judged() {
    let _turn = crate::support::turn().await;
    let yaml = format!(
        "{STAGES}thresholds:\n  server.num_requests_waiting{{stage:0}}: [\"max < 1\"]\n  server.num_requests_waiting{{stage:1}}: [\"max >= 1\"]\n  server.ttft: [\"p(99) < 1us\"]\n  server.generation_tokens_per_sec: [\"value > 10\"]\n"
    );
    let s = scenario(&yaml);
    // A small batch, so the second stage queues.
    let engine = EngineConfig {
        max_batch: 4,
        ..EngineConfig::default()
    };
    let result = run(&s, engine).await;
    for stage in &result.stages {
        let server = stage.server.as_ref().expect("scraped");
        assert_eq!(server.engines, vec!["vllm".to_string()]);
        assert!(server.scrapes >= 2, "{server:?}");
        assert_eq!(server.failed_scrapes, 0);
        // Every request of the stage, and only those, shows in the engine's TTFT histogram.
        assert_eq!(
            server.value(Metric::ServerTtft, Aggregation::Count),
            Some(stage.recorder.ok as f64),
            "stage {}",
            stage.stage.index
        );
        let running = server
            .value(Metric::ServerRequestsRunning, Aggregation::Max)
            .unwrap();
        assert!(running <= 4.0, "{running}");
    }
    let gate = evaluate(&s.thresholds, &s.validity, &result);
    let verdict = |name: &str| {
        gate.checks
            .iter()
            .find(|c| c.name.starts_with(name))
            .unwrap_or_else(|| panic!("no check {name}: {:?}", gate.checks))
            .clone()
    };
    assert_eq!(
        verdict("server.num_requests_waiting{stage:0}").verdict,
        Verdict::Pass
    );
    assert_eq!(
        verdict("server.num_requests_waiting{stage:1}").verdict,
        Verdict::Pass
    );
    assert_eq!(
        verdict("server.generation_tokens_per_sec").verdict,
        Verdict::Pass
    );
    let ttft = verdict("server.ttft");
    assert_eq!(ttft.verdict, Verdict::Fail, "a limit nothing meets fails");
    // A duration with its unit: milliseconds here on idle cores, seconds behind another build (the
    // second stage's queue on a batch of 4 grows while the simulator waits for a core).
    assert!(
        ttft.observed.starts_with(|c: char| c.is_ascii_digit())
            && (ttft.observed.ends_with("ms") || ttft.observed.ends_with('s')),
        "{}",
        ttft.observed
    );
    assert_eq!(gate.status, Status::Failed);
}

const LLAMACPP_PAGE: &str = "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 3\nllamacpp:requests_deferred 1\nllamacpp:tokens_predicted_total 500\nllamacpp:prompt_tokens_total 800\nllamacpp:prompt_seconds_total 0.5\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_url_is_scraped_and_one_that_does_not_answer_is_reported() {
    let _turn = crate::support::turn().await;
    let page = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/metrics"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(LLAMACPP_PAGE))
        .mount(&page)
        .await;
    let yaml = format!(
        "{STAGES}metrics:\n  type: prometheus\n  prometheus: {{url: '{}/metrics', scrape_interval: 0.25}}\nthresholds:\n  server.num_requests_running: [\"avg == 3\"]\n",
        page.uri()
    );
    let s = scenario(&yaml);
    let result = run(&s, EngineConfig::default()).await;
    let server = result.stages[0].server.as_ref().unwrap();
    assert_eq!(server.engines, vec!["llamacpp".to_string()]);
    assert!(server.scrapes >= 4, "every 0.25 s over 1.5 s: {server:?}");
    assert_eq!(
        server.value(Metric::ServerRequestsWaiting, Aggregation::Max),
        Some(1.0)
    );
    let gate = evaluate(&s.thresholds, &s.validity, &result);
    assert_eq!(gate.status, Status::Passed, "{:?}", gate.checks);

    // Nothing listens on port 9 of loopback: a warning, a failed threshold naming why, no crash.
    let yaml = format!(
        "{STAGES}metrics:\n  prometheus: {{url: 'http://127.0.0.1:9/metrics', scrape_interval: 0.5}}\nthresholds:\n  server.num_requests_running: [\"max < 100\"]\n  error_rate: [\"rate == 0\"]\n"
    );
    let s = scenario(&yaml);
    let result = run(&s, EngineConfig::default()).await;
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.contains("127.0.0.1:9/metrics")),
        "{:?}",
        result.warnings
    );
    let server = result.stages[0].server.as_ref().unwrap();
    assert!(
        server.failed_scrapes >= 1 && server.scrapes == 0,
        "{server:?}"
    );
    let gate = evaluate(&s.thresholds, &s.validity, &result);
    let check = gate
        .checks
        .iter()
        .find(|c| c.name.starts_with("server.num_requests_running"))
        .unwrap();
    assert_eq!(check.verdict, Verdict::Fail);
    assert!(
        check.message.contains("127.0.0.1:9/metrics"),
        "{}",
        check.message
    );
    assert_eq!(
        result.total.ok, result.total.scheduled,
        "the load itself was unaffected"
    );
}

/// A target whose every path wants `Authorization: Bearer sekret` (401 otherwise): a model list, a
/// non-streamed completion and a llama.cpp `/metrics` page.
async fn key_protected_target() -> wiremock::MockServer {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    let keyed = || header("authorization", "Bearer sekret");
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(keyed())
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"data":[{"id":"m"}]}"#))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .and(keyed())
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"choices":[{"text":" a b"}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/metrics"))
        .and(keyed())
        .respond_with(ResponseTemplate::new(200).set_body_string(LLAMACPP_PAGE))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scraper_sends_the_key_to_the_target_and_to_no_other_host() {
    let _turn = crate::support::turn().await;
    let target = key_protected_target().await;
    let options = RunOptions {
        target: Target::Url(target.uri()),
        api_key: Some(infergate::scenario::Secret::new("sekret".into())),
        ..RunOptions::default()
    };
    let yaml = "api: {type: completion, streaming: false}\nload:\n  stages: [{rate: 4, duration: 1}]\nmetrics: {type: prometheus, prometheus: {scrape_interval: 0.25}}\n";
    let result = run_scenario(&scenario(yaml), &options).await.unwrap();
    assert_eq!(result.total.ok, 4, "the load was let in");
    let server = result.stages[0]
        .server
        .as_ref()
        .expect("the key-protected /metrics was scraped");
    assert_eq!(server.engines, vec!["llamacpp".to_string()]);
    assert!(
        server.scrapes >= 2 && server.failed_scrapes == 0,
        "{server:?}"
    );

    // A metrics URL on another host gets no key.
    let elsewhere = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/metrics"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(LLAMACPP_PAGE))
        .mount(&elsewhere)
        .await;
    let yaml = format!(
        "api: {{type: completion, streaming: false}}\nload:\n  stages: [{{rate: 4, duration: 0.5}}]\nmetrics:\n  prometheus: {{url: '{}/metrics', scrape_interval: 0.25}}\n",
        elsewhere.uri()
    );
    let result = run_scenario(&scenario(&yaml), &options).await.unwrap();
    assert!(result.stages[0].server.as_ref().unwrap().scrapes >= 1);
    let seen = elsewhere.received_requests().await.unwrap();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "the key went to another host"
    );
}

#[test]
fn the_metrics_section_is_validated() {
    let _turn = crate::support::turn_blocking();
    let bad = Scenario::from_source(
        Path::new("m.yaml"),
        "load:\n  stages: [{rate: 1, duration: 1}]\nmetrics:\n  type: graphite\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("allowed: prometheus, none"), "{bad}");
    let bad = Scenario::from_source(
        Path::new("m.yaml"),
        "load:\n  stages: [{rate: 1, duration: 1}]\nthresholds:\n  server.queue: [\"max < 1\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("server.num_requests_waiting"),
        "lists what is allowed: {bad}"
    );
    let bad = Scenario::from_source(
        Path::new("m.yaml"),
        "load:\n  stages: [{rate: 1, duration: 1}]\nthresholds:\n  server.ttft: [\"p(99) < baseline * 1.1\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("not kept in baselines"), "{bad}");
}

/// Non-streamed requests count on the engine's side as streamed ones do: every request and every
/// generated token, though the reply comes whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streamed_requests_show_in_the_engines_counters() {
    let _turn = crate::support::turn().await;
    let yaml = STAGES
        .replace("streaming: true", "streaming: false")
        .replace(", {rate: 60, duration: 1.5}", "");
    let result = run(&scenario(&yaml), EngineConfig::default()).await;
    let stage = &result.stages[0];
    let server = stage.server.as_ref().expect("scraped");
    let ok = stage.recorder.ok as f64;
    assert!(ok >= 10.0, "{ok}");
    assert_eq!(server.counters.get("requests").copied(), Some(ok));
    assert_eq!(
        server.counters.get("generation_tokens").copied(),
        Some(32.0 * ok)
    );
}
