//! The Helm chart (`charts/infergate`), rendered by Helm's own engine (`scripts/helm.py`, through
//! helm-python-sdk) as `helm install` would: each seed's `helm install` line
//! (`charts/infergate/ci/seed-installs.sh`, pasted from the seeds) gives a Job that runs its scenario,
//! and the scenario it mounts loads with `Scenario::load` and carries every override the line asked
//! for; and the chart and the kustomize overlays run the same Job, settings and scenario file. Skipped,
//! with a note, where python3 with helm-python-sdk (or, for the comparison, kubectl) is missing.
//! (`.ci/run` also lints the chart and validates each render with `kubernetes-validate --strict`.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_yaml::Value;

use crate::support::kustomize::{
    OVERLAYS, config_map, container, data, documents, job, of_kind, overlay, render, text,
};
use infergate::scenario::{Arrival, LengthDistribution, Scenario, Stage};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn seeds_dir() -> PathBuf {
    root().join("charts/infergate/ci")
}

/// The documents `scripts/helm.py ARGS` prints (run from the seeds' folder, where their values
/// files are), or its error; `None`, with a note, without python3 or helm-python-sdk.
fn helm(args: &[&str]) -> Option<Result<Vec<Value>, String>> {
    let _turn = crate::support::turn_blocking(); // a second of a busy core
    let out = match Command::new("python3")
        .arg(root().join("scripts/helm.py"))
        .args(args)
        .current_dir(seeds_dir())
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: python3 not found ({e}); the Helm chart was not rendered");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.code() == Some(2) && stderr.contains("helm-python-sdk not found") {
        eprintln!("note: {}; the Helm chart was not rendered", stderr.trim());
        return None;
    }
    if !out.status.success() {
        return Some(Err(stderr));
    }
    Some(Ok(documents(&String::from_utf8(out.stdout).unwrap())))
}

/// Each `helm install` line of the seeds file, as its words after `helm`.
fn seed_installs() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(seeds_dir().join("seed-installs.sh")).unwrap();
    text.replace("\\\n", " ")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let words: Vec<String> = l.split_whitespace().map(String::from).collect();
            assert_eq!(words[..2], ["helm", "install"], "{l}");
            words[1..].to_vec()
        })
        .collect()
}

/// The scenario file a rendered release mounts, loaded as infergate loads it.
fn mounted_scenario(docs: &[Value], dir: &Path) -> (String, Scenario) {
    let job = job(docs);
    let args: Vec<&str> = container(job)["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(args[0], "run");
    let file = args[1]
        .strip_prefix("/scenarios/")
        .expect("under /scenarios");
    let (_, body) = data(named(
        docs,
        &format!("{}-scenarios", text(&job["metadata"]["name"])),
    ))
    .into_iter()
    .find(|(k, _)| k == file)
    .unwrap_or_else(|| panic!("{file} in the scenarios ConfigMap"));
    let path = dir.join(file);
    std::fs::write(&path, &body).unwrap();
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{file}: {e}\n{body}"));
    (body, scenario)
}

/// The ConfigMap of this name (the chart's names carry no hash, unlike kustomize's).
fn named<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    of_kind(docs, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("ConfigMap {name}"))
}

/// One stage's `(rate, seconds)`.
fn rates(s: &Scenario) -> Vec<(f64, u64)> {
    s.load
        .stages
        .iter()
        .map(|stage| match stage {
            Stage::Rate { rate, duration } => (*rate, duration.as_secs()),
            other => panic!("not a rate stage: {other:?}"),
        })
        .collect()
}

