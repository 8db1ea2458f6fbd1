//! The report schema on both sides: every JSON file a run writes (lifecycle reports, verdicts, the
//! timeline, samples) reads back into its struct, and writing the struct again gives the same JSON, so
//! no field is dropped or renamed on one side only. The runs cover a warm-up, several stages, the
//! engine's `/metrics`, a failure label, and a baseline comparison.

use std::path::Path;

use infergate::execute::{self, OutRoot};
use infergate::gate::baseline::samples::RunSamples;
use infergate::gate::{ScenarioOutcome, Status};
use infergate::options::Options;
use infergate::plan::Quick;
use infergate::report::schema::{
    self, Lifecycle, PrometheusReport, TimelineEntry, VerdictsFile, files,
};
use infergate::run::{RunOptions, Target};
use infergate::store::publish::PublishOptions;
use serde::Serialize;
use serde::de::DeserializeOwned;

const SCENARIO: &str = "api: {type: completion, streaming: true}
data:
  type: random
  input_distribution: {mean: 16, std_dev: 0, min: 16, max: 16}
  output_distribution: {mean: 8, std_dev: 0, min: 8, max: 8}
load:
  type: constant
  interval: 0.1
  warmup: {requests: 3}
  stages: [{rate: 8, duration: 2}, {rate: 16, duration: 2}]
thresholds:
  ttft: [\"p(99) < 10s\"]
  error_rate: [\"rate < 1%\"]
# This test is about the files; one late wake-up among a stage's 16 sends on a loaded CI machine
# is not its concern (gate_sim tests the runner's limits).
validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}
";

/// Reads `path` as `T`, writes it again, and compares with the file as untyped JSON.
fn round_trip<T: DeserializeOwned + Serialize>(path: &Path) -> T {
    let typed: T = schema::read(path).unwrap_or_else(|e| panic!("{e}"));
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(again, on_disk, "{} does not round-trip", path.display());
    typed
}

/// Every JSON file in a scenario's directory, each read as its type; unknown JSON files fail.
fn check_dir(dir: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        match name.as_str() {
            files::VERDICTS => match VerdictsFile::read(&path).unwrap() {
                VerdictsFile::Judged(v) => {
                    let again: infergate::report::schema::Verdicts = round_trip(&path);
                    assert_eq!(again, *v);
                }
                VerdictsFile::Error(e) => panic!("the run did not happen: {}", e.error),
            },
            files::TIMELINE => {
                let points: Vec<TimelineEntry> = round_trip(&path);
                assert!(!points.is_empty());
            }
            files::SAMPLES => {
                let samples: RunSamples = round_trip(&path);
                assert_eq!(samples.stages.len(), 2);
            }
            n if n.ends_with("_lifecycle_metrics.json") => {
                let life: Lifecycle = round_trip(&path);
                assert!(life.load_summary.count > 0, "{n}");
            }
            n if n.ends_with("_prometheus_metrics.json") => {
                let server: PrometheusReport = round_trip(&path);
                assert!(server.successes.count.is_some_and(|c| c > 0.0), "{n}");
            }
            other => panic!("{other}: a JSON file the schema does not know"),
        }
        checked += 1;
    }
    checked
}

fn options(publish: PublishOptions) -> Options {
    Options {
        run: RunOptions {
            target: Target::Simulator,
            quick: Some(Quick::default()),
            ..RunOptions::default()
        },
        publish,
        out: None,
        sharding: None,
        ab: None,
    }
}

#[test]
fn every_file_a_run_writes_reads_back_into_the_schema() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    let baselines = dir.path().join("baselines");
    let save = PublishOptions {
        save_baseline: Some(baselines.display().to_string()),
        ..PublishOptions::default()
    };
    let out = OutRoot::Fixed(dir.path().join("first"));
    let (first, _) = execute::scenario_file(&file, "schema", &options(save), &out);
    assert!(matches!(first, ScenarioOutcome::Judged { .. }));
    // Summary, warm-up, two stages, verdicts, timeline, samples, and the simulator's /metrics in
    // inference-perf's summary_prometheus_metrics.json.
    assert_eq!(check_dir(&dir.path().join("first/schema")), 8);

    let compare = PublishOptions {
        baseline: Some(baselines.display().to_string()),
        ..PublishOptions::default()
    };
    let out = OutRoot::Fixed(dir.path().join("second"));
    let (second, _) = execute::scenario_file(&file, "schema", &options(compare), &out);
    let ScenarioOutcome::Judged { gate, .. } = second else {
        panic!("the second run did not happen")
    };
    assert_ne!(gate.status, Status::Invalid, "{:?}", gate.checks);
    let second = dir.path().join("second/schema");
    assert_eq!(check_dir(&second), 8);
    let VerdictsFile::Judged(v) = VerdictsFile::read(&second.join(files::VERDICTS)).unwrap() else {
        unreachable!()
    };
    let baseline = v.baseline.expect("the comparison is in verdicts.json");
    assert!(
        !baseline.rows.is_empty() && baseline.problem.is_none(),
        "{baseline:?}"
    );
    let stage: Lifecycle = schema::read(&second.join(files::stage(0))).unwrap();
    let server = stage
        .server_metrics
        .expect("the simulator's /metrics was scraped");
    assert_eq!(server.engines, vec!["vllm".to_string()]);
}
