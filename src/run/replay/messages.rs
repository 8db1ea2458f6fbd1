//! What a replayed call sends (inference-perf's `_build_messages_with_substitution` and
//! `to_request_body`): its recorded messages, with each `Shared` run taken from what its ancestor
//! actually sent, each `Output` message replaced by that ancestor's live answer (its text and tool
//! calls, the ids of the `tool` results that follow rewritten to the live ones, matched by function
//! name), and its `Unique` messages prefixed `[SESS:<random>] ` when sessions must not share a
//! cache. With `disable_output_substitution` the recorded messages go as they are.
//!
//! `bad_tool_call_handling: use_recorded`: a live answer whose tool-call arguments are not JSON is
//! replaced by the recorded message (the call fails if that one is malformed too). A live answer of
//! plain text where the recording had a tool call fails the call: the `tool` results after it
//! would name calls that were never made.

use serde_json::{Map, Value, json};

use crate::client::ToolCall;
use crate::plan::replay::{Event, Segment};

/// A finished call's part in later calls: the messages it sent, and its live answer.
#[derive(Debug)]
pub struct Sent {
    pub messages: Vec<Value>,
    pub answer: Value,
}

/// How messages are built for one session.
pub struct Build<'a> {
    pub substitute: bool,
    /// `[SESS:<random>] ` for unique messages, when injected.
    pub prefix: Option<&'a str>,
    pub use_recorded_on_bad_tool_calls: bool,
}

/// The live answer as an assistant message.
pub fn answer_message(text: &str, calls: &[ToolCall]) -> Value {
    let mut m = Map::new();
    m.insert("role".into(), "assistant".into());
    let content = match (text.is_empty(), calls.is_empty()) {
        (true, false) => Value::Null,
        _ => Value::String(text.to_string()),
    };
    m.insert("content".into(), content);
    if !calls.is_empty() {
        let calls = calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(m)
}

fn tool_calls(m: &Value) -> &[Value] {
    m.get("tool_calls")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn malformed(m: &Value) -> bool {
    tool_calls(m).iter().any(|c| {
        let args = c.pointer("/function/arguments").and_then(Value::as_str);
        args.is_none_or(|a| serde_json::from_str::<Value>(a).is_err())
    })
}

fn name(call: &Value) -> Option<&str> {
    call.pointer("/function/name").and_then(Value::as_str)
}

/// The messages `event` sends, given the finished calls of its session (`sent[i]` for call `i`),
/// and how many recorded answers replaced malformed live ones; `Err` fails the call.
pub fn build(
    event: &Event,
    events: &[Event],
    sent: &[Option<std::sync::Arc<Sent>>],
    how: &Build<'_>,
) -> Result<(Vec<Value>, u64), String> {
    let recorded = &event.call.messages;
    if !how.substitute && how.prefix.is_none() {
        return Ok((recorded.clone(), 0));
    }
    let mut out: Vec<Value> = Vec::with_capacity(recorded.len());
    let mut rewrites: Vec<(usize, Vec<Value>, Vec<Option<String>>)> = Vec::new();
    let mut substitutions = 0;
    let mut cursor = 0;
    for segment in &event.segments {
        match *segment {
            Segment::Shared { count, from } => {
                let theirs = sent[from]
                    .as_ref()
                    .filter(|s| how.substitute && s.messages.len() >= count);
                match theirs {
                    Some(s) => out.extend(s.messages[..count].iter().cloned()),
                    None => out.extend(recorded[cursor..cursor + count].iter().cloned()),
                }
                cursor += count;
            }
            Segment::Output { from } => {
                let mine = &recorded[cursor];
                cursor += 1;
                let Some(live) = sent[from].as_ref().filter(|_| how.substitute) else {
                    out.push(mine.clone());
                    continue;
                };
                let live = &live.answer;
                if how.use_recorded_on_bad_tool_calls && malformed(live) {
                    if malformed(mine) {
                        return Err(format!(
                            "the live tool call of {} is malformed, and so is the recorded one",
                            events[from].id
                        ));
                    }
                    substitutions += 1;
                    out.push(mine.clone());
                    continue;
                }
                if !events[from].tool_names.is_empty() && tool_calls(live).is_empty() {
                    return Err(format!(
                        "{} was recorded as a tool call but the model answered in text",
                        events[from].id
                    ));
                }
                if !tool_calls(live).is_empty() {
                    let names = tool_calls(mine)
                        .iter()
                        .map(|c| name(c).map(str::to_string))
                        .collect();
                    rewrites.push((out.len(), tool_calls(live).to_vec(), names));
                }
                out.push(live.clone());
            }
            Segment::Unique { count } => {
                for m in &recorded[cursor..cursor + count] {
                    match (how.prefix, m.get("content").and_then(Value::as_str)) {
                        (Some(prefix), Some(text)) => {
                            let mut m = m.clone();
                            m["content"] = Value::String(format!("{prefix}{text}"));
                            out.push(m);
                        }
                        _ => out.push(m.clone()),
                    }
                }
                cursor += count;
            }
        }
    }
    for (at, live, names) in rewrites {
        rewrite_ids(&mut out, at, &live, &names);
    }
    Ok((out, substitutions))
}

/// Points the `tool` results after the assistant message at `at` to the live calls' ids: each
/// result pairs with the first unused live call of its recorded call's name (by position when
/// nothing was recorded).
fn rewrite_ids(out: &mut [Value], at: usize, live: &[Value], names: &[Option<String>]) {
    let positional = names.is_empty();
    let bound = if positional { live.len() } else { names.len() };
    let mut used = vec![false; live.len()];
    let mut k = 0;
    for m in out.iter_mut().skip(at + 1) {
        if k >= bound {
            break;
        }
        if m.get("role").and_then(Value::as_str) != Some("tool") {
            continue;
        }
        let pick = if positional {
            Some(k).filter(|&i| i < live.len())
        } else {
            (0..live.len()).find(|&i| !used[i] && name(&live[i]) == names[k].as_deref())
        };
        if let Some(i) = pick {
            used[i] = true;
            if let Some(id) = live[i].get("id").and_then(Value::as_str) {
                m["tool_call_id"] = Value::String(id.to_string());
            }
        }
        k += 1;
    }
}

/// `gen_ai.tool.definitions` as the chat API's `tools`.
pub fn tools(definitions: &[Value]) -> Vec<Value> {
    definitions
        .iter()
        .map(|d| {
            if d.get("function").is_some() {
                let mut d = d.clone();
                d["type"] = "function".into();
                return d;
            }
            let mut f = Map::new();
            for key in ["name", "description", "parameters", "strict"] {
                if let Some(v) = d.get(key) {
                    f.insert(key.into(), v.clone());
                }
            }
            f.entry("parameters")
                .or_insert_with(|| json!({"type": "object", "properties": {}}));
            json!({"type": "function", "function": Value::Object(f)})
        })
        .collect()
}

#[cfg(test)]
mod tests;
