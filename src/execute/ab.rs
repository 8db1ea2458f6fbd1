//! One scenario file as an interleaved A/B run (`infergate ab`, or `--baseline-target` /
//! `INFERGATE_BASELINE_TARGET` with `run` and the harness): each stage is cut into `pairs` pairs of
//! blocks, run in ABBA order (A B, B A, A B, ...) against the baseline target (A) and the target (B),
//! the two blocks of a pair sending the same requests (the same seed); each side runs the stage's
//! whole length. Each side's first block is preceded by its warm-up (`load.warmup`, else the
//! default one). The blocks of a side make its run (reports in `a/` for A, the scenario's own
//! directory for B), and `gate::ab` judges B against A on the paired blocks.

use std::path::Path;

use crate::client::http::redact_url;
use crate::gate::ab::{StageBlocks, compare};
use crate::gate::{ErrorCause, ScenarioOutcome, evaluate};
use crate::measure::recorder::Recorder;
use crate::options::{Interleave, Options};
use crate::plan::{PlannedStage, StageLoad};
use crate::report;
use crate::run::{RunOptions, RunResult, StageResult, Target};
use crate::scenario::{DataSource, Scenario, Stage};

/// Which deployment a block goes to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    A,
    B,
}

/// Runs `scenario` against both deployments and judges B against A.
pub(super) fn run_ab(
    scenario: &Scenario,
    name: &str,
    options: &Options,
    ab: &Interleave,
    out_dir: &Path,
) -> ScenarioOutcome {
    if let Some(why) = refused(scenario) {
        return ScenarioOutcome::Error {
            scenario: name.to_string(),
            message: format!("an A/B run cannot interleave {why}: run it with `infergate run`"),
            cause: ErrorCause::BadInput,
        };
    }
    let target = match &options.run.target {
        Target::Url(url) => url.clone(),
        _ => unreachable!("options::interleave requires --target URL"),
    };
    let planned = crate::plan::plan(scenario, None).stages;
    // blocks[stage][pair] = (A's block run, B's block run)
    let mut blocks: Vec<Vec<(RunResult, RunResult)>> = Vec::new();
    for (i, stage) in planned.iter().enumerate() {
        let mut pairs = Vec::new();
        for p in 0..ab.pairs {
            let order = match p % 2 {
                0 => [Side::A, Side::B],
                _ => [Side::B, Side::A],
            };
            let mut pair: [Option<RunResult>; 2] = [None, None];
            for side in order {
                if super::interrupted().is_some() {
                    return interrupted(name);
                }
                let url = match side {
                    Side::A => &ab.baseline_target,
                    Side::B => &target,
                };
                let first = i == 0 && p == 0;
                let block = block_scenario(scenario, stage, i, p, ab.pairs, first);
                let run_options = RunOptions {
                    target: Target::Url(url.clone()),
                    default_warmup: first,
                    progress: false,
                    ..options.run.clone()
                };
                let label = format!("{name} {side:?}");
                let run = match super::run_stoppable(&block, &label, run_options) {
                    Ok((run, _)) if run.stages.is_empty() => return interrupted(name),
                    Ok((run, _)) => run,
                    Err(outcome) => return *outcome,
                };
                eprintln!(
                    "[{name}] stage {i} pair {}/{} {side:?}: {} sent, {} ok",
                    p + 1,
                    ab.pairs,
                    run.total.sent(),
                    run.total.ok
                );
                pair[usize::from(side == Side::B)] = Some(run);
            }
            let [Some(a), Some(b)] = pair else {
                unreachable!("both sides ran")
            };
            pairs.push((a, b));
        }
        blocks.push(pairs);
    }
    judge(scenario, name, &planned, &blocks, ab, out_dir)
}

