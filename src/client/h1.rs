//! The streaming fast path: HTTP/1.1 over plain TCP, one task per request owning its connection.
//!
//! reqwest reads a response on a connection task and hands each chunk to the request's task through
//! a channel: two task wake-ups, a waker registration and a buffer split per token event, which is
//! most of what a streamed token cost (issue 27's profile). Here the request's own task writes the
//! request and reads the response into one buffer that stays with the connection, de-chunks it in
//! place (`framing`) and hands the body's bytes to the stream reader. It serves `http://` targets
//! only (no TLS, no credentials in the URL; a target is never reached through a proxy); anything else
//! goes through reqwest. Idle connections are kept for reuse by the thread (and so the runtime) that
//! opened them; a request written on a kept connection the server had closed is sent once more on a
//! fresh one, as reqwest's path does.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::FailureKind;
use super::framing::Framing;
use super::socket::Socket;
use super::stream::Fail;
use crate::scenario::Secret;

/// Bytes read per system call: many token events at once when a connection has fallen behind.
const READ_BUFFER: usize = 16 * 1024;
/// A response head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An `http://` endpoint's connections.
#[derive(Debug)]
pub(super) struct H1 {
    /// `host:port`, as connected to.
    authority: String,
    /// The request line and the headers every request carries.
    head: Vec<u8>,
    idle: Mutex<Vec<Conn>>,
}

/// A connection with its read buffer.
#[derive(Debug)]
struct Conn {
    stream: Socket,
    buf: Box<[u8]>,
    /// The thread whose runtime the socket is registered with.
    thread: ThreadId,
}

/// A response whose head has been read.
pub(super) struct Response {
    pub status: u16,
    /// The value of the header the caller asked for.
    pub token: Option<String>,
    pub body: Body,
}

/// A response body being read.
pub(super) struct Body {
    conn: Conn,
    framing: Framing,
    /// Bytes of `conn.buf` read but not decoded yet, and when they arrived.
    start: usize,
    end: usize,
    arrived: Instant,
    /// The server closed the connection, or will after this response, or sent bytes past its end.
    close: bool,
    eof: bool,
}

