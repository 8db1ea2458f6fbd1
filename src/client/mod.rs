//! The HTTP client: sends one request to an OpenAI-compatible endpoint and times it.
//!
//! Every timestamp comes from the monotonic clock (`Instant`). A streamed response is read chunk by
//! chunk as bytes arrive; each network read is decoded incrementally and its content-bearing events are
//! stamped with the time the read returned. The result is an `Exchange`: the timings of a success, or a
//! failure of a named kind. Nothing here panics on what a server sends.

pub mod openai;
pub mod sse;
pub mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::scenario::{ApiKind, Secret};
use openai::Chunk;
use sse::SseDecoder;

/// Why a request did not succeed. Timeouts and cancellations are not failures; see `Exchange`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The connection could not be made (refused, DNS, TLS handshake).
    Connect,
    /// HTTP 429.
    RateLimited,
    /// Any other non-2xx status.
    HttpStatus(u16),
    /// The connection broke after the response started.
    StreamInterrupted,
    /// The stream ended without `data: [DONE]`.
    IncompleteStream,
    /// A body or event that is not the JSON the API defines.
    Malformed,
    /// The server reported an error inside the stream or body.
    ServerError,
    /// A complete response with no generated content at all.
    NoContent,
    /// Anything else the HTTP stack reported.
    Other,
}

impl FailureKind {
    /// A stable label for reports (inference-perf's `failures.by_label`).
    pub fn label(self) -> String {
        match self {
            FailureKind::Connect => "connect".into(),
            FailureKind::RateLimited => "rate_limited".into(),
            FailureKind::HttpStatus(code) => format!("http_{code}"),
            FailureKind::StreamInterrupted => "stream_interrupted".into(),
            FailureKind::IncompleteStream => "incomplete_stream".into(),
            FailureKind::Malformed => "malformed_response".into(),
            FailureKind::ServerError => "server_error".into(),
            FailureKind::NoContent => "no_content".into(),
            FailureKind::Other => "other".into(),
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The timings and counts of a successful request.
#[derive(Debug, Clone, PartialEq)]
pub struct Success {
    /// When the request was handed to the HTTP stack.
    pub sent: Instant,
    /// The first content-bearing chunk (streaming only).
    pub first_content: Option<Instant>,
    /// When the response ended (last byte read).
    pub end: Instant,
    /// Gaps between consecutive content-bearing chunks, microseconds (streaming only).
    pub content_gaps_us: Vec<u64>,
    /// Content-bearing chunks received (streaming) or 0.
    pub content_chunks: u64,
    /// `usage` as the server reported it, if it did.
    pub usage: Option<openai::Usage>,
    /// Output words of a non-streamed body (fallback count).
    pub body_words: u64,
}

/// A request that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub sent: Instant,
    pub end: Instant,
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Exchange {
    Ok(Success),
    Failed(Failure),
    /// `load.request_timeout` passed before the response ended, or a started stream went quiet for
    /// longer than `load.idle_timeout`.
    TimedOut {
        timeout: Timeout,
        sent: Instant,
    },
}

/// Which limit a timed-out request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The whole request took longer than `load.request_timeout`.
    Total,
    /// No bytes for `load.idle_timeout` after the first content chunk.
    Idle,
}

/// What a client needs to know about its endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base_url: String,
    pub api: ApiKind,
    pub streaming: bool,
    pub model: String,
    pub ignore_eos: bool,
    pub api_key: Option<Secret>,
    pub headers: Vec<(String, String)>,
    pub request_timeout: Duration,
    /// Longest silence allowed between reads once a stream has produced content.
    pub idle_timeout: Duration,
    pub tls: tls::TlsFiles,
}

/// A pooled HTTP client bound to one endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    endpoint: Endpoint,
    /// Requests sent a second time because the server closed a kept-alive connection just as they were
    /// written (see `send`).
    resent: Arc<std::sync::atomic::AtomicU64>,
}

/// Bodies of failed responses are kept up to this many bytes in messages.
const MAX_ERROR_BODY: usize = 300;

/// A non-streamed body, or one streamed event, larger than this is refused as malformed.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

