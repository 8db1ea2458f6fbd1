//! OpenAI wire types: request bodies for `/v1/completions` and `/v1/chat/completions`, and the parts of
//! response chunks infergate reads (content, usage, errors).
//!
//! Chunks are parsed straight from the received bytes with no per-chunk allocation (choices are folded
//! as they are read, strings borrowed unless escaped); a chunk is *content-bearing* when any choice
//! carries non-empty text, delta content, tool calls or reasoning (`reasoning_content`, vLLM's, or
//! `reasoning`). Of those, the *answer* is text, content and tool calls; reasoning is not. Role-only,
//! usage-only and empty-choice chunks are neither.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::client::content::{Attachments, Piece, content};
use crate::scenario::ApiKind;

#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Debug, Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: Content<'a>,
}

/// A message's content: its text, or text and media parts (`client::content`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(&'a str),
    Parts(Vec<Piece<'a>>),
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Input<'a> {
    Prompt { prompt: &'a str },
    Messages { messages: [ChatMessage<'a>; 1] },
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(flatten)]
    input: Input<'a>,
    max_tokens: u32,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    /// Structured output (`api.response_format`), in the API's form.
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a serde_json::Value>,
}

/// The path under the base URL for an API kind.
pub fn path(api: ApiKind) -> &'static str {
    match api {
        ApiKind::Completion => "/v1/completions",
        ApiKind::Chat => "/v1/chat/completions",
    }
}

/// Serialises a request body. Streaming requests ask for usage in the last chunk. `media` (chat
/// only: validation refuses it with the completions API) goes inside the prompt's text.
#[allow(clippy::too_many_arguments)]
pub fn request_body(
    api: ApiKind,
    model: &str,
    prompt: &str,
    media: Option<&Attachments>,
    max_tokens: u32,
    streaming: bool,
    ignore_eos: bool,
    response_format: Option<&serde_json::Value>,
) -> Vec<u8> {
    let input = match api {
        ApiKind::Completion => Input::Prompt { prompt },
        ApiKind::Chat => Input::Messages {
            messages: [ChatMessage {
                role: "user",
                content: match media {
                    Some(media) => Content::Parts(content(prompt, media)),
                    None => Content::Text(prompt),
                },
            }],
        },
    };
    let body = Body {
        model,
        input,
        max_tokens,
        stream: streaming,
        stream_options: streaming.then_some(StreamOptions {
            include_usage: true,
        }),
        ignore_eos,
        response_format,
    };
    serde_json::to_vec(&body).expect("request bodies always serialise")
}

/// Token counts reported by the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    /// Every generated token, reasoning included (OpenAI's and vLLM's definition).
    pub completion_tokens: Option<u64>,
    /// `completion_tokens_details.reasoning_tokens`: of the completion tokens, those spent reasoning.
    #[serde(
        default,
        rename = "completion_tokens_details",
        deserialize_with = "reasoning_tokens"
    )]
    pub reasoning_tokens: Option<u64>,
}

/// `usage.completion_tokens_details`, of which only the reasoning count is read.
#[derive(Debug, Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

fn reasoning_tokens<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<CompletionDetails>::deserialize(d)?.and_then(|d| d.reasoning_tokens))
}

#[derive(Debug, Default, Deserialize)]
struct Text<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
    /// Tool calls are generated tokens too: only whether there are any is read here.
    #[serde(default)]
    tool_calls: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<Text<'a>>,
    #[serde(borrow, default)]
    message: Option<Text<'a>>,
}

/// One streamed chunk or a whole non-streamed response.
#[derive(Debug, Deserialize)]
pub struct Chunk {
    /// What the choices carried, folded as they are parsed: no per-chunk list is kept.
    #[serde(default, deserialize_with = "fold_choices")]
    choices: Choices,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

/// The parts of a chunk's choices infergate uses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Choices {
    has_answer: bool,
    has_reasoning: bool,
    /// Words of the answer and of the reasoning (a non-streamed body's fallback counts).
    words: u64,
    reasoning_words: u64,
}

