//! Scenario files: every YAML in the repository loads, the seeds' inference-perf configs load unchanged,
//! and bad input is refused with the file, line and key.

use std::path::{Path, PathBuf};

use infergate::harness::scenario_files;
use infergate::scenario::{Arrival, LengthDistribution, Scenario, Stage};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_scenario_in_the_repository_validates() {
    // The way `infergate run` and the harness find them (suites/kustomization.yaml is skipped).
    let mut files = scenario_files(&repo().join("suites")).unwrap();
    files.extend(scenario_files(&repo().join("tests/fixtures/valid")).unwrap());
    assert!(files.len() >= 5, "found {files:?}");
    for file in files {
        if let Err(e) = Scenario::load(&file) {
            panic!("{e}");
        }
    }
}

/// The `config.yml: |` blocks of the seed documents, de-indented: exactly what a user would paste.
fn seed_configs() -> Vec<(String, String)> {
    let seeds = repo().join("../shared/seeds");
    let Ok(entries) = std::fs::read_dir(&seeds) else {
        eprintln!(
            "note: {} not found; seed configs not checked",
            seeds.display()
        );
        return Vec::new();
    };
    let mut configs = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let Some(start) = lines.iter().position(|l| l.trim() == "config.yml: |") else {
            continue;
        };
        let indent = lines[start].len() - lines[start].trim_start().len() + 2;
        let body: Vec<String> = lines[start + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
            .map(|l| l.get(indent..).unwrap_or("").to_string())
            .collect();
        let body = body.join("\n");
        if body.trim().is_empty() {
            // Seed 004 is a scraped web page whose YAML lost its indentation; suites/saturation.yaml
            // restores it.
            eprintln!("note: {} has no indented config block", path.display());
            continue;
        }
        configs.push((path.display().to_string(), body));
    }
    configs
}

#[test]
fn the_seed_configs_load_unchanged() {
    let configs = seed_configs();
    for (path, source) in &configs {
        let scenario =
            Scenario::from_source(Path::new(path), source).unwrap_or_else(|e| panic!("{e}"));
        assert!(scenario.api.streaming, "{path}");
        // No thresholds of their own: only the default error-rate one.
        let implicit: Vec<_> = scenario.thresholds.iter().map(|t| t.implicit).collect();
        assert_eq!(implicit, [true], "{path}");
        let s3 = scenario
            .storage
            .s3
            .as_ref()
            .expect("the seeds upload to S3");
        assert_eq!(s3.bucket_name, "inference-perf-results", "{path}");
        assert!(s3.path.ends_with("/results"), "{path}");
    }
    if !configs.is_empty() {
        assert!(
            configs.len() >= 2,
            "seeds 000 and 002 carry configs: {configs:?}"
        );
    }
}

#[test]
fn the_baseline_suite_is_seed_002_plus_thresholds() {
    let s = Scenario::load(&repo().join("suites/baseline.yaml")).unwrap();
    assert_eq!(s.load.arrival, Arrival::Constant);
    assert_eq!(
        s.load.stages,
        vec![Stage::Rate {
            rate: 1.0,
            duration: std::time::Duration::from_secs(300)
        }]
    );
    assert_eq!(s.data.input, LengthDistribution::Fixed(512));
    assert_eq!(s.data.output, LengthDistribution::Fixed(128));
    assert_eq!(
        s.load.max_in_flight, 400,
        "num_workers 4 x worker_max_concurrency 100"
    );
    assert_eq!(s.server.model_name.as_deref(), Some("qwen3-8b"));
    assert!(s.server.ignore_eos);
    assert_eq!(s.thresholds.len(), 6);
}

