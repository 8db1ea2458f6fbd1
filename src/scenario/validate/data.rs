//! `data` and `tokenizer`: where prompts come from, their length distributions, and what counts tokens.

use std::path::{Path, PathBuf};

use super::Checker;
use crate::scenario::locate::Step;
use crate::scenario::raw::{
    DEFAULT_QUESTION_LEN, DEFAULT_SYSTEM_PROMPT_LEN, DataType, DistributionType, RawDistribution,
    RawScenario, RawSharedPrefix, RawVisionArena,
};
use crate::scenario::{
    Data, DataSource, LengthDistribution, ScenarioError, Secret, SharedPrefix, TokenizerSpec,
};

pub(super) fn check_data(c: &mut Checker<'_>, raw: &RawScenario) -> Result<Data, ScenarioError> {
    let data = &raw.data;
    let source = match data.kind {
        DataType::Synthetic | DataType::Random | DataType::Mock => match &data.trace {
            Some(t) => DataSource::TraceLengths {
                path: resolve_relative(c.path, &t.file),
            },
            None => DataSource::Generated,
        },
        DataType::SharedPrefix => {
            let at = [Step::Key("data"), Step::Key("shared_prefix")];
            let Some(p) = &data.shared_prefix else {
                return Err(c.error(&at, "`type: shared_prefix` needs a `shared_prefix` block"));
            };
            DataSource::SharedPrefix(shared_prefix(c, p)?)
        }
        DataType::ShareGpt => {
            let at = [Step::Key("data"), Step::Key("path")];
            let path = match &data.path {
                Some(path) => {
                    let path = resolve_relative(c.path, path);
                    if !path.is_file() {
                        return Err(c.error(&at, format!("{} is not a file", path.display())));
                    }
                    Some(path)
                }
                // inference-perf's hub dataset, resolved when the run starts.
                None => None,
            };
            DataSource::ShareGpt { path }
        }
        DataType::ConversationReplay => {
            let Some(raw) = &data.conversation_replay else {
                return Err(c.error(
                    &[Step::Key("data"), Step::Key("conversation_replay")],
                    "`type: conversation_replay` needs a `conversation_replay` block",
                ));
            };
            DataSource::Conversations(super::conversations::conversations(c, raw)?)
        }
        DataType::VisionArena => {
            // inference-perf's defaults when the block is absent.
            let default: RawVisionArena = serde_yaml::from_str("{}").expect("every field defaults");
            let raw = data.visionarena.as_ref().unwrap_or(&default);
            DataSource::VisionArena(super::media::visionarena(c, raw)?)
        }
        DataType::OtelTraceReplay => {
            let Some(raw) = &data.otel_trace_replay else {
                return Err(c.error(
                    &[Step::Key("data"), Step::Key("otel_trace_replay")],
                    "`type: otel_trace_replay` needs an `otel_trace_replay` block",
                ));
            };
            DataSource::Replay(Box::new(super::replay::otel(c, raw)?))
        }
        DataType::WekaTraceReplay => {
            let Some(raw) = &data.weka_trace_replay else {
                return Err(c.error(
                    &[Step::Key("data"), Step::Key("weka_trace_replay")],
                    "`type: weka_trace_replay` needs a `weka_trace_replay` block",
                ));
            };
            DataSource::Replay(Box::new(super::replay::weka(c, raw)?))
        }
        _ => {
            return Err(c.error(
                &[Step::Key("data"), Step::Key("type")],
                "infergate supports `synthetic`, `random`, `mock`, `shared_prefix`, `shareGPT`, `conversation_replay`, `visionarena`, `otel_trace_replay` and `weka_trace_replay` data; other data sources are not supported yet",
            ));
        }
    };
    let generated = matches!(
        data.kind,
        DataType::Synthetic | DataType::Random | DataType::Mock
    );
    if data.trace.is_some() && !generated {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("trace")],
            "only used with `type: random` (or `synthetic`, `mock`): the trace gives each request's lengths",
        ));
    }
    if data.conversation_replay.is_some() && data.kind != DataType::ConversationReplay {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("conversation_replay")],
            "only used with `type: conversation_replay`",
        ));
    }
    if data.shared_prefix.is_some() && data.kind != DataType::SharedPrefix {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("shared_prefix")],
            "only used with `type: shared_prefix`",
        ));
    }
    for (key, given, kind) in [
        (
            "otel_trace_replay",
            data.otel_trace_replay.is_some(),
            DataType::OtelTraceReplay,
        ),
        (
            "weka_trace_replay",
            data.weka_trace_replay.is_some(),
            DataType::WekaTraceReplay,
        ),
    ] {
        if given && data.kind != kind {
            return Err(c.error(
                &[Step::Key("data"), Step::Key(key)],
                format!("only used with `type: {key}`"),
            ));
        }
    }
    if data.visionarena.is_some() && data.kind != DataType::VisionArena {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("visionarena")],
            "only used with `type: visionarena`",
        ));
    }
    let media = match &data.multimodal {
        None => None,
        Some(_) if !generated && data.kind != DataType::SharedPrefix => {
            return Err(c.error(
                &[Step::Key("data"), Step::Key("multimodal")],
                "synthetic media go with `synthetic`, `random`, `mock` or `shared_prefix` data",
            ));
        }
        Some(raw) => {
            let at = [Step::Key("data"), Step::Key("multimodal")];
            Some(super::media::multimodal(c, &at, raw)?).filter(|m| !m.is_empty())
        }
    };
    if let (Some(_), DataSource::SharedPrefix(p)) = (&media, &source)
        && p.multi_turn
    {
        return Err(c.error(
            &[Step::Key("data"), Step::Key("multimodal")],
            "multimodal prompts cannot be multi-turn (`enable_multi_turn_chat`), as in inference-perf",
        ));
    }
    if data.sharegpt4video.is_some() {
        let key = "sharegpt4video";
        return Err(c.unsupported(&[Step::Key("data"), Step::Key(key)], key));
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
        media,
    })
}

