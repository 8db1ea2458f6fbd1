//! A rehearsal of the sharded overlay's Indexed Job on this machine. The overlay is rendered by
//! `kubectl kustomize` with a user's overlay on top (a short scenario under the Job's file name, the
//! target set to a simulator on 127.0.0.1), and each pod is played by an `infergate` process given
//! exactly what the kubelet would give it: the rendered settings (envFrom), the rendered `env` (the
//! run id from the Job's uid label, secrets absent as no Secret exists), `JOB_COMPLETION_INDEX`, the
//! image's own `ENV`, the container's args, and the scenarios ConfigMap laid out as a mounted volume
//! (`..data` links). IRSA's part is played by static keys for the local S3 server, which holds the
//! rendered rendezvous bucket. Shard 0's exit code is the verdict, and the merged results land in
//! the bucket.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_yaml::Value;

use crate::support::kustomize::{
    config_map, container, data, job, overlay, relative, render, text,
};
use crate::support::s3_server::S3Server;
use infergate::sim::{FixedTiming, SimConfig, SimHandle};

/// The rendezvous bucket the sharded overlay names, and where the scenario uploads its reports.
const BUCKET: &str = "inference-perf-results";

fn scenario(threshold: &str) -> String {
    format!(
        "api: {{type: completion, streaming: true}}
data:
  type: random
  input_distribution: {{mean: 24, std_dev: 4, min: 16, max: 32}}
  output_distribution: {{mean: 6, std_dev: 2, min: 2, max: 10}}
load:
  type: constant
  stages: [{{rate: 24, duration: 1.5}}]
server:
  type: vllm
  model_name: a-model-the-settings-override
storage:
  simple_storage_service:
    bucket_name: {BUCKET}
    path: rehearsal/results
thresholds:
  ttft: [\"{threshold}\"]
# Four pods share this machine's two cores with the simulator; the runner's limits are tested
# elsewhere.
validity: {{max_schedule_delay_p99: 500ms, min_achieved_rate: 50%}}
"
    )
}

/// The rendered documents of the sharded overlay under a user's overlay.
fn rendered(dir: &Path, scenario: &str, target: &str) -> Option<Vec<Value>> {
    std::fs::write(dir.join("production.yaml"), scenario).unwrap();
    let kustomization = format!(
        "resources: [{}]
configMapGenerator:
  - name: infergate-scenarios
    behavior: merge
    files: [production.yaml]
  - name: infergate-settings
    behavior: merge
    literals: [INFERGATE_TARGET={target}, INFERGATE_TOKENIZER=]
",
        relative(dir, &overlay("sharded")).display()
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization).unwrap();
    render(dir)
}

/// A ConfigMap volume as the kubelet mounts it: files linking into `..data`, a timestamped folder.
fn mount_config_map(dir: &Path, files: &[(String, String)]) {
    let stamp = "..2026_12_02_01_00_00.000000001";
    std::fs::create_dir_all(dir.join(stamp)).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(stamp).join(name), text).unwrap();
        std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(stamp, dir.join("..data")).unwrap();
}

/// The environment the kubelet gives pod `index` of the Job: envFrom first, then env.
fn pod_env(docs: &[Value], index: u32, uid: &str, pod: &Path) -> Vec<(String, String)> {
    let job = job(docs);
    let c = container(job);
    let mut env = data(config_map(docs, "infergate-settings"));
    for var in c["env"].as_sequence().unwrap() {
        let name = text(&var["name"]).to_string();
        let from = &var["valueFrom"];
        if !var["value"].is_null() {
            env.push((name, text(&var["value"]).into()));
        } else if from["fieldRef"]["fieldPath"]
            == "metadata.labels['batch.kubernetes.io/controller-uid']"
        {
            env.push((name, uid.into()));
        } else if from["secretKeyRef"]["optional"] == true {
            // No Secret `infergate-secrets` here: an optional key is simply not set.
        } else {
            panic!("a variable the rehearsal cannot give: {var:?}");
        }
    }
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    env.push(("JOB_COMPLETION_INDEX".into(), index.to_string()));
    // The image's ENV, and a home of its own.
    env.push((
        "INFERGATE_OUT".into(),
        pod.join("reports").display().to_string(),
    ));
    env.push(("HOME".into(), pod.join("home").display().to_string()));
    env
}

