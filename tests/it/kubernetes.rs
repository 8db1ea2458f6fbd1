//! The Kubernetes manifests, rendered by `kubectl kustomize` as a cluster would receive them, checked
//! for what a gate depends on: the verdict fails the Job at once (podFailurePolicy on exit codes
//! 1-4, a lost node retried), an Indexed Job whose completions, parallelism and shard count agree,
//! the variables the shards need, the ConfigMap holding every suite unchanged, no secret inline, the
//! writable folders the image writes to, and an image tag an overlay can set. Skipped, with a note,
//! where kubectl is missing. (`.ci/run` also validates them with `kubernetes-validate --strict`.)

use std::path::Path;

use serde_yaml::Value;

use crate::support::kustomize::{
    OVERLAYS, config_map, container, data, documents, job, of_kind, overlay, relative, render, text,
};
use infergate::harness::scenario_files;
use infergate::scenario::Scenario;

fn settings(docs: &[Value]) -> Vec<(String, String)> {
    data(config_map(docs, "infergate-settings"))
}

fn setting(docs: &[Value], key: &str) -> Option<String> {
    settings(docs)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// What the image's Dockerfile sets with `ENV NAME=value`.
fn dockerfile_env(name: &str) -> String {
    let dockerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let prefix = format!("ENV {name}=");
    dockerfile
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("Dockerfile sets {name}"))
        .to_string()
}

