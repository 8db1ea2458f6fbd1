//! The `infergate` command line: `run`, `validate`, `sim` and `bench`, thin doors onto the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use infergate::bench::{self, BenchOptions, SimChild};
use infergate::gate::{ErrorCause, ScenarioOutcome, Status};
use infergate::harness::scenario_files;
use infergate::plan::Quick;
use infergate::run::{RunOptions, Target};
use infergate::scenario::Scenario;
use infergate::sim::{EngineConfig, FixedTiming, SimConfig};
use infergate::store::publish::{PublishOptions, Upload};
use infergate::{execute, report};

/// Exit codes, also listed in the README.
mod exit {
    pub const PASSED: u8 = 0;
    pub const THRESHOLD_FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const RUNNER_INVALID: u8 = 3;
    pub const RUN_ERROR: u8 = 4;
}

#[derive(Parser)]
#[command(
    name = "infergate",
    version,
    about = "A performance gate for LLM inference endpoints",
    long_about = "Runs inference-perf style scenario files against an OpenAI-compatible endpoint, checks \
                  k6-style thresholds, and exits non-zero when one fails.\n\n\
                  Exit codes: 0 passed, 1 a threshold failed, 2 bad input, 3 the runner could not keep up \
                  (results invalid), 4 the run could not happen (target unreachable)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenario files and judge them.
    #[command(
        after_help = "Examples:\n  infergate run suites/baseline.yaml --target http://localhost:8000\n  \
                            infergate run suites/ --out reports/\n  infergate run suites/smoke.yaml   \
                            # no target: the embedded simulator, stages shortened"
    )]
    Run {
        /// Scenario files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Endpoint root, e.g. http://localhost:8000 (overrides server.base_url). Without it, each
        /// file's server.base_url is used, or the embedded simulator when a file has none.
        #[arg(long, env = "INFERGATE_TARGET", conflicts_with = "sim")]
        target: Option<String>,
        /// Run against the embedded simulator even when a file sets server.base_url.
        #[arg(long)]
        sim: bool,
        /// Directory for reports (one subdirectory per scenario) and junit.xml.
        #[arg(long, env = "INFERGATE_OUT")]
        out: Option<PathBuf>,
        /// Against the embedded simulator, run stages at full length instead of shortening them.
        #[arg(long)]
        full: bool,
        /// Seconds to keep polling a target that is down or still starting before giving up.
        #[arg(long, env = "INFERGATE_WAIT_READY", value_name = "SECONDS")]
        wait_ready: Option<f64>,
        /// Compare each scenario with its baseline under this directory or s3://bucket/prefix
        /// (LOCATION/<scenario>/); a regression beyond the noise fails the scenario.
        #[arg(long, env = "INFERGATE_BASELINE", value_name = "LOCATION")]
        baseline: Option<String>,
        /// Save each valid run as its scenario's baseline under this directory or s3://bucket/prefix.
        #[arg(long, env = "INFERGATE_SAVE_BASELINE", value_name = "LOCATION")]
        save_baseline: Option<String>,
        /// Compare even when the baseline's load-relevant config differs from the scenario's.
        #[arg(long)]
        force_baseline: bool,
        /// Upload reports to the file's storage.simple_storage_service: auto (not for the
        /// simulator), always or never.
        #[arg(long, env = "INFERGATE_UPLOAD", default_value = "auto", value_parser = Upload::parse)]
        upload: Upload,
    },
    /// Check scenario files without running them; lists every file's error with line and key.
    #[command(after_help = "Example:\n  infergate validate suites/")]
    Validate {
        /// Scenario files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Serve the engine simulator (OpenAI-compatible, continuous batching model).
    #[command(
        after_help = "Example:\n  infergate sim --port 8000 --max-batch 32\n  \
                            curl -N localhost:8000/v1/completions -d '{\"prompt\":\"hi\",\"max_tokens\":5,\"stream\":true}'"
    )]
    Sim {
        /// Address to listen on; only loopback makes sense for a simulator.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Model name served by /v1/models and expected in requests.
        #[arg(long, default_value = "infergate-sim")]
        model: String,
        /// Sequences decoded together at most; the rest queue.
        #[arg(long, default_value_t = EngineConfig::default().max_batch)]
        max_batch: usize,
        /// Fixed time of one decode step, milliseconds.
        #[arg(long, default_value_t = EngineConfig::default().decode_step_base.as_secs_f64() * 1e3)]
        step_ms: f64,
        /// Added to each step per running sequence, microseconds.
        #[arg(long, default_value_t = EngineConfig::default().decode_step_per_seq.as_secs_f64() * 1e6)]
        per_seq_us: f64,
        /// Prefill time per prompt token, microseconds.
        #[arg(long, default_value_t = EngineConfig::default().prefill_per_token.as_secs_f64() * 1e6)]
        prefill_us: f64,
        /// Known-timing mode: every first token this many milliseconds after the request arrives,
        /// whatever the load (no batching, no queue). Needs --fixed-itl-ms.
        #[arg(long, requires = "fixed_itl_ms")]
        fixed_ttft_ms: Option<f64>,
        /// Known-timing mode: milliseconds between tokens. Needs --fixed-ttft-ms.
        #[arg(long, requires = "fixed_ttft_ms")]
        fixed_itl_ms: Option<f64>,
        /// Pin the simulator to this CPU core (Linux).
        #[arg(long)]
        cpu: Option<usize>,
        /// Count prompt tokens with this tokenizer.json (or a directory holding one) instead of the
        /// built-in word-level tokenizer.
        #[arg(long)]
        tokenizer: Option<String>,
    },
    /// Redraw the plots and report.html of saved runs (scenario directories, or a run directory).
    #[command(
        after_help = "Examples:\n  infergate report reports/saturation\n  infergate report reports/"
    )]
    Report {
        /// Directories holding verdicts.json, or directories of them.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Show two saved runs of a scenario side by side (markdown), stage by stage.
    #[command(
        after_help = "Example:\n  infergate compare baseline-run/saturation reports/saturation"
    )]
    Compare {
        /// The earlier run (a scenario directory holding verdicts.json).
        a: PathBuf,
        /// The later run.
        b: PathBuf,
    },
    /// Measure the load generator itself against a known-timing simulator on another core.
    #[command(
        long_about = "Starts `infergate sim` in fixed-timing mode as a child process pinned to one core, \
                      pins itself to another, and runs one constant-rate stage per --rates value. \
                      Prints a markdown table: achieved rate, schedule delay, client TTFT/ITL next to \
                      the simulator's own measurement of the same streams (truth) and the difference, \
                      whether output counts equal the server's usage, client CPU seconds, peak RSS and \
                      the time to the first send.",
        after_help = "Examples:\n  infergate bench\n  infergate bench --rates 1000,2000,4000 --duration 20\n  \
                      infergate bench --rates 2000 --duration 500   # 1,000,000 requests: memory stays flat"
    )]
    Bench {
        /// Requests per second, one stage each.
        #[arg(long, value_delimiter = ',', default_values_t = [250.0, 500.0, 1000.0, 2000.0])]
        rates: Vec<f64>,
        /// Seconds per rate.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 32)]
        prompt_tokens: u32,
        /// Streamed tokens per request.
        #[arg(long, default_value_t = 128)]
        output_tokens: u32,
        /// The simulator's time to first token, milliseconds.
        #[arg(long, default_value_t = 20.0)]
        ttft_ms: f64,
        /// The simulator's time between tokens, milliseconds.
        #[arg(long, default_value_t = 2.0)]
        itl_ms: f64,
        /// Core for the load generator; the simulator gets --sim-cpu.
        #[arg(long, default_value_t = 0)]
        client_cpu: usize,
        #[arg(long, default_value_t = 1)]
        sim_cpu: usize,
        /// Do not pin either process.
        #[arg(long)]
        no_pin: bool,
        /// Also write the rows as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            paths,
            target,
            sim,
            out,
            full,
            wait_ready,
            baseline,
            save_baseline,
            force_baseline,
            upload,
        } => {
            let target = match (target, sim) {
                (_, true) => Target::Simulator,
                (Some(url), false) if url != "scenario" => Target::Url(url),
                _ => Target::Scenario,
            };
            let wait_ready = wait_ready
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64);
            let publish = PublishOptions {
                baseline,
                save_baseline,
                force_baseline: force_baseline
                    || std::env::var("INFERGATE_FORCE_BASELINE").is_ok_and(|v| v == "1"),
                upload,
            };
            run(paths, target, out, full, wait_ready, publish)
        }
        Command::Validate { paths } => validate(paths),
        Command::Sim {
            host,
            port,
            model,
            max_batch,
            step_ms,
            per_seq_us,
            prefill_us,
            fixed_ttft_ms,
            fixed_itl_ms,
            cpu,
            tokenizer,
        } => {
            let engine = EngineConfig {
                max_batch: max_batch.max(1),
                decode_step_base: millis(step_ms),
                decode_step_per_seq: millis(per_seq_us / 1e3),
                prefill_per_token: millis(prefill_us / 1e3),
            };
            let fixed = fixed_ttft_ms
                .zip(fixed_itl_ms)
                .map(|(ttft, itl)| FixedTiming {
                    ttft: millis(ttft),
                    itl: millis(itl),
                });
            if let Some(cpu) = cpu
                && let Err(e) = bench::host::pin_to_cpu(cpu)
            {
                eprintln!("error: {e}");
                return ExitCode::from(exit::BAD_INPUT);
            }
            let mut config = SimConfig {
                model,
                engine,
                fixed,
                ..SimConfig::default()
            };
            if let Some(name) = tokenizer {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime starts");
                match runtime.block_on(infergate::plan::tokens::TokenCounter::load(&name, None)) {
                    Ok(tokens) => config.tokens = std::sync::Arc::new(tokens),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(exit::BAD_INPUT);
                    }
                }
            }
            sim(&host, port, config)
        }
        Command::Report { dirs } => report(&dirs),
        Command::Compare { a, b } => compare(&a, &b),
        Command::Bench {
            rates,
            duration,
            prompt_tokens,
            output_tokens,
            ttft_ms,
            itl_ms,
            client_cpu,
            sim_cpu,
            no_pin,
            json,
        } => {
            let options = BenchOptions {
                rates: rates.into_iter().filter(|r| *r > 0.0).collect(),
                duration: millis(duration * 1e3),
                prompt_tokens: prompt_tokens.max(1),
                output_tokens: output_tokens.max(1),
                ttft: millis(ttft_ms),
                itl: millis(itl_ms),
                client_cpu: (!no_pin).then_some(client_cpu),
                sim_cpu: (!no_pin).then_some(sim_cpu),
            };
            run_bench(&options, json.as_deref())
        }
    }
}

