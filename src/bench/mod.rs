//! Above the pipeline, beside the doors: it drives `run` against the simulator.
//!
//! `infergate bench`: how fast and how exact is the load generator itself?
//!
//! It starts the simulator in fixed-timing mode as a child process on one core, pins itself to
//! another, and runs one open-loop constant-rate stage per requested rate through the same
//! `run_scenario` path every suite uses. For each rate it reports the achieved rate, schedule delay,
//! the client's TTFT and ITL next to what the simulator itself measured for the same streams (the
//! truth), the client's CPU seconds and its peak RSS, with the built-in tokenizer or (`tokenizer`) a
//! real one.

mod child;
pub mod floor;
pub mod gate;
pub mod host;
pub mod merge;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::run::{RunOptions, Target, run_scenario};
use crate::scenario::{Aggregation, Metric, Scenario};
use crate::sim::truth::Timings;

pub use child::SimChild;

/// What to benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Requests per second, one stage each, in order.
    pub rates: Vec<f64>,
    /// Length of each stage.
    pub duration: Duration,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
    /// The simulator's fixed timing.
    pub ttft: Duration,
    pub itl: Duration,
    /// Load threads (`load.num_workers`).
    pub workers: u32,
    /// Cores for the load generator and the simulator (`None`: not pinned).
    pub client_cpu: Option<Vec<usize>>,
    pub sim_cpu: Option<usize>,
    /// With a margin (milliseconds, may be negative): `report.goodput` limits TTFT to the
    /// simulator's plus this, and the row says how many requests met it.
    pub slo_margin_ms: Option<f64>,
    /// Write per-request records here (`report.request_lifecycle.per_request`), to see what they
    /// cost in memory and CPU.
    pub per_request: Option<std::path::PathBuf>,
    /// A real `tokenizer.json`: the scenario uses `data.type: random` with it, as a user's run does
    /// (the simulator counts prompts with its own, so prompt-token mismatches are expected);
    /// `None`: the built-in word-level tokenizer.
    pub tokenizer: Option<std::path::PathBuf>,
    /// Time tokens by the kernel's receive stamps (`infergate run --kernel-stamps`).
    pub kernel_stamps: bool,
}

/// One rate's results.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// `built-in`, or the file name of the real tokenizer.
    pub tokenizer: String,
    pub requested_rate: f64,
    pub achieved_rate: f64,
    pub sent: u64,
    pub ok: u64,
    pub not_ok: u64,
    pub schedule_delay_p50_us: u64,
    pub schedule_delay_p99_us: u64,
    pub ttft_client_p50_us: u64,
    pub ttft_client_p99_us: u64,
    pub itl_client_p50_us: u64,
    pub itl_client_p99_us: u64,
    /// What the simulator measured for the same requests.
    pub truth: Timings,
    /// Output tokens counted from the server's `usage` on every success, and matching max_tokens.
    pub usage_exact: bool,
    pub client_cpu_seconds: f64,
    /// Client CPU time per request sent, microseconds.
    pub cpu_per_request_us: f64,
    /// The load threads' own CPU time per request sent, microseconds: the load without the run's
    /// set-up (loading the tokenizer, pre-flight) or its reports.
    pub load_cpu_per_request_us: f64,
    /// Client CPU time over the stage's length: the cores the load generator kept busy on average.
    pub cores_busy: f64,
    pub peak_rss_mib: f64,
    /// From the start of the run (client set-up and pre-flight included) to the first send.
    pub first_send_ms: f64,
    /// With `slo_margin_ms`: the fraction of requests sent whose TTFT met the simulator's plus it.
    pub ttft_slo_attainment: Option<f64>,
}

/// The scenario for one rate, in the same YAML a user would write.
fn scenario_yaml(options: &BenchOptions, rate: f64, base_url: &str) -> String {
    let (p, o) = (options.prompt_tokens, options.output_tokens);
    let (data, tokenizer) = match &options.tokenizer {
        Some(path) => (
            "random",
            format!(
                "tokenizer: {{pretrained_model_name_or_path: {:?}}}\n",
                path.display().to_string()
            ),
        ),
        None => ("synthetic", String::new()),
    };
    format!(
        "api: {{type: completion, streaming: true}}\n\
         server: {{type: vllm, model_name: infergate-sim, base_url: \"{base_url}\", ignore_eos: true}}\n\
         {tokenizer}\
         data:\n  type: {data}\n\
         \x20 input_distribution: {{min: {p}, max: {p}, mean: {p}, std_dev: 0}}\n\
         \x20 output_distribution: {{min: {o}, max: {o}, mean: {o}, std_dev: 0}}\n\
         load:\n  type: constant\n  num_workers: {}\n  worker_max_concurrency: 1000000\n\
         \x20 stages: [{{rate: {rate}, duration: {}}}]\n{}",
        options.workers,
        options.duration.as_secs_f64(),
        report_yaml(options)
    )
}

/// The `report` block: goodput with `slo_margin_ms`, records with `per_request`.
fn report_yaml(options: &BenchOptions) -> String {
    let mut out = String::new();
    if let Some(m) = options.slo_margin_ms {
        let ttft = (options.ttft.as_secs_f64() + m / 1e3).max(1e-6);
        let _ = write!(out, "  goodput:\n    constraints: {{ttft: {ttft}}}\n");
    }
    if options.per_request.is_some() {
        out.push_str("  request_lifecycle: {per_request: true}\n");
    }
    if out.is_empty() {
        out
    } else {
        format!("report:\n{out}")
    }
}

async fn fetch_truth(http: &reqwest::Client, base_url: &str) -> Result<Timings, String> {
    let url = format!("{base_url}/infergate/timings?reset=true");
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    response
        .json::<Timings>()
        .await
        .map_err(|e| format!("GET {url}: {e}"))
}