/// Each side's run from its blocks, B judged against A on the pairs; A's reports go to `a/`.
fn judge(
    scenario: &Scenario,
    name: &str,
    planned: &[PlannedStage],
    blocks: &[Vec<(RunResult, RunResult)>],
    ab: &Interleave,
    out_dir: &Path,
) -> ScenarioOutcome {
    let side = |pick: fn(&(RunResult, RunResult)) -> &RunResult| {
        let parts: Vec<Vec<&RunResult>> = blocks
            .iter()
            .map(|pairs| pairs.iter().map(pick).collect())
            .collect();
        let mut run = joined(planned, &parts);
        run.scenario = name.to_string();
        let mut gate = evaluate(&scenario.thresholds, &scenario.validity, &run);
        for (i, pairs) in parts.iter().enumerate() {
            for (p, block) in pairs.iter().enumerate() {
                let label = format!("stage {i} block {}", p + 1);
                gate.add_part_validity(&scenario.validity, block, &label);
            }
        }
        (run, gate)
    };
    let (a_run, a_gate) = side(|pair| &pair.0);
    let (b_run, mut b_gate) = side(|pair| &pair.1);
    let stages: Vec<StageBlocks<'_>> = planned
        .iter()
        .zip(blocks)
        .map(|(stage, pairs)| StageBlocks {
            describe: stage.describe(),
            pairs: pairs
                .iter()
                .map(|(a, b)| (&a.stages[0].recorder, &b.stages[0].recorder))
                .collect(),
        })
        .collect();
    let location = format!("A: {}", redact_url(&ab.baseline_target));
    let mut comparison = compare(
        &stages,
        &scenario.regression,
        &scenario.thresholds,
        location,
    );
    comparison.about = Some(format!(
        "interleaved with B ({}) in ABBA order, {} pairs of blocks per stage, the same requests in both blocks of a pair",
        b_run.target, ab.pairs
    ));
    b_gate.attach(comparison);
    let a = ScenarioOutcome::Judged {
        run: Box::new(a_run),
        gate: a_gate,
    };
    if let Err(e) = report::write_scenario(&out_dir.join("a"), &a) {
        eprintln!("[{name}] {e}");
    }
    ScenarioOutcome::Judged {
        run: Box::new(b_run),
        gate: b_gate,
    }
}

/// One side's run from its blocks (`parts[stage][pair]`): each stage's recorder the blocks'
/// merged, the first block's warm-up, every block's warnings once.
fn joined(planned: &[PlannedStage], parts: &[Vec<&RunResult>]) -> RunResult {
    let first = parts[0][0];
    let stages: Vec<StageResult> = planned
        .iter()
        .zip(parts)
        .map(|(stage, blocks)| StageResult {
            stage: stage.clone(),
            recorder: Recorder::merged(blocks.iter().map(|b| &b.stages[0].recorder)),
            offset: blocks[0].stages[0].offset,
            started: blocks[0].stages[0].started,
            server: None,
        })
        .collect();
    let all = parts.iter().flatten();
    let mut warnings: Vec<String> = Vec::new();
    for w in all.clone().flat_map(|r| &r.warnings) {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    RunResult {
        total: Recorder::merged(stages.iter().map(|s| &s.recorder)),
        stages,
        elapsed: all.clone().map(|r| r.elapsed).sum(),
        warnings,
        stopped: all.clone().find_map(|r| r.stopped.clone()),
        aborted: all.clone().find_map(|r| r.aborted.clone()),
        warmup: first.warmup.clone(),
        ..first.clone()
    }
}

/// Stage `index`'s pair `pair` of `pairs`: the stage's load over a `pairs`-th of its length, with
/// the pair's own seed; the warm-up only before a side's first block.
fn block_scenario(
    scenario: &Scenario,
    stage: &PlannedStage,
    index: usize,
    pair: u32,
    pairs: u32,
    first: bool,
) -> Scenario {
    let mut block = scenario.clone();
    block.load.stages = vec![match (stage.configured, stage.load) {
        (Stage::Rate { rate, duration }, _) => Stage::Rate {
            rate,
            duration: duration / pairs,
        },
        (
            _,
            StageLoad::Closed {
                num_requests,
                concurrency,
            },
        ) => Stage::Concurrency {
            num_requests: (num_requests / pairs as u64).max(concurrency as u64),
            concurrency,
        },
        (configured, _) => configured,
    }];
    block.load.seed = scenario
        .load
        .seed
        .wrapping_add((index as u64) << 32)
        .wrapping_add(pair as u64 * 0x9E37_79B9);
    if !first {
        block.load.warmup = None;
    }
    block.load.interval = std::time::Duration::ZERO;
    block.thresholds.retain(|t| !t.abort_on_fail);
    block
}

/// What an A/B run cannot interleave, if the scenario has it.
fn refused(scenario: &Scenario) -> Option<&'static str> {
    if scenario.load.sweep.is_some() {
        return Some("a sweep (load.sweep)");
    }
    if scenario.capacity.is_some() {
        return Some("a capacity search (load.capacity)");
    }
    if scenario.load.trace.is_some() {
        return Some("a trace replay (load.trace)");
    }
    if matches!(scenario.data.source, DataSource::Replay(_)) || scenario.data.has_sessions() {
        return Some("sessions");
    }
    None
}

fn interrupted(name: &str) -> ScenarioOutcome {
    ScenarioOutcome::Error {
        scenario: name.to_string(),
        message: format!(
            "not finished: {}",
            super::interrupted().map_or("", String::as_str)
        ),
        cause: ErrorCause::Run,
    }
}
