//! Server-side metrics: the engine's own Prometheus `/metrics`, scraped while each stage runs, summarised
//! per stage beside what the client measured, and open to thresholds (`server.num_requests_waiting:
//! ["max < 32"]`).
//!
//! `names` maps vLLM's, SGLang's, TGI's, llama.cpp's and DCGM's series to canonical metrics; a
//! `Snapshot` is one scrape reduced to them; `session` scrapes on a thread of its own during a stage;
//! `StageServer` is a stage's record: every gauge sample, and the increase of every counter and
//! histogram between the first and the last scrape.

mod buckets;
pub mod exposition;
pub mod names;
pub mod promql;
pub mod session;
mod summary;

pub use buckets::Buckets;
pub use summary::{GaugeSummary, HistogramSummary, ServerSummary};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::Http;
use crate::client::http::origin;
use crate::scenario::scrape::Matcher;
use crate::scenario::{Aggregation, Metric};
use names::{Combine, DEFS, Kind};

/// How server-side metrics were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// An exposition page (`/metrics`), scraped during each stage.
    #[default]
    Exposition,
    /// A Prometheus server, queried after the run.
    PrometheusServer,
}

/// Where server-side metrics come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// An exposition page, scraped during each stage.
    Page(session::ScrapeTarget),
    /// A Prometheus server, queried after the run.
    Server(promql::PromServer),
}

/// A stage's server-side metrics, being gathered.
pub enum Watching {
    /// Scraping under way.
    Page(session::Session),
    /// Read back after the run; when the stage began.
    Server(std::time::SystemTime),
}

impl Source {
    /// Starts watching a stage: a page's first scrape is done when this returns.
    pub async fn watch(&self) -> Watching {
        match self {
            Source::Page(target) => Watching::Page(session::Session::start(target).await),
            Source::Server(_) => Watching::Server(std::time::SystemTime::now()),
        }
    }
}

impl Watching {
    /// The stage's record from a page; from a server, `None`, and the stage's window is kept in
    /// `windows` for reading back after the run.
    pub async fn finish(self, windows: &mut Vec<promql::Window>) -> Option<StageServer> {
        match self {
            Watching::Page(session) => Some(session.finish().await),
            Watching::Server(start) => {
                let end = std::time::SystemTime::now();
                windows.push(promql::Window { start, end });
                None
            }
        }
    }
}

/// What to scrape for a run against `base_url`, as the scenario's `metrics` section says. In auto mode
/// the target's own `/metrics` is probed once and used only if it carries engine metrics. A configured
/// URL that answers `/api/v1/status/buildinfo` is a Prometheus server; any other is scraped as an
/// exposition page, with a warning if it does not answer now.
///
/// `access` is how the target itself is reached (TLS files, key); a configured URL on another host
/// gets the TLS files but never the key.
pub async fn target_for(
    scrape: &crate::scenario::scrape::Scrape,
    base_url: &str,
    access: &Http,
    warnings: &mut Vec<String>,
) -> Option<Source> {
    use crate::scenario::scrape::Scrape;
    match scrape {
        Scrape::Off => None,
        Scrape::Google { interval, filters } => {
            match promql::PromServer::google(filters, *interval).await {
                Ok(server) => Some(Source::Server(server)),
                Err(e) => {
                    warnings.push(format!(
                        "metrics.prometheus.google_managed: {e}; server-side metrics are missing"
                    ));
                    None
                }
            }
        }
        Scrape::Auto { interval } => {
            let target = session::ScrapeTarget {
                url: format!("{}/metrics", base_url.trim_end_matches('/')),
                dcgm_url: None,
                interval: *interval,
                access: access.clone(),
                filters: Vec::new(),
            };
            session::probe(&target)
                .await
                .ok()
                .map(|_| Source::Page(target))
        }
        Scrape::Url {
            url,
            interval,
            dcgm_url,
            filters,
        } => {
            let access = match (origin(url), origin(base_url)) {
                (Some(a), Some(b)) if a == b => access.clone(),
                _ => access.without_key(),
            };
            if promql::probe(url, &access).await.is_ok() {
                if dcgm_url.is_some() {
                    warnings.push(
                        "metrics.dcgm: not scraped, because metrics.prometheus.url is a Prometheus \
                         server: GPU utilisation is read from it when it scrapes the DCGM exporter"
                            .into(),
                    );
                }
                return Some(Source::Server(promql::PromServer {
                    url: url.clone(),
                    filters: filters.clone(),
                    scrape_interval: *interval,
                    access,
                    google: None,
                }));
            }
            if filters.iter().any(Matcher::is_regex) {
                warnings.push(
                    "metrics.prometheus.filters: the =~ and !~ matchers are applied only by a \
                     Prometheus server; this URL is an exposition page, so they are not"
                        .into(),
                );
            }
            let target = session::ScrapeTarget {
                url: url.clone(),
                dcgm_url: dcgm_url.clone(),
                interval: *interval,
                access,
                filters: filters.clone(),
            };
            if let Err(e) = session::probe(&target).await {
                warnings.push(format!("metrics: {e}; server-side metrics may be missing"));
            }
            Some(Source::Page(target))
        }
    }
}