/// Plays every pod of the rendered Job; returns each one's output, in index order.
fn run_job(docs: &[Value], uid: &str, root: &Path, s3: &S3Server) -> Vec<Output> {
    let job = job(docs);
    let completions = job["spec"]["completions"].as_u64().unwrap() as u32;
    assert_eq!(
        job["spec"]["parallelism"].as_u64(),
        Some(u64::from(completions))
    );
    let scenarios = data(config_map(docs, "infergate-scenarios"));
    let args: Vec<String> = container(job)["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| text(a).to_string())
        .collect();
    let children: Vec<_> = (0..completions)
        .map(|i| {
            let pod = root.join(format!("pod-{i}"));
            let mount = pod.join("scenarios");
            std::fs::create_dir_all(&mount).unwrap();
            std::fs::create_dir_all(pod.join("home")).unwrap();
            mount_config_map(&mount, &scenarios);
            let args: Vec<String> = args
                .iter()
                .map(|a| match a.strip_prefix("/scenarios") {
                    Some(rest) => format!("{}{rest}", mount.display()),
                    None => a.clone(),
                })
                .collect();
            Command::new(env!("CARGO_BIN_EXE_infergate"))
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .envs(pod_env(docs, i, uid, &pod))
                // What IRSA gives a pod, for the local S3 server.
                .env(
                    "AWS_ACCESS_KEY_ID",
                    std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
                )
                .env(
                    "AWS_SECRET_ACCESS_KEY",
                    std::env::var("AWS_SECRET_ACCESS_KEY").unwrap(),
                )
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_ENDPOINT_URL_S3", &s3.url)
                .current_dir(&pod)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn count(summary: &Path) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
    v["load_summary"]["count"].as_u64().unwrap()
}

fn sim() -> SimHandle {
    let config = SimConfig {
        model: "qwen3-8b".into(),
        fixed: Some(FixedTiming {
            ttft: Duration::from_millis(5),
            itl: Duration::from_millis(1),
        }),
        ..SimConfig::default()
    };
    SimHandle::start(config, ([127, 0, 0, 1], 0).into()).unwrap()
}

#[test]
fn the_indexed_job_meets_on_s3_and_shard_0_gives_the_verdict() {
    let s3 = S3Server::start(&[BUCKET]);
    let target = sim();
    let dir = tempfile::tempdir().unwrap();
    let (overlay_dir, failing_dir) = (dir.path().join("passing"), dir.path().join("failing"));
    std::fs::create_dir(&overlay_dir).unwrap();
    std::fs::create_dir(&failing_dir).unwrap();
    // Rendered before the turn: rendering takes one of its own.
    let Some(docs) = rendered(
        &overlay_dir,
        &scenario("p(99) < 5000ms"),
        &target.base_url(),
    ) else {
        return;
    };
    let failing = rendered(&failing_dir, &scenario("p(99) < 1us"), &target.base_url()).unwrap();
    let _turn = crate::support::turn_blocking();

    // A passing run: every pod exits 0, shard 0 merges, the merged reports are in the bucket.
    let uid = "0b6d5a9e-3f0c-4f57-9a55-1d2c3e4f5a6b";
    let outputs = run_job(&docs, uid, &overlay_dir, &s3);
    let shards = outputs.len();
    assert!(shards > 1);
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "pod {i}: {}", output(o));
    }
    let verdict = output(&outputs[0]);
    assert!(
        verdict.contains(&format!("{shards} shards merged")),
        "{verdict}"
    );
    assert!(verdict.contains("result: PASSED"), "{verdict}");
    assert!(
        verdict.contains("qwen3-8b"),
        "the settings' model was requested: {verdict}"
    );
    let met = s3.keys(BUCKET, &format!("infergate/runs/{uid}/production/"));
    for i in 0..shards {
        assert!(
            met.iter().any(|k| k.contains(&format!("shard-{i}/"))),
            "shard {i} left its results: {met:?}"
        );
    }
    let uploaded = s3.keys(BUCKET, "rehearsal/results/production/");
    let summary = uploaded
        .iter()
        .find(|k| k.ends_with("summary_lifecycle_metrics.json"))
        .unwrap_or_else(|| panic!("the merged reports are in the bucket: {uploaded:?}"));
    let merged = count(&s3.object_path(BUCKET, summary));
    // Shard 0's own folder holds the merged run, so its part is counted in the merge only.
    let parts: u64 = (1..shards)
        .map(|i| {
            count(&overlay_dir.join(format!(
                "pod-{i}/reports/production/summary_lifecycle_metrics.json"
            )))
        })
        .sum();
    assert!(
        merged > parts,
        "the merged count ({merged}) holds every shard's ({parts} without 0)"
    );
    assert_eq!(
        merged, 36,
        "24 req/s for 1.5 s, split four ways and merged exactly"
    );

    // A threshold that cannot hold: shard 0 exits 1, the code the podFailurePolicy fails the Job on.
    let outputs = run_job(
        &failing,
        "7c1e2d3f-aaaa-4bbb-8ccc-0123456789ab",
        &failing_dir,
        &s3,
    );
    assert_eq!(outputs[0].status.code(), Some(1), "{}", output(&outputs[0]));
    for (i, o) in outputs.iter().enumerate().skip(1) {
        assert_eq!(
            o.status.code(),
            Some(0),
            "pod {i} judges only its own validity: {}",
            output(o)
        );
    }
}
