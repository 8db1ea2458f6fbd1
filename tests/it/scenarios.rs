//! Scenario files: every YAML in the repository loads, the seeds' inference-perf configs load unchanged,
//! and bad input is refused with the file, line and key.

use std::path::{Path, PathBuf};

use infergate::harness::scenario_files;
use infergate::scenario::{Arrival, DataSource, LengthDistribution, Scenario, Stage};

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
        assert!(scenario.thresholds.is_empty());
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

#[test]
fn inference_perfs_other_length_distributions_load_with_its_meanings() {
    let source = "data:
  type: random
  input_distribution: {type: lognormal, mean: 300, std_dev: 150, min: 20, max: 2000}
  output_distribution: {type: skew_normal, mean: 200, std_dev: 50, skew: 2.5, min: 10, max: 600}
load:
  stages: [{rate: 1, duration: 1}]
";
    let s = Scenario::from_source(Path::new("suites/x.yaml"), source).unwrap();
    assert_eq!(
        s.data.input,
        LengthDistribution::LogNormal {
            mean: 300.0,
            std_dev: 150.0,
            min: 20,
            max: 2000
        }
    );
    assert_eq!(
        s.data.output,
        LengthDistribution::SkewNormal {
            mean: 200.0,
            std_dev: 50.0,
            skew: 2.5,
            min: 10,
            max: 600
        }
    );
    let poisson = source.replace(
        "{type: skew_normal, mean: 200, std_dev: 50, skew: 2.5, min: 10, max: 600}",
        "{type: poisson, mean: 0, min: 1, max: 64}",
    );
    let s = Scenario::from_source(Path::new("suites/x.yaml"), &poisson).unwrap();
    assert_eq!(
        s.data.output,
        LengthDistribution::Poisson {
            mean: 1.0,
            min: 1,
            max: 64
        },
        "inference-perf's rate 1 for a mean that is not positive"
    );
    let e = error_of(&source.replace("type: lognormal, mean: 300", "type: lognormal, mean: 0"));
    assert!(e.starts_with("suites/bad.yaml:3:"), "{e}");
    assert!(
        e.contains("data.input_distribution.mean: a lognormal distribution needs mean > 0"),
        "{e}"
    );
}

#[test]
fn shared_prefix_takes_inference_perfs_aliases_seed_and_length_distributions() {
    // inference-perf's examples/vllm/config-shared-prefix-distributions.yml, data section.
    let source = "data:
  type: shared_prefix
  shared_prefix:
    seed: 42
    num_unique_system_prompts: 10
    num_users_per_system_prompt: 10
    system_prompt_len: 100
    question_len: {type: skew_normal, mean: 200, std_dev: 80, skew: 2.5, min: 10, max: 2000}
    output_len: {type: lognormal, mean: 150, std_dev: 60, min: 1, max: 4096}
load:
  stages: [{rate: 1, duration: 1}]
";
    let s = Scenario::from_source(Path::new("suites/x.yaml"), source).unwrap();
    let DataSource::SharedPrefix(p) = s.data.source else {
        panic!("{:?}", s.data.source)
    };
    assert_eq!(
        (p.num_groups, p.num_prompts_per_group, p.seed),
        (10, 10, Some(42))
    );
    assert_eq!(p.system_prompt_len, LengthDistribution::Fixed(100));
    assert_eq!(
        p.question_len,
        LengthDistribution::SkewNormal {
            mean: 200.0,
            std_dev: 80.0,
            skew: 2.5,
            min: 10,
            max: 2000
        }
    );
    assert_eq!(
        p.output_len,
        LengthDistribution::LogNormal {
            mean: 150.0,
            std_dev: 60.0,
            min: 1,
            max: 4096
        }
    );

    // The legacy form: a number with `output_distribution` beside it takes the distribution.
    let legacy = source.replace(
        "output_len: {type: lognormal, mean: 150, std_dev: 60, min: 1, max: 4096}",
        "output_len: 50\n    output_distribution: {type: poisson, mean: 30, min: 1, max: 99}",
    );
    let s = Scenario::from_source(Path::new("suites/x.yaml"), &legacy).unwrap();
    let DataSource::SharedPrefix(p) = s.data.source else {
        panic!()
    };
    assert_eq!(
        p.output_len,
        LengthDistribution::Poisson {
            mean: 30.0,
            min: 1,
            max: 99
        }
    );

    // Both forms at once, a typo inside a distribution, and what is not supported: by name.
    let both = source.replace(
        "    output_len: {type: lognormal",
        "    output_distribution: {mean: 9}\n    output_len: {type: lognormal",
    );
    let e = error_of(&both);
    assert!(e.contains("data.shared_prefix.output_len: give a distribution here or in `output_distribution`, not both"), "{e}");
    let e = error_of(&source.replace("skew: 2.5", "skw: 2.5"));
    assert!(
        e.starts_with("suites/bad.yaml:8:5: data.shared_prefix.question_len: "),
        "{e}"
    );
    assert!(e.contains("unknown field `skw`"), "{e}");
    let e = error_of(&source.replace("seed: 42", "seed: 42\n    enable_multi_turn_chat: true"));
    assert!(
        e.contains("data.shared_prefix.enable_multi_turn_chat: multi-turn chat"),
        "{e}"
    );
}

#[test]
fn response_format_is_sent_as_inference_perf_sends_it_and_bad_ones_are_named() {
    let with = |format: &str| {
        format!(
            "api:\n  type: chat\n  response_format: {format}\nload:\n  stages: [{{rate: 1, duration: 1}}]\n"
        )
    };
    let s =
        Scenario::from_source(Path::new("suites/x.yaml"), &with("{type: json_object}")).unwrap();
    assert_eq!(
        s.api.response_format,
        Some(serde_json::json!({"type": "json_object"}))
    );
    let s = Scenario::from_source(
        Path::new("suites/x.yaml"),
        &with("{json_schema: {type: object}}"),
    )
    .unwrap();
    assert_eq!(
        s.api.response_format,
        Some(
            serde_json::json!({"type": "json_schema", "json_schema": {"name": "structured_output", "schema": {"type": "object"}}})
        ),
        "inference-perf's defaults: json_schema, named structured_output"
    );
    let e = error_of(&with("{type: regex}"));
    assert!(
        e.contains(
            "api.response_format.type: unknown type `regex`; allowed: json_schema, json_object"
        ),
        "{e}"
    );
    let e = error_of(&with("{type: json_schema}"));
    assert!(e.contains("needs `json_schema`"), "{e}");
    let e = error_of(&with("{type: json_object, nmae: x}"));
    assert!(e.contains("unknown field `nmae`"), "{e}");
}
