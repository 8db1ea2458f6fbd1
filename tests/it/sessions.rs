//! Multi-turn sessions end to end: each turn resends the conversation with the model's real answers,
//! a session's rounds go in order (and wait out tool-call latencies without counting them as the
//! runner's delay), session headers are sent, and the reports count sessions and turns.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use infergate::plan::shard::Shard;
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use wiremock::MockServer;

use crate::support::openai_mock::{completions, serving, sse};

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_source(Path::new("sessions.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"))
}

/// A server that answers every completion with ` ANSWER here` and a session token header.
async fn answering_server() -> MockServer {
    let server = serving(&["m"]).await;
    let body = sse(&[
        r#"{"choices":[{"index":0,"text":" ANSWER"}]}"#,
        r#"{"choices":[{"index":0,"text":" here","finish_reason":"stop"}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#,
        "[DONE]",
    ]);
    completions(&server, body.insert_header("x-session-token", "tok-7")).await;
    server
}

#[tokio::test(flavor = "current_thread")]
async fn every_turn_resends_the_conversation_with_the_real_answers_in_order() {
    let _turn = crate::support::turn().await;
    let server = answering_server().await;
    let s = scenario(
        "api: {type: completion, streaming: true, session_id_header_key: x-session-id, session_token_header_key: x-session-token}
data:
  type: conversation_replay
  conversation_replay:
    num_conversations: 2
    shared_system_prompt_len: 12
    dynamic_system_prompt_len: {type: uniform, min: 3, max: 9}
    turns_per_conversation: {type: fixed, mean: 3}
    input_tokens_per_turn: {type: uniform, min: 2, max: 6}
    output_tokens_per_turn: {type: fixed, mean: 2}
load:
  type: concurrent
  stages: [{num_requests: 8, concurrency_level: 2}]
",
    );
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    assert_eq!(run.total.ok, 8);
    let mut by_session: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
    for request in server.received_requests().await.unwrap() {
        if request.url.path() != "/v1/completions" {
            continue;
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let prompt = body["prompt"].as_str().unwrap().to_string();
        let id = header("x-session-id").expect("every turn carries its session id");
        by_session
            .entry(id)
            .or_default()
            .push((prompt, header("x-session-token")));
    }
    let ids: Vec<&str> = by_session.keys().map(String::as_str).collect();
    // 8 requests over 2 conversations of 3 turns: each plays once, then conversation 0 and 1 begin
    // again (inference-perf's names for a replayed slot).
    assert_eq!(
        ids,
        ["conv_0", "conv_1", "slot_0_convo_1", "slot_1_convo_1"]
    );
    for (id, turns) in &by_session {
        let expected = if id.starts_with("conv_") { 3 } else { 1 };
        assert_eq!(turns.len(), expected, "{id}");
        for (k, (prompt, token)) in turns.iter().enumerate() {
            assert_eq!(
                prompt.matches(" ANSWER here").count(),
                k,
                "{id} turn {k}: {prompt}"
            );
            assert_eq!(
                token.is_some(),
                k > 0,
                "{id} turn {k}: the token comes back after turn 0"
            );
            if k > 0 {
                let previous = format!("{} ANSWER here", turns[k - 1].0);
                assert!(prompt.starts_with(&previous), "{id} turn {k}: {prompt}");
                assert_eq!(token.as_deref(), Some("tok-7"));
            }
        }
    }
    // A replay starts with the same system prompt, and no history.
    assert_eq!(by_session["slot_0_convo_1"][0].0, by_session["conv_0"][0].0);
    let sessions = &run.total.sessions;
    assert_eq!((sessions.started, sessions.completed), (4, 2));
    let per_turn: Vec<u64> = sessions.turns.iter().map(|t| t.requests).collect();
    assert_eq!(per_turn, [4, 2, 2]);
}

#[tokio::test(flavor = "current_thread")]
async fn open_loop_rounds_follow_each_other_and_prompts_grow_by_the_answers() {
    let _turn = crate::support::turn().await;
    // 4 users (2 groups of 2), 20 req/s for 1 s: 5 rounds each. Every round adds the user's question
    // (5 tokens) and the simulator's answer (4 tokens with ignore_eos) to the next prompt.
    let s = scenario(
        "api: {type: completion, streaming: true}
server: {ignore_eos: true}
data:
  type: shared_prefix
  shared_prefix: {num_unique_system_prompts: 2, num_users_per_system_prompt: 2, system_prompt_len: 20, question_len: 5, output_len: 4, enable_multi_turn_chat: true}
load:
  type: constant
  stages: [{rate: 20, duration: 1}]
",
    );
    let run = run_scenario(&s, &RunOptions::default()).await.unwrap();
    let t = &run.total;
    assert_eq!(t.ok, 20, "{:?}", t.failures);
    let sessions = &t.sessions;
    assert_eq!(sessions.started, 4);
    assert_eq!(sessions.turns.len(), 5);
    for (k, turn) in sessions.turns.iter().enumerate() {
        let want = 25 + 9 * k as u64;
        assert_eq!(turn.requests, 4, "turn {k}");
        let (lo, hi) = (turn.prompt_tokens.min(), turn.prompt_tokens.max());
        assert_eq!(
            (lo, hi),
            (want, want),
            "turn {k}: the server counted the prompt"
        );
    }
    assert_eq!(
        t.prompt_token_mismatches, 0,
        "first turns are checked exactly"
    );
    // The lifecycle report carries them, by turn.
    let report = infergate::report::json::lifecycle(t, None, None, &[]);
    let by_turn = report.sessions.expect("sessions in the report").by_turn;
    let medians: Vec<f64> = by_turn
        .iter()
        .map(|e| e.prompt_tokens.as_ref().unwrap().median)
        .collect();
    assert_eq!(medians, [25.0, 34.0, 43.0, 52.0, 61.0]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_tool_call_latency_holds_the_session_but_is_not_the_runners_delay() {
    let _turn = crate::support::turn().await;
    let s = scenario(
        "api: {type: completion, streaming: true}
data:
  type: conversation_replay
  conversation_replay:
    num_conversations: 1
    shared_system_prompt_len: 10
    turns_per_conversation: {type: fixed, mean: 2}
    input_tokens_per_turn: {type: fixed, mean: 5}
    output_tokens_per_turn: {type: fixed, mean: 3}
    tool_call_latency_sec: {type: fixed, mean: 1, min: 1, max: 1}
load:
  type: concurrent
  stages: [{num_requests: 2, concurrency_level: 1}]
",
    );
    let options = RunOptions {
        quick: None,
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    let t = &run.total;
    assert_eq!((t.ok, t.sessions.completed), (2, 1));
    assert!(
        t.active >= Duration::from_secs(1),
        "the second turn waited for the first one's tool call: {:?}",
        t.active
    );
    // Counting the 1 s tool call would put it above 1 s; a busy machine's late wake-up stays below.
    assert!(
        t.schedule_delay.max() < 900_000,
        "the wait is not schedule delay: {} us",
        t.schedule_delay.max()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn sessions_must_divide_evenly_over_shards() {
    let s = scenario(
        "data:
  type: conversation_replay
  conversation_replay: {num_conversations: 4, shared_system_prompt_len: 5}
load:
  type: concurrent
  stages: [{num_requests: 6, concurrency_level: 3}]
",
    );
    let options = RunOptions {
        shard: Shard::new(0, 3).unwrap(),
        ..RunOptions::default()
    };
    let err = run_scenario(&s, &options).await.unwrap_err().to_string();
    assert!(
        err.contains("4 sessions cannot be split over 3 shards"),
        "{err}"
    );
}
