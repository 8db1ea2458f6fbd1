//! Sharded runs as separate `infergate` processes against real servers on 127.0.0.1: three shards
//! meet at a directory or at the local S3 server, shard 0 merges, and the merged counts are exactly
//! the unsharded run's; a missing shard is refused, and a shard that cannot keep up makes the merged
//! run invalid, by name.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use infergate::sim::{FixedTiming, SimConfig, SimHandle};
use serde_json::Value;

/// The API and data every scenario here shares, and runner-validity limits that three processes on
/// two busy cores keep (`support::LOOSE_VALIDITY`): only a shard seconds behind breaks them.
macro_rules! head {
    () => {
        "api: {type: completion, streaming: true}
data:
  type: random
  input_distribution: {min: 8, max: 40, mean: 20, std_dev: 8}
  output_distribution: {min: 2, max: 12, mean: 6, std_dev: 3}
validity: {max_schedule_delay_p99: 1s, min_achieved_rate: 50%}
"
    };
}

/// An open-loop stage (Poisson, so the count depends on the seed).
const SCENARIO: &str = concat!(
    head!(),
    "load:
  type: poisson
  interval: 0.3
  stages:
    - {rate: 45, duration: 1.5}
thresholds:
  ttft: [\"p(99) < 5000ms\"]
"
);

/// A closed-loop stage whose requests and slots do not divide by three.
const CLOSED: &str = concat!(
    head!(),
    "load:
  type: concurrent
  stages:
    - {num_requests: 31, concurrency_level: 7}
"
);

fn sim(ttft_ms: u64) -> SimHandle {
    let config = SimConfig {
        fixed: Some(FixedTiming {
            ttft: Duration::from_millis(ttft_ms),
            itl: Duration::from_millis(1),
        }),
        ..SimConfig::default()
    };
    SimHandle::start(config, ([127, 0, 0, 1], 0).into()).unwrap()
}

fn infergate(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infergate"));
    c.args(args)
        .current_dir(dir)
        .env_remove("INFERGATE_TARGET")
        .env_remove("INFERGATE_OUT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Starts shard `i` of `n` of `file` against `target`.
fn shard(dir: &Path, file: &str, i: u32, n: u32, target: &str, rendezvous: &str) -> Child {
    let (shard, out) = (format!("{i}/{n}"), format!("out{i}"));
    infergate(
        dir,
        &[
            "run",
            file,
            "--target",
            target,
            "--shard",
            &shard,
            "--rendezvous",
            rendezvous,
            "--run-id",
            "ci-42",
            "--out",
            &out,
            "--rendezvous-timeout",
            "20",
        ],
    )
    .spawn()
    .unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

fn summary(dir: &Path, out: &str, scenario: &str) -> Value {
    let path = dir
        .join(out)
        .join(scenario)
        .join("summary_lifecycle_metrics.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn counts(summary: &Value) -> (u64, u64) {
    let n = |v: &Value| v.as_u64().unwrap();
    (
        n(&summary["load_summary"]["count"]),
        n(&summary["successes"]["count"]),
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Three shards of each file meet at `rendezvous`; shard 0's merged counts equal an unsharded run's.
fn three_shards_equal_one_run(rendezvous: impl Fn(&Path) -> String) {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("open.yaml"), SCENARIO).unwrap();
    std::fs::write(d.join("closed.yaml"), CLOSED).unwrap();
    let target = sim(5);
    let url = target.base_url();
    let place = rendezvous(d);
    for file in ["open.yaml", "closed.yaml"] {
        let name = file.trim_end_matches(".yaml");
        let children: Vec<Child> = (0..3).map(|i| shard(d, file, i, 3, &url, &place)).collect();
        let outputs: Vec<Output> = children.into_iter().map(finish).collect();
        for (i, o) in outputs.iter().enumerate() {
            assert_eq!(o.status.code(), Some(0), "shard {i}: {}", text(o));
        }
        assert!(
            text(&outputs[0]).contains("3 shards merged"),
            "{}",
            text(&outputs[0])
        );
        let merged = summary(d, "out0", name);
        let whole = infergate(d, &["run", file, "--target", &url, "--out", "whole"])
            .output()
            .unwrap();
        assert_eq!(whole.status.code(), Some(0), "{}", text(&whole));
        let (scheduled, ok) = counts(&merged);
        assert_eq!(
            (scheduled, ok),
            counts(&summary(d, "whole", name)),
            "{name}"
        );
        assert!(scheduled > 0);
        let parts: u64 = (1..3)
            .map(|i| counts(&summary(d, &format!("out{i}"), name)).0)
            .sum();
        assert!(
            parts < scheduled,
            "shards 1 and 2 sent a part of the load each"
        );
        assert!(d.join("out0/junit.xml").is_file());
    }
}

#[test]
fn three_shards_through_a_directory_send_what_one_run_sends() {
    three_shards_equal_one_run(|d| d.join("rv").display().to_string());
}

#[test]
fn three_shards_through_s3_send_what_one_run_sends() {
    let server = crate::support::s3_server::S3Server::start(&["perf"]);
    // SAFETY: the S3 tests of this binary set the same endpoint; children inherit it.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL_S3", &server.url) };
    three_shards_equal_one_run(|_| "s3://perf/shards".to_string());
    assert!(
        !server.keys("perf", "shards/ci-42/open/shard-2/").is_empty(),
        "shard 2's results are in the bucket"
    );
}

#[test]
fn a_missing_shard_is_refused() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("open.yaml"), SCENARIO).unwrap();
    let target = sim(5);
    let shards: Vec<Child> = (0..2)
        .map(|i| {
            let mut c = infergate(
                d,
                &[
                    "run",
                    "open.yaml",
                    "--target",
                    &target.base_url(),
                    "--shard",
                    &format!("{i}/3"),
                    "--rendezvous",
                    "rv",
                    "--run-id",
                    "r1",
                    "--rendezvous-timeout",
                    "2",
                    "--out",
                    &format!("out{i}"),
                ],
            );
            c.spawn().unwrap()
        })
        .collect();
    for (i, o) in shards.into_iter().map(finish).enumerate() {
        assert_eq!(o.status.code(), Some(4), "shard {i}: {}", text(&o));
        assert!(text(&o).contains("2/3"), "names the shard: {}", text(&o));
    }
    let merged = infergate(d, &["merge", "rv", "--run-id", "r1", "--out", "m"])
        .output()
        .unwrap();
    assert_ne!(merged.status.code(), Some(0), "{}", text(&merged));
}

#[test]
fn a_shard_that_falls_behind_makes_the_merged_run_invalid() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One request in flight per shard: the shard whose target takes 400 ms per request falls seconds
    // behind (its ~20 sends queue for one slot), past even the loose limits.
    std::fs::write(
        d.join("open.yaml"),
        SCENARIO.replace(
            "interval: 0.3",
            "interval: 0.3\n  num_workers: 1\n  worker_max_concurrency: 1",
        ),
    )
    .unwrap();
    let (fast, slow) = (sim(2), sim(400));
    let children: Vec<Child> = (0..3)
        .map(|i| {
            let url = if i == 2 {
                slow.base_url()
            } else {
                fast.base_url()
            };
            shard(d, "open.yaml", i, 3, &url, "rv")
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(finish).collect();
    assert_eq!(outputs[2].status.code(), Some(3), "{}", text(&outputs[2]));
    assert_eq!(outputs[0].status.code(), Some(3), "{}", text(&outputs[0]));
    assert!(
        text(&outputs[0]).contains("shard 2/3: runner"),
        "{}",
        text(&outputs[0])
    );
    // `infergate merge` reaches the same verdict from the files alone.
    let again = infergate(d, &["merge", "rv", "--run-id", "ci-42", "--out", "again"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3), "{}", text(&again));
}

/// `load.num_workers: 2` splits each stage over two load threads in one process: the same requests
/// (every count and token total) on the same schedule as one thread.
#[tokio::test(flavor = "current_thread")]
async fn two_load_threads_send_what_one_sends() {
    use infergate::run::{RunOptions, Target, run_scenario};
    use infergate::scenario::Scenario;
    let _turn = crate::support::turn().await;
    let yaml = |workers: u32| {
        format!(
            "{}load:
  type: poisson
  num_workers: {workers}
  interval: 0.2
  stages:
    - {{rate: 60, duration: 1.5}}
    - {{rate: 90, duration: 1}}
",
            head!()
        )
    };
    // A simulator of its own, not the embedded one (which keeps a core for itself).
    let target = sim(3);
    let mut results = Vec::new();
    for workers in [1, 2] {
        let s = Scenario::from_source(Path::new("w.yaml"), &yaml(workers)).unwrap();
        let options = RunOptions {
            target: Target::Url(target.base_url()),
            ..RunOptions::default()
        };
        results.push(run_scenario(&s, &options).await.unwrap());
    }
    let (one, two) = (&results[0], &results[1]);
    assert!(
        !two.warnings.iter().any(|w| w.contains("num_workers")),
        "two threads are not capped on this machine: {:?}",
        two.warnings
    );
    for (a, b) in one.stages.iter().zip(&two.stages) {
        let (a, b) = (&a.recorder, &b.recorder);
        assert_eq!(
            (
                a.scheduled,
                a.ok,
                a.accounted(),
                a.input_tokens_total,
                a.output_tokens_total
            ),
            (
                b.scheduled,
                b.ok,
                b.accounted(),
                b.input_tokens_total,
                b.output_tokens_total
            )
        );
        let (ra, rb) = (a.scheduled_rate().unwrap(), b.scheduled_rate().unwrap());
        assert!((ra - rb).abs() < 1e-6 * ra, "same schedule: {ra} vs {rb}");
    }
}

#[test]
fn a_closed_loop_with_fewer_slots_than_shards_is_refused() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("closed.yaml"), CLOSED).unwrap();
    let target = sim(5);
    let out = infergate(
        d,
        &[
            "run",
            "closed.yaml",
            "--target",
            &target.base_url(),
            "--shard",
            "0/8",
            "--rendezvous",
            "rv",
            "--run-id",
            "r2",
            "--rendezvous-timeout",
            "2",
            "--out",
            "o",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("concurrency_level 7 cannot be split over 8 shards"),
        "{}",
        text(&out)
    );
}

#[test]
fn one_process_with_a_rendezvous_leaves_results_that_merge_rebuilds() {
    // A one-pod Job: no shard count, but a rendezvous and a run id. Its results are left where an
    // Indexed Job's are, and `infergate merge` rebuilds the reports and the verdict from them.
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("open.yaml"), SCENARIO).unwrap();
    let target = sim(5);
    let url = target.base_url();
    let args = [
        "run",
        "open.yaml",
        "--target",
        &url,
        "--rendezvous",
        "rv",
        "--run-id",
        "job-1",
    ];
    let run = infergate(d, &args).args(["--out", "out"]).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        d.join("rv/job-1/open/shard-0/shard.json").is_file(),
        "{}",
        text(&run)
    );
    let merged = infergate(d, &["merge", "rv", "--run-id", "job-1", "--out", "merged"])
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    assert_eq!(
        counts(&summary(d, "merged", "open")),
        counts(&summary(d, "out", "open"))
    );
    assert!(d.join("merged/junit.xml").is_file());
}
