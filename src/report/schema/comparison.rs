//! `verdicts.json`'s `baseline`: a run's comparison with its saved runs (or, in an A/B run, with the
//! baseline target), row by row.

use serde::{Deserialize, Serialize};

use crate::gate::baseline::change::Change;

/// The comparison with the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub location: String,
    pub about: Option<String>,
    pub problem: Option<ProblemEntry>,
    pub rows: Vec<RowEntry>,
    /// What the comparison left out or assumed.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The run's error budget, shared by all rows (`1 − regression.confidence`).
    #[serde(default)]
    pub budget: Option<f64>,
    /// Set when reruns confirmed a regression (or did not).
    #[serde(default)]
    pub confirmation: Option<ConfirmationEntry>,
    /// What each row's `runs` counts: `saved run(s)`, or `pairs of blocks` in an A/B run.
    #[serde(default)]
    pub unit: Option<String>,
}

/// What confirming reruns found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmationEntry {
    /// Runs judged, the final one included.
    pub runs: usize,
    /// For each earlier run (kept in `run-<k>/`), the rows that regressed in it.
    pub earlier: Vec<Vec<String>>,
}

/// Why nothing (or not everything) was compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemEntry {
    NotConfigured,
    Missing,
    Refused { message: String },
    Unreadable { message: String },
}

/// One statistic compared (µs for latencies): this run's value with its own interval, and what the
/// saved runs predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowEntry {
    pub scope: String,
    pub statistic: String,
    pub source: String,
    pub allowed: String,
    pub current_value: Option<f64>,
    pub baseline_value: Option<f64>,
    pub current: IntervalEntry,
    /// What a run of the unchanged target was expected to show: the saved runs' centre and the
    /// prediction interval.
    pub expected: IntervalEntry,
    /// Saved runs behind the comparison.
    #[serde(default)]
    pub runs: usize,
    pub delta: Option<f64>,
    /// The smallest change for the worse this row could have caught (a fraction for relative
    /// allowances, the metric's units for absolute ones).
    #[serde(default)]
    pub mde: Option<f64>,
    /// The one-sided p-value of "this run is worse".
    #[serde(default)]
    pub p_value: Option<f64>,
    pub change: Change,
    pub note: Option<String>,
}

/// An interval, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntervalEntry {
    Estimate { value: f64, low: f64, high: f64 },
    Unavailable { unavailable: String },
}
