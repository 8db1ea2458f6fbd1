//! `infergate profile`'s flags as scenario files: one level per concurrency (or the request rate),
//! each a scenario of synthetic prompts with genai-perf's length distributions, one closed-loop
//! (or open-loop) stage, per-request records on, and the flags' thresholds and goodput; and the
//! `input_config` genai-perf writes beside its numbers.

use serde_json::{Value, json};

use super::{ProfileArgs, SCENARIO_FILE};
use crate::report::genai_perf::GOODPUT_KEYS;

/// One run of the command: a level of concurrency, or the request rate.
#[derive(Debug, Clone)]
pub struct Level {
    /// `<model>-openai-<endpoint>-concurrency<N>` (genai-perf's artifact directory).
    pub name: String,
    pub scenario: Value,
    pub input_config: Value,
}

/// The runs the flags ask for; an error names the flag and what it takes.
pub fn levels(args: &ProfileArgs) -> Result<Vec<Level>, String> {
    let stimuli: Vec<(String, Value, Value)> = match (args.request_rate, &args.concurrency[..]) {
        (Some(rate), _) if !(rate.is_finite() && rate > 0.0) => {
            return Err(format!(
                "--request-rate {rate}: give requests per second above 0"
            ));
        }
        (Some(rate), _) => {
            let n = args.request_count.unwrap_or(10);
            // Evenly spaced arrivals strictly before the end: exactly n of them.
            let stage = json!({"rate": rate, "duration": (n as f64 - 0.5).max(0.5) / rate});
            vec![(
                format!("request_rate{rate:?}"),
                stage,
                json!({"request_rate": rate}),
            )]
        }
        (None, []) => vec![concurrent(args, 1)],
        (None, levels) if levels.contains(&0) => {
            return Err("--concurrency: give requests in flight, 1 or more".into());
        }
        (None, levels) => levels.iter().map(|&c| concurrent(args, c)).collect(),
    };
    if args.request_count == Some(0) {
        return Err("--request-count: give 1 request or more".into());
    }
    let model = args.model.replace('/', "_");
    stimuli
        .into_iter()
        .map(|(label, stage, stimulus)| {
            let name = format!("{model}-openai-{}-{label}", args.endpoint_type);
            Ok(Level {
                scenario: scenario(args, stage)?,
                input_config: input_config(args, stimulus),
                name,
            })
        })
        .collect()
}

fn concurrent(args: &ProfileArgs, c: u32) -> (String, Value, Value) {
    let n = args.request_count.unwrap_or(10.max(2 * u64::from(c)));
    let stage = json!({"num_requests": n, "concurrency_level": c});
    (format!("concurrency{c}"), stage, json!({"concurrency": c}))
}

/// A length distribution: genai-perf's normal draw, at least one token.
fn lengths(mean: u32, std_dev: f64) -> Result<Value, String> {
    if !(std_dev.is_finite() && std_dev >= 0.0) {
        return Err(format!("a standard deviation of {std_dev}: give 0 or more"));
    }
    let max = (f64::from(mean) + 8.0 * std_dev)
        .ceil()
        .max(f64::from(mean.max(1)));
    Ok(json!({"mean": mean, "std_dev": std_dev, "min": 1, "max": max as u64}))
}

