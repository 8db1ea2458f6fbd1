//! Scenario files: every YAML in the repository loads, the seeds' inference-perf configs load unchanged,
//! and bad input is refused with the file, line and key.

use std::path::{Path, PathBuf};

use infergate::scenario::{Arrival, LengthDistribution, Scenario, Stage};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() && !name.starts_with('.') && name != "target" {
            yaml_files(&path, out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(path);
        }
    }
}

#[test]
fn every_scenario_in_the_repository_validates() {
    let mut files = Vec::new();
    yaml_files(&repo().join("suites"), &mut files);
    yaml_files(&repo().join("tests/fixtures/valid"), &mut files);
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
        assert!(scenario.thresholds.is_empty());
        assert!(
            !scenario.warnings.is_empty(),
            "S3 and tokenizer are accepted with a warning"
        );
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
            "data:\n  type: shareGPT\nload:\n  stages: [{rate: 1, duration: 1}]\n",
            "data.type",
        ),
        (
            "load:\n  type: trace_replay\n  stages: [{rate: 1, duration: 1}]\n",
            "load.type",
        ),
        (
            "circuit_breakers: []\nload:\n  stages: [{rate: 1, duration: 1}]\n",
            "circuit_breakers",
        ),
        (
            "storage:\n  google_cloud_storage: {bucket_name: b}\nload:\n  stages: [{rate: 1, duration: 1}]\n",
            "storage.google_cloud_storage",
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
