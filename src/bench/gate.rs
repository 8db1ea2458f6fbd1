//! `infergate bench --gate`: the gate measuring itself. Rounds of A/A comparisons (an unchanged
//! engine judged against its own history) give the false-alarm rate; rounds of A/B comparisons (an
//! engine made slower) give the detection rate; each with a Wilson interval, and each row's minimum
//! detectable effect.
//!
//! Against the simulator every run is a fresh simulator start whose pace is drawn with the given
//! drift (`sim::Pace`), like a real engine's runs that differ with host, neighbours and warm-up; its
//! timing is a real 8B model's (ten times the default simulator's), so that the machine's own load
//! matters little beside the drift. A/A
//! round `i` compares run `i + history` with runs `i … i + history − 1` (a sliding history), so the
//! rounds are as independent as the runs allow; A/B rounds compare a slowed-down start with a
//! history from the same A runs. With `--target` and `--baseline-target` the runs go to real
//! endpoints: a history of the baseline target's runs, then A/A runs of it and A/B runs of the
//! target against that history, as a team would use the gate.
//!
//! Every comparison is the gate's own (`gate::baseline::compare`, its error budget, the default
//! warm-up, and `regression.confirm`'s rerun against the same start when a comparison regresses).

use std::time::Duration;

use serde::Serialize;

use crate::gate::baseline::change::Change;
use crate::gate::baseline::samples::RunSamples;
use crate::gate::baseline::{self, Baseline, Comparison, History};
use crate::gate::{Status, evaluate};
use crate::measure::interval::{Z95, proportion};
use crate::run::{RunOptions, Target, run_scenario};
use crate::scenario::Scenario;
use crate::sim::{EngineConfig, Pace, SimConfig, SimHandle};

/// How much slower than the default simulator a real 8B model on one GPU is.
const REAL_SPEED: u32 = 10;
/// Attempts at a valid run before a round is left out.
const ATTEMPTS: usize = 3;

/// What to measure.
#[derive(Debug, Clone)]
pub struct GateBench {
    pub scenario: Scenario,
    /// Run-to-run drifts (CVs) to measure the simulator at, one table row each.
    pub drifts: Vec<f64>,
    /// How much slower the B engine is.
    pub slowdown: f64,
    /// A cold start for every simulator start.
    pub cold: Duration,
    /// Saved runs in a history.
    pub history: usize,
    /// A/A rounds and A/B rounds.
    pub aa: usize,
    pub ab: usize,
    /// Real endpoints instead of the simulator: (baseline target, target).
    pub endpoints: Option<(String, String)>,
    pub seed: u64,
}

/// One drift's (or the real endpoints') results.
#[derive(Debug, Clone, Serialize)]
pub struct GateRow {
    /// The simulator's drift (`None` for real endpoints).
    pub drift: Option<f64>,
    pub slowdown: f64,
    pub history: usize,
    pub aa_rounds: usize,
    pub false_alarms: usize,
    /// Wilson 95 % interval of the false-alarm rate.
    pub false_alarm_interval: (f64, f64),
    pub ab_rounds: usize,
    pub detected: usize,
    pub detection_interval: (f64, f64),
    /// A/B rounds not caught whose comparison said what it could not detect (an inconclusive row).
    pub missed_but_said: usize,
    /// Rounds that needed a confirming rerun (A/A and A/B).
    pub reruns: usize,
    /// The median over A/A rounds of each row's minimum detectable effect: `statistic → MDE`.
    pub mde: Vec<(String, f64)>,
    /// Runs the runner itself judged invalid (it could not keep up): each was run again.
    pub invalid_runs: usize,
    /// Rounds left out because all their attempts were invalid.
    pub left_out: usize,
}

/// One judged run: its samples, and whether the runner was valid.
struct Judged {
    samples: RunSamples,
    valid: bool,
}

/// One simulator start (or a real endpoint) that can be run against repeatedly.
struct Engine {
    url: String,
    _sim: Option<SimHandle>,
}

impl Engine {
    /// A simulator start at `pace`, with the timing of a real 8B model on one GPU (the default
    /// engine is ten times faster, for quick runs): steps of milliseconds would let the machine's
    /// own load, not the drift being measured, decide the rounds.
    fn simulator(pace: Pace) -> Result<Engine, String> {
        let fast = EngineConfig::default();
        let config = SimConfig {
            pace,
            background: true,
            engine: EngineConfig {
                decode_step_base: fast.decode_step_base * REAL_SPEED,
                decode_step_per_seq: fast.decode_step_per_seq * REAL_SPEED,
                prefill_per_token: fast.prefill_per_token * REAL_SPEED,
                ..fast
            },
            ..SimConfig::default()
        };
        let sim = SimHandle::start(config, ([127, 0, 0, 1], 0).into())
            .map_err(|e| format!("cannot start the simulator: {e}"))?;
        Ok(Engine {
            url: sim.base_url(),
            _sim: Some(sim),
        })
    }