/// A relative path in a scenario is looked up from the working directory, then from the file's own.
pub(super) fn resolve_relative(scenario: &Path, path: &str) -> PathBuf {
    let given = PathBuf::from(path);
    if given.is_absolute() || given.exists() {
        return given;
    }
    scenario
        .parent()
        .map_or(given.clone(), |dir| dir.join(&given))
}

pub(super) fn check_tokenizer(
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
    let name = crate::scenario::env::expand(name)
        .map_err(|m| c.error(&at("pretrained_model_name_or_path"), m))?;
    let name = if crate::scenario::looks_like_path(&name) {
        resolve_relative(c.path, &name).display().to_string()
    } else {
        name
    };
    let token = match &t.token {
        Some(token) => Some(Secret::new(
            crate::scenario::env::expand(token).map_err(|m| c.error(&at("token"), m))?,
        )),
        None => None,
    };
    Ok(Some(TokenizerSpec { name, token }))
}

/// `shared_prefix`: groups of prompts sharing a system prompt, every length a number or a
/// distribution (inference-perf's legacy `question_distribution` / `output_distribution` too).
fn shared_prefix(c: &mut Checker<'_>, p: &RawSharedPrefix) -> Result<SharedPrefix, ScenarioError> {
    let base = [Step::Key("data"), Step::Key("shared_prefix")];
    let at = |field: &'static str| [base[0], base[1], Step::Key(field)];
    let media = match &p.multimodal {
        Some(_) if p.enable_multi_turn_chat => {
            return Err(c.error(
                &at("multimodal"),
                "multimodal prompts cannot be multi-turn (`enable_multi_turn_chat`), as in inference-perf",
            ));
        }
        Some(raw) => Some(super::media::multimodal(c, &at("multimodal"), raw)?)
            .filter(|m| !m.is_empty())
            .map(Box::new),
        None => None,
    };
    if p.num_groups == 0 || p.num_prompts_per_group == 0 {
        return Err(c.error(
            &base,
            "num_groups and num_prompts_per_group must be at least 1",
        ));
    }
    let system_prompt_len = length(
        c,
        "system_prompt_len",
        &p.system_prompt_len,
        None,
        DEFAULT_SYSTEM_PROMPT_LEN,
    )?;
    let question_len = length(
        c,
        "question_len",
        &p.question_len,
        p.question_distribution
            .as_ref()
            .map(|d| ("question_distribution", d)),
        DEFAULT_QUESTION_LEN,
    )?;
    let output_len = length(
        c,
        "output_len",
        &p.output_len,
        p.output_distribution
            .as_ref()
            .map(|d| ("output_distribution", d)),
        DEFAULT_QUESTION_LEN,
    )?;
    for (key, d) in [("question_len", question_len), ("output_len", output_len)] {
        if d == LengthDistribution::Fixed(0) {
            return Err(c.error(&at(key), "must be at least 1 token"));
        }
    }
    Ok(SharedPrefix {
        num_groups: p.num_groups,
        num_prompts_per_group: p.num_prompts_per_group,
        system_prompt_len,
        question_len,
        output_len,
        seed: p.seed,
        multi_turn: p.enable_multi_turn_chat,
        media,
    })
}

