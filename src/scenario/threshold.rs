//! k6-style thresholds: `ttft: ["p(99) < 1200ms", "avg < 400ms"]`.
//!
//! A threshold keeps its source text, is parsed when the scenario file loads (never after a run), and is
//! checked against the metric's kind: durations take `us`, `ms` or `s` (no unit means milliseconds, as in
//! k6), counts (`reasoning_tokens`) take a plain number, rates take a fraction or `%`, throughputs take
//! a plain number per second. Every parse error says what is allowed.

pub use super::metric::{Aggregation, Metric, MetricKind, format_metric_value, format_micros};
/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// One parsed threshold. `limit` is in canonical units: microseconds for trends of durations (except
/// `count`), tokens for trends of counts, a fraction for rates, per second for throughputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The key as written, e.g. `ttft{stage:0}`.
    pub key: String,
    /// The expression as written, e.g. `p(99) < 1200ms`.
    pub expression: String,
    pub metric: Metric,
    /// `Some(i)` scopes the threshold to stage `i` (0-based); `None` means the whole scenario.
    pub stage: Option<usize>,
    /// `Some(name)` scopes it to the requests sent to LoRA adapter `name` (`load.lora_traffic_split`).
    pub adapter: Option<String>,
    pub aggregation: Aggregation,
    pub op: Op,
    /// Unused (NaN) when `baseline_factor` is set.
    pub limit: f64,
    /// `p(99) < baseline * 1.10`: the limit is this factor times the baseline's value, and the check is
    /// noise-aware (see `baseline`).
    pub baseline_factor: Option<f64>,
    /// Stop the run as soon as this threshold fails (k6's `abortOnFail`).
    pub abort_on_fail: bool,
    /// With `abort_on_fail`: not judged before this long into the run (k6's `delayAbortEval`).
    pub delay_abort_eval: std::time::Duration,
    /// infergate's own, not the file's: the implicit `error_rate: rate < 1%` (see `DEFAULT_ERROR_RATE`).
    pub implicit: bool,
}

/// The threshold every scenario gets unless it names `error_rate` itself (`error_rate: []` turns it
/// off): a gate must not pass a run whose requests failed.
pub const DEFAULT_ERROR_RATE: &str = "rate < 1%";

impl Threshold {
    /// Parses one threshold from its key (`metric`, `metric{stage:N}`, `metric{adapter:NAME}` or both
    /// scopes, comma-separated) and expression.
    pub fn parse(key: &str, expression: &str) -> Result<Threshold, String> {
        let (metric, stage, adapter) = parse_key(key)?;
        let (aggregation, op, limit_text) = split_expression(expression)?;
        if !aggregation.fits(metric.kind()) {
            return Err(format!(
                "`{aggregation}` does not apply to `{}`; allowed: {}",
                metric.name(),
                Aggregation::allowed_for(metric.kind())
            ));
        }
        let baseline_factor = parse_baseline_factor(limit_text, op)?;
        if baseline_factor.is_some() && metric.is_server() {
            return Err(format!(
                "`{}` is scraped from the engine and not kept in baselines; give an absolute limit",
                metric.name()
            ));
        }
        let limit = match baseline_factor {
            Some(_) => f64::NAN,
            None if metric.is_count() => parse_count(metric, limit_text)?,
            None => parse_limit(metric.kind(), aggregation, limit_text)?,
        };
        Ok(Threshold {
            key: key.to_string(),
            expression: expression.trim().to_string(),
            metric,
            stage,
            adapter,
            aggregation,
            op,
            limit,
            baseline_factor,
            abort_on_fail: false,
            delay_abort_eval: std::time::Duration::ZERO,
            implicit: false,
        })
    }

    /// The implicit `error_rate: rate < 1%`.
    pub fn default_error_rate() -> Threshold {
        let mut t = Threshold::parse("error_rate", DEFAULT_ERROR_RATE).expect("a valid threshold");
        t.implicit = true;
        t
    }

    /// The threshold as a user would write it: `ttft{stage:0}: p(99) < 1200ms`.
    pub fn label(&self) -> String {
        let by_default = if self.implicit { " (default)" } else { "" };
        format!("{}: {}{by_default}", self.key, self.expression)
    }

