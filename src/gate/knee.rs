//! Where a multi-stage run saturates. Seed 004: plot the stages, find the knee where latency turns
//! upward, and run production 20–30 % below it. The rule here is simple and stated in every report: a
//! stage is past the knee when its TTFT p99 is more than three times the first stage's, or more than 1 %
//! of its requests failed; the knee is the last stage before the first such stage.

use serde::{Deserialize, Serialize};

use crate::plan::StageLoad;
use crate::run::StageResult;
use crate::run::sweep::HEADROOM;
use crate::scenario::{Aggregation, Metric};

/// How much worse than the first stage TTFT p99 may get before a stage counts as saturated.
const TTFT_GROWTH_LIMIT: f64 = 3.0;

/// The knee of a run with several stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Index of the last stage before latency turned upward.
    pub stage: usize,
    /// That stage's rate (req/s) or concurrency.
    pub load: f64,
    /// `rate` or `concurrency`.
    pub unit: String,
    /// 25 % below the knee.
    pub recommended: f64,
    /// The first stage past the knee.
    pub saturated_stage: usize,
}

/// Finds the knee; `None` with fewer than two stages, when even the first stage is saturated, or when
/// no stage is (the knee lies beyond the highest load tried).
pub fn find(stages: &[StageResult]) -> Option<Knee> {
    let first = stages.first()?;
    let base = ttft_p99(first)?;
    let saturated = stages.iter().position(|s| {
        s.recorder.error_rate() > 0.01 || ttft_p99(s).is_none_or(|p| p > base * TTFT_GROWTH_LIMIT)
    })?;
    let knee = stages.get(saturated.checked_sub(1)?)?;
    let (load, unit) = match knee.stage.load {
        StageLoad::Open { rate, .. } => (rate, "req/s"),
        StageLoad::Closed { concurrency, .. } => (f64::from(concurrency), "concurrency"),
        StageLoad::Sessions { concurrent, .. } => (f64::from(concurrent), "concurrent sessions"),
    };
    Some(Knee {
        stage: knee.stage.index,
        load,
        unit: unit.to_string(),
        recommended: load * (1.0 - HEADROOM),
        saturated_stage: saturated,
    })
}

fn ttft_p99(stage: &StageResult) -> Option<f64> {
    let r = &stage.recorder;
    r.value(Metric::Ttft, Aggregation::Percentile(99.0))
        .or_else(|| r.value(Metric::RequestLatency, Aggregation::Percentile(99.0)))
}

impl Knee {
    /// One sentence for the console.
    pub fn describe(&self) -> String {
        let with_unit = |v: f64| match self.unit.as_str() {
            "concurrency" => format!("concurrency {v:.0}"),
            unit => format!("{v:.1} {unit}"),
        };
        format!(
            "knee: stage {} ({}) is the last before stage {} tripled TTFT p99 or failed > 1 %; \
             recommended operating point about {} (25 % below it, headroom for bursts)",
            self.stage,
            with_unit(self.load),
            self.saturated_stage,
            with_unit(self.recommended)
        )
    }
}
