//! Building a replayed call's messages from its ancestors' live calls.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::plan::replay::graph;
use crate::plan::replay::otel::Call;

fn call(id: &str, start: i64, messages: Vec<Value>, output: Value) -> Call {
    Call {
        span_id: id.into(),
        start_ms: start,
        end_ms: start + 10,
        model: "m".into(),
        messages,
        output: Some(output),
        completion_tokens: None,
        temperature: None,
        tools: Some(vec![json!({"type": "function", "name": "get"})]),
        attributes: Default::default(),
    }
}

fn tool_answer(id: &str, args: &str) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": id, "type": "function", "function": {"name": "get", "arguments": args}}]})
}

fn chain() -> Vec<graph::Event> {
    let q = json!({"role": "user", "content": "weather?"});
    let a = call("a", 0, vec![q.clone()], tool_answer("rec1", "{}"));
    let b = call(
        "b",
        20,
        vec![
            q,
            tool_answer("rec1", "{}"),
            json!({"role": "tool", "tool_call_id": "rec1", "content": "sunny"}),
        ],
        json!({"role": "assistant", "content": "It is sunny."}),
    );
    graph::build(vec![a, b])
}

fn sent(answer: Value) -> Vec<Option<Arc<Sent>>> {
    let messages = vec![json!({"role": "user", "content": "weather?"})];
    vec![Some(Arc::new(Sent { messages, answer })), None]
}

const SUBSTITUTE: Build<'static> = Build {
    substitute: true,
    prefix: None,
    use_recorded_on_bad_tool_calls: false,
};

#[test]
fn the_live_tool_call_replaces_the_recorded_one_and_its_result_follows_it() {
    let events = chain();
    let (messages, n) = build(
        &events[1],
        &events,
        &sent(tool_answer("live9", "{\"city\":\"x\"}")),
        &SUBSTITUTE,
    )
    .unwrap();
    assert_eq!(n, 0);
    assert_eq!(messages[1]["tool_calls"][0]["id"], "live9");
    assert_eq!(
        messages[2]["tool_call_id"], "live9",
        "the tool result points at the live call"
    );
    assert_eq!(messages[2]["content"], "sunny");
}

#[test]
fn malformed_live_tool_calls_are_replaced_by_the_recorded_message_when_asked() {
    let events = chain();
    let bad = sent(tool_answer("live9", "{\"city\": </parameter>"));
    let (messages, _) = build(&events[1], &events, &bad, &SUBSTITUTE).unwrap();
    assert_eq!(
        messages[1]["tool_calls"][0]["id"], "live9",
        "none: the bytes go as they are"
    );
    let how = Build {
        use_recorded_on_bad_tool_calls: true,
        ..SUBSTITUTE
    };
    let (messages, n) = build(&events[1], &events, &bad, &how).unwrap();
    assert_eq!(
        (n, &messages[1]["tool_calls"][0]["id"]),
        (1, &json!("rec1"))
    );
    assert_eq!(messages[2]["tool_call_id"], "rec1");
}

#[test]
fn text_where_a_tool_call_was_recorded_fails_the_call_and_prefixes_mark_unique_messages() {
    let events = chain();
    let text = sent(json!({"role": "assistant", "content": "I cannot call tools"}));
    let e = build(&events[1], &events, &text, &SUBSTITUTE).unwrap_err();
    assert!(e.contains("recorded as a tool call"), "{e}");
    let how = Build {
        substitute: true,
        prefix: Some("[SESS:abc] "),
        use_recorded_on_bad_tool_calls: false,
    };
    let (messages, _) = build(&events[0], &events, &[None, None], &how).unwrap();
    assert_eq!(messages[0]["content"], "[SESS:abc] weather?");
    let off = Build {
        substitute: false,
        prefix: None,
        use_recorded_on_bad_tool_calls: false,
    };
    let (messages, _) = build(&events[1], &events, &text, &off).unwrap();
    assert_eq!(
        messages, events[1].call.messages,
        "recorded messages as they are"
    );
}