/// One scrape, reduced to the canonical metrics it carried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub engines: Vec<&'static str>,
    pub values: BTreeMap<&'static str, f64>,
    pub histograms: BTreeMap<&'static str, Buckets>,
}

impl Snapshot {
    pub fn from_samples(samples: &[exposition::Sample]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for def in &DEFS {
            for &(engine, series) in def.sources {
                let found = match def.kind {
                    Kind::Histogram => histogram(samples, series).map(|b| {
                        snapshot.histograms.insert(def.name, b);
                    }),
                    Kind::Gauge | Kind::Counter => {
                        let values: Vec<f64> = samples
                            .iter()
                            .filter(|s| s.name == series && s.value.is_finite())
                            .map(|s| s.value * def.scale)
                            .collect();
                        (!values.is_empty()).then(|| {
                            let total: f64 = values.iter().sum();
                            let value = match def.combine {
                                Combine::Sum => total,
                                Combine::Mean => total / values.len() as f64,
                            };
                            snapshot.values.insert(def.name, value);
                        })
                    }
                };
                if found.is_some() {
                    if !snapshot.engines.contains(&engine) {
                        snapshot.engines.push(engine);
                    }
                    break;
                }
            }
        }
        snapshot
    }
}

fn histogram(samples: &[exposition::Sample], series: &str) -> Option<Buckets> {
    let bucket_name = format!("{series}_bucket");
    let mut by_bound: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == bucket_name) {
        let le = match s.label("le")? {
            "+Inf" => f64::INFINITY,
            text => text.parse::<f64>().ok()?,
        };
        // Order bounds by value; `to_bits` orders non-negative floats correctly.
        by_bound.entry(le.to_bits()).or_insert((le, 0.0)).1 += s.value;
    }
    if by_bound.is_empty() {
        return None;
    }
    let total = |suffix: &str| {
        let name = format!("{series}{suffix}");
        samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum::<f64>()
    };
    Some(Buckets {
        bounds: by_bound.into_values().collect(),
        sum: total("_sum"),
        count: total("_count"),
    })
}

/// What the engine reported during one stage (or, merged, a whole run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageServer {
    /// Where it was scraped from.
    pub url: String,
    /// An exposition page scraped, or a Prometheus server queried.
    #[serde(default)]
    pub mode: Mode,
    pub scrapes: u32,
    pub failed_scrapes: u32,
    /// The last scrape error, if any.
    pub last_error: Option<String>,
    /// Which engines' names were recognised (`vllm`, `llamacpp`, `dcgm`, ...).
    pub engines: Vec<String>,
    /// From the first to the last successful scrape.
    pub seconds: f64,
    /// Every sample of every gauge.
    pub gauges: BTreeMap<String, Vec<f64>>,
    /// How much each counter grew.
    pub counters: BTreeMap<String, f64>,
    /// How much each histogram grew.
    pub histograms: BTreeMap<String, Buckets>,
}