/// Scenario directories under `dirs`: each directory holding `verdicts.json`, or its subdirectories that do.
fn run_dirs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        if dir.join("verdicts.json").is_file() {
            found.push(dir.clone());
        } else if let Ok(entries) = std::fs::read_dir(dir) {
            let mut subdirs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("verdicts.json").is_file())
                .collect();
            subdirs.sort();
            found.extend(subdirs);
        }
    }
    found
}

fn report(dirs: &[PathBuf]) -> ExitCode {
    let found = run_dirs(dirs);
    if found.is_empty() {
        eprintln!("error: no run directories (holding verdicts.json) under the given paths");
        return ExitCode::from(exit::BAD_INPUT);
    }
    let mut code = exit::PASSED;
    for dir in found {
        match report::html::render_dir(&dir) {
            Ok(()) => println!("{}", dir.join("report.html").display()),
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::BAD_INPUT;
            }
        }
    }
    ExitCode::from(code)
}

fn compare(a: &std::path::Path, b: &std::path::Path) -> ExitCode {
    use report::html::RunDir;
    match (RunDir::load(a), RunDir::load(b)) {
        (Ok(ra), Ok(rb)) => {
            let a_name = a.display().to_string();
            let b_name = b.display().to_string();
            print!("{}", report::compare::render(&ra, &rb, &a_name, &b_name));
            if let Some(verdicts) = report::compare::noise_aware(a, b) {
                print!("{verdicts}");
            }
            ExitCode::from(exit::PASSED)
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

/// A non-negative, finite number of milliseconds as a duration (anything else is zero).
fn millis(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1e3)
    } else {
        Duration::ZERO
    }
}

fn run_bench(options: &BenchOptions, json: Option<&std::path::Path>) -> ExitCode {
    let sim = match SimChild::start(options.ttft, options.itl, options.sim_cpu) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::RUN_ERROR);
        }
    };
    if let Some(cpu) = options.client_cpu
        && let Err(e) = bench::host::pin_to_cpu(cpu)
    {
        eprintln!("error: {e}");
        return ExitCode::from(exit::RUN_ERROR);
    }
    eprintln!(
        "infergate bench: {} prompt tokens, {} streamed output tokens, simulator TTFT {:?} ITL {:?} at {}; {:.0} s per rate",
        options.prompt_tokens,
        options.output_tokens,
        options.ttft,
        options.itl,
        sim.base_url(),
        options.duration.as_secs_f64()
    );
    let runtime = infergate::run::load_runtime().expect("runtime starts");
    println!("{}", bench::table_header());
    let rows = runtime.block_on(bench::run(options, sim.base_url(), |row| {
        println!("{}", bench::table_row(row))
    }));
    match rows {
        Ok(rows) => {
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&rows).expect("rows serialise");
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::from(exit::RUN_ERROR);
                }
            }
            ExitCode::from(exit::PASSED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::RUN_ERROR)
        }
    }
}

