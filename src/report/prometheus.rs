//! Server-side metrics in inference-perf's own layout, `summary_prometheus_metrics.json` and
//! `stage_{i}_prometheus_metrics.json` (`report.prometheus.summary` / `per_stage`), so that tools
//! built on inference-perf's outputs read infergate's too. Latencies in seconds; a figure the engine
//! did not report is `null` (inference-perf writes 0); `prompt_len.mean` and `output_len.mean` are
//! tokens per request, where inference-perf averages the per-second rate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::measure::server::{Buckets, HistogramSummary, StageServer};

/// One `*_prometheus_metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrometheusReport {
    /// The window the figures cover.
    pub benchmark_time_seconds: f64,
    /// Empty, as in inference-perf: the engine does not count the client's failures.
    pub load_summary: BTreeMap<String, f64>,
    pub successes: Successes,
    pub failures: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Successes {
    /// Requests the engine finished.
    pub count: Option<f64>,
    /// Per second.
    pub rate: Option<f64>,
    pub prompt_len: Tokens,
    pub output_len: Tokens,
    /// Requests waiting, averaged over the window.
    pub queue_len: Mean,
    pub request_latency: Spread,
    pub time_to_first_token: Spread,
    pub time_per_output_token: Spread,
    pub inter_token_latency: Spread,
    pub request_queue_time: Spread,
    /// The engine's own figure (vLLM's `kv_cache_usage_perc` is a fraction, as inference-perf copies it).
    pub kv_cache_usage_percentage: Spread,
    pub num_requests_running: Mean,
    /// The window's total.
    pub num_preemptions_total: Mean,
    /// Hits per query, in percent.
    pub prefix_cache_hit_percent: Mean,
}

/// Tokens: per request and per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    pub mean: Option<f64>,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mean {
    pub mean: Option<f64>,
}

/// inference-perf's `as_summary()`: mean, median, p90, p99.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

impl Spread {
    fn of_histogram(h: Option<&Buckets>) -> Spread {
        match h.filter(|h| h.count > 0.0).map(HistogramSummary::of) {
            Some(h) => Spread {
                mean: h.mean,
                median: h.median,
                p90: h.p90,
                p99: h.p99,
            },
            None => Spread {
                mean: None,
                median: None,
                p90: None,
                p99: None,
            },
        }
    }

    /// A gauge's samples: their mean and nearest-rank percentiles.
    fn of_samples(samples: Option<&Vec<f64>>) -> Spread {
        let mut sorted: Vec<f64> = samples.cloned().unwrap_or_default();
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted.get(i - 1).copied()
        };
        Spread {
            mean: mean(samples),
            median: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
        }
    }
}

fn mean(samples: Option<&Vec<f64>>) -> Option<f64> {
    let s = samples.filter(|s| !s.is_empty())?;
    Some(s.iter().sum::<f64>() / s.len() as f64)
}

impl PrometheusReport {
    pub fn of(server: &StageServer) -> PrometheusReport {
        let counter = |name: &str| server.counters.get(name).copied();
        let per_second = |v: Option<f64>| {
            v.filter(|_| server.seconds > 0.0)
                .map(|v| v / server.seconds)
        };
        let e2e = server.histograms.get("e2e_latency");
        let count = counter("requests").or(e2e.map(|h| h.count));
        let per_request = |v: Option<f64>| {
            let n = count.filter(|n| *n > 0.0)?;
            v.map(|v| v / n)
        };
        let tokens = |name: &str| Tokens {
            mean: per_request(counter(name)),
            rate: per_second(counter(name)),
        };
        let hit_percent = match (
            counter("prefix_cache_hits"),
            counter("prefix_cache_queries"),
        ) {
            (Some(hits), Some(queries)) if queries > 0.0 => Some(hits / queries * 100.0),
            _ => None,
        };
        PrometheusReport {
            benchmark_time_seconds: server.seconds,
            load_summary: BTreeMap::new(),
            failures: BTreeMap::new(),
            successes: Successes {
                count,
                rate: per_second(count),
                prompt_len: tokens("prompt_tokens"),
                output_len: tokens("generation_tokens"),
                queue_len: Mean {
                    mean: mean(server.gauges.get("num_requests_waiting")),
                },
                request_latency: Spread::of_histogram(e2e),
                time_to_first_token: Spread::of_histogram(server.histograms.get("ttft")),
                time_per_output_token: Spread::of_histogram(server.histograms.get("tpot")),
                inter_token_latency: Spread::of_histogram(server.histograms.get("itl")),
                request_queue_time: Spread::of_histogram(server.histograms.get("queue_time")),
                kv_cache_usage_percentage: Spread::of_samples(server.gauges.get("kv_cache_usage")),
                num_requests_running: Mean {
                    mean: mean(server.gauges.get("num_requests_running")),
                },
                num_preemptions_total: Mean {
                    mean: counter("preemptions"),
                },
                prefix_cache_hit_percent: Mean { mean: hit_percent },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_spreads_in_inference_perfs_layout() {
        let mut s = StageServer {
            seconds: 4.0,
            ..StageServer::default()
        };
        s.counters.insert("requests".into(), 20.0);
        s.counters.insert("prompt_tokens".into(), 2000.0);
        s.gauges
            .insert("kv_cache_usage".into(), vec![0.4, 0.1, 0.2, 0.3]);
        s.histograms.insert(
            "ttft".into(),
            Buckets {
                bounds: vec![(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 20.0)],
                sum: 3.0,
                count: 20.0,
            },
        );
        let r = PrometheusReport::of(&s).successes;
        assert_eq!((r.count, r.rate), (Some(20.0), Some(5.0)));
        assert_eq!(r.prompt_len.mean, Some(100.0), "tokens per request");
        assert_eq!(r.prompt_len.rate, Some(500.0));
        assert_eq!(r.output_len.mean, None, "not reported: null, not 0");
        assert_eq!(r.time_to_first_token.mean, Some(0.15));
        assert_eq!(r.time_to_first_token.median, Some(0.1));
        assert_eq!(r.kv_cache_usage_percentage.median, Some(0.2));
        assert_eq!(r.kv_cache_usage_percentage.p99, Some(0.4));
        let json = serde_json::to_value(PrometheusReport::of(&s)).unwrap();
        assert!(json["successes"]["request_latency"]["p90"].is_null());
        assert_eq!(json["load_summary"], serde_json::json!({}));
    }
}
