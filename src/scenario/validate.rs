//! Turns a `RawScenario` into a `Scenario`: checks meaning, applies defaults, parses thresholds, and
//! refuses (or warns about, when harmless) every inference-perf option infergate does not honour.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::env;
use super::locate::{Step, locate};
use super::raw::{
    ApiType, DataType, DistributionType, LoadType, RawDistribution, RawScenario, RawStage,
    RawSweep, RawThreshold, SweepType,
};
use super::threshold::{Threshold, parse_duration_micros, parse_fraction};
use super::{
    Api, ApiKind, Arrival, Data, DataSource, LengthDistribution, Load, Scenario, ScenarioError,
    ScenarioErrors, Secret, Server, SharedPrefix, Stage, Sweep, TokenizerSpec, Validity, Warmup,
};
use crate::scenario::TlsFiles;

/// The seed used when `load.base_seed` is absent, so that two runs of one file draw the same requests.
pub const DEFAULT_SEED: u64 = 42;

/// How long a started stream may stay silent when `load.idle_timeout` is absent.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

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
    let tokenizer = check_tokenizer(&c, &raw).map_err(|e| errors.push(e)).ok();
    let load = check_load(&mut c, &raw).map_err(|e| errors.push(e)).ok();
    let server = check_server(&c, &raw).map_err(|e| errors.push(e)).ok();
    let storage = super::storage::check(&mut c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    let _ = check_other_sections(&mut c, &raw).map_err(|e| errors.push(e));
    let stage_count = match &raw.load.sweep {
        Some(sweep) if raw.load.stages.is_empty() => sweep.num_stages as usize,
        _ => raw.load.stages.len(),
    };
    let thresholds = check_thresholds(&c, &raw, stage_count)
        .map_err(|mut e| errors.append(&mut e))
        .ok();
    let validity = check_validity(&c, &raw).map_err(|e| errors.push(e)).ok();
    let regression = super::regression::check(&c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    let scrape = super::scrape::check(&mut c, &raw)
        .map_err(|e| errors.push(e))
        .ok();
    match (
        api, data, tokenizer, load, server, storage, thresholds, validity, regression, scrape,
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
            warnings: c.warnings,
            config_hash: String::new(),
        }),
        _ => {
            errors.sort_by_key(|e| (e.line.is_none(), e.line));
            Err(ScenarioErrors(errors))
        }
    }
}

/// Parses the file; on an unknown key, records it, blanks the key (and its block) and parses again, so
/// every misspelt key is reported at once. Other syntax errors end the search.
fn parse_collecting_unknown_keys(path: &Path, source: &str) -> Result<RawScenario, ScenarioErrors> {
    let mut text = source.to_string();
    let mut errors = Vec::new();
    loop {
        let e = match serde_yaml::from_str::<RawScenario>(&text) {
            Ok(raw) if errors.is_empty() => return Ok(raw),
            Ok(_) => return Err(ScenarioErrors(errors)),
            Err(e) => e,
        };
        let unknown_key = e.to_string().contains("unknown field");
        let location = e.location();
        errors.push(yaml_error(path, &e));
        let blanked = match location {
            Some(at) if unknown_key && errors.len() < 50 => {
                blank_block(&text, at.line(), at.column())
            }
            _ => None,
        };
        match blanked {
            Some(next) => text = next,
            None => return Err(ScenarioErrors(errors)),
        }
    }
}

/// Replaces the block-style key at (line, column) and the lines nested under it with empty lines,
/// keeping every other line where it was. `None` when the key is not alone at the start of its line.
fn blank_block(text: &str, line: usize, column: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let target = lines.get(line.checked_sub(1)?)?;
    let indent = column.checked_sub(1)?;
    // `column` counts characters; the key must have only spaces before it.
    let before: String = target.chars().take(indent).collect();
    if before.chars().count() < indent || !before.trim().is_empty() {
        return None;
    }
    let mut out: Vec<&str> = lines.clone();
    out[line - 1] = "";
    for (i, l) in lines.iter().enumerate().skip(line) {
        let nested = l.trim().is_empty() || l.len() - l.trim_start().len() > indent;
        if !nested {
            break;
        }
        out[i] = "";
    }
    Some(out.join("\n"))
}