    /// Formats a value of this threshold's metric and aggregation in human units.
    pub fn format_value(&self, value: f64) -> String {
        self.metric.format_value(self.aggregation, value)
    }
}

fn parse_key(key: &str) -> Result<(Metric, Option<usize>, Option<String>), String> {
    let key = key.trim();
    let Some(open) = key.find('{') else {
        return Ok((Metric::parse(key)?, None, None));
    };
    let metric = Metric::parse(key[..open].trim())?;
    let scopes = key[open + 1..]
        .strip_suffix('}')
        .ok_or_else(|| format!("`{key}`: a scope must close with `}}`, e.g. `ttft{{stage:0}}`"))?;
    let (mut stage, mut adapter) = (None, None);
    for scope in scopes.split(',') {
        let (tag, value) = scope
            .split_once(':')
            .ok_or_else(|| format!("`{key}`: a scope is `{{stage:N}}` or `{{adapter:NAME}}`"))?;
        match tag.trim() {
            "stage" => {
                stage = Some(value.trim().parse::<usize>().map_err(|_| {
                    format!("`{key}`: the stage must be a whole number from 0, e.g. `{{stage:0}}`")
                })?);
            }
            "adapter" if !value.trim().is_empty() => adapter = Some(value.trim().to_string()),
            "adapter" => {
                return Err(format!(
                    "`{key}`: name the adapter, e.g. `{{adapter:movie}}`"
                ));
            }
            other => {
                return Err(format!(
                    "`{key}`: unknown scope `{other}`; allowed: stage, adapter"
                ));
            }
        }
    }
    Ok((metric, stage, adapter))
}

fn split_expression(expression: &str) -> Result<(Aggregation, Op, &str), String> {
    let text = expression.trim();
    let op_at = text.find(['<', '>', '=', '!']).ok_or_else(|| {
        format!(
            "`{text}` has no comparison; write e.g. `p(99) < 1200ms` (operators: < <= > >= == !=)"
        )
    })?;
    let (agg_text, rest) = text.split_at(op_at);
    let (op, limit) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .into_iter()
    .find_map(|(sym, op)| rest.strip_prefix(sym).map(|limit| (op, limit)))
    .ok_or_else(|| format!("`{text}`: unknown operator; allowed: < <= > >= == !="))?;
    Ok((parse_aggregation(agg_text.trim())?, op, limit.trim()))
}

fn parse_aggregation(text: &str) -> Result<Aggregation, String> {
    let allowed = "allowed: avg, min, max, med, p(N), count, rate, value";
    Ok(match text {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        "count" => Aggregation::Count,
        "rate" => Aggregation::Rate,
        "value" => Aggregation::Value,
        "" => {
            return Err(format!(
                "missing aggregation before the operator; {allowed}"
            ));
        }
        _ => {
            let inner = text
                .strip_prefix("p(")
                .and_then(|t| t.strip_suffix(')'))
                .ok_or_else(|| format!("unknown aggregation `{text}`; {allowed}"))?;
            let p: f64 = inner
                .trim()
                .parse()
                .map_err(|_| format!("`{text}`: the percentile must be a number, e.g. p(99)"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!("`{text}`: the percentile must be in (0, 100]"));
            }
            Aggregation::Percentile(p)
        }
    })
}

/// `baseline`, `baseline * 1.1` or `1.1 * baseline` → the factor; anything else → `None`.
fn parse_baseline_factor(text: &str, op: Op) -> Result<Option<f64>, String> {
    if !text.contains("baseline") {
        return Ok(None);
    }
    if !matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
        return Err(format!(
            "a baseline comparison takes < <= > or >=, found `{}`",
            op.symbol()
        ));
    }
    let factor = match text.split_once('*') {
        None if text.trim() == "baseline" => Some(1.0),
        None => None,
        Some((a, b)) => match (a.trim(), b.trim()) {
            ("baseline", f) | (f, "baseline") => f.parse::<f64>().ok(),
            _ => None,
        },
    };
    match factor {
        Some(f) if f.is_finite() && f > 0.0 => Ok(Some(f)),
        _ => Err(format!(
            "`{text}`: write `baseline` or `baseline * F` with a positive number F, e.g. `baseline * 1.10`"
        )),
    }
}

