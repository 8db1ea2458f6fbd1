//! Runs one scenario end to end: resolve the target (or start the embedded simulator), check it
//! answers, plan, drive the warm-up, the probes (sweep or capacity search) and every stage, and hand back the recorders.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::breakers::Breakers;
use super::progress::StageProgress;
use super::schedule::Schedule;
use super::stop::stop_pair;
use super::workers::{Shared, Workers};
use super::{
    DEFAULT_REQUEST_TIMEOUT, Meet, RunError, RunOptions, RunResult, StageResult, Target, preflight,
};
use crate::client::http::redact_url;
use crate::client::{Endpoint, Http};
use crate::measure::recorder::Recorder;
use crate::measure::server::{Source, promql};
use crate::plan::datagen::Generator;
use crate::plan::tokens::TokenCounter;
use crate::plan::trace;
use crate::plan::{StageLoad, plan};
use crate::scenario::{DataSource, Lora, Scenario};
use crate::sim::SimHandle;

/// Runs a scenario to completion.
pub async fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<RunResult, RunError> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let configured = match &options.target {
        Target::Simulator => None,
        Target::Scenario => scenario.server.base_url.clone(),
        Target::Url(url) => Some(url.clone()),
    };
    let simulated = configured.is_none();
    let mut warnings = scenario.warnings.clone();
    let tokens = Arc::new(
        load_tokens(
            scenario,
            options.tokenizer.as_ref(),
            simulated,
            &mut warnings,
        )
        .await?,
    );
    let lora = scenario.load.lora.as_ref();
    let lora_names = lora.map_or_else(Vec::new, Lora::names);
    let mut sim_config = options.sim.clone();
    sim_config.adapters = lora_names.clone();
    sim_config.tokens = Arc::clone(&tokens);
    sim_config.background = true;
    let model_name = options
        .model
        .as_deref()
        .or(scenario.server.model_name.as_deref());
    if let Some(model) = model_name {
        sim_config.model = model.to_string();
    }
    let _sim; // keeps the simulator alive for the whole run
    let base_url = match configured {
        Some(url) => url,
        None => {
            let handle = SimHandle::start(sim_config, ([127, 0, 0, 1], 0).into())
                .map_err(RunError::Simulator)?;
            let url = handle.base_url();
            _sim = handle;
            url
        }
    };
    let target = redact_url(&base_url);
    let api_key = options
        .api_key
        .clone()
        .or_else(|| scenario.server.api_key.clone());
    // How every request to the target is made (TLS files, key): pre-flight, version, scraper.
    let access = Http::to_target(&scenario.server.tls, api_key.as_ref());
    let model = preflight::check(
        &base_url,
        &target,
        (model_name, &lora_names),
        &access,
        options.wait_ready,
    )
    .await?;
    let server_version = preflight::server_version(&base_url, &access).await;
    // Only one shard scrapes the engine, so its metrics are counted once.
    let scrape_target = match options.shard.index() {
        0 => {
            crate::measure::server::target_for(&scenario.scrape, &base_url, &access, &mut warnings)
                .await
        }
        _ => None,
    };
    let searching = match (&scenario.load.sweep, &scenario.capacity) {
        (Some(_), _) => Some("load.sweep"),
        (_, Some(_)) => Some("load.capacity"),
        _ => None,
    };
    if let (true, Some(what)) = (options.shard.count() > 1, searching) {
        return Err(RunError::Setup(format!(
            "{what} cannot be split over {} shards (each probe step would need its own \
             meeting): run it unsharded, or with load.num_workers threads in one process, \
             and give the shards the stages it finds",
            options.shard.count()
        )));
    }
    let quick = if simulated { options.quick } else { None };
    let mut plan = plan(scenario, quick);
    let replayer = match &scenario.data.source {
        DataSource::Replay(replay) => {
            let seed = scenario.load.seed;
            let at = (simulated, quick);
            Some(super::replay::prepare(replay, &tokens, seed, at, &mut plan, &mut warnings).await?)
        }
        _ => None,
    };
    let thin = plan
        .stages
        .iter()
        .chain(&plan.warmup)
        .find_map(|s| match s.load {
            StageLoad::Closed { concurrency, .. } if concurrency < options.shard.count() => {
                Some((s.index, "concurrency_level", concurrency))
            }
            StageLoad::Sessions { concurrent, .. }
                if concurrent > 0 && concurrent < options.shard.count() =>
            {
                Some((s.index, "concurrent_sessions", concurrent))
            }
            _ => None,
        });
    if let Some((index, key, concurrency)) = thin {
        return Err(RunError::Setup(format!(
            "stage {index}'s {key} {concurrency} cannot be split over {} shards (a shard \
             without a slot could send nothing): use at most {concurrency} shards",
            options.shard.count()
        )));
    }
    let endpoint = Endpoint {
        base_url: base_url.clone(),
        api: scenario.api.kind,
        streaming: scenario.api.streaming,
        model: model.clone(),
        ignore_eos: scenario.server.ignore_eos,
        response_format: scenario.api.response_format.clone(),
        api_key: api_key.clone(),
        headers: scenario.api.headers.clone(),
        adapters: lora_names.clone(),
        session_id_header: scenario.api.session_id_header.clone(),
        session_token_header: scenario.api.session_token_header.clone(),
        request_timeout: plan.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        idle_timeout: plan.idle_timeout,
        tls: scenario.server.tls.clone(),
    };
    let data = crate::plan::datasets::resolve(&scenario.data, simulated, &mut warnings)
        .await
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let generator = Generator::new(&data, tokens, plan.data_seed)
        .map_err(RunError::Setup)?
        .with_adapters(&lora.map_or_else(Vec::new, Lora::shares));
    let generator = Arc::new(generator);
    let threads = load_threads(plan.threads, simulated, &mut warnings);
    // One stop for the run, set by a signal (forwarded from `options.stop`), by an abort threshold
    // or by a circuit breaker.
    let (handle, stop) = stop_pair();
    let handle = Arc::new(handle);
    let breakers = Breakers::new(&scenario.load.circuit_breakers, Arc::clone(&handle));
    let trace = match &scenario.load.trace {
        Some(path) => Some(trace::offsets(&trace::read(path).map_err(RunError::Setup)?)),
        None => None,
    };
    let shared = Shared {
        session_caps: plan.session_caps,
        breakers: breakers.clone(),
        trace,
        slo: scenario.goodput,
        replay: replayer,
    };
    let mut workers = Workers::start(threads, options.shard, &endpoint, &generator, shared)?;
    let forward = tokio::spawn({
        let (handle, signal) = (Arc::clone(&handle), options.stop.clone());
        async move {
            signal.wait().await;
            handle.stop(signal.reason().unwrap_or_default());
        }
    });
    let aborted: Cell<Option<String>> = Cell::new(None);
    let max_in_flight = plan.max_in_flight;
    let origin = match &options.meet {
        Some(meet) => Some(meet_at(meet).await?),
        None => None,
    };
    // As inference-perf does, stages are a scrape interval apart when a Prometheus server is read,
    // so that each stage's last requests are scraped before the next begins (unless sharded: the
    // other shards do not know).
    let interval = match &scrape_target {
        Some(Source::Server(p)) if options.shard.count() == 1 => {
            plan.interval.max(p.scrape_interval)
        }
        _ => plan.interval,
    };
    let mut schedule = Schedule::new(origin, interval);
    let warmup = match &plan.warmup {
        Some(stage) if !stop.is_set() => {
            let offset = clock.elapsed();
            let started = schedule.start(stage);
            let recorder = workers
                .run_stage(stage, max_in_flight, started, &stop, None)
                .await?;
            if options.progress {
                eprintln!(
                    "[{}] warm-up ({}): {} sent, left out of every statistic",
                    scenario.name(),
                    stage.describe(),
                    recorder.sent()
                );
            }
            schedule.pause(&stop).await;
            Some(StageResult {
                stage: stage.clone(),
                recorder,
                offset,
                started,
                server: None,
            })
        }
        _ => None,
    };
    let mut probing = super::probes::Probing {
        scenario,
        options,
        workers: &workers,
        plan: &mut plan,
        stop: &stop,
        quick,
    };
    let sweep = match &scenario.load.sweep {
        Some(sweep) if !stop.is_set() => Some(probing.sweep(sweep).await?),
        _ => None,
    };
    let capacity = match &scenario.capacity {
        Some(cap) if !stop.is_set() => Some(probing.capacity(cap).await?),
        _ => None,
    };
    let mut stages = Vec::with_capacity(plan.stages.len());
    let mut windows: Vec<promql::Window> = Vec::new();
    // Per-request records: the measured stages only (the warm-up and the probes are done by now).
    let records = match (scenario.per_request, &options.records) {
        (Some(keep), Some(path)) => {
            let (records, file) = super::records::start(path, keep, clock, lora_names.clone())
                .map_err(|e| RunError::Setup(format!("cannot write {}: {e}", path.display())))?;
            workers.records = Some(records);
            Some(file)
        }
        _ => None,
    };
    for (i, stage) in plan.stages.iter().enumerate() {
        if i > 0 {
            schedule.pause(&stop).await;
        }
        if stop.is_set() {
            break;
        }
        let earlier = match options.abort {
            None => Recorder::new(),
            Some(_) => Recorder::merged(stages.iter().map(|s: &StageResult| &s.recorder)),
        };
        let offset = clock.elapsed();
        let mut progress =
            StageProgress::start(options.progress, &scenario.name(), stage, plan.stages.len());
        let mut watch = |current: &Recorder| {
            progress.update(current);
            let reason = options
                .abort
                .as_ref()
                .and_then(|abort| abort.check(i, &earlier, current, clock.elapsed()));
            if let Some(reason) = reason {
                aborted.set(Some(reason.clone()));
                handle.stop(reason);
            }
        };
        let scraping = match &scrape_target {
            Some(source) => Some(source.watch().await),
            None => None,
        };
        // Watching costs a look at every thread's recorder four times a second: only when used.
        let watched = options.progress || options.abort.is_some();
        let watch: Option<&mut (dyn FnMut(&Recorder) + '_)> = watched.then_some(&mut watch);
        let started = schedule.start(stage);
        let recorder = workers
            .run_stage(stage, max_in_flight, started, &stop, watch)
            .await?;
        let server = match scraping {
            Some(watching) => watching.finish(&mut windows).await,
            None => None,
        };
        progress.finish(&recorder);
        stages.push(StageResult {
            stage: stage.clone(),
            recorder,
            offset,
            started,
            server,
        });
    }
    forward.abort();
    workers.records = None;
    if let Some(file) = records {
        file.finish().map_err(RunError::Setup)?;
    }
    if let Some(Source::Server(prometheus)) = &scrape_target {
        let read = prometheus.collect(&windows, options.progress).await;
        for (stage, server) in stages.iter_mut().zip(read) {
            stage.server = Some(server);
        }
    }
    if workers.resent() > 0 {
        warnings.push(format!(
            "{} request(s) were sent twice: the server closed a kept-alive connection just as they were written (llama.cpp does after streamed responses); their latency counts from the first attempt",
            workers.resent()
        ));
    }
    let total = Recorder::merged(stages.iter().map(|s| &s.recorder));
    Ok(RunResult {
        scenario: scenario.name(),
        target,
        model,
        server_version,
        simulated,
        shortened: plan.shortened,
        stages,
        total,
        started_at,
        elapsed: clock.elapsed(),
        warnings,
        stopped: options.stop.reason(),
        aborted: aborted.take().or_else(|| breakers.and_then(|b| b.opened())),
        warmup,
        sweep,
        capacity,
        config_hash: scenario.config_hash.clone(),
        shard: options.shard,
        origin,
        lora: scenario.load.lora.clone(),
        server_reports: scenario.server_reports,
        percentiles: scenario.percentiles.clone(),
    })
}

