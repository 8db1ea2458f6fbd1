//! Stopping a run: Ctrl-C stops sending at once, lets requests in flight finish, and leaves partial
//! reports and a JUnit error saying the run is incomplete.

use std::process::Command;

use crate::cli::write;

#[cfg(unix)]
#[test]
fn ctrl_c_stops_gracefully_with_partial_reports() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "long.yaml",
        "api: {streaming: true}\nload:\n  stages: [{rate: 20, duration: 60}, {rate: 20, duration: 60}]\n\
         data:\n  output_distribution: {mean: 8, std_dev: 0, min: 8, max: 8}\n",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(["run", "long.yaml", "--full", "--out", "r"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal only once the run listens for it (a busy machine can take seconds to start it), then
    // give it a second of load so there is something to report.
    wait_until_it_catches_sigint(child.id());
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "stopped within the grace"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("interrupted by Ctrl-C"), "{stderr}");
    let junit = std::fs::read_to_string(dir.path().join("r/junit.xml")).unwrap();
    assert!(
        junit.contains("incomplete: interrupted by Ctrl-C"),
        "{junit}"
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("r/long/summary_lifecycle_metrics.json")).unwrap(),
    )
    .unwrap();
    let scheduled = summary["load_summary"]["count"].as_u64().unwrap();
    let ok = summary["successes"]["count"].as_u64().unwrap();
    let failed = summary["failures"]["count"].as_u64().unwrap();
    let cancelled = summary["cancelled"].as_u64().unwrap();
    assert!(ok > 0 && cancelled > 0, "{summary}");
    assert_eq!(scheduled, ok + failed + cancelled, "{summary}");
    assert_eq!(
        scheduled, 1200,
        "the first stage's whole schedule; the second never started"
    );
}

/// Waits (at most 60 s) until process `pid` catches SIGINT: bit 2 of `SigCgt` in `/proc/PID/status`;
/// where there is no `/proc`, a fixed 3 s.
#[cfg(unix)]
fn wait_until_it_catches_sigint(pid: u32) {
    let status = format!("/proc/{pid}/status");
    if std::fs::metadata(&status).is_err() {
        std::thread::sleep(std::time::Duration::from_secs(3));
        return;
    }
    let catches = || {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
    };
    let started = std::time::Instant::now();
    while !catches() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the run never listened for Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
