//! `load.sweep`: find the saturation rate with a stepped ramp, then generate the stages up to it.
//!
//! inference-perf probes with one burst and takes a percentile of its burn-down rate, which its own
//! tracker calls fragile. infergate ramps instead: open-loop steps of `probe_duration` at `start_rate`,
//! doubling, until a step is *saturated*, then two bisection steps between the last good rate and the
//! first saturated one. A step is saturated when any of these holds:
//!
//! - more than 1 % of its requests failed or timed out;
//! - its successes ended at less than 90 % of the requested rate (between the first and the last end:
//!   a saturated target spreads its answers out);
//! - its TTFT p90 left the plateau: more than 3x the lowest p90 of the good steps, and 20 ms above it.
//!
//! The saturation rate is the highest good rate; the recommended production rate is 25 % below it
//! (seed 004: "set production limits 20-30 % below the saturation point"). Probe steps are kept out of
//! every statistic and reported on their own.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::recorder::Recorder;
use crate::scenario::{Aggregation, Metric, Stage, Sweep};

/// How far below saturation the recommended production rate is.
pub const HEADROOM: f64 = 0.25;
/// Bisection steps after the doubling ramp.
const REFINEMENTS: usize = 2;
/// The ramp stops after this many doublings even if nothing saturates.
const MAX_DOUBLINGS: usize = 20;

/// One ramp step as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub rate: f64,
    pub completed_rate: f64,
    pub ttft_p90_ms: Option<f64>,
    pub error_rate: f64,
    /// Why the step counts as saturated; `None` for a good step.
    pub saturated: Option<String>,
}

/// What the sweep found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepOutcome {
    pub probes: Vec<Probe>,
    /// The highest good rate, requests per second.
    pub saturation_rate: f64,
    pub recommended_rate: f64,
    /// Set when the ramp reached `max_rate` without saturating.
    pub note: Option<String>,
}

/// Judges one step against the plateau seen so far (the lowest TTFT p90 of good steps, µs).
pub fn probe_verdict(rate: f64, r: &Recorder, plateau_p90_us: Option<f64>) -> Probe {
    let ttft_p90 = r.value(Metric::Ttft, Aggregation::Percentile(90.0));
    let completed = r.completion_rate().unwrap_or(0.0);
    let error_rate = r.error_rate();
    let saturated = if r.sent() == 0 {
        Some("nothing was sent".to_string())
    } else if error_rate > 0.01 {
        Some(format!("{:.1} % of requests failed", error_rate * 100.0))
    } else if completed < 0.9 * rate {
        Some(format!("completed only {completed:.1} req/s"))
    } else {
        match (ttft_p90, plateau_p90_us) {
            (Some(now), Some(plateau)) if now > 3.0 * plateau && now > plateau + 20_000.0 => {
                Some(format!(
                    "TTFT p90 {:.1} ms left its plateau of {:.1} ms",
                    now / 1e3,
                    plateau / 1e3
                ))
            }
            _ => None,
        }
    };
    Probe {
        rate,
        completed_rate: completed,
        ttft_p90_ms: ttft_p90.map(|v| v / 1e3),
        error_rate,
        saturated,
    }
}

/// Runs the ramp: `probe(rate)` runs one step and returns what it recorded; `report` sees each step.
pub async fn find_saturation(
    sweep: &Sweep,
    mut probe: impl AsyncFnMut(f64) -> Option<Recorder>,
    mut report: impl FnMut(&Probe),
) -> Result<SweepOutcome, String> {
    let mut probes: Vec<Probe> = Vec::new();
    let mut plateau: Option<f64> = None;
    let mut good: Option<f64> = None;
    let mut bad: Option<f64> = None;
    let mut rate = sweep.start_rate;
    let mut step = async |rate: f64, probes: &mut Vec<Probe>, plateau: &mut Option<f64>| {
        let recorder = probe(rate).await?;
        let judged = probe_verdict(rate, &recorder, *plateau);
        report(&judged);
        let ok = judged.saturated.is_none();
        if ok && let Some(p90) = judged.ttft_p90_ms.map(|v| v * 1e3) {
            *plateau = Some(plateau.map_or(p90, |p| p.min(p90)));
        }
        probes.push(judged);
        Some(ok)
    };
    for _ in 0..MAX_DOUBLINGS {
        let Some(ok) = step(rate, &mut probes, &mut plateau).await else {
            return Err("the sweep was stopped".into());
        };
        if ok {
            good = Some(rate);
        } else {
            bad = Some(rate);
            break;
        }
        if rate >= sweep.max_rate {
            break;
        }
        rate = (rate * 2.0).min(sweep.max_rate);
    }
    let Some(mut low) = good else {
        return Err(format!(
            "the target is saturated at the sweep's first rate ({} req/s): {}; lower load.sweep.start_rate",
            sweep.start_rate,
            probes
                .last()
                .and_then(|p| p.saturated.clone())
                .unwrap_or_default()
        ));
    };
    let note = match bad {
        None => Some(format!(
            "no step saturated up to max_rate {} req/s; the saturation rate is at least that",
            sweep.max_rate
        )),
        Some(mut high) => {
            for _ in 0..REFINEMENTS {
                let mid = ((low + high) / 2.0 * 100.0).round() / 100.0;
                match step(mid, &mut probes, &mut plateau).await {
                    None => return Err("the sweep was stopped".into()),
                    Some(true) => low = mid,
                    Some(false) => high = mid,
                }
            }
            None
        }
    };
    Ok(SweepOutcome {
        probes,
        saturation_rate: low,
        recommended_rate: ((1.0 - HEADROOM) * low * 100.0).round() / 100.0,
        note,
    })
}

