//! Against a real engine: llama.cpp's `llama-server` with a tiny random-weight Llama 3 model, started
//! by `scripts/real-engine.sh` (see `main.rs`). Ignored without `INFERGATE_ENGINE_URL` and
//! `INFERGATE_ENGINE_TOKENIZER`.

use std::path::Path;

use infergate::gate::{Status, evaluate};
use infergate::run::{RunOptions, RunResult, Target, run_scenario};
use infergate::scenario::{Aggregation, Metric, Scenario};
use libtest_mimic::Trial;

struct Engine {
    url: String,
    tokenizer: String,
}

/// The engine the environment names; panics on a URL off loopback.
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

const NO_ENGINE: &str = "no real engine: INFERGATE_ENGINE_URL and INFERGATE_ENGINE_TOKENIZER are not both set (scripts/real-engine.sh all; export $(scripts/real-engine.sh env))";

/// The three tests, ignored without an engine.
pub fn trials() -> Vec<Trial> {
    let missing = engine().is_none().then_some(NO_ENGINE);
    crate::say_ignored("llama.cpp", missing);
    vec![
        crate::trial(
            "llama::baseline_counts_are_exact_and_ttft_grows_with_the_prompt",
            missing,
            baseline_counts_are_exact_and_ttft_grows_with_the_prompt,
        ),
        crate::trial(
            "llama::saturation_stages_show_the_knee",
            missing,
            saturation_stages_show_the_knee,
        ),
        crate::trial(
            "llama::a_concurrency_sweep_and_chat_complete_with_exact_counts",
            missing,
            a_concurrency_sweep_and_chat_complete_with_exact_counts,
        ),
    ]
}

/// The engine, in a trial that only runs when there is one.
fn the_engine() -> Engine {
    engine().expect(NO_ENGINE)
}

/// These tests are about the engine's numbers; on a shared 2-core machine (the engine, the runner and
/// whatever else runs) the default runner limits (10 ms schedule-delay p99) can break for reasons
/// that are not the runner's, so they are loosened to catch only a runner seconds behind.
const LOOSE_VALIDITY: &str = "validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}\n";

fn scenario(engine: &Engine, api: &str, input: u32, output: u32, load: &str) -> Scenario {
    let yaml = format!(
        "api: {{type: {api}, streaming: true}}\ndata:\n  type: random\n  input_distribution: {{mean: {input}, std_dev: 0, min: {input}, max: {input}}}\n  output_distribution: {{mean: {output}, std_dev: 0, min: {output}, max: {output}}}\nload:\n{load}\nserver: {{model_name: tiny-llama3, ignore_eos: true}}\ntokenizer: {{pretrained_model_name_or_path: '{}'}}\n{LOOSE_VALIDITY}",
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

async fn baseline_counts_are_exact_and_ttft_grows_with_the_prompt() {
    let engine = the_engine();
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

async fn saturation_stages_show_the_knee() {
    let engine = the_engine();
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

async fn a_concurrency_sweep_and_chat_complete_with_exact_counts() {
    let engine = the_engine();
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
