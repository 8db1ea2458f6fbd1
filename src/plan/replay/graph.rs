//! A session's calls as a graph (inference-perf's `build_graph`): which calls each call waits for,
//! how long after them it started, and which of its messages come from them.
//!
//! - **Causal edges:** call B depends on an earlier call A when one of B's assistant messages
//!   contains A's recorded answer (its text and tool calls), or carries every id of A's tool
//!   calls. Ancestors of a causal predecessor are not checked again (they are reached through it).
//! - **A temporal edge** to the nearest earlier call that ended before B started, when it is not
//!   already a predecessor: the timing fallback for dependencies the text does not show.
//! - **`wait`:** B started this long after the last of its predecessors ended (0 for roots).
//! - **Segments** of B's messages against all its ancestors: `Shared` (the longest common prefix
//!   with one ancestor's messages), then `Output` (an assistant message that is exactly an
//!   ancestor's answer) and `Unique` runs (everything else).

use std::time::Duration;

use serde_json::Value;

use super::otel::{Call, matching_text, tool_call_ids};

/// A run of a call's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The first `count` messages are those call `from` sent (as it sent them, live).
    Shared { count: usize, from: usize },
    /// One assistant message: call `from`'s answer (its live answer, when substituted).
    Output { from: usize },
    /// `count` messages of this call's own.
    Unique { count: usize },
}

/// One call of a session graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `event_{i:03}_{span_id}`, inference-perf's event id.
    pub id: String,
    pub call: Call,
    /// The calls it waits for (indexes into the session's events, all earlier).
    pub predecessors: Vec<usize>,
    /// How long it started after its last predecessor ended, as recorded.
    pub wait: Duration,
    pub segments: Vec<Segment>,
    /// The answer's length: its recorded completion tokens, else its text's length / 4 (at least 1);
    /// `None` without a recorded answer.
    pub expected_tokens: Option<u32>,
    /// The recorded answer's tool names, when it was a tool call and the span gave the tools.
    pub tool_names: Vec<String>,
}

