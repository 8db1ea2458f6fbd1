//! `load.capacity` (infergate's own): search for the highest load at which the scenario's SLO holds,
//! then run stages at fractions of it.
//!
//! ```yaml
//! load:
//!   type: constant              # rate is searched (req/s); `concurrent` searches concurrency
//!   capacity:
//!     min: 10                   # the search stays within [min, max]
//!     max: 400
//!     precision: 5%             # of the answer, or an absolute amount (`2`)
//!     attainment: 99%           # of report.goodput.constraints (the default SLO), or:
//!     thresholds:               # k6-style, judged on each step's requests
//!       ttft: ["p(99) < 200ms"]
//!     stages: [0.5, 0.8, 1.0]   # then run these fractions of the capacity (default when no stages)
//!     stage_duration: 60        # seconds each (open loop); num_requests each (closed loop)
//! ```
//!
//! The step, the judging and the report live in `run::capacity`; this is the validated config.

use std::time::Duration;

use super::metric::trim_number as trim;
use super::threshold::Threshold;

/// What the search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Over {
    /// Requests per second, open loop (`type: constant` or `poisson`).
    Rate,
    /// Requests in flight, closed loop (`type: concurrent`).
    Concurrency,
}

impl Over {
    /// `rate` or `concurrency`, as `verdicts.json` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Over::Rate => "rate",
            Over::Concurrency => "concurrency",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Over::Rate => "req/s",
            Over::Concurrency => "concurrent requests",
        }
    }
}

/// How close the search must come: a fraction of the answer, or an amount in its unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Precision {
    Relative(f64),
    Absolute(f64),
}

impl Precision {
    /// The precision in the load's unit at a capacity of `value` (at least one slot when the search
    /// is over concurrency).
    pub fn at(self, value: f64, over: Over) -> f64 {
        let p = match self {
            Precision::Relative(f) => f * value,
            Precision::Absolute(a) => a,
        };
        match over {
            Over::Rate => p,
            Over::Concurrency => p.max(1.0),
        }
    }
}

/// When a step's load holds: every part given here holds on that step's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Judge {
    /// Good requests (`report.goodput.constraints`) as a fraction of those sent, at least.
    pub attainment: Option<f64>,
    /// Thresholds judged on each step alone (no stage or adapter scope, no baseline).
    pub thresholds: Vec<Threshold>,
}

impl Judge {
    /// `slo_attainment >= 99%, ttft: p(99) < 200ms`, for people.
    pub fn describe(&self) -> String {
        let attainment = self
            .attainment
            .map(|a| format!("slo_attainment >= {}%", trim(a * 100.0)));
        attainment
            .into_iter()
            .chain(self.thresholds.iter().map(Threshold::label))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The validated `load.capacity`.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub over: Over,
    pub min: f64,
    pub max: f64,
    pub precision: Precision,
    /// The shortest open-loop step; a step is lengthened until it holds enough requests for the
    /// statistics it judges, up to `max_step_duration`.
    pub step_duration: Duration,
    pub max_step_duration: Duration,
    /// Steps at most, ramp and bisection together.
    pub max_steps: u32,
    pub judge: Judge,
    /// Fractions of the capacity to run as stages after the search (empty: the scenario's own stages).
    pub stages: Vec<f64>,
    /// Each generated open-loop stage lasts this long.
    pub stage_duration: Duration,
    /// Each generated closed-loop stage sends this many requests (default 20 per slot).
    pub num_requests: Option<u64>,
}

/// The fractions run after the search when the scenario gives no stages of its own.
pub const DEFAULT_STAGES: [f64; 3] = [0.5, 0.8, 1.0];