    fn endpoint(url: &str) -> Engine {
        Engine {
            url: url.to_string(),
            _sim: None,
        }
    }
}

impl GateBench {
    /// One run of the scenario against `engine`, with the default warm-up the gate uses.
    fn run(&self, engine: &Engine) -> Result<Judged, String> {
        let options = RunOptions {
            target: Target::Url(engine.url.clone()),
            default_warmup: true,
            ..RunOptions::default()
        };
        let runtime = crate::run::load_runtime().map_err(|e| e.to_string())?;
        let run = runtime
            .block_on(run_scenario(&self.scenario, &options))
            .map_err(|e| e.to_string())?;
        let gate = evaluate(&[], &self.scenario.validity, &run);
        Ok(Judged {
            valid: gate.status != Status::Invalid,
            samples: *gate.samples,
        })
    }

    /// A valid run against `engine`: a run the runner itself judged invalid (it could not keep up, so
    /// the gate would not judge it) is run again, up to `ATTEMPTS` times in all; `invalid` counts them.
    /// `None` when every attempt was invalid: the round is left out, not counted as a pass.
    fn valid_run(&self, engine: &Engine, invalid: &mut usize) -> Result<Option<Judged>, String> {
        for _ in 0..ATTEMPTS {
            let judged = self.run(engine)?;
            if judged.valid {
                return Ok(Some(judged));
            }
            *invalid += 1;
        }
        Ok(None)
    }

    /// Judges `first` against `history`, rerunning against `engine` to confirm as the gate does.
    fn judge(&self, history: &History, first: &Judged, engine: &Engine) -> Result<Round, String> {
        let regression = &self.scenario.regression;
        let compare = |samples: &RunSamples| {
            let spread = regression.run_spread_for(samples.simulated);
            baseline::compare(samples, history, regression, &[], false, spread)
        };
        let mut comparison = compare(&first.samples);
        let mut earlier = Vec::new();
        let confirm = regression.confirm_for(first.samples.simulated) as usize;
        let mut invalid = 0;
        while earlier.len() < confirm && !comparison.regressed_keys().is_empty() {
            earlier.push(comparison.regressed_keys());
            let Some(again) = self.valid_run(engine, &mut invalid)? else {
                break;
            };
            comparison = compare(&again.samples);
            comparison.confirm(&earlier);
        }
        Ok(Round {
            regressed: !comparison.regressed_keys().is_empty(),
            said: comparison
                .rows
                .iter()
                .any(|r| r.judgement.change == Change::Inconclusive),
            reruns: earlier.len(),
            invalid,
            comparison,
        })
    }

    /// Runs every round at `drift` (or against the real endpoints) and tallies them.
    pub fn measure(&self, drift: Option<f64>, progress: bool) -> Result<GateRow, String> {
        let mut seed = self
            .seed
            .wrapping_add((drift.unwrap_or(0.0) * 1e4) as u64 * 1_000_003);
        // A start of the unchanged engine (A) or of the changed one (B).
        let mut start = |changed: bool| -> Result<Engine, String> {
            seed += 1;
            match (&self.endpoints, changed) {
                (Some((a, _)), false) => Ok(Engine::endpoint(a)),
                (Some((_, b)), true) => Ok(Engine::endpoint(b)),
                (None, _) => {
                    let slowdown = if changed { self.slowdown } else { 0.0 };
                    let pace = Pace::draw(drift.unwrap_or(0.0), slowdown, self.cold, Some(seed));
                    Engine::simulator(pace)
                }
            }
        };
        let say = |line: String| {
            if progress {
                eprintln!("{line}");
            }
        };
        let sliding = self.endpoints.is_none();
        let mut a_runs: Vec<RunSamples> = Vec::new();
        let mut tally = Tally::default();
        let history_of = |runs: &[RunSamples], end: usize| History {
            runs: runs[end.saturating_sub(self.history)..end]
                .iter()
                .map(|samples| Baseline {
                    samples: samples.clone(),
                    about: "a run of the bench".to_string(),
                })
                .collect(),
            skipped: Vec::new(),
        };
        // The history: valid runs of A, each a start of its own.
        while a_runs.len() < self.history {
            if let Some(judged) = self.valid_run(&start(false)?, &mut tally.invalid)? {
                a_runs.push(judged.samples);
            }
        }
        // A/A rounds (the unchanged engine), then A/B rounds (the changed one).
        let rounds = (0..self.aa).map(|i| (i, false));
        for (i, changed) in rounds.chain((0..self.ab).map(|i| (i, true))) {
            let engine = start(changed)?;
            let Some(candidate) = self.valid_run(&engine, &mut tally.invalid)? else {
                tally.left_out += 1;
                continue;
            };
            let end = if sliding { a_runs.len() } else { self.history };
            let round = self.judge(&history_of(&a_runs, end), &candidate, &engine)?;
            let (label, of) = if changed {
                ("A/B", self.ab)
            } else {
                ("A/A", self.aa)
            };
            say(format!("{label} {}/{of}: {}", i + 1, round.describe()));
            if changed {
                tally.ab(&round);
            } else {
                tally.aa(&round);
                if sliding {
                    a_runs.push(candidate.samples);
                }
            }
        }
        Ok(tally.row(drift, self))
    }
}

