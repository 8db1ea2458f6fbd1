//! `metrics`: where the engine's server-side metrics are scraped from during each stage.
//!
//! ```yaml
//! metrics:
//!   type: prometheus
//!   prometheus:
//!     url: http://qwen3-vllm.default:8000/metrics   # an exposition endpoint (or Prometheus' /federate)
//!     scrape_interval: 15                           # seconds
//!   dcgm:
//!     url: http://dcgm-exporter.monitoring:9400/metrics   # infergate: GPU utilisation
//! ```
//!
//! With no `metrics` section, the target's own `/metrics` is tried once before the first stage and
//! scraped every second if it carries engine metrics; `type: none` turns scraping off.

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
    },
    Off,
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
    if prometheus.is_some_and(|p| p.google_managed == Some(true)) {
        return Err(c.unsupported(&at("google_managed"), "google_managed"));
    }
    if prometheus.is_some_and(|p| p.filters.as_ref().is_some_and(|f| !f.is_empty())) {
        c.warn(
            &at("filters"),
            "ignored: infergate reads the engine metrics it knows by name",
        );
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
    match prometheus.and_then(|p| p.url.as_deref()) {
        Some(url) => Ok(Scrape::Url {
            url: http(url, &at("url"))?,
            interval,
            dcgm_url,
        }),
        None if dcgm_url.is_some() => Err(c.error(
            &at("url"),
            "set the engine's metrics URL too (a DCGM exporter alone has no engine metrics)",
        )),
        None => Ok(Scrape::Auto { interval }),
    }
}