impl H1 {
    /// The fast path for `url` (`scheme://authority/path`), or `None` when reqwest must serve it.
    /// `headers` are sent with every request after `content-type`, then the bearer key.
    pub fn new(url: &str, headers: &[(String, String)], api_key: Option<&Secret>) -> Option<H1> {
        let parsed = reqwest::Url::parse(url).ok()?;
        if parsed.scheme() != "http" || !parsed.username().is_empty() || parsed.password().is_some()
        {
            return None;
        }
        let host = parsed.host_str()?;
        let port = parsed.port_or_known_default()?;
        let authority = format!("{host}:{port}");
        let host_header = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let path = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_string(),
        };
        let mut fields: Vec<(String, String)> =
            vec![("content-type".into(), "application/json".into())];
        let mut set = |name: &str, value: String| {
            fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            fields.push((name.to_string(), value));
        };
        for (name, value) in headers {
            set(name, value.clone());
        }
        if let Some(key) = api_key {
            set("authorization", format!("Bearer {}", key.expose()));
        }
        let mut head = format!("POST {path} HTTP/1.1\r\nhost: {host_header}\r\naccept: */*\r\n");
        for (name, value) in &fields {
            if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
                return None;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        Some(H1 {
            authority,
            head: head.into_bytes(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Posts `body` with `extra` headers and reads the response's head; `token_header` names a
    /// header whose value is returned. Counts a re-send in `resent`.
    pub async fn post(
        &self,
        body: &[u8],
        extra: &[(&str, &str)],
        token_header: Option<&str>,
        resent: &AtomicU64,
    ) -> Result<Response, Fail> {
        let request = self.request(body, extra);
        if let Some(mut conn) = self.take() {
            match exchange_head(&mut conn, &request, token_header).await {
                Ok((head, read)) => return Ok(head.into_response(conn, read)),
                Err(Attempt::Stale) => {
                    resent.fetch_add(1, Ordering::Relaxed);
                }
                Err(Attempt::Failed(fail)) => return Err(fail),
            }
        }
        let mut conn = self.connect().await?;
        match exchange_head(&mut conn, &request, token_header).await {
            Ok((head, read)) => Ok(head.into_response(conn, read)),
            Err(Attempt::Stale) => Err((
                FailureKind::Other,
                "connection closed before message completed".into(),
            )),
            Err(Attempt::Failed(fail)) => Err(fail),
        }
    }

    /// Keeps a connection whose response was read to its end for the next request.
    pub fn put_back(&self, body: Body) {
        if body.reusable() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.push(body.conn);
        }
    }

    fn take(&self) -> Option<Conn> {
        let here = std::thread::current().id();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // Connections are opened and kept per thread; another thread's belong to its runtime.
        let at = idle.iter().rposition(|c| c.thread == here)?;
        Some(idle.swap_remove(at))
    }

    async fn connect(&self) -> Result<Conn, Fail> {
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, Socket::connect(&self.authority));
        let stream = match connected.await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err((FailureKind::Connect, format!("connect: {e}"))),
            Err(_) => return Err((FailureKind::Connect, "connect: timed out".into())),
        };
        Ok(Conn {
            stream,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            thread: std::thread::current().id(),
        })
    }

    fn request(&self, body: &[u8], extra: &[(&str, &str)]) -> Vec<u8> {
        let mut request = Vec::with_capacity(self.head.len() + body.len() + 64);
        request.extend_from_slice(&self.head);
        for (name, value) in extra {
            for part in [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
                request.extend_from_slice(part);
            }
        }
        request.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        request
    }
}

/// Why a request got no response head.
enum Attempt {
    /// The connection was closed or reset before any byte of a response: the server did not take
    /// the request.
    Stale,
    Failed(Fail),
}

/// What a response head says.
struct Head {
    status: u16,
    framing: Framing,
    close: bool,
    token: Option<String>,
}

/// The body bytes read along with a head: `conn.buf[start..end]`, arrived at `arrived`.
struct Rest {
    start: usize,
    end: usize,
    arrived: Instant,
}

impl Head {
    fn into_response(self, conn: Conn, rest: Rest) -> Response {
        Response {
            status: self.status,
            token: self.token,
            body: Body {
                conn,
                framing: self.framing,
                start: rest.start,
                end: rest.end,
                arrived: rest.arrived,
                close: self.close,
                eof: false,
            },
        }
    }
}

/// Writes the request and reads the response head; returns it with the body bytes read along
/// with it.
async fn exchange_head(
    conn: &mut Conn,
    request: &[u8],
    token_header: Option<&str>,
) -> Result<(Head, Rest), Attempt> {
    if conn.stream.write_all(request).await.is_err() {
        return Err(Attempt::Stale);
    }
    let mut filled = 0;
    let mut grown: Vec<u8> = Vec::new();
    loop {
        let read = conn.stream.read(&mut conn.buf[filled..]).await;
        let (n, arrived) = match read {
            Ok((0, _)) if filled == 0 && grown.is_empty() => return Err(Attempt::Stale),
            Ok((0, _)) => return Err(failed("the connection closed in the response head")),
            Ok(read) => read,
            Err(e) if filled == 0 && grown.is_empty() && is_reset(&e) => {
                return Err(Attempt::Stale);
            }
            Err(e) => return Err(failed(&format!("reading the response head: {e}"))),
        };
        filled += n;
        let bytes: &[u8] = if grown.is_empty() {
            &conn.buf[..filled]
        } else {
            grown.extend_from_slice(&conn.buf[..filled]);
            filled = 0;
            &grown
        };
        match parse_head(bytes, token_header).map_err(Attempt::Failed)? {
            Some((head, used)) if grown.is_empty() => {
                let rest = Rest {
                    start: used,
                    end: filled,
                    arrived,
                };
                return Ok((head, rest));
            }
            Some((head, used)) => {
                // A head longer than the buffer: what came after it goes back in front.
                let rest = grown.len() - used;
                if rest > conn.buf.len() {
                    return Err(failed("a response head and body larger than the buffer"));
                }
                conn.buf[..rest].copy_from_slice(&grown[used..]);
                let rest = Rest {
                    start: 0,
                    end: rest,
                    arrived,
                };
                return Ok((head, rest));
            }
            None if bytes.len() > MAX_HEAD => {
                return Err(failed("a response head larger than 64 KiB"));
            }
            None if filled == conn.buf.len() => {
                grown.extend_from_slice(&conn.buf[..filled]);
                filled = 0;
            }
            None => {}
        }
    }
}

fn failed(message: &str) -> Attempt {
    Attempt::Failed((FailureKind::Other, message.to_string()))
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Parses a complete head at the start of `bytes` (with its length), or `None` when more is needed.
fn parse_head(bytes: &[u8], token_header: Option<&str>) -> Result<Option<(Head, usize)>, Fail> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut fields);
    let used = match response.parse(bytes) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err((FailureKind::Other, format!("a bad response head: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let mut close = response.version == Some(0);
    let (mut length, mut chunked, mut token) = (None, false, None);
    for field in response.headers.iter() {
        let value = std::str::from_utf8(field.value).unwrap_or("").trim();
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = value.parse::<u64>().map_err(|_| {
                (
                    FailureKind::Other,
                    format!("a bad content-length `{value}`"),
                )
            })?;
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().ends_with("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            close = value.contains("close") || (close && !value.contains("keep-alive"));
        }
        if token_header.is_some_and(|t| name.eq_ignore_ascii_case(t)) {
            token = std::str::from_utf8(field.value).ok().map(str::to_string);
        }
    }
    let framing = match (chunked, length) {
        _ if status == 204 || status == 304 || (100..200).contains(&status) => Framing::Length(0),
        (true, _) => Framing::chunked(),
        (false, Some(length)) => Framing::Length(length),
        (false, None) => Framing::Close,
    };
    let close = close || framing == Framing::Close;
    let head = Head {
        status,
        framing,
        close,
        token,
    };
    Ok(Some((head, used)))
}

impl Body {
    /// The next piece of the body with when it arrived, `None` at its end.
    pub async fn next(&mut self) -> Result<Option<(&[u8], Instant)>, Fail> {
        let (from, n) = loop {
            if self.start < self.end {
                let from = self.start;
                let (n, used) = self
                    .framing
                    .decode(&mut self.conn.buf[from..self.end])
                    .map_err(|e| (FailureKind::Malformed, format!("bad HTTP framing: {}", e.0)))?;
                self.start += used;
                if self.framing.is_done() && self.start < self.end {
                    // Bytes after the response: the connection cannot be trusted with another.
                    self.close = true;
                    self.start = self.end;
                }
                if n > 0 {
                    break (from, n);
                }
                continue;
            }
            if self.framing.is_done() || self.eof {
                return Ok(None);
            }
            let (n, arrived) = self
                .conn
                .stream
                .read(&mut self.conn.buf)
                .await
                .map_err(|e| {
                    (
                        FailureKind::StreamInterrupted,
                        format!("reading the response: {e}"),
                    )
                })?;
            self.arrived = arrived;
            if n == 0 {
                self.eof = true;
                self.close = true;
                if self.framing == Framing::Close {
                    return Ok(None);
                }
                let message = "the connection closed before the response ended".to_string();
                return Err((FailureKind::StreamInterrupted, message));
            }
            (self.start, self.end) = (0, n);
        };
        Ok(Some((&self.conn.buf[from..from + n], self.arrived)))
    }

    /// When the last bytes read arrived (the end of the stream, once `next` gave `None`).
    pub fn arrived(&self) -> Instant {
        self.arrived
    }

    /// Reads the rest of the body, keeping its first `keep` bytes (an error's message).
    pub async fn text(&mut self, keep: usize) -> String {
        let mut kept = Vec::new();
        while let Ok(Some((bytes, _))) = self.next().await {
            let room = keep.saturating_sub(kept.len());
            kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    }

    /// Read to its end on a connection that stays open.
    fn reusable(&self) -> bool {
        !self.close && self.framing.is_done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_status_framing_and_the_token() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\nx-session: abc\r\n\r\n5\r\n";
        let (parsed, used) = parse_head(head, Some("X-Session")).unwrap().unwrap();
        assert_eq!(used, head.len() - 3);
        assert_eq!(parsed.status, 200);
        assert_eq!(parsed.framing, Framing::chunked());
        assert_eq!(parsed.token.as_deref(), Some("abc"));
        assert!(!parsed.close);
        let (parsed, _) = parse_head(
            b"HTTP/1.1 429 x\r\ncontent-length: 7\r\nconnection: close\r\n\r\n",
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (parsed.status, parsed.framing, parsed.close),
            (429, Framing::Length(7), true)
        );
        let (parsed, _) = parse_head(b"HTTP/1.0 200 OK\r\n\r\n", None)
            .unwrap()
            .unwrap();
        assert_eq!((parsed.framing, parsed.close), (Framing::Close, true));
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le", None)
                .unwrap()
                .is_none()
        );
        assert!(parse_head(b"NOT HTTP\r\n\r\n", None).is_err());
    }

    #[test]
    fn only_plain_http_targets_take_the_fast_path() {
        let headers = [("X-A".to_string(), "1".to_string())];
        let h1 = H1::new("http://127.0.0.1:8000/v1/completions", &headers, None).unwrap();
        assert_eq!(h1.authority, "127.0.0.1:8000");
        let head = String::from_utf8(h1.request(b"{}", &[("x-s", "9")])).unwrap();
        assert!(head.starts_with("POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1:8000\r\n"));
        assert!(head.contains("content-type: application/json\r\nX-A: 1\r\nx-s: 9\r\n"));
        assert!(head.ends_with("content-length: 2\r\n\r\n{}"));
        let h1 = H1::new("http://localhost/v1/completions", &[], None).unwrap();
        assert_eq!(h1.authority, "localhost:80");
        assert!(H1::new("https://example.com/v1/completions", &[], None).is_none());
        assert!(H1::new("http://user:pw@example.com/v1/completions", &[], None).is_none());
    }
}
