//! The metric catalogue: every metric a threshold, a regression row or a report can name (`ttft`,
//! `error_rate`, `server.num_requests_waiting`, ...), its kind (trend, rate, throughput, gauge), the
//! aggregations it takes (`p(99)`, `avg`, `rate`, `value`), and how its values read for people.

use std::fmt;

/// What a metric measures, which decides the aggregations and units it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A distribution kept in an HDR histogram: of durations (microseconds), or of counts for the
    /// few metrics that count tokens per request (`Metric::is_count`).
    Trend,
    /// A fraction of requests (0..1).
    Rate,
    /// A per-second figure over the stage or scenario window.
    Throughput,
    /// A server-side level sampled at each scrape of the engine's `/metrics` (requests running, KV cache
    /// use): avg, min or max over the samples.
    Gauge,
}

/// The metrics a threshold may name. Definitions live in the README ("Metric definitions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Ttft,
    /// Time to first output token: the first answer (not reasoning) chunk.
    Ttfo,
    Itl,
    Tpot,
    Ntpot,
    RequestLatency,
    ScheduleDelay,
    /// Reasoning tokens per request (a count, not a duration).
    ReasoningTokens,
    ErrorRate,
    TokenCountMismatch,
    RequestsPerSec,
    OutputTokensPerSec,
    InputTokensPerSec,
    /// Good requests (`report.goodput`) per second of the window.
    Goodput,
    /// Prompt and output tokens of good requests per second.
    TokenGoodput,
    /// Good requests as a fraction of those sent.
    SloAttainment,
    /// The highest load at which the SLO held (`load.capacity`): req/s or concurrent requests.
    Capacity,
    /// Scraped from the engine's Prometheus `/metrics` (see `server_metrics`).
    ServerRequestsRunning,
    ServerRequestsWaiting,
    ServerKvCacheUsage,
    ServerGpuUtilization,
    ServerTtft,
    ServerE2eLatency,
    ServerPromptTokensPerSec,
    ServerGenerationTokensPerSec,
}

impl Metric {
    pub const ALL: [Metric; 25] = [
        Metric::Ttft,
        Metric::Itl,
        Metric::Tpot,
        Metric::Ntpot,
        Metric::RequestLatency,
        Metric::ScheduleDelay,
        Metric::Ttfo,
        Metric::ReasoningTokens,
        Metric::ErrorRate,
        Metric::TokenCountMismatch,
        Metric::RequestsPerSec,
        Metric::OutputTokensPerSec,
        Metric::InputTokensPerSec,
        Metric::Goodput,
        Metric::TokenGoodput,
        Metric::SloAttainment,
        Metric::Capacity,
        Metric::ServerRequestsRunning,
        Metric::ServerRequestsWaiting,
        Metric::ServerKvCacheUsage,
        Metric::ServerGpuUtilization,
        Metric::ServerTtft,
        Metric::ServerE2eLatency,
        Metric::ServerPromptTokensPerSec,
        Metric::ServerGenerationTokensPerSec,
    ];

