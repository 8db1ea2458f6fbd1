//! End to end against the embedded simulator over real HTTP on 127.0.0.1: timing (loose bounds only),
//! accounting, the knee, and verdicts from thresholds and from the runner's own limits.

use std::path::Path;
use std::time::Duration;

use infergate::gate::{ScenarioOutcome, Status, abort_rule, evaluate};
use infergate::report::junit;
use infergate::run::{RunOptions, RunResult, Target, run_scenario};
use infergate::scenario::{Aggregation, Metric, Scenario};
use infergate::sim::{EngineConfig, SimConfig};

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_source(Path::new("test.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn engine(step_ms: u64, max_batch: usize) -> EngineConfig {
    EngineConfig {
        max_batch,
        decode_step_base: Duration::from_millis(step_ms),
        decode_step_per_seq: Duration::ZERO,
        prefill_per_token: Duration::ZERO,
    }
}

async fn run(yaml: &str, engine: EngineConfig) -> (Scenario, RunResult) {
    let s = scenario(yaml);
    let options = RunOptions {
        target: Target::Simulator,
        sim: SimConfig {
            engine,
            ..SimConfig::default()
        },
        abort: abort_rule(&s.thresholds),
        ..RunOptions::default()
    };
    let result = run_scenario(&s, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (s, result)
}

fn ms(r: &infergate::measure::recorder::Recorder, metric: Metric, p: f64) -> f64 {
    r.value(metric, Aggregation::Percentile(p)).unwrap() / 1000.0
}

#[tokio::test(flavor = "current_thread")]
async fn timings_match_the_simulated_engine_within_loose_bounds() {
    let _turn = crate::support::turn().await;
    let yaml = "api: {type: completion, streaming: true}
data:
  input_distribution: {mean: 20, std_dev: 0, min: 20, max: 20}
  output_distribution: {mean: 10, std_dev: 0, min: 10, max: 10}
load:
  type: concurrent
  stages: [{num_requests: 6, concurrency_level: 1}]
";
    let (_, r) = run(yaml, engine(10, 8)).await;
    let t = &r.total;
    assert_eq!((t.scheduled, t.ok, t.accounted()), (6, 6, 6));
    // One request alone: the first token after one 10 ms step (plus up to one step of waiting for the
    // engine's step boundary), then one token per step. The lower bounds are exact (a timer never
    // fires early); the upper ones only catch a gross error (a step missing or repeated), since on a
    // busy machine the simulator's thread can wake many milliseconds late.
    let itl = ms(t, Metric::Itl, 50.0);
    assert!((7.0..100.0).contains(&itl), "itl p50 {itl} ms");
    let ttft = ms(t, Metric::Ttft, 50.0);
    assert!((7.0..250.0).contains(&ttft), "ttft p50 {ttft} ms");
    let e2e = ms(t, Metric::RequestLatency, 50.0);
    assert!((80.0..1500.0).contains(&e2e), "e2e p50 {e2e} ms");
    assert_eq!(
        t.output_tokens_total, 60,
        "server usage: 6 requests x 10 tokens"
    );
    assert_eq!(t.output_tokens_from_usage, 6);
    assert_eq!(t.input_tokens_total, 120);
    assert_eq!(t.prompt_token_mismatches, 0);
    assert_eq!(
        t.itl.len(),
        6 * 9,
        "nine gaps between ten content chunks, per request"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn queueing_beyond_the_batch_shows_as_a_knee() {
    let _turn = crate::support::turn().await;
    let stages = "load:
  type: concurrent
  stages:
    - {num_requests: 4, concurrency_level: 1}
    - {num_requests: 16, concurrency_level: 8}
data:
  input_distribution: {mean: 10, std_dev: 0, min: 10, max: 10}
  output_distribution: {mean: 10, std_dev: 0, min: 10, max: 10}
api: {streaming: true}
";
    let (_, r) = run(stages, engine(5, 2)).await;
    let alone = ms(&r.stages[0].recorder, Metric::Ttft, 50.0);
    let queued = ms(&r.stages[1].recorder, Metric::Ttft, 50.0);
    assert!(
        queued > alone * 2.0,
        "ttft p50 alone {alone} ms, with 8 in flight on a batch of 2 {queued} ms"
    );
    let knee = infergate::gate::knee::find(&r.stages).expect("the second stage is past the knee");
    assert_eq!(
        (knee.stage, knee.saturated_stage, knee.unit.as_str()),
        (0, 1, "concurrency")
    );
    assert_eq!(knee.recommended, 0.75);
    assert!(
        infergate::gate::knee::find(&r.stages[..1]).is_none(),
        "one stage has no knee"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn open_loop_stages_send_every_scheduled_request() {
    let _turn = crate::support::turn().await;
    let yaml = "load:
  type: constant
  interval: 0
  stages: [{rate: 20, duration: 1}, {rate: 10, duration: 0.5}]
data:
  output_distribution: {mean: 4, std_dev: 0, min: 4, max: 4}
api: {type: chat, streaming: false}
";
    let (_, r) = run(yaml, engine(2, 64)).await;
    assert_eq!(r.stages[0].recorder.scheduled, 20);
    assert_eq!(r.stages[1].recorder.scheduled, 5);
    assert_eq!((r.total.ok, r.total.accounted()), (25, 25));
    // 20 sends over about a second; late sends on a busy machine stretch the stage, never shrink it.
    let achieved = r.stages[0].recorder.achieved_rate().unwrap();
    assert!((8.0..25.0).contains(&achieved), "achieved {achieved}/s");
    assert_eq!(r.total.ttft.len(), 0, "no TTFT without streaming");
    assert_eq!(r.total.output_tokens_total, 100);
}

fn junit_of(run: RunResult, status_wanted: Status, thresholds_yaml: &Scenario) -> String {
    let gate = evaluate(&thresholds_yaml.thresholds, &thresholds_yaml.validity, &run);
    assert_eq!(gate.status, status_wanted, "{:#?}", gate.checks);
    junit::render(&[ScenarioOutcome::Judged {
        run: Box::new(run),
        gate,
    }])
}

#[tokio::test(flavor = "current_thread")]
async fn an_impossible_threshold_fails_with_observed_and_limit() {
    let _turn = crate::support::turn().await;
    let yaml = "api: {streaming: true}
load:
  stages: [{rate: 10, duration: 0.5}]
data:
  output_distribution: {mean: 4, std_dev: 0, min: 4, max: 4}
thresholds:
  ttft: [\"p(99) < 1ms\", \"p(50) < 10s\"]
";
    // About thresholds: the runner's limits, which a busy machine can break, are not in question.
    let yaml = format!("{yaml}{}", crate::support::LOOSE_VALIDITY);
    let (s, r) = run(&yaml, engine(20, 64)).await;
    let xml = junit_of(r, Status::Failed, &s);
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("ttft: p(99) &lt; 1ms"), "{xml}");
    assert!(xml.contains("limit &lt; 1.00ms"), "{xml}");
    assert!(xml.contains("observed "), "{xml}");
    assert!(!xml.contains("<error"), "{xml}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_runner_that_cannot_keep_up_is_an_error_not_a_failure() {
    let _turn = crate::support::turn().await;
    // One in-flight slot for 20 req/s of requests that take ~10 x 20 ms: sends must wait for the slot,
    // so the runner falls behind its schedule. The thresholds would pass; the run is invalid anyway.
    let yaml = "api: {streaming: true}
load:
  stages: [{rate: 20, duration: 0.5}]
  num_workers: 1
  worker_max_concurrency: 1
data:
  output_distribution: {mean: 10, std_dev: 0, min: 10, max: 10}
thresholds:
  error_rate: [\"rate < 1%\"]
";
    let (s, r) = run(yaml, engine(20, 64)).await;
    assert!(r.stages[0].recorder.in_flight_cap_waits > 0);
    assert_eq!(r.total.accounted(), 10, "late, but every request was sent");
    let xml = junit_of(r, Status::Invalid, &s);
    assert!(xml.contains("<error"), "{xml}");
    assert!(xml.contains("runner_invalid"), "{xml}");
    assert!(xml.contains("the runner could not keep up"), "{xml}");
    assert!(xml.contains("waited for an in-flight slot"), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_target_is_one_clear_error() {
    let _turn = crate::support::turn().await;
    let s = scenario("load:\n  stages: [{rate: 1, duration: 1}]\n");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://user:secret@{}", listener.local_addr().unwrap());
    drop(listener);
    let options = RunOptions {
        target: Target::Url(url),
        ..RunOptions::default()
    };
    let message = run_scenario(&s, &options).await.unwrap_err().to_string();
    assert!(message.contains("nothing answers there"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_model_the_target_does_not_serve_is_refused_before_any_load() {
    let _turn = crate::support::turn().await;
    let s = scenario(
        "server: {model_name: other-model, base_url: \"http://127.0.0.1:1\"}\nload:\n  stages: [{rate: 1, duration: 1}]\n",
    );
    let sim =
        infergate::sim::SimHandle::start(SimConfig::default(), ([127, 0, 0, 1], 0).into()).unwrap();
    let options = RunOptions {
        target: Target::Url(sim.base_url()),
        ..RunOptions::default()
    };
    let message = run_scenario(&s, &options).await.unwrap_err().to_string();
    assert!(
        message.contains("does not serve model `other-model`"),
        "{message}"
    );
    assert!(message.contains("infergate-sim"), "{message}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_starting_target_is_waited_for_when_asked() {
    let _turn = crate::support::turn().await;
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        infergate::sim::SimHandle::start(SimConfig::default(), addr).unwrap()
    });
    let s = scenario("load:\n  stages: [{rate: 4, duration: 0.5}]\n");
    let options = RunOptions {
        target: Target::Url(format!("http://{addr}")),
        wait_ready: Some(Duration::from_secs(20)),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.total.ok, 2);
    drop(starter.join().unwrap());
    let impatient = RunOptions {
        wait_ready: Some(Duration::from_millis(600)),
        ..options
    };
    let message = run_scenario(&s, &impatient).await.unwrap_err().to_string();
    assert!(
        message.contains("nothing answers there") && message.contains("after waiting 0.6s"),
        "{message}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_abort_on_fail_threshold_stops_the_run_early_as_a_failure() {
    let _turn = crate::support::turn().await;
    let yaml = "api: {streaming: true}
load:
  stages: [{rate: 10, duration: 20}, {rate: 10, duration: 20}]
data:
  output_distribution: {mean: 4, std_dev: 0, min: 4, max: 4}
thresholds:
  ttft:
    - threshold: \"p(99) < 1ms\"
      abortOnFail: true
      delayAbortEval: 500ms
    - \"p(50) < 10s\"
";
    // About the abort: the runner's limits, which a busy machine can break, are not in question.
    let yaml = format!("{yaml}{}", crate::support::LOOSE_VALIDITY);
    let started = std::time::Instant::now();
    let (s, r) = run(&yaml, engine(10, 64)).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped long before the 40 s plan"
    );
    assert_eq!(r.stages.len(), 1, "the second stage never started");
    let reason = r.aborted.clone().unwrap();
    assert!(
        reason.contains("aborted by `ttft: p(99) < 1ms` (abortOnFail)"),
        "{reason}"
    );
    assert_eq!(r.stopped, None, "an abort is not a signal");
    let t = &r.total;
    assert_eq!(
        t.scheduled, 200,
        "the whole first-stage schedule is accounted for"
    );
    assert_eq!(t.accounted(), t.scheduled);
    // Stopped in the first half of its 20 s stage (about 1 s in on idle cores).
    assert!(
        t.cancelled > 100 && t.ok >= 5,
        "ok {} cancelled {}",
        t.ok,
        t.cancelled
    );
    let xml = junit_of(r, Status::Failed, &s);
    assert!(xml.contains("run: not aborted by a threshold"), "{xml}");
}

#[tokio::test(flavor = "current_thread")]
async fn warm_up_requests_are_sent_first_and_left_out_of_every_statistic() {
    let _turn = crate::support::turn().await;
    let yaml = "api: {streaming: true}
load:
  type: constant
  interval: 0
  warmup: {requests: 5}
  stages: [{rate: 10, duration: 1}]
data:
  output_distribution: {mean: 4, std_dev: 0, min: 4, max: 4}
thresholds:
  request_latency: [\"count == 10\"]
# About the warm-up's accounting: ten sends' p99 is their latest, and one late wake-up on a
# loaded machine is not this test's concern.
validity: {max_schedule_delay_p99: 250ms}
";
    let (s, r) = run(yaml, engine(2, 64)).await;
    let warmup = r.warmup.as_ref().expect("a warm-up ran");
    assert_eq!((warmup.recorder.scheduled, warmup.recorder.ok), (5, 5));
    assert_eq!(
        (r.total.scheduled, r.total.ok),
        (10, 10),
        "the warm-up is not in the totals"
    );
    assert_eq!(r.stages.len(), 1);
    let gate = evaluate(&s.thresholds, &s.validity, &r);
    assert_eq!(gate.status, Status::Passed, "{:#?}", gate.checks);

    let concurrent = "load:
  type: concurrent
  warmup: {duration: 5}
  stages: [{num_requests: 4, concurrency_level: 2}]
";
    let e = Scenario::from_source(Path::new("w.yaml"), concurrent)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("load.warmup: a concurrent load warms up by `requests`"),
        "{e}"
    );
}

/// `load.sweep` on the simulator: the ramp finds saturation where the engine's capacity is (about 70
/// req/s of 128-token answers with the default engine on idle cores, less where the machine's CPU runs
/// out first), then runs its stages up to it. The first probe is 16 requests of short answers: with
/// 6 requests of 256 tokens, a busy machine's jitter once made the rate they completed at look
/// saturated (3.2 of 4 req/s).
#[tokio::test(flavor = "current_thread")]
async fn a_sweep_finds_the_simulators_saturation_and_runs_stages_up_to_it() {
    let _turn = crate::support::turn().await;
    let yaml = "api: {type: completion, streaming: true}
data:
  input_distribution: {mean: 128, std_dev: 0, min: 128, max: 128}
  output_distribution: {mean: 128, std_dev: 0, min: 128, max: 128}
load:
  type: constant
  interval: 0
  sweep: {type: linear, num_stages: 2, stage_duration: 1, start_rate: 8, probe_duration: 2}
";
    let s = scenario(yaml);
    let options = RunOptions {
        quick: Some(infergate::plan::Quick::default()),
        ..RunOptions::default()
    };
    let r = run_scenario(&s, &options).await.unwrap();
    let sweep = r.sweep.as_ref().expect("a sweep outcome");
    let rates: Vec<f64> = sweep.probes.iter().map(|p| p.rate).collect();
    // Above the first probe (8 req/s held), and below the ramp's double step past the engine's
    // capacity; where in between depends on the machine's free CPU (the simulator shares it), so is
    // not asserted.
    assert!(
        sweep.saturation_rate > 8.0 && sweep.saturation_rate < 256.0,
        "saturation {} from probes {rates:?}: {:#?}",
        sweep.saturation_rate,
        sweep.probes
    );
    assert!(sweep.probes.iter().any(|p| p.saturated.is_some()));
    assert_eq!(
        sweep.recommended_rate,
        (sweep.saturation_rate * 0.75 * 100.0).round() / 100.0
    );
    assert_eq!(r.stages.len(), 2);
    assert_eq!(
        r.stages[1].stage.requested_rate(),
        Some(sweep.saturation_rate)
    );
    // Probe steps stay out of the totals.
    let stage_sent: u64 = r.stages.iter().map(|s| s.recorder.sent()).sum();
    assert_eq!(r.total.sent(), stage_sent);
}
