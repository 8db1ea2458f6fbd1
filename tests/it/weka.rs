//! Weka traces (`weka_trace_replay`) replayed as sessions against a wiremock model on 127.0.0.1: shared
//! blocks are rebuilt as the same text at their recorded lengths, and a hub dataset's `traces.jsonl`
//! downloads once.

use std::path::Path;

use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::replay::{bodies, corpus, model};

fn weka_scenario(body: &str) -> Scenario {
    let yaml = format!(
        "api: {{type: chat, streaming: false}}\nserver: {{model_name: m}}\nload:\n  type: trace_session_replay\n  stages: [{{concurrent_sessions: 2}}]\ndata:\n  type: weka_trace_replay\n  weka_trace_replay:\n    trace_idle_gap_cap_seconds: 0.2\n{body}"
    );
    let at = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weka/scenario.yaml");
    Scenario::from_source(&at, &yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn words(m: &Value) -> usize {
    m["content"].as_str().unwrap().split_whitespace().count()
}

#[tokio::test(flavor = "current_thread")]
async fn weka_traces_rebuild_their_shared_blocks_as_the_same_text_and_their_lengths() {
    let _turn = crate::support::turn().await;
    let (server, _) = model(None).await;
    let s = weka_scenario(
        "    trace_files: [cc-session-1.json, cc-session-2.json]\n    model_mapping: {claude-x: m}\n",
    );
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    assert_eq!((run.total.ok, run.total.replay.succeeded()), (7, 2));
    let bodies = bodies(&server).await;
    let total = |b: &Value| {
        b["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(words)
            .sum::<usize>()
    };
    // The built-in tokenizer's words are one token each: every prompt is as long as its trace says.
    assert!(
        bodies.iter().all(|b| b["model"] == "m"),
        "the recorded model, mapped once"
    );
    let mut lengths: Vec<usize> = bodies.iter().map(total).collect();
    lengths.sort_unstable();
    assert_eq!(lengths, vec![32, 40, 48, 56, 80, 88, 120]);
    let parent = |n: usize| bodies.iter().find(|b| total(b) == n).unwrap();
    let (first, second, third) = (parent(40), parent(88), parent(120));
    assert_eq!(
        first["messages"][0], second["messages"][0],
        "blocks 1 and 2 are the same text"
    );
    assert_eq!(second["messages"][1]["role"], "assistant");
    assert!(
        !second["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("LIVE"),
        "the rebuilt answer, not the live one"
    );
    let head = |b: &Value| b["messages"].as_array().unwrap()[..2].to_vec();
    assert_eq!(head(second), head(third));
    // Another trace's block 1 is other text: blocks are drawn per trace.
    assert_ne!(parent(48)["messages"][0], first["messages"][0]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_weka_dataset_is_its_traces_jsonl_downloaded_once() {
    let hub = MockServer::start().await;
    let repo = "o/weka-traces";
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weka");
    let lines: Vec<String> = ["cc-session-1.json", "cc-session-2.json"]
        .iter()
        .map(|f| {
            serde_json::from_slice::<Value>(&std::fs::read(dir.join(f)).unwrap())
                .unwrap()
                .to_string()
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("/datasets/{repo}/resolve/main/traces.jsonl")))
        .respond_with(ResponseTemplate::new(200).set_body_string(lines.join("\n")))
        .expect(1)
        .mount(&hub)
        .await;
    let s = weka_scenario(&format!(
        "    hf_dataset_path: {repo}\n    num_dataset_entries: 1\n"
    ));
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let corpus = corpus(&s, &hub.uri(), cache.path(), false).await.unwrap();
        assert_eq!(corpus.sessions.len(), 1, "num_dataset_entries: 1");
        assert_eq!(
            corpus.sessions[0].events.len(),
            5,
            "3 turns and a subagent's 2"
        );
    }
}
