//! `load.capacity`: bounds, precision, step lengths, the SLO each step is judged by, and the stages
//! that follow (see `scenario::capacity`).

use std::time::Duration;

use serde_yaml::Value;

use super::Checker;
use crate::scenario::ScenarioError;
use crate::scenario::capacity::{Capacity, DEFAULT_STAGES, Judge, Over, Precision};
use crate::scenario::goodput::Goodput;
use crate::scenario::locate::Step;
use crate::scenario::raw::{LoadType, RawScenario, RawThreshold};
use crate::scenario::threshold::{Metric, MetricKind, Threshold, parse_fraction};

/// Steps at most when the file does not say.
const DEFAULT_MAX_STEPS: u32 = 16;

pub(super) fn check(
    c: &mut Checker<'_>,
    raw: &RawScenario,
    goodput: Option<&Goodput>,
) -> Result<Option<Capacity>, ScenarioError> {
    let Some(cap) = &raw.load.capacity else {
        return Ok(None);
    };
    let block = [Step::Key("load"), Step::Key("capacity")];
    let at = |key| [Step::Key("load"), Step::Key("capacity"), Step::Key(key)];
    let over = match raw.load.kind {
        LoadType::Constant | LoadType::Poisson => Over::Rate,
        LoadType::Concurrent => Over::Concurrency,
        _ => {
            return Err(c.error(
                &block,
                "a capacity search varies a rate (`type: constant` or `poisson`) or a concurrency (`type: concurrent`)",
            ));
        }
    };
    if raw.load.sweep.is_some() {
        return Err(c.error(
            &block,
            "give either `sweep` (saturation) or `capacity` (the SLO's limit), not both",
        ));
    }
    if !raw.load.stages.is_empty() && cap.stages.is_some() {
        return Err(c.error(
            &at("stages"),
            "give either load.stages or load.capacity.stages (fractions of the capacity found)",
        ));
    }
    let positive = |key: &'static str, v: Option<f64>, default: f64| {
        let v = v.unwrap_or(default);
        if v > 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(c.error(&at(key), format!("must be a positive number, got {v}")))
        }
    };
    let max = match cap.max {
        Some(_) => positive("max", cap.max, 1.0)?,
        None => {
            return Err(c.error(
                &block,
                format!(
                    "give `max`, the highest load to try ({}); `min` defaults to 1",
                    over.unit()
                ),
            ));
        }
    };
    let min = positive("min", cap.min, 1.0)?;
    if min >= max {
        return Err(c.error(&at("max"), format!("must be above min ({min})")));
    }
    if over == Over::Concurrency && (min.fract() != 0.0 || max.fract() != 0.0) {
        return Err(c.error(
            &block,
            "a concurrency search takes whole numbers for min and max",
        ));
    }
    let precision = match &cap.precision {
        None => Precision::Relative(0.05),
        Some(v) => precision(v).map_err(|m| c.error(&at("precision"), m))?,
    };
    let step_duration = positive("step_duration", cap.step_duration, 10.0)?;
    let max_step_duration = positive("max_step_duration", cap.max_step_duration, 60.0)?;
    if max_step_duration < step_duration {
        return Err(c.error(&at("max_step_duration"), "must be at least step_duration"));
    }
    let max_steps = cap.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
    if !(2..=64).contains(&max_steps) {
        return Err(c.error(&at("max_steps"), "must be between 2 and 64"));
    }
    let judge = judge(c, cap, goodput)?;
    let stages = match (&cap.stages, raw.load.stages.is_empty()) {
        (Some(fractions), _) => fractions.clone(),
        (None, true) => DEFAULT_STAGES.to_vec(),
        (None, false) => Vec::new(),
    };
    if let Some(bad) = stages.iter().find(|f| !(**f > 0.0 && **f <= 2.0)) {
        return Err(c.error(
            &at("stages"),
            format!("fractions of the capacity must be in (0, 2], got {bad}"),
        ));
    }
    if cap.stages.as_ref().is_some_and(Vec::is_empty) {
        return Err(c.error(&at("stages"), "give at least one fraction, e.g. [0.5, 1.0]"));
    }
    let stage_duration = positive("stage_duration", cap.stage_duration, 60.0)?;
    if cap.num_requests == Some(0) {
        return Err(c.error(&at("num_requests"), "must be at least 1"));
    }
    Ok(Some(Capacity {
        over,
        min,
        max,
        precision,
        step_duration: Duration::from_secs_f64(step_duration),
        max_step_duration: Duration::from_secs_f64(max_step_duration),
        max_steps,
        judge,
        stages,
        stage_duration: Duration::from_secs_f64(stage_duration),
        num_requests: cap.num_requests,
    }))
}

