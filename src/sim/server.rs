//! The simulator's HTTP face: `/v1/models`, `/v1/completions`, `/v1/chat/completions` and `/health`,
//! in vLLM's wire format (streamed chunks, a role-only first chunk for chat, a usage-only chunk when
//! `stream_options.include_usage` is set, then `data: [DONE]`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::FixedTiming;
use super::engine::{Event, Job};
use super::truth::Truth;
use crate::plan::tokens::TokenCounter;

/// Words the simulator "generates", cycled by token index.
const OUTPUT_WORDS: &[&str] = &[
    " the",
    " quick",
    " model",
    " answers",
    " with",
    " simulated",
    " tokens",
    " and",
];

struct AppState {
    model: String,
    /// LoRA adapters served besides the model (names a request may give as its `model`).
    adapters: Vec<String>,
    /// The model name as a JSON string literal, spliced into every chunk.
    model_json: String,
    jobs: mpsc::UnboundedSender<Job>,
    fixed: Option<FixedTiming>,
    pace: super::Pace,
    truth: Truth,
    tokens: Arc<TokenCounter>,
    exported: Arc<super::metrics::Exported>,
    /// Reasoning tokens each chat answer begins with (`SimConfig::reasoning_tokens`).
    reasoning: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Completion,
    Chat,
}

pub fn router(
    config: super::SimConfig,
    jobs: mpsc::UnboundedSender<Job>,
    exported: Arc<super::metrics::Exported>,
) -> Router {
    let model_json = serde_json::to_string(&config.model).expect("a string serialises");
    let state = Arc::new(AppState {
        model: config.model,
        adapters: config.adapters,
        model_json,
        jobs,
        fixed: config.fixed,
        pace: config.pace,
        truth: Truth::default(),
        tokens: config.tokens,
        exported,
        reasoning: config.reasoning_tokens,
    });
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/version",
            get(|| async {
                axum::Json(serde_json::json!({
                    "version": concat!("infergate-sim ", env!("CARGO_PKG_VERSION"))
                }))
            }),
        )
        .route("/infergate/timings", get(timings))
        .route(
            "/metrics",
            get(|s: State<Arc<AppState>>| async move { s.exported.render(&s.model) }),
        )
        .route("/v1/models", get(models))
        .route(
            "/v1/completions",
            post(|s: State<Arc<AppState>>, b: Bytes| handle(s, Api::Completion, b)),
        )
        .route(
            "/v1/chat/completions",
            post(|s: State<Arc<AppState>>, b: Bytes| handle(s, Api::Chat, b)),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

/// The largest request body the simulator reads (media travel inline as base64).
pub const MAX_REQUEST_BYTES: usize = 512 << 20;

/// Prompt tokens the simulator counts for each media part of a chat message: a stand-in for a vision
/// or audio encoder's tokens, whatever the item's size (a 448 x 448 image is 256 tokens in Qwen2-VL).
pub const IMAGE_TOKENS: u32 = 256;
pub const VIDEO_TOKENS: u32 = 1024;
pub const AUDIO_TOKENS: u32 = 128;

async fn models(State(state): State<Arc<AppState>>) -> Response {
    let data: Vec<serde_json::Value> = std::iter::once(&state.model)
        .chain(&state.adapters)
        .map(|id| json!({"id": id, "object": "model", "owned_by": "infergate"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn timings(
    State(state): State<Arc<AppState>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let reset = query.is_some_and(|q| q.split('&').any(|pair| pair == "reset=true"));
    axum::Json(state.truth.timings(reset)).into_response()
}

/// Where a response's tokens come from: the batching engine, or fixed deadlines.
enum Source {
    Engine(mpsc::UnboundedReceiver<Event>),
    Fixed {
        first: Instant,
        itl: std::time::Duration,
        next: u32,
        total: u32,
    },
}

impl Source {
    /// The next token's index, when it is due; `None` after the last.
    async fn next(&mut self) -> Option<u32> {
        match self {
            Source::Engine(events) => events.recv().await.map(|Event::Token { index }| index),
            Source::Fixed {
                first,
                itl,
                next,
                total,
            } => {
                if *next >= *total {
                    return None;
                }
                tokio::time::sleep_until(*first + *itl * *next).await;
                *next += 1;
                Some(*next - 1)
            }
        }
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: serde_json::Value,
}

#[derive(Deserialize)]
struct Request {
    model: Option<String>,
    prompt: Option<serde_json::Value>,
    messages: Option<Vec<Message>>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    tools: Option<Vec<serde_json::Value>>,
    tool_choice: Option<serde_json::Value>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "type": "BadRequestError", "code": status.as_u16()}})),
    )
        .into_response()
}

/// Prompt tokens of a `prompt` or a message's `content` (string, list of strings, or text and media
/// parts, each media part a fixed number of tokens).
fn count_tokens(tokens: &TokenCounter, value: &serde_json::Value) -> u32 {
    match value {
        serde_json::Value::String(s) => tokens.count(s),
        serde_json::Value::Array(items) => items.iter().map(|v| count_tokens(tokens, v)).sum(),
        serde_json::Value::Object(map) => match map.get("type").and_then(|t| t.as_str()) {
            Some("image_url") => IMAGE_TOKENS,
            Some("video_url") => VIDEO_TOKENS,
            Some("input_audio") => AUDIO_TOKENS,
            _ => map.get("text").map_or(0, |v| count_tokens(tokens, v)),
        },
        _ => 0,
    }
}

async fn handle(State(state): State<Arc<AppState>>, api: Api, body: Bytes) -> Response {
    let arrived = Instant::now();
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")),
    };
    if let Some(model) = &request.model
        && *model != state.model
        && !state.adapters.contains(model)
    {
        return error(
            StatusCode::NOT_FOUND,
            &format!("The model `{model}` does not exist."),
        );
    }
    let prompt_tokens = match (api, &request.prompt, &request.messages) {
        (Api::Completion, Some(prompt), _) => count_tokens(&state.tokens, prompt),
        (Api::Chat, _, Some(messages)) => messages
            .iter()
            .map(|m| count_tokens(&state.tokens, &m.content))
            .sum(),
        (Api::Completion, None, _) => {
            return error(StatusCode::BAD_REQUEST, "`prompt` is required");
        }
        (Api::Chat, _, None) => return error(StatusCode::BAD_REQUEST, "`messages` is required"),
    };
    let output_tokens = request
        .max_completion_tokens
        .or(request.max_tokens)
        .unwrap_or(16);
    if output_tokens == 0 {
        return error(StatusCode::BAD_REQUEST, "max_tokens must be at least 1");
    }
    let source = match state.fixed {
        Some(fixed) => Source::Fixed {
            first: arrived + state.pace.scale(fixed.ttft),
            itl: state.pace.scale(fixed.itl),
            next: 0,
            total: output_tokens,
        },
        None => {
            let (events_tx, events_rx) = mpsc::unbounded_channel();
            let job = Job {
                prompt_tokens,
                output_tokens,
                events: events_tx,
            };
            if state.jobs.send(job).is_err() {
                return error(StatusCode::SERVICE_UNAVAILABLE, "the engine has stopped");
            }
            Source::Engine(events_rx)
        }
    };
    state.exported.add_prompt_tokens(prompt_tokens);
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let tool = match api {
        Api::Chat => super::tools::forced(request.tools.as_deref(), request.tool_choice.as_ref()),
        Api::Completion => None,
    };
    let chunks = Chunks {
        state: Arc::clone(&state),
        tool,
        api,
        prompt_tokens,
        output_tokens,
        reasoning: super::reasoning::within(api == Api::Chat, state.reasoning, output_tokens),
        arrived,
        last_token: None,
        marked: 0,
    };
    if request.stream {
        stream_response(chunks, source, include_usage)
    } else {
        whole_response(chunks, source).await
    }
}

