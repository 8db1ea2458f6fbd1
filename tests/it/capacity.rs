//! The capacity search (`load.capacity`) end to end against the embedded simulator over real HTTP on
//! 127.0.0.1: what it finds brackets the rate where the SLO stops holding, it lands in
//! `verdicts.json`, the plot and a threshold, and a simulator four times slower is a regression against
//! the first run's baseline. Bad `load.capacity` blocks are refused by name.
//!
//! What the default simulator holds depends on the machine's free CPU as much as on its model (it
//! shares two cores with the runner and whatever else runs: about 110 req/s here on idle cores, half
//! that behind a build), so the search starts low and the slower simulator is slow enough (about
//! 27 req/s by its model) to be found lower even when the first run was held back by the CPU.

use std::path::Path;

use infergate::execute::{self, OutRoot};
use infergate::gate::baseline::change::Change;
use infergate::gate::{CheckKind, ScenarioOutcome, Status, Verdict};
use infergate::run::RunResult;
use infergate::scenario::{Metric, Scenario};
use infergate::store::publish::PublishOptions;

use crate::baselines::options;

/// 256-token prompts and 64-token answers judged by TTFT ≤ 100 ms at 99 %: the default simulator
/// holds that up to about 110 req/s on idle cores (its batch fills there and requests queue).
const SCENARIO: &str = "api: {type: completion, streaming: true}
data:
  type: synthetic
  input_distribution: {mean: 256, std_dev: 0, min: 256, max: 256}
  output_distribution: {mean: 64, std_dev: 0, min: 64, max: 64}
load:
  type: constant
  interval: 0.5
  capacity: {min: 10, max: 400, precision: 10%, stages: [0.5]}
server: {ignore_eos: true}
report:
  goodput: {constraints: {ttft: 0.1}}
thresholds:
  capacity: [\"value >= 20\"]
# A step whose schedule delay passes this does not hold; a debug build on a loaded CI machine can
# be 12 ms late once in 363 sends (or far more behind a build), and the runner's limits are tested
# elsewhere.
validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}
";

const SLO_MS: f64 = 100.0;

fn run(
    file: &Path,
    publish: PublishOptions,
    factor: f64,
    out: &Path,
) -> (RunResult, infergate::gate::GateReport) {
    let options = options(publish, factor);
    match execute::scenario_file(
        file,
        "capacity",
        &options,
        &OutRoot::Fixed(out.to_path_buf()),
    )
    .0
    {
        ScenarioOutcome::Judged { run, gate } => (*run, gate),
        ScenarioOutcome::Error { message, .. } => panic!("could not run: {message}"),
    }
}

#[test]
fn the_search_brackets_the_slo_limit_and_a_slower_target_is_a_regression() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capacity.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    let store = dir.path().join("baselines");
    let save = PublishOptions {
        save_baseline: Some(store.to_str().unwrap().to_string()),
        ..PublishOptions::default()
    };
    let (first, gate) = run(&file, save, 1.0, &dir.path().join("first"));
    assert_eq!(gate.status, Status::Passed, "{:#?}", gate.checks);
    let found = first.capacity.clone().expect("a capacity outcome");
    let value = found.value.expect("a capacity within [min, max]");
    assert!((10.0..400.0).contains(&value), "{found:#?}");
    assert!(found.precision <= 0.10 * value + 1e-9, "{found:#?}");
    assert!(found.steps.len() <= 16, "{found:#?}");
    // The answer held with TTFT p99 within the SLO; the bracket's top failed.
    let at = |load: f64| found.steps.iter().find(|s| s.load == load).unwrap();
    let held = at(value);
    assert!(
        held.holds && held.ttft_p99_ms.unwrap() <= SLO_MS * 1.01,
        "{held:?}"
    );
    let above = at(value + found.precision);
    assert!(
        !above.holds && above.slo_attainment.unwrap() < 0.99,
        "{above:?}"
    );
    // Probe steps stay out of the stages: one stage, at half the capacity.
    assert_eq!(first.stages.len(), 1);
    let sent: u64 = found.steps.iter().map(|s| s.sent).sum();
    assert!(
        first.total.sent() < sent,
        "{} vs {sent}",
        first.total.sent()
    );
    assert!(
        first.stages[0]
            .stage
            .describe()
            .starts_with(&format!("{} req/s", (value * 50.0).round() / 100.0))
    );
    let capacity_check = gate
        .checks
        .iter()
        .find(|c| c.name == "capacity: value >= 20")
        .unwrap();
    assert_eq!(capacity_check.verdict, Verdict::Pass);
    // verdicts.json and the plot carry it.
    let reports = dir.path().join("first").join("capacity");
    let verdicts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("verdicts.json")).unwrap())
            .unwrap();
    assert_eq!(verdicts["capacity"]["value"], value);
    assert_eq!(verdicts["capacity"]["unit"], "req/s");
    assert_eq!(
        verdicts["capacity"]["steps"].as_array().unwrap().len(),
        found.steps.len()
    );
    let plot = std::fs::read_to_string(reports.join("latency_vs_load.svg")).unwrap();
    assert!(plot.contains("capacity "), "the plot marks the capacity");

    let compare = PublishOptions {
        baseline: Some(store.to_str().unwrap().to_string()),
        ..PublishOptions::default()
    };
    let (slower, gate) = run(&file, compare, 4.0, &dir.path().join("slower"));
    let lower = slower.capacity.unwrap().value.unwrap();
    assert!(lower < value, "{lower} vs {value}");
    let rows = &gate.comparison.as_ref().expect("a comparison").rows;
    let row = rows.iter().find(|r| r.metric == Metric::Capacity).unwrap();
    assert_eq!(row.judgement.change, Change::Regressed, "{row:?}");
    assert_eq!(gate.status, Status::Failed);
    let failed: Vec<_> = gate.failed_checks().collect();
    assert!(
        failed.iter().all(|c| c.kind == CheckKind::Regression),
        "{failed:#?}"
    );
}

