//! The fast path (`h1`, `framing`, `scan`) against reqwest's, on the same bytes from a raw HTTP
//! server on 127.0.0.1 that cuts its stream at awkward places: both must count the same content
//! chunks, gaps, reasoning and usage, and fail the same way.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Client, Endpoint, Exchange, FailureKind};
use crate::scenario::ApiKind;

/// A streamed chat answer: role-only, content, reasoning (both spellings), a tool call, escapes,
/// a finish chunk, usage-only, `[DONE]`.
const EVENTS: &[&str] = &[
    r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":{"content":[{"token":"Hel","logprob":-0.1}]}}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"reasoning":"more"}}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{\"a\": 1}"}}]}}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a \"b\"\n\u00e9"}}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    r#"{"id":"c","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":5,"total_tokens":7}}"#,
    "[DONE]",
];

/// The events as an SSE body (mixed line ends, a comment), chunk-encoded in uneven chunks.
fn chunked_body(events: &[&str]) -> Vec<u8> {
    let mut sse = b": keep-alive\n\n".to_vec();
    for (i, event) in events.iter().enumerate() {
        let end = if i % 2 == 0 { "\n\n" } else { "\r\n\r\n" };
        sse.extend_from_slice(format!("data: {event}{end}").as_bytes());
    }
    let mut body = Vec::new();
    for (i, chunk) in sse.chunks_mut(37).enumerate() {
        let ext = if i % 3 == 0 { ";x=1" } else { "" };
        body.extend_from_slice(format!("{:x}{ext}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

/// Serves every request on a kept-alive connection with `head` + `body`, written in pieces of
/// varying size with a pause between them (so events and chunk sizes are cut across reads).
async fn serve(head: &'static str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(answer(socket, head, body));
        }
    });
    url
}

async fn answer(mut socket: TcpStream, head: &'static str, body: Vec<u8>) {
    let _ = socket.set_nodelay(true);
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // One request: its head, then `content-length` bytes.
        let request_end = loop {
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if request.len() >= end + 4 + length {
                    break end + 4 + length;
                }
            }
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        };
        request.drain(..request_end);
        let mut wire = head.as_bytes().to_vec();
        wire.extend_from_slice(&body);
        let mut at = 0;
        for size in [5, 1, 40, 3, 64, 2, 17, 90].iter().cycle() {
            let end = (at + size).min(wire.len());
            if socket.write_all(&wire[at..end]).await.is_err() {
                return;
            }
            at = end;
            if at == wire.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

fn client(url: String) -> Client {
    Client::new(Endpoint {
        base_url: url,
        api: ApiKind::Chat,
        streaming: true,
        model: "m".into(),
        ignore_eos: false,
        response_format: None,
        api_key: None,
        headers: Vec::new(),
        adapters: Vec::new(),
        session_id_header: None,
        session_token_header: None,
        request_timeout: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(20),
        tls: Default::default(),
    })
    .unwrap()
}

const CHUNKED: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

#[tokio::test]
async fn both_paths_count_the_same_chunks_gaps_and_usage() {
    let url = serve(CHUNKED, chunked_body(EVENTS)).await;
    let fast = client(url.clone());
    assert!(fast.is_fast());
    let slow = client(url).through_reqwest();
    for round in 0..2 {
        // The second round reuses the kept-alive connections.
        let mut seen = Vec::new();
        for client in [&fast, &slow] {
            let Exchange::Ok(ok) = client.send("hi", 5).await else {
                panic!("round {round}: not ok")
            };
            let first = ok.first_content.expect("a first content chunk");
            assert!(ok.sent <= first && first <= ok.end);
            // The first chunk is content: the answer starts with the first token.
            assert_eq!(ok.reasoning.first_output, Some(first));
            seen.push((
                ok.content_chunks,
                ok.content_gaps_us.len(),
                ok.usage,
                ok.reasoning.counted,
            ));
        }
        assert_eq!(seen[0], seen[1], "round {round}");
        let usage = seen[0].2.unwrap();
        assert_eq!(
            seen[0].0, 5,
            "role-only, finish and usage-only chunks carry no content"
        );
        assert_eq!(seen[0].3, 2, "reasoning_content and reasoning chunks");
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens),
            (Some(2), Some(5))
        );
    }
}

