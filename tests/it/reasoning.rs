//! A reasoning model measured against the simulator acting as one (`SimConfig::reasoning_tokens`),
//! over real HTTP on 127.0.0.1: TTFT is the first token of any kind (the first reasoning token), TTFO
//! the first answer token, both checked against the simulator's own truth (`/infergate/timings`),
//! and reasoning tokens are counted exactly. Timing bounds are loose: the machine is shared.

use std::path::Path;
use std::time::Duration;

use infergate::gate::{Status, evaluate};
use infergate::report::json::lifecycle;
use infergate::run::{RunOptions, RunResult, Target, run_scenario};
use infergate::scenario::{Aggregation, Metric, Scenario};
use infergate::sim::truth::Timings;
use infergate::sim::{FixedTiming, SimConfig, SimHandle};

/// Reasoning tokens before each answer, and the simulator's fixed timing.
const REASONING: u64 = 16;
const TTFT_MS: u64 = 30;
const ITL_MS: u64 = 4;

fn reasoning_model() -> SimHandle {
    let config = SimConfig {
        fixed: Some(FixedTiming {
            ttft: Duration::from_millis(TTFT_MS),
            itl: Duration::from_millis(ITL_MS),
        }),
        reasoning_tokens: REASONING as u32,
        ..SimConfig::default()
    };
    SimHandle::start(config, ([127, 0, 0, 1], 0).into()).unwrap()
}

