//! infergate's `load.capacity` block as written (see `scenario::capacity` for its meaning).

use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml::Value;

use super::OneOrMany;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `5%` of the answer, or an amount in its unit (`2`).
    pub precision: Option<Value>,
    pub step_duration: Option<f64>,
    pub max_step_duration: Option<f64>,
    pub max_steps: Option<u32>,
    /// `99%` or `0.99`.
    pub attainment: Option<Value>,
    #[serde(default)]
    pub thresholds: IndexMap<String, OneOrMany>,
    pub stages: Option<Vec<f64>>,
    pub stage_duration: Option<f64>,
    pub num_requests: Option<u64>,
}
