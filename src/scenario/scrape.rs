//! `metrics`: where the engine's server-side metrics are scraped from during each stage.
//!
//! ```yaml
//! metrics:
//!   type: prometheus
//!   prometheus:
//!     url: http://qwen3-vllm.default:8000/metrics   # an exposition page, or a Prometheus server
//!     scrape_interval: 15                           # seconds
//!     filters: ['namespace="default"']              # PromQL label matchers
//!   dcgm:
//!     url: http://dcgm-exporter.monitoring:9400/metrics   # infergate: GPU utilisation
//! ```
//!
//! With no `metrics` section, the target's own `/metrics` is tried once before the first stage and
//! scraped every second if it carries engine metrics; `type: none` turns scraping off. Whether a URL
//! is a Prometheus server (queried over its HTTP API) or an exposition page (scraped) is found out at
//! run time; `filters` are checked here, as label matchers, because they are spliced into PromQL.

use std::time::Duration;

use super::ScenarioError;
use super::locate::Step;
use super::raw::RawScenario;
use super::validate::Checker;

/// The validated `metrics` section.
#[derive(Debug, Clone, PartialEq)]
pub enum Scrape {
    /// The target's own `/metrics`, if it has engine metrics.
    Auto {
        interval: Duration,
    },
    /// This URL, as configured; failures are reported.
    Url {
        url: String,
        interval: Duration,
        dcgm_url: Option<String>,
        /// Label matchers every series must meet.
        filters: Vec<Matcher>,
    },
    /// `google_managed: true`: Google Cloud Managed Service for Prometheus, read like a Prometheus
    /// server after the run, with Google credentials (`client::gcp`).
    Google {
        interval: Duration,
        filters: Vec<Matcher>,
    },
    Off,
}

/// `report.prometheus`: which of inference-perf's `*_prometheus_metrics.json` files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerReports {
    /// `summary_prometheus_metrics.json` (default on).
    pub summary: bool,
    /// `stage_{i}_prometheus_metrics.json` (default off).
    pub per_stage: bool,
}

impl Default for ServerReports {
    fn default() -> Self {
        ServerReports {
            summary: true,
            per_stage: false,
        }
    }
}

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    const FORMS: [(&'static str, MatchOp); 4] = [
        ("!=", MatchOp::NotEqual),
        ("=~", MatchOp::Regex),
        ("!~", MatchOp::NotRegex),
        ("=", MatchOp::Equal),
    ];

    fn text(self) -> &'static str {
        Self::FORMS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("=", |(t, _)| t)
    }
}

/// One PromQL label matcher, `label="value"` (or `!=`, `=~`, `!~`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    pub op: MatchOp,
    /// Unquoted and unescaped.
    pub value: String,
}

impl Matcher {
    /// Parses `label op "value"` (single or double quotes, backslash escapes).
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let text = text.trim();
        let end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let label = &text[..end];
        let label_ok = label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest = text[end..].trim_start();
        let op = MatchOp::FORMS
            .iter()
            .find(|(t, _)| rest.starts_with(t))
            .filter(|_| label_ok);
        let Some(&(op_text, op)) = op else {
            return Err(format!(
                "`{text}` is not a label matcher; allowed: label=\"value\", label!=\"value\", \
                 label=~\"regex\", label!~\"regex\""
            ));
        };
        let value = unquote(rest[op_text.len()..].trim_start())
            .ok_or_else(|| format!("`{text}`: the value must be one quoted string"))?;
        Ok(Matcher {
            label: label.to_string(),
            op,
            value,
        })
    }

    /// As PromQL writes it.
    pub fn promql(&self) -> String {
        let escaped = self.value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{}{}\"{escaped}\"", self.label, self.op.text())
    }

    /// `=~` or `!~`: only a Prometheus server applies these.
    pub fn is_regex(&self) -> bool {
        matches!(self.op, MatchOp::Regex | MatchOp::NotRegex)
    }

    /// Whether a sample with these labels meets it: `None` for the regex forms, which only a
    /// Prometheus server applies.
    pub fn admits(&self, labels: &[(String, String)]) -> Option<bool> {
        let value = labels
            .iter()
            .find(|(k, _)| *k == self.label)
            .map_or("", |(_, v)| v.as_str());
        match self.op {
            MatchOp::Equal => Some(value == self.value),
            MatchOp::NotEqual => Some(value != self.value),
            MatchOp::Regex | MatchOp::NotRegex => None,
        }
    }
}

/// The contents of one `"…"` or `'…'` string that is all of `text`.
fn unquote(text: &str) -> Option<String> {
    let mut chars = text.chars();
    let quote = chars.next().filter(|q| *q == '"' || *q == '\'')?;
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            c if c == quote => return chars.as_str().trim().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    None
}

