//! `metrics.prometheus.url` naming a real Prometheus server (Debian's package) that scrapes two
//! simulator replicas behind a round-robin forwarder (a Service): each stage's engine-side request
//! count, read back with PromQL, is the client's successes across both replicas, exactly.

use std::path::Path;

use infergate::gate::{ScenarioOutcome, Status, evaluate};
use infergate::measure::server::Mode;
use infergate::report::write_scenario;
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use infergate::sim::{SimConfig, SimHandle};

use libtest_mimic::Trial;

use crate::servers::{Prometheus, RoundRobin, binary};

/// The test, ignored without a `prometheus` binary unless `INFERGATE_REQUIRE_PROMETHEUS` is set
/// (`.ci/run` sets it after installing the package): then a missing binary fails it.
pub fn trials() -> Vec<Trial> {
    let required = std::env::var_os("INFERGATE_REQUIRE_PROMETHEUS").is_some();
    let missing = (binary().is_none() && !required).then_some(
        "no prometheus binary (apt-get install prometheus, or INFERGATE_PROMETHEUS=/path/to/it)",
    );
    crate::say_ignored("prometheus", missing);
    vec![crate::trial(
        "prometheus::a_prometheus_server_counts_every_replica_behind_a_service",
        missing,
        a_prometheus_server_counts_every_replica_behind_a_service,
    )]
}

fn scenario(prometheus: &str) -> Scenario {
    let yaml = format!(
        r#"api: {{type: completion, streaming: true}}
data:
  type: random
  input_distribution: {{mean: 16, std_dev: 0, min: 16, max: 16}}
  output_distribution: {{mean: 8, std_dev: 0, min: 8, max: 8}}
load:
  type: concurrent
  stages: [{{num_requests: 120, concurrency_level: 8}}, {{num_requests: 60, concurrency_level: 4}}]
metrics:
  type: prometheus
  prometheus: {{url: "{prometheus}", scrape_interval: 1, filters: ['job="engines"']}}
report:
  prometheus: {{summary: true, per_stage: true}}
thresholds:
  server.num_requests_running: ["max < 100"]
# About the engine-side counts: a late send on a busy machine must not make the run invalid.
validity: {{max_schedule_delay_p99: 1s, min_achieved_rate: 50%}}
"#
    );
    Scenario::from_source(Path::new("prometheus.yaml"), &yaml).unwrap_or_else(|e| panic!("{e}"))
}

/// `vllm:request_success_total` as one replica's own page shows it.
async fn served(replica: &SimHandle) -> f64 {
    let page = reqwest::get(format!("{}/metrics", replica.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.lines()
        .find(|l| l.starts_with("vllm:request_success_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .expect("request_success_total")
}

async fn a_prometheus_server_counts_every_replica_behind_a_service() {
    let binary =
        binary().expect("INFERGATE_REQUIRE_PROMETHEUS is set but no prometheus binary was found");
    let local = ([127, 0, 0, 1], 0).into();
    let replicas = [
        SimHandle::start(SimConfig::default(), local).unwrap(),
        SimHandle::start(SimConfig::default(), local).unwrap(),
    ];
    let hosts: Vec<String> = replicas
        .iter()
        .map(|r| r.base_url().trim_start_matches("http://").to_string())
        .collect();
    let prometheus = Prometheus::start(&binary, &hosts, "vllm:request_success_total").await;
    let service = RoundRobin::start(hosts).await;
    let s = scenario(&prometheus.url);
    let options = RunOptions {
        target: Target::Url(service.url.clone()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.total.ok, 180, "{:?}", run.warnings);
    let (a, b) = (served(&replicas[0]).await, served(&replicas[1]).await);
    assert!(a > 0.0 && b > 0.0, "both replicas served: {a} and {b}");
    assert_eq!(a + b, 180.0);
    for stage in &run.stages {
        let server = stage.server.as_ref().expect("read back");
        assert_eq!(server.mode, Mode::PrometheusServer);
        assert_eq!(server.failed_scrapes, 0, "{:?}", server.last_error);
        assert_eq!(server.engines, ["vllm"]);
        assert_eq!(
            server.counters.get("requests").copied(),
            Some(stage.recorder.ok as f64),
            "stage {}: the engine-side count is the client's successes",
            stage.stage.index
        );
        let e2e = &server.histograms["e2e_latency"];
        assert_eq!(e2e.count, stage.recorder.ok as f64);
        assert_eq!(
            server.counters.get("generation_tokens").copied(),
            Some(8.0 * stage.recorder.ok as f64)
        );
        assert!(!server.gauges["num_requests_running"].is_empty());
    }
    let gate = evaluate(&s.thresholds, &s.validity, &run);
    assert_eq!(gate.status, Status::Passed, "{:?}", gate.checks);

    // inference-perf's layout, beside the lifecycle files, which say how the metrics were read.
    let dir = tempfile::tempdir().unwrap();
    let outcome = ScenarioOutcome::Judged {
        run: Box::new(run),
        gate,
    };
    write_scenario(dir.path(), &outcome).unwrap();
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        serde_json::from_str(&text).unwrap()
    };
    let summary = read("summary_prometheus_metrics.json");
    assert_eq!(summary["successes"]["count"], 180.0);
    assert_eq!(summary["successes"]["prompt_len"]["mean"], 16.0);
    assert!(
        summary["successes"]["request_latency"]["p90"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(
        read("stage_1_prometheus_metrics.json")["successes"]["count"],
        60.0
    );
    let lifecycle = read("stage_0_lifecycle_metrics.json");
    assert_eq!(lifecycle["server_metrics"]["mode"], "prometheus-server");
}
