//! Turns a `RawScenario` into a `Scenario`: checks meaning, applies defaults, parses thresholds, and
//! refuses (or warns about, when harmless) every inference-perf option infergate does not honour.
//! One file per section: `server` (api and server), `data` (data and tokenizer), `load`; `yaml` places
//! parse errors and unknown keys.

mod breakers;
mod capacity;
mod conversations;
mod data;
mod load;
mod media;
mod replay;
mod server;
mod yaml;

use data::{check_data, check_tokenizer};
use load::check_load;
use server::{check_api, check_server};
use yaml::parse_collecting_unknown_keys;

use std::path::Path;
use std::time::Duration;

use super::locate::{Step, locate};
use super::raw::{RawScenario, RawThreshold};
use super::threshold::{Metric, Threshold, parse_duration_micros, parse_fraction};
use super::{Scenario, ScenarioError, ScenarioErrors, Validity};

/// The seed used when `load.base_seed` is absent, so that two runs of one file draw the same requests.
pub const DEFAULT_SEED: u64 = 42;

/// How long a started stream may stay silent when `load.idle_timeout` is absent.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Images, audio and video are chat content parts: the completions API has no place for them.
fn media_needs_chat(
    c: &Checker<'_>,
    api: &super::Api,
    data: &super::Data,
) -> Result<(), ScenarioError> {
    if api.kind == super::ApiKind::Chat {
        return Ok(());
    }
    let at: &[Step<'_>] = match &data.source {
        super::DataSource::VisionArena(_) => &[Step::Key("data"), Step::Key("type")],
        super::DataSource::SharedPrefix(p) if p.media.is_some() => &[
            Step::Key("data"),
            Step::Key("shared_prefix"),
            Step::Key("multimodal"),
        ],
        _ if data.media.is_some() => &[Step::Key("data"), Step::Key("multimodal")],
        _ => return Ok(()),
    };
    Err(c.error(
        at,
        "images, audio and video are sent as chat content parts: set `api.type: chat`",
    ))
}

/// Session replay data goes with `trace_session_replay` stages and the chat API, and only they, as
/// inference-perf's validator requires.
fn replay_needs_sessions(
    c: &Checker<'_>,
    api: &super::Api,
    data: &super::Data,
    load: &super::Load,
) -> Result<(), ScenarioError> {
    let replay = matches!(data.source, super::DataSource::Replay(_));
    let sessions = load.arrival == super::Arrival::Sessions;
    if replay && !sessions {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("type")],
            "otel_trace_replay and weka_trace_replay data are replayed by `load.type: trace_session_replay`",
        ));
    }
    if sessions && !replay {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("type")],
            "`load.type: trace_session_replay` replays `otel_trace_replay` or `weka_trace_replay` data",
        ));
    }
    if replay && api.kind != super::ApiKind::Chat {
        return Err(c.error(
            &[Step::Key("api"), Step::Key("type")],
            "recorded sessions are chat messages: set `api.type: chat`",
        ));
    }
    if replay && (data.media.is_some() || load.lora.is_some()) {
        return Err(c.error(
            &[Step::Key("data")],
            "session replay sends the recorded messages: no `multimodal` or `lora_traffic_split` with it",
        ));
    }
    Ok(())
}

/// Collects the file's path and source so errors can be placed.
pub(super) struct Checker<'a> {
    path: &'a Path,
    source: &'a str,
    warnings: Vec<String>,
}

