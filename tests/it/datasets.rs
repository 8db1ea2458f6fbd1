//! ShareGPT without `data.path`: downloaded once from the hub (a real HTTP server here) into the
//! cache, read from the cache afterwards, a clear error offline, and nothing downloaded for a
//! simulator run.

use std::path::Path;
use std::sync::Arc;

use infergate::plan::datagen::Generator;
use infergate::plan::datasets::{SHAREGPT_FILE, SHAREGPT_REPO, cached_copy, resolve_from};
use infergate::plan::tokens::TokenCounter;
use infergate::scenario::{DataSource, Scenario};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONVERSATIONS: &str = r#"[{"id":"a","conversations":[{"from":"human","value":"tell me about the river and the stone"},{"from":"gpt","value":"the river runs past the old stone house"}]},
{"id":"b","conversations":[{"from":"human","value":"and what of the hills beyond it"},{"from":"gpt","value":"the hills are green in the spring rain"}]}]"#;

fn share_gpt_without_path() -> Scenario {
    Scenario::from_source(
        Path::new("sg.yaml"),
        "data: {type: shareGPT}\nload:\n  stages: [{rate: 1, duration: 1}]\n",
    )
    .unwrap()
}

fn cache_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("infergate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "current_thread")]
async fn the_dataset_is_downloaded_once_into_the_cache_and_read_from_there() {
    let hub = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/datasets/{SHAREGPT_REPO}/resolve/main/{SHAREGPT_FILE}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_string(CONVERSATIONS))
        .expect(1)
        .mount(&hub)
        .await;
    let cache = cache_dir("sharegpt-hub");
    let s = share_gpt_without_path();
    assert_eq!(s.data.source, DataSource::ShareGpt { path: None });
    let mut warnings = Vec::new();
    let data = resolve_from(&s.data, false, &hub.uri(), &cache, &mut warnings)
        .await
        .unwrap();
    assert_eq!(
        data.source,
        DataSource::ShareGpt {
            path: Some(cached_copy(&cache))
        }
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let generator = Generator::new(&data, Arc::new(TokenCounter::builtin()), 1).unwrap();
    let prompts: std::collections::BTreeSet<String> =
        (0..20).map(|i| generator.request(1, i).prompt).collect();
    assert_eq!(
        prompts.len(),
        2,
        "both conversations' first turns: {prompts:?}"
    );
    // Again, with the hub gone: the cached copy, no download (the mock expects one request).
    let again = resolve_from(&s.data, false, "http://127.0.0.1:9", &cache, &mut warnings)
        .await
        .unwrap();
    assert_eq!(again.source, data.source);
    hub.verify().await;
    let _ = std::fs::remove_dir_all(&cache);
}

#[tokio::test(flavor = "current_thread")]
async fn offline_the_run_stops_before_any_load_and_says_how_to_pass_data_path() {
    let cache = cache_dir("sharegpt-offline");
    let s = share_gpt_without_path();
    let err = resolve_from(
        &s.data,
        false,
        "http://127.0.0.1:9",
        &cache,
        &mut Vec::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("set data.path"), "{err}");
    assert!(err.contains(SHAREGPT_FILE), "{err}");
    assert!(
        !cached_copy(&cache).exists(),
        "no partial file is taken for a copy"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn against_the_simulator_nothing_is_downloaded_and_a_warning_says_what_stands_in() {
    let hub = MockServer::start().await;
    let cache = cache_dir("sharegpt-sim");
    let s = share_gpt_without_path();
    let mut warnings = Vec::new();
    let data = resolve_from(&s.data, true, &hub.uri(), &cache, &mut warnings)
        .await
        .unwrap();
    assert_eq!(data.source, DataSource::Generated);
    assert!(
        warnings[0].contains("not downloaded for a run against the simulator"),
        "{warnings:?}"
    );
    assert!(hub.received_requests().await.unwrap().is_empty());
}
