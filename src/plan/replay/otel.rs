//! OpenTelemetry GenAI spans as calls: which spans are LLM calls, their messages in the chat API's
//! form, their recorded answer, timing and request attributes (inference-perf's
//! `build_raw_calls`).
//!
//! A span is a call when `gen_ai.operation.name` is `chat` (or its name starts with `chat `) and it
//! carries `gen_ai.input.messages` (a JSON string or a list). Error spans (status code 2) are left
//! out unless `include_errors`. Identical spans (same start, end and attributes) count once.
//! Messages in either form are read: OpenAI's (`content`, `tool_calls`, `tool_call_id`) and the
//! semantic conventions' `parts` (`text`, `tool_call`, `tool_call_response`); `developer` becomes
//! `system`; list contents become their text blocks joined by spaces (other blocks as JSON).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

/// One recorded LLM call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Call {
    pub span_id: String,
    /// Milliseconds from the session's first call.
    pub start_ms: i64,
    pub end_ms: i64,
    pub model: String,
    /// The messages sent, as chat API messages.
    pub messages: Vec<Value>,
    /// The recorded answer, as an assistant message.
    pub output: Option<Value>,
    pub completion_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub tools: Option<Vec<Value>>,
    /// Every attribute that is a string, number or boolean (for `attribute_to_header_map`).
    pub attributes: Map<String, Value>,
}

/// The session's calls in start order (ties by span id), or why the trace cannot be read.
pub fn calls(trace: &Value, include_errors: bool) -> Result<Vec<Call>, String> {
    let spans = trace
        .get("spans")
        .and_then(Value::as_array)
        .ok_or("the trace has no `spans` list")?;
    let mut sorted: Vec<&Value> = spans.iter().collect();
    sorted.sort_by(|a, b| text(a, "span_id").cmp(text(b, "span_id")));
    let mut seen = HashSet::new();
    let mut llm = Vec::new();
    for span in sorted {
        let signature = format!(
            "{}|{}|{}",
            text(span, "start_time"),
            text(span, "end_time"),
            span.get("attributes").unwrap_or(&Value::Null)
        );
        if seen.insert(signature) && is_call(span, include_errors) {
            llm.push(span);
        }
    }
    let mut timed = Vec::with_capacity(llm.len());
    for span in llm {
        let start = time_ms(span, "start_time")?.ok_or("a call has no start_time")?;
        let end = time_ms(span, "end_time")?.unwrap_or(start);
        timed.push((start, end, span));
    }
    timed.sort_by(|a, b| (a.0, text(a.2, "span_id")).cmp(&(b.0, text(b.2, "span_id"))));
    let t0 = timed.first().map_or(0, |t| t.0);
    timed
        .into_iter()
        .map(|(start, end, span)| call(span, start - t0, end - t0))
        .collect()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn is_call(span: &Value, include_errors: bool) -> bool {
    let attrs = span.get("attributes");
    let op = attrs
        .and_then(|a| a.get("gen_ai.operation.name"))
        .and_then(Value::as_str);
    let chat = op == Some("chat") || text(span, "name").starts_with("chat ");
    let has_input = match attrs.and_then(|a| a.get("gen_ai.input.messages")) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    };
    let error = span
        .get("status")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_i64)
        == Some(2);
    chat && has_input && (include_errors || !error)
}

/// Milliseconds since the epoch of an ISO-8601 time (`Z`, an offset, or none for UTC), or a
/// number of nanoseconds as OTLP writes it.
fn time_ms(span: &Value, key: &str) -> Result<Option<i64>, String> {
    match span.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64().map(|ns| ns / 1_000_000)),
        Some(Value::String(s)) if s.chars().all(|c| c.is_ascii_digit()) => {
            Ok(s.parse::<i64>().ok().map(|ns| ns / 1_000_000))
        }
        Some(Value::String(s)) => parse_iso(s)
            .map(Some)
            .ok_or_else(|| format!("{key} `{s}` is not an ISO-8601 time")),
        Some(_) => Err(format!("{key} is not a time")),
    }
}