    /// The canonical server-side metric behind a `server.*` metric (`measure::server::names`).
    pub fn server_source(self) -> Option<&'static str> {
        Some(match self {
            Metric::ServerRequestsRunning => "num_requests_running",
            Metric::ServerRequestsWaiting => "num_requests_waiting",
            Metric::ServerKvCacheUsage => "kv_cache_usage",
            Metric::ServerGpuUtilization => "gpu_utilization",
            Metric::ServerTtft => "ttft",
            Metric::ServerE2eLatency => "e2e_latency",
            Metric::ServerPromptTokensPerSec => "prompt_tokens",
            Metric::ServerGenerationTokensPerSec => "generation_tokens",
            _ => return None,
        })
    }

    /// Judged against `report.goodput.constraints`, which must be given.
    pub fn needs_goodput(self) -> bool {
        matches!(
            self,
            Metric::Goodput | Metric::TokenGoodput | Metric::SloAttainment
        )
    }

    /// A baseline comparison calls a fall a regression (throughputs, attainment), not a rise.
    pub fn higher_is_better(self) -> bool {
        self.kind() == MetricKind::Throughput || self == Metric::SloAttainment
    }

    /// Measured by the engine, not by infergate.
    pub fn is_server(self) -> bool {
        self.server_source().is_some()
    }

    /// A trend of counts (tokens per request) rather than durations: its limits are plain numbers
    /// (`p(99) < 2000`) and its values read as numbers.
    pub fn is_count(self) -> bool {
        self == Metric::ReasoningTokens
    }

    /// A value of this metric reduced by `aggregation` (canonical units), for people.
    pub fn format_value(self, aggregation: Aggregation, value: f64) -> String {
        if self.is_fraction() {
            return format!("{:.1}%", value * 100.0);
        }
        if self.is_count() {
            let text = format!("{value:.2}");
            return text.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        format_metric_value(self.kind(), aggregation, value)
    }

    /// A server-side gauge that is a fraction (shown as a percentage).
    pub fn is_fraction(self) -> bool {
        matches!(
            self,
            Metric::ServerKvCacheUsage | Metric::ServerGpuUtilization
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Ttft => "ttft",
            Metric::Ttfo => "ttfo",
            Metric::Itl => "itl",
            Metric::Tpot => "tpot",
            Metric::Ntpot => "ntpot",
            Metric::RequestLatency => "request_latency",
            Metric::ScheduleDelay => "schedule_delay",
            Metric::ReasoningTokens => "reasoning_tokens",
            Metric::ErrorRate => "error_rate",
            Metric::TokenCountMismatch => "token_count_mismatch",
            Metric::RequestsPerSec => "requests_per_sec",
            Metric::OutputTokensPerSec => "output_tokens_per_sec",
            Metric::InputTokensPerSec => "input_tokens_per_sec",
            Metric::Goodput => "goodput",
            Metric::TokenGoodput => "token_goodput",
            Metric::SloAttainment => "slo_attainment",
            Metric::Capacity => "capacity",
            Metric::ServerRequestsRunning => "server.num_requests_running",
            Metric::ServerRequestsWaiting => "server.num_requests_waiting",
            Metric::ServerKvCacheUsage => "server.kv_cache_usage",
            Metric::ServerGpuUtilization => "server.gpu_utilization",
            Metric::ServerTtft => "server.ttft",
            Metric::ServerE2eLatency => "server.e2e_latency",
            Metric::ServerPromptTokensPerSec => "server.prompt_tokens_per_sec",
            Metric::ServerGenerationTokensPerSec => "server.generation_tokens_per_sec",
        }
    }

    pub fn kind(self) -> MetricKind {
        match self {
            Metric::Ttft
            | Metric::Ttfo
            | Metric::ReasoningTokens
            | Metric::Itl
            | Metric::Tpot
            | Metric::Ntpot
            | Metric::RequestLatency
            | Metric::ScheduleDelay
            | Metric::ServerTtft
            | Metric::ServerE2eLatency => MetricKind::Trend,
            Metric::ErrorRate | Metric::TokenCountMismatch | Metric::SloAttainment => {
                MetricKind::Rate
            }
            Metric::RequestsPerSec
            | Metric::Goodput
            | Metric::TokenGoodput
            | Metric::Capacity
            | Metric::OutputTokensPerSec
            | Metric::InputTokensPerSec
            | Metric::ServerPromptTokensPerSec
            | Metric::ServerGenerationTokensPerSec => MetricKind::Throughput,
            Metric::ServerRequestsRunning
            | Metric::ServerRequestsWaiting
            | Metric::ServerKvCacheUsage
            | Metric::ServerGpuUtilization => MetricKind::Gauge,
        }
    }

    pub fn parse(name: &str) -> Result<Metric, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown metric `{name}`; allowed: {}",
                    Metric::ALL.map(Metric::name).join(", ")
                )
            })
    }
}

/// How a metric's observations are reduced to one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregation {
    Avg,
    Min,
    Max,
    Med,
    /// `p(N)`, N in (0, 100].
    Percentile(f64),
    /// Number of observations (trend) or of failed requests (rate).
    Count,
    /// The fraction (rate metrics) or the per-second figure (throughput metrics).
    Rate,
    /// The per-second figure of a throughput metric (same as `rate`).
    Value,
}

impl Aggregation {
    pub fn allowed_for(kind: MetricKind) -> &'static str {
        match kind {
            MetricKind::Trend => "avg, min, max, med, p(N), count",
            MetricKind::Rate => "rate, count",
            MetricKind::Throughput => "rate, value",
            MetricKind::Gauge => "avg, min, max",
        }
    }

    pub fn fits(self, kind: MetricKind) -> bool {
        use Aggregation::*;
        match kind {
            MetricKind::Trend => matches!(self, Avg | Min | Max | Med | Percentile(_) | Count),
            MetricKind::Rate => matches!(self, Rate | Count),
            MetricKind::Throughput => matches!(self, Rate | Value),
            MetricKind::Gauge => matches!(self, Avg | Min | Max),
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::Percentile(p) => write!(f, "p({p})"),
            Aggregation::Count => f.write_str("count"),
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Value => f.write_str("value"),
        }
    }
}

/// Formats a canonical value (µs, fraction, per-second) for people.
pub fn format_metric_value(kind: MetricKind, aggregation: Aggregation, value: f64) -> String {
    if aggregation == Aggregation::Count {
        return format!("{value:.0}");
    }
    match kind {
        MetricKind::Trend => format_micros(value),
        MetricKind::Rate => format!("{:.2}%", value * 100.0),
        MetricKind::Throughput => format!("{value:.2}/s"),
        MetricKind::Gauge => format!("{value:.2}"),
    }
}

/// Formats microseconds with a unit that keeps three significant figures readable.
pub fn format_micros(us: f64) -> String {
    if us.is_nan() {
        "n/a".to_string()
    } else if us < 1_000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1_000.0)
    } else {
        format!("{:.3}s", us / 1_000_000.0)
    }
}

/// A number for people, to three decimals without trailing zeros: `99`, `2.15`, `99.9`.
pub fn trim_number(x: f64) -> String {
    let text = format!("{x:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