/// The suggestion for a misspelling: the allowed word closest to the one written, if close enough.
fn nearest<'a>(written: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (strsim::damerau_levenshtein(written, a), *a))
        .filter(|(d, a)| *d <= (a.len().max(written.len()) / 3).max(1))
        .min()
        .map(|(_, a)| a)
}

fn yaml_error(path: &Path, e: &serde_yaml::Error) -> ScenarioError {
    let text = e.to_string();
    // serde_yaml appends " at line L column C"; we print the position in front instead.
    let mut message = match text.rfind(" at line ") {
        Some(at) if e.location().is_some() => text[..at].to_string(),
        _ => text,
    };
    // "unknown field `streming`, expected one of `type`, `streaming`": suggest the nearest.
    if message.contains("unknown field") || message.contains("unknown variant") {
        let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
        if let Some((written, allowed)) = quoted.split_first()
            && let Some(suggestion) = nearest(written, allowed)
        {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        }
    }
    ScenarioError {
        path: path.to_path_buf(),
        line: e.location().map(|l| l.line()),
        column: e.location().map(|l| l.column()),
        key: None,
        message,
    }
}

fn check_api(c: &Checker<'_>, raw: &RawScenario) -> Result<Api, ScenarioError> {
    let api = &raw.api;
    let kind = match api.kind {
        ApiType::Completion => ApiKind::Completion,
        ApiType::Chat => ApiKind::Chat,
        ApiType::AnthropicMessages | ApiType::Embeddings => {
            return Err(c.error(
                &[Step::Key("api"), Step::Key("type")],
                "infergate supports `completion` and `chat`",
            ));
        }
    };
    for (key, value) in [
        ("slo_unit", &api.slo_unit),
        ("slo_tpot_header", &api.slo_tpot_header),
        ("slo_ttft_header", &api.slo_ttft_header),
        ("response_format", &api.response_format),
        ("session_id_header_key", &api.session_id_header_key),
        ("session_token_header_key", &api.session_token_header_key),
    ] {
        if value.is_some() {
            return Err(c.unsupported(&[Step::Key("api"), Step::Key(key)], key));
        }
    }
    Ok(Api {
        kind,
        streaming: api.streaming,
        headers: api
            .headers
            .iter()
            .flatten()
            .map(|(k, v)| {
                let at = [
                    Step::Key("api"),
                    Step::Key("headers"),
                    Step::Key(k.as_str()),
                ];
                Ok((k.clone(), env::expand(v).map_err(|m| c.error(&at, m))?))
            })
            .collect::<Result<_, ScenarioError>>()?,
    })
}

fn check_data(c: &mut Checker<'_>, raw: &RawScenario) -> Result<Data, ScenarioError> {
    let data = &raw.data;
    let source = match data.kind {
        DataType::Synthetic | DataType::Random | DataType::Mock => DataSource::Generated,
        DataType::SharedPrefix => {
            let at = [Step::Key("data"), Step::Key("shared_prefix")];
            let Some(p) = &data.shared_prefix else {
                return Err(c.error(&at, "`type: shared_prefix` needs a `shared_prefix` block"));
            };
            let shared = SharedPrefix {
                num_groups: p.num_groups,
                num_prompts_per_group: p.num_prompts_per_group,
                system_prompt_len: p.system_prompt_len,
                question_len: p.question_len,
                output_len: p.output_len,
            };
            if [
                shared.num_groups,
                shared.num_prompts_per_group,
                shared.question_len,
                shared.output_len,
            ]
            .contains(&0)
            {
                return Err(c.error(
                    &at,
                    "num_groups, num_prompts_per_group, question_len and output_len must be at least 1",
                ));
            }
            DataSource::SharedPrefix(shared)
        }
        DataType::ShareGpt => {
            let at = [Step::Key("data"), Step::Key("path")];
            let Some(path) = &data.path else {
                return Err(c.error(
                    &[Step::Key("data"), Step::Key("type")],
                    "`type: shareGPT` needs `path`: a local JSON file in the ShareGPT layout",
                ));
            };
            let path = resolve_relative(c.path, path);
            if !path.is_file() {
                return Err(c.error(&at, format!("{} is not a file", path.display())));
            }
            DataSource::ShareGpt { path }
        }
        _ => {
            return Err(c.error(
                &[Step::Key("data"), Step::Key("type")],
                "infergate supports `synthetic`, `random`, `mock`, `shared_prefix` and `shareGPT` data; other data sources are not supported yet",
            ));
        }
    };
    if data.shared_prefix.is_some() && data.kind != DataType::SharedPrefix {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("shared_prefix")],
            "only used with `type: shared_prefix`",
        ));
    }
    for (key, value) in [
        ("multimodal", &data.multimodal),
        ("trace", &data.trace),
        ("otel_trace_replay", &data.otel_trace_replay),
        ("conversation_replay", &data.conversation_replay),
        ("sharegpt4video", &data.sharegpt4video),
    ] {
        if value.is_some() {
            return Err(c.unsupported(&[Step::Key("data"), Step::Key(key)], key));
        }
    }
    if data.path.is_some() && data.kind != DataType::ShareGpt {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("path")],
            "only used with `type: shareGPT`",
        ));
    }
    let input = distribution(c, "input_distribution", data.input_distribution.as_ref())?;
    let output = distribution(c, "output_distribution", data.output_distribution.as_ref())?;
    Ok(Data {
        source,
        input,
        output,
    })
}

