//! Server-side metrics from a **Prometheus server** (`metrics.prometheus.url: http://prometheus:9090`),
//! as inference-perf means that URL: after the run, each stage's window is read back through
//! `/api/v1/query`, so every replica the server scrapes is counted (a Service's own `/metrics` would
//! show one pod).
//!
//! Counters and histograms are read as raw samples (`name{filters}[window]`) and their growth is
//! summed per series, resets included, from the last sample at or before the stage's start to the
//! last one at its end: exact, where `increase()` would extrapolate to the window's edges. A stage
//! ends at the first of its end plus one scrape interval and 2 s (inference-perf's settling time),
//! and the next stage's start, so consecutive windows never overlap. Gauges are read as a subquery,
//! `sum(name{filters})[stage:scrape_interval]` (`avg` for fractions), one value per scrape interval.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::names::{Combine, DEFS, Def, Kind};
use super::{Buckets, Mode, StageServer};
use crate::client::{Http, gcp};
use crate::scenario::scrape::Matcher;

/// inference-perf's `PROMETHEUS_SCRAPE_BUFFER_SEC`: what the server gets, beyond one scrape
/// interval, to have scraped a stage's last requests.
const SETTLE_BUFFER: Duration = Duration::from_secs(2);

/// A Prometheus server and what to ask it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromServer {
    /// The server's root, as configured (`/api/v1/...` is appended).
    pub url: String,
    pub filters: Vec<Matcher>,
    /// How often the server scrapes the engines.
    pub scrape_interval: Duration,
    pub access: Http,
    /// Google Cloud Managed Service for Prometheus: the metadata server a fresh token is fetched from
    /// before reading, since a run may outlast the first one (an hour).
    pub google: Option<String>,
}

/// One stage on the wall clock (Prometheus' timestamps are wall-clock seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: SystemTime,
    pub end: SystemTime,
}

