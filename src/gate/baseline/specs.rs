//! What a comparison compares: one `Spec` per statistic, from the `regression` block (each latency
//! metric at each percentile per stage, the rates, the throughputs), capacity when the run searched,
//! and the relative thresholds.

use super::RowSource;
use super::change::{Allowance, Worse};
use super::samples::RunSamples;
use super::spread::Scale;
use crate::scenario::{Aggregation, Metric, MetricKind, Op, Regression, Threshold};

/// One statistic to compare, before it is judged.
pub(crate) struct Spec {
    pub stage: Option<usize>,
    pub metric: Metric,
    pub aggregation: Aggregation,
    pub allowance: Allowance,
    pub source: RowSource,
}

impl Spec {
    /// Which way is worse for this statistic.
    pub fn worse(&self) -> Worse {
        match self.metric.higher_is_better() {
            true => Worse::Lower,
            false => Worse::Higher,
        }
    }

    /// Ratios for relative allowances, differences for absolute ones.
    pub fn scale(&self) -> Scale {
        match self.allowance {
            Allowance::Relative(_) => Scale::Log,
            Allowance::Absolute(_) => Scale::Linear,
        }
    }
}

/// Every statistic to compare: the `regression` block's per stage, capacity when the run searched,
/// then the relative thresholds.
pub(super) fn specs(
    current: &RunSamples,
    runs: &[&RunSamples],
    regression: &Regression,
    thresholds: &[Threshold],
) -> Vec<Spec> {
    let stages = runs
        .iter()
        .map(|r| r.stages.len())
        .max()
        .unwrap_or(0)
        .min(current.stages.len());
    specs_for(
        stages,
        current.total.capacity.is_some(),
        regression,
        thresholds,
    )
}

/// The statistics to compare for `stages` stages (and capacity, when searched).
pub(crate) fn specs_for(
    stages: usize,
    capacity: bool,
    regression: &Regression,
    thresholds: &[Threshold],
) -> Vec<Spec> {
    let mut specs = Vec::new();
    for i in 0..stages {
        for &(metric, allowance) in regression
            .metrics
            .iter()
            .filter(|m| m.0 != Metric::Capacity)
        {
            let aggregations: Vec<Aggregation> = match metric.kind() {
                MetricKind::Trend => regression
                    .percentiles
                    .iter()
                    .map(|&p| Aggregation::Percentile(p))
                    .collect(),
                MetricKind::Rate => vec![Aggregation::Rate],
                MetricKind::Throughput => vec![Aggregation::Value],
                MetricKind::Gauge => vec![Aggregation::Avg],
            };
            for aggregation in aggregations {
                specs.push(Spec {
                    stage: Some(i),
                    metric,
                    aggregation,
                    allowance,
                    source: RowSource::Regression,
                });
            }
        }
    }
    if capacity {
        // A fall beyond the searches' precision and the runs' spread is a regression (or beyond the
        // allowance, when `regression.metrics.capacity` gives one).
        let allowance = regression
            .metrics
            .iter()
            .find(|m| m.0 == Metric::Capacity)
            .map_or(Allowance::Relative(0.0), |m| m.1);
        specs.push(Spec {
            stage: None,
            metric: Metric::Capacity,
            aggregation: Aggregation::Value,
            allowance,
            source: RowSource::Regression,
        });
    }
    for t in thresholds {
        let Some(factor) = t.baseline_factor else {
            continue;
        };
        let allowance = match t.op {
            Op::Gt | Op::Ge => Allowance::Relative(1.0 - factor),
            _ => Allowance::Relative(factor - 1.0),
        };
        specs.push(Spec {
            stage: t.stage,
            metric: t.metric,
            aggregation: t.aggregation,
            allowance,
            source: RowSource::Threshold(t.label()),
        });
    }
    specs
}