impl Client {
    pub fn new(endpoint: Endpoint) -> Result<Client, String> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &endpoint.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("api.headers: `{name}` is not a valid header name"))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                format!("api.headers: the value of `{name}` is not a valid header value")
            })?;
            headers.insert(name, value);
        }
        if let Some(key) = &endpoint.api_key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    "server.api_key contains characters a header cannot carry".to_string()
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let builder = endpoint.tls.apply(reqwest::Client::builder())?;
        let http = builder
            .default_headers(headers)
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let url = format!(
            "{}{}",
            endpoint.base_url.trim_end_matches('/'),
            openai::path(endpoint.api)
        );
        Ok(Client {
            http,
            url,
            endpoint,
            resent: Arc::default(),
        })
    }

    /// Removes the API key from text a server sent back (some echo the Authorization header).
    fn redact(&self, message: String) -> String {
        match &self.endpoint.api_key {
            Some(key) if !key.expose().is_empty() && message.contains(key.expose()) => {
                message.replace(key.expose(), "***")
            }
            _ => message,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How many requests were re-sent after the server closed their kept-alive connection.
    pub fn resent(&self) -> u64 {
        self.resent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends one request and waits for its whole response (bounded by the request timeout).
    pub async fn send(&self, prompt: &str, max_tokens: u32) -> Exchange {
        let e = &self.endpoint;
        let body = openai::request_body(
            e.api,
            &e.model,
            prompt,
            max_tokens,
            e.streaming,
            e.ignore_eos,
        );
        let body = bytes::Bytes::from(body);
        let sent = Instant::now();
        let exchange = async {
            let mut response = self.http.post(&self.url).body(body.clone()).send().await;
            // llama.cpp's server closes the connection after a streamed response while advertising
            // keep-alive; a request written on it at that moment is never read, and hyper reports
            // "connection closed before message completed" with no response at all. Like Go's
            // net/http for a server-closed idle connection, send it once more on a fresh one. Its
            // latency still counts from the first attempt.
            if let Err(err) = &response
                && closed_before_response(err)
            {
                self.resent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                response = self.http.post(&self.url).body(body).send().await;
            }
            match response {
                Err(err) => Err(transport_failure(&err, false).into()),
                Ok(response) if !response.status().is_success() => {
                    Err(status_failure(response).await.into())
                }
                Ok(response) if e.streaming => {
                    read_stream(response, sent, e.idle_timeout, max_tokens).await
                }
                Ok(response) => read_body(response, sent).await,
            }
        };
        match tokio::time::timeout(e.request_timeout, exchange).await {
            Err(_) => Exchange::TimedOut {
                sent,
                timeout: Timeout::Total,
            },
            Ok(Ok(success)) => Exchange::Ok(success),
            Ok(Err(Ended::Idle)) => Exchange::TimedOut {
                sent,
                timeout: Timeout::Idle,
            },
            Ok(Err(Ended::Failed((kind, message)))) => Exchange::Failed(Failure {
                kind,
                message: self.redact(message),
                sent,
                end: Instant::now(),
            }),
        }
    }
}

type Fail = (FailureKind, String);

/// How an exchange ended early.
enum Ended {
    Failed(Fail),
    Idle,
}

impl From<Fail> for Ended {
    fn from(fail: Fail) -> Ended {
        Ended::Failed(fail)
    }
}

/// The connection closed (FIN, or a reset because the request was left unread) before any byte of a
/// response: the server did not take the request.
fn closed_before_response(err: &reqwest::Error) -> bool {
    if !err.is_request() || err.is_connect() || err.is_timeout() {
        return false;
    }
    let text = describe_error(err);
    text.contains("connection closed before message completed")
        || text.contains("Connection reset by peer")
}

fn transport_failure(err: &reqwest::Error, mid_stream: bool) -> Fail {
    let kind = if err.is_connect() {
        FailureKind::Connect
    } else if mid_stream || err.is_body() || err.is_decode() {
        FailureKind::StreamInterrupted
    } else {
        FailureKind::Other
    };
    (kind, describe_error(err))
}

/// The error and its causes on one line (`a: b: c`), without the request URL, which may carry
/// credentials.
pub fn describe_error(err: &reqwest::Error) -> String {
    let mut message = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        source = e.source();
    }
    match err.url() {
        Some(url) => message.replace(url.as_str(), "<url>"),
        None => message,
    }
}

async fn status_failure(response: reqwest::Response) -> Fail {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned();
    let kind = if status == 429 {
        FailureKind::RateLimited
    } else {
        FailureKind::HttpStatus(status)
    };
    (kind, format!("HTTP {status}: {}", text.trim()))
}

async fn read_body(mut response: reqwest::Response, sent: Instant) -> Result<Success, Ended> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_failure(&e, true))?
    {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(too_large().into());
        }
        bytes.extend_from_slice(&chunk);
    }
    let end = Instant::now();
    let chunk: Chunk = serde_json::from_slice(&bytes).map_err(|e| {
        (
            FailureKind::Malformed,
            format!("response body is not a completion: {e}"),
        )
    })?;
    if let Some(error) = chunk.error {
        return Err((FailureKind::ServerError, truncate(&error.to_string())).into());
    }
    if !chunk.has_content() {
        let message = "the response has no generated text".to_string();
        return Err((FailureKind::NoContent, message).into());
    }
    Ok(Success {
        sent,
        first_content: None,
        end,
        content_gaps_us: Vec::new(),
        content_chunks: 0,
        usage: chunk.usage,
        body_words: chunk.word_count(),
    })
}