/// What one round concluded.
struct Round {
    regressed: bool,
    /// Some row said what it could not detect.
    said: bool,
    reruns: usize,
    invalid: usize,
    comparison: Comparison,
}

impl Round {
    fn describe(&self) -> String {
        let rows: Vec<String> = self
            .comparison
            .rows
            .iter()
            .map(|r| {
                format!(
                    "{} {:+.0}% ({})",
                    r.statistic(),
                    r.judgement.delta.unwrap_or(0.0) * 100.0,
                    r.judgement.change.label()
                )
            })
            .collect();
        format!(
            "{}{}; {}",
            if self.regressed {
                "REGRESSED"
            } else {
                "passed"
            },
            if self.reruns > 0 {
                " after a rerun"
            } else {
                ""
            },
            rows.join(", ")
        )
    }
}

#[derive(Default)]
struct Tally {
    aa: usize,
    false_alarms: usize,
    ab: usize,
    detected: usize,
    missed_but_said: usize,
    reruns: usize,
    invalid: usize,
    /// Rounds left out because every attempt at their run was invalid.
    left_out: usize,
    /// Each A/A round's MDE per row.
    mde: Vec<(String, Vec<f64>)>,
}

impl Tally {
    fn aa(&mut self, round: &Round) {
        self.aa += 1;
        self.false_alarms += usize::from(round.regressed);
        self.reruns += round.reruns;
        self.invalid += round.invalid;
        for row in &round.comparison.rows {
            let Some(m) = row.judgement.mde else { continue };
            let name = format!("{} {}", row.scope, row.statistic());
            match self.mde.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(m),
                None => self.mde.push((name, vec![m])),
            }
        }
    }

    fn ab(&mut self, round: &Round) {
        self.ab += 1;
        self.detected += usize::from(round.regressed);
        self.missed_but_said += usize::from(!round.regressed && round.said);
        self.reruns += round.reruns;
        self.invalid += round.invalid;
    }

    fn row(self, drift: Option<f64>, bench: &GateBench) -> GateRow {
        let wilson = |k: usize, n: usize| {
            proportion(k as u64, n as u64, Z95).map_or((0.0, 1.0), |e| (e.low, e.high))
        };
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        GateRow {
            drift,
            slowdown: bench.slowdown,
            history: bench.history,
            aa_rounds: self.aa,
            false_alarms: self.false_alarms,
            false_alarm_interval: wilson(self.false_alarms, self.aa),
            ab_rounds: self.ab,
            detected: self.detected,
            detection_interval: wilson(self.detected, self.ab),
            missed_but_said: self.missed_but_said,
            reruns: self.reruns,
            mde: self
                .mde
                .into_iter()
                .map(|(name, values)| (name, median(values)))
                .collect(),
            invalid_runs: self.invalid,
            left_out: self.left_out,
        }
    }
}

/// The markdown table's header.
pub fn table_header() -> String {
    "| drift | A/A rounds | false alarms | rate (95 % CI) | A/B slowdown | A/B rounds | caught | rate (95 % CI) | missed, said \"cannot detect\" | reruns | invalid runs redone (rounds left out) | median MDE (request latency p50 / TTFT p50) |\n\
     |---|---|---|---|---|---|---|---|---|---|---|---|"
        .to_string()
}

/// One markdown row.
pub fn table_row(r: &GateRow) -> String {
    let pct = |x: f64| format!("{:.1} %", x * 100.0);
    let rate = |k: usize, n: usize, ci: (f64, f64)| {
        if n == 0 {
            "n/a".to_string()
        } else {
            format!("{} ({}–{})", pct(k as f64 / n as f64), pct(ci.0), pct(ci.1))
        }
    };
    let mde = |metric: &str| {
        r.mde
            .iter()
            .find(|(name, _)| name.ends_with(metric))
            .map_or("n/a".to_string(), |(_, m)| format!("≥ {:.0} %", m * 100.0))
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} / {} |",
        r.drift
            .map_or("real".to_string(), |d| format!("{:.0} %", d * 100.0)),
        r.aa_rounds,
        r.false_alarms,
        rate(r.false_alarms, r.aa_rounds, r.false_alarm_interval),
        r.drift
            .map_or("the target".to_string(), |_| pct(r.slowdown)),
        r.ab_rounds,
        r.detected,
        rate(r.detected, r.ab_rounds, r.detection_interval),
        r.missed_but_said,
        r.reruns,
        r.invalid_runs,
        r.left_out,
        mde("request_latency p(50)"),
        mde("ttft p(50)"),
    )
}
