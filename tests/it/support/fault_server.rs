//! A small raw-TCP server on 127.0.0.1 that injects the faults wiremock cannot: connection resets,
//! stalled streams, broken events, bodies that never end. It serves `/v1/models` and answers each
//! completion request with the next fault of its list, in turn. Healthy answers keep the connection
//! alive, as a real server would; faulty ones close it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one completion request.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // each test binary uses its own subset
pub enum Fault {
    Healthy,
    /// A healthy answer, then the connection closes although the response said keep-alive (as
    /// llama.cpp's server does after a streamed response).
    HealthyThenClose,
    ResetAfter(usize),
    StallAfterFirstToken,
    BrokenJson,
    NoDone,
    UsageOnly,
    EmptyChoices,
    HugeLine,
    NeverAnswer,
    Status(u16),
}

const HEADERS: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
const TOKEN: &str = "data: {\"choices\":[{\"index\":0,\"text\":\" tok\"}]}\n\n";
const USAGE: &str =
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3}}\n\n";
const DONE: &str = "data: [DONE]\n\n";

/// Serves `/v1/models` and answers completion requests with `faults`, in turn.
pub async fn fault_server(faults: Vec<Fault>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (faults, next) = (faults.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut stream = stream;
                // One connection carries requests until a fault closes it.
                while let Some(is_post) = read_request(&mut stream).await {
                    let keep_alive = if is_post {
                        let fault = faults[next.fetch_add(1, Ordering::Relaxed) % faults.len()];
                        answer(&mut stream, fault).await
                    } else {
                        let body = r#"{"object":"list","data":[{"id":"faulty","object":"model"}]}"#;
                        respond(&mut stream, "application/json", body).await
                    };
                    if !keep_alive {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Reads one request; `Some(true)` for a POST, `Some(false)` for anything else, `None` at the end.
async fn read_request(stream: &mut TcpStream) -> Option<bool> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            return Some(data.starts_with(b"POST"));
        }
    }
}

/// A complete keep-alive response; false when the connection broke.
async fn respond(stream: &mut TcpStream, content_type: &str, body: &str) -> bool {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.is_ok()
}

/// Answers a completion request with `fault`; true when the connection may carry another request.
async fn answer(stream: &mut TcpStream, fault: Fault) -> bool {
    let bytes = match fault {
        Fault::Healthy => {
            let body = format!("{TOKEN}{TOKEN}{TOKEN}{USAGE}{DONE}");
            return respond(stream, "text/event-stream", &body).await;
        }
        Fault::HealthyThenClose => {
            let body = format!("{TOKEN}{TOKEN}{TOKEN}{USAGE}{DONE}");
            respond(stream, "text/event-stream", &body).await;
            // Close only after the client has had time to take the connection back for its next
            // request, so the request is written into a connection about to close.
            tokio::time::sleep(Duration::from_millis(5)).await;
            return false;
        }
        Fault::ResetAfter(n) => {
            let _ = stream
                .write_all(format!("{HEADERS}{}", TOKEN.repeat(n)).as_bytes())
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = stream.set_zero_linger();
            return false; // dropped with linger 0: the peer sees a reset
        }
        Fault::StallAfterFirstToken => {
            let _ = stream
                .write_all(format!("{HEADERS}{TOKEN}").as_bytes())
                .await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return false;
        }
        Fault::BrokenJson => {
            format!("{HEADERS}{TOKEN}data: {{\"choices\":[{{\"text\":\n\n{DONE}").into_bytes()
        }
        Fault::NoDone => format!("{HEADERS}{TOKEN}{TOKEN}").into_bytes(),
        Fault::UsageOnly => format!("{HEADERS}{USAGE}{DONE}").into_bytes(),
        Fault::EmptyChoices => format!("{HEADERS}data: {{\"choices\":[]}}\n\n{DONE}").into_bytes(),
        Fault::HugeLine => {
            let mut b = format!("{HEADERS}{TOKEN}data: ").into_bytes();
            b.resize(b.len() + 30 * 1024 * 1024, b'x');
            b
        }
        Fault::NeverAnswer => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return false;
        }
        Fault::Status(code) => format!(
            "HTTP/1.1 {code} Oops\r\ncontent-length: 9\r\nconnection: close\r\n\r\noverload!"
        )
        .into_bytes(),
    };
    let _ = stream.write_all(&bytes).await;
    false
}
