//! The HTTP client against wiremock on 127.0.0.1: request shape, streamed and whole bodies, and the
//! failure kinds a server can cause.

use std::time::Duration;

use infergate::client::{Client, Endpoint, Exchange, FailureKind};
use infergate::scenario::{ApiKind, Secret};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::openai_mock::sse;

fn endpoint(base_url: String, api: ApiKind, streaming: bool) -> Endpoint {
    Endpoint {
        base_url,
        api,
        streaming,
        model: "m".into(),
        ignore_eos: true,
        response_format: None,
        api_key: Some(Secret::new("sk-test".into())),
        headers: vec![("x-team".into(), "perf".into())],
        adapters: Vec::new(),
        session_id_header: None,
        session_token_header: None,
        request_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        tls: Default::default(),
    }
}

async fn send(server: &MockServer, api: ApiKind, streaming: bool) -> Exchange {
    let client = Client::new(endpoint(server.uri(), api, streaming)).unwrap();
    client.send("hello world", 3).await
}

#[tokio::test]
async fn streaming_completion_request_shape_and_timings() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(header("x-team", "perf"))
        .and(body_json(json!({
            "model": "m", "prompt": "hello world", "max_tokens": 3, "stream": true,
            "stream_options": {"include_usage": true}, "ignore_eos": true
        })))
        .respond_with(sse(&[
            r#"{"choices":[{"index":0,"text":" a"}]}"#,
            r#"{"choices":[{"index":0,"text":""}]}"#,
            r#"{"choices":[{"index":0,"text":" b"}]}"#,
            r#"{"choices":[{"index":0,"text":" c","finish_reason":"length"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}"#,
            "[DONE]",
        ]))
        .expect(1)
        .mount(&server)
        .await;
    let Exchange::Ok(ok) = send(&server, ApiKind::Completion, true).await else {
        panic!("not ok")
    };
    assert_eq!(ok.content_chunks, 3, "the empty-text chunk is not content");
    assert_eq!(ok.content_gaps_us.len(), 2);
    assert_eq!(ok.usage.unwrap().completion_tokens, Some(3));
    let first = ok.first_content.unwrap();
    assert!(ok.sent <= first && first <= ok.end);
}

#[tokio::test]
async fn chat_streams_skip_role_only_and_usage_only_chunks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_json(json!({
            "model": "m", "messages": [{"role": "user", "content": "hello world"}], "max_tokens": 3,
            "stream": true, "stream_options": {"include_usage": true}, "ignore_eos": true
        })))
        .respond_with(sse(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#,
            "[DONE]",
        ]))
        .mount(&server)
        .await;
    let Exchange::Ok(ok) = send(&server, ApiKind::Chat, true).await else {
        panic!("not ok")
    };
    assert_eq!(ok.content_chunks, 1);
    assert!(ok.content_gaps_us.is_empty());
}

#[tokio::test]
async fn non_streaming_bodies_are_read_whole() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .and(body_json(json!({"model": "m", "prompt": "hello world", "max_tokens": 3, "stream": false, "ignore_eos": true})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "text": " one two three", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 3}
        })))
        .mount(&server)
        .await;
    let Exchange::Ok(ok) = send(&server, ApiKind::Completion, false).await else {
        panic!("not ok")
    };
    assert_eq!(ok.first_content, None, "no TTFT without streaming");
    assert_eq!(ok.body_words, 3);
    assert_eq!(ok.usage.unwrap().prompt_tokens, Some(2));
}

async fn failure_of(response: ResponseTemplate, streaming: bool) -> (FailureKind, String) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    match send(&server, ApiKind::Completion, streaming).await {
        Exchange::Failed(f) => (f.kind, f.message),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn server_faults_become_named_failures() {
    let (kind, message) = failure_of(
        ResponseTemplate::new(500).set_body_string("engine exploded"),
        true,
    )
    .await;
    assert_eq!(kind, FailureKind::HttpStatus(500));
    assert!(message.contains("engine exploded"), "{message}");
    assert_eq!(
        failure_of(ResponseTemplate::new(429), true).await.0,
        FailureKind::RateLimited
    );
    let (kind, _) = failure_of(sse(&[r#"{"choices":[{"text":" a"}]}"#]), true).await;
    assert_eq!(kind, FailureKind::IncompleteStream);
    let (kind, message) = failure_of(sse(&[r#"{"choices":[{"text":" a"#, "[DONE]"]), true).await;
    assert_eq!(kind, FailureKind::Malformed);
    assert!(message.contains("bad event"), "{message}");
    let (kind, _) = failure_of(
        sse(&[r#"{"error":{"message":"overloaded"}}"#, "[DONE]"]),
        true,
    )
    .await;
    assert_eq!(kind, FailureKind::ServerError);
    let (kind, _) = failure_of(sse(&[r#"{"choices":[]}"#, "[DONE]"]), true).await;
    assert_eq!(kind, FailureKind::NoContent);
    let (kind, _) = failure_of(
        ResponseTemplate::new(200).set_body_string("not json"),
        false,
    )
    .await;
    assert_eq!(kind, FailureKind::Malformed);
}

#[tokio::test]
async fn slow_servers_time_out_and_closed_ports_refuse() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mut e = endpoint(server.uri(), ApiKind::Completion, true);
    e.request_timeout = Duration::from_millis(200);
    let exchange = Client::new(e).unwrap().send("hi", 1).await;
    assert!(
        matches!(exchange, Exchange::TimedOut { .. }),
        "{exchange:?}"
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let exchange = Client::new(endpoint(closed, ApiKind::Completion, true))
        .unwrap()
        .send("hi", 1)
        .await;
    let Exchange::Failed(f) = exchange else {
        panic!("{exchange:?}")
    };
    assert_eq!(f.kind, FailureKind::Connect);
    assert!(!f.message.contains("sk-test"));
}

#[tokio::test]
async fn a_response_format_from_the_scenario_goes_with_every_request() {
    // inference-perf's examples/structured-output/config.yml, through the loader, as sent.
    let scenario = infergate::scenario::Scenario::from_source(
        std::path::Path::new("structured.yaml"),
        "api:
  type: chat
  streaming: false
  response_format:
    type: json_schema
    name: my_schema
    json_schema:
      type: object
      properties: {name: {type: string}, age: {type: integer}}
      required: [name, age]
load:
  stages: [{rate: 1, duration: 1}]
",
    )
    .unwrap();
    let server = MockServer::start().await;
    let format = json!({"type": "json_schema", "json_schema": {"name": "my_schema", "schema": {
        "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]}}});
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_json(json!({
            "model": "m", "messages": [{"role": "user", "content": "hello world"}],
            "max_tokens": 3, "stream": false, "ignore_eos": true, "response_format": format,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "message": {"content": "{\"name\": \"a\", \"age\": 1}"}}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 3}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut e = endpoint(server.uri(), ApiKind::Chat, false);
    e.response_format = scenario.api.response_format.clone();
    let exchange = Client::new(e).unwrap().send("hello world", 3).await;
    assert!(matches!(exchange, Exchange::Ok(_)), "{exchange:?}");
}
