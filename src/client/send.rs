//! Sending one request: a pooled client bound to one endpoint posts the body, re-sends once when a
//! server closed a kept-alive connection under it, bounds the whole exchange by the request timeout,
//! and reads a non-streamed body (streams are read by `stream`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::content::Attachments;
use super::exchange::Reasoning;
use super::h1::H1;
use super::openai::{self, Chunk};
use super::stream::{
    Ended, Fail, MAX_BODY, MAX_ERROR_BODY, Reqwest, read_stream, too_large, transport_failure,
    truncate,
};
use super::{ClientError, Exchange, Failure, FailureKind, Http, Success, Timeout, describe_error};
use crate::scenario::{ApiKind, Secret, TlsFiles};

/// What a client needs to know about its endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base_url: String,
    pub api: ApiKind,
    pub streaming: bool,
    pub model: String,
    pub ignore_eos: bool,
    /// `response_format` sent with every request (structured output), if any.
    pub response_format: Option<serde_json::Value>,
    pub api_key: Option<Secret>,
    pub headers: Vec<(String, String)>,
    /// `load.lora_traffic_split`: the adapters a request may name as its `model` (by index).
    pub adapters: Vec<String>,
    /// Multi-turn sessions: the header carrying the session's id (`api.session_id_header_key`).
    pub session_id_header: Option<String>,
    /// Multi-turn sessions: the response header whose value later turns send back
    /// (`api.session_token_header_key`).
    pub session_token_header: Option<String>,
    pub request_timeout: Duration,
    /// Longest silence allowed between reads once a stream has produced content.
    pub idle_timeout: Duration,
    pub tls: TlsFiles,
}

/// What a session's turn keeps of its response.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The generated text (content of the first choice), as received.
    pub text: String,
    /// The session token the response carried (`api.session_token_header_key`), if any.
    pub token: Option<String>,
    /// The tool calls it made (chat only), streamed fragments joined.
    pub tool_calls: Vec<openai::ToolCall>,
}