#[test]
fn regression_and_storage_blocks_load_with_their_defaults_and_say_what_is_wrong() {
    let s = Scenario::from_source(
        Path::new("r.yaml"),
        "load:\n  stages: [{rate: 1, duration: 1}]\nregression:\n  baseline: s3://b/main\n  confidence: 90%\n  percentiles: [50, 95]\n  metrics: {ttft: 15%, error_rate: 2%, requests_per_sec: 5%}\nstorage:\n  simple_storage_service: {bucket_name: b, endpoint_url: 'http://127.0.0.1:9000', addressing_style: path}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    use infergate::scenario::regression::Allowance;
    assert_eq!(s.regression.baseline.as_deref(), Some("s3://b/main"));
    assert!((s.regression.confidence - 0.90).abs() < 1e-12);
    assert_eq!(s.regression.percentiles, vec![50.0, 95.0]);
    assert_eq!(s.regression.metrics.len(), 3);
    assert_eq!(s.regression.metrics[1].1, Allowance::Absolute(0.02));
    let s3 = s.storage.s3.unwrap();
    assert_eq!(
        s3.path, "reports-{timestamp}",
        "inference-perf's default path"
    );
    assert_eq!(s3.addressing_style, infergate::scenario::Addressing::Path);

    let e = error_of(
        "load:\n  stages: [{rate: 1, duration: 1}]\nregression:\n  metrics:\n    ttfx: 10%\n",
    );
    assert!(e.starts_with("suites/bad.yaml:5:5: "), "{e}");
    assert!(e.contains("allowed: ttft, itl"), "{e}");
    let e =
        error_of("load:\n  stages: [{rate: 1, duration: 1}]\nregression:\n  confidence: 100%\n");
    assert!(
        e.contains("regression.confidence") && e.contains("below 100%"),
        "{e}"
    );
    let e = error_of(
        "load:\n  stages: [{rate: 1, duration: 1}]\nstorage:\n  simple_storage_service:\n    bucket_name: b\n    addressing_style: dns\n",
    );
    assert!(e.contains("allowed: auto, virtual, path"), "{e}");
    let e = error_of("load:\n  stages: [{rate: 1, duration: 1}]\nregression:\n  tolerance: 5%\n");
    assert!(e.contains("unknown field `tolerance`"), "{e}");
}

#[test]
fn the_config_hash_follows_the_load_not_the_thresholds_or_the_address() {
    let hash = |text: &str| {
        Scenario::from_source(Path::new("h.yaml"), text)
            .unwrap_or_else(|e| panic!("{e}"))
            .config_hash
    };
    let base = "load:\n  stages: [{rate: 1, duration: 1}]\nserver: {model_name: m, base_url: 'http://a:8000'}\n";
    let same = "# a comment\nload:\n  stages: [{rate: 1, duration: 1}]\nserver: {model_name: m, base_url: 'http://b:9000'}\nthresholds:\n  ttft: ['p(99) < 1s']\n";
    let other_rate = "load:\n  stages: [{rate: 2, duration: 1}]\nserver: {model_name: m, base_url: 'http://a:8000'}\n";
    let other_model = "load:\n  stages: [{rate: 1, duration: 1}]\nserver: {model_name: n, base_url: 'http://a:8000'}\n";
    assert_eq!(hash(base), hash(same));
    assert_ne!(hash(base), hash(other_rate));
    assert_ne!(hash(base), hash(other_model));
}

fn error_of(source: &str) -> String {
    Scenario::from_source(Path::new("suites/bad.yaml"), source)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_misspelt_key_names_the_file_line_key_and_what_is_allowed() {
    let e = error_of(
        "api:\n  type: completion\n  streming: true\nload:\n  stages: [{rate: 1, duration: 1}]\n",
    );
    assert!(e.starts_with("suites/bad.yaml:3:3: "), "{e}");
    assert!(e.contains("unknown field `streming`"), "{e}");
    assert!(e.contains("`streaming`"), "lists what is allowed: {e}");
    let e = error_of("load:\n  type: constant\n  stages:\n    - rate: 1\n      durration: 5\n");
    assert!(e.starts_with("suites/bad.yaml:5:7: "), "{e}");
    assert!(e.contains("durration"), "{e}");
}

#[test]
fn every_misspelling_is_listed_at_once_with_a_suggestion() {
    let e = error_of(
        "api:\n  streming: true\nload:\n  typ: constant\n  stages:\n    - rate: 1\n      duration: 2\n  \
         num_worker: 3\nserver:\n  model: x\n  base_url: http://h\n",
    );
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 4, "{e}");
    assert!(
        lines[0].starts_with("suites/bad.yaml:2:3: ")
            && lines[0].ends_with("did you mean `streaming`?"),
        "{e}"
    );
    assert!(
        lines[1].starts_with("suites/bad.yaml:4:3: ") && lines[1].ends_with("did you mean `type`?"),
        "{e}"
    );
    assert!(
        lines[2].starts_with("suites/bad.yaml:8:3: ")
            && lines[2].ends_with("did you mean `num_workers`?"),
        "{e}"
    );
    assert!(
        lines[3].starts_with("suites/bad.yaml:10:3: ")
            && lines[3].contains("unknown field `model`"),
        "{e}"
    );
    let e = error_of("load:\n  type: constnat\n  stages: [{rate: 1, duration: 1}]\n");
    assert!(e.contains("did you mean `constant`?"), "{e}");
}

#[test]
fn meaning_errors_in_different_places_are_listed_together() {
    let e = error_of(
        "api: {type: embeddings}\nload:\n  stages: [{rate: -1, duration: 1}]\nthresholds:\n  ttft: [\"p(99) < 1 hour\"]\n  itl: [\"pp < 1\"]\n",
    );
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 4, "{e}");
    assert!(lines[0].contains("api.type"), "{e}");
    assert!(lines[1].contains("load.stages[0].rate"), "{e}");
    assert!(
        lines[2].contains("thresholds.ttft") && lines[3].contains("thresholds.itl"),
        "{e}"
    );
}