/// A relative path in a scenario is looked up from the working directory, then from the file's own.
fn resolve_relative(scenario: &Path, path: &str) -> PathBuf {
    let given = PathBuf::from(path);
    if given.is_absolute() || given.exists() {
        return given;
    }
    scenario
        .parent()
        .map_or(given.clone(), |dir| dir.join(&given))
}

fn check_sweep(
    c: &mut Checker<'_>,
    raw: &RawSweep,
    arrival: Arrival,
    has_stages: bool,
) -> Result<Sweep, ScenarioError> {
    let at = |key| [Step::Key("load"), Step::Key("sweep"), Step::Key(key)];
    if arrival == Arrival::Concurrent {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("sweep")],
            "a sweep ramps a rate: use it with `type: constant` or `type: poisson`",
        ));
    }
    if has_stages {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("sweep")],
            "give either `stages` or `sweep` (a sweep generates its stages)",
        ));
    }
    if raw.num_requests.is_some() || raw.timeout.is_some() || raw.saturation_percentile.is_some() {
        c.warn(
            &[Step::Key("load"), Step::Key("sweep")],
            "num_requests, timeout and saturation_percentile are ignored: infergate finds saturation \
             with a stepped ramp (start_rate, doubling, probe_duration each)",
        );
    }
    let positive = |key: &'static str, v: f64| {
        if v > 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(c.error(&at(key), format!("must be a positive number, got {v}")))
        }
    };
    let sweep = Sweep {
        geometric: raw.kind == SweepType::Geometric,
        num_stages: raw.num_stages,
        stage_duration: Duration::from_secs_f64(positive("stage_duration", raw.stage_duration)?),
        start_rate: positive("start_rate", raw.start_rate.unwrap_or(1.0))?,
        max_rate: positive("max_rate", raw.max_rate.unwrap_or(10_000.0))?,
        probe_duration: Duration::from_secs_f64(positive(
            "probe_duration",
            raw.probe_duration.unwrap_or(5.0),
        )?),
    };
    if !(1..=50).contains(&sweep.num_stages) {
        return Err(c.error(&at("num_stages"), "must be between 1 and 50"));
    }
    if sweep.max_rate < sweep.start_rate {
        return Err(c.error(&at("max_rate"), "must be at least start_rate"));
    }
    Ok(sweep)
}

fn check_tokenizer(
    c: &Checker<'_>,
    raw: &RawScenario,
) -> Result<Option<TokenizerSpec>, ScenarioError> {
    let Some(t) = &raw.tokenizer else {
        return Ok(None);
    };
    let Some(name) = &t.pretrained_model_name_or_path else {
        return Ok(None);
    };
    let at = |key| [Step::Key("tokenizer"), Step::Key(key)];
    let name = env::expand(name).map_err(|m| c.error(&at("pretrained_model_name_or_path"), m))?;
    let name = if super::looks_like_path(&name) {
        resolve_relative(c.path, &name).display().to_string()
    } else {
        name
    };
    let token = match &t.token {
        Some(token) => Some(Secret::new(
            env::expand(token).map_err(|m| c.error(&at("token"), m))?,
        )),
        None => None,
    };
    Ok(Some(TokenizerSpec { name, token }))
}