fn non_empty(t: &Option<Cow<'_, str>>) -> bool {
    t.as_deref().is_some_and(|s| !s.is_empty())
}

fn words(t: Option<&str>) -> u64 {
    t.unwrap_or("").split_whitespace().count() as u64
}

impl Text<'_> {
    fn has_answer(&self) -> bool {
        non_empty(&self.content) || self.tool_calls.as_ref().is_some_and(|c| !c.is_empty())
    }

    fn has_reasoning(&self) -> bool {
        non_empty(&self.reasoning_content) || non_empty(&self.reasoning)
    }

    /// The reasoning (servers that send both spellings send the same text twice).
    fn reasoning_text(&self) -> Option<&str> {
        [&self.reasoning_content, &self.reasoning]
            .into_iter()
            .find_map(|t| t.as_deref().filter(|t| !t.is_empty()))
    }
}

impl Choice<'_> {
    fn bodies(&self) -> impl Iterator<Item = &Text<'_>> {
        self.delta.iter().chain(&self.message)
    }

    fn has_answer(&self) -> bool {
        non_empty(&self.text) || self.bodies().any(Text::has_answer)
    }

    fn has_reasoning(&self) -> bool {
        self.bodies().any(Text::has_reasoning)
    }

    fn words(&self) -> u64 {
        let t = self
            .text
            .as_deref()
            .or_else(|| self.message.as_ref().and_then(|m| m.content.as_deref()));
        words(t) + self.reasoning_words()
    }

    fn reasoning_words(&self) -> u64 {
        words(self.message.as_ref().and_then(Text::reasoning_text))
    }
}

/// Parses the `choices` array one element at a time, on the stack.
fn fold_choices<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Choices, D::Error> {
    struct Fold;
    impl<'de> serde::de::Visitor<'de> for Fold {
        type Value = Choices;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of choices")
        }
        fn visit_unit<E>(self) -> Result<Choices, E> {
            Ok(Choices::default())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Choices, A::Error> {
            let mut folded = Choices::default();
            while let Some(choice) = seq.next_element::<Choice<'de>>()? {
                folded.has_answer |= choice.has_answer();
                folded.has_reasoning |= choice.has_reasoning();
                folded.words += choice.words();
                folded.reasoning_words += choice.reasoning_words();
            }
            Ok(folded)
        }
    }
    deserializer.deserialize_any(Fold)
}

/// The generated text of a chunk or body, parsed again on its own: used only when an answer must
/// be kept (multi-turn sessions and replayed calls send it back in later calls).
#[derive(Debug, Deserialize)]
struct Answered<'a> {
    #[serde(borrow, default)]
    choices: Vec<AnsweredChoice<'a>>,
}

#[derive(Debug, Deserialize)]
struct AnsweredChoice<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<AnsweredText<'a>>,
    #[serde(borrow, default)]
    message: Option<AnsweredText<'a>>,
}

#[derive(Debug, Deserialize)]
struct AnsweredText<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallPart>>,
}

/// A tool call, whole (a response body) or one streamed fragment of it (`index` says which).
#[derive(Debug, Deserialize)]
struct ToolCallPart {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionPart>,
}

#[derive(Debug, Deserialize)]
struct FunctionPart {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// A tool call the model made, as received (streamed fragments joined).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them (meant to be JSON; not checked here).
    pub arguments: String,
}