/// The scenario file of one level.
fn scenario(args: &ProfileArgs, stage: Value) -> Result<Value, String> {
    let api_type = if args.endpoint_type == "chat" {
        "chat"
    } else {
        "completion"
    };
    let mut api = json!({"type": api_type, "streaming": args.streaming});
    if !args.headers.is_empty() {
        let mut headers = serde_json::Map::new();
        for h in &args.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("--header `{h}`: write it as Name:Value"))?;
            headers.insert(name.trim().into(), value.trim().into());
        }
        api["headers"] = headers.into();
    }
    let input = lengths(
        args.synthetic_input_tokens_mean,
        args.synthetic_input_tokens_stddev,
    )
    .map_err(|e| format!("--synthetic-input-tokens-stddev: {e}"))?;
    let mut data = json!({"type": "synthetic", "input_distribution": input});
    let mut server =
        json!({"model_name": args.model, "ignore_eos": args.output_tokens_mean.is_some()});
    if let Some(mean) = args.output_tokens_mean {
        data["output_distribution"] = lengths(mean, args.output_tokens_stddev)
            .map_err(|e| format!("--output-tokens-stddev: {e}"))?;
    }
    if let Some(url) = &args.url {
        server["base_url"] = url_of(url).into();
    }
    let rate = stage.get("rate").is_some();
    let mut load = json!({
        "type": if !rate { "concurrent" } else { args.request_rate_mode.as_str() },
        "stages": [stage],
    });
    if let Some(c) = stage_concurrency(&load) {
        load["worker_max_concurrency"] = c.max(100).into();
    }
    if args.warmup_request_count > 0 {
        load["warmup"] = json!({"requests": args.warmup_request_count});
    }
    if let Some(t) = args.request_timeout_seconds {
        load["request_timeout"] = t.into();
    }
    if let Some(seed) = args.random_seed {
        load["base_seed"] = seed.into();
    }
    let mut s = json!({
        "api": api,
        "data": data,
        "load": load,
        "server": server,
        "report": {"request_lifecycle": {"per_request": true}},
        "thresholds": thresholds(&args.thresholds)?,
    });
    if let Some(tokenizer) = &args.tokenizer {
        s["tokenizer"] = json!({"pretrained_model_name_or_path": tokenizer});
    }
    let constraints = goodput(&args.goodput)?;
    if !constraints.is_empty() {
        s["report"]["goodput"] = json!({"constraints": infergate_constraints(&constraints)});
    }
    Ok(s)
}

fn stage_concurrency(load: &Value) -> Option<u64> {
    load["stages"][0]["concurrency_level"].as_u64()
}

/// `host:port` as `http://host:port`; a URL with a scheme as it is.
pub(super) fn url_of(url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// `--threshold "ttft: p(99) < 2s"`, grouped by metric. The metric ends at the first `:` outside
/// braces (`ttft{stage:0}: ...`).
fn thresholds(given: &[String]) -> Result<Value, String> {
    let mut by_metric = serde_json::Map::new();
    for t in given {
        let mut depth = 0i32;
        let split = t.char_indices().find(|&(_, c)| {
            depth += i32::from(c == '{') - i32::from(c == '}');
            c == ':' && depth == 0
        });
        let Some((at, _)) = split else {
            return Err(format!(
                "--threshold `{t}`: write it as METRIC: EXPRESSION, e.g. \"ttft: p(99) < 2s\""
            ));
        };
        let (metric, expression) = (t[..at].trim(), t[at + 1..].trim());
        let list = by_metric
            .entry(metric.to_string())
            .or_insert_with(|| json!([]));
        list.as_array_mut().expect("a list").push(expression.into());
    }
    Ok(by_metric.into())
}

/// `--goodput time_to_first_token:300 request_latency:2000`, checked against genai-perf's keys.
pub(super) fn goodput(given: &[String]) -> Result<Vec<(String, f64)>, String> {
    given
        .iter()
        .flat_map(|g| g.split_whitespace())
        .map(|pair| {
            let (key, value) = pair.split_once(':').unwrap_or((pair, ""));
            let value: f64 = value
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v > 0.0)
                .ok_or_else(|| {
                    format!("--goodput `{pair}`: write KEY:VALUE with a number above 0")
                })?;
            if !GOODPUT_KEYS.contains(&key) {
                return Err(format!(
                    "--goodput `{key}`: not a goodput metric; use {}",
                    GOODPUT_KEYS.join(", ")
                ));
            }
            Ok((key.to_string(), value))
        })
        .collect()
}

/// genai-perf's constraints as `report.goodput.constraints` (seconds; a per-user throughput is a
/// bound on the time per output token).
fn infergate_constraints(constraints: &[(String, f64)]) -> Value {
    let mut out = serde_json::Map::new();
    for (key, value) in constraints {
        let (name, seconds) = match key.as_str() {
            "time_to_first_token" => ("ttft", value / 1e3),
            "inter_token_latency" => ("tpot", value / 1e3),
            "output_token_throughput_per_user" => ("tpot", 1.0 / value),
            _ => ("request_latency", value / 1e3),
        };
        let tighter = out
            .get(name)
            .and_then(Value::as_f64)
            .map_or(seconds, |s| s.min(seconds));
        out.insert(name.into(), tighter.into());
    }
    out.into()
}

