//! The gate's trust features end to end, over real HTTP on 127.0.0.1 against simulators: a
//! regression confirmed by a rerun (both runs' reports kept, JUnit saying so), and interleaved A/B
//! runs between two simulators, one of them slower. The verdicts asserted are far from the noise
//! (a doubled or halved pace; an error budget of 0.1 %), so a busy machine cannot flip them.

use std::path::{Path, PathBuf};

use infergate::execute::{self, OutRoot};
use infergate::gate::baseline::change::Change;
use infergate::gate::{GateReport, ScenarioOutcome, Status};
use infergate::options::{Interleave, Options};
use infergate::report::junit;
use infergate::run::{RunOptions, Target};
use infergate::sim::{Pace, SimConfig, SimHandle};
use infergate::store::publish::PublishOptions;

/// A small open-loop scenario with the given `regression` block.
fn scenario(dir: &Path, name: &str, regression: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let yaml = format!(
        "api: {{type: completion, streaming: true}}
data:
  type: random
  input_distribution: {{mean: 64, std_dev: 0, min: 64, max: 64}}
  output_distribution: {{mean: 32, std_dev: 0, min: 32, max: 32}}
load:
  type: constant
  stages: [{{rate: 20, duration: 2}}]
server: {{model_name: infergate-sim}}
validity: {{max_schedule_delay_p99: 1s, min_achieved_rate: 10%}}
regression:
{regression}
"
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

fn gate(outcome: &ScenarioOutcome) -> &GateReport {
    match outcome {
        ScenarioOutcome::Judged { gate, .. } => gate,
        ScenarioOutcome::Error { message, .. } => panic!("could not run: {message}"),
    }
}

fn simulator(factor: f64) -> SimHandle {
    let config = SimConfig {
        pace: Pace::steady(factor),
        ..SimConfig::default()
    };
    SimHandle::start(config, ([127, 0, 0, 1], 0).into()).unwrap()
}

fn options(target: &SimHandle, publish: PublishOptions, ab: Option<Interleave>) -> Options {
    Options {
        run: RunOptions {
            target: Target::Url(target.base_url()),
            ..RunOptions::default()
        },
        publish,
        ab,
        ..Options::default()
    }
}

/// Five saved runs, then an engine twice as slow: regressed, run again, confirmed; the first run's
/// reports are kept in `run-1/` and the JUnit message says the regression was confirmed.
#[test]
fn a_regression_is_confirmed_by_a_rerun_before_it_fails() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "confirm", "  confidence: 99%\n  confirm: 1");
    let store = dir.path().join("baselines").display().to_string();
    let out = OutRoot::Fixed(dir.path().join("out"));
    let fast = simulator(1.0);
    let save = PublishOptions {
        save_baseline: Some(store.clone()),
        ..PublishOptions::default()
    };
    for _ in 0..5 {
        let (outcome, _) =
            execute::scenario_file(&file, "confirm", &options(&fast, save.clone(), None), &out);
        assert_ne!(
            gate(&outcome).status,
            Status::Invalid,
            "{:?}",
            gate(&outcome).checks
        );
    }
    let slow = simulator(2.0);
    let compare = PublishOptions {
        baseline: Some(store),
        ..PublishOptions::default()
    };
    let (outcome, _) =
        execute::scenario_file(&file, "confirm", &options(&slow, compare, None), &out);
    let judged = gate(&outcome);
    assert_eq!(judged.status, Status::Failed, "{:?}", judged.checks);
    let comparison = judged.comparison.as_ref().unwrap();
    assert_eq!(
        comparison.rows.iter().filter(|r| r.runs == 5).count(),
        comparison.rows.len()
    );
    let confirmation = comparison
        .confirmation
        .as_ref()
        .expect("a confirming rerun");
    assert_eq!(confirmation.runs, 2);
    assert!(!confirmation.earlier[0].is_empty());
    for row in comparison
        .rows
        .iter()
        .filter(|r| r.judgement.change == Change::Regressed)
    {
        assert!(confirmation.earlier[0].contains(&row.key()), "{row:?}");
    }
    assert!(dir.path().join("out/confirm/run-1/verdicts.json").is_file());
    let xml = junit::render(std::slice::from_ref(&outcome));
    assert!(
        xml.contains("regressed in 2 of 2 runs (confirmed by 1 rerun(s))"),
        "{xml}"
    );
    // The default warm-up ran, and said so.
    let ScenarioOutcome::Judged { run, .. } = &outcome else {
        unreachable!()
    };
    assert!(run.warmup.is_some());
    assert!(
        run.warnings.iter().any(|w| w.contains("default warm-up")),
        "{:?}",
        run.warnings
    );
}

/// Interleaved A/B between two simulators: a slower B is a regression with the effect's interval;
/// two identical engines are not, at an error budget of 0.1 %.
#[test]
fn ab_catches_a_slower_engine_and_passes_an_identical_one() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "ab", "  confidence: 99.9%");
    // Eight pairs of blocks of ten requests: with four pairs of five, Student's t at 99.9 % (3
    // degrees of freedom) could only catch a change of about 230 % behind another build.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("duration: 2}", "duration: 8}")).unwrap();
    let out_root = dir.path().join("out");
    let out = OutRoot::Fixed(out_root.clone());
    let (a, b, same) = (simulator(1.0), simulator(2.0), simulator(1.0));
    let ab = |baseline: &SimHandle| {
        Some(Interleave {
            baseline_target: baseline.base_url(),
            pairs: 8,
        })
    };
    let (slower, _) = execute::scenario_file(
        &file,
        "ab",
        &options(&b, PublishOptions::default(), ab(&a)),
        &out,
    );
    let judged = gate(&slower);
    assert_eq!(judged.status, Status::Failed, "{:?}", judged.checks);
    let comparison = judged.comparison.as_ref().unwrap();
    let latency = comparison
        .rows
        .iter()
        .find(|r| r.statistic() == "request_latency p(50)")
        .unwrap();
    assert_eq!(latency.judgement.change, Change::Regressed, "{latency:?}");
    assert_eq!(latency.runs, 8);
    let effect = latency.judgement.delta.unwrap();
    assert!(
        (0.4..2.0).contains(&effect),
        "B is twice as slow per step: {effect}"
    );
    assert!(latency.judgement.note.as_ref().unwrap().contains("95% CI"));
    assert!(out_root.join("ab/a/verdicts.json").is_file(), "A's reports");
    assert!(out_root.join("ab/verdicts.json").is_file(), "B's reports");

    let (equal, _) = execute::scenario_file(
        &file,
        "ab",
        &options(&same, PublishOptions::default(), ab(&a)),
        &out,
    );
    let judged = gate(&equal);
    let regressed: Vec<_> = judged
        .comparison
        .as_ref()
        .unwrap()
        .rows
        .iter()
        .filter(|r| r.judgement.change == Change::Regressed)
        .collect();
    assert!(regressed.is_empty(), "{regressed:?}");
    assert_eq!(judged.status, Status::Passed, "{:?}", judged.checks);
}
