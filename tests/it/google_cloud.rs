//! inference-perf's Google Cloud options, against real HTTP servers on 127.0.0.1 standing in for
//! Google's: a metadata server (wiremock, checking `Metadata-Flavor: Google`), Managed Service for
//! Prometheus' query API (checking the bearer token and the project's path) and Cloud Storage's JSON
//! upload API (an existing object is kept, as in inference-perf). The GCP demo file validates.

use std::path::Path;
use std::time::{Duration, SystemTime};

use infergate::client::Http;
use infergate::client::gcp;
use infergate::measure::server::promql::{PromServer, Window};
use infergate::scenario::Scenario;
use infergate::scenario::scrape::Scrape;
use infergate::store::gcs;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn metadata_server(token: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/computeMetadata/v1/instance/service-accounts/default/token",
        ))
        .and(header("Metadata-Flavor", "Google"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": token, "expires_in": 3599, "token_type": "Bearer"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/computeMetadata/v1/project/project-id"))
        .and(header("Metadata-Flavor", "Google"))
        .respond_with(ResponseTemplate::new(200).set_body_string("perf-project"))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "current_thread")]
async fn managed_prometheus_is_queried_in_the_project_with_the_metadata_servers_token() {
    let metadata = metadata_server("tok-123").await;
    let gmp = MockServer::start().await;
    let root = "/v1/projects/perf-project/location/global/prometheus/api/v1";
    Mock::given(method("GET"))
        .and(path(format!("{root}/label/__name__/values")))
        .and(header("authorization", "Bearer tok-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success", "data": ["vllm:num_requests_running"]
        })))
        .expect(1)
        .mount(&gmp)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{root}/query")))
        .and(header("authorization", "Bearer tok-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success", "data": {"resultType": "matrix", "result": []}
        })))
        .mount(&gmp)
        .await;
    let server = PromServer::google_at(
        &format!("{}/computeMetadata/v1", metadata.uri()),
        &gmp.uri(),
        &[],
        Duration::from_millis(10),
    )
    .await
    .unwrap();
    assert_eq!(
        server.url,
        format!(
            "{}/v1/projects/perf-project/location/global/prometheus",
            gmp.uri()
        )
    );
    let now = SystemTime::now() - Duration::from_secs(5);
    let window = Window {
        start: now - Duration::from_secs(1),
        end: now,
    };
    let stages = server.collect(&[window], false).await;
    assert_eq!(stages.len(), 1);
    assert_eq!(stages[0].last_error, None, "{:?}", stages[0]);
    let queries = gmp.received_requests().await.unwrap();
    assert!(
        queries
            .iter()
            .any(|r| r.url.path().ends_with("/api/v1/query")),
        "the gauge was asked for"
    );
    assert!(
        !format!("{server:?}").contains("tok-123"),
        "the token never shows in debug output"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn without_a_metadata_server_the_error_says_how_to_give_credentials() {
    let err = gcp::access("http://127.0.0.1:9/computeMetadata/v1")
        .await
        .unwrap_err();
    assert!(
        err.contains("GOOGLE_OAUTH_ACCESS_TOKEN") && err.contains("Workload Identity"),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn reports_go_to_cloud_storage_and_an_existing_object_is_kept() {
    let storage = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/upload/storage/v1/b/perf-bucket/o"))
        .and(query_param("uploadType", "media"))
        .and(query_param("ifGenerationMatch", "0"))
        .and(query_param("name", "reports-1/suite/pre-b.json"))
        .respond_with(ResponseTemplate::new(412))
        .mount(&storage)
        .await;
    Mock::given(method("POST"))
        .and(path("/upload/storage/v1/b/perf-bucket/o"))
        .and(header("authorization", "Bearer tok-9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"name": "x"})))
        .mount(&storage)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), "{\"a\":1}").unwrap();
    std::fs::write(dir.path().join("b.json"), "{}").unwrap();
    let access = Http::to_hub(Some(&infergate::scenario::Secret::new("tok-9".into())));
    let (uploaded, kept) = gcs::upload_dir(
        &storage.uri(),
        &access,
        "perf-bucket",
        "/reports-1/suite/",
        dir.path(),
        "pre-",
    )
    .await
    .unwrap();
    assert_eq!((uploaded, kept), (1, 1));
    let sent = storage.received_requests().await.unwrap();
    let a = sent
        .iter()
        .find(|r| r.url.query().unwrap_or("").contains("pre-a.json"))
        .unwrap();
    assert_eq!(a.body, b"{\"a\":1}");
    assert_eq!(a.headers["content-type"], "application/json");
}

#[test]
fn the_gcp_demo_validates_and_bad_blocks_are_refused() {
    let demo = "
api: {type: completion, streaming: true}
data: {type: shared_prefix, shared_prefix: {num_unique_system_prompts: 2, num_users_per_system_prompt: 2}}
load: {type: constant, stages: [{rate: 1, duration: 1}]}
metrics:
  type: prometheus
  prometheus: {filters: ['namespace=\"test-ns\"'], google_managed: true, scrape_interval: 15}
storage:
  google_cloud_storage: {bucket_name: <your-gcs-bucket>}
";
    let s = Scenario::from_source(Path::new("gcp.yaml"), demo).unwrap();
    assert!(
        matches!(&s.scrape, Scrape::Google { interval, filters } if interval.as_secs() == 15 && filters.len() == 1)
    );
    let gcs = s.storage.gcs.as_ref().unwrap();
    assert_eq!(
        (gcs.bucket_name.as_str(), gcs.path.as_str()),
        ("<your-gcs-bucket>", "reports-{timestamp}")
    );
    let both = demo.replace(
        "google_managed: true",
        "google_managed: true, url: 'http://p:9090'",
    );
    let err = Scenario::from_source(Path::new("gcp.yaml"), &both)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("metrics.prometheus.google_managed") && err.contains("not both"),
        "{err}"
    );
    let empty = demo.replace("<your-gcs-bucket>", "' '");
    let err = Scenario::from_source(Path::new("gcp.yaml"), &empty)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("storage.google_cloud_storage.bucket_name"),
        "{err}"
    );
}
