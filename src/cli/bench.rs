//! `infergate bench`: the load generator measuring itself against a known-timing simulator.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::bench::{self, BenchOptions, SimChild};

use super::{exit, millis};

/// Measure the load generator itself against a known-timing simulator on another core.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Starts `infergate sim` in fixed-timing mode as a child process pinned to one core, \
                  pins itself to another, and runs one constant-rate stage per --rates value. \
                  Prints a markdown table: achieved rate, schedule delay, client TTFT/ITL next to \
                  the simulator's own measurement of the same streams (truth) and the difference, \
                  whether output counts equal the server's usage, client CPU seconds and \
                  microseconds per request, peak RSS and the time to the first send; with \
                  --tokenizer, prompts are `data.type: random` from that tokenizer.json. With \
                  --floor, the same stages are read instead by a minimal reader (one thread, raw \
                  sockets on epoll, a timerfd schedule, one pre-built request, no SSE or JSON \
                  parsing), whose CPU per request is the floor the kernel's socket path sets.",
    after_help = "Examples:\n  infergate bench\n  infergate bench --rates 1000,2000,4000 --duration 20\n  \
                  infergate bench --merge-shards 16   # time merging 16 shards of 1,000,000 requests\n  \
                  infergate bench --workers 2 --client-cpu 0,2 --sim-cpu 1   # needs 3 cores\n  \
                  infergate bench --rates 2000 --duration 500   # 1,000,000 requests: memory stays flat\n  \
                  infergate bench --rates 2000 --duration 500 --per-request /tmp/r.json   # ... with records\n  \
                  infergate bench --rates 50,1000 --floor   # the same streams read by a minimal reader\n  \
                  infergate bench --rates 500 --slo-margin-ms 2   # share of TTFTs within 2 ms of the simulator's\n  \
                  infergate bench --tokenizer ~/.cache/infergate/engine/llama3/tokenizer.json   # data.type: random, a real BPE"
)]
pub struct BenchArgs {
    /// Requests per second, one stage each.
    #[arg(long, value_delimiter = ',', default_values_t = [250.0, 500.0, 1000.0, 2000.0])]
    pub rates: Vec<f64>,
    /// Seconds per rate.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 32)]
    pub prompt_tokens: u32,
    /// Streamed tokens per request.
    #[arg(long, default_value_t = 128)]
    pub output_tokens: u32,
    /// The simulator's time to first token, milliseconds.
    #[arg(long, default_value_t = 20.0)]
    pub ttft_ms: f64,
    /// The simulator's time between tokens, milliseconds.
    #[arg(long, default_value_t = 2.0)]
    pub itl_ms: f64,
    /// Load threads (the scenario's `load.num_workers`).
    #[arg(long, default_value_t = 1)]
    pub workers: u32,
    /// Cores for the load generator, e.g. 0 or 0,2,3; the simulator gets --sim-cpu.
    #[arg(long, value_delimiter = ',', default_values_t = [0usize])]
    pub client_cpu: Vec<usize>,
    #[arg(long, default_value_t = 1)]
    pub sim_cpu: usize,
    /// Also judge each request's TTFT against the simulator's plus this many milliseconds
    /// (`report.goodput`) and show the share that met it.
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub slo_margin_ms: Option<f64>,
    /// Also write per-request records to this file (each rate overwrites it), to measure their cost.
    #[arg(long, value_name = "FILE")]
    pub per_request: Option<PathBuf>,
    /// A real tokenizer.json: the scenario uses `data.type: random` with it, as a user's run would
    /// (the simulator keeps counting with its built-in one, so its own CPU stays out of the way);
    /// default: the built-in tokenizer.
    #[arg(long, value_name = "PATH")]
    pub tokenizer: Option<PathBuf>,
    /// Do not pin either process.
    #[arg(long)]
    pub no_pin: bool,
    /// Time streamed tokens by the kernel's receive stamps instead of when each read returns (as
    /// `--kernel-stamps` of `infergate run`), to see what they correct and what they cost.
    #[arg(long)]
    pub kernel_stamps: bool,
    /// Read the streams with a minimal reader instead of infergate's client (one thread, raw
    /// nonblocking sockets, epoll and a timerfd, no SSE or JSON parsing): the CPU the kernel's socket
    /// path costs for the same load, to set the client's own numbers against.
    #[arg(long, conflicts_with_all = ["tokenizer", "per_request", "slo_margin_ms", "kernel_stamps", "workers"])]
    pub floor: bool,
    /// Also write the rows as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Instead of the load, time merging this many shards' results (no simulator, no pinning).
    #[arg(long, value_name = "N")]
    pub merge_shards: Option<u32>,
    /// Requests over all shards for --merge-shards.
    #[arg(long, default_value_t = 1_000_000)]
    pub merge_requests: u64,
    #[command(flatten)]
    pub gate: super::bench_gate::GateArgs,
}

