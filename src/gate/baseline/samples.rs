//! `samples.json`: what a later comparison needs from a run, per stage and for the whole scenario:
//! every latency distribution as HDR buckets `(value µs, count)`, the request counts behind the rates
//! and the throughputs. Percentiles alone would not do: an interval for a p99 needs the ranks around it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::interval::{self, Interval};
use crate::measure::recorder::Recorder;
use crate::run::RunResult;
use crate::scenario::{Aggregation, Metric, MetricKind};

/// The file's name inside a scenario's report directory.
pub const FILE_NAME: &str = "samples.json";

/// One run's samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSamples {
    pub config_hash: String,
    /// Set when quick mode shortened the stages (a shortened run compares only with another).
    pub shortened: bool,
    /// Set when the run's target was the embedded simulator (whose runs do not drift apart).
    #[serde(default)]
    pub simulated: bool,
    pub stages: Vec<StageSamples>,
    pub total: StageSamples,
}

/// One stage's (or the whole run's) samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageSamples {
    /// How the stage was described (`rate 5/s for 60s`), to label comparisons.
    pub describe: String,
    pub ok: u64,
    pub errors: u64,
    pub token_count_mismatches: u64,
    pub requests_per_sec: f64,
    pub output_tokens_per_sec: f64,
    pub input_tokens_per_sec: f64,
    /// `report.goodput`: good requests, and their per-second figures (0 without goodput).
    #[serde(default)]
    pub good: u64,
    #[serde(default)]
    pub goodput_per_sec: f64,
    #[serde(default)]
    pub token_goodput_per_sec: f64,
    /// The whole run's only: what the capacity search found, `(value, precision)`: the limit lies
    /// between `value` and `value + precision`.
    #[serde(default)]
    pub capacity: Option<(f64, f64)>,
    /// Metric name → `(value µs, count)` in ascending order.
    pub trends: BTreeMap<String, Vec<(u64, u64)>>,
}

impl RunSamples {
    pub fn from_run(run: &RunResult) -> RunSamples {
        RunSamples {
            config_hash: run.config_hash.clone(),
            shortened: run.shortened.is_some(),
            simulated: run.simulated,
            stages: run
                .stages
                .iter()
                .map(|s| StageSamples::from_recorder(&s.recorder, s.stage.describe()))
                .collect(),
            total: StageSamples {
                capacity: run
                    .capacity
                    .as_ref()
                    .and_then(|c| Some((c.value?, c.precision))),
                ..StageSamples::from_recorder(&run.total, "whole run".to_string())
            },
        }
    }

    /// A stage's samples (`Some(i)`) or the whole run's.
    pub fn scope(&self, stage: Option<usize>) -> Option<&StageSamples> {
        match stage {
            Some(i) => self.stages.get(i),
            None => Some(&self.total),
        }
    }
}

impl StageSamples {
    fn from_recorder(r: &Recorder, describe: String) -> StageSamples {
        let trends = Metric::ALL
            .into_iter()
            .filter_map(|m| {
                let h = r.trend(m)?;
                let buckets = h
                    .iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect();
                Some((m.name().to_string(), buckets))
            })
            .collect();
        StageSamples {
            describe,
            ok: r.ok,
            errors: r.failed() + r.timed_out,
            token_count_mismatches: r.token_count_mismatches,
            requests_per_sec: r.requests_per_sec(),
            output_tokens_per_sec: r.output_tokens_per_sec(),
            input_tokens_per_sec: r.input_tokens_per_sec(),
            good: r.goodput.good,
            goodput_per_sec: r.goodput_per_sec(),
            token_goodput_per_sec: r.token_goodput_per_sec(),
            capacity: None,
            trends,
        }
    }

    /// The statistic's value alone, even when there are too few samples for an interval.
    pub fn point(&self, metric: Metric, aggregation: Aggregation) -> Option<f64> {
        let no_interval = 0.0;
        match (metric.kind(), aggregation) {
            (MetricKind::Trend, Aggregation::Med | Aggregation::Percentile(_)) => {
                let q = match aggregation {
                    Aggregation::Percentile(p) => p / 100.0,
                    _ => 0.5,
                };
                let buckets = self.trends.get(metric.name())?;
                let n: u64 = buckets.iter().map(|b| b.1).sum();
                let rank = ((n as f64 * q).ceil() as u64).max(1);
                let mut seen = 0;
                buckets.iter().find_map(|&(v, c)| {
                    seen += c;
                    (seen >= rank).then_some(v as f64)
                })
            }
            _ => self
                .estimate(metric, aggregation, no_interval)
                .ok()
                .map(|e| e.value),
        }
    }

    /// A percentile's interval. ITL has many gaps per request, and the gaps of one request move
    /// together (its batch, its stalls), so its interval is as wide as the requests make it.
    fn percentile(&self, metric: Metric, buckets: &[(u64, u64)], q: f64, z: f64) -> Interval {
        match metric {
            Metric::Itl => interval::clustered_percentile(buckets, q, z, self.ok),
            _ => interval::percentile(buckets, q, z),
        }
    }

    /// The statistic `aggregation` of `metric` with its interval at `z` (see `interval`).
    pub fn estimate(&self, metric: Metric, aggregation: Aggregation, z: f64) -> Interval {
        let exact = |v: f64| Ok(interval::Estimate::exact(v));
        if metric == Metric::Capacity {
            // Not a sample: the search bracketed the limit, and that bracket is the interval.
            return match self.capacity {
                Some((value, precision)) => Ok(interval::Estimate {
                    value,
                    low: value,
                    high: value + precision,
                }),
                None => Err("no capacity was found (no search, or the SLO failed at min)".into()),
            };
        }
        match metric.kind() {
            MetricKind::Trend => {
                let buckets = self
                    .trends
                    .get(metric.name())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let n: u64 = buckets.iter().map(|b| b.1).sum();
                match aggregation {
                    Aggregation::Count => exact(n as f64),
                    _ if n == 0 => Err("no observations".to_string()),
                    Aggregation::Avg => interval::mean(buckets, z),
                    Aggregation::Min => exact(buckets[0].0 as f64),
                    Aggregation::Max => exact(buckets[buckets.len() - 1].0 as f64),
                    Aggregation::Med => self.percentile(metric, buckets, 0.5, z),
                    Aggregation::Percentile(p) => self.percentile(metric, buckets, p / 100.0, z),
                    Aggregation::Rate | Aggregation::Value => {
                        Err(format!("`{aggregation}` does not apply"))
                    }
                }
            }
            MetricKind::Rate => {
                let (events, trials) = match metric {
                    Metric::TokenCountMismatch => (self.token_count_mismatches, self.ok),
                    Metric::SloAttainment => (self.good, self.ok + self.errors),
                    _ => (self.errors, self.ok + self.errors),
                };
                match aggregation {
                    Aggregation::Count => exact(events as f64),
                    _ => interval::proportion(events, trials, z),
                }
            }
            MetricKind::Gauge => Err("server-side metrics are not kept in samples".to_string()),
            MetricKind::Throughput => {
                let (value, count) = match metric {
                    Metric::RequestsPerSec => (self.requests_per_sec, self.ok),
                    Metric::OutputTokensPerSec => (self.output_tokens_per_sec, self.ok),
                    Metric::Goodput => (self.goodput_per_sec, self.good),
                    Metric::TokenGoodput => (self.token_goodput_per_sec, self.good),
                    _ => (self.input_tokens_per_sec, self.ok),
                };
                interval::throughput(value, count, z)
            }
        }
    }
}
