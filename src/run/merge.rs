//! Several shards' runs of one scenario as the one run they make together: each stage's recorders
//! merged exactly (`Recorder::merged_shards`), the engine's metrics from shard 0 (the only one that
//! scrapes), the metadata of shard 0, every shard's warnings once, and a line saying how far apart
//! the shards started each stage. Judging, reports and baselines then treat it like any run.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::measure::recorder::Recorder;
use crate::plan::shard::Shard;

use super::{RunResult, StageResult};

/// The run the shards (`runs`, in shard order, on one clock) make together.
pub fn merge_shards(runs: &[RunResult]) -> RunResult {
    let Some(first) = runs.first() else {
        panic!("merge_shards needs at least one shard");
    };
    let stage_count = runs.iter().map(|r| r.stages.len()).min().unwrap_or(0);
    let stages: Vec<StageResult> = (0..stage_count)
        .map(|i| merge_stage(runs.iter().map(|r| &r.stages[i])))
        .collect();
    let warmups: Vec<&StageResult> = runs.iter().filter_map(|r| r.warmup.as_ref()).collect();
    let warmup = (warmups.len() == runs.len() && !warmups.is_empty())
        .then(|| merge_stage(warmups.iter().copied()));
    let mut seen = BTreeSet::new();
    let mut warnings: Vec<String> = runs
        .iter()
        .flat_map(|r| r.warnings.iter().cloned())
        .filter(|w| seen.insert(w.clone()))
        .collect();
    if runs.len() > 1 {
        warnings.push(skew_line(runs, stage_count));
    }
    if runs.iter().any(|r| r.stages.len() != stage_count) {
        let counts: Vec<String> = runs
            .iter()
            .map(|r| format!("shard {}: {}", r.shard, r.stages.len()))
            .collect();
        warnings.push(format!(
            "the shards ran different numbers of stages ({}); only the first {stage_count} are merged",
            counts.join(", ")
        ));
    }
    let labelled = |pick: fn(&RunResult) -> &Option<String>| {
        runs.iter().find_map(|r| {
            pick(r)
                .as_ref()
                .map(|why| format!("shard {}: {why}", r.shard))
        })
    };
    RunResult {
        total: Recorder::merged(stages.iter().map(|s| &s.recorder)),
        stages,
        warmup,
        started_at: runs
            .iter()
            .map(|r| r.started_at)
            .min()
            .unwrap_or(first.started_at),
        elapsed: runs.iter().map(|r| r.elapsed).max().unwrap_or_default(),
        warnings,
        stopped: labelled(|r| &r.stopped),
        aborted: labelled(|r| &r.aborted),
        shard: Shard::WHOLE,
        sweep: None,
        capacity: None,
        ..first.clone()
    }
}

fn merge_stage<'a>(parts: impl Iterator<Item = &'a StageResult>) -> StageResult {
    let parts: Vec<&StageResult> = parts.collect();
    let first = parts[0];
    StageResult {
        recorder: Recorder::merged_shards(parts.iter().map(|p| &p.recorder)),
        started: parts
            .iter()
            .map(|p| p.started)
            .min()
            .unwrap_or(first.started),
        ..first.clone()
    }
}

/// How far apart the shards' stage starts were, at worst, e.g. `3 shards merged; stage starts
/// within 0.4 ms of each other (worst: stage 1)`.
pub fn stage_skew(runs: &[RunResult], stage: usize) -> Duration {
    let starts = runs
        .iter()
        .filter_map(|r| r.stages.get(stage))
        .map(|s| s.started);
    match (starts.clone().min(), starts.max()) {
        (Some(lo), Some(hi)) => hi - lo,
        _ => Duration::ZERO,
    }
}

fn skew_line(runs: &[RunResult], stages: usize) -> String {
    let worst = (0..stages)
        .map(|i| (stage_skew(runs, i), i))
        .max()
        .unwrap_or_default();
    format!(
        "{} shards merged; their stage starts were within {:.1} ms of each other (worst: stage {})",
        runs.len(),
        worst.0.as_secs_f64() * 1e3,
        worst.1
    )
}