#[test]
fn meaning_errors_are_placed_too() {
    let e = error_of("load:\n  type: concurrent\n  stages:\n    - rate: 1\n      duration: 5\n");
    assert!(
        e.starts_with("suites/bad.yaml:4:5: load.stages[0]: "),
        "{e}"
    );
    assert!(
        e.contains("concurrent stages take num_requests and concurrency_level"),
        "{e}"
    );
    let e = error_of("load:\n  stages:\n    - {rate: 0, duration: 5}\n");
    assert!(e.contains("load.stages[0].rate"), "{e}");
    let e = error_of(
        "load:\n  stages: [{rate: 1, duration: 5}]\nthresholds:\n  ttft: [\"p(99) < 1 hour\"]\n",
    );
    assert!(
        e.starts_with("suites/bad.yaml:4:3: thresholds.ttft: "),
        "{e}"
    );
    assert!(e.contains("allowed: us, ms, s"), "{e}");
    let e = error_of(
        "load:\n  stages: [{rate: 1, duration: 5}]\nthresholds:\n  ttft{stage:3}: \"p(99) < 1s\"\n",
    );
    assert!(
        e.contains("stage 3 does not exist; this scenario has stages 0 to 0"),
        "{e}"
    );
    let e = error_of(
        "load:\n  stages: [{rate: 1, duration: 5}]\nthresholds:\n  latency: [\"p(99) < 1s\"]\n",
    );
    assert!(e.contains("unknown metric `latency`; allowed: ttft"), "{e}");
}

#[test]
fn unsupported_inference_perf_options_are_refused_by_name() {
    for (source, named) in [
        (
            "load:\n  type: concurrent\n  sweep: {type: linear}\n",
            "load.sweep",
        ),
        (
            "load:\n  sweep: {type: linear}\n  stages: [{rate: 1, duration: 1}]\n",
            "give either `stages` or `sweep`",
        ),
        (
            "data:\n  type: shared_prefix\nload:\n  stages: [{rate: 1, duration: 1}]\n",
            "needs a `shared_prefix` block",
        ),
        (
            "load:\n  type: trace_replay\n  stages: [{rate: 1, duration: 1}]\n",
            "load.type",
        ),
        (
            "data:\n  type: otel_trace_replay\nload:\n  stages: [{rate: 1, duration: 1}]\n",
            "needs an `otel_trace_replay` block",
        ),
        (
            "data:\n  type: sharegpt4video\nload:\n  stages: [{rate: 1, duration: 1}]\n",
            "data.type",
        ),
        (
            "load:\n  type: trace_session_replay\n  stages: [{rate: 1, duration: 1}]\n",
            "trace_session_replay stages take concurrent_sessions",
        ),
    ] {
        let e = error_of(source);
        assert!(e.contains(named), "{named}: {e}");
    }
    assert!(error_of("").contains("the file is empty"));
    assert!(error_of("load:\n  stages: []\n").contains("at least one stage"));
}

#[test]
fn the_api_key_never_shows_in_debug_output() {
    let s = Scenario::from_source(
        Path::new("k.yaml"),
        "server:\n  base_url: http://127.0.0.1:9\n  api_key: sk-very-secret\nload:\n  stages: [{rate: 1, duration: 1}]\n",
    )
    .unwrap();
    assert_eq!(
        s.server.api_key.as_ref().unwrap().expose(),
        "sk-very-secret"
    );
    assert!(!format!("{s:?}").contains("sk-very-secret"));
}