fn parse_iso(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset_min) = match time.find(['Z', 'z', '+']).or_else(|| time.rfind('-')) {
        Some(at) => {
            let zone = &time[at..];
            let offset = match zone {
                "Z" | "z" => 0,
                _ => {
                    let sign = if zone.starts_with('-') { -1 } else { 1 };
                    let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
                    let h: i64 = digits.get(..2)?.parse().ok()?;
                    let mm: i64 = digits.get(2..4).map_or(Some(0), |x| x.parse().ok())?;
                    sign * (h * 60 + mm)
                }
            };
            (&time[..at], offset)
        }
        None => (time, 0),
    };
    let mut c = clock.splitn(3, ':');
    let (h, mi) = (
        c.next()?.parse::<i64>().ok()?,
        c.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = c.next().unwrap_or("0").parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 - offset_min * 60;
    Some(secs * 1000 + (sec * 1000.0).round() as i64)
}

fn call(span: &Value, start_ms: i64, end_ms: i64) -> Result<Call, String> {
    let empty = Map::new();
    let attrs = span
        .get("attributes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let parsed = |v: &Value| -> Result<Value, String> {
        match v {
            Value::String(s) => {
                serde_json::from_str(s).map_err(|e| format!("messages are not JSON: {e}"))
            }
            other => Ok(other.clone()),
        }
    };
    let input = parsed(attrs.get("gen_ai.input.messages").unwrap_or(&Value::Null))?;
    let messages = input
        .as_array()
        .ok_or("gen_ai.input.messages is not a list")?
        .iter()
        .flat_map(message)
        .collect();
    let output = ["gen_ai.output.text", "gen_ai.completion", "gen_ai.output"]
        .iter()
        .find_map(|k| attrs.get(*k).and_then(Value::as_str))
        .map(|t| json!({"role": "assistant", "content": t}));
    let output = match output {
        Some(o) => Some(o),
        None => match attrs.get("gen_ai.output.messages") {
            Some(v) => match parsed(v)? {
                Value::Array(list) if list.len() > 1 => {
                    return Err(format!("expected one output message, got {}", list.len()));
                }
                Value::Array(list) => list.first().and_then(|m| message(m).into_iter().next()),
                Value::Object(m) => message(&Value::Object(m)).into_iter().next(),
                _ => None,
            },
            None => None,
        },
    };
    let number = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| attrs.get(*k).and_then(Value::as_u64))
    };
    let tools = match attrs.get("gen_ai.tool.definitions") {
        Some(v) => parsed(v).ok().and_then(|t| t.as_array().cloned()),
        None => None,
    };
    let scalars = attrs
        .iter()
        .filter(|(_, v)| v.is_string() || v.is_number() || v.is_boolean())
        .filter(|(k, _)| !k.starts_with("gen_ai.input") && !k.starts_with("gen_ai.output"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Call {
        span_id: text(span, "span_id").to_string(),
        start_ms,
        end_ms,
        model: attrs
            .get("gen_ai.request.model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        messages,
        output,
        completion_tokens: number(&[
            "gen_ai.usage.completion_tokens",
            "gen_ai.usage.output_tokens",
        ]),
        temperature: attrs
            .get("gen_ai.request.temperature")
            .and_then(Value::as_f64),
        tools,
        attributes: scalars,
    })
}

/// One recorded message in the chat API's form (a `parts` message with tool results becomes one
/// `tool` message per result).
fn message(raw: &Value) -> Vec<Value> {
    let mut role = text(raw, "role").to_string();
    if role == "developer" {
        role = "system".into();
    }
    if role.is_empty() {
        role = "user".into();
    }
    let mut out = Map::new();
    let mut extra = Vec::new();
    let mut tool_calls: Vec<Value> = raw
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| calls.iter().map(tool_call).collect())
        .unwrap_or_default();
    let content = match (
        raw.get("content"),
        raw.get("parts").and_then(Value::as_array),
    ) {
        (Some(c), _) => Some(flatten_content(c)),
        (None, Some(parts)) => {
            let mut texts = Vec::new();
            for part in parts {
                match text(part, "type") {
                    "tool_call" => tool_calls.push(tool_call(part)),
                    "tool_call_response" => {
                        let result = part.get("response").or_else(|| part.get("result"));
                        extra.push(json!({
                            "role": "tool",
                            "tool_call_id": text(part, "id"),
                            "content": result.map_or(String::new(), flatten_content),
                        }));
                    }
                    _ => {
                        let t = part.get("content").or_else(|| part.get("text"));
                        texts.push(t.map_or(String::new(), flatten_content));
                    }
                }
            }
            (!texts.is_empty()).then(|| texts.join(" "))
        }
        (None, None) => None,
    };
    let only_results =
        role == "tool" || (content.is_none() && tool_calls.is_empty() && !extra.is_empty());
    if only_results && !extra.is_empty() && raw.get("tool_call_id").is_none() {
        return extra;
    }
    out.insert("role".into(), Value::String(role.clone()));
    out.insert("content".into(), content.map_or(Value::Null, Value::String));
    if !tool_calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if role == "tool"
        && let Some(id) = raw.get("tool_call_id").and_then(Value::as_str)
    {
        out.insert("tool_call_id".into(), Value::String(id.into()));
    }
    if let Some(r) = raw
        .get("reasoning_content")
        .or_else(|| raw.get("reasoning"))
        .and_then(Value::as_str)
    {
        out.insert("reasoning_content".into(), Value::String(r.into()));
    }
    let mut all = vec![Value::Object(out)];
    all.extend(extra);
    all
}

