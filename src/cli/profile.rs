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

use serde_json::{Value, json};

use crate::execute::{self, OutRoot};
use crate::gate::ScenarioOutcome;
use crate::options::SuiteArgs;
use crate::report::genai_perf::{self, GOODPUT_KEYS};
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

/// One run of the command: a level of concurrency, or the request rate.
#[derive(Debug, Clone)]
pub struct Level {
    /// `<model>-openai-<endpoint>-concurrency<N>` (genai-perf's artifact directory).
    pub name: String,
    pub scenario: Value,
    pub input_config: Value,
}

/// The runs the flags ask for; an error names the flag and what it takes.
pub fn levels(args: &ProfileArgs) -> Result<Vec<Level>, String> {
    let stimuli: Vec<(String, Value, Value)> = match (args.request_rate, &args.concurrency[..]) {
        (Some(rate), _) if !(rate.is_finite() && rate > 0.0) => {
            return Err(format!(
                "--request-rate {rate}: give requests per second above 0"
            ));
        }
        (Some(rate), _) => {
            let n = args.request_count.unwrap_or(10);
            // Evenly spaced arrivals strictly before the end: exactly n of them.
            let stage = json!({"rate": rate, "duration": (n as f64 - 0.5).max(0.5) / rate});
            vec![(
                format!("request_rate{rate:?}"),
                stage,
                json!({"request_rate": rate}),
            )]
        }
        (None, []) => vec![concurrent(args, 1)],
        (None, levels) if levels.contains(&0) => {
            return Err("--concurrency: give requests in flight, 1 or more".into());
        }
        (None, levels) => levels.iter().map(|&c| concurrent(args, c)).collect(),
    };
    if args.request_count == Some(0) {
        return Err("--request-count: give 1 request or more".into());
    }
    let model = args.model.replace('/', "_");
    stimuli
        .into_iter()
        .map(|(label, stage, stimulus)| {
            let name = format!("{model}-openai-{}-{label}", args.endpoint_type);
            Ok(Level {
                scenario: scenario(args, stage)?,
                input_config: input_config(args, stimulus),
                name,
            })
        })
        .collect()
}

fn concurrent(args: &ProfileArgs, c: u32) -> (String, Value, Value) {
    let n = args.request_count.unwrap_or(10.max(2 * u64::from(c)));
    let stage = json!({"num_requests": n, "concurrency_level": c});
    (format!("concurrency{c}"), stage, json!({"concurrency": c}))
}

/// A length distribution: genai-perf's normal draw, at least one token.
fn lengths(mean: u32, std_dev: f64) -> Result<Value, String> {
    if !(std_dev.is_finite() && std_dev >= 0.0) {
        return Err(format!("a standard deviation of {std_dev}: give 0 or more"));
    }
    let max = (f64::from(mean) + 8.0 * std_dev)
        .ceil()
        .max(f64::from(mean.max(1)));
    Ok(json!({"mean": mean, "std_dev": std_dev, "min": 1, "max": max as u64}))
}

/// The scenario file of one level.
fn scenario(args: &ProfileArgs, stage: Value) -> Result<Value, String> {
    let api_type = if args.endpoint_type == "chat" {
        "chat"
    } else {
        "completion"
    };
    let mut api = json!({"type": api_type, "streaming": args.streaming});
    if !args.headers.is_empty() {
        let mut headers = serde_json::Map::new();
        for h in &args.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("--header `{h}`: write it as Name:Value"))?;
            headers.insert(name.trim().into(), value.trim().into());
        }
        api["headers"] = headers.into();
    }
    let input = lengths(
        args.synthetic_input_tokens_mean,
        args.synthetic_input_tokens_stddev,
    )
    .map_err(|e| format!("--synthetic-input-tokens-stddev: {e}"))?;
    let mut data = json!({"type": "synthetic", "input_distribution": input});
    let mut server =
        json!({"model_name": args.model, "ignore_eos": args.output_tokens_mean.is_some()});
    if let Some(mean) = args.output_tokens_mean {
        data["output_distribution"] = lengths(mean, args.output_tokens_stddev)
            .map_err(|e| format!("--output-tokens-stddev: {e}"))?;
    }
    if let Some(url) = &args.url {
        server["base_url"] = url_of(url).into();
    }
    let rate = stage.get("rate").is_some();
    let mut load = json!({
        "type": if !rate { "concurrent" } else { args.request_rate_mode.as_str() },
        "stages": [stage],
    });
    if let Some(c) = stage_concurrency(&load) {
        load["worker_max_concurrency"] = c.max(100).into();
    }
    if args.warmup_request_count > 0 {
        load["warmup"] = json!({"requests": args.warmup_request_count});
    }
    if let Some(t) = args.request_timeout_seconds {
        load["request_timeout"] = t.into();
    }
    if let Some(seed) = args.random_seed {
        load["base_seed"] = seed.into();
    }
    let mut s = json!({
        "api": api,
        "data": data,
        "load": load,
        "server": server,
        "report": {"request_lifecycle": {"per_request": true}},
        "thresholds": thresholds(&args.thresholds)?,
    });
    if let Some(tokenizer) = &args.tokenizer {
        s["tokenizer"] = json!({"pretrained_model_name_or_path": tokenizer});
    }
    let constraints = goodput(&args.goodput)?;
    if !constraints.is_empty() {
        s["report"]["goodput"] = json!({"constraints": infergate_constraints(&constraints)});
    }
    Ok(s)
}

