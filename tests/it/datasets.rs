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

const ARENA: &str = "lmarena-ai/VisionArena-Chat";
const ARENA_FILE: &str = "data/train-00000-of-00001.parquet";

fn visionarena(max_images: u32) -> Scenario {
    let yaml = format!(
        "api: {{type: chat}}\ndata:\n  type: visionarena\n  visionarena: {{num_rows: 10, max_images_per_request: {max_images}}}\n  output_distribution: {{type: fixed, mean: 7}}\nload:\n  stages: [{{rate: 1, duration: 1}}]\n"
    );
    Scenario::from_source(Path::new("va.yaml"), &yaml).unwrap()
}

async fn arena_hub() -> MockServer {
    let hub = MockServer::start().await;
    let listing = serde_json::json!({"id": ARENA, "siblings": [
        {"rfilename": "README.md"}, {"rfilename": ARENA_FILE}, {"rfilename": "data/test-00000-of-00001.parquet"}
    ]});
    Mock::given(method("GET"))
        .and(path(format!("/api/datasets/{ARENA}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(listing))
        .expect(1)
        .mount(&hub)
        .await;
    let file = std::fs::read("tests/fixtures/visionarena-train.parquet").unwrap();
    Mock::given(method("GET"))
        .and(path(format!("/datasets/{ARENA}/resolve/main/{ARENA_FILE}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(file))
        .expect(1)
        .mount(&hub)
        .await;
    hub
}

#[tokio::test(flavor = "current_thread")]
async fn visionarena_rows_are_downloaded_once_and_sent_with_their_own_images() {
    let hub = arena_hub().await;
    let cache = cache_dir("visionarena-hub");
    let s = visionarena(2);
    let mut warnings = Vec::new();
    let data = resolve_from(&s.data, false, &hub.uri(), &cache, &mut warnings)
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let DataSource::VisionArena(v) = &data.source else {
        panic!("{:?}", data.source)
    };
    assert_eq!(v.files.len(), 1, "the train split's one file");
    let generator = Generator::new(&data, Arc::new(TokenCounter::builtin()), 1).unwrap();
    // Rows 0 and 4 are usable (1 has no user turn, 2 only a GIF, 3 no image); requests cycle.
    let prompts: Vec<String> = (0..4).map(|i| generator.request(1, i).prompt).collect();
    assert_eq!(
        prompts,
        [
            "What is in this picture?",
            "Count the colours.",
            "What is in this picture?",
            "Count the colours."
        ]
    );
    let first = generator.request(1, 0);
    let media = first.media.unwrap();
    assert_eq!(
        (media.sent.images, media.parts.len()),
        (2, 2),
        "both of row 0's images"
    );
    assert!(
        media.parts.iter().all(|(at, _)| *at == 0),
        "insertion_point 0.0: before the text"
    );
    let json = media.parts[0].1.json();
    assert!(
        json.starts_with(
            r#"{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo"#
        ),
        "{}",
        &json[..80]
    );
    assert_eq!(
        first.max_tokens, 7,
        "max_tokens from data.output_distribution"
    );
    // A second resolve reads the cache: the hub's mocks expect one call each.
    let again = resolve_from(&s.data, false, &hub.uri(), &cache, &mut warnings)
        .await
        .unwrap();
    assert_eq!(again.source, data.source);
    // max_images_per_request 1 cuts row 0 to its first image.
    let one = Generator::new(&data_with(&data, 1), Arc::new(TokenCounter::builtin()), 1).unwrap();
    assert_eq!(one.request(1, 0).media.unwrap().parts.len(), 1);
}

fn data_with(data: &infergate::scenario::Data, max_images: u32) -> infergate::scenario::Data {
    let mut data = data.clone();
    if let DataSource::VisionArena(v) = &mut data.source {
        v.max_images = max_images;
    }
    data
}

#[tokio::test(flavor = "current_thread")]
async fn visionarena_offline_is_a_clear_error_and_the_simulator_gets_a_stand_in() {
    let cache = cache_dir("visionarena-offline");
    let s = visionarena(1);
    let mut warnings = Vec::new();
    let err = resolve_from(&s.data, false, "http://127.0.0.1:9", &cache, &mut warnings)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("visionarena: cannot read lmarena-ai/VisionArena-Chat"),
        "{err}"
    );
    let data = resolve_from(&s.data, true, "http://127.0.0.1:9", &cache, &mut warnings)
        .await
        .unwrap();
    assert_eq!(data.source, DataSource::Generated);
    let images = data.media.as_ref().and_then(|m| m.images.as_ref()).unwrap();
    assert_eq!(images.sizes[0].value.width, 512);
    assert!(
        warnings.iter().any(|w| w.contains("stand in")),
        "{warnings:?}"
    );
}