/// `5%` (of the answer) or a plain number (in the load's unit).
fn precision(v: &Value) -> Result<Precision, String> {
    let allowed = "give a percentage of the answer (`5%`) or an amount in its unit (`2`)";
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(a) if a > 0.0 && a.is_finite() => Ok(Precision::Absolute(a)),
            _ => Err(format!("must be above 0; {allowed}")),
        },
        Value::String(s) if s.trim().ends_with('%') => match parse_fraction(s) {
            Ok(f) if f > 0.0 && f < 1.0 => Ok(Precision::Relative(f)),
            Ok(_) => Err(format!("must be between 0% and 100%; {allowed}")),
            Err(m) => Err(format!("{m}; {allowed}")),
        },
        _ => Err(allowed.to_string()),
    }
}

/// The SLO each step is judged by: `thresholds`, and the goodput attainment when `attainment` is
/// given or when constraints are set and no thresholds are.
fn judge(
    c: &Checker<'_>,
    cap: &crate::scenario::raw::RawCapacity,
    goodput: Option<&Goodput>,
) -> Result<Judge, ScenarioError> {
    let at = |key| [Step::Key("load"), Step::Key("capacity"), Step::Key(key)];
    let mut thresholds = Vec::new();
    for (key, expressions) in &cap.thresholds {
        let here = [
            Step::Key("load"),
            Step::Key("capacity"),
            Step::Key("thresholds"),
            Step::Key(key.as_str()),
        ];
        for item in expressions.items() {
            let RawThreshold::Expression(expression) = item else {
                return Err(c.error(
                    &here,
                    "give expressions (`p(99) < 200ms`); abortOnFail does not apply to a step",
                ));
            };
            let t = Threshold::parse(key, expression).map_err(|m| c.error(&here, m))?;
            let problem = if t.stage.is_some() || t.adapter.is_some() {
                Some("is judged on each step: no stage or adapter scope")
            } else if t.baseline_factor.is_some() {
                Some("is judged on each step: give an absolute limit")
            } else if t.metric.is_server() || t.metric.kind() == MetricKind::Throughput {
                Some(
                    "must be a latency or a rate of the step's requests (throughputs follow the load)",
                )
            } else if t.metric.needs_goodput() && goodput.is_none() {
                Some("needs per-request SLOs: give report.goodput.constraints")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(c.error(&here, format!("`{}` {problem}", t.metric.name())));
            }
            thresholds.push(t);
        }
    }
    let attainment = match &cap.attainment {
        Some(v) => {
            let text = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let a = parse_fraction(&text)
                .ok()
                .filter(|a| *a > 0.0 && *a <= 1.0)
                .ok_or_else(|| {
                    c.error(
                        &at("attainment"),
                        "give a share of requests, e.g. 99% or 0.99",
                    )
                })?;
            if goodput.is_none() {
                return Err(c.error(
                    &at("attainment"),
                    "is the share of good requests: give report.goodput.constraints, e.g. {ttft: 0.5}",
                ));
            }
            Some(a)
        }
        None if goodput.is_some() && thresholds.is_empty() => Some(0.99),
        None => None,
    };
    if attainment.is_none() && thresholds.is_empty() {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("capacity")],
            "needs an SLO to search for: report.goodput.constraints (judged at `attainment`, default 99%) or load.capacity.thresholds",
        ));
    }
    // As for the scenario, a step whose requests fail does not hold unless the SLO says otherwise.
    if !thresholds.is_empty() && !thresholds.iter().any(|t| t.metric == Metric::ErrorRate) {
        thresholds.push(Threshold::default_error_rate());
    }
    Ok(Judge {
        attainment,
        thresholds,
    })
}