/// Meets the other shards; returns the agreed start on this process's clock (the first stage's
/// pacer waits for it precisely).
async fn meet_at(meet: &Meet) -> Result<Instant, RunError> {
    let at = (meet.0)().await.map_err(RunError::Rendezvous)?;
    let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
    Ok(Instant::now() + wait)
}

/// The load threads to run: `load.num_workers`, at most the cores this process may use, less the
/// one the embedded simulator needs when it is the target (saying so when that caps it).
fn load_threads(wanted: u32, simulated: bool, warnings: &mut Vec<String>) -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let (room, why) = match simulated {
        true => (
            cores.saturating_sub(1).max(1),
            " beside the embedded simulator",
        ),
        false => (cores, ""),
    };
    if wanted > room {
        warnings.push(format!(
            "load.num_workers is {wanted} but this process may use {cores} core(s): running {room} load thread(s){why}"
        ));
    }
    wanted.clamp(1, room)
}

/// The tokenizer prompts are built and counted with: `options.tokenizer` if set, else the scenario's
/// `tokenizer`, else the built-in one. Against the embedded simulator (which counts with the same
/// tokenizer, so lengths stay exact either way) a model id that is not cached is not downloaded: a
/// fresh clone's default run never leaves the machine.
async fn load_tokens(
    scenario: &Scenario,
    chosen: Option<&String>,
    simulated: bool,
    warnings: &mut Vec<String>,
) -> Result<TokenCounter, RunError> {
    let (name, token) = match (chosen, &scenario.tokenizer) {
        (Some(name), _) => (name.clone(), None),
        (None, Some(spec)) => (spec.name.clone(), spec.token.as_ref()),
        (None, None) => return Ok(TokenCounter::builtin()),
    };
    if simulated && crate::plan::tokens::needs_download(&name) {
        warnings.push(format!(
            "tokenizer `{name}` is not downloaded against the simulator; prompts use the built-in \
             tokenizer (set INFERGATE_TOKENIZER=/path/to/tokenizer.json to use a real one)"
        ));
        return Ok(TokenCounter::builtin());
    }
    Ok(TokenCounter::load(&name, token).await?)
}