/// A tool call in OpenAI's form, from either form (arguments as a JSON string).
fn tool_call(raw: &Value) -> Value {
    let function = raw.get("function");
    let name = function
        .and_then(|f| f.get("name"))
        .or_else(|| raw.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let arguments = match function
        .and_then(|f| f.get("arguments"))
        .or_else(|| raw.get("arguments"))
    {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "{}".into(),
        Some(other) => other.to_string(),
    };
    json!({
        "id": text(raw, "id"),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    })
}

/// A content value as text: strings as they are, lists of blocks as their text blocks (other
/// blocks as JSON) joined by spaces.
fn flatten_content(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b {
                Value::String(s) => s.clone(),
                Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("text") => o
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A message's text for matching: its content, then each tool call's name and arguments.
pub fn matching_text(m: &Value) -> String {
    let mut t = m
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    for call in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = call.get("function");
        t.push_str(&format!(
            "\n[tool_call {}({})]",
            f.and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or(""),
            f.and_then(|f| f.get("arguments"))
                .and_then(Value::as_str)
                .unwrap_or("")
        ));
    }
    t
}

/// The ids of a message's tool calls.
pub fn tool_call_ids(m: &Value) -> HashSet<&str> {
    m.get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("id").and_then(Value::as_str))
        .filter(|id| !id.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_zones_and_fractions() {
        assert_eq!(parse_iso("1970-01-01T00:00:01.500000"), Some(1500));
        assert_eq!(parse_iso("2024-01-01T00:00:00Z"), Some(1_704_067_200_000));
        assert_eq!(
            parse_iso("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200_000)
        );
        assert_eq!(
            parse_iso("2024-01-01T00:00:00-00:30"),
            Some(1_704_069_000_000)
        );
    }

    #[test]
    fn both_message_forms_become_chat_messages() {
        let parts = json!({"role": "assistant", "parts": [
            {"type": "text", "content": "let me look"},
            {"type": "tool_call", "id": "c1", "name": "search", "arguments": {"q": "x"}}]});
        let m = message(&parts);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["content"], "let me look");
        assert_eq!(
            m[0]["tool_calls"][0]["function"]["arguments"],
            "{\"q\":\"x\"}"
        );
        let results = json!({"role": "tool", "parts": [
            {"type": "tool_call_response", "id": "c1", "response": "found"}]});
        assert_eq!(
            message(&results),
            vec![json!({"role": "tool", "tool_call_id": "c1", "content": "found"})]
        );
        let dev = json!({"role": "developer", "content": [{"type": "text", "text": "be brief"}]});
        assert_eq!(
            message(&dev)[0],
            json!({"role": "system", "content": "be brief"})
        );
    }
}