/// What genai-perf writes as `input_config`: the flags, by genai-perf's sections.
fn input_config(args: &ProfileArgs, stimulus: Value) -> Value {
    json!({
        "model_names": [args.model],
        "endpoint": {
            "service_kind": args.service_kind,
            "type": args.endpoint_type,
            "streaming": args.streaming,
            "url": args.url.as_deref().map(url_of),
        },
        "perf_analyzer": {
            "stimulus": stimulus,
            "warmup_request_count": args.warmup_request_count,
            "measurement": {"mode": "request_count", "num": args.request_count},
        },
        "input": {
            "num_dataset_entries": args.num_prompts,
            "random_seed": args.random_seed,
            "goodput": args.goodput,
            "synthetic_tokens": {
                "mean": args.synthetic_input_tokens_mean,
                "stddev": args.synthetic_input_tokens_stddev,
            },
            "output_tokens": {"mean": args.output_tokens_mean, "stddev": args.output_tokens_stddev},
        },
        "output": {
            "artifact_directory": args.artifact_dir,
            "profile_export_file": args.profile_export_file,
            "generate_plots": args.generate_plots,
        },
        "tokenizer": {"name": args.tokenizer},
        "infergate": {"thresholds": args.thresholds, "scenario_file": SCENARIO_FILE},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ProfileArgs,
    }

    fn args(line: &str) -> ProfileArgs {
        Cli::try_parse_from(std::iter::once("profile").chain(line.split_whitespace()))
            .unwrap()
            .args
    }

    #[test]
    fn levels_are_named_as_genai_perf_names_its_artifact_directories() {
        let names = |line| {
            levels(&args(line))
                .unwrap()
                .into_iter()
                .map(|l| l.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("-m org/m --concurrency 10,20"),
            [
                "org_m-openai-chat-concurrency10",
                "org_m-openai-chat-concurrency20"
            ]
        );
        assert_eq!(
            names("-m m --endpoint-type completions --request-rate 10"),
            ["m-openai-completions-request_rate10.0"]
        );
        assert_eq!(names("-m m"), ["m-openai-chat-concurrency1"]);
        let level = &levels(&args("-m m --request-rate 4 --request-count 10")).unwrap()[0];
        let stage = &level.scenario["load"]["stages"][0];
        // Ten evenly spaced arrivals strictly before the end: 0, 0.25, ... 2.25 s, before 2.375 s.
        assert_eq!(
            (stage["rate"].as_f64(), stage["duration"].as_f64()),
            (Some(4.0), Some(2.375))
        );
        assert_eq!(
            level.scenario["load"]["stages"][0].get("num_requests"),
            None
        );
        let level = &levels(&args("-m m --concurrency 30")).unwrap()[0];
        assert_eq!(
            level.scenario["load"]["stages"][0]["num_requests"], 60,
            "max(10, 2 x 30)"
        );
    }

    #[test]
    fn thresholds_split_at_the_first_colon_outside_braces() {
        let t = thresholds(&[
            "ttft{stage:0}: p(99) < 1s".into(),
            "ttft: p(50) < 200ms".into(),
            "itl: p(99) < 50ms".into(),
        ])
        .unwrap();
        assert_eq!(
            t,
            json!({"ttft{stage:0}": ["p(99) < 1s"], "ttft": ["p(50) < 200ms"], "itl": ["p(99) < 50ms"]})
        );
        assert!(
            thresholds(&["p(99) < 1s".into()])
                .unwrap_err()
                .contains("METRIC: EXPRESSION")
        );
        let g = goodput(&["time_to_first_token:300 output_token_throughput_per_user:50".into()])
            .unwrap();
        assert_eq!(
            infergate_constraints(&g),
            json!({"ttft": 0.3, "tpot": 0.02})
        );
        assert!(levels(&args("-m m --concurrency 0")).is_err());
    }
}
