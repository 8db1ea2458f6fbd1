//! What a recorder's counts and histograms mean: rates over the send window, throughputs, the error
//! rate, and any metric's value for an aggregation (`p(99)` of `ttft`, `rate` of `error_rate`).

use std::time::Instant;

use hdrhistogram::Histogram;

use super::{Recorder, span_rate};
use crate::scenario::{Aggregation, Metric, MetricKind};

impl Recorder {
    /// Requests sent per second between the first and the last send, when at least two were sent.
    pub fn achieved_rate(&self) -> Option<f64> {
        span_rate(self.sent(), self.first_sent?, self.last_sent?)
    }

    /// The rate the schedule asked for over the same requests (first to last intended send).
    pub fn scheduled_rate(&self) -> Option<f64> {
        span_rate(self.sent(), self.first_intended?, self.last_intended?)
    }

    /// Successful requests ended per second, between the first and the last to end: on a target that
    /// keeps up, this follows the send rate; on a saturated one, ends spread out and it falls behind.
    pub fn completion_rate(&self) -> Option<f64> {
        span_rate(self.ok, self.first_ok_end?, self.last_ok_end?)
    }

    /// When the first request was handed to the HTTP stack.
    pub fn first_sent(&self) -> Option<Instant> {
        self.first_sent
    }

    /// Requests that were handed to the HTTP stack.
    pub fn sent(&self) -> u64 {
        self.ok + self.failed() + self.timed_out
    }

    /// Failed or timed-out requests as a fraction of those sent.
    pub fn error_rate(&self) -> f64 {
        let sent = self.sent();
        if sent == 0 {
            0.0
        } else {
            (self.failed() + self.timed_out) as f64 / sent as f64
        }
    }

    fn per_second(&self, count: u64) -> f64 {
        let secs = self.active.as_secs_f64();
        if secs > 0.0 { count as f64 / secs } else { 0.0 }
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.per_second(self.ok)
    }
    pub fn output_tokens_per_sec(&self) -> f64 {
        self.per_second(self.output_tokens_total)
    }
    pub fn input_tokens_per_sec(&self) -> f64 {
        self.per_second(self.input_tokens_total)
    }

    /// Good requests (`report.goodput`) per second of the active window.
    pub fn goodput_per_sec(&self) -> f64 {
        self.per_second(self.goodput.good)
    }

    /// Prompt and output tokens of good requests per second.
    pub fn token_goodput_per_sec(&self) -> f64 {
        self.per_second(self.goodput.good_tokens)
    }

    /// Good requests as a fraction of those sent (failures are never good); `None` before any was sent.
    pub fn slo_attainment(&self) -> Option<f64> {
        let sent = self.sent();
        (sent > 0).then(|| self.goodput.good as f64 / sent as f64)
    }

    /// The histogram behind a trend metric.
    pub fn trend(&self, metric: Metric) -> Option<&Histogram<u64>> {
        Some(match metric {
            Metric::Ttft => &self.ttft,
            Metric::Ttfo => &self.ttfo,
            Metric::ReasoningTokens => &self.reasoning_tokens,
            Metric::Itl => &self.itl,
            Metric::Tpot => &self.tpot,
            Metric::Ntpot => &self.ntpot,
            Metric::RequestLatency => &self.request_latency,
            Metric::ScheduleDelay => &self.schedule_delay,
            _ => return None,
        })
    }

    /// A metric reduced by an aggregation, in canonical units (µs, fraction, per second). `None` when
    /// there is nothing to aggregate (e.g. the p99 of no observations).
    pub fn value(&self, metric: Metric, aggregation: Aggregation) -> Option<f64> {
        // Server metrics come from the engine's scrape, capacity from the search: not a recorder's.
        if metric.is_server() || metric == Metric::Capacity {
            return None;
        }
        match metric.kind() {
            MetricKind::Gauge => None,
            MetricKind::Trend => {
                let h = self.trend(metric)?;
                if aggregation == Aggregation::Count {
                    return Some(h.len() as f64);
                }
                if h.is_empty() {
                    return None;
                }
                Some(match aggregation {
                    Aggregation::Avg => h.mean(),
                    Aggregation::Min => h.min() as f64,
                    Aggregation::Max => h.max() as f64,
                    Aggregation::Med => h.value_at_quantile(0.5) as f64,
                    Aggregation::Percentile(p) => h.value_at_quantile(p / 100.0) as f64,
                    _ => return None,
                })
            }
            MetricKind::Rate if metric == Metric::TokenCountMismatch => Some(match aggregation {
                Aggregation::Count => self.token_count_mismatches as f64,
                _ if self.ok == 0 => 0.0,
                _ => self.token_count_mismatches as f64 / self.ok as f64,
            }),
            MetricKind::Rate if metric == Metric::SloAttainment => match aggregation {
                Aggregation::Count => Some(self.goodput.good as f64),
                _ => self.slo_attainment(),
            },
            MetricKind::Rate => Some(match aggregation {
                Aggregation::Count => (self.failed() + self.timed_out) as f64,
                _ => self.error_rate(),
            }),
            MetricKind::Throughput => Some(match metric {
                Metric::RequestsPerSec => self.requests_per_sec(),
                Metric::OutputTokensPerSec => self.output_tokens_per_sec(),
                Metric::Goodput => self.goodput_per_sec(),
                Metric::TokenGoodput => self.token_goodput_per_sec(),
                _ => self.input_tokens_per_sec(),
            }),
        }
    }
}