#[test]
fn every_seed_helm_install_runs_its_scenario_with_every_override() {
    let dir = tempfile::tempdir().unwrap();
    let installs = seed_installs();
    assert_eq!(installs.len(), 7, "the seeds' seven helm install lines");
    for words in &installs {
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let Some(rendered) = helm(&args) else {
            return;
        };
        let docs = rendered.unwrap_or_else(|e| panic!("{}: {e}", words.join(" ")));
        let job = job(&docs);
        let line = words.join(" ");
        assert_eq!(job["metadata"]["namespace"], "benchmarking", "{line}");
        let (body, s) = mounted_scenario(&docs, dir.path());
        let name = text(&job["spec"]["template"]["metadata"]["labels"]["benchmark.scenario"]);
        assert_eq!(
            container(job)["args"][1],
            format!("/scenarios/{name}.yaml"),
            "{line}: `kubectl logs -l benchmark.scenario={name}` follows the scenario it runs"
        );
        let suite = Scenario::load(&root().join(format!("suites/{name}.yaml"))).unwrap();
        let settings = data(named(
            &docs,
            &format!("{}-settings", text(&job["metadata"]["name"])),
        ));
        let setting = |k: &str| {
            settings
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let base_url = s.server.base_url.clone().unwrap();
        assert_eq!(
            setting("INFERGATE_TARGET"),
            Some(base_url.clone()),
            "{line}"
        );
        let cpu = &container(job)["resources"]["requests"]["cpu"];
        let cpu = cpu
            .as_str()
            .map_or_else(|| cpu.as_u64().unwrap().to_string(), String::from);
        match (
            name,
            args.iter()
                .any(|a| a.contains("values") || a.ends_with(".yaml")),
        ) {
            ("production", false) => {
                assert_eq!(base_url, "http://qwen3-vllm.default:8000");
                assert_eq!(s.server.model_name.as_deref(), Some("qwen3-8b"));
                assert_eq!(s.tokenizer.as_ref().unwrap().name, "Qwen/Qwen3-8B");
                assert_eq!(rates(&s), [(15.0, 600)], "the suite's own load");
            }
            ("production", true) => {
                // custom-production.yaml: longer, more varied prompts; Poisson at 20 QPS for 15 min.
                assert_eq!(base_url, "http://your-model.your-namespace:8000");
                assert_eq!(
                    s.data.input,
                    LengthDistribution::Normal {
                        mean: 2048.0,
                        std_dev: 1024.0,
                        min: 256,
                        max: 8192
                    },
                    "{body}"
                );
                assert_eq!(s.data.output, suite.data.output, "output untouched");
                assert_eq!(s.load.arrival, Arrival::Poisson);
                assert_eq!(rates(&s), [(20.0, 900)]);
                assert_eq!(
                    s.thresholds.len(),
                    suite.thresholds.len(),
                    "the suite's gate kept"
                );
            }
            ("baseline", false) if base_url.contains("your-model") => {
                // --set ...stages[0].duration=600 keeps the stage's rate; --set ...cpu=4.
                assert_eq!(rates(&s), [(1.0, 600)], "{body}");
                assert_eq!(cpu, "4", "{line}");
                assert_eq!(s.server.model_name.as_deref(), Some("qwen3-8b"));
            }
            ("baseline", false) => {
                assert_eq!(rates(&s), [(1.0, 300)]);
                assert_eq!(cpu, "2");
            }
            ("baseline", true) => {
                // my-values.yaml: another model, 10 minutes.
                assert_eq!(s.server.model_name.as_deref(), Some("your-model-name"));
                assert_eq!(
                    setting("INFERGATE_MODEL").as_deref(),
                    Some("your-model-name")
                );
                assert_eq!(rates(&s), [(1.0, 600)]);
                assert_eq!(s.data.input, LengthDistribution::Fixed(512));
            }
            ("saturation", false) => {
                assert_eq!(
                    rates(&s),
                    [(5.0, 180), (10.0, 180), (20.0, 180), (40.0, 180)]
                );
            }
            ("saturation", true) => {
                assert_eq!(
                    rates(&s),
                    [(10.0, 180), (25.0, 180), (50.0, 180), (75.0, 180)]
                );
                assert_eq!(s.data.input, suite.data.input);
            }
            other => panic!("unexpected seed line {other:?}: {line}"),
        }
    }
}

#[test]
fn a_scenario_the_chart_does_not_have_is_an_error_listing_those_it_has() {
    let Some(rendered) = helm(&[
        "template",
        "x",
        "charts/infergate",
        "--set",
        "benchmark.scenario=prod",
    ]) else {
        return;
    };
    let e = rendered.unwrap_err();
    assert!(
        e.contains("benchmark.scenario=prod: no such scenario")
            && e.contains("baseline, capacity, concurrency-sweep, production, saturation"),
        "{e}"
    );
}

#[test]
fn the_chart_takes_thresholds_names_and_secrets_as_given() {
    let Some(rendered) = helm(&[
        "template",
        "gate",
        "charts/infergate",
        "--set",
        "benchmark.scenario=smoke",
        "--set-json",
        r#"benchmark.thresholds={"ttft": ["p(99) < 2s"], "itl": []}"#,
        "--set-json",
        r#"benchmark.scenarios.smoke={"api": {"headers": {"X-Team-Id": "perf"}}, "load": {"requestTimeout": "45"}}"#,
        "--set",
        "benchmark.secrets.create=true,benchmark.secrets.apiKey=sk-test-123",
        "--set",
        "benchmark.regression.history=5,benchmark.regression.baseline=s3://perf/base",
    ]) else {
        return;
    };
    let docs = rendered.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (body, s) = mounted_scenario(&docs, dir.path());
    let names: Vec<&str> = s.thresholds.iter().map(|t| t.key.as_str()).collect();
    assert!(
        names.contains(&"ttft") && !names.contains(&"itl"),
        "{names:?}\n{body}"
    );
    assert_eq!(
        s.api.headers,
        [("X-Team-Id".to_string(), "perf".to_string())]
    );
    assert_eq!(
        s.load.request_timeout,
        Some(Duration::from_secs(45)),
        "requestTimeout, as text"
    );
    assert_eq!(s.regression.history, 5, "the scenario's regression.history");
    let settings = data(named(&docs, "gate-infergate-settings"));
    assert!(settings.contains(&("INFERGATE_BASELINE".into(), "s3://perf/base".into())));
    // The key is in the Secret only, and the pods read it from there.
    let rendered_text = serde_yaml::to_string(&docs).unwrap();
    assert_eq!(rendered_text.matches("c2stdGVzdC0xMjM=").count(), 1);
    assert!(!rendered_text.contains("sk-test-123"));
    let secret = of_kind(&docs, "Secret")[0];
    let env = container(job(&docs))["env"].as_sequence().unwrap();
    let key = env
        .iter()
        .find(|v| v["name"] == "INFERGATE_API_KEY")
        .unwrap();
    assert_eq!(
        key["valueFrom"]["secretKeyRef"]["name"],
        secret["metadata"]["name"]
    );
}

/// A Job's spec without what the chart names differently (per release) from the overlays.
fn shape(job: &Value) -> Value {
    let mut spec = job["spec"].clone();
    let template = spec["template"].as_mapping_mut().unwrap();
    template.remove("metadata");
    let pod = template.get_mut("spec").unwrap().as_mapping_mut().unwrap();
    pod.remove("serviceAccountName");
    for volume in pod["volumes"].as_sequence_mut().unwrap() {
        if let Some(c) = volume.get_mut("configMap") {
            c.as_mapping_mut().unwrap().remove("name");
        }
    }
    if let Some(anti) = pod
        .get_mut("affinity")
        .and_then(|a| a.get_mut("podAntiAffinity"))
    {
        let term =
            &mut anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
        term.as_mapping_mut().unwrap().remove("labelSelector");
    }
    let c = &mut pod["containers"][0];
    let c = c.as_mapping_mut().unwrap();
    c.remove("envFrom");
    c.remove("imagePullPolicy");
    for var in c["env"].as_sequence_mut().unwrap() {
        if let Some(secret) = var
            .get_mut("valueFrom")
            .and_then(|v| v.get_mut("secretKeyRef"))
        {
            secret.as_mapping_mut().unwrap().remove("name");
        }
    }
    numbers_as_text(&mut spec);
    spec
}

/// Quantities (`cpu: "2"` and `cpu: 2`) and counts compared as text.
fn numbers_as_text(v: &mut Value) {
    match v {
        Value::Number(n) => *v = Value::String(n.to_string()),
        Value::Sequence(items) => items.iter_mut().for_each(numbers_as_text),
        Value::Mapping(m) => m.values_mut().for_each(numbers_as_text),
        _ => {}
    }
}

/// The scenario file's YAML as data, whole numbers and fractions alike (`1.0` and `1`).
fn as_data(text: &str) -> Value {
    let mut v: Value = serde_yaml::from_str(text).unwrap();
    numbers_as_text_f64(&mut v);
    v
}

fn numbers_as_text_f64(v: &mut Value) {
    match v {
        Value::Number(n) => *v = Value::String(n.as_f64().unwrap().to_string()),
        Value::Sequence(items) => items.iter_mut().for_each(numbers_as_text_f64),
        Value::Mapping(m) => m.values_mut().for_each(numbers_as_text_f64),
        _ => {}
    }
}

#[test]
fn the_chart_and_each_overlay_run_the_same_job_settings_and_scenario() {
    for name in OVERLAYS {
        let Some(kustomized) = render(&overlay(name)) else {
            return;
        };
        let (scenario, mut args) = match name {
            "sharded" => ("production", vec!["--set", "benchmark.shards=4"]),
            other => (other, vec![]),
        };
        let set = format!("benchmark.scenario={scenario}");
        args.extend(["--set", &set]);
        let mut command = vec![
            "template",
            "release",
            "charts/infergate",
            "-n",
            "benchmarking",
        ];
        command.extend(args);
        let Some(charted) = helm(&command) else {
            return;
        };
        let charted = charted.unwrap();
        let (k, c) = (job(&kustomized), job(&charted));
        assert_eq!(shape(k), shape(c), "{name}: the Job's spec");
        assert_eq!(
            k["metadata"]["namespace"], c["metadata"]["namespace"],
            "{name}"
        );
        assert_eq!(
            data(config_map(&kustomized, "infergate-settings")),
            data(named(&charted, "release-infergate-settings")),
            "{name}: the pods' settings"
        );
        let dir = tempfile::tempdir().unwrap();
        let (charted_scenario, _) = mounted_scenario(&charted, dir.path());
        let file = format!("{scenario}.yaml");
        let (_, suite) = data(config_map(&kustomized, "infergate-scenarios"))
            .into_iter()
            .find(|(k, _)| *k == file)
            .unwrap();
        assert_eq!(
            as_data(&charted_scenario),
            as_data(&suite),
            "{name}: the scenario file"
        );
        let account =
            |docs: &[Value]| of_kind(docs, "ServiceAccount")[0]["metadata"]["annotations"].clone();
        assert_eq!(account(&kustomized), account(&charted), "{name}: IRSA");
    }
}

#[test]
fn the_charts_version_is_the_crates() {
    let chart = std::fs::read_to_string(root().join("charts/infergate/Chart.yaml")).unwrap();
    let chart: Value = serde_yaml::from_str(&chart).unwrap();
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
}
