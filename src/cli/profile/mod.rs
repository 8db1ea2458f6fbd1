//! `infergate profile`: genai-perf's (and AIPerf's) `profile` command line, run as an infergate
//! scenario. The flags become a scenario file (synthetic prompts of the given lengths, one
//! closed-loop stage of `--concurrency` or an open-loop one of `--request-rate`, per-request
//! records on), written into the run's artifact directory and run by `execute::scenario_file`, as
//! `infergate run` runs a file: thresholds, baselines, reports and the exit code are the same. Then
//! genai-perf's export (`report::genai_perf`) and its console table, and with `--generate-plots` its
//! plots. `--concurrency 10,20,40` (AIPerf's list) runs each level in turn, each in its own
//! directory, `artifacts/<model>-openai-<endpoint>-concurrency<N>/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

mod scenario;

pub use scenario::{Level, levels};
use scenario::{goodput, url_of};

use crate::execute::{self, OutRoot};
use crate::gate::ScenarioOutcome;
use crate::options::SuiteArgs;
use crate::report::genai_perf;
use crate::report::{self, plots};
use crate::run::Target;

use super::exit;

/// Profile an endpoint with genai-perf's flags (and AIPerf's names for them).
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Example (seed 003's loop, one level):\n  infergate profile -m openai/gpt-oss-20b \
    --url http://llm-gpu.llm.svc.cluster.local:8000 --service-kind openai --endpoint-type completions \
    --num-prompts 100 --synthetic-input-tokens-mean 200 --synthetic-input-tokens-stddev 20 \
    --output-tokens-mean 100 --output-tokens-stddev 10 --concurrency 20 \
    --tokenizer hf-internal-testing/llama-tokenizer --generate-plots\n\n\
    Without --url, the embedded simulator. Exit codes as `infergate run`."
)]
pub struct ProfileArgs {
    /// The model to request.
    #[arg(
        short = 'm',
        long = "model",
        visible_alias = "model-names",
        required = true
    )]
    pub model: String,
    /// The endpoint's root, e.g. http://localhost:8000 (`host:port` means http). Without it, the
    /// embedded simulator (or INFERGATE_TARGET).
    #[arg(short = 'u', long)]
    pub url: Option<String>,
    /// OpenAI-compatible endpoints only.
    #[arg(long, default_value = "openai", value_parser = ["openai"])]
    pub service_kind: String,
    #[arg(long, default_value = "chat", value_parser = ["chat", "completions"])]
    pub endpoint_type: String,
    /// Stream responses (time to first token, inter-token latency).
    #[arg(long)]
    pub streaming: bool,
    /// Distinct prompts genai-perf samples from; infergate draws a fresh prompt for every request,
    /// so this is recorded, not needed.
    #[arg(long, visible_alias = "num-dataset-entries", value_name = "N")]
    pub num_prompts: Option<u64>,
    #[arg(long, visible_aliases = ["isl", "prompt-input-tokens-mean"], default_value_t = 550)]
    pub synthetic_input_tokens_mean: u32,
    #[arg(long, visible_aliases = ["isl-stddev", "prompt-input-tokens-stddev"], default_value_t = 0.0)]
    pub synthetic_input_tokens_stddev: f64,
    /// Without it, the model decides when to stop (no max_tokens).
    #[arg(long, visible_aliases = ["osl", "prompt-output-tokens-mean"])]
    pub output_tokens_mean: Option<u32>,
    #[arg(long, visible_aliases = ["osl-stddev", "prompt-output-tokens-stddev"], default_value_t = 0.0)]
    pub output_tokens_stddev: f64,
    /// Requests in flight; a list (10,20,40) runs each level in turn. Default 1.
    #[arg(
        long,
        value_delimiter = ',',
        conflicts_with = "request_rate",
        value_name = "N[,N...]"
    )]
    pub concurrency: Vec<u32>,
    /// Requests per second (open loop) instead of a concurrency.
    #[arg(long, value_name = "PER_SECOND")]
    pub request_rate: Option<f64>,
    /// How requests arrive at --request-rate.
    #[arg(long, default_value = "constant", value_parser = ["constant", "poisson"])]
    pub request_rate_mode: String,
    /// Requests measured (each level). Default: max(10, 2 x concurrency), as genai-perf.
    #[arg(long, visible_alias = "num-requests", value_name = "N")]
    pub request_count: Option<u64>,
    /// Requests sent first and left out of every figure.
    #[arg(
        long,
        visible_alias = "num-warmup-requests",
        default_value_t = 0,
        value_name = "N"
    )]
    pub warmup_request_count: u64,
    /// A hub id (downloaded, as INFERGATE_TOKENIZER) or a tokenizer.json (or its folder).
    #[arg(long)]
    pub tokenizer: Option<String>,
    #[arg(
        long,
        visible_alias = "output-artifact-dir",
        default_value = "artifacts"
    )]
    pub artifact_dir: PathBuf,
    /// Its stem names the exports: profile_export.json gives profile_export_genai_perf.json/.csv.
    #[arg(long, default_value = "profile_export.json")]
    pub profile_export_file: PathBuf,
    /// Draw genai-perf's plots into each run's plots/ folder.
    #[arg(long)]
    pub generate_plots: bool,
    /// Goodput constraints, KEY:VALUE (milliseconds; tokens/s for output_token_throughput_per_user).
    #[arg(short = 'g', long, num_args = 1.., value_name = "KEY:VALUE")]
    pub goodput: Vec<String>,
    /// Seeds prompts, lengths and arrivals.
    #[arg(long)]
    pub random_seed: Option<u64>,
    /// A header on every request, `Name:Value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// Seconds before a request counts as timed out.
    #[arg(long, value_name = "SECONDS")]
    pub request_timeout_seconds: Option<f64>,
    /// infergate: a threshold, `METRIC: EXPRESSION` (repeatable), e.g. "ttft: p(99) < 2s".
    #[arg(long = "threshold", value_name = "METRIC: EXPRESSION")]
    pub thresholds: Vec<String>,
    /// infergate: compare with the baseline under this directory or s3://bucket/prefix.
    #[arg(long, value_name = "LOCATION")]
    pub baseline: Option<String>,
    /// infergate: save a valid run as the baseline here.
    #[arg(long, value_name = "LOCATION")]
    pub save_baseline: Option<String>,
    /// infergate: compare even when the baseline's load differs.
    #[arg(long)]
    pub force_baseline: bool,
}