/// A pooled HTTP client bound to one endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Streamed requests to an `http://` target skip reqwest (see `h1`).
    fast: Option<Arc<H1>>,
    url: String,
    endpoint: Endpoint,
    /// Requests sent a second time because the server closed a kept-alive connection just as they were
    /// written (see `send`).
    resent: Arc<std::sync::atomic::AtomicU64>,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Result<Client, ClientError> {
        let http = Http::to_target(&endpoint.tls, endpoint.api_key.as_ref())
            .headers(&endpoint.headers)
            .build()?;
        let url = format!(
            "{}{}",
            endpoint.base_url.trim_end_matches('/'),
            openai::path(endpoint.api)
        );
        let fast = endpoint
            .streaming
            .then(|| H1::new(&url, &endpoint.headers, endpoint.api_key.as_ref()))
            .flatten()
            .map(Arc::new);
        Ok(Client {
            http,
            fast,
            url,
            endpoint,
            resent: Arc::default(),
        })
    }

    /// The same client without the fast path (`h1`): every request through reqwest.
    #[cfg(test)]
    pub(super) fn through_reqwest(mut self) -> Client {
        self.fast = None;
        self
    }

    /// Whether streamed requests take the fast path.
    #[cfg(test)]
    pub(super) fn is_fast(&self) -> bool {
        self.fast.is_some()
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
        self.exchange(None, prompt, None, max_tokens, &[], None)
            .await
    }

    /// `send` to LoRA adapter `adapter` (an index into `Endpoint::adapters`) as the `model`, with
    /// `media` in the prompt.
    pub async fn send_to(
        &self,
        adapter: Option<u16>,
        prompt: &str,
        media: Option<&Attachments>,
        max_tokens: u32,
    ) -> Exchange {
        self.exchange(adapter, prompt, media, max_tokens, &[], None)
            .await
    }

    /// Sends one turn of a session, with its id and the token an earlier turn's response carried
    /// (under the headers `api` names); the answer's text and the token of this response (if any)
    /// come back with it.
    pub async fn send_turn(
        &self,
        adapter: Option<u16>,
        prompt: &str,
        max_tokens: u32,
        session_id: &str,
        token: Option<&str>,
    ) -> (Exchange, Answer) {
        let e = &self.endpoint;
        let mut headers = Vec::with_capacity(2);
        if let Some(name) = &e.session_id_header {
            headers.push((name.as_str(), session_id));
        }
        if let (Some(name), Some(token)) = (&e.session_token_header, token) {
            headers.push((name.as_str(), token));
        }
        let mut answer = Answer::default();
        let exchange = self
            .exchange(
                adapter,
                prompt,
                None,
                max_tokens,
                &headers,
                Some(&mut answer),
            )
            .await;
        (exchange, answer)
    }

    /// Sends a chat body built by the caller (a replayed call's messages, tools and model), under
    /// `headers`; the answer's text and tool calls come back with it.
    pub async fn send_chat(
        &self,
        body: Vec<u8>,
        max_tokens: u32,
        headers: &[(&str, &str)],
    ) -> (Exchange, Answer) {
        let mut answer = Answer::default();
        let exchange = self
            .post(body.into(), max_tokens, headers, Some(&mut answer))
            .await;
        (exchange, answer)
    }

    async fn exchange(
        &self,
        adapter: Option<u16>,
        prompt: &str,
        media: Option<&Attachments>,
        max_tokens: u32,
        headers: &[(&str, &str)],
        answer: Option<&mut Answer>,
    ) -> Exchange {
        let e = &self.endpoint;
        let model = adapter
            .and_then(|a| e.adapters.get(usize::from(a)))
            .unwrap_or(&e.model);
        let body = openai::request_body(
            e.api,
            model,
            prompt,
            media,
            max_tokens,
            e.streaming,
            e.ignore_eos,
            e.response_format.as_ref(),
        );
        self.post(body.into(), max_tokens, headers, answer).await
    }

    /// Posts `body` and reads the whole response (bounded by the request timeout).
    async fn post(
        &self,
        body: bytes::Bytes,
        max_tokens: u32,
        headers: &[(&str, &str)],
        mut answer: Option<&mut Answer>,
    ) -> Exchange {
        let e = &self.endpoint;
        let sent = Instant::now();
        if let Some(fast) = &self.fast {
            let exchange = self.post_fast(fast, &body, sent, max_tokens, headers, answer);
            return self.ended(
                sent,
                tokio::time::timeout(e.request_timeout, exchange).await,
            );
        }
        let post = || {
            headers
                .iter()
                .fold(self.http.post(&self.url), |r, (k, v)| r.header(*k, *v))
        };
        let exchange = async {
            let mut response = post().body(body.clone()).send().await;
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
                response = post().body(body).send().await;
            }
            if let (Ok(response), Some(answer)) = (&response, answer.as_deref_mut()) {
                answer.token = e.session_token_header.as_deref().and_then(|name| {
                    let value = response.headers().get(name)?.to_str().ok()?;
                    Some(value.to_string())
                });
            }
            match response {
                Err(err) => Err(transport_failure(&err, false).into()),
                Ok(response) if !response.status().is_success() => {
                    Err(status_failure(response).await.into())
                }
                Ok(response) if e.streaming => {
                    let mut body = Reqwest::new(response);
                    read_stream(&mut body, sent, e.idle_timeout, max_tokens, answer).await
                }
                Ok(response) => read_body(response, sent, answer).await,
            }
        };
        self.ended(
            sent,
            tokio::time::timeout(e.request_timeout, exchange).await,
        )
    }

    /// `post` on the fast path: a streamed request to an `http://` target.
    async fn post_fast(
        &self,
        fast: &H1,
        body: &[u8],
        sent: Instant,
        max_tokens: u32,
        headers: &[(&str, &str)],
        answer: Option<&mut Answer>,
    ) -> Result<Success, Ended> {
        let e = &self.endpoint;
        let token_header = e.session_token_header.as_deref();
        let response = fast.post(body, headers, token_header, &self.resent).await?;
        let mut answer = answer;
        if let Some(answer) = answer.as_deref_mut() {
            answer.token = response.token;
        }
        let mut body = response.body;
        if !(200..300).contains(&response.status) {
            let status = response.status;
            let text = body.text(MAX_ERROR_BODY).await;
            fast.put_back(body);
            let kind = match status {
                429 => FailureKind::RateLimited,
                _ => FailureKind::HttpStatus(status),
            };
            return Err((kind, format!("HTTP {status}: {}", text.trim())).into());
        }
        let read = read_stream(&mut body, sent, e.idle_timeout, max_tokens, answer).await;
        if read.is_ok() {
            fast.put_back(body);
        }
        read
    }

    /// The exchange a request came to, from how it ended (`Err`: the request timeout passed).
    fn ended(
        &self,
        sent: Instant,
        result: Result<Result<Success, Ended>, tokio::time::error::Elapsed>,
    ) -> Exchange {
        match result {
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

async fn read_body(
    mut response: reqwest::Response,
    sent: Instant,
    answer: Option<&mut Answer>,
) -> Result<Success, Ended> {
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
    if let Some(answer) = answer {
        openai::append_answer(&bytes, &mut answer.text, &mut answer.tool_calls);
    }
    Ok(Success {
        sent,
        first_content: None,
        end,
        content_gaps_us: Vec::new(),
        content_chunks: 0,
        reasoning: Reasoning {
            first_output: None,
            counted: chunk.reasoning_word_count(),
        },
        usage: chunk.usage,
        body_words: chunk.word_count(),
    })
}
