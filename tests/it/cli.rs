//! The `infergate` binary: exit codes, error messages and the files a run leaves behind.

use std::path::Path;
use std::process::{Command, Output};

fn infergate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(args)
        .current_dir(dir)
        .env_remove("INFERGATE_TARGET")
        .env_remove("INFERGATE_OUT")
        .output()
        .unwrap()
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// `QUICK` with runner-validity limits that a busy machine does not break: for the runs whose exit
/// code is about the target, not about the runner.
fn quick_loose() -> String {
    format!("{QUICK}{}", crate::support::LOOSE_VALIDITY)
}

const QUICK: &str = "api: {streaming: true}
data:
  input_distribution: {mean: 16, std_dev: 0, min: 16, max: 16}
  output_distribution: {mean: 4, std_dev: 0, min: 4, max: 4}
load:
  stages: [{rate: 10, duration: 0.5}]
";

#[test]
fn validate_lists_every_bad_file_with_line_and_key() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.yaml", QUICK);
    write(
        dir.path(),
        "bad.yml",
        "load:\n  stages: [{rate: 1, duration: 1}]\n  num_worker: 3\n",
    );
    write(
        dir.path(),
        "worse.yaml",
        "thresholds:\n  ttft: [\"p(99) <\"]\nload:\n  stages: [{rate: 1, duration: 1}]\n",
    );
    let out = infergate(&["validate", "."], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.contains("ok: ./good.yaml"), "{stdout}");
    assert!(
        stderr.contains("./bad.yml:3:3: load: unknown field `num_worker`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`num_workers`"),
        "suggests what is allowed: {stderr}"
    );
    assert!(
        stderr.contains("./worse.yaml:2:3: thresholds.ttft:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 of 3 scenario files have errors"),
        "{stderr}"
    );
}