/// The graph of `calls` (in start order).
pub fn build(calls: Vec<Call>) -> Vec<Event> {
    let n = calls.len();
    // predecessors[i]: (index, causal?)
    let mut preds: Vec<Vec<(usize, bool)>> = vec![Vec::new(); n];
    let outputs: Vec<Option<(String, std::collections::HashSet<&str>)>> = calls
        .iter()
        .map(|c| {
            c.output
                .as_ref()
                .map(|o| (matching_text(o), tool_call_ids(o)))
        })
        .collect();
    for i in 1..n {
        let mut reached = vec![false; n];
        for j in (0..i).rev() {
            if reached[j] || !causal(outputs[j].as_ref(), &calls[i].messages) {
                continue;
            }
            preds[i].push((j, true));
            let mut stack = vec![j];
            while let Some(k) = stack.pop() {
                for &(p, is_causal) in &preds[k] {
                    if is_causal && !reached[p] {
                        reached[p] = true;
                        stack.push(p);
                    }
                }
            }
        }
        let temporal = (0..i).rev().find(|&j| calls[i].start_ms >= calls[j].end_ms);
        if let Some(j) = temporal
            && !preds[i].iter().any(|&(p, _)| p == j)
        {
            preds[i].push((j, false));
        }
    }
    // Everything is worked out from the borrowed calls first; then each call moves into its event.
    let mut derived = Vec::with_capacity(n);
    for (i, call) in calls.iter().enumerate() {
        let predecessors: Vec<usize> = preds[i].iter().map(|&(p, _)| p).collect();
        let last_end = predecessors.iter().map(|&p| calls[p].end_ms).max();
        let wait_ms = last_end.map_or(0, |end| (call.start_ms - end).max(0));
        let ancestors = ancestors(&preds, i);
        let segments = segments(&calls, i, &ancestors, &outputs);
        let expected_tokens = call.output.as_ref().map(|o| {
            let estimate = (matching_text(o).chars().count() / 4).max(1) as u64;
            call.completion_tokens
                .unwrap_or(estimate)
                .clamp(1, u64::from(u32::MAX)) as u32
        });
        let tool_names = match (&call.output, &call.tools) {
            (Some(o), Some(tools)) if !tools.is_empty() => o
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
                .filter(|name| !name.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        derived.push(Event {
            id: format!("event_{i:03}_{}", call.span_id),
            call: Call::default(),
            predecessors,
            wait: Duration::from_millis(wait_ms as u64),
            segments,
            expected_tokens,
            tool_names,
        });
    }
    drop(outputs);
    for (event, call) in derived.iter_mut().zip(calls) {
        event.call = call;
    }
    derived
}

type Output<'a> = (String, std::collections::HashSet<&'a str>);

/// Whether `messages` carry the answer `output`: an assistant message containing its text, or
/// one carrying every id of its tool calls.
fn causal(output: Option<&Output<'_>>, messages: &[Value]) -> bool {
    let Some((text, ids)) = output else {
        return false;
    };
    messages.iter().any(|m| {
        is_assistant(m)
            && ((!text.is_empty() && matching_text(m).contains(text.as_str()))
                || (!ids.is_empty() && ids.is_subset(&tool_call_ids(m))))
    })
}

fn is_assistant(m: &Value) -> bool {
    m.get("role").and_then(Value::as_str) == Some("assistant")
}

/// Every call `i` waits for, directly or not, in no particular order.
fn ancestors(preds: &[Vec<(usize, bool)>], i: usize) -> Vec<usize> {
    let mut seen = vec![false; preds.len()];
    let mut stack: Vec<usize> = preds[i].iter().map(|&(p, _)| p).collect();
    let mut out = Vec::new();
    while let Some(k) = stack.pop() {
        if !seen[k] {
            seen[k] = true;
            out.push(k);
            stack.extend(preds[k].iter().map(|&(p, _)| p));
        }
    }
    out.sort_unstable();
    out
}

fn same(a: &Value, b: &Value) -> bool {
    a.get("role") == b.get("role") && matching_text(a) == matching_text(b)
}

/// Call `i`'s messages as segments against its ancestors.
fn segments(
    calls: &[Call],
    i: usize,
    ancestors: &[usize],
    outputs: &[Option<Output<'_>>],
) -> Vec<Segment> {
    let messages = &calls[i].messages;
    if ancestors.is_empty() {
        return vec![Segment::Unique {
            count: messages.len(),
        }];
    }
    let mut out = Vec::new();
    let mut best = (0, None);
    for &a in ancestors {
        let shared = messages
            .iter()
            .zip(&calls[a].messages)
            .take_while(|(m, p)| same(m, p))
            .count();
        if shared > best.0 {
            best = (shared, Some(a));
        }
    }
    let mut cursor = 0;
    if let (count, Some(from)) = best {
        out.push(Segment::Shared { count, from });
        cursor = count;
    }
    let mut unique = 0;
    for m in &messages[cursor..] {
        let from = is_assistant(m)
            .then(|| {
                ancestors.iter().copied().find(|&a| {
                    outputs[a].as_ref().is_some_and(|(text, ids)| {
                        matching_text(m) == *text
                            || (!ids.is_empty() && ids.is_subset(&tool_call_ids(m)))
                    })
                })
            })
            .flatten();
        match from {
            Some(from) => {
                if unique > 0 {
                    out.push(Segment::Unique { count: unique });
                    unique = 0;
                }
                out.push(Segment::Output { from });
            }
            None => unique += 1,
        }
    }
    if unique > 0 || out.is_empty() {
        out.push(Segment::Unique { count: unique });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: &str, start: i64, end: i64, messages: Vec<Value>, answer: &str) -> Call {
        Call {
            span_id: id.into(),
            start_ms: start,
            end_ms: end,
            model: "m".into(),
            messages,
            output: Some(json!({"role": "assistant", "content": answer})),
            completion_tokens: None,
            temperature: None,
            tools: None,
            attributes: Default::default(),
        }
    }
    fn user(t: &str) -> Value {
        json!({"role": "user", "content": t})
    }
    fn assistant(t: &str) -> Value {
        json!({"role": "assistant", "content": t})
    }

    #[test]
    fn a_chain_shares_its_prefix_and_substitutes_the_answer() {
        let a = call("a", 0, 1000, vec![user("q1")], "answer one");
        let b = call(
            "b",
            1500,
            2000,
            vec![user("q1"), assistant("answer one"), user("q2")],
            "two",
        );
        let events = build(vec![a, b]);
        assert_eq!(events[0].predecessors, Vec::<usize>::new());
        assert_eq!(events[1].predecessors, vec![0]);
        assert_eq!(events[1].wait, Duration::from_millis(500));
        assert_eq!(
            events[1].segments,
            vec![
                Segment::Shared { count: 1, from: 0 },
                Segment::Output { from: 0 },
                Segment::Unique { count: 1 }
            ]
        );
        assert_eq!(events[0].expected_tokens, Some(2), "10 characters / 4");
        assert_eq!(events[1].id, "event_001_b");
    }

    #[test]
    fn parallel_calls_fan_in_and_overlapping_calls_do_not_wait_for_each_other() {
        let root = call("r", 0, 100, vec![user("plan")], "split it");
        let x = call("x", 150, 400, vec![user("do x")], "x done");
        let y = call("y", 160, 300, vec![user("do y")], "y done");
        let join = call(
            "j",
            500,
            600,
            vec![
                user("plan"),
                assistant("x done"),
                assistant("y done"),
                user("merge"),
            ],
            "merged",
        );
        let events = build(vec![root, x, y, join]);
        // x and y overlap: y's temporal predecessor is the root, not x.
        assert_eq!(events[1].predecessors, vec![0]);
        assert_eq!(events[2].predecessors, vec![0]);
        let mut fan_in = events[3].predecessors.clone();
        fan_in.sort_unstable();
        assert_eq!(fan_in, vec![1, 2]);
        assert_eq!(
            events[3].wait,
            Duration::from_millis(100),
            "after the later of x and y"
        );
        assert_eq!(
            events[3].segments,
            vec![
                Segment::Shared { count: 1, from: 0 },
                Segment::Output { from: 1 },
                Segment::Output { from: 2 },
                Segment::Unique { count: 1 }
            ]
        );
    }

    #[test]
    fn tool_call_ids_link_calls_whose_texts_differ() {
        let mut a = call("a", 0, 10, vec![user("weather?")], "");
        a.output = Some(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}}]}));
        a.tools = Some(vec![json!({"type": "function", "name": "get"})]);
        let b = call(
            "b",
            20,
            30,
            vec![
                user("weather?"),
                json!({"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{ }"}}]}),
                json!({"role": "tool", "tool_call_id": "c1", "content": "sunny"}),
            ],
            "sunny",
        );
        let events = build(vec![a, b]);
        assert_eq!(events[0].tool_names, vec!["get".to_string()]);
        assert_eq!(events[1].predecessors, vec![0]);
        assert_eq!(events[1].segments[1], Segment::Output { from: 0 });
    }
}