/// Closed loop: the concurrency at which TTFT p(99) stays under 200 ms, in whole slots, judged by a
/// threshold of the block's own rather than by goodput. The default simulator's batch of 96 fills
/// there (a queued request waits a whole answer, over 300 ms); a tighter SLO was broken at the
/// minimum (4) on a busy machine, where the simulator's thread waits for a core.
#[test]
fn a_closed_loop_search_finds_whole_slots_by_its_own_thresholds() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("closed.yaml");
    let yaml = "api: {type: completion, streaming: true}
data:
  type: synthetic
  input_distribution: {mean: 256, std_dev: 0, min: 256, max: 256}
  output_distribution: {mean: 32, std_dev: 0, min: 32, max: 32}
load:
  type: concurrent
  capacity: {min: 4, max: 256, thresholds: {ttft: [\"p(99) < 200ms\"]}, stages: [0.5, 1.0]}
server: {ignore_eos: true}
validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}
";
    std::fs::write(&file, yaml).unwrap();
    let (run, gate) = run(
        &file,
        PublishOptions::default(),
        1.0,
        &dir.path().join("out"),
    );
    assert_eq!(gate.status, Status::Passed, "{:#?}", gate.checks);
    let found = run.capacity.expect("a capacity outcome");
    assert_eq!(found.unit, "concurrent requests");
    assert_eq!(
        found.judged_by,
        "ttft: p(99) < 200ms, error_rate: rate < 1% (default)"
    );
    let value = found.value.expect("found within [4, 256]");
    assert!(
        value.fract() == 0.0 && (4.0..256.0).contains(&value),
        "{found:#?}"
    );
    assert!(
        found
            .steps
            .iter()
            .all(|s| s.load.fract() == 0.0 && s.slo_attainment.is_none())
    );
    // Whole slots, within the default 5 % of the answer (one slot below 20).
    assert!(
        found.precision.fract() == 0.0
            && (1.0..=(0.05 * value).max(1.0)).contains(&found.precision),
        "{found:#?}"
    );
    let held = found.steps.iter().find(|s| s.load == value).unwrap();
    assert!(held.holds && held.ttft_p99_ms.unwrap() < 200.0, "{held:?}");
    let slots: Vec<String> = run.stages.iter().map(|s| s.stage.describe()).collect();
    let half = (value / 2.0).floor();
    assert!(
        slots[0].starts_with(&format!("concurrency {half} ")),
        "{slots:?}"
    );
    assert!(
        slots[1].starts_with(&format!("concurrency {value} ")),
        "{slots:?}"
    );
}

fn error_of(yaml: &str) -> String {
    match Scenario::from_source(Path::new("cap.yaml"), yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_capacity_blocks_are_refused_by_name() {
    let base = "load:\n  type: constant\n  capacity: {min: 1, max: 50}\n";
    let goodput = "report:\n  goodput:\n    constraints: {ttft: 0.5}\n";
    for (yaml, wanted) in [
        (base.to_string(), "load.capacity: needs an SLO to search for"),
        (
            "load:\n  type: constant\n  capacity: {min: 1}\n".to_string() + goodput,
            "give `max`",
        ),
        (
            "load:\n  type: constant\n  capacity: {min: 5, max: 50, precision: 120%}\n".to_string()
                + goodput,
            "load.capacity.precision: must be between 0% and 100%",
        ),
        (
            "load:\n  type: constant\n  capacity: {max: 50, attainment: 99%}\n".to_string(),
            "load.capacity.attainment: is the share of good requests",
        ),
        (
            base.to_string() + "  capacity_typo: 1\n",
            "capacity_typo",
        ),
        (
            "load:\n  type: constant\n  capacity: {max: 50, thresholds: {requests_per_sec: [\"value > 5\"]}}\n"
                .to_string(),
            "load.capacity.thresholds.requests_per_sec: `requests_per_sec` must be a latency or a rate",
        ),
        (
            "load:\n  stages: [{rate: 1, duration: 1}]\nthresholds:\n  capacity: [\"value >= 3\"]\n"
                .to_string(),
            "thresholds.capacity: `capacity` needs load.capacity",
        ),
        (
            "load:\n  type: concurrent\n  capacity: {min: 1.5, max: 8}\n".to_string() + goodput,
            "whole numbers",
        ),
    ] {
        let error = error_of(&yaml);
        assert!(error.contains(wanted), "{wanted:?} not in:\n{error}\nfor:\n{yaml}");
        assert!(error.contains("cap.yaml:"), "{error}");
    }
    // A good block with thresholds gets the default error-rate part, and says what it judges.
    let ok = Scenario::from_source(
        Path::new("cap.yaml"),
        "load:\n  type: concurrent\n  capacity: {max: 64, thresholds: {ttft: [\"p(99) < 200ms\"]}}\n",
    )
    .unwrap();
    let cap = ok.capacity.unwrap();
    assert_eq!(
        cap.judge.describe(),
        "ttft: p(99) < 200ms, error_rate: rate < 1% (default)"
    );
    assert_eq!(cap.stages, [0.5, 0.8, 1.0]);
}