#[test]
fn every_overlay_fails_its_job_on_the_verdict_and_keeps_secrets_out() {
    for name in OVERLAYS {
        let Some(docs) = render(&overlay(name)) else {
            return;
        };
        let job = job(&docs);
        let spec = &job["spec"];
        let pod = &spec["template"]["spec"];
        let c = container(job);
        assert_eq!(pod["restartPolicy"], "Never", "{name}");
        assert!(spec["ttlSecondsAfterFinished"].as_u64().is_some(), "{name}");
        assert!(
            spec["activeDeadlineSeconds"].as_u64().is_some(),
            "{name}: a bound on the run"
        );

        // Exit codes 1-4 end the Job (or, sharded, the index) without running the load again; a
        // pod the node lost is not counted against it.
        let rules = spec["podFailurePolicy"]["rules"].as_sequence().unwrap();
        let on_exit = rules.iter().find(|r| !r["onExitCodes"].is_null()).unwrap();
        let expected = if name == "sharded" {
            "FailIndex"
        } else {
            "FailJob"
        };
        assert_eq!(on_exit["action"], expected, "{name}");
        assert_eq!(on_exit["onExitCodes"]["operator"], "In");
        assert_eq!(on_exit["onExitCodes"]["containerName"], c["name"]);
        let codes: Vec<u64> = on_exit["onExitCodes"]["values"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(codes, [1, 2, 3, 4], "{name}");
        // First: an evicted pod is stopped (exit 3), and must be retried, not judged.
        assert!(
            rules[0]["action"] == "Ignore"
                && rules[0]["onPodConditions"][0]["type"] == "DisruptionTarget",
            "{name}: a pod the node lost is retried"
        );

        // No secret inline: secrets come from secretKeyRef, and no Secret is rendered.
        assert!(
            of_kind(&docs, "Secret").is_empty(),
            "{name}: no Secret in the manifests"
        );
        let secretish = |k: &str| {
            k.ends_with("KEY")
                || k.ends_with("TOKEN")
                || ["ACCESS_KEY", "SECRET", "PASSWORD"]
                    .iter()
                    .any(|s| k.contains(s))
        };
        for (key, _) in settings(&docs) {
            assert!(!secretish(&key), "{name}: {key} is in a ConfigMap");
        }
        for var in c["env"].as_sequence().unwrap() {
            let key = text(&var["name"]);
            if secretish(key) {
                assert!(var["value"].is_null(), "{name}: {key} is inline");
                assert!(
                    !var["valueFrom"]["secretKeyRef"].is_null(),
                    "{name}: {key} from a Secret"
                );
            }
        }

        // The pod may write only where the image writes: reports and the hub cache.
        assert_eq!(
            c["securityContext"]["readOnlyRootFilesystem"], true,
            "{name}"
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        let mounts: Vec<&str> = c["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| text(&m["mountPath"]))
            .collect();
        assert!(
            mounts.contains(&dockerfile_env("INFERGATE_OUT").as_str()),
            "{name}: {mounts:?}"
        );
        assert!(
            mounts.contains(&"/home/infergate/.cache"),
            "{name}: {mounts:?}"
        );
        assert!(
            !pod["affinity"]["podAffinity"].is_null(),
            "{name}: beside the model"
        );
        assert!(
            !c["resources"]["requests"]["cpu"].is_null(),
            "{name}: CPU requested"
        );

        // The scenario the Job runs is in the ConfigMap mounted at /scenarios.
        let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(text).collect();
        assert_eq!(args[0], "run", "{name}");
        let file = args[1]
            .strip_prefix("/scenarios/")
            .expect("a scenario under /scenarios");
        let scenarios = data(config_map(&docs, "infergate-scenarios"));
        assert!(
            scenarios.iter().any(|(k, _)| k == file),
            "{name}: {file} in the ConfigMap"
        );
        assert!(
            job["spec"]["template"]["metadata"]["labels"]["benchmark.scenario"] == name,
            "{name}: pods carry the label kubectl logs -l selects"
        );
    }
}

#[test]
fn the_scenarios_config_map_holds_every_suite_unchanged() {
    let Some(docs) = render(&overlay("baseline")) else {
        return;
    };
    let suites = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let files = scenario_files(&suites).unwrap();
    let scenarios = data(config_map(&docs, "infergate-scenarios"));
    let keys: Vec<&str> = scenarios.iter().map(|(k, _)| k.as_str()).collect();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(keys, names, "suites/kustomization.yaml lists every suite");
    let dir = tempfile::tempdir().unwrap();
    for ((key, text), file) in scenarios.iter().zip(&files) {
        assert_eq!(
            text,
            &std::fs::read_to_string(file).unwrap(),
            "{key} unchanged"
        );
        let copy = dir.path().join(key);
        std::fs::write(&copy, text).unwrap();
        Scenario::load(&copy).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

#[test]
fn the_sharded_overlay_is_an_indexed_job_whose_counts_agree() {
    let Some(docs) = render(&overlay("sharded")) else {
        return;
    };
    let job = job(&docs);
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let shards: u64 = setting(&docs, "INFERGATE_SHARDS").unwrap().parse().unwrap();
    assert!(shards > 1);
    assert_eq!(spec["completions"].as_u64(), Some(shards));
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(shards),
        "all shards at once"
    );
    assert!(
        spec["backoffLimitPerIndex"].as_u64().is_some(),
        "FailIndex needs it"
    );
    // The one-pod overlays are not sharded, but leave their results the same way.
    let Some(single) = render(&overlay("baseline")) else {
        return;
    };
    assert!(job_is_single(&single));
    for docs in [&docs, &single] {
        let env = container(crate::support::kustomize::job(docs))["env"]
            .as_sequence()
            .unwrap();
        let run_id = env
            .iter()
            .find(|v| v["name"] == "INFERGATE_RUN_ID")
            .unwrap();
        assert_eq!(
            run_id["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.labels['batch.kubernetes.io/controller-uid']",
            "every pod of the Job leaves its results under the Job's uid"
        );
        let rendezvous = setting(docs, "INFERGATE_RENDEZVOUS").unwrap();
        assert!(rendezvous.starts_with("s3://"), "{rendezvous}");
    }
}

fn job_is_single(docs: &[Value]) -> bool {
    let spec = &job(docs)["spec"];
    spec["completionMode"].is_null()
        && spec["parallelism"].is_null()
        && setting(docs, "INFERGATE_SHARDS").is_none()
}

#[test]
fn an_overlay_of_an_overlay_sets_the_image_tag_and_the_settings() {
    // What the pull-request recipe writes: the overlay, the pull request's image, its own target.
    let dir = tempfile::tempdir().unwrap();
    let base = overlay("baseline");
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "resources: [{}]
images:
  - {{name: ghcr.io/infergate/infergate, newName: registry.example/infergate, newTag: pr-123-abc}}
configMapGenerator:
  - name: infergate-settings
    behavior: merge
    literals: [INFERGATE_TARGET=http://my-model.team:8000]
",
            relative(dir.path(), &base).display()
        ),
    )
    .unwrap();
    let Some(docs) = render(dir.path()) else {
        return;
    };
    assert_eq!(
        container(job(&docs))["image"],
        "registry.example/infergate:pr-123-abc"
    );
    assert_eq!(
        setting(&docs, "INFERGATE_TARGET").as_deref(),
        Some("http://my-model.team:8000")
    );
    assert_eq!(
        setting(&docs, "INFERGATE_MODEL").as_deref(),
        Some("qwen3-8b"),
        "the rest kept"
    );
}

#[test]
fn the_gate_script_renders_the_run_it_would_apply() {
    // scripts/k8s-gate.sh with RENDER_ONLY prints what it would apply: the overlay, this run's
    // image and name, and its settings merged over the overlay's.
    if render(&overlay("sharded")).is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _turn = crate::support::turn_blocking(); // the script runs kubectl
    let out = std::process::Command::new(root.join("scripts/k8s-gate.sh"))
        .args([
            "deploy/kubernetes/overlays/sharded",
            "registry.example:5000/infergate:sha-1a2b3c",
            "pr42-9876543210-1",
            "INFERGATE_BASELINE=s3://perf-baselines/infergate",
        ])
        .env("RENDER_ONLY", "1")
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    let job = job(&docs);
    assert_eq!(job["metadata"]["name"], "infergate-pr42-9876543210-1");
    assert_eq!(
        container(job)["image"],
        "registry.example:5000/infergate:sha-1a2b3c"
    );
    assert_eq!(
        job["spec"]["completionMode"], "Indexed",
        "the overlay's own shape kept"
    );
    assert_eq!(
        setting(&docs, "INFERGATE_BASELINE").as_deref(),
        Some("s3://perf-baselines/infergate")
    );
    assert_eq!(setting(&docs, "INFERGATE_SHARDS").as_deref(), Some("4"));
}
