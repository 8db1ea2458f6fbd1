//! `infergate bench --gate`: the flags of the gate's own measurement (false alarms and detection),
//! apart from the load generator's.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::bench::gate::{self, GateBench};
use crate::scenario::Scenario;

use super::exit;
use super::sim::percent;

/// The scenario the gate is measured with unless `--scenario` says: Poisson arrivals at 20 req/s for
/// 5 s, 128-token prompts and 64-token streamed answers, the default `regression` settings.
const DEFAULT_SCENARIO: &str = "\
api: {type: completion, streaming: true}
data:
  type: random
  input_distribution: {mean: 128, std_dev: 0, min: 128, max: 128}
  output_distribution: {mean: 64, std_dev: 0, min: 64, max: 64}
load:
  type: poisson
  stages: [{rate: 20, duration: 5}]
";

/// Flags for `--gate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// Measure the gate instead of the load generator: A/A rounds (false alarms) and A/B rounds
    /// (detection) of the baseline comparison, each with a Wilson interval, and the minimum
    /// detectable effect.
    #[arg(long)]
    pub gate: bool,
    /// With --gate: the simulator's run-to-run drifts (CVs) to measure, one row each.
    #[arg(long, value_name = "PCT", value_delimiter = ',', value_parser = percent, default_value = "10")]
    pub drift: Vec<f64>,
    /// With --gate: how much slower the B engine is.
    #[arg(long, value_name = "PCT", value_parser = percent, default_value = "25")]
    pub slowdown: f64,
    /// With --gate: saved runs in the history each round is judged against.
    #[arg(long, default_value_t = 10)]
    pub history: usize,
    /// With --gate: A/A rounds (an unchanged engine against its history).
    #[arg(long, default_value_t = 100)]
    pub aa: usize,
    /// With --gate: A/B rounds (the slower engine against the history).
    #[arg(long, default_value_t = 50)]
    pub ab: usize,
    /// With --gate: each simulator start is cold for this many seconds (twice as slow at first).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub cold_start: f64,
    /// With --gate: the scenario to run (default: Poisson 20 req/s for 5 s, 128/64 tokens).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// With --gate: the changed endpoint (B) instead of a slowed-down simulator; needs
    /// --baseline-target.
    #[arg(long, requires = "baseline_target")]
    pub target: Option<String>,
    /// With --gate: the unchanged endpoint (A) instead of the simulator.
    #[arg(long, requires = "target")]
    pub baseline_target: Option<String>,
    /// With --gate: the seed of the simulator starts' drift.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With --gate: also write the rows as JSON here.
    #[arg(long, value_name = "FILE")]
    pub gate_json: Option<PathBuf>,
}

pub fn main(args: GateArgs) -> ExitCode {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::from_source(std::path::Path::new("bench-gate.yaml"), DEFAULT_SCENARIO),
    };
    let scenario = match scenario {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let endpoints = args.baseline_target.clone().zip(args.target.clone());
    let bench = GateBench {
        scenario,
        drifts: args.drift.clone(),
        slowdown: args.slowdown,
        cold: super::millis(args.cold_start * 1e3),
        history: args.history.max(1),
        aa: args.aa,
        ab: args.ab,
        endpoints,
        seed: args.seed,
    };
    let levels: Vec<Option<f64>> = match &bench.endpoints {
        Some(_) => vec![None],
        None => bench.drifts.iter().map(|&d| Some(d)).collect(),
    };
    let b = match &bench.endpoints {
        Some((a, b)) => format!("A {a}, B {b}"),
        None => format!("B {:.0} % slower", bench.slowdown * 100.0),
    };
    eprintln!(
        "infergate bench --gate: history of {}, {} A/A and {} A/B rounds ({b}) per row; confirm and warm-up as the gate's defaults",
        bench.history, bench.aa, bench.ab,
    );
    println!("{}", gate::table_header());
    let mut rows = Vec::new();
    for drift in levels {
        match bench.measure(drift, true) {
            Ok(row) => {
                println!("{}", gate::table_row(&row));
                rows.push(row);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::RUN_ERROR);
            }
        }
    }
    if let Some(path) = &args.gate_json {
        let text = serde_json::to_string_pretty(&rows).expect("rows serialise");
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(exit::RUN_ERROR);
        }
    }
    ExitCode::from(exit::PASSED)
}