pub fn main(args: BenchArgs) -> ExitCode {
    if args.gate.gate {
        return super::bench_gate::main(args.gate);
    }
    if let Some(shards) = args.merge_shards {
        eprintln!(
            "infergate bench: recording {} requests over {shards} shards, then timing their merge",
            args.merge_requests
        );
        let row = bench::merge::run(shards, args.merge_requests);
        println!("| shards | requests | file KiB per shard | merge ms | merged requests |");
        println!("|---|---|---|---|---|");
        println!(
            "| {} | {} | {:.0} | {:.1} | {} |",
            row.shards,
            row.requests,
            row.file_bytes as f64 / 1024.0,
            row.merge_ms,
            row.merged_ok
        );
        return ExitCode::from(exit::PASSED);
    }
    let BenchArgs {
        rates,
        duration,
        prompt_tokens,
        output_tokens,
        ttft_ms,
        itl_ms,
        workers,
        client_cpu,
        sim_cpu,
        no_pin,
        json,
        slo_margin_ms,
        per_request,
        tokenizer,
        kernel_stamps,
        floor,
        ..
    } = args;
    let options = BenchOptions {
        rates: rates.into_iter().filter(|r| *r > 0.0).collect(),
        duration: millis(duration * 1e3),
        prompt_tokens: prompt_tokens.max(1),
        output_tokens: output_tokens.max(1),
        ttft: millis(ttft_ms),
        itl: millis(itl_ms),
        workers: workers.max(1),
        client_cpu: (!no_pin).then_some(client_cpu),
        sim_cpu: (!no_pin).then_some(sim_cpu),
        slo_margin_ms,
        per_request,
        tokenizer,
        kernel_stamps,
    };
    run_bench(&options, floor, json.as_deref())
}

fn run_bench(options: &BenchOptions, floor: bool, json: Option<&std::path::Path>) -> ExitCode {
    let sim = match SimChild::start(options.ttft, options.itl, options.sim_cpu) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::RUN_ERROR);
        }
    };
    if let Some(cpus) = &options.client_cpu
        && let Err(e) = bench::host::pin_to_cpus(cpus)
    {
        eprintln!("error: {e}");
        return ExitCode::from(exit::RUN_ERROR);
    }
    eprintln!(
        "infergate bench: {} on {}, {} prompt tokens, {} streamed output tokens, simulator TTFT {:?} ITL {:?} at {}; {:.0} s per rate; reads stamped {}",
        if floor {
            "the floor reader (one thread, no parsing)".to_string()
        } else {
            format!("{} load thread(s)", options.workers)
        },
        options
            .client_cpu
            .as_ref()
            .map_or("any core".to_string(), |c| format!("core(s) {c:?}")),
        options.prompt_tokens,
        options.output_tokens,
        options.ttft,
        options.itl,
        sim.base_url(),
        options.duration.as_secs_f64(),
        if floor {
            "never (the floor times nothing)"
        } else if options.kernel_stamps {
            "with the kernel's receive time"
        } else {
            "when they return"
        }
    );
    let rows = if floor {
        println!("{}", bench::floor::table_header());
        bench::floor::run(options, sim.base_url(), |row| {
            println!("{}", bench::floor::table_row(row))
        })
        .map(|rows| serde_json::to_value(rows).expect("rows serialise"))
    } else {
        let runtime = crate::run::load_runtime().expect("runtime starts");
        println!("{}", bench::table_header());
        runtime
            .block_on(bench::run(options, sim.base_url(), |row| {
                println!("{}", bench::table_row(row))
            }))
            .map(|rows| serde_json::to_value(rows).expect("rows serialise"))
    };
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
