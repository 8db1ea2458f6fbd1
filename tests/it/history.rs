//! The history of saved runs in a real store: a local directory and a real S3-compatible server
//! (`s3s-fs` on 127.0.0.1). Saves append, the oldest beyond `regression.history` go (the old
//! single-run layout first), saves made at the same moment lose nothing, and what was saved reads
//! back as runs the gate can compare with.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::baselines::options;
use crate::support::s3_server::S3Server;
use infergate::execute::{self, OutRoot};
use infergate::gate::ScenarioOutcome;
use infergate::store::Location;
use infergate::store::baseline::{self, RUNS};
use infergate::store::publish::PublishOptions;

/// One real run's report directory (a 1 s stage against the embedded simulator).
fn a_run(dir: &Path) -> PathBuf {
    let file = dir.join("history.yaml");
    std::fs::write(
        &file,
        "load:\n  type: constant\n  stages: [{rate: 10, duration: 1}]\nvalidity:\n  max_schedule_delay_p99: 1s\n  min_achieved_rate: 10%\n",
    )
    .unwrap();
    let out = dir.join("out");
    let options = options(PublishOptions::default(), 1.0);
    let (outcome, _) =
        execute::scenario_file(&file, "history", &options, &OutRoot::Fixed(out.clone()));
    assert!(
        matches!(outcome, ScenarioOutcome::Judged { .. }),
        "{outcome:?}"
    );
    out.join("history")
}

/// The run's start `i` seconds after a fixed instant: saves in one test need distinct starts.
fn at(i: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000 + i)
}

async fn saved_runs(location: &Location) -> Vec<String> {
    location
        .join("history")
        .join(RUNS)
        .list_dirs()
        .await
        .unwrap()
}

/// A run's report directory and an empty local history beside it, with a runtime to drive the store.
fn local_history() -> (
    tempfile::TempDir,
    PathBuf,
    PathBuf,
    Location,
    tokio::runtime::Runtime,
) {
    let dir = tempfile::tempdir().unwrap();
    let report = a_run(dir.path());
    let store = dir.path().join("baselines");
    let location = Location::Local(store.clone());
    (
        dir,
        report,
        store,
        location,
        tokio::runtime::Runtime::new().unwrap(),
    )
}

/// The same story in either store: a single-run layout read, saves appended and pruned, the newest
/// kept, concurrent saves all landing.
async fn story(location: Location, report: &Path, legacy: impl AsyncFn()) {
    let scratch = tempfile::tempdir().unwrap();
    legacy().await;
    let history = baseline::load(&location, "history", scratch.path())
        .await
        .unwrap()
        .expect("the single-run layout is read");
    assert_eq!(history.runs.len(), 1);

    // Keep 3: the single run counts as the oldest, and is the first to go.
    for i in 0..3 {
        let saved = baseline::save(&location, "history", report, at(i), 3)
            .await
            .unwrap();
        assert_eq!(saved.kept, (i as usize + 2).min(3), "{saved:?}");
    }
    assert!(!location.join("history").has_files().await.unwrap());
    assert_eq!(saved_runs(&location).await.len(), 3);
    let read = baseline::load(&location, "history", scratch.path())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.runs.len(), 3);
    assert!(read.runs.iter().all(|r| r.samples.simulated));

    // Keep 2: the two newest stay.
    let last = baseline::save(&location, "history", report, at(10), 2)
        .await
        .unwrap();
    assert_eq!((last.kept, last.removed), (2, 2));
    let names = saved_runs(&location).await;
    assert_eq!(names.len(), 2);
    assert!(last.to.ends_with(&names[1]), "{} vs {names:?}", last.to);
    assert!(names[0].starts_with(&infergate::store::timestamp(at(2))));

    // Eight saves at once, keeping 6: the six newest of all stay, nothing half written.
    // Each on a thread and runtime of its own, as eight CI jobs would be.
    let saves = (0..8).map(|i| {
        let (location, report) = (location.clone(), report.to_path_buf());
        tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(baseline::save(&location, "history", &report, at(20 + i), 6))
        })
    });
    for saved in futures_util::future::join_all(saves).await {
        saved.unwrap().unwrap();
    }
    let names = saved_runs(&location).await;
    let newest: Vec<String> = (22..28)
        .map(|i| infergate::store::timestamp(at(i)))
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for (name, stamp) in names.iter().zip(&newest) {
        assert!(name.starts_with(stamp), "{names:?}");
    }
    let read = baseline::load(&location, "history", scratch.path())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.runs.len(), read.skipped.len()), (6, 0));
}

#[test]
fn a_local_history_appends_prunes_and_reads_the_single_run_layout() {
    let _turn = crate::support::turn_blocking();
    let (_dir, report, store, location, runtime) = local_history();
    runtime.block_on(story(location, &report, async || {
        // The old layout: a whole report directory directly under LOCATION/<scenario>/.
        let old = store.join("history");
        std::fs::create_dir_all(&old).unwrap();
        for entry in std::fs::read_dir(&report).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, old.join(path.file_name().unwrap())).unwrap();
            }
        }
    }));
}

#[test]
fn an_s3_history_appends_prunes_and_reads_the_single_run_layout() {
    let _turn = crate::support::turn_blocking();
    let server = S3Server::start(&["perf"]);
    let dir = tempfile::tempdir().unwrap();
    let report = a_run(dir.path());
    let storage = infergate::scenario::S3Storage {
        bucket_name: "perf".into(),
        path: String::new(),
        report_file_prefix: String::new(),
        endpoint_url: Some(server.url.clone()),
        region_name: None,
        addressing_style: infergate::scenario::Addressing::Auto,
    };
    let location = Location::parse("s3://perf/baselines", Some(&storage)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let root = location.join("history");
    runtime.block_on(story(location.clone(), &report, async || {
        root.put_dir(&report).await.unwrap();
    }));
    assert!(
        server
            .keys("perf", "baselines/history/")
            .iter()
            .all(|k| k.starts_with("baselines/history/runs/")),
        "only saved runs are left"
    );
}

/// `infergate history` lists the saved runs and, per statistic, the spread and what the next run
/// could be caught with (only once three runs measure the spread).
#[test]
fn the_history_command_shows_each_statistics_spread_and_what_it_could_catch() {
    let _turn = crate::support::turn_blocking();
    let (_dir, report, store, location, runtime) = local_history();
    let show = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_infergate"))
            .args(["history", store.to_str().unwrap(), "history"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        show().starts_with("no saved runs for `history`"),
        "{}",
        show()
    );
    for i in 0..2 {
        runtime
            .block_on(baseline::save(&location, "history", &report, at(i), 10))
            .unwrap();
    }
    let two = show();
    assert!(two.starts_with("2 saved run(s) of `history`"), "{two}");
    assert!(
        two.contains("| stage 0 request_latency p(50) | 2 |"),
        "{two}"
    );
    assert!(two.contains("n/a (fewer than 3 runs)"), "{two}");
    runtime
        .block_on(baseline::save(&location, "history", &report, at(2), 10))
        .unwrap();
    let three = show();
    // The same run saved three times: no spread at all, so the next run could be caught at any change.
    assert!(
        three.contains("| stage 0 request_latency p(50) | 3 |"),
        "{three}"
    );
    assert!(three.contains("| 0.0 % | ≥ 0 % |"), "{three}");
}