impl Checker<'_> {
    pub(super) fn error(&self, path: &[Step<'_>], message: impl Into<String>) -> ScenarioError {
        let position = self.position(path);
        ScenarioError {
            path: self.path.to_path_buf(),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            key: Some(dotted(path)),
            message: message.into(),
        }
    }

    /// Where `path` is written, or the nearest enclosing key that can be found (flow-style values such
    /// as `api: {type: chat}` are placed at their key).
    fn position(&self, path: &[Step<'_>]) -> Option<(usize, usize)> {
        (1..=path.len())
            .rev()
            .find_map(|n| locate(self.source, &path[..n]))
    }

    pub(super) fn unsupported(&self, path: &[Step<'_>], what: &str) -> ScenarioError {
        self.error(
            path,
            format!("{what} is an inference-perf option infergate does not support yet; remove it"),
        )
    }

    pub(super) fn warn(&mut self, path: &[Step<'_>], message: &str) {
        let at = self
            .position(path)
            .map(|(line, _)| format!(":{line}"))
            .unwrap_or_default();
        self.warnings.push(format!(
            "{}{at}: {}: {message}",
            self.path.display(),
            dotted(path)
        ));
    }
}

fn dotted(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Item(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

pub fn validate(path: &Path, source: &str) -> Result<Scenario, ScenarioErrors> {
    if source.trim().is_empty() {
        return Err(ScenarioErrors(vec![ScenarioError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: "the file is empty; a scenario needs at least `load.stages`".to_string(),
        }]));
    }
    let raw = parse_collecting_unknown_keys(path, source)?;
    let mut c = Checker {
        path,
        source,
        warnings: Vec::new(),
    };
    let mut errors = Vec::new();
    let api = check_api(&c, &raw).map_err(|e| errors.push(e)).ok();
    let data = check_data(&mut c, &raw).map_err(|e| errors.push(e)).ok();
    if let (Some(api), Some(data)) = (&api, &data) {
        conversations::check_session_headers(&mut c, api, data);
        if let Err(e) = media_needs_chat(&c, api, data) {
            errors.push(e);
        }
    }
    let tokenizer = check_tokenizer(&c, &raw).map_err(|e| errors.push(e)).ok();
    let load = check_load(&mut c, &raw).map_err(|e| errors.push(e)).ok();
    if let (Some(api), Some(data), Some(load)) = (&api, &data, &load)
        && let Err(e) = replay_needs_sessions(&c, api, data, load)
    {
        errors.push(e);
    }
    let server = check_server(&c, &raw).map_err(|e| errors.push(e)).ok();
    let storage = super::storage::check(&mut c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    let stage_count = match (&raw.load.sweep, &raw.load.capacity) {
        (Some(sweep), _) if raw.load.stages.is_empty() => sweep.num_stages as usize,
        (_, Some(c)) if raw.load.stages.is_empty() => c
            .stages
            .as_ref()
            .map_or(super::capacity::DEFAULT_STAGES.len(), Vec::len),
        _ => raw.load.stages.len(),
    };
    let thresholds = check_thresholds(&c, &raw, stage_count)
        .map_err(|mut e| errors.append(&mut e))
        .ok();
    let validity = check_validity(&c, &raw).map_err(|e| errors.push(e)).ok();
    let mut regression = super::regression::check(&c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    let scrape = super::scrape::check(&mut c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    let goodput = super::goodput::check(&c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    let per_request = super::records::check(&c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    let percentiles = super::records::percentiles(&c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    if let (Some(thresholds), Some(goodput)) = (&thresholds, &goodput) {
        needs_goodput(&c, &raw, thresholds, goodput.as_ref(), &mut errors);
    }
    let capacity = match &goodput {
        Some(goodput) => capacity::check(&mut c, &raw, goodput.as_ref())
            .map_err(|e| errors.push(e))
            .ok(),
        None => None,
    };
    if let Some(thresholds) = &thresholds {
        needs_capacity(&c, &raw, thresholds, &mut errors);
    }
    let listed = raw.regression.as_ref().is_some_and(|r| r.metrics.is_some());
    if let (Some(regression), Some(Some(_)), false) = (&mut regression, &goodput, listed) {
        // With SLOs, a baseline comparison also judges their attainment by default (1 point).
        let allowance = super::regression::Allowance::Absolute(0.01);
        regression.metrics.push((Metric::SloAttainment, allowance));
    }
    match (
        api,
        data,
        tokenizer,
        load,
        server,
        storage,
        thresholds,
        validity,
        regression,
        scrape,
        goodput,
        per_request,
        percentiles,
        capacity,
    ) {
        (
            Some(api),
            Some(data),
            Some(tokenizer),
            Some(load),
            Some(server),
            Some(storage),
            Some(thresholds),
            Some(validity),
            Some(regression),
            Some(scrape),
            Some(goodput),
            Some(per_request),
            Some(percentiles),
            Some(capacity),
        ) if errors.is_empty() => Ok(Scenario {
            path: path.to_path_buf(),
            api,
            data,
            tokenizer,
            load,
            server,
            storage,
            thresholds,
            validity,
            regression,
            scrape,
            goodput,
            per_request,
            percentiles,
            capacity,
            server_reports: super::scrape::reports(&raw),
            warnings: c.warnings,
            config_hash: String::new(),
        }),
        _ => {
            errors.sort_by_key(|e| (e.line.is_none(), e.line));
            Err(ScenarioErrors(errors))
        }
    }
}

/// Goodput metrics in thresholds or the regression block need `report.goodput.constraints`.
fn needs_goodput(
    c: &Checker<'_>,
    raw: &RawScenario,
    thresholds: &[Threshold],
    goodput: Option<&super::goodput::Goodput>,
    errors: &mut Vec<ScenarioError>,
) {
    if goodput.is_some() {
        return;
    }
    let why = "needs per-request SLOs: give report.goodput.constraints, e.g. {ttft: 0.5}";
    for t in thresholds.iter().filter(|t| t.metric.needs_goodput()) {
        let here = [Step::Key("thresholds"), Step::Key(t.key.as_str())];
        errors.push(c.error(&here, format!("`{}` {why}", t.metric.name())));
    }
    let listed = raw.regression.as_ref().and_then(|r| r.metrics.as_ref());
    for name in listed.into_iter().flat_map(|m| m.keys()) {
        if Metric::parse(name).is_ok_and(Metric::needs_goodput) {
            let here = [
                Step::Key("regression"),
                Step::Key("metrics"),
                Step::Key(name.as_str()),
            ];
            errors.push(c.error(&here, format!("`{name}` {why}")));
        }
    }
}

/// A `capacity` threshold needs `load.capacity`, and applies to the whole run.
fn needs_capacity(
    c: &Checker<'_>,
    raw: &RawScenario,
    thresholds: &[Threshold],
    errors: &mut Vec<ScenarioError>,
) {
    for t in thresholds.iter().filter(|t| t.metric == Metric::Capacity) {
        let here = [Step::Key("thresholds"), Step::Key(t.key.as_str())];
        let problem = if raw.load.capacity.is_none() {
            "needs load.capacity (the search that finds it)"
        } else if t.stage.is_some() || t.adapter.is_some() {
            "is found once per run: no stage or adapter scope"
        } else if t.abort_on_fail {
            "is known only after the search: abortOnFail does not apply"
        } else {
            continue;
        };
        errors.push(c.error(&here, format!("`capacity` {problem}")));
    }
}

/// What is wrong with a threshold's `{adapter:NAME}` scope, if anything: the adapter must be one
/// `load.lora_traffic_split` names, and such a threshold is judged after the run, against no baseline.
fn adapter_scope_problem(raw: &RawScenario, t: &Threshold) -> Option<String> {
    let name = t.adapter.as_deref()?;
    let names: Vec<&str> = raw
        .load
        .lora_traffic_split
        .iter()
        .flatten()
        .map(|a| a.name.as_str())
        .collect();
    if !names.contains(&name) {
        return Some(format!(
            "no adapter `{name}` in load.lora_traffic_split (adapters: {names:?})"
        ));
    }
    if t.metric.is_server() {
        return Some("server-side metrics are not split by adapter".into());
    }
    if t.baseline_factor.is_some() || t.abort_on_fail {
        return Some(
            "an adapter-scoped threshold is judged after the run: give an absolute limit, without abortOnFail"
                .into(),
        );
    }
    None
}

fn check_thresholds(
    c: &Checker<'_>,
    raw: &RawScenario,
    stage_count: usize,
) -> Result<Vec<Threshold>, Vec<ScenarioError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut names_error_rate = false;
    for (key, expressions) in &raw.thresholds {
        let here = [Step::Key("thresholds"), Step::Key(key.as_str())];
        let items = expressions.items();
        let metric = key.split('{').next().unwrap_or_default().trim();
        names_error_rate |= metric == Metric::ErrorRate.name();
        if items.is_empty() && metric == Metric::ErrorRate.name() {
            continue; // `error_rate: []`: no error-rate threshold, not even the default one
        }
        if items.is_empty() {
            errors.push(c.error(
                &here,
                "give at least one expression, e.g. [\"p(99) < 1200ms\"]",
            ));
        }
        for item in items {
            let parsed = match item {
                RawThreshold::Expression(expression) => Threshold::parse(key, expression),
                RawThreshold::Object(o) => Threshold::parse(key, &o.threshold).and_then(|mut t| {
                    t.abort_on_fail = o.abort_on_fail;
                    if let Some(delay) = &o.delay_abort_eval {
                        let micros = parse_duration_micros(delay)
                            .map_err(|m| format!("delayAbortEval: {m}"))?;
                        t.delay_abort_eval =
                            std::time::Duration::from_secs_f64(micros.max(0.0) / 1e6);
                    }
                    Ok(t)
                }),
            };
            match parsed {
                Err(m) => errors.push(c.error(&here, m)),
                Ok(t) if t.stage.is_some_and(|s| s >= stage_count) => errors.push(c.error(
                    &here,
                    format!(
                        "stage {} does not exist; this scenario has stages 0 to {}",
                        t.stage.unwrap_or_default(),
                        stage_count.saturating_sub(1)
                    ),
                )),
                Ok(t) => match adapter_scope_problem(raw, &t) {
                    Some(problem) => errors.push(c.error(&here, problem)),
                    None => out.push(t),
                },
            }
        }
    }
    if !names_error_rate {
        out.push(Threshold::default_error_rate());
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn check_validity(c: &Checker<'_>, raw: &RawScenario) -> Result<Validity, ScenarioError> {
    let mut validity = Validity::default();
    let Some(v) = &raw.validity else {
        return Ok(validity);
    };
    if let Some(text) = &v.max_schedule_delay_p99 {
        let at = [Step::Key("validity"), Step::Key("max_schedule_delay_p99")];
        validity.max_schedule_delay_p99_us =
            parse_duration_micros(text).map_err(|m| c.error(&at, m))?;
    }
    if let Some(text) = &v.min_achieved_rate {
        let at = [Step::Key("validity"), Step::Key("min_achieved_rate")];
        let fraction = parse_fraction(text).map_err(|m| c.error(&at, m))?;
        if !(0.0..=1.0).contains(&fraction) {
            return Err(c.error(&at, "must be between 0% and 100%"));
        }
        validity.min_achieved_rate = fraction;
    }
    Ok(validity)
}
