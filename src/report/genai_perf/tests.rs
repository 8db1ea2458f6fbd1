//! genai-perf's statistics, names and definitions, on hand-made records.

use super::*;

#[test]
fn statistics_are_numpys() {
    let s = stats(&[4.0, 1.0, 3.0, 2.0], "ms").unwrap();
    assert_eq!((s.avg, s.min, s.max), (2.5, 1.0, 4.0));
    assert!((s.p50 - 2.5).abs() < 1e-12 && (s.p25 - 1.75).abs() < 1e-12);
    assert!((s.p99 - 3.97).abs() < 1e-12, "{}", s.p99);
    assert!((s.std - 1.25f64.sqrt()).abs() < 1e-12);
    assert!(stats(&[], "ms").is_none());
}

#[test]
fn numbers_and_names_are_written_as_genai_perf_writes_them() {
    assert_eq!(number(5043.384), "5,043.38");
    assert_eq!(number(1234567.0), "1,234,567.00");
    assert_eq!(number(12.0), "12.00");
    assert_eq!(number(-0.001), "0.00");
    assert_eq!(
        metric_name("time_to_first_token", "ms"),
        "Time To First Token (ms)"
    );
    assert_eq!(csv_field("5,043.38"), "\"5,043.38\"");
}

#[test]
fn a_stream_gives_every_metric_and_a_plain_response_its_latency() {
    let record = |gaps: &str| {
        serde_json::from_str::<Record>(&format!(
            r#"{{"outcome": "ok", "start_time": 1.0, "end_time": 1.5, "prompt_tokens": 200,
               "output_tokens": 11, "ttft": 0.1, "request_latency": 0.5, "chunk_gaps": {gaps}}}"#
        ))
        .unwrap()
    };
    let streamed = request(record("[0.04, 0.04]"), true).unwrap();
    assert!((streamed.ttft_ms - 100.0).abs() < 1e-9);
    assert!((streamed.itl_ms.unwrap() - 40.0).abs() < 1e-9);
    assert!((streamed.ttst_ms.unwrap() - 40.0).abs() < 1e-9);
    let plain = request(record("null"), false).unwrap();
    assert_eq!(
        (plain.ttft_ms, plain.itl_ms, plain.ttst_ms),
        (500.0, None, None)
    );
    let e = export(
        &[streamed.clone(), streamed],
        Some(1),
        serde_json::Value::Null,
    )
    .unwrap();
    assert_eq!(e.request_count.avg, 2.0);
    assert!((e.request_throughput.avg - 4.0).abs() < 1e-9);
    assert!((e.output_token_throughput.avg - 44.0).abs() < 1e-9);
    assert!((e.request_goodput.unwrap().avg - 2.0).abs() < 1e-9);
}

#[test]
fn a_reasoning_run_adds_aiperfs_reasoning_metrics() {
    let record = |extra: &str| {
        serde_json::from_str::<Record>(&format!(
            r#"{{"outcome": "ok", "start_time": 1.0, "end_time": 1.5, "prompt_tokens": 200,
               "output_tokens": 11, "ttft": 0.1, "request_latency": 0.5,
               "chunk_gaps": [0.04, 0.04]{extra}}}"#
        ))
        .unwrap()
    };
    let reasoned = request(record(r#", "ttfo": 0.3, "reasoning_tokens": 5"#), true).unwrap();
    let plain = request(record(""), true).unwrap();
    assert_eq!(
        (reasoned.ttfo_ms, reasoned.reasoning_tokens),
        (Some(300.0), Some(5.0))
    );
    assert_eq!((plain.ttfo_ms, plain.reasoning_tokens), (Some(100.0), None));
    let e = export(&[reasoned, plain.clone()], None, serde_json::Value::Null).unwrap();
    let ttfo = e.time_to_first_output_token.as_ref().unwrap();
    assert_eq!((ttfo.min, ttfo.max), (100.0, 300.0));
    let reasoning = e.reasoning_token_count.as_ref().unwrap();
    assert_eq!((reasoning.avg, reasoning.unit.as_str()), (2.5, "tokens"));
    let csv = e.csv(true);
    assert!(csv.contains("Time To First Output Token (ms),"), "{csv}");
    assert!(csv.contains("Reasoning Token Count (tokens),"), "{csv}");
    let json = serde_json::to_value(&e).unwrap();
    assert!(json["reasoning_token_count"]["p99"].is_number(), "{json}");
    // Without reasoning, genai-perf's own layout, unchanged.
    let e = export(&[plain], None, serde_json::Value::Null).unwrap();
    assert!(e.time_to_first_output_token.is_none() && e.reasoning_token_count.is_none());
    assert!(!e.table(true).contains("Output Token (ms)"));
}