fn distribution(
    c: &mut Checker<'_>,
    key: &str,
    raw: Option<&RawDistribution>,
) -> Result<LengthDistribution, ScenarioError> {
    let default = RawDistribution {
        min: 10,
        max: 1024,
        mean: 512.0,
        std_dev: None,
        total_count: None,
        kind: DistributionType::Normal,
        variance: None,
        skew: 0.0,
    };
    let d = raw.unwrap_or(&default);
    let at = |field: &'static str| [Step::Key("data"), Step::Key(key), Step::Key(field)];
    if d.min > d.max {
        return Err(c.error(
            &at("min"),
            format!("min ({}) is greater than max ({})", d.min, d.max),
        ));
    }
    if d.max == 0 {
        return Err(c.error(&at("max"), "max must be at least 1 token"));
    }
    let std_dev = match (d.variance, d.std_dev) {
        (Some(_), Some(sd)) if sd > 0.0 => {
            return Err(c.error(&at("variance"), "give either std_dev or variance, not both"));
        }
        (Some(v), _) if v < 0.0 => {
            return Err(c.error(&at("variance"), "variance cannot be negative"));
        }
        (Some(v), _) => v.sqrt(),
        (None, sd) => sd.unwrap_or(200.0),
    };
    if std_dev < 0.0 {
        return Err(c.error(&at("std_dev"), "std_dev cannot be negative"));
    }
    if d.total_count.is_some() {
        c.warn(
            &at("total_count"),
            "ignored: infergate draws a fresh length for every request",
        );
    }
    Ok(match d.kind {
        DistributionType::Fixed => {
            LengthDistribution::Fixed((d.mean.round() as u32).clamp(d.min.max(1), d.max))
        }
        DistributionType::Normal if std_dev == 0.0 => {
            LengthDistribution::Fixed((d.mean.round() as u32).clamp(d.min.max(1), d.max))
        }
        DistributionType::Normal => LengthDistribution::Normal {
            mean: d.mean,
            std_dev,
            min: d.min.max(1),
            max: d.max,
        },
        DistributionType::Uniform => LengthDistribution::Uniform {
            min: d.min.max(1),
            max: d.max,
        },
        DistributionType::SkewNormal | DistributionType::Lognormal | DistributionType::Poisson => {
            return Err(c.error(
                &at("type"),
                "infergate supports the length distributions normal, uniform and fixed",
            ));
        }
    })
}

