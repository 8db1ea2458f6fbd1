//! Runs one scenario end to end, in five named phases:
//!
//! 1. *prepare* (`prepare::prepare`): the target, or the embedded simulator; the tokenizer;
//! 2. *pre-flight* (`prepare::check`): the target answers and serves the model;
//! 3. *plan* (`planning::arrange`): stages, warm-up, shards' checks, endpoint, request generator;
//! 4. *load* (`load::drive`): the warm-up, the probes (sweep or capacity search) and every stage;
//! 5. *collect* (here): the recorders merged and the run's metadata, as a `RunResult`.

use std::time::{Instant, SystemTime};

use super::load::Loaded;
use super::prepare::{Checked, Prepared};
use super::{RunError, RunOptions, RunResult, load, planning, prepare};
use crate::measure::recorder::Recorder;
use crate::measure::server::Source;
use crate::scenario::Scenario;

/// Runs a scenario to completion.
pub async fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<RunResult, RunError> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let mut warnings = scenario.warnings.clone();
    let prepared = prepare::prepare(scenario, options, &mut warnings).await?;
    let checked = prepare::check(scenario, options, &prepared, &mut warnings).await?;
    let planned = planning::arrange(scenario, options, &prepared, &checked, &mut warnings).await?;
    let shortened = planned.plan.shortened.clone();
    let warmup_default = planned.warmup_default;
    let loaded = load::drive(scenario, options, &prepared, &checked, planned, clock).await?;
    if let (true, Some(w)) = (warmup_default, &loaded.warmup) {
        warnings.push(format!(
            "a default warm-up ({}, {} requests) ran first and is left out of every statistic: the \
             scenario sets no load.warmup and is compared with a baseline or saved as one",
            w.stage.describe(),
            w.recorder.sent()
        ));
    }
    let mut run = collect(scenario, options, prepared, checked, loaded, warnings).await;
    run.shortened = shortened;
    run.started_at = started_at;
    run.elapsed = clock.elapsed();
    Ok(run)
}

/// The *collect* phase: the engine's metrics read for each stage's window, the stages merged, and
/// the run's metadata.
async fn collect(
    scenario: &Scenario,
    options: &RunOptions,
    prepared: Prepared,
    checked: Checked,
    loaded: Loaded,
    mut warnings: Vec<String>,
) -> RunResult {
    let Loaded {
        mut stages,
        warmup,
        sweep,
        capacity,
        aborted,
        resent,
        origin,
        windows,
    } = loaded;
    if let Some(Source::Server(prometheus)) = &checked.scrape {
        let read = prometheus.collect(&windows, options.progress).await;
        for (stage, server) in stages.iter_mut().zip(read) {
            stage.server = Some(server);
        }
    }
    if resent > 0 {
        warnings.push(format!(
            "{resent} request(s) were sent twice: the server closed a kept-alive connection just as they were written (llama.cpp does after streamed responses); their latency counts from the first attempt"
        ));
    }
    RunResult {
        scenario: scenario.name(),
        target: prepared.target.clone(),
        model: checked.model,
        server_version: checked.server_version,
        simulated: prepared.simulated,
        shortened: None,
        total: Recorder::merged(stages.iter().map(|s| &s.recorder)),
        stages,
        started_at: SystemTime::now(),
        elapsed: std::time::Duration::ZERO,
        warnings,
        stopped: options.stop.reason(),
        aborted,
        warmup,
        sweep,
        capacity,
        config_hash: scenario.config_hash.clone(),
        shard: options.shard,
        origin,
        lora: scenario.load.lora.clone(),
        server_reports: scenario.server_reports,
        percentiles: scenario.percentiles.clone(),
    }
}
