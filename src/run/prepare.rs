//! The first two phases of a run: *prepare* (which endpoint, the tokenizer, the embedded simulator
//! when there is no target) and *pre-flight* (the target answers, serves the model, says its version,
//! and whether its metrics are scraped).

use std::sync::Arc;

use super::{RunError, RunOptions, Target, preflight};
use crate::client::Http;
use crate::client::http::redact_url;
use crate::measure::server::Source;
use crate::plan::tokens::TokenCounter;
use crate::scenario::{Lora, Scenario, Secret};
use crate::sim::SimHandle;

/// What the *prepare* phase settled: where the load goes and how prompts are counted.
pub(super) struct Prepared {
    pub tokens: Arc<TokenCounter>,
    pub base_url: String,
    /// `base_url` without credentials, for reports.
    pub target: String,
    pub simulated: bool,
    pub api_key: Option<Secret>,
    /// How every request to the target is made (TLS files, key): pre-flight, version, scraper.
    pub access: Http,
    /// `load.lora_traffic_split`'s adapters, in order.
    pub lora_names: Vec<String>,
    /// The model asked for (`--model`, else `server.model_name`), when one is.
    pub model_name: Option<String>,
    /// Keeps the embedded simulator alive for the whole run.
    _sim: Option<SimHandle>,
}

/// What the *pre-flight* phase learnt from the target.
pub(super) struct Checked {
    /// The model requests name.
    pub model: String,
    pub server_version: Option<String>,
    /// Where the engine's metrics are read, when they are (shard 0 only, so they count once).
    pub scrape: Option<Source>,
}

/// Resolves the target, loads the tokenizer, and starts the embedded simulator when there is no
/// target.
pub(super) async fn prepare(
    scenario: &Scenario,
    options: &RunOptions,
    warnings: &mut Vec<String>,
) -> Result<Prepared, RunError> {
    let configured = match &options.target {
        Target::Simulator => None,
        Target::Scenario => scenario.server.base_url.clone(),
        Target::Url(url) => Some(url.clone()),
    };
    let simulated = configured.is_none();
    let tokens =
        Arc::new(load_tokens(scenario, options.tokenizer.as_ref(), simulated, warnings).await?);
    let lora_names = scenario
        .load
        .lora
        .as_ref()
        .map_or_else(Vec::new, Lora::names);
    let model_name = options
        .model
        .clone()
        .or_else(|| scenario.server.model_name.clone());
    let (base_url, sim) = match configured {
        Some(url) => (url, None),
        None => {
            let mut config = options.sim.clone();
            config.adapters = lora_names.clone();
            config.tokens = Arc::clone(&tokens);
            config.background = true;
            if let Some(model) = &model_name {
                config.model = model.clone();
            }
            let handle = SimHandle::start(config, ([127, 0, 0, 1], 0).into())
                .map_err(RunError::Simulator)?;
            (handle.base_url(), Some(handle))
        }
    };
    let api_key = options
        .api_key
        .clone()
        .or_else(|| scenario.server.api_key.clone());
    Ok(Prepared {
        tokens,
        target: redact_url(&base_url),
        access: Http::to_target(&scenario.server.tls, api_key.as_ref()),
        base_url,
        simulated,
        api_key,
        lora_names,
        model_name,
        _sim: sim,
    })
}

/// Checks the target answers and serves the model; reads its version and where its metrics are.
pub(super) async fn check(
    scenario: &Scenario,
    options: &RunOptions,
    prepared: &Prepared,
    warnings: &mut Vec<String>,
) -> Result<Checked, RunError> {
    let Prepared {
        base_url,
        target,
        access,
        ..
    } = prepared;
    let model = preflight::check(
        base_url,
        target,
        (prepared.model_name.as_deref(), &prepared.lora_names),
        access,
        options.wait_ready,
    )
    .await?;
    let server_version = preflight::server_version(base_url, access).await;
    // Only one shard scrapes the engine, so its metrics are counted once.
    let scrape = match options.shard.index() {
        0 => crate::measure::server::target_for(&scenario.scrape, base_url, access, warnings).await,
        _ => None,
    };
    Ok(Checked {
        model,
        server_version,
        scrape,
    })
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