/// The stages a sweep runs once saturation is known: `num_stages` rates up to it, evenly spaced
/// (linear) or halving from the top (geometric).
pub fn stages(sweep: &Sweep, saturation: f64) -> Vec<Stage> {
    let n = sweep.num_stages.max(1);
    (1..=n)
        .map(|i| {
            let fraction = if sweep.geometric {
                0.5f64.powi((n - i) as i32)
            } else {
                i as f64 / n as f64
            };
            Stage::Rate {
                rate: ((saturation * fraction) * 100.0).round() / 100.0,
                duration: sweep.stage_duration,
            }
        })
        .collect()
}

/// The probe step length: `probe_duration`, capped in quick mode.
pub fn probe_duration(sweep: &Sweep, quick_cap: Option<Duration>) -> Duration {
    quick_cap.map_or(sweep.probe_duration, |cap| sweep.probe_duration.min(cap))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn sweep(geometric: bool) -> Sweep {
        Sweep {
            geometric,
            num_stages: 4,
            stage_duration: Duration::from_secs(60),
            start_rate: 1.0,
            max_rate: 1000.0,
            probe_duration: Duration::from_secs(5),
        }
    }

    #[test]
    fn linear_and_geometric_stages_end_at_saturation() {
        let rates = |s: Vec<Stage>| -> Vec<f64> {
            s.iter()
                .map(|s| match s {
                    Stage::Rate { rate, .. } => *rate,
                    _ => 0.0,
                })
                .collect()
        };
        assert_eq!(rates(stages(&sweep(false), 40.0)), [10.0, 20.0, 30.0, 40.0]);
        assert_eq!(rates(stages(&sweep(true), 40.0)), [5.0, 10.0, 20.0, 40.0]);
    }

    #[tokio::test]
    async fn the_ramp_doubles_then_bisects() {
        // A target whose every step at or above 24 req/s reports errors.
        let mut asked = Vec::new();
        let outcome = find_saturation(
            &sweep(false),
            async |rate| {
                asked.push(rate);
                Some(fake(rate, rate >= 24.0))
            },
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(asked, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 24.0, 20.0]);
        assert_eq!(outcome.saturation_rate, 20.0);
        assert_eq!(outcome.recommended_rate, 15.0);
    }

    /// Two seconds of evenly spaced requests, each answered 100 ms later, or each failing.
    pub(in crate::run) fn fake(rate: f64, failing: bool) -> Recorder {
        use crate::client::{Exchange, Failure, FailureKind, Success};
        use crate::measure::recorder::{Expect, Sample};
        let mut r = Recorder::new();
        let t0 = std::time::Instant::now();
        for i in 0..(rate * 2.0) as u64 {
            let sent = t0 + Duration::from_secs_f64(i as f64 / rate);
            let end = sent + Duration::from_millis(100);
            let exchange = if failing {
                Exchange::Failed(Failure {
                    kind: FailureKind::Other,
                    message: "x".into(),
                    sent,
                    end,
                })
            } else {
                Exchange::Ok(Success {
                    sent,
                    first_content: Some(sent + Duration::from_millis(10)),
                    end,
                    content_gaps_us: vec![],
                    content_chunks: 1,
                    reasoning: Default::default(),
                    usage: None,
                    body_words: 0,
                })
            };
            r.scheduled += 1;
            r.record(&Sample {
                intended: sent,
                prompt_tokens: 1,
                expect: Expect::default(),
                exchange,
            });
        }
        r
    }
}
