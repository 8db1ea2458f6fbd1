//! The comparison with a history: directions, capacity, refusals.

use super::change::Change;
use super::samples::StageSamples;
use super::*;

fn samples(ok: u64, errors: u64, good: u64, goodput_per_sec: f64) -> RunSamples {
    let stage = StageSamples {
        describe: "rate 10/s for 100s".into(),
        ok,
        errors,
        token_count_mismatches: 0,
        requests_per_sec: ok as f64 / 100.0,
        output_tokens_per_sec: 0.0,
        input_tokens_per_sec: 0.0,
        good,
        goodput_per_sec,
        token_goodput_per_sec: goodput_per_sec * 10.0,
        capacity: None,
        trends: Default::default(),
    };
    RunSamples {
        config_hash: "h".into(),
        shortened: false,
        simulated: true,
        stages: vec![stage.clone()],
        total: stage,
    }
}

fn one(samples: RunSamples) -> History {
    History::single(Baseline {
        samples,
        about: "base".into(),
    })
}

/// A fall in attainment or in goodput is the bad direction, judged against the noise.
#[test]
fn falling_attainment_and_goodput_are_regressions() {
    let regression = Regression {
        metrics: vec![
            (Metric::SloAttainment, Allowance::Absolute(0.01)),
            (Metric::Goodput, Allowance::Relative(0.10)),
        ],
        ..Regression::default()
    };
    let base = one(samples(1000, 0, 990, 9.9));
    let judge = |current: RunSamples| {
        let c = compare(&current, &base, &regression, &[], false, 0.0);
        assert_eq!(c.problem, None);
        c.rows
            .iter()
            .map(|r| (r.metric, r.judgement.change))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        judge(samples(1000, 0, 800, 8.0)),
        [
            (Metric::SloAttainment, Change::Regressed),
            (Metric::Goodput, Change::Regressed)
        ]
    );
    // The same attainment from fewer requests sent: failures count against it.
    let worse = judge(samples(900, 100, 890, 8.9));
    assert_eq!(worse[0], (Metric::SloAttainment, Change::Regressed));
    let same = judge(samples(1000, 0, 992, 9.92));
    assert!(
        same.iter().all(|(_, c)| *c != Change::Regressed),
        "{same:?}"
    );
    let better = judge(samples(1000, 0, 1000, 14.0));
    assert_eq!(better[1], (Metric::Goodput, Change::Improved));
}

/// Capacity is compared whenever the run searched: a fall well beyond the searches' brackets is
/// a regression, one bisection step is not.
#[test]
fn a_capacity_fall_beyond_the_brackets_is_a_regression() {
    let with = |value: f64, precision: f64| {
        let mut s = samples(1000, 0, 0, 0.0);
        s.total.capacity = Some((value, precision));
        s
    };
    let regression = Regression {
        metrics: vec![],
        ..Regression::default()
    };
    let base = one(with(107.5, 1.25));
    let change = |current: RunSamples| {
        let c = compare(&current, &base, &regression, &[], false, 0.0);
        assert_eq!(c.rows.len(), 1, "{:?}", c.rows);
        assert_eq!(
            (c.rows[0].metric, c.rows[0].scope.as_str()),
            (Metric::Capacity, "whole run")
        );
        c.rows[0].judgement.change
    };
    assert_eq!(change(with(90.0, 1.25)), Change::Regressed);
    // One bisection step lower: the limits may be the same.
    assert_ne!(change(with(106.25, 1.25)), Change::Regressed);
    assert_eq!(change(with(107.5, 1.25)), Change::NoChange);
    assert_eq!(change(with(120.0, 2.5)), Change::Improved);
    // Allowed 20 %, a 16 % fall passes.
    let allowed = Regression {
        metrics: vec![(Metric::Capacity, Allowance::Relative(0.20))],
        ..Regression::default()
    };
    let c = compare(&with(90.0, 1.25), &base, &allowed, &[], false, 0.0);
    assert_ne!(c.rows[0].judgement.change, Change::Regressed);
}

/// Saved runs of another config are left out, and said to be; none comparable is a refusal.
#[test]
fn runs_of_other_load_are_left_out_or_refused() {
    let mut other = samples(1000, 0, 990, 9.9);
    other.config_hash = "other".into();
    let history = History {
        runs: vec![
            Baseline {
                samples: other.clone(),
                about: "old".into(),
            },
            Baseline {
                samples: samples(1000, 0, 990, 9.9),
                about: "new".into(),
            },
        ],
        skipped: Vec::new(),
    };
    let c = compare(
        &samples(1000, 0, 990, 9.9),
        &history,
        &Regression::default(),
        &[],
        false,
        0.0,
    );
    assert_eq!(c.problem, None);
    assert!(
        c.notes[0].starts_with("1 of 2 saved runs offered other load"),
        "{:?}",
        c.notes
    );
    let refused = compare(
        &samples(1000, 0, 990, 9.9),
        &one(other),
        &Regression::default(),
        &[],
        false,
        0.0,
    );
    assert!(matches!(refused.problem, Some(Problem::Refused(_))));
    assert!(refused.rows.is_empty());
}

/// After a rerun, only the rows that regressed in every run stay regressed; the rest say why not.
#[test]
fn a_rerun_confirms_only_the_rows_that_regressed_in_every_run() {
    let base = one(samples(1000, 0, 990, 9.9));
    let regression = Regression {
        metrics: vec![
            (Metric::SloAttainment, Allowance::Absolute(0.01)),
            (Metric::Goodput, Allowance::Relative(0.10)),
        ],
        ..Regression::default()
    };
    let mut c = compare(
        &samples(1000, 0, 800, 8.0),
        &base,
        &regression,
        &[],
        false,
        0.0,
    );
    let keys = c.regressed_keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    // The first run regressed on attainment only: goodput is not confirmed.
    c.confirm(&[vec![keys[0].clone()]]);
    assert_eq!(c.regressed_keys(), vec![keys[0].clone()]);
    let goodput = &c.rows[1];
    assert_eq!(goodput.judgement.change, Change::Inconclusive);
    assert!(
        goodput
            .judgement
            .note
            .as_ref()
            .unwrap()
            .starts_with("regressed in this run but not in run 1: not confirmed"),
        "{:?}",
        goodput.judgement.note
    );
    assert_eq!(c.confirmation.as_ref().unwrap().runs, 2);
}
