//! `infergate profile`: seed 003's five `genai-perf profile` lines, pasted with `infergate` in place
//! of `genai-perf` and the simulator's address (127.0.0.1) in place of the cluster's, run by the
//! binary and leave genai-perf's files with the right structure and counts; the tokenizer's hub id
//! is downloaded from a hub on 127.0.0.1 (`HF_ENDPOINT`). Thresholds and baselines gate it as they
//! gate `infergate run`, AIPerf's list of concurrencies runs each level, and a flag it does not take
//! is named with those it does.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use infergate::plan::tokens::BUILTIN_WORDS;
use infergate::sim::{FixedTiming, SimConfig, SimHandle};

/// Seed 003's five command lines, as the document gives them.
const SEED_003: &str = r"
genai-perf profile -m openai/gpt-oss-20b \
  --url http://llm-gpu.llm.svc.cluster.local:8000 \
  --service-kind openai \
  --endpoint-type completions \
  --num-prompts 100 \
  --synthetic-input-tokens-mean 200 \
  --synthetic-input-tokens-stddev 20 \
  --output-tokens-mean 100 \
  --output-tokens-stddev 10 \
  --concurrency 20 \
  --tokenizer hf-internal-testing/llama-tokenizer \
  --generate-plots
genai-perf profile -m openai/gpt-oss-20b \
  --url http://llm-gpu.llm.svc.cluster.local:8000 \
  --service-kind openai \
  --endpoint-type completions \
  --num-prompts 200 \
  --synthetic-input-tokens-mean 200 \
  --synthetic-input-tokens-stddev 20 \
  --output-tokens-mean 100 \
  --output-tokens-stddev 10 \
  --concurrency 40 \
  --tokenizer hf-internal-testing/llama-tokenizer \
  --generate-plots
genai-perf profile -m openai/gpt-oss-20b \
  --url http://llm-gpu.llm.svc.cluster.local:8000 \
  --service-kind openai \
  --endpoint-type completions \
  --num-prompts 400 \
  --synthetic-input-tokens-mean 200 \
  --synthetic-input-tokens-stddev 20 \
  --output-tokens-mean 100 \
  --output-tokens-stddev 10 \
  --concurrency 80 \
  --tokenizer hf-internal-testing/llama-tokenizer \
  --generate-plots
genai-perf profile -m openai/gpt-oss-20b \
  --url http://llm-gpu.llm.svc.cluster.local:8000 \
  --service-kind openai \
  --endpoint-type completions \
  --num-prompts 600 \
  --synthetic-input-tokens-mean 200 \
  --synthetic-input-tokens-stddev 20 \
  --output-tokens-mean 100 \
  --output-tokens-stddev 10 \
  --concurrency 120 \
  --tokenizer hf-internal-testing/llama-tokenizer \
  --generate-plots
genai-perf profile -m openai/gpt-oss-20b \
  --url http://llm-gpu.llm.svc.cluster.local:8000 \
  --service-kind openai \
  --endpoint-type completions \
  --num-prompts 1000 \
  --synthetic-input-tokens-mean 200 \
  --synthetic-input-tokens-stddev 20 \
  --output-tokens-mean 100 \
  --output-tokens-stddev 10 \
  --concurrency 200 \
  --tokenizer hf-internal-testing/llama-tokenizer \
  --generate-plots
";

/// A word-level tokenizer.json (the built-in tokenizer's words), as a hub would serve one.
fn tokenizer_json() -> String {
    let vocab: serde_json::Map<String, Value> = std::iter::once(("[UNK]".to_string(), 0.into()))
        .chain(
            BUILTIN_WORDS
                .iter()
                .enumerate()
                .map(|(i, w)| (w.to_string(), (i + 1).into())),
        )
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    })
    .to_string()
}

/// A simulator on 127.0.0.1 serving `model` with known timing (no batching, no queue).
fn simulator(model: &str, ttft_ms: u64) -> SimHandle {
    let config = SimConfig {
        model: model.to_string(),
        fixed: Some(FixedTiming {
            ttft: std::time::Duration::from_millis(ttft_ms),
            itl: std::time::Duration::from_millis(1),
        }),
        ..SimConfig::default()
    };
    SimHandle::start(config, ([127, 0, 0, 1], 0).into()).unwrap()
}

