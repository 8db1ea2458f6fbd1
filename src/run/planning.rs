//! The third phase of a run, *plan*: the stages (with quick mode's caps and the default warm-up), the
//! sessions to replay, the checks that the load can be split over the shards, the endpoint every
//! request goes to, the request generator and the number of load threads.

use std::sync::Arc;
use std::time::Duration;

use super::prepare::{Checked, Prepared};
use super::{DEFAULT_REQUEST_TIMEOUT, RunError, RunOptions};
use crate::client::Endpoint;
use crate::plan::datagen::Generator;
use crate::plan::{Plan, Quick, StageLoad, plan, trace};
use crate::scenario::{DataSource, Lora, Scenario};

/// What the *plan* phase settled.
pub(super) struct Planned {
    pub plan: Plan,
    pub quick: Option<Quick>,
    pub endpoint: Endpoint,
    pub generator: Arc<Generator>,
    pub threads: u32,
    /// `load.trace`'s arrival offsets, when the stages replay one.
    pub trace: Option<Arc<[Duration]>>,
    pub replayer: Option<Arc<super::replay::Replayer>>,
    /// The warm-up is the default one (the scenario sets none), not `load.warmup`.
    pub warmup_default: bool,
}

/// Plans the stages and builds what sends them.
pub(super) async fn arrange(
    scenario: &Scenario,
    options: &RunOptions,
    prepared: &Prepared,
    checked: &Checked,
    warnings: &mut Vec<String>,
) -> Result<Planned, RunError> {
    refuse_unsplittable_search(scenario, options)?;
    let quick = if prepared.simulated {
        options.quick
    } else {
        None
    };
    let mut plan = plan(scenario, quick);
    let mut warmup_default = false;
    if options.default_warmup
        && scenario.load.warmup.is_none()
        && plan.warmup.is_none()
        && let Some(first) = plan.stages.first()
        && let Some(default) = crate::plan::default_warmup(first)
    {
        plan.warmup = crate::plan::warmup_stage(default, first, quick);
        warmup_default = plan.warmup.is_some();
    }
    let replayer = match &scenario.data.source {
        DataSource::Replay(replay) => {
            let (seed, at) = (scenario.load.seed, (prepared.simulated, quick));
            let tokens = &prepared.tokens;
            Some(super::replay::prepare(replay, tokens, seed, at, &mut plan, warnings).await?)
        }
        _ => None,
    };
    refuse_thin_shards(&plan, options)?;
    let endpoint = Endpoint {
        base_url: prepared.base_url.clone(),
        api: scenario.api.kind,
        streaming: scenario.api.streaming,
        model: checked.model.clone(),
        ignore_eos: scenario.server.ignore_eos,
        response_format: scenario.api.response_format.clone(),
        api_key: prepared.api_key.clone(),
        headers: scenario.api.headers.clone(),
        adapters: prepared.lora_names.clone(),
        session_id_header: scenario.api.session_id_header.clone(),
        session_token_header: scenario.api.session_token_header.clone(),
        request_timeout: plan.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        idle_timeout: plan.idle_timeout,
        tls: scenario.server.tls.clone(),
    };
    let data = crate::plan::datasets::resolve(&scenario.data, prepared.simulated, warnings)
        .await
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let shares = scenario
        .load
        .lora
        .as_ref()
        .map_or_else(Vec::new, Lora::shares);
    let generator = Generator::new(&data, Arc::clone(&prepared.tokens), plan.data_seed)
        .map_err(RunError::Setup)?
        .with_adapters(&shares);
    let trace = match &scenario.load.trace {
        Some(path) => Some(trace::offsets(&trace::read(path).map_err(RunError::Setup)?)),
        None => None,
    };
    Ok(Planned {
        threads: load_threads(plan.threads, prepared.simulated, warnings),
        plan,
        quick,
        endpoint,
        generator: Arc::new(generator),
        trace,
        replayer,
        warmup_default,
    })
}

/// A sweep or capacity search cannot be split over shards.
fn refuse_unsplittable_search(scenario: &Scenario, options: &RunOptions) -> Result<(), RunError> {
    let searching = match (&scenario.load.sweep, &scenario.capacity) {
        (Some(_), _) => Some("load.sweep"),
        (_, Some(_)) => Some("load.capacity"),
        _ => None,
    };
    match (options.shard.count() > 1, searching) {
        (true, Some(what)) => Err(RunError::Setup(format!(
            "{what} cannot be split over {} shards (each probe step would need its own \
             meeting): run it unsharded, or with load.num_workers threads in one process, \
             and give the shards the stages it finds",
            options.shard.count()
        ))),
        _ => Ok(()),
    }
}

/// Every shard needs at least one closed-loop slot (or session) in every stage.
fn refuse_thin_shards(plan: &Plan, options: &RunOptions) -> Result<(), RunError> {
    let shards = options.shard.count();
    let thin = plan
        .stages
        .iter()
        .chain(&plan.warmup)
        .find_map(|s| match s.load {
            StageLoad::Closed { concurrency, .. } if concurrency < shards => {
                Some((s.index, "concurrency_level", concurrency))
            }
            StageLoad::Sessions { concurrent, .. } if concurrent > 0 && concurrent < shards => {
                Some((s.index, "concurrent_sessions", concurrent))
            }
            _ => None,
        });
    match thin {
        Some((index, key, concurrency)) => Err(RunError::Setup(format!(
            "stage {index}'s {key} {concurrency} cannot be split over {shards} shards (a shard \
             without a slot could send nothing): use at most {concurrency} shards"
        ))),
        None => Ok(()),
    }
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