/// The scenario each level runs, beside its reports.
pub const SCENARIO_FILE: &str = "infergate_scenario.yaml";

pub fn main(args: ProfileArgs) -> ExitCode {
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(exit::BAD_INPUT)
    };
    let levels = match levels(&args) {
        Ok(levels) => levels,
        Err(e) => return fail(e),
    };
    let options = match SuiteArgs::from_env().and_then(|env| {
        SuiteArgs {
            target: args.url.as_deref().map(url_of).or(env.target.clone()),
            model: Some(args.model.clone()),
            tokenizer: args.tokenizer.clone().or(env.tokenizer.clone()),
            full: true,
            baseline: args.baseline.clone().or(env.baseline.clone()),
            save_baseline: args.save_baseline.clone().or(env.save_baseline.clone()),
            force_baseline: args.force_baseline || env.force_baseline,
            ..env
        }
        .options(Target::Simulator)
    }) {
        Ok(options) => options,
        Err(e) => return fail(e),
    };
    let constraints = goodput(&args.goodput).unwrap_or_default();
    let mut outcomes = Vec::new();
    for level in &levels {
        let dir = args.artifact_dir.join(&level.name);
        let file = dir.join(SCENARIO_FILE);
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&file, scenario_text(&level.scenario)));
        if let Err(e) = written {
            return fail(format!("cannot write {}: {e}", file.display()));
        }
        let root = OutRoot::Fixed(args.artifact_dir.clone());
        let (outcome, _) = execute::scenario_file(&file, &level.name, &options, &root);
        if matches!(outcome, ScenarioOutcome::Judged { .. }) {
            match genai_export(&args, level, &dir, &constraints) {
                Ok(line) => println!("[{}] {line}", level.name),
                Err(e) => eprintln!("[{}] {e}", level.name),
            }
        }
        outcomes.push(outcome);
        if let Err(e) = report::write_junit(&args.artifact_dir.join("junit.xml"), &outcomes) {
            eprintln!("error: {e}");
        }
    }
    ExitCode::from(super::suite::exit_code(&outcomes))
}

/// The scenario as the file written beside the reports.
fn scenario_text(scenario: &Value) -> String {
    let yaml = serde_yaml::to_string(scenario).expect("a JSON value is YAML");
    format!("# Written by `infergate profile`; `infergate run` runs it again.\n{yaml}")
}

/// genai-perf's JSON and CSV (and plots) from the run's records in `dir`, and its table printed;
/// returns where they went.
fn genai_export(
    args: &ProfileArgs,
    level: &Level,
    dir: &Path,
    constraints: &[(String, f64)],
) -> Result<String, String> {
    let records = dir.join(crate::run::records::FILE_NAME);
    let requests = genai_perf::read_requests(&records, args.streaming)?;
    let good = (!constraints.is_empty()).then(|| genai_perf::good_requests(&requests, constraints));
    let export = genai_perf::export(&requests, good, level.input_config.clone())
        .ok_or("no request succeeded: genai-perf's export was not written")?;
    let stem = args
        .profile_export_file
        .file_stem()
        .map_or("profile_export".into(), |s| {
            s.to_string_lossy().into_owned()
        });
    let json = dir.join(format!("{stem}_genai_perf.json"));
    let csv = dir.join(format!("{stem}_genai_perf.csv"));
    let pretty = serde_json::to_string_pretty(&export).expect("the export serialises");
    std::fs::write(&json, pretty).map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    std::fs::write(&csv, export.csv(args.streaming))
        .map_err(|e| format!("cannot write {}: {e}", csv.display()))?;
    println!("{}", export.table(args.streaming));
    let mut line = format!(
        "genai-perf export: {} and {}",
        json.display(),
        csv.display()
    );
    if args.generate_plots {
        match plots::genai_perf::draw_all(&dir.join("plots"), &requests) {
            Ok(n) => line += &format!("; {n} plots in {}", dir.join("plots").display()),
            Err(e) => line += &format!("; no plots: {e}"),
        }
    }
    Ok(line)
}

/// Every flag `profile` takes, for the error about one it does not.
pub fn supported_flags() -> Vec<String> {
    use clap::{Args, Command};
    let command = ProfileArgs::augment_args(Command::new("profile"));
    command
        .get_arguments()
        .flat_map(|a| {
            let short = a.get_short().map(|s| format!("-{s}"));
            let longs = a
                .get_long()
                .into_iter()
                .chain(a.get_visible_aliases().unwrap_or_default())
                .map(|l| format!("--{l}"));
            short.into_iter().chain(longs)
        })
        .collect()
}
