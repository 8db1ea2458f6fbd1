//! A stage's server-side metrics as reports show them: each gauge's average and extremes, each
//! histogram's growth as percentiles (seconds), each counter's rate, and prefill time per request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::StageServer;

impl StageServer {
    /// The figures reports show, in seconds and fractions.
    pub fn summary(&self, client_ok: u64) -> ServerSummary {
        let gauges = self
            .gauges
            .iter()
            .filter(|(_, samples)| !samples.is_empty())
            .map(|(name, samples)| {
                let n = samples.len() as f64;
                let gauge = GaugeSummary {
                    avg: samples.iter().sum::<f64>() / n,
                    min: samples.iter().copied().fold(f64::INFINITY, f64::min),
                    max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                };
                (name.clone(), gauge)
            })
            .collect();
        let histograms = self
            .histograms
            .iter()
            .map(|(name, h)| (name.clone(), HistogramSummary::of(h)))
            .collect();
        let throughput = self
            .counters
            .iter()
            .filter(|(name, _)| name.as_str() != "prompt_seconds")
            .map(|(name, delta)| {
                let rate = (self.seconds > 0.0).then(|| delta / self.seconds);
                (format!("{name}_per_sec"), rate)
            })
            .collect();
        ServerSummary {
            url: self.url.clone(),
            mode: self.mode,
            engines: self.engines.clone(),
            scrapes: self.scrapes,
            failed_scrapes: self.failed_scrapes,
            last_error: self.last_error.clone(),
            seconds: self.seconds,
            gauges,
            histograms,
            throughput,
            prefill_seconds_per_request: self.prefill_per_request(client_ok),
        }
    }
}

/// A stage's server-side metrics as reports show them (`server_metrics` in lifecycle files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSummary {
    pub url: String,
    /// `exposition` (a `/metrics` page scraped during each stage) or `prometheus-server` (queried).
    #[serde(default)]
    pub mode: super::Mode,
    pub engines: Vec<String>,
    pub scrapes: u32,
    pub failed_scrapes: u32,
    pub last_error: Option<String>,
    pub seconds: f64,
    pub gauges: BTreeMap<String, GaugeSummary>,
    /// Seconds.
    pub histograms: BTreeMap<String, HistogramSummary>,
    /// Counter name with `_per_sec` → its rate over the window.
    pub throughput: BTreeMap<String, Option<f64>>,
    pub prefill_seconds_per_request: Option<f64>,
}

/// Every sample of a gauge during the window, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaugeSummary {
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// A histogram's growth during the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramSummary {
    pub count: f64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

impl HistogramSummary {
    /// Count, mean and the interpolated median, p90 and p99 of `h`.
    pub fn of(h: &super::Buckets) -> HistogramSummary {
        HistogramSummary {
            count: h.count,
            mean: (h.count > 0.0).then(|| h.sum / h.count),
            median: h.quantile(0.5),
            p90: h.quantile(0.9),
            p99: h.quantile(0.99),
        }
    }
}
