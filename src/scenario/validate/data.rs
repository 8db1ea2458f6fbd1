//! `data` and `tokenizer`: where prompts come from, their length distributions, and what counts tokens.

use std::path::{Path, PathBuf};

use super::Checker;
use crate::scenario::locate::Step;
use crate::scenario::raw::{
    DEFAULT_QUESTION_LEN, DEFAULT_SYSTEM_PROMPT_LEN, DataType, DistributionType, RawDistribution,
    RawScenario, RawSharedPrefix,
};
use crate::scenario::{
    Data, DataSource, LengthDistribution, ScenarioError, Secret, SharedPrefix, TokenizerSpec,
};

pub(super) fn check_data(c: &mut Checker<'_>, raw: &RawScenario) -> Result<Data, ScenarioError> {
    let data = &raw.data;
    let source = match data.kind {
        DataType::Synthetic | DataType::Random | DataType::Mock => DataSource::Generated,
        DataType::SharedPrefix => {
            let at = [Step::Key("data"), Step::Key("shared_prefix")];
            let Some(p) = &data.shared_prefix else {
                return Err(c.error(&at, "`type: shared_prefix` needs a `shared_prefix` block"));
            };
            DataSource::SharedPrefix(shared_prefix(c, p)?)
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
    if p.enable_multi_turn_chat {
        return Err(c.error(
            &at("enable_multi_turn_chat"),
            "multi-turn chat over a group's prompts is not supported yet; each prompt is sent on its own",
        ));
    }
    if p.multimodal.is_some() {
        return Err(c.error(
            &at("multimodal"),
            "multimodal prompts are not supported yet",
        ));
    }
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
        p.question_distribution.as_ref(),
        DEFAULT_QUESTION_LEN,
    )?;
    let output_len = length(
        c,
        "output_len",
        &p.output_len,
        p.output_distribution.as_ref(),
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
    })
}

/// One `shared_prefix` length: a number of tokens, an inline distribution, or (for a number or
/// nothing) the legacy `<name>_distribution` beside it, as inference-perf resolves them.
fn length(
    c: &mut Checker<'_>,
    key: &'static str,
    value: &Option<serde_yaml::Value>,
    legacy: Option<&RawDistribution>,
    default: u32,
) -> Result<LengthDistribution, ScenarioError> {
    let at = [
        Step::Key("data"),
        Step::Key("shared_prefix"),
        Step::Key(key),
    ];
    let legacy_key = if key == "output_len" {
        "output_distribution"
    } else {
        "question_distribution"
    };
    match value {
        Some(serde_yaml::Value::Mapping(_)) if legacy.is_some() => Err(c.error(
            &at,
            format!("give a distribution here or in `{legacy_key}`, not both"),
        )),
        Some(v @ serde_yaml::Value::Mapping(_)) => {
            let raw: RawDistribution = serde_yaml::from_value(v.clone()).map_err(|e| {
                c.error(
                    &at,
                    format!("a distribution {{type, mean, std_dev, min, max, skew}}: {e}"),
                )
            })?;
            distribution_at(c, &at, &raw)
        }
        Some(serde_yaml::Value::Number(n)) if legacy.is_none() => match n.as_u64() {
            Some(n) => Ok(LengthDistribution::Fixed(n.min(u64::from(u32::MAX)) as u32)),
            None => Err(c.error(&at, "a whole number of tokens, or a distribution")),
        },
        None if legacy.is_none() => Ok(LengthDistribution::Fixed(default)),
        Some(serde_yaml::Value::Number(_)) | None => {
            let at = [
                Step::Key("data"),
                Step::Key("shared_prefix"),
                Step::Key(legacy_key),
            ];
            distribution_at(c, &at, legacy.expect("matched above"))
        }
        Some(_) => Err(c.error(&at, "a whole number of tokens, or a distribution")),
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
fn distribution_at(
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
        DistributionType::SkewNormal | DistributionType::Lognormal if std_dev == 0.0 => {
            LengthDistribution::Fixed((d.mean.round().max(0.0) as u32).clamp(d.min.max(1), d.max))
        }
        DistributionType::SkewNormal if !d.skew.is_finite() => {
            return Err(c.error(&at("skew"), "skew must be a finite number"));
        }
        DistributionType::SkewNormal => LengthDistribution::SkewNormal {
            mean: d.mean,
            std_dev,
            skew: d.skew,
            min: d.min.max(1),
            max: d.max,
        },
        DistributionType::Lognormal if d.mean <= 0.0 => {
            return Err(c.error(&at("mean"), "a lognormal distribution needs mean > 0"));
        }
        DistributionType::Lognormal => LengthDistribution::LogNormal {
            mean: d.mean,
            std_dev,
            min: d.min.max(1),
            max: d.max,
        },
        // inference-perf: a rate of `mean`, or 1 when `mean` is not positive.
        DistributionType::Poisson => LengthDistribution::Poisson {
            mean: if d.mean > 0.0 { d.mean } else { 1.0 },
            min: d.min.max(1),
            max: d.max,
        },
    })
}
