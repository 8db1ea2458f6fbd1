//! The engines' metric names, mapped to infergate's canonical ones. Each canonical metric lists the
//! series that feed it, first match wins per engine; series with several label sets (one per model or
//! per GPU) are summed (counts) or averaged (fractions).

/// How a canonical metric behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sampled at each scrape; summarised as avg/min/max over the stage.
    Gauge,
    /// Monotonic; summarised as its increase per second over the stage.
    Counter,
    /// Cumulative buckets (`_bucket{le=...}`, `_sum`, `_count`); summarised from the stage's increase.
    Histogram,
}

/// How several series of one metric combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    Sum,
    Mean,
}

/// One canonical metric and where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// The name used in reports and in thresholds (`server.<name>`).
    pub name: &'static str,
    pub kind: Kind,
    pub combine: Combine,
    /// Multiplies the engine's value (DCGM reports percent; infergate uses fractions).
    pub scale: f64,
    /// `(engine, series)`: the engine's name for it.
    pub sources: &'static [(&'static str, &'static str)],
}

pub const DEFS: [Def; 16] = [
    Def {
        name: "num_requests_running",
        kind: Kind::Gauge,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:num_requests_running"),
            ("sglang", "sglang:num_running_reqs"),
            ("tgi", "tgi_batch_current_size"),
            ("llamacpp", "llamacpp:requests_processing"),
        ],
    },
    Def {
        name: "num_requests_waiting",
        kind: Kind::Gauge,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:num_requests_waiting"),
            ("sglang", "sglang:num_queue_reqs"),
            ("tgi", "tgi_queue_size"),
            ("llamacpp", "llamacpp:requests_deferred"),
        ],
    },
    Def {
        name: "kv_cache_usage",
        kind: Kind::Gauge,
        combine: Combine::Mean,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:kv_cache_usage_perc"),
            ("vllm", "vllm:gpu_cache_usage_perc"),
            ("sglang", "sglang:token_usage"),
            ("llamacpp", "llamacpp:kv_cache_usage_ratio"),
        ],
    },
    Def {
        name: "ttft",
        kind: Kind::Histogram,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:time_to_first_token_seconds"),
            ("sglang", "sglang:time_to_first_token_seconds"),
        ],
    },
    Def {
        name: "e2e_latency",
        kind: Kind::Histogram,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:e2e_request_latency_seconds"),
            ("sglang", "sglang:e2e_request_latency_seconds"),
            ("tgi", "tgi_request_duration"),
        ],
    },
    Def {
        name: "prompt_tokens",
        kind: Kind::Counter,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:prompt_tokens_total"),
            ("sglang", "sglang:prompt_tokens_total"),
            ("llamacpp", "llamacpp:prompt_tokens_total"),
        ],
    },
    Def {
        name: "generation_tokens",
        kind: Kind::Counter,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:generation_tokens_total"),
            ("sglang", "sglang:generation_tokens_total"),
            ("llamacpp", "llamacpp:tokens_predicted_total"),
        ],
    },
    Def {
        name: "requests",
        kind: Kind::Counter,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:request_success_total"),
            ("sglang", "sglang:num_requests_total"),
            ("tgi", "tgi_request_success"),
        ],
    },
    Def {
        name: "tpot",
        kind: Kind::Histogram,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:request_time_per_output_token_seconds"),
            ("sglang", "sglang:time_per_output_token_seconds"),
        ],
    },
    Def {
        name: "itl",
        kind: Kind::Histogram,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:inter_token_latency_seconds"),
            ("sglang", "sglang:inter_token_latency_seconds"),
        ],
    },
    Def {
        name: "queue_time",
        kind: Kind::Histogram,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[
            ("vllm", "vllm:request_queue_time_seconds"),
            ("sglang", "sglang:queue_time_seconds"),
        ],
    },
    Def {
        name: "preemptions",
        kind: Kind::Counter,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[("vllm", "vllm:num_preemptions_total")],
    },
    Def {
        name: "prefix_cache_hits",
        kind: Kind::Counter,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[("vllm", "vllm:prefix_cache_hits_total")],
    },
    Def {
        name: "prefix_cache_queries",
        kind: Kind::Counter,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[("vllm", "vllm:prefix_cache_queries_total")],
    },
    Def {
        name: "prompt_seconds",
        kind: Kind::Counter,
        combine: Combine::Sum,
        scale: 1.0,
        sources: &[("llamacpp", "llamacpp:prompt_seconds_total")],
    },
    Def {
        name: "gpu_utilization",
        kind: Kind::Gauge,
        combine: Combine::Mean,
        scale: 0.01,
        sources: &[("dcgm", "DCGM_FI_DEV_GPU_UTIL")],
    },
];

/// The definition called `name`.
pub fn def(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name == name)
}