fn parse_limit(kind: MetricKind, aggregation: Aggregation, text: &str) -> Result<f64, String> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a number with an optional unit"))?;
    let unit = unit.trim();
    if aggregation == Aggregation::Count {
        return if unit.is_empty() {
            Ok(number)
        } else {
            Err(format!("a count takes no unit, found `{unit}`"))
        };
    }
    match kind {
        MetricKind::Trend => duration_unit_micros(unit)
            .map(|scale| number * scale)
            .ok_or_else(|| {
                format!("unknown unit `{unit}` for a duration; allowed: us, ms, s (none = ms)")
            }),
        MetricKind::Rate | MetricKind::Gauge => match unit {
            "%" => Ok(number / 100.0),
            "" => Ok(number),
            _ => Err(format!(
                "unknown unit `{unit}` for a rate; allowed: % or a fraction with no unit"
            )),
        },
        MetricKind::Throughput => match unit {
            "" | "/s" => Ok(number),
            _ => Err(format!(
                "unknown unit `{unit}` for a per-second figure; allowed: none or /s"
            )),
        },
    }
}

/// A limit on a trend of counts (`reasoning_tokens: p(99) < 2000`): a plain number, no unit.
fn parse_count(metric: Metric, text: &str) -> Result<f64, String> {
    let tokens = text.strip_suffix("tokens").unwrap_or(text).trim();
    match tokens.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(format!(
            "`{}` counts tokens per request: its limit is a plain number (e.g. `p(99) < 2000`), found `{text}`",
            metric.name()
        )),
    }
}

fn duration_unit_micros(unit: &str) -> Option<f64> {
    match unit {
        "us" | "µs" => Some(1.0),
        "" | "ms" => Some(1_000.0),
        "s" => Some(1_000_000.0),
        _ => None,
    }
}

/// Parses a duration such as `10ms`, `1.5s` or `250us` (no unit means milliseconds) into microseconds.
pub fn parse_duration_micros(text: &str) -> Result<f64, String> {
    parse_limit(MetricKind::Trend, Aggregation::Avg, text.trim())
}