/// What a stream has shown so far.
struct StreamState {
    first_content: Option<Instant>,
    last_content: Option<Instant>,
    gaps_us: Vec<u64>,
    content_chunks: u64,
    usage: Option<openai::Usage>,
    done: bool,
    problem: Option<Fail>,
}

impl StreamState {
    fn on_event(&mut self, data: &[u8], at: Instant) {
        if self.problem.is_some() || self.done {
            return;
        }
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        let chunk: Chunk = match serde_json::from_slice(data) {
            Ok(chunk) => chunk,
            Err(e) => {
                let shown = String::from_utf8_lossy(&data[..data.len().min(80)]).into_owned();
                self.problem = Some((FailureKind::Malformed, format!("bad event `{shown}`: {e}")));
                return;
            }
        };
        if let Some(error) = chunk.error {
            self.problem = Some((FailureKind::ServerError, truncate(&error.to_string())));
            return;
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        if chunk.has_content() {
            if let Some(last) = self.last_content {
                self.gaps_us
                    .push(at.duration_since(last).as_micros() as u64);
            } else {
                self.first_content = Some(at);
            }
            self.last_content = Some(at);
            self.content_chunks += 1;
        }
    }
}

/// Gap slots reserved up front at most (a server may ignore `max_tokens`; the vector still grows).
const MAX_PREALLOCATED_GAPS: u32 = 16_384;

fn too_large() -> Fail {
    let limit = MAX_BODY >> 20;
    (
        FailureKind::Malformed,
        format!("more than {limit} MiB without an end"),
    )
}

async fn read_stream(
    mut response: reqwest::Response,
    sent: Instant,
    idle_timeout: Duration,
    max_tokens: u32,
) -> Result<Success, Ended> {
    let mut decoder = SseDecoder::new();
    let mut state = StreamState {
        first_content: None,
        last_content: None,
        // Sized once for the answer asked for, so recording gaps never reallocates per token.
        gaps_us: Vec::with_capacity(max_tokens.min(MAX_PREALLOCATED_GAPS) as usize),
        content_chunks: 0,
        usage: None,
        done: false,
        problem: None,
    };
    // One timer for the whole stream, moved forward lazily when it fires: re-arming a timeout on every
    // chunk would cost two timer-wheel operations per token.
    let idle = tokio::time::sleep(idle_timeout);
    tokio::pin!(idle);
    let mut last_read = Instant::now();
    let end = loop {
        // Before the first content the engine may legitimately be queueing; after it, silence is a stall.
        let read = if state.first_content.is_some() {
            tokio::select! {
                biased;
                read = response.chunk() => read,
                _ = &mut idle => {
                    let quiet_until = last_read + idle_timeout;
                    if Instant::now() >= quiet_until {
                        return Err(Ended::Idle);
                    }
                    idle.as_mut().reset(quiet_until.into());
                    continue;
                }
            }
        } else {
            response.chunk().await
        };
        match read {
            Ok(Some(bytes)) => {
                let at = Instant::now();
                last_read = at;
                decoder.feed(&bytes, |data| state.on_event(data, at));
                if let Some(problem) = state.problem.take() {
                    return Err(problem.into());
                }
                if decoder.pending_len() > MAX_BODY {
                    return Err(too_large().into());
                }
            }
            Ok(None) => {
                let at = Instant::now();
                if let Some(data) = decoder.finish() {
                    state.on_event(&data, at);
                }
                break at;
            }
            Err(err) => {
                let (kind, message) = transport_failure(&err, true);
                let got = state.content_chunks;
                return Err((kind, format!("{message} (after {got} content chunks)")).into());
            }
        }
    };
    if let Some(problem) = state.problem {
        return Err(problem.into());
    }
    if !state.done {
        let got = state.content_chunks;
        let message = format!("the stream ended without [DONE] after {got} content chunks");
        return Err((FailureKind::IncompleteStream, message).into());
    }
    if state.content_chunks == 0 {
        let message = "the stream carried no generated text".to_string();
        return Err((FailureKind::NoContent, message).into());
    }
    Ok(Success {
        sent,
        first_content: state.first_content,
        end,
        content_gaps_us: state.gaps_us,
        content_chunks: state.content_chunks,
        usage: state.usage,
        body_words: 0,
    })
}

fn truncate(text: &str) -> String {
    if text.len() <= MAX_ERROR_BODY {
        return text.to_string();
    }
    let mut cut = MAX_ERROR_BODY;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}
