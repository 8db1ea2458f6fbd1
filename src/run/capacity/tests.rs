//! The search against fake steps: where it lands, how it is bounded, how long its steps are.

use super::*;
use crate::run::sweep::tests::fake;
use crate::scenario::capacity::{Judge, Precision};

fn capacity(over: Over, min: f64, max: f64, precision: Precision) -> Capacity {
    Capacity {
        over,
        min,
        max,
        precision,
        step_duration: Duration::from_secs(10),
        max_step_duration: Duration::from_secs(60),
        max_steps: 16,
        judge: Judge {
            attainment: None,
            thresholds: vec![Threshold::default_error_rate()],
        },
        stages: vec![0.5, 1.0],
        stage_duration: Duration::from_secs(30),
        num_requests: None,
    }
}

/// Searches a target whose every step at or above `limit` fails its requests.
async fn search(cap: &Capacity, limit: f64) -> (CapacityOutcome, Vec<f64>) {
    let mut asked = Vec::new();
    let outcome = find_capacity(
        cap,
        f64::INFINITY,
        async |load| {
            asked.push(load);
            Some((fake(load.max(1.0), load >= limit), 2.0))
        },
        |_| {},
    )
    .await
    .unwrap();
    (outcome, asked)
}

#[tokio::test]
async fn the_answer_is_within_the_precision_below_the_limit() {
    let cap = capacity(Over::Rate, 10.0, 400.0, Precision::Relative(0.05));
    let (outcome, asked) = search(&cap, 73.4).await;
    assert_eq!(asked, [10.0, 20.0, 40.0, 80.0, 60.0, 70.0, 75.0, 72.5]);
    let value = outcome.value.unwrap();
    assert!(value < 73.4 && 73.4 - value <= 0.05 * value, "{outcome:?}");
    assert!(outcome.precision <= 0.05 * value, "{outcome:?}");
    assert!(outcome.note.is_none(), "{outcome:?}");
    assert_eq!(outcome.steps.len(), asked.len());
    assert_eq!(outcome.steps.iter().filter(|s| s.holds).count(), 6);
    // The same target gives the same steps.
    assert_eq!(search(&cap, 73.4).await.1, asked);
}

#[tokio::test]
async fn concurrency_is_searched_in_whole_slots_to_one_slot() {
    let cap = capacity(Over::Concurrency, 1.0, 64.0, Precision::Absolute(1.0));
    let (outcome, asked) = search(&cap, 23.0).await;
    assert!(asked.iter().all(|c| c.fract() == 0.0), "{asked:?}");
    assert_eq!(outcome.value, Some(22.0));
    assert_eq!(outcome.precision, 1.0);
    let generated = stages(&cap, 22.0);
    assert_eq!(
        generated,
        [
            Stage::Concurrency {
                num_requests: 220,
                concurrency: 11
            },
            Stage::Concurrency {
                num_requests: 440,
                concurrency: 22
            }
        ]
    );
}

#[tokio::test]
async fn failing_at_min_and_holding_at_max_are_said() {
    let cap = capacity(Over::Rate, 10.0, 40.0, Precision::Relative(0.05));
    let (below, asked) = search(&cap, 5.0).await;
    assert_eq!((below.value, asked), (None, vec![10.0]));
    assert!(below.note.unwrap().contains("failed at min"));
    let (above, asked) = search(&cap, 1000.0).await;
    assert_eq!((above.value, asked), (Some(40.0), vec![10.0, 20.0, 40.0]));
    assert!(above.note.unwrap().contains("at least that"));
}

#[tokio::test]
async fn the_steps_are_bounded() {
    let mut cap = capacity(Over::Rate, 1.0, 10_000.0, Precision::Absolute(0.01));
    cap.max_steps = 6;
    let (outcome, asked) = search(&cap, 3000.0).await;
    assert_eq!(asked.len(), 6);
    assert!(outcome.note.unwrap().contains("max_steps (6) ran out"));
}

#[test]
fn steps_are_long_enough_for_a_p99_within_their_bounds() {
    let cap = capacity(Over::Rate, 10.0, 400.0, Precision::Relative(0.05));
    let (need, what) = needed(&cap);
    assert_eq!(
        (need, what.as_str()),
        (363, "error_rate: rate < 1% (default)")
    );
    assert_eq!(
        step_length(&cap, 100.0, None),
        StepLength::Open(Duration::from_secs_f64(10.0))
    );
    assert_eq!(
        step_length(&cap, 20.0, None),
        StepLength::Open(Duration::from_secs_f64(18.15))
    );
    assert_eq!(
        step_length(&cap, 1.0, None),
        StepLength::Open(Duration::from_secs(60))
    );
    let quick = Some(crate::plan::Quick::default());
    assert_eq!(
        step_length(&cap, 1.0, quick),
        StepLength::Open(Duration::from_secs(4))
    );
    assert_eq!(
        step_length(&cap, 1000.0, quick),
        StepLength::Open(Duration::from_secs(2))
    );
    let closed = capacity(Over::Concurrency, 1.0, 64.0, Precision::Absolute(1.0));
    assert_eq!(step_length(&closed, 8.0, None), StepLength::Closed(363));
    assert_eq!(step_length(&closed, 8.0, quick), StepLength::Closed(32));
    // The fake's 2 s at 10 req/s is 20 requests: judged, and said to be too few.
    let step = judge(&cap, 10.0, &fake(10.0, false), 2.0, 10_000.0);
    assert!(step.holds);
    assert_eq!(
        step.too_few_samples.as_deref(),
        Some(
            "too few samples: 20 requests for error_rate: rate < 1% (default), needs at least 363"
        )
    );
}