/// Parses a percentage such as `95%` or a fraction such as `0.95` into a fraction.
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    parse_limit(MetricKind::Rate, Aggregation::Rate, text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k6_style_percentiles_with_units() {
        let t = Threshold::parse("ttft", "p(99) < 1200ms").unwrap();
        assert_eq!(t.metric, Metric::Ttft);
        assert_eq!(t.aggregation, Aggregation::Percentile(99.0));
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.limit, 1_200_000.0);
        assert_eq!(
            Threshold::parse("itl", "avg<2s").unwrap().limit,
            2_000_000.0
        );
        assert_eq!(
            Threshold::parse("itl", "med <= 250us").unwrap().limit,
            250.0
        );
        assert_eq!(Threshold::parse("itl", "max < 40").unwrap().limit, 40_000.0);
        assert_eq!(
            Threshold::parse("ttft", "p(99.9) < 1s")
                .unwrap()
                .aggregation,
            Aggregation::Percentile(99.9)
        );
    }

    #[test]
    fn parses_rates_throughputs_and_stage_scopes() {
        let t = Threshold::parse("error_rate", "rate < 1%").unwrap();
        assert!((t.limit - 0.01).abs() < 1e-12);
        assert_eq!(
            Threshold::parse("error_rate", "rate < 0.05").unwrap().limit,
            0.05
        );
        assert_eq!(
            Threshold::parse("error_rate", "count == 0")
                .unwrap()
                .aggregation,
            Aggregation::Count
        );
        let t = Threshold::parse("requests_per_sec{stage:2}", "value >= 4.5").unwrap();
        assert_eq!(t.stage, Some(2));
        assert_eq!(t.op, Op::Ge);
        assert_eq!(t.label(), "requests_per_sec{stage:2}: value >= 4.5");
    }

    #[test]
    fn errors_say_what_is_allowed() {
        let err = Threshold::parse("ttfx", "p(99) < 1s").unwrap_err();
        assert!(err.contains("allowed: ttft, itl"), "{err}");
        let err = Threshold::parse("ttft", "rate < 1%").unwrap_err();
        assert!(err.contains("avg, min, max, med, p(N), count"), "{err}");
        let err = Threshold::parse("ttft", "p(99) < 1 minute").unwrap_err();
        assert!(err.contains("us, ms, s"), "{err}");
        let err = Threshold::parse("ttft", "p(99) 1s").unwrap_err();
        assert!(err.contains("no comparison"), "{err}");
        let err = Threshold::parse("ttft{node:1}", "p(99) < 1s").unwrap_err();
        assert!(err.contains("allowed: stage"), "{err}");
        let err = Threshold::parse("ttft", "p(0) < 1s").unwrap_err();
        assert!(err.contains("(0, 100]"), "{err}");
        let err = Threshold::parse("ttft", "p99 < 1s").unwrap_err();
        assert!(err.contains("unknown aggregation"), "{err}");
    }

    #[test]
    fn parses_limits_relative_to_the_baseline() {
        let t = Threshold::parse("ttft", "p(99) < baseline * 1.10").unwrap();
        assert_eq!(t.baseline_factor, Some(1.10));
        assert!(t.limit.is_nan());
        let t = Threshold::parse("requests_per_sec", "value >= 0.9*baseline").unwrap();
        assert_eq!(t.baseline_factor, Some(0.9));
        assert_eq!(
            Threshold::parse("itl", "med <= baseline")
                .unwrap()
                .baseline_factor,
            Some(1.0)
        );
        assert_eq!(
            Threshold::parse("ttft", "p(99) < 1s")
                .unwrap()
                .baseline_factor,
            None
        );
        let err = Threshold::parse("ttft", "p(99) < baseline * x").unwrap_err();
        assert!(err.contains("baseline * 1.10"), "{err}");
        let err = Threshold::parse("ttft", "p(99) == baseline").unwrap_err();
        assert!(err.contains("< <= > or >="), "{err}");
    }

    #[test]
    fn a_trend_of_counts_takes_plain_numbers() {
        let t = Threshold::parse("reasoning_tokens", "p(99) < 2000").unwrap();
        assert_eq!((t.metric, t.limit), (Metric::ReasoningTokens, 2000.0));
        assert_eq!(t.format_value(1234.0), "1234");
        assert_eq!(t.format_value(12.5), "12.5");
        let t = Threshold::parse("reasoning_tokens{stage:1}", "avg < 1500 tokens").unwrap();
        assert_eq!((t.stage, t.limit), (Some(1), 1500.0));
        assert_eq!(
            Threshold::parse("reasoning_tokens", "count > 10")
                .unwrap()
                .limit,
            10.0
        );
        let err = Threshold::parse("reasoning_tokens", "p(99) < 2s").unwrap_err();
        assert!(
            err.contains("plain number") && err.contains("`2s`"),
            "{err}"
        );
        let err = Threshold::parse("reasoning_tokens", "rate < 1%").unwrap_err();
        assert!(err.contains("avg, min, max, med, p(N), count"), "{err}");
        assert!(
            Threshold::parse("reasoning_tokens", "p(99) < baseline * 1.2")
                .unwrap()
                .baseline_factor
                .is_some()
        );
        // The answer's first token is a duration like any other.
        let t = Threshold::parse("ttfo", "p(99) < 2s").unwrap();
        assert_eq!((t.metric, t.limit), (Metric::Ttfo, 2_000_000.0));
        assert_eq!(t.format_value(1_500_000.0), "1.500s");
    }

    #[test]
    fn operators_compare_as_written() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && Op::Ge.holds(2.0, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && Op::Ne.holds(3.0, 2.0) && Op::Eq.holds(2.0, 2.0));
    }

    #[test]
    fn formats_values_for_people() {
        assert_eq!(format_micros(850.0), "850us");
        assert_eq!(format_micros(12_345.0), "12.35ms");
        assert_eq!(format_micros(2_500_000.0), "2.500s");
        assert_eq!(
            format_metric_value(MetricKind::Rate, Aggregation::Rate, 0.0125),
            "1.25%"
        );
    }
}