/// Runs every rate against `base_url` (a fixed-timing simulator) and returns one row per rate.
pub async fn run(
    options: &BenchOptions,
    base_url: &str,
    mut on_row: impl FnMut(&BenchRow),
) -> Result<Vec<BenchRow>, String> {
    let http = crate::client::Http::to_target(&Default::default(), None)
        .build()
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for &rate in &options.rates {
        let yaml = scenario_yaml(options, rate, base_url);
        let scenario = Scenario::from_source(Path::new("bench.yaml"), &yaml)
            .map_err(|e| format!("the benchmark scenario is invalid: {e}"))?;
        fetch_truth(&http, base_url).await?; // clears the simulator's histograms
        let before = host::usage();
        let load_threads = host::ThreadCpu::watch("infergate-load");
        let started = Instant::now();
        let run_options = RunOptions {
            target: Target::Scenario,
            records: options.per_request.clone(),
            kernel_stamps: options.kernel_stamps,
            ..RunOptions::default()
        };
        let result = run_scenario(&scenario, &run_options)
            .await
            .map_err(|e| e.to_string())?;
        let after = host::usage();
        let load_cpu = load_threads.seconds();
        let truth = fetch_truth(&http, base_url).await?;
        let r = &result
            .stages
            .first()
            .ok_or("the benchmark ran no stage")?
            .recorder;
        let q = |m: Metric, p: f64| {
            r.value(m, Aggregation::Percentile(p))
                .map_or(0, |v| v.round() as u64)
        };
        let row = BenchRow {
            tokenizer: tokenizer_name(options),
            requested_rate: rate,
            achieved_rate: r.achieved_rate().unwrap_or(0.0),
            sent: r.sent(),
            ok: r.ok,
            not_ok: r.accounted() - r.ok,
            schedule_delay_p50_us: q(Metric::ScheduleDelay, 50.0),
            schedule_delay_p99_us: q(Metric::ScheduleDelay, 99.0),
            ttft_client_p50_us: q(Metric::Ttft, 50.0),
            ttft_client_p99_us: q(Metric::Ttft, 99.0),
            itl_client_p50_us: q(Metric::Itl, 50.0),
            itl_client_p99_us: q(Metric::Itl, 99.0),
            truth,
            usage_exact: r.output_tokens_from_usage == r.ok
                && r.output_tokens_total == r.ok * options.output_tokens as u64,
            client_cpu_seconds: after.cpu_seconds - before.cpu_seconds,
            cpu_per_request_us: (after.cpu_seconds - before.cpu_seconds) * 1e6
                / r.sent().max(1) as f64,
            load_cpu_per_request_us: load_cpu * 1e6 / r.sent().max(1) as f64,
            cores_busy: (after.cpu_seconds - before.cpu_seconds) / options.duration.as_secs_f64(),
            peak_rss_mib: after.peak_rss_bytes as f64 / (1024.0 * 1024.0),
            first_send_ms: r.first_sent().map_or(f64::NAN, |t| {
                t.saturating_duration_since(started).as_secs_f64() * 1e3
            }),
            ttft_slo_attainment: r.slo.and(r.slo_attainment()),
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

fn tokenizer_name(options: &BenchOptions) -> String {
    options
        .tokenizer
        .as_ref()
        .map_or("built-in".into(), |path| {
            let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
            // `.../llama3/tokenizer.json` reads better as `llama3/tokenizer.json`.
            match (path.parent().and_then(name), name(path)) {
                (Some(dir), Some(file)) => format!("{dir}/{file}"),
                _ => path.display().to_string(),
            }
        })
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1e3)
}

/// `client / truth / difference`, milliseconds.
fn against_truth(client: u64, truth: u64) -> String {
    format!(
        "{} / {} / {:+.2}",
        ms(client),
        ms(truth),
        (client as f64 - truth as f64) / 1e3
    )
}

/// The header of the results table.
pub fn table_header() -> String {
    "| tokenizer | rate req/s | achieved | sent | not ok | sched delay p50/p99 ms | TTFT p50 client/truth/err ms | TTFT p99 client/truth/err ms | ITL p50 client/truth/err ms | ITL p99 client/truth/err ms | usage exact | client CPU s | CPU µs/req | load thread CPU µs/req | cores busy | peak RSS MiB | first send ms | TTFT SLO met |\n\
     |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        .to_string()
}

/// One markdown row.
pub fn table_row(r: &BenchRow) -> String {
    let mut line = String::new();
    let t = &r.truth;
    let _ = write!(
        line,
        "| {} | {:.0} | {:.1} | {} | {} | {} / {} | {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.3} | {:.1} | {:.1} | {} |",
        r.tokenizer,
        r.requested_rate,
        r.achieved_rate,
        r.sent,
        r.not_ok,
        ms(r.schedule_delay_p50_us),
        ms(r.schedule_delay_p99_us),
        against_truth(r.ttft_client_p50_us, t.ttft.p50_us),
        against_truth(r.ttft_client_p99_us, t.ttft.p99_us),
        against_truth(r.itl_client_p50_us, t.itl.p50_us),
        against_truth(r.itl_client_p99_us, t.itl.p99_us),
        if r.usage_exact { "yes" } else { "NO" },
        r.client_cpu_seconds,
        r.cpu_per_request_us,
        r.load_cpu_per_request_us,
        r.cores_busy,
        r.peak_rss_mib,
        r.first_send_ms,
        r.ttft_slo_attainment
            .map_or("-".into(), |a| format!("{:.2} %", a * 100.0)),
    );
    line
}