fn check_load(c: &mut Checker<'_>, raw: &RawScenario) -> Result<Load, ScenarioError> {
    let load = &raw.load;
    let arrival = match load.kind {
        LoadType::Constant => Arrival::Constant,
        LoadType::Poisson => Arrival::Poisson,
        LoadType::Concurrent => Arrival::Concurrent,
        LoadType::TraceReplay | LoadType::TraceSessionReplay => {
            return Err(c.error(
                &[Step::Key("load"), Step::Key("type")],
                "infergate supports the load types constant, poisson and concurrent",
            ));
        }
    };
    let sweep = match &load.sweep {
        Some(raw_sweep) => Some(check_sweep(c, raw_sweep, arrival, !load.stages.is_empty())?),
        None => None,
    };
    for (key, present) in [
        ("trace", load.trace.is_some()),
        ("lora_traffic_split", load.lora_traffic_split.is_some()),
        (
            "circuit_breakers",
            load.circuit_breakers
                .as_ref()
                .is_some_and(|v| !v.is_empty()),
        ),
        (
            "request_retries",
            load.request_retries.is_some_and(|n| n > 0),
        ),
    ] {
        if present {
            return Err(c.unsupported(&[Step::Key("load"), Step::Key(key)], key));
        }
    }
    for (key, present, why) in [
        (
            "worker_max_tcp_connections",
            load.worker_max_tcp_connections.is_some(),
            "ignored: connections are pooled and opened as needed",
        ),
        (
            "request_retry_backoff_sec",
            load.request_retry_backoff_sec.is_some(),
            "ignored: infergate never retries a request",
        ),
        (
            "stage_teardown_grace_seconds",
            load.stage_teardown_grace_seconds.is_some(),
            "ignored: a stage waits for every request it sent (bounded by load.request_timeout)",
        ),
    ] {
        if present {
            c.warn(&[Step::Key("load"), Step::Key(key)], why);
        }
    }
    if load.stages.is_empty() && sweep.is_none() {
        return Err(c.error(
            &[Step::Key("load")],
            "`load.stages` needs at least one stage",
        ));
    }
    let stages = load
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| check_stage(c, arrival, i, s))
        .collect::<Result<Vec<_>, _>>()?;
    if !(load.interval >= 0.0 && load.interval.is_finite()) {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("interval")],
            "must be 0 or more seconds",
        ));
    }
    let seconds = |key: &'static str, value: Option<f64>| match value {
        None => Ok(None),
        Some(t) if t > 0.0 && t.is_finite() => Ok(Some(Duration::from_secs_f64(t))),
        Some(_) => Err(c.error(
            &[Step::Key("load"), Step::Key(key)],
            "must be more than 0 seconds",
        )),
    };
    let request_timeout = seconds("request_timeout", load.request_timeout)?;
    let burstiness = match (load.burstiness, arrival) {
        (None, _) => 1.0,
        (Some(b), Arrival::Poisson) if b > 0.0 && b.is_finite() => b,
        (Some(_), Arrival::Poisson) => {
            return Err(c.error(
                &[Step::Key("load"), Step::Key("burstiness")],
                "must be more than 0",
            ));
        }
        (Some(_), _) => {
            return Err(c.error(
                &[Step::Key("load"), Step::Key("burstiness")],
                "applies to `load.type: poisson` only",
            ));
        }
    };
    let idle_timeout = seconds("idle_timeout", load.idle_timeout)?.unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let workers = load
        .num_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    if workers == 0 || load.worker_max_concurrency == 0 {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("worker_max_concurrency")],
            "num_workers and worker_max_concurrency must be at least 1",
        ));
    }
    let warmup = match &load.warmup {
        None => None,
        Some(w) => {
            let at = [Step::Key("load"), Step::Key("warmup")];
            match (w.requests, w.duration) {
                (Some(n), None) if n > 0 => Some(Warmup::Requests(n)),
                (None, Some(s)) if s > 0.0 && s.is_finite() && arrival != Arrival::Concurrent => {
                    Some(Warmup::Duration(Duration::from_secs_f64(s)))
                }
                (None, Some(_)) if arrival == Arrival::Concurrent => {
                    return Err(c.error(
                        &at,
                        "a concurrent load warms up by `requests`, not `duration`",
                    ));
                }
                _ => {
                    return Err(c.error(
                        &at,
                        "give one of `requests: N` (N >= 1) or `duration: S` (S > 0)",
                    ));
                }
            }
        }
    };
    Ok(Load {
        arrival,
        burstiness,
        warmup,
        stages,
        sweep,
        interval: Duration::from_secs_f64(load.interval),
        request_timeout,
        idle_timeout,
        max_in_flight: workers as usize * load.worker_max_concurrency as usize,
        seed: load.base_seed.unwrap_or(DEFAULT_SEED),
    })
}

fn check_stage(
    c: &Checker<'_>,
    arrival: Arrival,
    i: usize,
    s: &RawStage,
) -> Result<Stage, ScenarioError> {
    let at = |field: &'static str| {
        [
            Step::Key("load"),
            Step::Key("stages"),
            Step::Item(i),
            Step::Key(field),
        ]
    };
    let here = [Step::Key("load"), Step::Key("stages"), Step::Item(i)];
    for (key, present) in [
        ("concurrent_sessions", s.concurrent_sessions.is_some()),
        ("session_rate", s.session_rate.is_some()),
        ("num_sessions", s.num_sessions.is_some()),
        ("timeout", s.timeout.is_some()),
    ] {
        if present {
            return Err(c.unsupported(&at(key), key));
        }
    }
    match arrival {
        Arrival::Constant | Arrival::Poisson => {
            if s.num_requests.is_some() || s.concurrency_level.is_some() {
                return Err(c.error(
                    &here,
                    "num_requests and concurrency_level belong to `load.type: concurrent`; constant and poisson stages take rate and duration",
                ));
            }
            let rate = s
                .rate
                .ok_or_else(|| c.error(&here, "missing `rate` (requests per second)"))?;
            let duration = s
                .duration
                .ok_or_else(|| c.error(&here, "missing `duration` (seconds)"))?;
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(c.error(&at("rate"), "must be more than 0 requests per second"));
            }
            if !(duration > 0.0 && duration.is_finite()) {
                return Err(c.error(&at("duration"), "must be more than 0 seconds"));
            }
            Ok(Stage::Rate {
                rate,
                duration: Duration::from_secs_f64(duration),
            })
        }
        Arrival::Concurrent => {
            if s.rate.is_some() || s.duration.is_some() {
                return Err(c.error(
                    &here,
                    "rate and duration belong to constant and poisson loads; concurrent stages take num_requests and concurrency_level",
                ));
            }
            let num_requests = s
                .num_requests
                .ok_or_else(|| c.error(&here, "missing `num_requests`"))?;
            let concurrency = s
                .concurrency_level
                .ok_or_else(|| c.error(&here, "missing `concurrency_level`"))?;
            if num_requests == 0 {
                return Err(c.error(&at("num_requests"), "must be at least 1"));
            }
            if concurrency == 0 {
                return Err(c.error(&at("concurrency_level"), "must be at least 1"));
            }
            Ok(Stage::Concurrency {
                num_requests,
                concurrency,
            })
        }
    }
}