/// One `shared_prefix` length: a number of tokens, an inline distribution, or (for a number or
/// nothing) the legacy distribution beside it, given with its key, as inference-perf resolves them.
fn length(
    c: &mut Checker<'_>,
    key: &'static str,
    value: &Option<serde_yaml::Value>,
    legacy: Option<(&'static str, &RawDistribution)>,
    default: u32,
) -> Result<LengthDistribution, ScenarioError> {
    use serde_yaml::Value;
    let at = |key| {
        [
            Step::Key("data"),
            Step::Key("shared_prefix"),
            Step::Key(key),
        ]
    };
    match (value, legacy) {
        (Some(Value::Mapping(_)), Some((legacy_key, _))) => Err(c.error(
            &at(key),
            format!("give a distribution here or in `{legacy_key}`, not both"),
        )),
        (Some(v @ Value::Mapping(_)), None) => {
            let raw: RawDistribution = serde_yaml::from_value(v.clone()).map_err(|e| {
                c.error(
                    &at(key),
                    format!("a distribution {{type, mean, std_dev, min, max, skew}}: {e}"),
                )
            })?;
            distribution_at(c, &at(key), &raw)
        }
        (Some(Value::Number(_)) | None, Some((legacy_key, d))) => {
            distribution_at(c, &at(legacy_key), d)
        }
        (Some(Value::Number(n)), None) => match n.as_u64() {
            Some(n) => Ok(LengthDistribution::Fixed(n.min(u64::from(u32::MAX)) as u32)),
            None => Err(c.error(&at(key), "a whole number of tokens, or a distribution")),
        },
        (None, None) => Ok(LengthDistribution::Fixed(default)),
        (Some(_), _) => Err(c.error(&at(key), "a whole number of tokens, or a distribution")),
    }
}

fn distribution(
    c: &mut Checker<'_>,
    key: &'static str,
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
    distribution_at(
        c,
        &[Step::Key("data"), Step::Key(key)],
        raw.unwrap_or(&default),
    )
}

/// A length distribution at `base` (the map holding `type`, `mean`, ...), checked as inference-perf
/// checks it.
pub(super) fn distribution_at(
    c: &mut Checker<'_>,
    base: &[Step<'_>],
    d: &RawDistribution,
) -> Result<LengthDistribution, ScenarioError> {
    let at = |field: &'static str| {
        let mut path = base.to_vec();
        path.push(Step::Key(field));
        path
    };
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
    // Lengths are at least one token; a distribution without spread is its mean (`as` saturates a
    // negative mean to 0, which the clamp raises to `min`).
    let (min, max) = (d.min.max(1), d.max);
    let fixed = LengthDistribution::Fixed((d.mean.round() as u32).clamp(min, max));
    use DistributionType as T;
    Ok(match d.kind {
        // inference-perf: `int(mean)`, whatever `min` and `max` say.
        T::Fixed => LengthDistribution::Fixed(d.mean.max(0.0) as u32),
        T::Normal | T::SkewNormal | T::Lognormal if std_dev == 0.0 => fixed,
        T::Normal => LengthDistribution::Normal {
            mean: d.mean,
            std_dev,
            min,
            max,
        },
        T::Uniform => LengthDistribution::Uniform { min, max },
        T::SkewNormal if !d.skew.is_finite() => {
            return Err(c.error(&at("skew"), "skew must be a finite number"));
        }
        T::SkewNormal => LengthDistribution::SkewNormal {
            mean: d.mean,
            std_dev,
            skew: d.skew,
            min,
            max,
        },
        T::Lognormal if d.mean <= 0.0 => {
            return Err(c.error(&at("mean"), "a lognormal distribution needs mean > 0"));
        }
        T::Lognormal => LengthDistribution::LogNormal {
            mean: d.mean,
            std_dev,
            min,
            max,
        },
        // inference-perf: a rate of `mean`, or 1 when `mean` is not positive.
        T::Poisson => LengthDistribution::Poisson {
            mean: if d.mean > 0.0 { d.mean } else { 1.0 },
            min,
            max,
        },
    })
}