async fn run(sim: &SimHandle, yaml: &str) -> (Scenario, RunResult) {
    let yaml = format!("{yaml}{}", crate::support::LOOSE_VALIDITY);
    let scenario =
        Scenario::from_source(Path::new("reasoning.yaml"), &yaml).unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions {
        target: Target::Url(sim.base_url()),
        ..RunOptions::default()
    };
    let run = run_scenario(&scenario, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (scenario, run)
}

/// What the simulator measured since the last call.
async fn truth(sim: &SimHandle) -> Timings {
    let url = format!("{}/infergate/timings?reset=true", sim.base_url());
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

fn ms(r: &infergate::measure::recorder::Recorder, metric: Metric, p: f64) -> f64 {
    r.value(metric, Aggregation::Percentile(p)).unwrap() / 1e3
}

#[tokio::test(flavor = "current_thread")]
async fn ttft_is_the_first_reasoning_token_and_ttfo_the_first_answer_token() {
    let _turn = crate::support::turn().await;
    let sim = reasoning_model();
    let (scenario, run) = run(
        &sim,
        "api: {type: chat, streaming: true}
data:
  input_distribution: {mean: 16, std_dev: 0, min: 16, max: 16}
  output_distribution: {mean: 48, std_dev: 0, min: 48, max: 48}
load:
  stages: [{rate: 10, duration: 2}]
server: {ignore_eos: true}
thresholds:
  ttfo: [\"min > 90ms\", \"p(99) < 10s\"]
  reasoning_tokens: [\"min == 16\", \"max == 16\", \"avg < 1500\"]
",
    )
    .await;
    let t = &run.total;
    assert!(t.ok >= 15 && t.ok == t.sent(), "{} of {}", t.ok, t.sent());
    // Exact counts: the server's own, for every request; every answer the asked-for length.
    assert_eq!(t.reasoning_tokens_from_usage, t.ok);
    assert_eq!(t.reasoning_tokens_total, REASONING * t.ok);
    assert_eq!((t.output_tokens.min(), t.output_tokens.max()), (48, 48));
    assert_eq!((t.ttft.len(), t.ttfo.len()), (t.ok, t.ok));
    // The simulator's truth: the answer starts REASONING tokens after the first, never earlier.
    let truth = truth(&sim).await;
    assert_eq!((truth.ttft.count, truth.ttfo.count), (t.ok, t.ok));
    let apart_ms = REASONING as f64 * ITL_MS as f64;
    let truth_apart = (truth.ttfo.p50_us as f64 - truth.ttft.p50_us as f64) / 1e3;
    assert!(
        truth_apart >= apart_ms * 0.99 && truth_apart < apart_ms + 250.0,
        "server: ttfo - ttft = {truth_apart} ms, {apart_ms} ms configured"
    );
    // The client sees each no earlier than the server sent it, and not much later.
    let (ttft, ttfo) = (ms(t, Metric::Ttft, 50.0), ms(t, Metric::Ttfo, 50.0));
    let server = |us: u64| us as f64 / 1e3;
    assert!(
        ttft >= server(truth.ttft.p50_us) * 0.99,
        "ttft {ttft} ms, {truth:?}"
    );
    assert!(
        ttfo >= server(truth.ttfo.p50_us) * 0.99,
        "ttfo {ttfo} ms, {truth:?}"
    );
    assert!(
        ttfo < server(truth.ttfo.p50_us) + 250.0,
        "ttfo {ttfo} ms, {truth:?}"
    );
    assert!(
        ttfo - ttft > apart_ms / 2.0,
        "client: ttfo {ttfo} - ttft {ttft} ms, {apart_ms} ms configured"
    );
    let gate = evaluate(&scenario.thresholds, &scenario.validity, &run);
    assert_eq!(gate.status, Status::Passed, "{:#?}", gate.checks);
    let observed: Vec<&str> = gate
        .checks
        .iter()
        .filter(|c| c.name.starts_with("reasoning_tokens"))
        .map(|c| c.observed.as_str())
        .collect();
    assert_eq!(observed, ["16", "16", "16"], "{:#?}", gate.checks);
    // The lifecycle report, in AIPerf's name for TTFO.
    let report = lifecycle(t, None, None, &[]);
    let latency = &report.successes.latency;
    let first_output = latency.time_to_first_output_token.as_ref().unwrap();
    assert!(first_output.median > latency.time_to_first_token.as_ref().unwrap().median);
    assert_eq!(
        report.successes.reasoning_tokens.unwrap().mean,
        REASONING as f64
    );
    assert_eq!(report.successes.reasoning_tokens_from_server_usage, t.ok);
    // Per stage as for the whole run (one stage here), and kept for baselines.
    assert_eq!(run.stages[0].recorder.ttfo, t.ttfo);
    assert!(gate.samples.total.trends["reasoning_tokens"] == [(16, t.ok)]);
}

#[tokio::test(flavor = "current_thread")]
async fn reasoning_counts_within_max_tokens_and_only_in_chat_answers() {
    let _turn = crate::support::turn().await;
    let sim = reasoning_model();
    let load = "load:
  type: concurrent
  stages: [{num_requests: 6, concurrency_level: 2}]
server: {ignore_eos: true}
";
    let data = |tokens: u32| {
        format!(
            "data:
  input_distribution: {{mean: 16, std_dev: 0, min: 16, max: 16}}
  output_distribution: {{mean: {tokens}, std_dev: 0, min: {tokens}, max: {tokens}}}
"
        )
    };
    // max_tokens below the reasoning: every token is reasoning, no answer, still a success.
    let yaml = format!("api: {{type: chat, streaming: true}}\n{}{load}", data(8));
    let (_, cut) = run(&sim, &yaml).await;
    let t = &cut.total;
    assert_eq!((t.ok, t.sent()), (6, 6));
    assert_eq!((t.reasoning_tokens.min(), t.reasoning_tokens.max()), (8, 8));
    assert_eq!((t.ttft.len(), t.ttfo.len()), (6, 0), "no answer, no TTFO");
    assert_eq!(truth(&sim).await.ttfo.count, 0);

    // A whole (non-streamed) answer: the server's count, and no first-token times at all.
    let yaml = format!("api: {{type: chat, streaming: false}}\n{}{load}", data(24));
    let (_, whole) = run(&sim, &yaml).await;
    let t = &whole.total;
    assert_eq!(t.ok, 6);
    assert_eq!(t.reasoning_tokens_total, REASONING * 6);
    assert_eq!(t.reasoning_tokens_from_usage, 6);
    assert_eq!((t.ttft.len(), t.ttfo.len()), (0, 0));
    assert_eq!(truth(&sim).await.ttfo.count, 6, "the server's answer began");

    // The completions API has no reasoning parser (as in vLLM): TTFO is TTFT.
    let yaml = format!(
        "api: {{type: completion, streaming: true}}\n{}{load}",
        data(24)
    );
    let (_, plain) = run(&sim, &yaml).await;
    let t = &plain.total;
    assert_eq!(t.ok, 6);
    assert!(!t.saw_reasoning());
    assert_eq!(
        (t.reasoning_tokens.max(), t.reasoning_tokens_from_usage),
        (0, 0)
    );
    assert_eq!(t.ttfo, t.ttft);
    let report = lifecycle(t, None, None, &[]);
    assert!(report.successes.reasoning_tokens.is_none());
}