fn check_server(c: &Checker<'_>, raw: &RawScenario) -> Result<Server, ScenarioError> {
    let Some(server) = &raw.server else {
        return Ok(Server {
            base_url: None,
            model_name: None,
            ignore_eos: true,
            api_key: None,
            tls: TlsFiles::default(),
        });
    };
    // Relative paths are relative to the scenario file, so a suite can ship its certificates.
    let beside = |p: &String| c.path.parent().unwrap_or(Path::new(".")).join(p);
    let client_cert = match (&server.cert_path, &server.key_path) {
        (Some(cert), Some(key)) => Some((beside(cert), beside(key))),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            let missing = if server.cert_path.is_some() {
                "key_path"
            } else {
                "cert_path"
            };
            return Err(c.error(
                &[Step::Key("server"), Step::Key(missing)],
                "a client certificate needs both server.cert_path and server.key_path",
            ));
        }
    };
    let tls = TlsFiles {
        ca_cert: server.ca_cert_path.as_ref().map(beside),
        client_cert,
    };
    let expanded = |key: &'static str,
                    value: &Option<String>|
     -> Result<Option<String>, ScenarioError> {
        value
            .as_deref()
            .map(|v| env::expand(v).map_err(|m| c.error(&[Step::Key("server"), Step::Key(key)], m)))
            .transpose()
    };
    let base_url = expanded("base_url", &server.base_url)?;
    if let Some(url) = &base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(c.error(
            &[Step::Key("server"), Step::Key("base_url")],
            format!("`{url}` must start with http:// or https://"),
        ));
    }
    Ok(Server {
        base_url,
        model_name: server.model_name.clone(),
        ignore_eos: server.ignore_eos,
        api_key: expanded("api_key", &server.api_key)?.map(Secret::new),
        tls,
    })
}

fn check_other_sections(c: &mut Checker<'_>, raw: &RawScenario) -> Result<(), ScenarioError> {
    if raw.circuit_breakers.is_some() {
        return Err(c.unsupported(&[Step::Key("circuit_breakers")], "circuit_breakers"));
    }
    if let Some(report) = &raw.report {
        if report.prometheus.is_some() || report.goodput.is_some() {
            c.warn(
                &[Step::Key("report")],
                "prometheus and goodput reports are not produced yet",
            );
        }
        if report
            .request_lifecycle
            .as_ref()
            .is_some_and(|r| r.per_request == Some(true) || r.percentiles.is_some())
        {
            c.warn(
                &[Step::Key("report"), Step::Key("request_lifecycle")],
                "per_request reports and custom percentiles are not produced yet",
            );
        }
    }
    Ok(())
}

fn check_thresholds(
    c: &Checker<'_>,
    raw: &RawScenario,
    stage_count: usize,
) -> Result<Vec<Threshold>, Vec<ScenarioError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (key, expressions) in &raw.thresholds {
        let here = [Step::Key("thresholds"), Step::Key(key.as_str())];
        let items = expressions.items();
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
                Ok(t) => out.push(t),
            }
        }
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
