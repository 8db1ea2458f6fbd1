//! The walker against serde on the same events: what it reads it reads as serde does, and what it
//! is unsure of it leaves to serde.

use super::*;
use crate::client::openai::Chunk;

/// What the full parse reads, in the scanner's terms (`None`: an error or refused).
fn full(data: &str) -> Option<Event> {
    let chunk: Chunk = serde_json::from_str(data).ok()?;
    chunk.error.is_none().then(|| Event {
        answer: chunk.has_answer(),
        reasoning: chunk.has_reasoning(),
        usage: chunk.usage,
    })
}

const TAKEN: &[&str] = &[
    r#"{"id":"sim","object":"text_completion","created":0,"model":"m","choices":[{"index":0,"text":" river","logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"choices":[{"delta":{"content":"a \"quoted\" \\ word \u00e9"}}]}"#,
    r#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#,
    r#"{"choices":[{"delta":{"reasoning":"hm","content":null}}]}"#,
    r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"q\": 1}"}}]}}]}"#,
    r#"{"choices":[{"delta":{"tool_calls":[]}}]}"#,
    r#"{"choices":[{"delta":{"tool_calls":null}}]}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#,
    r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}"#,
    r#"{"choices":[{"text":"","logprobs":{"content":[{"token":"x","text":"y"}],"text_offset":[1,2]}}]}"#,
    r#"{"choices":[{"delta":{"content":""},"logprobs":{"content":[{"token":"x","logprob":-0.25,"bytes":[120]}]}}]}"#,
    r#"{"choices":[{"message":{"content":"whole"}}],"usage":{"prompt_tokens":null,"completion_tokens":3}}"#,
    r#" { "choices" : [ { "text" : "spaced" } ] , "error" : null } "#,
    r#"{"choices":null}"#,
    r#"{"choices":[{"text":"a"},{"text":""}],"extra":[1e5,-0.5,true,false,null,{"a":[]}]}"#,
    r#"{}"#,
    r#"{"choices":[{"delta":{"reasoning_content":"so","content":" yes"}}]}"#,
    r#"{"choices":[{"delta":{"reasoning":"","reasoning_content":"a","tool_calls":null}}]}"#,
    r#"{"choices":[{"message":{"reasoning_content":"think twice","content":"ok"}}]}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":4,"accepted_prediction_tokens":0}}}"#,
    r#"{"choices":[],"usage":{"completion_tokens":9,"completion_tokens_details":null}}"#,
    r#"{"choices":[],"usage":{"completion_tokens_details":{"reasoning_tokens":null,"audio_tokens":[1]}}}"#,
    r#"{"choices":[],"usage":{"completion_tokens_details":{}}}"#,
];

const LEFT_TO_SERDE: &[&str] = &[
    r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
    r#"{"choices":[{"delta":{"content":"\ud83d\ude00"}}]}"#,
    r#"{"choices":[{"text":"a","text":"b"}]}"#,
    r#"{"choices":[],"choices":[]}"#,
    r#"{"choices":[{"delta":{"content":1}}]}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":1.5}}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":-1}}"#,
    r#"{"choices":[{"text":"a"}]"#,
    r#"{"choices":[{"text":"a"}]} x"#,
    r#"{"choices":[{"text":"a"}],}"#,
    r#"{"choices":[{"text":"bad \q escape"}]}"#,
    r#"{"choices":[{"t\u0065xt":"a"}]}"#,
    r#"{"choices":[],"x":01}"#,
    r#"{"choices":[],"x":tru}"#,
    r#"[1]"#,
    r#"not json"#,
    "",
    r#"{"choices":[{"delta":{"reasoning_content":"a","reasoning_content":"b"}}]}"#,
    r#"{"choices":[{"delta":{"reasoning\u005fcontent":"a"}}]}"#,
    r#"{"choices":[{"delta":{"reasoning":7}}]}"#,
    r#"{"choices":[],"usage":{"completion_tokens_details":{"reasoning_tokens":2,"reasoning_tokens":3}}}"#,
    r#"{"choices":[],"usage":{"completion_tokens_details":{"reasoning_tokens":2.0}}}"#,
    r#"{"choices":[],"usage":{"completion_tokens_details":[]}}"#,
    r#"{"choices":[],"usage":{"completion_tokens_details":"x"}}"#,
    r#"{"choices":[],"usage":{"completion_tokens_details":null,"completion_tokens_details":null}}"#,
];

#[test]
fn reads_common_events_exactly_as_the_full_parse() {
    for data in TAKEN {
        let scanned = scan(data.as_bytes());
        assert!(scanned.is_some(), "the scanner should read {data}");
        assert_eq!(scanned, full(data), "{data}");
    }
    let usage = scan(TAKEN[8].as_bytes()).unwrap().usage.unwrap();
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (Some(5), Some(7))
    );
}

#[test]
fn tells_reasoning_from_the_answer_and_reads_the_reasoning_count() {
    let read = |data: &str| scan(data.as_bytes()).expect(data);
    let reasoning = read(TAKEN[3]);
    assert!(reasoning.reasoning && !reasoning.answer && reasoning.content());
    let spelled = read(TAKEN[4]);
    assert!(spelled.reasoning && !spelled.answer);
    let mixed = read(r#"{"choices":[{"delta":{"reasoning_content":"so","content":" yes"}}]}"#);
    assert!(mixed.reasoning && mixed.answer);
    let tool = read(TAKEN[5]);
    assert!(tool.answer && !tool.reasoning);
    let role = read(TAKEN[1]);
    assert!(!role.content());
    let usage = |data| read(data).usage.unwrap();
    let with = usage(
        r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":4,"accepted_prediction_tokens":0}}}"#,
    );
    assert_eq!(
        (with.completion_tokens, with.reasoning_tokens),
        (Some(9), Some(4))
    );
    assert_eq!(usage(TAKEN[8]).reasoning_tokens, None);
    let null = r#"{"choices":[],"usage":{"completion_tokens":9,"completion_tokens_details":null}}"#;
    assert_eq!(usage(null).reasoning_tokens, None);
}

#[test]
fn leaves_errors_escapes_duplicates_and_bad_json_to_the_full_parse() {
    for data in LEFT_TO_SERDE {
        assert_eq!(scan(data.as_bytes()), None, "{data}");
    }
}

#[test]
fn agrees_with_the_full_parse_on_every_cut_of_every_event() {
    // Truncated and byte-flipped events: whatever the scanner vouches for, serde reads the same.
    for data in TAKEN.iter().chain(LEFT_TO_SERDE) {
        let bytes = data.as_bytes();
        for cut in 0..bytes.len() {
            for variant in [bytes[..cut].to_vec(), {
                let mut v = bytes.to_vec();
                v[cut] = b"\"{}[],:0 a\\"[cut % 11];
                v
            }] {
                if let Some(event) = scan(&variant) {
                    let text = String::from_utf8_lossy(&variant);
                    assert_eq!(Some(event), full(&text), "{text}");
                }
            }
        }
    }
}

#[test]
fn deep_nesting_is_left_to_serde() {
    let deep = format!(
        r#"{{"choices":[],"x":{}{}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(scan(deep.as_bytes()), None);
    let shallow = format!(
        r#"{{"choices":[],"x":{}{}}}"#,
        "[".repeat(10),
        "]".repeat(10)
    );
    assert!(scan(shallow.as_bytes()).is_some());
}
