//! Per-request records (`report.request_lifecycle.per_request`): `infergate run` against the
//! embedded simulator writes `per_request_lifecycle_metrics.json`, one entry per finished request of
//! the measured stages, with the fields asked for.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const SCENARIO: &str = "api: {type: completion, streaming: true}
data:
  input_distribution: {mean: 12, std_dev: 0, min: 12, max: 12}
  output_distribution: {mean: 5, std_dev: 0, min: 5, max: 5}
load:
  type: concurrent
  warmup: {requests: 4}
  stages:
    - {num_requests: 30, concurrency_level: 10}
    - {num_requests: 20, concurrency_level: 10}
# About the records, not the runner: a late send on a busy machine must not make it invalid.
validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}
report:
  goodput:
    constraints: {request_latency: 30}
  request_lifecycle:
    per_request: true
    percentiles: [50, 97, 99.99]
";

fn run(dir: &Path, yaml: &str) -> Vec<Value> {
    std::fs::write(dir.join("records.yaml"), yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(["run", "records.yaml", "--sim", "--out", "r"])
        .current_dir(dir)
        .env_remove("INFERGATE_TARGET")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{printed}");
    let path = dir.join("r/records/per_request_lifecycle_metrics.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}: {printed}"));
    serde_json::from_str::<Vec<Value>>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn every_measured_request_is_one_record_with_its_figures() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), SCENARIO);
    // The warm-up's four are left out, as from every statistic.
    assert_eq!(records.len(), 50);
    let in_stage = |i: u64| records.iter().filter(|r| r["stage_id"] == i).count();
    assert_eq!((in_stage(0), in_stage(1)), (30, 20));
    for r in &records {
        assert_eq!(r["outcome"], "ok", "{r}");
        assert_eq!(r["prompt_tokens"], 12, "{r}");
        assert_eq!(r["output_tokens"], 5, "{r}");
        assert_eq!(r["good"], true, "{r}");
        let (scheduled, start, end) = (
            r["scheduled_time"].as_f64().unwrap(),
            r["start_time"].as_f64().unwrap(),
            r["end_time"].as_f64().unwrap(),
        );
        assert!(scheduled <= start && start < end, "{r}");
        let ttft = r["ttft"].as_f64().unwrap();
        let e2e = r["request_latency"].as_f64().unwrap();
        assert!(
            ttft > 0.0 && ttft <= e2e && e2e <= end - start + 1e-6,
            "{r}"
        );
        // Five tokens: four gaps between content chunks.
        assert_eq!(r["chunk_gaps"].as_array().unwrap().len(), 4, "{r}");
        assert!(r.get("error").is_none(), "{r}");
    }
    // The lifecycle file agrees on the count.
    let summary =
        std::fs::read_to_string(dir.path().join("r/records/summary_lifecycle_metrics.json"))
            .unwrap();
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["successes"]["count"], 50);
    assert_eq!(summary["successes"]["goodput_metrics"]["good_requests"], 50);
    // `percentiles` adds to inference-perf's set in every distribution, under its keys.
    let ttft = &summary["successes"]["latency"]["time_to_first_token"];
    for key in ["p97", "p99.99", "median", "p99.9"] {
        assert!(ttft[key].as_f64().is_some(), "{key}: {ttft}");
    }
    assert!(ttft["p97"].as_f64() <= ttft["p99.99"].as_f64(), "{ttft}");
    let stage =
        std::fs::read_to_string(dir.path().join("r/records/stage_1_lifecycle_metrics.json"))
            .unwrap();
    let stage: Value = serde_json::from_str(&stage).unwrap();
    assert!(
        stage["load_summary"]["schedule_delay"]["p97"].is_number(),
        "{stage}"
    );
}

#[test]
fn per_request_fields_keep_only_what_is_named() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("{SCENARIO}    per_request_fields: [stage_id, ttft, outcome]\n");
    let records = run(dir.path(), &yaml);
    assert_eq!(records.len(), 50);
    for r in &records {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["outcome", "stage_id", "ttft"], "{r}");
    }
    let bad = format!("{SCENARIO}    per_request_fields: [stage, ttft]\n");
    let wrong = SCENARIO.replace("[50, 97, 99.99]", "[50, 120]");
    let err = infergate::scenario::Scenario::from_source(Path::new("p.yaml"), &wrong)
        .unwrap_err()
        .to_string();
    assert!(err.contains("120 is not a percentile"), "{err}");
    let err = infergate::scenario::Scenario::from_source(Path::new("b.yaml"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("report.request_lifecycle.per_request_fields")
            && err.contains("unknown field `stage`; allowed: stage_id, scheduled_time"),
        "{err}"
    );
}
