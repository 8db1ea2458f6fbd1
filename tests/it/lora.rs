//! `load.lora_traffic_split`: each request names one adapter as its `model`, drawn by its share and
//! seeded; the pre-flight check wants every adapter served; each adapter gets its own figures.

use std::collections::BTreeMap;
use std::path::Path;

use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use wiremock::MockServer;

use crate::support::openai_mock::{completions, serving, sse};

const SPLIT: &str = "load:
  type: concurrent
  stages: [{num_requests: 400, concurrency_level: 8}]
  lora_traffic_split:
    - {name: movie, split: 0.25}
    - {name: consumer, split: 0.75}
api: {type: completion, streaming: true}
";

async fn server(models: &[&str]) -> MockServer {
    let server = serving(models).await;
    let body = sse(&[
        r#"{"choices":[{"index":0,"text":" ok"}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1}}"#,
        "[DONE]",
    ]);
    completions(&server, body).await;
    server
}

#[tokio::test(flavor = "current_thread")]
async fn requests_go_to_the_adapters_by_their_shares_and_each_is_measured() {
    let _turn = crate::support::turn().await;
    let server = server(&["base", "movie", "consumer"]).await;
    let s = Scenario::from_source(Path::new("lora.yaml"), SPLIT).unwrap();
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    assert_eq!(run.total.ok, 400);
    let mut sent: BTreeMap<String, u64> = BTreeMap::new();
    for r in server.received_requests().await.unwrap() {
        if r.url.path() == "/v1/completions" {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            *sent
                .entry(body["model"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let (movie, consumer) = (sent["movie"], sent["consumer"]);
    assert_eq!(movie + consumer, 400, "{sent:?}");
    // 400 draws at 25 %: 100 expected, sd 8.7; 4 sd either side.
    assert!((65..=135).contains(&movie), "{sent:?}");
    let per_adapter: Vec<u64> = run.total.adapters.iter().map(|a| a.ok).collect();
    assert_eq!(
        per_adapter,
        [movie, consumer],
        "each adapter's own recorder"
    );
    // Seeded: the same scenario sends the same adapters.
    let again = run_scenario(&s, &options).await.unwrap();
    let again: Vec<u64> = again.total.adapters.iter().map(|a| a.ok).collect();
    assert_eq!(again, per_adapter);
}

#[tokio::test(flavor = "current_thread")]
async fn an_adapter_the_target_does_not_serve_is_refused_before_any_load() {
    let server = server(&["base", "movie"]).await;
    let s = Scenario::from_source(Path::new("lora.yaml"), SPLIT).unwrap();
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let err = run_scenario(&s, &options).await.unwrap_err().to_string();
    assert!(
        err.contains("does not serve LoRA adapter(s) consumer"),
        "{err}"
    );
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/completions")
        .count();
    assert_eq!(posts, 0);
}

#[test]
fn splits_must_name_distinct_adapters_and_add_up_to_one() {
    let error_of = |yaml: String| {
        Scenario::from_source(Path::new("lora.yaml"), &yaml)
            .unwrap_err()
            .to_string()
    };
    let e = error_of(SPLIT.replace("split: 0.75", "split: 0.70"));
    assert!(
        e.contains("load.lora_traffic_split: the splits add up to 0.95"),
        "{e}"
    );
    let e = error_of(SPLIT.replace("name: consumer", "name: movie"));
    assert!(
        e.contains("lora_traffic_split[1]: adapter names must be set and unique"),
        "{e}"
    );
    let s = Scenario::from_source(Path::new("lora.yaml"), SPLIT).unwrap();
    let lora = s.load.lora.unwrap();
    assert!(
        lora.per_adapter && !lora.per_adapter_stage,
        "inference-perf's defaults"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn thresholds_can_be_scoped_to_one_adapter() {
    let _turn = crate::support::turn().await;
    let server = server(&["base", "movie", "consumer"]).await;
    let yaml = format!(
        "{SPLIT}thresholds:\n  error_rate{{adapter:movie}}: [\"rate < 1%\"]\n  ttft{{stage:0,adapter:consumer}}: [\"p(99) < 1us\"]\n{}",
        crate::support::LOOSE_VALIDITY
    );
    let s = Scenario::from_source(Path::new("lora.yaml"), &yaml).unwrap();
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    let report = infergate::gate::evaluate(&s.thresholds, &s.validity, &run);
    let verdict = |key: &str| {
        report
            .checks
            .iter()
            .find(|c| c.name.starts_with(key))
            .map(|c| (c.verdict, c.message.clone()))
            .unwrap_or_else(|| panic!("{key}: {:?}", report.checks))
    };
    assert_eq!(
        verdict("error_rate{adapter:movie}").0,
        infergate::gate::Verdict::Pass
    );
    assert_eq!(
        verdict("ttft{stage:0,adapter:consumer}").0,
        infergate::gate::Verdict::Fail
    );
    assert_eq!(report.status, infergate::gate::Status::Failed);
    let e = Scenario::from_source(
        Path::new("lora.yaml"),
        &format!("{SPLIT}thresholds:\n  ttft{{adapter:drama}}: [\"p(99) < 1s\"]\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no adapter `drama` in load.lora_traffic_split"),
        "{e}"
    );
}
