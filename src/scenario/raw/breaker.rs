//! inference-perf's `circuit_breakers` section as written.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub name: String,
    pub metrics: RawBreakerMetrics,
    pub triggers: Vec<RawTrigger>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreakerMetrics {
    pub matches: Vec<String>,
    #[serde(default)]
    pub rules: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawTrigger {
    Consecutive {
        threshold: u32,
    },
    RateOverWindow {
        window_sec: f64,
        threshold: f64,
        #[serde(default)]
        min_samples: u32,
    },
}
