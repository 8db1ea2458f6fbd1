//! `data.otel_trace_replay` and `data.weka_trace_replay`: inference-perf's model validators (one
//! trace source, a static model's name, output substitution's conflicts) and the filter subset.
//! Trace files are not read here: a path may be a placeholder until the run (see `plan::replay`).

use std::path::Path;
use std::time::Duration;

use serde_yaml::Value;

use super::Checker;
use crate::scenario::ScenarioError;
use crate::scenario::filter::Filter;
use crate::scenario::locate::Step;
use crate::scenario::raw::{BadToolCallHandling, RawOtelReplay, RawWekaReplay};
use crate::scenario::replay::{ModelChoice, SessionReplay, TraceKind, TraceSource, Weka};

/// The fields both formats share, borrowed from either raw config.
struct Common<'a> {
    key: &'static str,
    use_static_model: bool,
    static_model_name: &'a str,
    model_mapping: Option<&'a std::collections::BTreeMap<String, String>>,
    default_max_tokens: u32,
    duplicate_sessions_target: Option<u64>,
    predecessor_wait_timeout_sec: f64,
    override_tool_call_max_tokens: bool,
    inject_random_session_id: bool,
    max_wait_ms: u64,
    include_errors: bool,
    skip_invalid_files: bool,
    trace_directory: Option<&'a String>,
    trace_files: Option<&'a Vec<String>>,
    hf_dataset_path: Option<&'a Value>,
}

macro_rules! common {
    ($raw:expr, $key:expr) => {
        Common {
            key: $key,
            use_static_model: $raw.use_static_model,
            static_model_name: &$raw.static_model_name,
            model_mapping: $raw.model_mapping.as_ref(),
            default_max_tokens: $raw.default_max_tokens,
            duplicate_sessions_target: $raw.duplicate_sessions_target,
            predecessor_wait_timeout_sec: $raw.predecessor_wait_timeout_sec,
            override_tool_call_max_tokens: $raw.override_tool_call_max_tokens,
            inject_random_session_id: $raw.inject_random_session_id,
            max_wait_ms: $raw.max_wait_ms,
            include_errors: $raw.include_errors,
            skip_invalid_files: $raw.skip_invalid_files,
            trace_directory: $raw.trace_directory.as_ref(),
            trace_files: $raw.trace_files.as_ref(),
            hf_dataset_path: $raw.hf_dataset_path.as_ref(),
        }
    };
}