impl StageServer {
    /// A stage's record from its scrapes, oldest first, `seconds` apart in total.
    pub fn from_snapshots(url: &str, snapshots: &[Snapshot], seconds: f64) -> StageServer {
        let mut out = StageServer {
            url: url.to_string(),
            scrapes: snapshots.len() as u32,
            seconds,
            ..StageServer::default()
        };
        let (Some(first), Some(last)) = (snapshots.first(), snapshots.last()) else {
            return out;
        };
        for snapshot in snapshots {
            for engine in &snapshot.engines {
                if !out.engines.iter().any(|e| e == engine) {
                    out.engines.push(engine.to_string());
                }
            }
        }
        for def in &DEFS {
            match def.kind {
                Kind::Gauge => {
                    let samples: Vec<f64> = snapshots
                        .iter()
                        .filter_map(|s| s.values.get(def.name).copied())
                        .collect();
                    if !samples.is_empty() {
                        out.gauges.insert(def.name.to_string(), samples);
                    }
                }
                Kind::Counter => {
                    if let (Some(a), Some(b)) =
                        (first.values.get(def.name), last.values.get(def.name))
                    {
                        out.counters.insert(def.name.to_string(), (b - a).max(0.0));
                    }
                }
                Kind::Histogram => {
                    if let (Some(a), Some(b)) = (
                        first.histograms.get(def.name),
                        last.histograms.get(def.name),
                    ) {
                        out.histograms.insert(def.name.to_string(), b.minus(a));
                    }
                }
            }
        }
        out
    }