#[test]
fn run_exit_codes_tell_pass_failure_invalid_and_error_apart() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pass.yaml",
        &format!(
            "{}thresholds:\n  error_rate: [\"rate == 0\"]\n",
            quick_loose()
        ),
    );
    write(
        dir.path(),
        "fail.yaml",
        &format!("{}thresholds:\n  ttft: [\"p(99) < 1us\"]\n", quick_loose()),
    );
    write(
        dir.path(),
        "invalid.yaml",
        &format!("{QUICK}validity:\n  max_schedule_delay_p99: 0us\n"),
    );

    let out = infergate(&["run", "pass.yaml", "--out", "reports"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("result: PASSED"), "{stdout}");
    let header = stdout
        .lines()
        .find(|l| l.starts_with("metric"))
        .unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["metric", "avg", "min", "max", "p99", "p90", "p75"]
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("ttft ")),
        "a genai-perf style row per metric: {stdout}"
    );
    for file in [
        "summary_lifecycle_metrics.json",
        "stage_0_lifecycle_metrics.json",
        "verdicts.json",
    ] {
        let path = dir.path().join("reports/pass").join(file);
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(value.is_object(), "{}", path.display());
    }
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("reports/pass/summary_lifecycle_metrics.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["load_summary"]["count"], 5);
    assert_eq!(summary["successes"]["count"], 5);
    assert!(
        summary["successes"]["latency"]["time_to_first_token"]["p99"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let junit = std::fs::read_to_string(dir.path().join("reports/junit.xml")).unwrap();
    assert!(junit.contains("error_rate: rate == 0"), "{junit}");

    assert_eq!(
        infergate(&["run", "fail.yaml", "--out", "r"], dir.path())
            .status
            .code(),
        Some(1)
    );
    // Invalid against the simulator every time: run twice more, each invalid run's reports kept.
    let invalid = infergate(&["run", "invalid.yaml", "--out", "r"], dir.path());
    assert_eq!(invalid.status.code(), Some(3));
    let said = String::from_utf8_lossy(&invalid.stderr);
    assert!(said.contains("running again (2 of 2"), "{said}");
    for k in 1..=2 {
        let kept = dir
            .path()
            .join(format!("r/invalid/invalid-{k}/verdicts.json"));
        assert!(kept.is_file(), "{}", kept.display());
    }
    let out = infergate(
        &[
            "run",
            "pass.yaml",
            "--target",
            "http://127.0.0.1:9",
            "--out",
            "r",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not usable"));
    assert_eq!(
        infergate(&["run", "missing.yaml", "--out", "r"], dir.path())
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn help_explains_commands_and_exit_codes() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let out = infergate(&["--help"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["run", "validate", "sim", "Exit codes"] {
        assert!(text.contains(word), "{text}");
    }
    let out = infergate(&["run", "--help"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Examples:"));
}

/// Every file under `dir`, read as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push_str(&all_text(&path));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn api_keys_come_from_the_environment_and_never_reach_output() {
    let _turn = crate::support::turn_blocking();
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    const KEY: &str = "sk-leak-check-42";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"data": [{"id": "m"}]})),
            )
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(ResponseTemplate::new(401).set_body_string(format!("invalid key {KEY}")))
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "from-file.yaml",
        &format!("{}server:\n  api_key: \"${{MY_KEY}}\"\n", quick_loose()),
    );
    write(dir.path(), "from-env.yaml", &quick_loose());
    for (file, var) in [
        ("from-file.yaml", "MY_KEY"),
        ("from-env.yaml", "INFERGATE_API_KEY"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_infergate"))
            .args(["run", file, "--target", &server.uri(), "--out", "r"])
            .current_dir(dir.path())
            .env_remove("INFERGATE_API_KEY")
            .env(var, KEY)
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "every request is refused (401): the default error_rate threshold fails the run: {printed}"
        );
        assert!(
            printed.contains("error_rate: rate < 1% (default)"),
            "{printed}"
        );
        assert!(!printed.contains(KEY), "{printed}");
    }
    let written = all_text(&dir.path().join("r"));
    assert!(
        written.contains("http_401") && written.contains("invalid key ***"),
        "{written}"
    );
    assert!(!written.contains(KEY));
    let missing = infergate(&["validate", "from-file.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("server.api_key: environment variable MY_KEY is not set"),
        "{stderr}"
    );
}

/// `infergate bench` starts its own fixed-timing simulator, measures against the simulator's own truth
/// and reports exact usage; at a gentle rate the client's TTFT is within a loose bound of the truth.
/// The bounds are about direction, not speed (that is what `bench` itself measures): the truth never
/// comes before the configured 10 ms, the client never sees a first token before the server sent it,
/// and on a busy machine either can be late by a scheduler's slice or several.
#[test]
fn bench_reports_client_timings_next_to_the_simulators_truth() {
    let _turn = crate::support::turn_blocking();
    let (stdout, row) = crate::support::bench::gentle(&[]);
    assert!(stdout.contains("| 40 |"), "{stdout}");
    assert_eq!(row["sent"], 40, "{row}");
    assert_eq!(row["not_ok"], 0, "{row}");
    assert_eq!(row["usage_exact"], true, "{row}");
    let truth_ttft = row["truth"]["ttft"]["p50_us"].as_u64().unwrap();
    let client_ttft = row["ttft_client_p50_us"].as_u64().unwrap();
    assert_eq!(row["truth"]["ttft"]["count"], 40, "{row}");
    assert!((10_000..500_000).contains(&truth_ttft), "{row}");
    // The client measures from before the request is written, so never less than the server.
    assert!(
        client_ttft + 1_000 >= truth_ttft && client_ttft < truth_ttft + 500_000,
        "{row}"
    );
}

/// Every report says where it came from, and on GitHub Actions the verdicts land in the job summary.
#[test]
fn reports_carry_run_metadata_and_github_gets_a_step_summary() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/suites/smoke.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(["run", suite, "--sim", "--out"])
        .arg(dir.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_SHA", "0123abcd")
        .env("GITHUB_REF_NAME", "my-branch")
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1 | 3)), "{out:?}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### infergate: `smoke`"), "{md}");
    assert!(
        md.contains("| check | observed | verdict |") && md.contains("`error_rate"),
        "{md}"
    );
    let verdicts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("smoke/verdicts.json")).unwrap())
            .unwrap();
    let env = &verdicts["environment"];
    assert_eq!(env["git_commit"], "0123abcd");
    assert_eq!(env["git_branch"], "my-branch");
    assert!(env["host"].is_string() && env["os"].is_string(), "{env}");
    let hash = verdicts["config_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 16, "{hash}");
    assert_eq!(
        hash,
        infergate::scenario::Scenario::load(suite.as_ref())
            .unwrap()
            .config_hash,
        "the hash is the scenario's load-relevant config"
    );
    assert_eq!(
        verdicts["server_version"],
        concat!("infergate-sim ", env!("CARGO_PKG_VERSION")),
        "the engine's own version, from GET /version"
    );
    assert!(verdicts["ended_at_unix"].as_f64() >= verdicts["started_at_unix"].as_f64());
}

#[test]
fn yes_no_variables_take_1_yes_and_on_and_the_model_can_be_overridden() {
    // INFERGATE_SIM=1 runs a file that names an unreachable server against the simulator instead,
    // as the image's documented `docker run -e INFERGATE_SIM=1` does; INFERGATE_MODEL is the model
    // the run requests (the simulator serves whatever it is asked to).
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let file = format!(
        "{}server: {{base_url: 'http://127.0.0.1:9', model_name: from-file}}\n",
        quick_loose()
    );
    write(dir.path(), "s.yaml", &file);
    for yes in ["1", "yes", "ON"] {
        let out = Command::new(env!("CARGO_BIN_EXE_infergate"))
            .args(["run", "s.yaml", "--out", "out"])
            .current_dir(dir.path())
            .env_remove("INFERGATE_TARGET")
            .env("INFERGATE_SIM", yes)
            .env("INFERGATE_MODEL", "from-settings")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "INFERGATE_SIM={yes}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("embedded simulator"), "{text}");
        assert!(text.contains("model from-settings"), "{text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(["run", "s.yaml"])
        .current_dir(dir.path())
        .env("INFERGATE_SIM", "maybe")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad yes/no value is bad input"
    );
}