impl Default for Scrape {
    fn default() -> Self {
        Scrape::Auto {
            interval: Duration::from_secs(1),
        }
    }
}

pub(super) fn check(c: &mut Checker<'_>, raw: &RawScenario) -> Result<Scrape, ScenarioError> {
    let Some(m) = &raw.metrics else {
        return Ok(Scrape::default());
    };
    match m.kind.as_deref() {
        None | Some("prometheus") | Some("default") => {}
        Some("none") | Some("off") => return Ok(Scrape::Off),
        Some(other) => {
            return Err(c.error(
                &[Step::Key("metrics"), Step::Key("type")],
                format!("unknown type `{other}`; allowed: prometheus, none"),
            ));
        }
    }
    let at = |key| {
        [
            Step::Key("metrics"),
            Step::Key("prometheus"),
            Step::Key(key),
        ]
    };
    let prometheus = m.prometheus.as_ref();
    let google = prometheus.is_some_and(|p| p.google_managed == Some(true));
    if google && prometheus.is_some_and(|p| p.url.is_some()) {
        return Err(c.error(
            &at("google_managed"),
            "give either `url` or `google_managed: true`, not both (inference-perf's rule)",
        ));
    }
    let mut filters = Vec::new();
    for (i, text) in prometheus
        .and_then(|p| p.filters.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = [
            Step::Key("metrics"),
            Step::Key("prometheus"),
            Step::Key("filters"),
            Step::Item(i),
        ];
        filters.push(Matcher::parse(text).map_err(|e| c.error(&path, e))?);
    }
    let interval = match prometheus.and_then(|p| p.scrape_interval) {
        None => Duration::from_secs(1),
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
        Some(_) => {
            return Err(c.error(
                &at("scrape_interval"),
                "must be a positive number of seconds",
            ));
        }
    };
    let http = |url: &str, path: &[Step<'_>]| {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(url.to_string())
        } else {
            Err(c.error(path, format!("`{url}` is not an http:// or https:// URL")))
        }
    };
    let dcgm_url = match &m.dcgm {
        Some(d) => Some(http(
            &d.url,
            &[Step::Key("metrics"), Step::Key("dcgm"), Step::Key("url")],
        )?),
        None => None,
    };
    if google {
        if dcgm_url.is_some() {
            return Err(c.error(
                &[Step::Key("metrics"), Step::Key("dcgm")],
                "not with google_managed: Managed Service for Prometheus holds the DCGM series it collects",
            ));
        }
        return Ok(Scrape::Google { interval, filters });
    }
    match prometheus.and_then(|p| p.url.as_deref()) {
        Some(url) => Ok(Scrape::Url {
            url: http(url, &at("url"))?,
            interval,
            dcgm_url,
            filters,
        }),
        None if dcgm_url.is_some() => Err(c.error(
            &at("url"),
            "set the engine's metrics URL too (a DCGM exporter alone has no engine metrics)",
        )),
        None => Ok(Scrape::Auto { interval }),
    }
}

/// `report.prometheus`, as inference-perf's `PrometheusMetricsReportConfig`.
pub(super) fn reports(raw: &RawScenario) -> ServerReports {
    let defaults = ServerReports::default();
    match raw.report.as_ref().and_then(|r| r.prometheus.as_ref()) {
        None => defaults,
        Some(p) => ServerReports {
            summary: p.summary.unwrap_or(defaults.summary),
            per_stage: p.per_stage.unwrap_or(defaults.per_stage),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_parse_render_and_refuse() {
        let m = Matcher::parse(r#"namespace="test-ns""#).unwrap();
        assert_eq!((m.label.as_str(), m.op), ("namespace", MatchOp::Equal));
        assert_eq!(m.promql(), r#"namespace="test-ns""#);
        let r = Matcher::parse(r#" pod =~ 'vllm-.*' "#).unwrap();
        assert_eq!(r.promql(), r#"pod=~"vllm-.*""#);
        assert_eq!(r.admits(&[]), None, "regex only on a server");
        let q = Matcher::parse(r#"a!="x\"y""#).unwrap();
        assert_eq!(q.value, "x\"y");
        assert_eq!(q.promql(), r#"a!="x\"y""#);
        assert_eq!(q.admits(&[("a".into(), "x\"y".into())]), Some(false));
        for bad in [
            "namespace",
            "1a=\"x\"",
            "a=\"x\"} or vector(1) or {b=\"y\"",
            "a=\"x",
            "a=x",
        ] {
            assert!(Matcher::parse(bad).is_err(), "{bad}");
        }
    }
}
