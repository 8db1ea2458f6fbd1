//! Tool calls in the simulator: a chat request that forces one (`tool_choice` naming a function,
//! or `required` with `tools`) is answered with a call of that function (the first tool's, for
//! `required`) whose arguments are `{"text": "<the generated words>"}`, streamed as `tool_calls`
//! fragments like vLLM's; any other request is answered in text. Replayed agent sessions need it:
//! their recorded tool calls force the live model to make one.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The tool call a request forces, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forced {
    pub id: String,
    pub name: String,
}

/// The function `tool_choice` forces among `tools`.
pub fn forced(tools: Option<&[Value]>, choice: Option<&Value>) -> Option<Forced> {
    let name = match choice? {
        Value::String(s) if s == "required" => tools?
            .iter()
            .find_map(|t| t.pointer("/function/name").and_then(Value::as_str))?,
        Value::Object(_) => choice?.pointer("/function/name").and_then(Value::as_str)?,
        _ => return None,
    };
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    Some(Forced {
        id: format!("call_sim_{n}"),
        name: name.to_string(),
    })
}

/// The streamed delta of token `index` of `total` (`word`): the call's first fragment carries its
/// id and name, and the arguments are closed by the last.
pub fn delta(forced: &Forced, index: u32, total: u32, word: &str) -> String {
    let mut arguments = String::new();
    if index == 0 {
        arguments.push_str("{\"text\": \"");
    }
    arguments.push_str(word);
    if index + 1 == total {
        arguments.push_str("\"}");
    }
    let mut call = json!({"index": 0, "function": {"arguments": arguments}});
    if index == 0 {
        call["id"] = json!(forced.id);
        call["type"] = json!("function");
        call["function"]["name"] = json!(forced.name);
    }
    json!({"tool_calls": [call]}).to_string()
}

/// The whole message answering with the call.
pub fn message(forced: &Forced, text: &str) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [{
        "id": forced.id, "type": "function",
        "function": {"name": forced.name, "arguments": json!({"text": text}).to_string()}}]})
}
