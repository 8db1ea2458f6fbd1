//! Synthetic multimodal prompts (`data.multimodal`, `shared_prefix.multimodal`): images, audio and
//! video reach a real HTTP server (wiremock) as chat content parts that decode to what the file asked
//! for; a shared prefix's media are its group's own; the simulator counts them as prompt tokens; the
//! reports count what was sent; bad blocks are refused by key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use infergate::report::json::lifecycle;
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use infergate::sim::{AUDIO_TOKENS, IMAGE_TOKENS};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::support::openai_mock::{serving, sse};

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_source(Path::new("multimodal.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"))
}

async fn chat_server() -> MockServer {
    let server = serving(&["vlm"]).await;
    let body = sse(&[
        r#"{"choices":[{"index":0,"delta":{"content":" ok"}}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1}}"#,
        "[DONE]",
    ]);
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(body)
        .mount(&server)
        .await;
    server
}

/// Every chat request's `content` list.
async fn contents(server: &MockServer) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap() {
        if r.url.path() == "/v1/chat/completions" {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            out.push(body["messages"][0]["content"].as_array().unwrap().clone());
        }
    }
    out
}

/// The `type` of each content part, in order.
fn kinds(content: &[Value]) -> Vec<&str> {
    content
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect()
}

fn decode(b64: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn data_url(part: &Value, key: &str, mime: &str) -> Vec<u8> {
    let url = part[key]["url"].as_str().unwrap();
    let prefix = format!("data:{mime};base64,");
    assert!(url.starts_with(&prefix), "{}", &url[..40.min(url.len())]);
    decode(&url[prefix.len()..])
}

const MIXED: &str = "
api: {type: chat, streaming: true}
server: {model_name: vlm}
data:
  type: synthetic
  input_distribution: {type: fixed, mean: 40}
  output_distribution: {type: fixed, mean: 4}
  multimodal:
    image:
      count: {type: fixed, mean: 2}
      insertion_point: 0.0
      resolutions: [{resolution: {width: 64, height: 48}, weight: 1}]
    audio:
      count: {type: fixed, mean: 1}
      insertion_point: 0.5
      durations: 0.5
    video:
      count: {type: fixed, mean: 1}
      insertion_point: 1.0
      representation: mp4
      profiles: {resolution: {width: 34, height: 33}, frames: 4}
load:
  type: concurrent
  stages: [{num_requests: 20, concurrency_level: 2}]
";

#[tokio::test(flavor = "current_thread")]
async fn images_audio_and_video_arrive_as_content_parts_that_decode_to_what_was_asked() {
    let _turn = crate::support::turn().await;
    let server = chat_server().await;
    let s = scenario(MIXED);
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    assert_eq!(run.total.ok, 20);
    let bodies = contents(&server).await;
    assert_eq!(bodies.len(), 20);
    let mut bytes = 0u64;
    let mut images = BTreeSet::new();
    for content in &bodies {
        assert_eq!(
            kinds(content),
            [
                "image_url",
                "image_url",
                "text",
                "input_audio",
                "text",
                "video_url"
            ],
            "images before the text, audio in the middle, the video after it"
        );
        let text: String = content.iter().filter_map(|p| p["text"].as_str()).collect();
        assert_eq!(text.split_whitespace().count(), 40, "the text is whole");
        for part in &content[..2] {
            let png = data_url(part, "image_url", "image/png");
            let reader = png::Decoder::new(std::io::Cursor::new(&png))
                .read_info()
                .unwrap();
            assert_eq!((reader.info().width, reader.info().height), (64, 48));
            bytes += png.len() as u64;
            images.insert(png);
        }
        let audio = &content[3]["input_audio"];
        assert_eq!(audio["format"], "wav");
        let wav = decode(audio["data"].as_str().unwrap());
        let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).unwrap();
        assert_eq!(reader.duration(), 8_000, "0.5 s at 16 kHz");
        bytes += wav.len() as u64;
        let mp4 = data_url(&content[5], "video_url", "video/mp4");
        assert_eq!(&mp4[4..8], b"ftyp");
        assert_eq!(
            mp4.windows(4)
                .filter(|w| w[..3] == *b"\xFF\xD8\xFF")
                .count(),
            4,
            "four JPEG frames"
        );
        bytes += mp4.len() as u64;
    }
    assert!(
        (2..=infergate::plan::media::VARIANTS).contains(&images.len()),
        "requests draw from the pooled variants: {}",
        images.len()
    );
    let m = run.total.media;
    assert_eq!(
        (m.requests, m.images, m.audio, m.videos, m.video_frames),
        (20, 40, 20, 20, 80)
    );
    assert_eq!(m.bytes, bytes, "bytes counted are the files sent");
    assert_eq!(m.audio_seconds, 10.0);
    // Seeded: a second run sends the same bodies.
    server.reset().await;
    let server2 = chat_server().await;
    let options = RunOptions {
        target: Target::Url(server2.uri()),
        ..RunOptions::default()
    };
    run_scenario(&s, &options).await.unwrap();
    let mut a = bodies.clone();
    let mut b = contents(&server2).await;
    a.sort_by_key(|c| c.iter().map(|p| p.to_string()).collect::<String>());
    b.sort_by_key(|c| c.iter().map(|p| p.to_string()).collect::<String>());
    assert_eq!(a, b);
}

