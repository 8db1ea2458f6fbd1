//! Faults a target can throw at the load generator, injected by a small raw-TCP server on 127.0.0.1
//! (wiremock cannot reset a connection, stall a stream or stream 17 MB without a newline). Every run
//! completes, every scheduled request lands in exactly one bucket, and nothing panics.

use std::path::Path;
use std::time::Duration;

use infergate::client::FailureKind;
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one completion request.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Healthy,
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
async fn fault_server(faults: Vec<Fault>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut next = 0;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let fault = faults[next % faults.len()];
            let is_completion = peek_is_post(&stream).await;
            if is_completion {
                next += 1;
            }
            tokio::spawn(serve(stream, fault, is_completion));
        }
    });
    url
}

async fn peek_is_post(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 4];
    for _ in 0..100 {
        if stream.peek(&mut buf).await.unwrap_or(0) >= 4 {
            return &buf == b"POST";
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

async fn read_request(stream: &mut TcpStream) {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
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
            return;
        }
    }
}

async fn serve(mut stream: TcpStream, fault: Fault, is_completion: bool) {
    read_request(&mut stream).await;
    if !is_completion {
        let body = r#"{"object":"list","data":[{"id":"faulty","object":"model"}]}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        return;
    }
    let write = |s: String| s.into_bytes();
    let bytes = match fault {
        Fault::Healthy => write(format!("{HEADERS}{TOKEN}{TOKEN}{TOKEN}{USAGE}{DONE}")),
        Fault::ResetAfter(n) => {
            let _ = stream
                .write_all(format!("{HEADERS}{}", TOKEN.repeat(n)).as_bytes())
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = stream.set_zero_linger();
            return; // dropped with linger 0: the peer sees a reset
        }
        Fault::StallAfterFirstToken => {
            let _ = stream
                .write_all(format!("{HEADERS}{TOKEN}").as_bytes())
                .await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Fault::BrokenJson => write(format!(
            "{HEADERS}{TOKEN}data: {{\"choices\":[{{\"text\":\n\n{DONE}"
        )),
        Fault::NoDone => write(format!("{HEADERS}{TOKEN}{TOKEN}")),
        Fault::UsageOnly => write(format!("{HEADERS}{USAGE}{DONE}")),
        Fault::EmptyChoices => write(format!("{HEADERS}data: {{\"choices\":[]}}\n\n{DONE}")),
        Fault::HugeLine => {
            let mut b = format!("{HEADERS}{TOKEN}data: ").into_bytes();
            b.resize(b.len() + 17 * 1024 * 1024, b'x');
            b
        }
        Fault::NeverAnswer => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Fault::Status(code) => write(format!(
            "HTTP/1.1 {code} Oops\r\ncontent-length: 9\r\nconnection: close\r\n\r\noverload!"
        )),
    };
    let _ = stream.write_all(&bytes).await;
}

fn scenario(requests: u32) -> Scenario {
    let yaml = format!(
        "api: {{streaming: true}}
load:
  type: concurrent
  stages: [{{num_requests: {requests}, concurrency_level: 4}}]
  request_timeout: 1.5
  idle_timeout: 0.3
"
    );
    Scenario::from_source(Path::new("faults.yaml"), &yaml).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn every_fault_is_counted_once_and_the_run_completes() {
    let faults = vec![
        Fault::Healthy,
        Fault::ResetAfter(2),
        Fault::StallAfterFirstToken,
        Fault::BrokenJson,
        Fault::NoDone,
        Fault::UsageOnly,
        Fault::EmptyChoices,
        Fault::HugeLine,
        Fault::NeverAnswer,
        Fault::Status(503),
        Fault::Status(429),
    ];
    let rounds = 2;
    let url = fault_server(faults.clone()).await;
    let options = RunOptions {
        target: Target::Url(url),
        ..RunOptions::default()
    };
    let run = run_scenario(&scenario((faults.len() * rounds) as u32), &options)
        .await
        .unwrap();
    let r = &run.total;
    assert_eq!(r.scheduled, 22);
    assert_eq!(
        r.accounted(),
        r.scheduled,
        "ok + failed + timed out + cancelled = scheduled"
    );
    assert_eq!(r.ok, 2, "the healthy ones");
    let count = |kind: FailureKind| r.failures.get(&kind).map_or(0, |g| g.count);
    assert_eq!(
        count(FailureKind::StreamInterrupted),
        2,
        "{:#?}",
        r.failures
    );
    assert_eq!(
        count(FailureKind::Malformed),
        4,
        "broken JSON and the 17 MB line: {:#?}",
        r.failures
    );
    assert_eq!(count(FailureKind::IncompleteStream), 2);
    assert_eq!(
        count(FailureKind::NoContent),
        4,
        "usage-only and empty choices"
    );
    assert_eq!(count(FailureKind::HttpStatus(503)), 2);
    assert_eq!(count(FailureKind::RateLimited), 2);
    assert_eq!(
        (r.timed_out, r.idle_timeouts),
        (4, 2),
        "a stalled stream and a silent server, twice each"
    );
    let huge = &r.failures[&FailureKind::Malformed].samples;
    assert!(
        huge.iter().any(|m| m.contains("MiB without an end")),
        "{huge:?}"
    );
    assert_eq!(
        r.output_tokens_total, 6,
        "usage of the two healthy requests"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_that_dies_mid_run_is_recorded_not_fatal() {
    let url = fault_server(vec![Fault::Healthy, Fault::ResetAfter(0)]).await;
    let options = RunOptions {
        target: Target::Url(url),
        ..RunOptions::default()
    };
    let run = run_scenario(&scenario(10), &options).await.unwrap();
    assert_eq!(
        (run.total.ok, run.total.failed(), run.total.accounted()),
        (5, 5, 10)
    );
    assert!((run.total.error_rate() - 0.5).abs() < 1e-9);
}