/// Appends the text or content `data` carries (the first choice's) to `out`, and its tool calls
/// (or their fragments) to `calls`.
pub fn append_answer(data: &[u8], out: &mut String, calls: &mut Vec<ToolCall>) {
    let Ok(answered) = serde_json::from_slice::<Answered<'_>>(data) else {
        return;
    };
    let Some(choice) = answered.choices.first() else {
        return;
    };
    let body = choice.delta.as_ref().or(choice.message.as_ref());
    let text = choice
        .text
        .as_deref()
        .or_else(|| body.and_then(|d| d.content.as_deref()));
    out.push_str(text.unwrap_or(""));
    let parts = body.and_then(|b| b.tool_calls.as_ref());
    for (position, part) in parts.into_iter().flatten().enumerate() {
        let at = part.index.unwrap_or(position);
        while calls.len() <= at {
            calls.push(ToolCall::default());
        }
        let call = &mut calls[at];
        if let Some(id) = &part.id {
            call.id.push_str(id);
        }
        if let Some(f) = &part.function {
            call.name.push_str(f.name.as_deref().unwrap_or(""));
            call.arguments
                .push_str(f.arguments.as_deref().unwrap_or(""));
        }
    }
}

impl Chunk {
    /// True when any choice carries generated text: answer or reasoning.
    pub fn has_content(&self) -> bool {
        self.has_answer() || self.has_reasoning()
    }

    /// True when any choice carries answer: text, content or tool calls.
    pub fn has_answer(&self) -> bool {
        self.choices.has_answer
    }

    /// True when any choice carries reasoning (`reasoning_content` or `reasoning`).
    pub fn has_reasoning(&self) -> bool {
        self.choices.has_reasoning
    }

    /// Whitespace-separated words of generated text, reasoning included: the fallback output count
    /// when a server sends no usage in a non-streamed response.
    pub fn word_count(&self) -> u64 {
        self.choices.words
    }

    /// Of `word_count`, the words of reasoning (`message.reasoning_content` or `.reasoning`).
    pub fn reasoning_word_count(&self) -> u64 {
        self.choices.reasoning_words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_tool_call_fragments_are_joined() {
        let (mut text, mut calls) = (String::new(), Vec::new());
        for chunk in [
            r#"{"choices":[{"delta":{"content":"ok"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"get","arguments":"{\"q\""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":": 1}"}}]}}]}"#,
        ] {
            append_answer(chunk.as_bytes(), &mut text, &mut calls);
        }
        assert_eq!(text, "ok");
        assert_eq!(
            calls,
            vec![ToolCall {
                id: "c1".into(),
                name: "get".into(),
                arguments: "{\"q\": 1}".into()
            }]
        );
    }

    #[test]
    fn completion_and_chat_bodies() {
        let b = request_body(
            ApiKind::Completion,
            "m",
            "hi there",
            None,
            16,
            true,
            true,
            None,
        );
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model":"m","prompt":"hi there","max_tokens":16,"stream":true,
                "stream_options":{"include_usage":true},"ignore_eos":true})
        );
        let b = request_body(ApiKind::Chat, "m", "hi", None, 4, false, false, None);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":false})
        );
    }

    #[test]
    fn content_bearing_chunks() {
        let parse = |s: &'static str| serde_json::from_str::<Chunk>(s).unwrap();
        assert!(parse(r#"{"choices":[{"index":0,"text":" a"}]}"#).has_content());
        assert!(parse(r#"{"choices":[{"delta":{"content":"x"}}]}"#).has_content());
        assert!(parse(r#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#).has_content());
        assert!(
            !parse(r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#).has_content()
        );
        assert!(
            !parse(r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}"#)
                .has_content()
        );
        assert!(!parse(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#).has_content());
        let u = parse(
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#,
        );
        assert_eq!(
            u.usage,
            Some(Usage {
                prompt_tokens: Some(5),
                completion_tokens: Some(7),
                reasoning_tokens: None,
            })
        );
        assert!(parse(r#"{"choices":[{"text":"esc\"aped"}]}"#).has_content());
        let tool =
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#;
        assert!(parse(tool).has_content());
        assert!(
            !parse(r#"{"choices":[{"message":{"content":null,"tool_calls":[]}}]}"#).has_content()
        );
        assert_eq!(
            parse(r#"{"choices":[{"message":{"content":"one two  three"}}]}"#).word_count(),
            3
        );
    }
}