    /// Several stages as one (the whole run).
    pub fn merged<'a>(parts: impl IntoIterator<Item = &'a StageServer>) -> Option<StageServer> {
        let mut out: Option<StageServer> = None;
        for part in parts {
            let merged = out.get_or_insert_with(|| StageServer {
                url: part.url.clone(),
                mode: part.mode,
                ..StageServer::default()
            });
            merged.scrapes += part.scrapes;
            merged.failed_scrapes += part.failed_scrapes;
            merged.seconds += part.seconds;
            if part.last_error.is_some() {
                merged.last_error.clone_from(&part.last_error);
            }
            for engine in &part.engines {
                if !merged.engines.contains(engine) {
                    merged.engines.push(engine.clone());
                }
            }
            for (name, samples) in &part.gauges {
                merged
                    .gauges
                    .entry(name.clone())
                    .or_default()
                    .extend(samples);
            }
            for (name, delta) in &part.counters {
                *merged.counters.entry(name.clone()).or_default() += delta;
            }
            for (name, buckets) in &part.histograms {
                merged
                    .histograms
                    .entry(name.clone())
                    .or_default()
                    .plus(buckets);
            }
        }
        out
    }

    /// A `server.*` metric reduced by `aggregation`, in canonical units (µs for latencies, fractions,
    /// per second). `None` when the engine did not report it.
    pub fn value(&self, metric: Metric, aggregation: Aggregation) -> Option<f64> {
        let source = metric.server_source()?;
        match names::def(source)?.kind {
            Kind::Gauge => {
                let samples = self.gauges.get(source).filter(|s| !s.is_empty())?;
                Some(match aggregation {
                    Aggregation::Min => samples.iter().copied().fold(f64::INFINITY, f64::min),
                    Aggregation::Max => samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    _ => samples.iter().sum::<f64>() / samples.len() as f64,
                })
            }
            Kind::Counter => {
                let delta = self.counters.get(source)?;
                (self.seconds > 0.0).then(|| delta / self.seconds)
            }
            Kind::Histogram => {
                let h = self.histograms.get(source).filter(|h| h.count > 0.0)?;
                const MICROS: f64 = 1e6;
                match aggregation {
                    Aggregation::Count => Some(h.count),
                    Aggregation::Avg => Some(h.sum / h.count * MICROS),
                    Aggregation::Med => h.quantile(0.5).map(|v| v * MICROS),
                    Aggregation::Percentile(p) => h.quantile(p / 100.0).map(|v| v * MICROS),
                    Aggregation::Max => h.quantile(1.0).map(|v| v * MICROS),
                    _ => None,
                }
            }
        }
    }

    /// Seconds of prompt processing per request, for engines that count it (llama.cpp has no TTFT
    /// histogram, but `prompt_seconds_total`): the server-side prefill time, queueing excluded.
    pub fn prefill_per_request(&self, requests: u64) -> Option<f64> {
        self.counters
            .get("prompt_seconds")
            .filter(|_| requests > 0)
            .map(|s| s / requests as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(text: &str) -> Snapshot {
        Snapshot::from_samples(&exposition::parse(text))
    }

    #[test]
    fn vllm_and_llamacpp_names_map_to_canonical_metrics() {
        let v = snapshot(
            "vllm:num_requests_running{model_name=\"m\"} 3\nvllm:num_requests_waiting{model_name=\"m\"} 5\nvllm:gpu_cache_usage_perc 0.5\nvllm:generation_tokens_total 100\n",
        );
        assert_eq!(v.engines, vec!["vllm"]);
        assert_eq!(v.values["num_requests_running"], 3.0);
        assert_eq!(v.values["kv_cache_usage"], 0.5);
        let l = snapshot(
            "llamacpp:requests_processing 2\nllamacpp:requests_deferred 7\nllamacpp:tokens_predicted_total 9\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 80\nDCGM_FI_DEV_GPU_UTIL{gpu=\"1\"} 40\n",
        );
        assert_eq!(l.values["num_requests_waiting"], 7.0);
        assert_eq!(l.values["generation_tokens"], 9.0);
        assert!(
            (l.values["gpu_utilization"] - 0.6).abs() < 1e-12,
            "mean of GPUs, as a fraction"
        );
        assert_eq!(l.engines, vec!["llamacpp", "dcgm"]);
    }

    #[test]
    fn a_stage_keeps_gauges_and_the_increase_of_counters_and_histograms() {
        let hist = |a: u32, b: u32, c: u32| {
            format!(
                "vllm:time_to_first_token_seconds_bucket{{le=\"0.1\"}} {a}\nvllm:time_to_first_token_seconds_bucket{{le=\"0.2\"}} {b}\nvllm:time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {c}\nvllm:time_to_first_token_seconds_sum 1\nvllm:time_to_first_token_seconds_count {c}\n"
            )
        };
        let first = snapshot(&format!(
            "vllm:num_requests_running 1\nvllm:generation_tokens_total 10\n{}",
            hist(5, 5, 5)
        ));
        let last = snapshot(&format!(
            "vllm:num_requests_running 3\nvllm:generation_tokens_total 110\n{}",
            hist(5, 15, 15)
        ));
        let stage = StageServer::from_snapshots("u", &[first, last], 2.0);
        assert_eq!(
            stage.value(Metric::ServerRequestsRunning, Aggregation::Max),
            Some(3.0)
        );
        assert_eq!(
            stage.value(Metric::ServerRequestsRunning, Aggregation::Avg),
            Some(2.0)
        );
        assert_eq!(
            stage.value(Metric::ServerGenerationTokensPerSec, Aggregation::Value),
            Some(50.0)
        );
        // The ten new observations all fell in (0.1, 0.2]: the median interpolates to 0.15 s.
        let median = stage.value(Metric::ServerTtft, Aggregation::Med).unwrap();
        assert!((median - 150_000.0).abs() < 1e-6, "{median}");
        assert_eq!(
            stage.value(Metric::ServerKvCacheUsage, Aggregation::Avg),
            None
        );
        let both = StageServer::merged([&stage, &stage]).unwrap();
        assert_eq!(
            both.value(Metric::ServerTtft, Aggregation::Count),
            Some(20.0)
        );
        assert_eq!(
            both.value(Metric::ServerGenerationTokensPerSec, Aggregation::Value),
            Some(50.0)
        );
    }
}