/// Formats the pieces of one response.
struct Chunks {
    state: Arc<AppState>,
    /// The tool call the request forces: the answer is its arguments.
    tool: Option<super::tools::Forced>,
    api: Api,
    prompt_tokens: u32,
    output_tokens: u32,
    /// Of `output_tokens`, the first this many are reasoning.
    reasoning: u32,
    /// When the request arrived, and when its last token was handed over: the server-side truth.
    arrived: Instant,
    last_token: Option<Instant>,
    /// Tokens handed over so far.
    marked: u32,
}

impl Chunks {
    /// Notes a token handed to the HTTP stack now, in the simulator's own timings.
    fn mark_token(&mut self) {
        let now = Instant::now();
        match self.last_token {
            None => {
                self.state.truth.record_ttft(now - self.arrived);
                self.state.exported.first_token(now - self.arrived);
            }
            Some(last) => {
                self.state.truth.record_itl(now - last);
                self.state.exported.next_token();
            }
        }
        if self.marked == self.reasoning {
            self.state.truth.record_ttfo(now - self.arrived);
        }
        self.marked += 1;
        if self.marked == self.output_tokens {
            self.state.exported.finished(now - self.arrived);
        }
        self.last_token = Some(now);
    }

    fn object(&self, streaming: bool) -> &'static str {
        match (self.api, streaming) {
            (Api::Completion, _) => "text_completion",
            (Api::Chat, true) => "chat.completion.chunk",
            (Api::Chat, false) => "chat.completion",
        }
    }

    fn usage(&self, produced: u32) -> String {
        format!(
            r#"{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}{}}}"#,
            self.prompt_tokens,
            produced,
            self.prompt_tokens + produced,
            super::reasoning::usage_details(self.reasoning, produced)
        )
    }

    fn event(&self, choices: &str, usage: Option<String>) -> Bytes {
        let usage = usage
            .map(|u| format!(r#","usage":{u}"#))
            .unwrap_or_default();
        Bytes::from(format!(
            "data: {{\"id\":\"sim\",\"object\":\"{}\",\"created\":0,\"model\":{},\"choices\":[{choices}]{usage}}}\n\n",
            self.object(true),
            self.state.model_json
        ))
    }

    fn token_event(&self, index: u32) -> Bytes {
        let word = OUTPUT_WORDS[index as usize % OUTPUT_WORDS.len()];
        let finish = if index + 1 == self.output_tokens {
            r#""length""#
        } else {
            "null"
        };
        let choice = match self.api {
            Api::Completion => {
                format!(r#"{{"index":0,"text":"{word}","logprobs":null,"finish_reason":{finish}}}"#)
            }
            Api::Chat if index < self.reasoning => format!(
                r#"{{"index":0,"delta":{{"reasoning_content":"{word}"}},"logprobs":null,"finish_reason":{finish}}}"#
            ),
            Api::Chat => match &self.tool {
                Some(tool) => format!(
                    r#"{{"index":0,"delta":{},"logprobs":null,"finish_reason":{finish}}}"#,
                    super::tools::delta(
                        tool,
                        index - self.reasoning,
                        self.output_tokens - self.reasoning,
                        word
                    )
                ),
                None => format!(
                    r#"{{"index":0,"delta":{{"content":"{word}"}},"logprobs":null,"finish_reason":{finish}}}"#
                ),
            },
        };
        self.event(&choice, None)
    }
}

fn stream_response(chunks: Chunks, events: Source, include_usage: bool) -> Response {
    enum Phase {
        Start,
        Tokens,
        Done,
    }
    let state = (chunks, events, Phase::Start, 0u32);
    let stream = futures_util::stream::unfold(
        state,
        move |(mut chunks, mut events, phase, produced)| async move {
            match phase {
                Phase::Start if chunks.api == Api::Chat => {
                    let role = chunks.event(r#"{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}"#, None);
                    Some((
                        Ok::<_, Infallible>(role),
                        (chunks, events, Phase::Tokens, produced),
                    ))
                }
                Phase::Start | Phase::Tokens => match events.next().await {
                    Some(index) => {
                        chunks.mark_token();
                        let bytes = chunks.token_event(index);
                        Some((Ok(bytes), (chunks, events, Phase::Tokens, produced + 1)))
                    }
                    None => {
                        let mut tail = Vec::new();
                        if include_usage {
                            tail.extend_from_slice(&chunks.event("", Some(chunks.usage(produced))));
                        }
                        tail.extend_from_slice(b"data: [DONE]\n\n");
                        Some((
                            Ok(Bytes::from(tail)),
                            (chunks, events, Phase::Done, produced),
                        ))
                    }
                },
                Phase::Done => None,
            }
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("static response parts are valid")
}

async fn whole_response(mut chunks: Chunks, mut events: Source) -> Response {
    let (mut text, mut thought) = (String::new(), String::new());
    let mut produced = 0;
    while let Some(index) = events.next().await {
        // Counted as the engine counts it (generation tokens, TTFT, success), though sent at the end.
        chunks.mark_token();
        let word = OUTPUT_WORDS[index as usize % OUTPUT_WORDS.len()];
        match index < chunks.reasoning {
            true => thought.push_str(word),
            false => text.push_str(word),
        }
        produced += 1;
    }
    let choice = match chunks.api {
        Api::Completion => json!({"index": 0, "text": text, "finish_reason": "length"}),
        Api::Chat => {
            let mut message = match &chunks.tool {
                Some(tool) => super::tools::message(tool, &text),
                None => json!({"role": "assistant", "content": text}),
            };
            super::reasoning::add_to_message(&mut message, chunks.reasoning, thought);
            json!({"index": 0, "message": message, "finish_reason": "length"})
        }
    };
    let usage: serde_json::Value =
        serde_json::from_str(&chunks.usage(produced)).expect("usage is JSON");
    axum::Json(json!({
        "id": "sim",
        "object": chunks.object(false),
        "created": 0,
        "model": chunks.state.model,
        "choices": [choice],
        "usage": usage,
    }))
    .into_response()
}
