//! `infergate bench --floor`'s minimal reader against a real simulator: every request it sends is
//! read to its end, and every response is the whole stream, byte for byte the one a plain blocking
//! read of the same request gets (head, one chunk per token, the usage chunk and `[DONE]`). Timing
//! is not asserted: that is what the floor measures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use infergate::bench::floor::{self, Stage, push_tail};
use infergate::plan::tokens::TokenCounter;
use infergate::sim::{FixedTiming, SimConfig, SimHandle};

const TOKENS: u32 = 16;

/// One request on its own connection, read to the chunked terminator.
fn reference_response(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let mut buffer = [0; 4096];
    while !response.ends_with(b"\r\n0\r\n\r\n") {
        let n = stream.read(&mut buffer).unwrap();
        assert!(
            n > 0,
            "closed early: {}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buffer[..n]);
    }
    response
}

#[test]
fn the_floor_reader_reads_every_stream_to_its_end() {
    let _turn = crate::support::turn_blocking();
    let config = SimConfig {
        fixed: Some(FixedTiming {
            ttft: Duration::from_millis(10),
            itl: Duration::from_millis(1),
        }),
        ..SimConfig::default()
    };
    let sim = SimHandle::start(config, "127.0.0.1:0".parse().unwrap()).unwrap();
    let request = floor::request(sim.addr(), 32, TOKENS);
    let reference = reference_response(sim.addr(), &request);
    let text = String::from_utf8_lossy(&reference);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert_eq!(
        text.matches(r#""text":"#).count(),
        TOKENS as usize,
        "{text}"
    );
    assert!(
        text.contains(&format!(r#""completion_tokens":{TOKENS}"#)) && text.contains("[DONE]"),
        "{text}"
    );
    let stage = Stage {
        rate: 40.0,
        duration: Duration::from_secs(1),
        output_tokens: TOKENS,
        drain: Duration::from_secs(10),
    };
    let row = floor::run_stage(sim.addr(), request, stage).unwrap();
    assert_eq!(
        (row.sent, row.completed, row.not_ok),
        (40, 40, 0),
        "{row:?}"
    );
    let bytes = reference.len() as u64;
    assert_eq!(
        (row.response_bytes_min, row.response_bytes_max),
        (bytes, bytes),
        "{row:?}"
    );
    // At least one read per response, and connections are reused: at 40 req/s of 26 ms streams a
    // few are open at once, not one per request.
    assert!(row.reads >= 40 && row.connections < 20, "{row:?}");
    assert!(
        row.thread_cpu_seconds > 0.0 && row.syscalls_per_token > 0.0,
        "{row:?}"
    );
}

/// The flag: `bench --floor` prints the floor's table and writes its rows.
#[test]
fn bench_floor_prints_and_writes_the_floor_rows() {
    let _turn = crate::support::turn_blocking();
    let (stdout, row) = crate::support::bench::gentle(&["--floor"]);
    assert!(stdout.contains("| floor | 40 |"), "{stdout}");
    assert_eq!(
        (&row["sent"], &row["completed"]),
        (&40.into(), &40.into()),
        "{row}"
    );
    assert_eq!(row["not_ok"], 0, "{row}");
    assert_eq!(
        row["response_bytes_min"], row["response_bytes_max"],
        "{row}"
    );
}

/// The end of a response is found whatever sizes its bytes arrive in, and only at the real end: a
/// chunk whose data looks like the terminator is not preceded by CRLF.
#[test]
fn the_tail_finds_the_terminator_across_reads_of_any_size() {
    let body = b"HTTP/1.1 200 OK\r\n\r\n5\r\nhello\r\n13\r\ndata: [DONE]\n\n0\r\n\r\n\r\n0\r\n\r\n";
    for size in 1..body.len() {
        let mut tail = [0; 7];
        let ends: Vec<usize> = body
            .chunks(size)
            .enumerate()
            .filter(|(_, c)| push_tail(&mut tail, c))
            .map(|(i, c)| i * size + c.len())
            .collect();
        assert_eq!(ends, [body.len()], "reads of {size} bytes");
    }
}

/// The floor's request is the real client's streaming completion (`client::openai::request_body`).
#[test]
fn the_request_is_the_real_clients_streaming_completion() {
    let addr = "127.0.0.1:8000".parse().unwrap();
    let request = String::from_utf8(floor::request(addr, 128, 16)).unwrap();
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1:8000\r\n"));
    assert!(head.ends_with(&format!("content-length: {}", body.len())));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["max_tokens"], 16);
    assert_eq!(
        (&v["stream"], &v["ignore_eos"]),
        (&true.into(), &true.into())
    );
    assert_eq!(v["stream_options"]["include_usage"], true);
    let prompt = v["prompt"].as_str().unwrap();
    assert_eq!(TokenCounter::builtin().count(prompt), 128);
}