/// `/api/v1` replies, as much as is read.
#[derive(Debug, Deserialize)]
struct Reply<T> {
    status: String,
    data: Option<T>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Matrix {
    result: Vec<Series>,
}

#[derive(Debug, Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// The version a Prometheus server at `url` reports, or why `url` is not one.
pub async fn probe(url: &str, access: &Http) -> Result<String, String> {
    #[derive(Deserialize)]
    struct BuildInfo {
        version: String,
    }
    let http = access
        .clone()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let at = format!("{}/api/v1/status/buildinfo", url.trim_end_matches('/'));
    let reply: Reply<BuildInfo> = get(&http, &at, &[]).await?;
    Ok(reply.data.map_or_else(String::new, |d| d.version))
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    query: &[(&str, String)],
) -> Result<Reply<T>, String> {
    let with_query = reqwest::Url::parse_with_params(url, query)
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    let response = http
        .get(with_query)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", crate::client::describe_error(&e)))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let reply: Reply<T> = serde_json::from_str(&text)
        .map_err(|_| format!("GET {url} answered HTTP {status}, not a Prometheus API reply"))?;
    if reply.status != "success" {
        let why = reply.error.unwrap_or_default();
        return Err(format!("GET {url}: {why}"));
    }
    Ok(reply)
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl PromServer {
    /// Managed Service for Prometheus in the project Google's credentials name (`client::gcp`).
    pub async fn google(
        filters: &[Matcher],
        scrape_interval: Duration,
    ) -> Result<PromServer, String> {
        let base = std::env::var("INFERGATE_GCP_MONITORING_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| gcp::MONITORING.into());
        PromServer::google_at(&gcp::metadata_root(), &base, filters, scrape_interval).await
    }

    /// `google` with the metadata server and the monitoring API at these roots.
    pub async fn google_at(
        metadata: &str,
        monitoring: &str,
        filters: &[Matcher],
        scrape_interval: Duration,
    ) -> Result<PromServer, String> {
        let access = gcp::access(metadata).await?;
        let project = access.project.ok_or(
            "no Google Cloud project: set GOOGLE_CLOUD_PROJECT (the metadata server gave none)",
        )?;
        Ok(PromServer {
            url: gcp::prometheus_url(monitoring, &project),
            filters: filters.to_vec(),
            scrape_interval,
            access: Http::to_hub(Some(&access.token)),
            google: Some(metadata.to_string()),
        })
    }

    /// When a stage's samples have been scraped: its end plus one interval and the buffer.
    fn settled(&self, end: SystemTime) -> SystemTime {
        end + self.scrape_interval + SETTLE_BUFFER
    }

    /// How long after the last stage the server must be waited for.
    fn settle_wait(&self, windows: &[Window]) -> Duration {
        windows.last().map_or(Duration::ZERO, |w| {
            self.settled(w.end)
                .duration_since(SystemTime::now())
                .unwrap_or_default()
        })
    }

    /// Each stage's record, read from the server once the last stage has settled (saying so on
    /// stderr with `progress`: it is a scrape interval and 2 s).
    pub async fn collect(&self, windows: &[Window], progress: bool) -> Vec<StageServer> {
        let shown = crate::client::http::redact_url(&self.url);
        let wait = self.settle_wait(windows);
        if progress && !wait.is_zero() {
            eprintln!(
                "waiting {:.0} s for Prometheus at {shown} to scrape the last requests",
                wait.as_secs_f64()
            );
        }
        tokio::time::sleep(wait).await;
        let access = match &self.google {
            Some(metadata) => match gcp::access(metadata).await {
                Ok(fresh) => Http::to_hub(Some(&fresh.token)),
                Err(_) => self.access.clone(),
            },
            None => self.access.clone(),
        };
        let http = access.timeout(Duration::from_secs(30)).build();
        let root = self.url.trim_end_matches('/');
        // Which series the server holds, asked once for all stages.
        let ready: Result<(reqwest::Client, BTreeSet<String>), String> = match http {
            Ok(http) => {
                let at = format!("{root}/api/v1/label/__name__/values");
                let names = get::<Vec<String>>(&http, &at, &[]).await;
                names.map(|reply| (http, reply.data.unwrap_or_default().into_iter().collect()))
            }
            Err(e) => Err(e.to_string()),
        };
        let mut out = Vec::with_capacity(windows.len());
        for (i, w) in windows.iter().enumerate() {
            let last = match windows.get(i + 1) {
                Some(next) => self.settled(w.end).min(next.start),
                None => self.settled(w.end),
            };
            let mut stage = match &ready {
                Ok((http, names)) => self.stage(http, names, w, last).await,
                Err(e) => StageServer {
                    failed_scrapes: 1,
                    last_error: Some(e.clone()),
                    ..StageServer::default()
                },
            };
            stage.url.clone_from(&shown);
            stage.mode = Mode::PrometheusServer;
            stage.seconds = w
                .end
                .duration_since(w.start)
                .unwrap_or_default()
                .as_secs_f64();
            out.push(stage);
        }
        out
    }

    /// One stage: counters and histograms from `w.start` to `last`, gauges over the stage itself.
    async fn stage(
        &self,
        http: &reqwest::Client,
        names: &BTreeSet<String>,
        w: &Window,
        last: SystemTime,
    ) -> StageServer {
        let mut stage = StageServer::default();
        let mut ask = Asker {
            http,
            url: format!("{}/api/v1/query", self.url.trim_end_matches('/')),
            stage: &mut stage,
        };
        let filters = self
            .filters
            .iter()
            .map(Matcher::promql)
            .collect::<Vec<_>>()
            .join(",");
        // Far enough back to hold the last sample before the stage began.
        let lookback = self.scrape_interval * 3 + SETTLE_BUFFER;
        let range = last.duration_since(w.start).unwrap_or_default() + lookback;
        let stage_len = w.end.duration_since(w.start).unwrap_or_default();
        let since = unix(w.start);
        // One gauge value per scrape interval; a stage shorter than that still gets one.
        let step = self.scrape_interval.min(stage_len);
        for def in &DEFS {
            for &(engine, series) in def.sources {
                let present = match def.kind {
                    Kind::Histogram => names.contains(&format!("{series}_bucket")),
                    _ => names.contains(series),
                };
                if !present {
                    continue;
                }
                let found = match def.kind {
                    Kind::Counter => {
                        let raw = format!("{series}{{{filters}}}[{}ms]", range.as_millis());
                        ask.matrix(&raw, last).await.map(|m| {
                            let delta: f64 = m.iter().map(|s| growth(&samples(s), since)).sum();
                            ask.stage
                                .counters
                                .insert(def.name.to_string(), delta * def.scale);
                        })
                    }
                    Kind::Histogram => {
                        let b = ask.histogram(series, &filters, range, last, since).await;
                        b.map(|b| {
                            ask.stage.histograms.insert(def.name.to_string(), b);
                        })
                    }
                    Kind::Gauge => {
                        let values = ask.gauge(def, series, &filters, (stage_len, step), w.end);
                        let values = values.await;
                        values.map(|v| {
                            ask.stage.gauges.insert(def.name.to_string(), v);
                        })
                    }
                };
                if found.is_some() {
                    if !ask.stage.engines.iter().any(|e| e == engine) {
                        ask.stage.engines.push(engine.to_string());
                    }
                    break;
                }
            }
        }
        stage
    }
}

/// Queries for one stage, counting them in its record.
struct Asker<'a> {
    http: &'a reqwest::Client,
    url: String,
    stage: &'a mut StageServer,
}

impl Asker<'_> {
    fn failed(&mut self, e: String) {
        self.stage.failed_scrapes += 1;
        self.stage.last_error = Some(e);
    }

    /// The non-empty matrix `query` evaluates to at `at`.
    async fn matrix(&mut self, query: &str, at: SystemTime) -> Option<Vec<Series>> {
        let params = [
            ("query", query.to_string()),
            ("time", format!("{:.3}", unix(at))),
        ];
        match get::<Matrix>(self.http, &self.url, &params).await {
            Ok(reply) => {
                self.stage.scrapes += 1;
                let result = reply.data.map(|d| d.result).unwrap_or_default();
                (!result.is_empty()).then_some(result)
            }
            Err(e) => {
                self.failed(e);
                None
            }
        }
    }

    /// The growth of a histogram's buckets, sum and count, summed over its series.
    async fn histogram(
        &mut self,
        series: &str,
        filters: &str,
        range: Duration,
        last: SystemTime,
        since: f64,
    ) -> Option<Buckets> {
        let ms = range.as_millis();
        let mut bounds: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for s in self
            .matrix(&format!("{series}_bucket{{{filters}}}[{ms}ms]"), last)
            .await?
        {
            let le = match s.metric.get("le").map(String::as_str) {
                Some("+Inf") => f64::INFINITY,
                Some(text) => match text.parse::<f64>() {
                    Ok(le) => le,
                    Err(_) => continue,
                },
                None => continue,
            };
            // Bounds by value; `to_bits` orders non-negative floats correctly.
            bounds.entry(le.to_bits()).or_insert((le, 0.0)).1 += growth(&samples(&s), since);
        }
        let (sum, count) = (
            format!("{series}_sum{{{filters}}}[{ms}ms]"),
            format!("{series}_count{{{filters}}}[{ms}ms]"),
        );
        let sum = self.total(&sum, last, since).await;
        let count = self.total(&count, last, since).await;
        Some(Buckets {
            bounds: bounds.into_values().collect(),
            sum,
            count,
        })
    }

    /// The growth of a counter's series, summed.
    async fn total(&mut self, raw: &str, last: SystemTime, since: f64) -> f64 {
        let m = self.matrix(raw, last).await.unwrap_or_default();
        m.iter().map(|s| growth(&samples(s), since)).sum()
    }

    /// A gauge over the stage, one value per scrape interval, the series combined as the def says.
    async fn gauge(
        &mut self,
        def: &Def,
        series: &str,
        filters: &str,
        (stage_len, step): (Duration, Duration),
        end: SystemTime,
    ) -> Option<Vec<f64>> {
        let combine = match def.combine {
            Combine::Sum => "sum",
            Combine::Mean => "avg",
        };
        let query = format!(
            "{combine}({series}{{{filters}}})[{}ms:{}ms]",
            stage_len.as_millis().max(1),
            step.as_millis().max(1)
        );
        let m = self.matrix(&query, end).await?;
        let values: Vec<f64> = m
            .iter()
            .flat_map(samples)
            .map(|(_, v)| v * def.scale)
            .filter(|v| v.is_finite())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

fn samples(s: &Series) -> Vec<(f64, f64)> {
    s.values
        .iter()
        .filter_map(|(t, v)| v.parse::<f64>().ok().map(|v| (*t, v)))
        .collect()
}

/// How much a counter grew from its last sample at or before `since` (its first sample when it has
/// none so early, as Prometheus' own `increase` starts) to its last sample; a drop is a reset, after
/// which the counter counts from zero.
pub fn growth(samples: &[(f64, f64)], since: f64) -> f64 {
    let from = samples.iter().rposition(|(t, _)| *t <= since).unwrap_or(0);
    samples[from..]
        .windows(2)
        .map(|pair| {
            let (before, after) = (pair[0].1, pair[1].1);
            if after >= before {
                after - before
            } else {
                after
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::growth;

    #[test]
    fn growth_starts_at_the_last_sample_before_the_window_and_survives_resets() {
        let s = [(1.0, 5.0), (2.0, 7.0), (3.0, 10.0), (4.0, 12.0)];
        assert_eq!(growth(&s, 2.5), 5.0, "from 7 (t=2) to 12");
        assert_eq!(growth(&s, 0.5), 7.0, "no sample so early: from the first");
        assert_eq!(growth(&s, 9.0), 0.0);
        let reset = [(1.0, 100.0), (2.0, 110.0), (3.0, 4.0), (4.0, 9.0)];
        assert_eq!(growth(&reset, 1.0), 10.0 + 4.0 + 5.0);
        assert_eq!(growth(&[], 1.0), 0.0);
    }
}