#[tokio::test(flavor = "current_thread")]
async fn a_groups_prefix_media_are_its_own_and_each_request_gets_fresh_ones() {
    let _turn = crate::support::turn().await;
    let server = chat_server().await;
    let s = scenario(
        "
api: {type: chat, streaming: true}
server: {model_name: vlm}
data:
  type: shared_prefix
  multimodal:
    image: {count: {type: fixed, mean: 1}, insertion_point: 1.0, resolutions: {width: 32, height: 32}, representation: jpeg}
  shared_prefix:
    num_groups: 3
    num_prompts_per_group: 4
    system_prompt_len: 30
    question_len: 8
    output_len: 4
    multimodal:
      image: {count: {type: fixed, mean: 1}, insertion_point: 0.0, resolutions: {width: 48, height: 48}}
      video: {count: {type: fixed, mean: 1}, insertion_point: 0.5, representation: png_frames, profiles: {resolution: {width: 16, height: 16}, frames: 3}}
load:
  type: concurrent
  stages: [{num_requests: 60, concurrency_level: 2}]
",
    );
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    assert_eq!(run.total.ok, 60);
    // By the group's system prompt (the text before the video's frames): its prefix media.
    let mut groups: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut payloads = BTreeSet::new();
    for content in contents(&server).await {
        assert_eq!(
            kinds(&content),
            [
                "image_url",
                "text",
                "image_url",
                "image_url",
                "image_url",
                "text",
                "image_url"
            ],
            "prefix image, half the system prompt, three frames, the rest and the question, the request's own image"
        );
        let system = content[1]["text"].as_str().unwrap().to_string();
        let prefix: Vec<String> = [0, 2, 3, 4]
            .iter()
            .map(|&i| content[i].to_string())
            .collect();
        assert!(content[2] != content[3], "frames differ");
        groups.entry(system).or_default().insert(prefix);
        payloads.insert(data_url(&content[6], "image_url", "image/jpeg"));
    }
    assert_eq!(groups.len(), 3, "three groups");
    for (system, prefixes) in &groups {
        assert_eq!(
            prefixes.len(),
            1,
            "one group sends identical prefix media: {system}"
        );
    }
    let all: BTreeSet<&Vec<String>> = groups.values().flatten().collect();
    assert_eq!(all.len(), 3, "groups never share prefix media");
    assert!(payloads.len() > 1, "each request draws its own image");
    assert_eq!(
        run.total.media.images,
        60 * 2,
        "frames count as frames, not images"
    );
    assert_eq!(
        (run.total.media.videos, run.total.media.video_frames),
        (60, 180)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_simulator_counts_media_as_prompt_tokens_and_the_report_counts_them() {
    let _turn = crate::support::turn().await;
    let s = scenario(
        "
api: {type: chat, streaming: true}
data:
  type: synthetic
  input_distribution: {type: fixed, mean: 32}
  output_distribution: {type: fixed, mean: 4}
  multimodal:
    image: {count: {type: fixed, mean: 2}, insertion_point: 0.0, resolutions: 360p}
    audio: {count: {type: fixed, mean: 1}, insertion_point: 1.0, durations: [{duration: 1.0, weight: 1}, {duration: 2.0, weight: 1}]}
load:
  type: concurrent
  stages: [{num_requests: 30, concurrency_level: 3}]
",
    );
    let run = run_scenario(&s, &RunOptions::default()).await.unwrap();
    assert_eq!(run.total.ok, 30);
    // 32 text tokens, two images and one clip, as the simulator counts them.
    let per_request = 32 + 2 * IMAGE_TOKENS + AUDIO_TOKENS;
    assert_eq!(run.total.input_tokens_total, 30 * u64::from(per_request));
    let m = run.total.media;
    assert!(
        (30.0..=60.0).contains(&m.audio_seconds),
        "{}",
        m.audio_seconds
    );
    assert!(
        m.audio_seconds > 30.0 && m.audio_seconds < 60.0,
        "both durations drawn"
    );
    let report = lifecycle(&run.total, None, None, &[]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["media"]["images"], 60);
    assert_eq!(json["media"]["requests"], 30);
    assert_eq!(json["media"]["bytes"], m.bytes);
}

#[test]
fn bad_media_blocks_are_refused_by_key() {
    let base = "api: {type: chat}\nload: {stages: [{rate: 1, duration: 1}]}\ndata:\n  type: synthetic\n  multimodal:\n";
    let cases = [
        (
            "    image: {count: {type: fixed, mean: 1}, resolutions: 1080}\n",
            "data.multimodal.image.resolutions",
            "a preset (`4k`, `1080p`, `720p`, `360p`) or {width, height}",
        ),
        (
            "    image: {count: {type: fixed, mean: 1}, resolutions: \"1080i\"}\n",
            "data.multimodal.image.resolutions",
            "unknown resolution `1080i`",
        ),
        (
            "    image: {count: {type: fixed, mean: 1}, insertion_point: 1.5}\n",
            "data.multimodal.image.insertion_point",
            "0.0 (start) to 1.0 (end)",
        ),
        (
            "    image: {count: {type: fixed, mean: 1}, resolutions: [{resolution: 720p, wieght: 2}]}\n",
            "data.multimodal.image.resolutions[0].wieght",
            "allowed: resolution, weight",
        ),
        (
            "    image: {count: {type: fixed, mean: 1}, resolutions: [{resolution: 720p, weight: 0}]}\n",
            "data.multimodal.image.resolutions",
            "every weight is 0",
        ),
        (
            "    image: {count: {type: fixed, mean: 1}, representation: gif}\n",
            "data.multimodal.image.representation",
            "png",
        ),
        (
            "    video: {count: {type: fixed, mean: 1}, profiles: {resolution: 720p, frames: 0}}\n",
            "data.multimodal.video.profiles.frames",
            "from 1 to 1024",
        ),
        (
            "    video: {count: {type: fixed, mean: 1}, profiles: {resolution: {width: 9000, height: 10}, frames: 2}}\n",
            "data.multimodal.video.profiles.resolution",
            "from 1 to 8192",
        ),
        (
            "    audio: {count: {type: fixed, mean: 1}, durations: -1}\n",
            "data.multimodal.audio.durations",
            "more than 0",
        ),
    ];
    for (block, key, message) in cases {
        let yaml = format!("{base}{block}");
        let err = Scenario::from_source(Path::new("bad.yaml"), &yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains(message), "{block}: {err}");
        assert!(err.contains("bad.yaml:"), "the file and line: {err}");
    }
    let completion = "api: {type: completion}\nload: {stages: [{rate: 1, duration: 1}]}\ndata:\n  type: synthetic\n  multimodal:\n    image: {count: {type: fixed, mean: 1}}\n";
    let err = Scenario::from_source(Path::new("bad.yaml"), completion)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data.multimodal") && err.contains("api.type: chat"),
        "{err}"
    );
    let multi_turn = "api: {type: chat}\nload: {stages: [{rate: 1, duration: 1}]}\ndata:\n  type: shared_prefix\n  shared_prefix:\n    enable_multi_turn_chat: true\n    multimodal:\n      image: {count: {type: fixed, mean: 1}}\n";
    let err = Scenario::from_source(Path::new("bad.yaml"), multi_turn)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be multi-turn"), "{err}");
    let replay = "api: {type: chat}\nload: {stages: [{rate: 1, duration: 1}]}\ndata:\n  type: conversation_replay\n  conversation_replay: {}\n  multimodal:\n    image: {count: {type: fixed, mean: 1}}\n";
    let err = Scenario::from_source(Path::new("bad.yaml"), replay)
        .unwrap_err()
        .to_string();
    assert!(err.contains("synthetic media go with"), "{err}");
    // No `count`: nothing of that kind is sent, as in inference-perf, and the file says so.
    let no_count = "api: {type: chat}\nload: {stages: [{rate: 1, duration: 1}]}\ndata:\n  type: synthetic\n  multimodal:\n    image: {resolutions: 720p}\n";
    let s = Scenario::from_source(Path::new("ok.yaml"), no_count).unwrap();
    assert!(s.data.media.is_none());
    assert!(
        s.warnings.iter().any(|w| w.contains("no `count`")),
        "{:?}",
        s.warnings
    );
}

#[tokio::test(flavor = "current_thread")]
async fn visionarena_validates_with_inference_perfs_defaults() {
    let s = scenario(
        "api: {type: chat}\nload: {stages: [{rate: 1, duration: 1}]}\ndata:\n  type: visionarena\n  visionarena: {num_rows: 5}\n",
    );
    let infergate::scenario::DataSource::VisionArena(v) = &s.data.source else {
        panic!("{:?}", s.data.source)
    };
    assert_eq!(
        (v.dataset.as_str(), v.split.as_str(), v.rows, v.max_images),
        ("lmarena-ai/VisionArena-Chat", "train", 5, 1)
    );
    let bad = "api: {type: chat}\nload: {stages: [{rate: 1, duration: 1}]}\ndata:\n  type: visionarena\n  visionarena: {num_rows: 0}\n";
    let err = Scenario::from_source(Path::new("bad.yaml"), bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("data.visionarena.num_rows"), "{err}");
}

#[test]
fn a_run_of_the_binary_reports_media_on_the_console_in_the_json_and_in_the_html() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("media.yaml"),
        "api: {type: chat, streaming: true}
data:
  type: synthetic
  input_distribution: {type: fixed, mean: 16}
  output_distribution: {type: fixed, mean: 4}
  multimodal:
    image: {count: {type: fixed, mean: 3}, resolutions: 360p, representation: jpeg}
load:
  type: concurrent
  stages: [{num_requests: 6, concurrency_level: 2}]
",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(["run", "media.yaml", "--out", "reports"])
        .current_dir(dir.path())
        .env_remove("INFERGATE_TARGET")
        .env_remove("INFERGATE_OUT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("media: 6 requests with media: 18 images;")),
        "{stdout}"
    );
    let run = dir.path().join("reports/media");
    for file in [
        "summary_lifecycle_metrics.json",
        "stage_0_lifecycle_metrics.json",
    ] {
        let json: Value = serde_json::from_slice(&std::fs::read(run.join(file)).unwrap()).unwrap();
        assert_eq!(
            (&json["media"]["requests"], &json["media"]["images"]),
            (&Value::from(6), &Value::from(18)),
            "{file}"
        );
        assert!(
            json["media"]["bytes"].as_u64().unwrap() > 18 * 100,
            "{file}"
        );
    }
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("<b>Media:</b> 6 requests with media: 18 images;"),
        "the HTML says it too"
    );
}