#[tokio::test]
async fn both_paths_fail_a_stream_the_same_way() {
    let cases: [(&[&str], FailureKind); 4] = [
        (&EVENTS[..6], FailureKind::IncompleteStream),
        (
            &[EVENTS[1], r#"{"error":{"message":"overloaded"}}"#, "[DONE]"],
            FailureKind::ServerError,
        ),
        (
            &[EVENTS[1], r#"{"choices":[{"text":" a"#, "[DONE]"],
            FailureKind::Malformed,
        ),
        (&[EVENTS[0], EVENTS[7], "[DONE]"], FailureKind::NoContent),
    ];
    for (events, kind) in cases {
        let url = serve(CHUNKED, chunked_body(events)).await;
        for client in [client(url.clone()), client(url).through_reqwest()] {
            match client.send("hi", 5).await {
                Exchange::Failed(f) => assert_eq!(f.kind, kind, "{}", f.message),
                other => panic!("expected {kind}, got {other:?}"),
            }
        }
    }
    let url = serve(
        "HTTP/1.1 503 Busy\r\ncontent-length: 9\r\n\r\n",
        b"try later".to_vec(),
    )
    .await;
    for client in [client(url.clone()), client(url).through_reqwest()] {
        match client.send("hi", 5).await {
            Exchange::Failed(f) => {
                assert_eq!(f.kind, FailureKind::HttpStatus(503));
                assert_eq!(f.message, "HTTP 503: try later");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_body_framed_by_its_length_or_by_closing_reads_the_same() {
    let mut sse = Vec::new();
    for event in EVENTS {
        sse.extend_from_slice(format!("data: {event}\n\n").as_bytes());
    }
    let head: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
            sse.len()
        )
        .into_boxed_str(),
    );
    let url = serve(head, sse).await;
    for client in [client(url.clone()), client(url).through_reqwest()] {
        let Exchange::Ok(ok) = client.send("hi", 5).await else {
            panic!("not ok")
        };
        assert_eq!((ok.content_chunks, ok.content_gaps_us.len()), (5, 4));
    }
}

/// A reasoning model's stream: reasoning in both spellings (one key escaped, so serde reads that
/// event), an empty `content` beside reasoning (not an answer), a chunk mixing reasoning and answer,
/// then the answer.
const REASONING: &[&str] = &[
    r#"{"id":"r","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
    r#"{"id":"r","choices":[{"index":0,"delta":{"reasoning_content":"Let"}}]}"#,
    r#"{"id":"r","choices":[{"index":0,"delta":{"reasoning":" me"}}]}"#,
    r#"{"id":"r","choices":[{"index":0,"delta":{"reasoning\u005fcontent":" see","content":""}}]}"#,
    r#"{"id":"r","choices":[{"index":0,"delta":{"reasoning_content":".","content":"It"}}]}"#,
    r#"{"id":"r","choices":[{"index":0,"delta":{"content":" is"}}]}"#,
    r#"{"id":"r","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
];

/// `events` with a usage chunk and `[DONE]`.
fn with_usage<'a>(events: &[&'a str], usage: &'a str) -> Vec<&'a str> {
    let mut all = events.to_vec();
    all.extend([usage, "[DONE]"]);
    all
}

/// Reads `events` on both paths; the two successes must agree on everything measured.
async fn read_both(events: &[&str]) -> super::Success {
    let url = serve(CHUNKED, chunked_body(events)).await;
    let mut seen = Vec::new();
    for client in [client(url.clone()), client(url).through_reqwest()] {
        let Exchange::Ok(ok) = client.send("hi", 8).await else {
            panic!("not ok")
        };
        let first = ok.first_content.expect("a first content chunk");
        if let Some(output) = ok.reasoning.first_output {
            assert!(first <= output && output <= ok.end);
        }
        seen.push(ok);
    }
    let measured = |ok: &super::Success| {
        let output = ok.reasoning.first_output.is_some();
        (
            ok.content_chunks,
            ok.content_gaps_us.len(),
            ok.usage,
            ok.reasoning.counted,
            output,
        )
    };
    assert_eq!(measured(&seen[0]), measured(&seen[1]));
    seen.remove(0)
}

#[tokio::test]
async fn both_paths_tell_reasoning_from_the_answer() {
    // The server's own count of reasoning tokens, read by the scanner.
    let usage = r#"{"id":"r","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":6,"accepted_prediction_tokens":0}}}"#;
    let ok = read_both(&with_usage(REASONING, usage)).await;
    assert_eq!(ok.content_chunks, 5, "every reasoning or answer chunk");
    assert_eq!(ok.reasoning.counted, 4, "chunks carrying reasoning");
    assert!(ok.reasoning.first_output.is_some());
    let u = ok.usage.unwrap();
    assert_eq!(
        (u.completion_tokens, u.reasoning_tokens),
        (Some(9), Some(6))
    );

    // The same count behind an escaped key: serde reads it.
    let escaped = r#"{"choices":[],"usage":{"completion_tokens":9,"completion_tokens_details":{"reasoning\u005ftokens":6}}}"#;
    let ok = read_both(&with_usage(REASONING, escaped)).await;
    assert_eq!(ok.usage.unwrap().reasoning_tokens, Some(6));

    // Usage without details, and with details but no reasoning count.
    for usage in [
        r#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":9}}"#,
        r#"{"choices":[],"usage":{"completion_tokens":9,"completion_tokens_details":null}}"#,
        r#"{"choices":[],"usage":{"completion_tokens":9,"completion_tokens_details":{"audio_tokens":0}}}"#,
    ] {
        let ok = read_both(&with_usage(REASONING, usage)).await;
        let u = ok.usage.unwrap();
        assert_eq!((u.completion_tokens, u.reasoning_tokens), (Some(9), None));
        assert_eq!(ok.reasoning.counted, 4);
    }
}

#[tokio::test]
async fn a_stream_of_reasoning_alone_succeeds_without_an_answer() {
    // A reasoning model that ran out of `max_tokens` before answering: generated text, no answer.
    let events = [
        REASONING[0],
        REASONING[1],
        REASONING[2],
        REASONING[3],
        REASONING[6],
        "[DONE]",
    ];
    let ok = read_both(&events).await;
    assert_eq!((ok.content_chunks, ok.reasoning.counted), (3, 3));
    assert_eq!(ok.reasoning.first_output, None);
    assert_eq!(ok.usage, None);
}

/// With the kernel's stamps, the first token's time is when it reached the host, not when a load
/// thread busy with other work got to it: the server (its own thread) answers at once while the client's only thread is blocked
/// for 80 ms, and TTFT must still come out as the server's write, not the unblocking.
#[test]
fn a_busy_load_thread_does_not_delay_the_first_token_with_kernel_stamps() {
    use std::io::{Read, Write};
    use std::time::Instant;
    super::stamp_with_kernel();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (written_tx, written) = std::sync::mpsc::channel::<(Instant, Instant)>();
    std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_nodelay(true).unwrap();
        let event = |text: &str| {
            let data = format!("data: {text}\n\n");
            format!("{:x}\r\n{data}\r\n", data.len())
        };
        let mut buf = [0u8; 4096];
        // One request per read is enough here: each is a single small segment.
        while socket.read(&mut buf).is_ok_and(|n| n > 0) {
            let head = format!("{CHUNKED}{}", event(EVENTS[0]));
            socket.write_all(head.as_bytes()).unwrap();
            let before = Instant::now();
            socket.write_all(event(EVENTS[1]).as_bytes()).unwrap();
            written_tx.send((before, Instant::now())).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let rest = format!("{}{}0\r\n\r\n", event(EVENTS[5]), event("[DONE]"));
            socket.write_all(rest.as_bytes()).unwrap();
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = client(url);
    // A first request opens the connection the others reuse, so theirs are written at once.
    assert!(matches!(
        runtime.block_on(client.send("hi", 5)),
        Exchange::Ok(_)
    ));
    written.recv().unwrap();
    // The kernel switches receive stamps on a moment after the first socket asks for them, so the
    // first requests may be timed on read; within a few, one must carry the stamp.
    for _ in 0..20 {
        let exchange = runtime.block_on(async {
            // Runs right after the request is written: the only thread sleeps through the answer.
            tokio::spawn(async { std::thread::sleep(Duration::from_millis(80)) });
            client.send("hi", 5).await
        });
        let Exchange::Ok(ok) = exchange else {
            panic!("not ok: {exchange:?}")
        };
        let (before, after) = written.recv().unwrap();
        let first = ok.first_content.expect("a first content chunk");
        assert!(ok.sent <= first && first <= ok.end);
        if !cfg!(target_os = "linux") {
            return;
        }
        if first > after + Duration::from_millis(40) {
            continue; // timed when read: unstamped
        }
        let slack = Duration::from_millis(1);
        assert!(first + slack >= before && first <= after + slack);
        // The next chunk came 100 ms later: the gap is the server's, not the blocked thread's.
        assert!(ok.content_gaps_us[0] >= 95_000, "{:?}", ok.content_gaps_us);
        return;
    }
    panic!("no first token in 20 carried the kernel's receive stamp");
}