fn stage_concurrency(load: &Value) -> Option<u64> {
    load["stages"][0]["concurrency_level"].as_u64()
}

/// `host:port` as `http://host:port`; a URL with a scheme as it is.
fn url_of(url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// `--threshold "ttft: p(99) < 2s"`, grouped by metric. The metric ends at the first `:` outside
/// braces (`ttft{stage:0}: ...`).
fn thresholds(given: &[String]) -> Result<Value, String> {
    let mut by_metric = serde_json::Map::new();
    for t in given {
        let mut depth = 0i32;
        let split = t.char_indices().find(|&(_, c)| {
            depth += i32::from(c == '{') - i32::from(c == '}');
            c == ':' && depth == 0
        });
        let Some((at, _)) = split else {
            return Err(format!(
                "--threshold `{t}`: write it as METRIC: EXPRESSION, e.g. \"ttft: p(99) < 2s\""
            ));
        };
        let (metric, expression) = (t[..at].trim(), t[at + 1..].trim());
        let list = by_metric
            .entry(metric.to_string())
            .or_insert_with(|| json!([]));
        list.as_array_mut().expect("a list").push(expression.into());
    }
    Ok(by_metric.into())
}

/// `--goodput time_to_first_token:300 request_latency:2000`, checked against genai-perf's keys.
fn goodput(given: &[String]) -> Result<Vec<(String, f64)>, String> {
    given
        .iter()
        .flat_map(|g| g.split_whitespace())
        .map(|pair| {
            let (key, value) = pair.split_once(':').unwrap_or((pair, ""));
            let value: f64 = value
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v > 0.0)
                .ok_or_else(|| {
                    format!("--goodput `{pair}`: write KEY:VALUE with a number above 0")
                })?;
            if !GOODPUT_KEYS.contains(&key) {
                return Err(format!(
                    "--goodput `{key}`: not a goodput metric; use {}",
                    GOODPUT_KEYS.join(", ")
                ));
            }
            Ok((key.to_string(), value))
        })
        .collect()
}

/// genai-perf's constraints as `report.goodput.constraints` (seconds; a per-user throughput is a
/// bound on the time per output token).
fn infergate_constraints(constraints: &[(String, f64)]) -> Value {
    let mut out = serde_json::Map::new();
    for (key, value) in constraints {
        let (name, seconds) = match key.as_str() {
            "time_to_first_token" => ("ttft", value / 1e3),
            "inter_token_latency" => ("tpot", value / 1e3),
            "output_token_throughput_per_user" => ("tpot", 1.0 / value),
            _ => ("request_latency", value / 1e3),
        };
        let tighter = out
            .get(name)
            .and_then(Value::as_f64)
            .map_or(seconds, |s| s.min(seconds));
        out.insert(name.into(), tighter.into());
    }
    out.into()
}

/// What genai-perf writes as `input_config`: the flags, by genai-perf's sections.
fn input_config(args: &ProfileArgs, stimulus: Value) -> Value {
    json!({
        "model_names": [args.model],
        "endpoint": {
            "service_kind": args.service_kind,
            "type": args.endpoint_type,
            "streaming": args.streaming,
            "url": args.url.as_deref().map(url_of),
        },
        "perf_analyzer": {
            "stimulus": stimulus,
            "warmup_request_count": args.warmup_request_count,
            "measurement": {"mode": "request_count", "num": args.request_count},
        },
        "input": {
            "num_dataset_entries": args.num_prompts,
            "random_seed": args.random_seed,
            "goodput": args.goodput,
            "synthetic_tokens": {
                "mean": args.synthetic_input_tokens_mean,
                "stddev": args.synthetic_input_tokens_stddev,
            },
            "output_tokens": {"mean": args.output_tokens_mean, "stddev": args.output_tokens_stddev},
        },
        "output": {
            "artifact_directory": args.artifact_dir,
            "profile_export_file": args.profile_export_file,
            "generate_plots": args.generate_plots,
        },
        "tokenizer": {"name": args.tokenizer},
        "infergate": {"thresholds": args.thresholds, "scenario_file": SCENARIO_FILE},
    })
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
