//! The files a run leaves for people: plots (SVG and PNG), the self-contained HTML report, and the
//! `report` and `compare` commands that work from a saved run. Checked for being produced and
//! well-formed, not for pixels.

use std::path::Path;
use std::process::Command;

fn infergate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(args)
        .output()
        .unwrap()
}

fn font_available() -> bool {
    std::env::var_os("INFERGATE_FONT").is_some() || Path::new("/usr/share/fonts").is_dir()
}

fn check_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains("<svg") && text.trim_end().ends_with("</svg>"),
        "{}",
        path.display()
    );
    assert!(text.contains("<text"), "{} has no labels", path.display());
}

fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(width >= 800 && height >= 300, "{width}x{height}");
}

#[test]
fn a_saturation_run_leaves_plots_with_the_knee_and_a_self_contained_report() {
    let _turn = crate::support::turn_blocking();
    let out = tempfile::tempdir().unwrap();
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/suites/saturation.yaml");
    let run = infergate(&["run", suite, "--sim", "--out", out.path().to_str().unwrap()]);
    // Reports are written whatever the verdict; only a run that could not happen (2, 4) leaves none.
    assert!(
        matches!(run.status.code(), Some(0 | 1 | 3)),
        "{:?}\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    if run.status.code() != Some(0) {
        eprintln!(
            "note: not a pass:\n{}",
            String::from_utf8_lossy(&run.stdout)
        );
    }
    let dir = out.path().join("saturation");
    assert!(dir.join("timeline.json").is_file());
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("saturation") && html.contains("Verdicts") && html.contains("Knee:"));
    for fetch in ["<script src", "<link", "<img src=\"http", "url(http"] {
        assert!(
            !html.contains(fetch),
            "the report fetches something: {fetch}"
        );
    }
    if !font_available() {
        eprintln!("note: no fonts on this machine; plots are skipped");
        return;
    }
    for name in [
        "latency_vs_load",
        "throughput_vs_latency",
        "distributions",
        "timeline",
    ] {
        check_svg(&dir.join(format!("{name}.svg")));
        check_png(&dir.join(format!("{name}.png")));
    }
    let latency = std::fs::read_to_string(dir.join("latency_vs_load.svg")).unwrap();
    assert!(
        latency.contains("knee 20") && latency.contains("recommended 15"),
        "the knee is marked"
    );
    assert_eq!(html.matches("<svg").count(), 4, "every plot is inline");

    // `report` redraws from the saved files alone.
    std::fs::remove_file(dir.join("report.html")).unwrap();
    std::fs::remove_file(dir.join("timeline.png")).unwrap();
    let report = infergate(&["report", out.path().to_str().unwrap()]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(dir.join("report.html").is_file());
    check_png(&dir.join("timeline.png"));

    // `compare` puts two runs side by side.
    let d = dir.to_str().unwrap();
    let compare = infergate(&["compare", d, d]);
    let table = String::from_utf8_lossy(&compare.stdout);
    assert!(compare.status.success());
    assert!(
        table.contains("| TTFT p99 |") && table.contains("+0.0 %"),
        "{table}"
    );
    let missing = infergate(&["compare", d, "/no/such/run"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("verdicts.json"));
}