/// Files named directly, plus every scenario file under named directories.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = scenario_files(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if found.is_empty() {
                return Err(format!(
                    "{}: no scenario files (*.yaml, *.yml)",
                    path.display()
                ));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn run(
    paths: Vec<PathBuf>,
    target: Target,
    out: Option<PathBuf>,
    full: bool,
    wait_ready: Option<Duration>,
    publish: PublishOptions,
) -> ExitCode {
    let files = match expand(&paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let options = RunOptions {
        target,
        quick: (!full).then(Quick::default),
        progress: true,
        api_key: infergate::run::api_key_from_env(),
        wait_ready,
        publish,
        ..RunOptions::default()
    };
    let mut outcomes = Vec::new();
    for file in &files {
        let name = file
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        let out_root = out.clone().unwrap_or_else(|| default_out(file));
        outcomes.push(execute::scenario_file(
            file,
            &name,
            &options,
            &out_root.join(&name),
        ));
        if let Err(e) = report::write_junit(&out_root.join("junit.xml"), &outcomes) {
            eprintln!("error: {e}");
        }
    }
    ExitCode::from(exit_code(&outcomes))
}

/// `storage.local_storage.path` when the file sets it, else `reports/`.
fn default_out(file: &std::path::Path) -> PathBuf {
    Scenario::load(file)
        .ok()
        .and_then(|s| s.storage.local_path)
        .unwrap_or_else(|| PathBuf::from("reports"))
}

/// The most serious outcome decides: run error > bad input > invalid > failed > passed.
fn exit_code(outcomes: &[ScenarioOutcome]) -> u8 {
    outcomes
        .iter()
        .map(|o| match o {
            ScenarioOutcome::Error {
                cause: ErrorCause::BadInput,
                ..
            } => exit::BAD_INPUT,
            ScenarioOutcome::Error {
                cause: ErrorCause::Run,
                ..
            } => exit::RUN_ERROR,
            ScenarioOutcome::Judged { gate, .. } => match gate.status {
                Status::Passed => exit::PASSED,
                Status::Failed => exit::THRESHOLD_FAILED,
                Status::Invalid => exit::RUNNER_INVALID,
            },
        })
        .max_by_key(|code| match *code {
            exit::RUN_ERROR => 4,
            exit::BAD_INPUT => 3,
            exit::RUNNER_INVALID => 2,
            exit::THRESHOLD_FAILED => 1,
            _ => 0,
        })
        .unwrap_or(exit::PASSED)
}

fn validate(paths: Vec<PathBuf>) -> ExitCode {
    let files = match expand(&paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let mut bad = 0;
    for file in &files {
        match Scenario::load(file) {
            Ok(scenario) => {
                println!(
                    "ok: {} ({} stages, {} thresholds)",
                    file.display(),
                    scenario.load.stages.len(),
                    scenario.thresholds.len()
                );
                for warning in &scenario.warnings {
                    println!("  warning: {warning}");
                }
            }
            Err(errors) => {
                bad += 1;
                for e in errors.0 {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} scenario files have errors", files.len());
        ExitCode::from(exit::BAD_INPUT)
    } else {
        ExitCode::from(exit::PASSED)
    }
}

fn sim(host: &str, port: u16, config: SimConfig) -> ExitCode {
    let addr: SocketAddr = match format!("{host}:{port}").parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: `{host}:{port}` is not an address: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime starts");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(exit::RUN_ERROR);
            }
        };
        let addr = listener.local_addr().unwrap_or(addr);
        let mode = match config.fixed {
            Some(f) => format!("fixed timing: TTFT {:?}, ITL {:?}", f.ttft, f.itl),
            None => format!("continuous batching, max batch {}", config.engine.max_batch),
        };
        eprintln!(
            "infergate sim: serving model `{}` on http://{addr} ({mode}; Ctrl-C stops)",
            config.model
        );
        infergate::sim::serve(config, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        ExitCode::from(exit::PASSED)
    })
}
