//! A wiremock target shaped like an OpenAI-compatible server: `/v1/models` lists the given ids, and
//! `/v1/completions` answers as a test says (often a streamed body of given events).

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A server whose `/v1/models` lists `models`; completions are mounted by `completions`.
pub async fn serving(models: &[&str]) -> MockServer {
    let server = MockServer::start().await;
    let data: Vec<_> = models.iter().map(|m| json!({ "id": m })).collect();
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": data })))
        .mount(&server)
        .await;
    server
}

/// Answers every `POST /v1/completions` with `response`.
pub async fn completions(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A 200 event stream of `events`, each sent as `data: <event>`.
pub fn sse(events: &[&str]) -> ResponseTemplate {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_string(body)
}