/// `otel_trace_replay`.
pub(super) fn otel(
    c: &mut Checker<'_>,
    raw: &RawOtelReplay,
) -> Result<SessionReplay, ScenarioError> {
    let key = "otel_trace_replay";
    let at = |field: &'static str| [Step::Key("data"), Step::Key(key), Step::Key(field)];
    let mut replay = common(c, &common!(raw, key), TraceKind::Otel)?;
    replay.filter = match &raw.filter {
        Some(source) => Some(Filter::parse(source).map_err(|m| {
            c.error(
                &at("filter"),
                format!("{m}; infergate never evaluates code from a scenario file and reads a documented subset of Python lambdas"),
            )
        })?),
        None => None,
    };
    if raw.disable_output_substitution {
        let conflicting: Vec<&str> = [
            ("inject_random_session_id", raw.inject_random_session_id),
            (
                "duplicate_sessions_target",
                raw.duplicate_sessions_target.is_some(),
            ),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
        if !conflicting.is_empty() {
            return Err(c.error(
                &at("disable_output_substitution"),
                format!(
                    "cannot be combined with {}: those inject a random session id, which sends \
                     live predecessor output, the opposite of replaying recorded outputs (as in inference-perf)",
                    conflicting.join(" or ")
                ),
            ));
        }
    }
    replay.output_substitution = !raw.disable_output_substitution;
    replay.use_recorded_on_bad_tool_calls =
        raw.bad_tool_call_handling == BadToolCallHandling::UseRecorded;
    replay.header_map = raw
        .attribute_to_header_map
        .iter()
        .flatten()
        .map(|(a, h)| (a.clone(), h.clone()))
        .collect();
    if raw.attribute_to_label_map.is_some() {
        c.warn(
            &at("attribute_to_label_map"),
            "ignored: infergate's reports have no per-attribute labels yet",
        );
    }
    Ok(replay)
}

/// `weka_trace_replay`.
pub(super) fn weka(
    c: &mut Checker<'_>,
    raw: &RawWekaReplay,
) -> Result<SessionReplay, ScenarioError> {
    let key = "weka_trace_replay";
    let at = |field: &'static str| [Step::Key("data"), Step::Key(key), Step::Key(field)];
    let cap = raw.trace_idle_gap_cap_seconds;
    if !(cap >= 0.0 && cap.is_finite()) {
        return Err(c.error(
            &at("trace_idle_gap_cap_seconds"),
            "must be 0 or more seconds",
        ));
    }
    if raw.default_block_size == 0 || raw.num_dataset_entries == 0 {
        return Err(c.error(
            &[Step::Key("data"), Step::Key(key)],
            "default_block_size and num_dataset_entries must be at least 1",
        ));
    }
    let weka = Weka {
        idle_gap_cap: Duration::from_secs_f64(cap),
        ignore_trace_delays: raw.ignore_trace_delays,
        use_think_time_only: raw.use_think_time_only,
        block_size: raw.default_block_size,
        num_dataset_entries: raw.num_dataset_entries,
    };
    let mut replay = common(c, &common!(raw, key), TraceKind::Weka(weka))?;
    // The rebuilt answers go in later turns, not the live ones: a live answer a token longer or
    // shorter would shift every later block off the trace's boundaries (inference-perf's reason).
    replay.output_substitution = false;
    Ok(replay)
}

fn common(
    c: &Checker<'_>,
    raw: &Common<'_>,
    kind: TraceKind,
) -> Result<SessionReplay, ScenarioError> {
    let base = [Step::Key("data"), Step::Key(raw.key)];
    let at = |field: &'static str| [base[0], base[1], Step::Key(field)];
    let model = match (
        raw.use_static_model,
        raw.static_model_name,
        raw.model_mapping,
    ) {
        (true, "", _) => {
            return Err(c.error(
                &at("static_model_name"),
                "is required when use_static_model is true",
            ));
        }
        (true, name, _) => ModelChoice::Static(name.to_string()),
        (false, name, None) if !name.is_empty() => {
            return Err(c.error(
                &at("use_static_model"),
                "static_model_name is set: set use_static_model: true, or give model_mapping (as inference-perf requires)",
            ));
        }
        (false, _, Some(map)) => ModelChoice::Mapping(map.clone()),
        (false, _, None) => ModelChoice::Scenario,
    };
    if raw.default_max_tokens == 0 {
        return Err(c.error(&at("default_max_tokens"), "must be at least 1"));
    }
    if raw.duplicate_sessions_target == Some(0) {
        return Err(c.error(&at("duplicate_sessions_target"), "must be at least 1"));
    }
    let wait = raw.predecessor_wait_timeout_sec;
    if !(wait >= 0.0 && wait.is_finite()) {
        return Err(c.error(
            &at("predecessor_wait_timeout_sec"),
            "must be 0 (no limit) or more seconds",
        ));
    }
    let given = [
        raw.trace_directory.is_some(),
        raw.trace_files.is_some(),
        raw.hf_dataset_path.is_some(),
    ];
    let source = match (raw.trace_directory, raw.trace_files, raw.hf_dataset_path) {
        _ if given.iter().filter(|g| **g).count() > 1 => {
            return Err(c.error(
                &base,
                "give one trace source: trace_directory, trace_files or hf_dataset_path",
            ));
        }
        (Some(dir), _, _) => TraceSource::Directory(dir.into()),
        (_, Some(files), _) if files.is_empty() => {
            return Err(c.error(&at("trace_files"), "needs at least one file"));
        }
        (_, Some(files), _) => TraceSource::Files(files.clone()),
        (_, _, Some(hub)) => hub_source(c, &at("hf_dataset_path"), hub)?,
        _ => {
            return Err(c.error(
                &base,
                "needs a trace source: trace_directory, trace_files or hf_dataset_path",
            ));
        }
    };
    Ok(SessionReplay {
        kind,
        source,
        search: ancestors(c.path),
        model,
        default_max_tokens: raw.default_max_tokens,
        override_tool_call_max_tokens: raw.override_tool_call_max_tokens,
        inject_random_session_id: raw.inject_random_session_id,
        duplicate_sessions_target: raw.duplicate_sessions_target,
        max_wait: Duration::from_millis(raw.max_wait_ms),
        predecessor_timeout: (wait > 0.0).then(|| Duration::from_secs_f64(wait)),
        include_errors: raw.include_errors,
        skip_invalid_files: raw.skip_invalid_files,
        filter: None,
        output_substitution: true,
        header_map: Vec::new(),
        use_recorded_on_bad_tool_calls: false,
    })
}

/// `hf_dataset_path`: `"owner/name"` or `{path, revision, split}`.
fn hub_source(
    c: &Checker<'_>,
    at: &[Step<'_>],
    value: &Value,
) -> Result<TraceSource, ScenarioError> {
    let text = |v: Option<&Value>, default: &str| match v {
        None => Ok(default.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(c.error(at, "path, revision and split are strings")),
    };
    let (repo, revision, split) = match value {
        Value::String(repo) => (repo.clone(), "main".to_string(), "train".to_string()),
        Value::Mapping(map) => {
            for (k, _) in map {
                let k = k.as_str().unwrap_or("?");
                if !["path", "revision", "split", "filter"].contains(&k) {
                    return Err(c.error(
                        at,
                        format!("`{k}`: infergate reads path, revision and split (other load_dataset arguments are Python's)"),
                    ));
                }
            }
            let Some(path) = map.get("path") else {
                return Err(c.error(at, "needs `path: owner/name`"));
            };
            (
                text(Some(path), "")?,
                text(map.get("revision"), "main")?,
                text(map.get("split"), "train")?,
            )
        }
        _ => {
            return Err(c.error(
                at,
                "a dataset name (`owner/name`) or {path, revision, split}",
            ));
        }
    };
    if repo.split('/').count() != 2 || repo.contains("..") || repo.contains(' ') {
        return Err(c.error(
            at,
            format!("`{repo}` is not a hub dataset name (`owner/name`)"),
        ));
    }
    Ok(TraceSource::Hub {
        repo,
        revision,
        split,
    })
}

/// The scenario's directory and each one above it.
fn ancestors(path: &Path) -> Vec<std::path::PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.ancestors().map(Path::to_path_buf).collect()
}
