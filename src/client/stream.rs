//! Reading a streamed response: each network read is decoded incrementally (`sse`) and its
//! content-bearing events are stamped with the time the read returned (with `--kernel-stamps`, on the
//! fast path, the kernel's receive stamp of its bytes instead: see `socket`), keeping the first of
//! any kind and the first carrying answer rather than only reasoning; a stream that goes quiet after
//! its first content for longer than the idle timeout ends as timed out.

use std::time::{Duration, Instant};

use super::exchange::Reasoning;
use super::openai::{self, Chunk};
use super::scan;
use super::send::Answer;
use super::sse::SseDecoder;
use super::{FailureKind, Success, describe_error};

/// Bodies of failed responses are kept up to this many bytes in messages.
pub(super) const MAX_ERROR_BODY: usize = 300;

/// A non-streamed body, or one streamed event, larger than this is refused as malformed.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

pub(super) type Fail = (FailureKind, String);

/// How an exchange ended early.
pub(super) enum Ended {
    Failed(Fail),
    Idle,
}

impl From<Fail> for Ended {
    fn from(fail: Fail) -> Ended {
        Ended::Failed(fail)
    }
}

pub(super) fn transport_failure(err: &reqwest::Error, mid_stream: bool) -> Fail {
    let kind = if err.is_connect() {
        FailureKind::Connect
    } else if mid_stream || err.is_body() || err.is_decode() {
        FailureKind::StreamInterrupted
    } else {
        FailureKind::Other
    };
    (kind, describe_error(err))
}

/// What a stream has shown so far.
struct StreamState {
    first_content: Option<Instant>,
    last_content: Option<Instant>,
    gaps_us: Vec<u64>,
    content_chunks: u64,
    reasoning: Reasoning,
    usage: Option<openai::Usage>,
    done: bool,
    problem: Option<Fail>,
}

impl StreamState {
    fn on_event(&mut self, data: &[u8], at: Instant, answer: &mut Option<&mut Answer>) {
        if self.problem.is_some() || self.done {
            return;
        }
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        // The walker reads what is measured; anything it does not vouch for is parsed whole.
        let event = match scan::scan(data) {
            Some(event) => event,
            None => match full_parse(data) {
                Ok(event) => event,
                Err(problem) => {
                    self.problem = Some(problem);
                    return;
                }
            },
        };
        if event.usage.is_some() {
            self.usage = event.usage;
        }
        if event.content() {
            if event.answer {
                if let Some(answer) = answer {
                    openai::append_answer(data, &mut answer.text, &mut answer.tool_calls);
                }
                self.reasoning.first_output.get_or_insert(at);
            }
            self.reasoning.counted += u64::from(event.reasoning);
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

/// An event parsed whole: what it carries, or why it fails the request.
fn full_parse(data: &[u8]) -> Result<scan::Event, Fail> {
    let chunk: Chunk = serde_json::from_slice(data).map_err(|e| {
        let shown = String::from_utf8_lossy(&data[..data.len().min(80)]).into_owned();
        (FailureKind::Malformed, format!("bad event `{shown}`: {e}"))
    })?;
    if let Some(error) = chunk.error {
        return Err((FailureKind::ServerError, truncate(&error.to_string())));
    }
    Ok(scan::Event {
        answer: chunk.has_answer(),
        reasoning: chunk.has_reasoning(),
        usage: chunk.usage,
    })
}

/// Where a streamed body's bytes come from: reqwest's response, or the fast path's (`h1`).
pub(super) trait Source {
    /// The next bytes of the body with when they arrived, `None` at its end.
    async fn next(&mut self) -> Result<Option<(&[u8], Instant)>, Fail>;

    /// When the body's end arrived, once `next` has given `None`.
    fn ended(&self) -> Instant {
        Instant::now()
    }
}

/// A reqwest response's body.
pub(super) struct Reqwest {
    response: reqwest::Response,
    chunk: bytes::Bytes,
}

impl Reqwest {
    pub(super) fn new(response: reqwest::Response) -> Reqwest {
        Reqwest {
            response,
            chunk: bytes::Bytes::new(),
        }
    }
}

impl Source for Reqwest {
    async fn next(&mut self) -> Result<Option<(&[u8], Instant)>, Fail> {
        match self.response.chunk().await {
            Ok(Some(chunk)) => {
                self.chunk = chunk;
                Ok(Some((&self.chunk, Instant::now())))
            }
            Ok(None) => Ok(None),
            Err(err) => Err(transport_failure(&err, true)),
        }
    }
}

impl Source for super::h1::Body {
    async fn next(&mut self) -> Result<Option<(&[u8], Instant)>, Fail> {
        super::h1::Body::next(self).await
    }

    fn ended(&self) -> Instant {
        self.arrived()
    }
}

/// Gap slots reserved up front at most (a server may ignore `max_tokens`; the vector still grows).
const MAX_PREALLOCATED_GAPS: u32 = 16_384;

pub(super) fn too_large() -> Fail {
    let limit = MAX_BODY >> 20;
    (
        FailureKind::Malformed,
        format!("more than {limit} MiB without an end"),
    )
}

pub(super) async fn read_stream(
    body: &mut impl Source,
    sent: Instant,
    idle_timeout: Duration,
    max_tokens: u32,
    mut answer: Option<&mut Answer>,
) -> Result<Success, Ended> {
    let mut decoder = SseDecoder::new();
    let mut state = StreamState {
        first_content: None,
        last_content: None,
        // Sized once for the answer asked for, so recording gaps never reallocates per token.
        gaps_us: Vec::with_capacity(max_tokens.min(MAX_PREALLOCATED_GAPS) as usize),
        content_chunks: 0,
        reasoning: Reasoning::default(),
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
                read = body.next() => read,
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
            body.next().await
        };
        match read {
            Ok(Some((bytes, at))) => {
                last_read = at;
                decoder.feed(bytes, |data| state.on_event(data, at, &mut answer));
                if let Some(problem) = state.problem.take() {
                    return Err(problem.into());
                }
                if decoder.pending_len() > MAX_BODY {
                    return Err(too_large().into());
                }
            }
            Ok(None) => {
                let at = body.ended();
                if let Some(data) = decoder.finish() {
                    state.on_event(&data, at, &mut answer);
                }
                break at;
            }
            Err((kind, message)) => {
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
        reasoning: state.reasoning,
        usage: state.usage,
        body_words: 0,
    })
}

pub(super) fn truncate(text: &str) -> String {
    if text.len() <= MAX_ERROR_BODY {
        return text.to_string();
    }
    let mut cut = MAX_ERROR_BODY;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}
