//! What one request came to: an `Exchange` holds the monotonic timings of a success, or a failure of
//! a named kind, or the limit a timed-out request hit. The recorder counts every one of them.

use std::fmt;
use std::time::Instant;

use super::openai;

/// Why a request did not succeed. Timeouts and cancellations are not failures; see `Exchange`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
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
    /// Content-bearing chunks received (streaming) or 0: answer and reasoning alike.
    pub content_chunks: u64,
    /// What of the response was reasoning rather than answer.
    pub reasoning: Reasoning,
    /// `usage` as the server reported it, if it did.
    pub usage: Option<openai::Usage>,
    /// Output words of a non-streamed body (fallback count).
    pub body_words: u64,
}

/// A reasoning model's response told apart from its answer. A response without reasoning has
/// `first_output` equal to `Success::first_content` and nothing counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reasoning {
    /// The first chunk carrying answer (text, content or tool calls) rather than only reasoning
    /// (streaming only; `None` when the stream carried reasoning alone).
    pub first_output: Option<Instant>,
    /// Chunks carrying reasoning (streaming), or words of reasoning in a non-streamed body: the
    /// fallback count when `usage` has no `completion_tokens_details.reasoning_tokens`.
    pub counted: u64,
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
