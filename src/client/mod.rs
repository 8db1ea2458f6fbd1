//! The network layer, used by the stages that talk HTTP (plan's tokenizer download, run, measure's
//! scraper). Uses only `scenario`.
//!
//! The HTTP client: sends one request to an OpenAI-compatible endpoint and times it.
//!
//! Every timestamp is on the monotonic clock (`Instant`). A streamed response is read chunk by
//! chunk as bytes arrive; each network read is decoded incrementally and its content-bearing events are
//! stamped with the time the read returned (with `--kernel-stamps`, on the fast path, the kernel's
//! receive stamp of its bytes: `socket`). Reasoning (`reasoning_content`, `reasoning`) is content
//! too, so the first token of any kind marks TTFT; the first answer chunk is kept apart (TTFO), and
//! reasoning chunks are counted. Streams from an `http://` target take the fast path: the
//! request's own task owns its connection (`h1`, `framing`) and each event is read by a one-pass
//! walker (`scan`) rather than parsed whole; anything else goes through reqwest, and both paths feed
//! the same stream reader (`stream`, `sse`). The result is an `Exchange`: the timings of a success, or a
//! failure of a named kind. Nothing here panics on what a server sends.

pub mod content;
pub mod exchange;
pub mod fds;
mod framing;
pub mod gcp;
mod h1;
pub mod http;
pub mod hub;
pub mod openai;
mod scan;
mod send;
mod socket;
pub use socket::stamp_with_kernel;
pub mod sse;
mod stream;
#[cfg(test)]
mod tests;
pub mod tls;

use std::path::PathBuf;

pub use exchange::{Exchange, Failure, FailureKind, Reasoning, Success, Timeout};
pub use http::Http;
pub use openai::ToolCall;
pub use send::{Answer, Client, Endpoint};
pub use stream::MAX_BODY;

/// Why an HTTP client could not be built: a setting or file of the scenario is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{setting}: cannot read {}: {source}", path.display())]
    ReadFile {
        setting: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("server.ca_cert_path: {} is not PEM certificates: {source}", path.display())]
    NotPem {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("server.ca_cert_path: {} holds no certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error(
        "server.cert_path/key_path: {} and {} are not a PEM certificate and key: {source}",
        cert.display(),
        key.display()
    )]
    NotIdentity {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("api.headers: `{0}` is not a valid header name")]
    HeaderName(String),
    #[error("api.headers: the value of `{0}` is not a valid header value")]
    HeaderValue(String),
    #[error("server.api_key contains characters a header cannot carry")]
    ApiKey,
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
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
