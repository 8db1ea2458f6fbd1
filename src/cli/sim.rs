//! `infergate sim`: serve the engine simulator on its own, for manual tries and for `bench`.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::bench;
use crate::sim::{EngineConfig, FixedTiming, SimConfig};

use super::{exit, millis};

/// Serve the engine simulator (OpenAI-compatible, continuous batching model).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  infergate sim --port 8000 --max-batch 32\n  \
                  infergate sim --drift 10 --cold-start 5   # noisy like a real engine, cold at first\n  \
                  infergate sim --reasoning-tokens 32       # a reasoning model, like gpt-oss on vLLM\n  \
                  curl -N localhost:8000/v1/completions -d '{\"prompt\":\"hi\",\"max_tokens\":5,\"stream\":true}'"
)]
pub struct SimArgs {
    /// Address to listen on; only loopback makes sense for a simulator.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Model name served by /v1/models and expected in requests.
    #[arg(long, default_value = "infergate-sim")]
    pub model: String,
    /// Sequences decoded together at most; the rest queue.
    #[arg(long, default_value_t = EngineConfig::default().max_batch)]
    pub max_batch: usize,
    /// Fixed time of one decode step, milliseconds.
    #[arg(long, default_value_t = EngineConfig::default().decode_step_base.as_secs_f64() * 1e3)]
    pub step_ms: f64,
    /// Added to each step per running sequence, microseconds.
    #[arg(long, default_value_t = EngineConfig::default().decode_step_per_seq.as_secs_f64() * 1e6)]
    pub per_seq_us: f64,
    /// Prefill time per prompt token, microseconds.
    #[arg(long, default_value_t = EngineConfig::default().prefill_per_token.as_secs_f64() * 1e6)]
    pub prefill_us: f64,
    /// Known-timing mode: every first token this many milliseconds after the request arrives,
    /// whatever the load (no batching, no queue). Needs --fixed-itl-ms.
    #[arg(long, requires = "fixed_itl_ms")]
    pub fixed_ttft_ms: Option<f64>,
    /// Known-timing mode: milliseconds between tokens. Needs --fixed-ttft-ms.
    #[arg(long, requires = "fixed_ttft_ms")]
    pub fixed_itl_ms: Option<f64>,
    /// Pin the simulator to this CPU core (Linux).
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Count prompt tokens with this tokenizer.json (or a directory holding one) instead of the
    /// built-in word-level tokenizer.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Run-to-run noise like a real engine's: this start runs at a pace drawn from a lognormal
    /// distribution with this coefficient of variation (median 1), e.g. 10 or 10%.
    #[arg(long, value_name = "PCT", value_parser = percent, default_value = "0")]
    pub drift: f64,
    /// Run this much slower than configured (after the drift), e.g. 25 or 25%: the changed engine
    /// in a test of the gate.
    #[arg(long, value_name = "PCT", value_parser = percent, default_value = "0")]
    pub slowdown: f64,
    /// Start cold: twice as slow at first, easing linearly to the drawn pace over this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub cold_start: f64,
    /// Act as a reasoning model: each chat answer begins with this many reasoning tokens
    /// (`delta.reasoning_content`, counted in `usage.completion_tokens_details.reasoning_tokens`),
    /// within `max_tokens` as vLLM counts them. The completions API has no reasoning, as in vLLM.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reasoning_tokens: u32,
    /// Draw the drift from this seed (a different one per start, to mimic restarts), instead of at
    /// random.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `10`, `10%` or `12.5%`: a percentage as a fraction (0.10).
pub(super) fn percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v / 100.0),
        _ => Err(format!("`{text}` is not a percentage, e.g. 10 or 10%")),
    }
}

pub fn main(args: SimArgs) -> ExitCode {
    let SimArgs {
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
        drift,
        slowdown,
        cold_start,
        reasoning_tokens,
        seed,
    } = args;
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
        && let Err(e) = bench::host::pin_to_cpus(&[cpu])
    {
        eprintln!("error: {e}");
        return ExitCode::from(exit::BAD_INPUT);
    }
    let pace = crate::sim::Pace::draw(drift, slowdown, millis(cold_start * 1e3), seed);
    let mut config = SimConfig {
        model,
        engine,
        fixed,
        pace,
        reasoning_tokens,
        ..SimConfig::default()
    };
    if let Some(name) = tokenizer {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime starts");
        match runtime.block_on(crate::plan::tokens::TokenCounter::load(&name, None)) {
            Ok(tokens) => config.tokens = std::sync::Arc::new(tokens),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::BAD_INPUT);
            }
        }
    }
    serve(&host, port, config)
}

fn serve(host: &str, port: u16, config: SimConfig) -> ExitCode {
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
        let mut mode = match config.fixed {
            Some(f) => format!("fixed timing: TTFT {:?}, ITL {:?}", f.ttft, f.itl),
            None => format!("continuous batching, max batch {}", config.engine.max_batch),
        };
        if config.reasoning_tokens > 0 {
            mode.push_str(&format!(
                "; a reasoning model: {} reasoning tokens begin each chat answer",
                config.reasoning_tokens
            ));
        }
        if config.pace.factor != 1.0 || !config.pace.cold.is_zero() {
            mode.push_str(&format!(
                "; this start runs at {:.3}x its configured timing{}",
                config.pace.factor,
                match config.pace.cold.is_zero() {
                    true => String::new(),
                    false => format!(", twice that at first for {:?}", config.pace.cold),
                }
            ));
        }
        eprintln!(
            "infergate sim: serving model `{}` on http://{addr} ({mode}; Ctrl-C stops)",
            config.model
        );
        crate::sim::serve(config, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        ExitCode::from(exit::PASSED)
    })
}
