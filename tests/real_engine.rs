//! Against a real engine: llama.cpp's `llama-server` with a tiny random-weight Llama 3 model, started by
//! `scripts/real-engine.sh`. Mini versions of the baseline, saturation and concurrency-sweep suites,
//! plus a chat run, with the same tokenizer as the server.
//!
//! ```sh
//! scripts/real-engine.sh all                     # build once (~7 min), make the model, start the server
//! export $(scripts/real-engine.sh env)           # INFERGATE_ENGINE_URL, INFERGATE_ENGINE_TOKENIZER
//! cargo test --test real_engine -- --test-threads 1
//! ```
//!
//! Without `INFERGATE_ENGINE_URL` every test prints a note and passes without running: the build takes
//! longer than this project's CI budget allows (see the README).

use std::path::Path;

use infergate::gate::{Status, evaluate};
use infergate::run::{RunOptions, RunResult, Target, run_scenario};
use infergate::scenario::{Aggregation, Metric, Scenario};

struct Engine {
    url: String,
    tokenizer: String,
}

fn engine() -> Option<Engine> {
    let url = std::env::var("INFERGATE_ENGINE_URL").ok()?;
    let tokenizer = std::env::var("INFERGATE_ENGINE_TOKENIZER").ok()?;
    let host = url.trim_start_matches("http://");
    assert!(
        host.starts_with("127.0.0.1") || host.starts_with("localhost"),
        "the real-engine tests only talk to loopback, not {url}"
    );
    Some(Engine { url, tokenizer })
}

macro_rules! engine_or_skip {
    () => {
        match engine() {
            Some(engine) => engine,
            None => {
                eprintln!(
                    "skipped: no real engine (run scripts/real-engine.sh all and export $(scripts/real-engine.sh env))"
                );
                return;
            }
        }
    };
}

fn scenario(engine: &Engine, api: &str, input: u32, output: u32, load: &str) -> Scenario {
    let yaml = format!(
        "api: {{type: {api}, streaming: true}}\ndata:\n  type: random\n  input_distribution: {{mean: {input}, std_dev: 0, min: {input}, max: {input}}}\n  output_distribution: {{mean: {output}, std_dev: 0, min: {output}, max: {output}}}\nload:\n{load}\nserver: {{model_name: tiny-llama3, ignore_eos: true}}\ntokenizer: {{pretrained_model_name_or_path: '{}'}}\n",
        engine.tokenizer
    );
    Scenario::from_source(Path::new("real-engine.yaml"), &yaml).unwrap_or_else(|e| panic!("{e}"))
}

async fn run(engine: &Engine, s: &Scenario) -> RunResult {
    let options = RunOptions {
        target: Target::Url(engine.url.clone()),
        progress: true,
        ..RunOptions::default()
    };
    run_scenario(s, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn ms(r: &RunResult, stage: usize, metric: Metric, p: f64) -> f64 {
    r.stages[stage]
        .recorder
        .value(metric, Aggregation::Percentile(p))
        .unwrap_or(f64::NAN)
        / 1e3
}

/// Token counts agree with the server's usage, and prompt lengths are the requested ones.
fn assert_counts_exact(r: &RunResult, input: f64, output: f64) {
    let t = &r.total;
    assert_eq!(
        t.ok, t.scheduled,
        "every request succeeded: {:?}",
        t.failures
    );
    assert_eq!(
        t.token_count_mismatches, 0,
        "usage agrees with the tokenizer"
    );
    assert_eq!(t.prompt_tokens.min() as f64, input);
    assert_eq!(t.prompt_tokens.max() as f64, input);
    assert_eq!(t.output_tokens.min() as f64, output);
    assert_eq!(t.output_tokens.max() as f64, output);
    assert_eq!(
        t.output_tokens_from_usage, t.ok,
        "every answer carried usage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_counts_are_exact_and_ttft_grows_with_the_prompt() {
    let engine = engine_or_skip!();
    let mut p50 = Vec::new();
    for input in [32, 1024] {
        let s = scenario(
            &engine,
            "completion",
            input,
            32,
            "  type: constant\n  stages: [{rate: 2, duration: 5}]",
        );
        let r = run(&engine, &s).await;
        assert_counts_exact(&r, input as f64, 32.0);
        let server = r.stages[0].server.as_ref().expect("llama.cpp's /metrics");
        assert_eq!(server.engines, vec!["llamacpp".to_string()]);
        p50.push(ms(&r, 0, Metric::Ttft, 50.0));
    }
    assert!(
        p50[1] > p50[0] * 1.5,
        "TTFT p50 with 1024-token prompts ({:.1} ms) is well above 32-token ones ({:.1} ms)",
        p50[1],
        p50[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_stages_show_the_knee() {
    let engine = engine_or_skip!();
    let s = scenario(
        &engine,
        "completion",
        128,
        64,
        "  type: constant\n  interval: 2\n  stages: [{rate: 1, duration: 6}, {rate: 2, duration: 6}, {rate: 16, duration: 6}]",
    );
    let r = run(&engine, &s).await;
    assert_counts_exact(&r, 128.0, 64.0);
    let knee = infergate::gate::knee::find(&r.stages).expect("a knee");
    assert!(knee.stage < 2, "{knee:?}");
    let waiting = |i: usize| {
        r.stages[i]
            .server
            .as_ref()
            .and_then(|s| s.value(Metric::ServerRequestsWaiting, Aggregation::Max))
            .unwrap_or(0.0)
    };
    assert!(
        waiting(2) > waiting(0),
        "the engine queued at 16 req/s: {} vs {}",
        waiting(2),
        waiting(0)
    );
    let gate = evaluate(&s.thresholds, &s.validity, &r);
    assert_ne!(gate.status, Status::Invalid, "{:?}", gate.checks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_sweep_and_chat_complete_with_exact_counts() {
    let engine = engine_or_skip!();
    let s = scenario(
        &engine,
        "completion",
        64,
        32,
        "  type: concurrent\n  stages: [{concurrency_level: 1, num_requests: 8}, {concurrency_level: 8, num_requests: 32}, {concurrency_level: 32, num_requests: 64}]",
    );
    let r = run(&engine, &s).await;
    assert_counts_exact(&r, 64.0, 32.0);
    let running = r.stages[2]
        .server
        .as_ref()
        .and_then(|s| s.value(Metric::ServerRequestsRunning, Aggregation::Max))
        .unwrap_or(0.0);
    assert!(running <= 16.0, "16 slots: {running}");
    assert!(
        ms(&r, 2, Metric::Ttft, 50.0) > ms(&r, 0, Metric::Ttft, 50.0),
        "32 in flight on 16 slots queue"
    );

    let chat = scenario(
        &engine,
        "chat",
        64,
        16,
        "  type: constant\n  stages: [{rate: 2, duration: 3}]",
    );
    let r = run(&engine, &chat).await;
    let t = &r.total;
    assert_eq!(t.ok, t.scheduled, "{:?}", t.failures);
    assert_eq!(t.output_tokens.max(), 16);
    assert_eq!(t.output_tokens.min(), 16);
}