fn infergate(args: &[String], dir: &Path, hub: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(args)
        .current_dir(dir)
        .env("HF_ENDPOINT", hub)
        .env("INFERGATE_CACHE", dir.join("cache"))
        .env_remove("INFERGATE_TARGET")
        .env_remove("INFERGATE_TOKENIZER")
        .env_remove("INFERGATE_MODEL")
        .env_remove("INFERGATE_BASELINE")
        .output()
        .unwrap()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every request metric has genai-perf's statistics, in its units.
fn assert_stats(metric: &Value, unit: &str, name: &str) {
    assert_eq!(metric["unit"], unit, "{name}");
    for key in [
        "avg", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "min", "max", "std",
    ] {
        assert!(
            metric[key].is_f64() || metric[key].is_u64(),
            "{name}.{key}: {metric}"
        );
    }
    let (min, p50, max) = (
        metric["min"].as_f64().unwrap(),
        metric["p50"].as_f64().unwrap(),
        metric["max"].as_f64().unwrap(),
    );
    assert!(min <= p50 && p50 <= max, "{name}: {metric}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003s_five_genai_perf_lines_run_as_infergate_profile() {
    let _turn = crate::support::turn().await;
    let hub = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/hf-internal-testing/llama-tokenizer/resolve/main/tokenizer.json",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(tokenizer_json()))
        .expect(1) // downloaded once, then read from the cache
        .mount(&hub)
        .await;
    let sim = simulator("openai/gpt-oss-20b", 5);
    let dir = tempfile::tempdir().unwrap();
    let lines = SEED_003.trim().replace("\\\n", " ");
    for line in lines.lines() {
        let line = line
            .replace("genai-perf profile", "profile")
            .replace("http://llm-gpu.llm.svc.cluster.local:8000", &sim.base_url());
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let (d, hub_uri) = (dir.path().to_path_buf(), hub.uri());
        let out = tokio::task::spawn_blocking(move || infergate(&args, &d, &hub_uri))
            .await
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        // 3: the runner fell behind on a busy machine; the files are written all the same.
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{line}\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("NVIDIA GenAI-Perf | LLM Metrics"),
            "{stdout}"
        );
        let concurrency: u64 = line
            .split("--concurrency ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let run = dir.path().join(format!(
            "artifacts/openai_gpt-oss-20b-openai-completions-concurrency{concurrency}"
        ));
        let export = read_json(&run.join("profile_export_genai_perf.json"));
        // genai-perf's default request count: max(10, 2 x concurrency), every one answered.
        let count = 2 * concurrency;
        assert_eq!(
            export["request_count"],
            serde_json::json!({"unit": "count", "avg": count as f64})
        );
        for (name, unit) in [
            ("request_latency", "ms"),
            ("time_to_first_token", "ms"),
            ("output_sequence_length", "tokens"),
            ("input_sequence_length", "tokens"),
        ] {
            assert_stats(&export[name], unit, name);
        }
        assert!(
            export.get("inter_token_latency").is_none(),
            "not streamed: no inter-token latency"
        );
        assert_eq!(export["request_throughput"]["unit"], "requests/sec");
        assert_eq!(export["output_token_throughput"]["unit"], "tokens/sec");
        let isl = export["input_sequence_length"]["avg"].as_f64().unwrap();
        let osl = export["output_sequence_length"]["avg"].as_f64().unwrap();
        assert!(
            (180.0..220.0).contains(&isl) && (92.0..108.0).contains(&osl),
            "{isl} {osl}"
        );
        let throughput = export["output_token_throughput"]["avg"].as_f64().unwrap();
        let requests = export["request_throughput"]["avg"].as_f64().unwrap();
        assert!(
            (throughput / requests - osl).abs() < 1e-6 * osl,
            "tokens/s = requests/s x tokens"
        );
        assert_eq!(
            export["input_config"]["perf_analyzer"]["stimulus"]["concurrency"],
            concurrency
        );
        // The same requests as infergate's own reports.
        let summary = read_json(&run.join("summary_lifecycle_metrics.json"));
        assert_eq!(summary["successes"]["count"], count);
        let csv = std::fs::read_to_string(run.join("profile_export_genai_perf.csv")).unwrap();
        let rows: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            rows[0],
            "Metric,avg,min,max,p99,p95,p90,p75,p50,p25,p10,p5,p1"
        );
        assert!(rows[1].starts_with("Request Latency (ms),"), "{csv}");
        assert_eq!(rows[4], "", "a blank line between the tables: {csv}");
        assert_eq!(rows[5], "Metric,Value");
        assert!(
            rows.contains(&format!("Request Count (count),{count}.00").as_str()),
            "{csv}"
        );
        for plot in [
            "time_to_first_token",
            "request_latency",
            "time_to_first_token_vs_input_sequence_lengths",
        ] {
            assert!(run.join(format!("plots/{plot}.png")).exists(), "{plot}");
        }
        let scenario = run.join("infergate_scenario.yaml");
        infergate::scenario::Scenario::load(&scenario).unwrap();
    }
    hub.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_gates_like_run_and_runs_each_level_of_a_list() {
    let _turn = crate::support::turn().await;
    let sim = simulator("m", 20);
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = dir.path().join("tokenizer.json");
    std::fs::write(&tokenizer, tokenizer_json()).unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "profile",
            "-m",
            "m",
            "--url",
            &sim.addr().to_string(),
            "--endpoint-type",
            "chat",
            "--streaming",
            "--isl",
            "32",
            "--osl",
            "8",
            "--request-count",
            "8",
            "--tokenizer",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(tokenizer.display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        let d = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || infergate(&args, &d, "http://127.0.0.1:9"))
    };
    // A threshold the 20 ms first token misses fails the run (exit 1) at each level.
    let out = run(&[
        "--concurrency",
        "2,4",
        "--threshold",
        "ttft: p(99) < 1ms",
        "--goodput",
        "time_to_first_token:1000",
    ])
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for c in [2, 4] {
        let level = dir
            .path()
            .join(format!("artifacts/m-openai-chat-concurrency{c}"));
        let export = read_json(&level.join("profile_export_genai_perf.json"));
        assert_eq!(export["request_count"]["avg"], 8.0);
        assert_stats(&export["inter_token_latency"], "ms", "inter_token_latency");
        assert_stats(
            &export["time_to_second_token"],
            "ms",
            "time_to_second_token",
        );
        let ttft = export["time_to_first_token"]["min"].as_f64().unwrap();
        assert!(ttft >= 20.0, "the simulator's 20 ms first token: {ttft}");
        assert_eq!(export["request_goodput"]["unit"], "requests/sec");
        assert_eq!(read_json(&level.join("verdicts.json"))["status"], "failed");
    }
    let junit = std::fs::read_to_string(dir.path().join("artifacts/junit.xml")).unwrap();
    assert_eq!(
        junit.matches("<testsuite ").count(),
        2,
        "one suite per level: {junit}"
    );

    // Saved as a baseline, then compared with it (exit 0: no regression beyond the noise).
    let base = dir.path().join("baselines").display().to_string();
    let out = run(&["--save-baseline", &base]).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["--baseline", &base]).await.unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts = read_json(
        &dir.path()
            .join("artifacts/m-openai-chat-concurrency1/verdicts.json"),
    );
    assert_eq!(
        verdicts["baseline"]["location"]
            .as_str()
            .map(|l| l.starts_with(&base)),
        Some(true),
        "{verdicts}"
    );
    assert!(verdicts["baseline"]["problem"].is_null(), "{verdicts}");
}

#[test]
fn a_flag_profile_does_not_take_is_named_with_those_it_does() {
    let _turn = crate::support::turn_blocking(); // three processes, beside no measured run
    let dir = tempfile::tempdir().unwrap();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let out = infergate(
        &args(&["profile", "-m", "x", "--max-threads", "4"]),
        dir.path(),
        "http://127.0.0.1:9",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("does not take `--max-threads`"), "{stderr}");
    assert!(
        stderr.contains("--concurrency")
            && stderr.contains("--isl")
            && stderr.contains("--threshold"),
        "{stderr}"
    );
    let out = infergate(
        &args(&["profile", "-m", "x", "--service-kind", "triton"]),
        dir.path(),
        "http://127.0.0.1:9",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("triton") && stderr.contains("openai"),
        "{stderr}"
    );
    let out = infergate(
        &args(&["profile", "-m", "x", "--goodput", "ttft:10"]),
        dir.path(),
        "http://127.0.0.1:9",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("time_to_first_token, inter_token_latency"),
        "{stderr}"
    );
}
