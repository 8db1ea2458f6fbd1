//! `infergate bench` at a gentle rate against its own small fixed-timing simulator, as the tests of
//! the bench's rows run it: 40 req/s for 1 s of 8-token streams, TTFT 10 ms, ITL 1 ms, unpinned
//! (tests share the cores), rows written as JSON.

use std::process::Command;

/// Runs `infergate bench` with those settings plus `extra`; asserts it succeeded and returns its
/// standard output and the first row of its JSON.
pub fn gentle(extra: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("rows.json");
    let out = Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args([
            "bench",
            "--rates",
            "40",
            "--duration",
            "1",
            "--output-tokens",
            "8",
        ])
        .args(["--ttft-ms", "10", "--itl-ms", "1", "--no-pin"])
        .args(extra)
        .arg("--json")
        .arg(&json)
        .current_dir(dir.path())
        .env_remove("INFERGATE_TARGET")
        .env_remove("INFERGATE_OUT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (stdout, rows[0].clone())
}
