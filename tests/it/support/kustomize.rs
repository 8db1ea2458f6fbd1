//! The Kubernetes manifests as a cluster would receive them: `kubectl kustomize` renders a folder,
//! and the documents come back as YAML values with a few lookups the tests share. Returns `None`,
//! with a note on stderr, when kubectl is not installed.

use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

/// The repository's kustomize overlays, each a folder under `deploy/kubernetes/overlays`.
pub const OVERLAYS: [&str; 5] = ["baseline", "saturation", "production", "sweep", "sharded"];

/// Every document `kubectl kustomize dir` renders. kubectl takes a turn like a load test: a
/// second of a busy core beside a measured run moves its tail latencies.
pub fn render(dir: &Path) -> Option<Vec<Value>> {
    let _turn = super::turn_blocking();
    let out = match Command::new("kubectl").arg("kustomize").arg(dir).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: kubectl not found ({e}); the Kubernetes manifests were not rendered");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(documents(&String::from_utf8(out.stdout).unwrap()))
}

/// The documents of a multi-document YAML text, such as kustomize prints.
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

/// The overlay's folder in this repository.
pub fn overlay(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes/overlays")
        .join(name)
}

/// `to` as a path relative to the folder `from` (kustomize refuses absolute resource paths).
pub fn relative(from: &Path, to: &Path) -> std::path::PathBuf {
    let (from, to) = (from.canonicalize().unwrap(), to.canonicalize().unwrap());
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut path = std::path::PathBuf::new();
    for _ in from.components().skip(common) {
        path.push("..");
    }
    path.extend(to.components().skip(common));
    path
}

/// The documents of one kind.
pub fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The one Job.
pub fn job(docs: &[Value]) -> &Value {
    let jobs = of_kind(docs, "Job");
    assert_eq!(jobs.len(), 1, "one Job");
    jobs[0]
}

/// The ConfigMap whose generated name starts with `name-`.
pub fn config_map<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    of_kind(docs, "ConfigMap")
        .into_iter()
        .find(|c| {
            c["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("{name}-")))
        })
        .unwrap_or_else(|| panic!("ConfigMap {name}"))
}

/// A ConfigMap's data as (key, value) pairs.
pub fn data(map: &Value) -> Vec<(String, String)> {
    map["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().into(), v.as_str().unwrap().into()))
        .collect()
}

/// The Job's one container.
pub fn container(job: &Value) -> &Value {
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// A string's text, or "" when the value is not a string.
pub fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}
