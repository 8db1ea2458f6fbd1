//! One shard's results as a file (`shard.json`), written by every shard of a sharded run under
//! `LOCATION/<run-id>/<scenario>/shard-<I>/` and read back by whoever merges them: shard 0, or
//! `infergate merge`.
//!
//! It holds what the merge needs and nothing that grows with the requests: each stage's recorder
//! bucket by bucket (`RecorderFile`), its plan and start on the agreed clock, the engine's metrics
//! (shard 0 only scrapes), the run's metadata, and the scenario's text with every secret-looking
//! value replaced, so the merge can judge the thresholds without the original file.

use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::measure::recorder::Recorder;
use crate::measure::recorder::wire::{RecorderFile, instant, offset};
use crate::measure::server::StageServer;
use crate::plan::PlannedStage;
use crate::plan::shard::Shard;
use crate::run::{RunResult, StageResult};

/// The file's name inside a shard's directory.
pub const FILE_NAME: &str = "shard.json";

/// One stage as one shard ran it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardStage {
    pub stage: PlannedStage,
    /// When the stage started, nanoseconds from the agreed start.
    pub start_ns: i64,
    /// When the stage started, seconds from the start of this shard's run.
    pub offset_s: f64,
    pub recorder: RecorderFile,
    pub server: Option<StageServer>,
}

/// What one shard ran and recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// `I/N`.
    pub shard: String,
    pub run_id: String,
    pub config_hash: String,
    pub scenario: String,
    /// The scenario file's name and its text, secrets replaced by `redacted`.
    pub source_name: String,
    pub source: String,
    pub target: String,
    pub model: String,
    pub server_version: Option<String>,
    pub simulated: bool,
    pub shortened: Option<String>,
    pub started_at_unix_ms: u64,
    pub elapsed_s: f64,
    pub warnings: Vec<String>,
    pub stopped: Option<String>,
    pub aborted: Option<String>,
    pub warmup: Option<ShardStage>,
    pub stages: Vec<ShardStage>,
    /// `load.lora_traffic_split`, when requests went to adapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<crate::scenario::Lora>,
    /// `report.prometheus`.
    #[serde(default)]
    pub server_reports: crate::scenario::scrape::ServerReports,
    /// `report.request_lifecycle.percentiles` beyond the defaults.
    #[serde(default)]
    pub percentiles: Vec<f64>,
}

impl ShardStage {
    fn of(s: &StageResult, origin: Instant) -> ShardStage {
        ShardStage {
            stage: s.stage.clone(),
            start_ns: offset(origin, Some(s.started)).unwrap_or(0),
            offset_s: s.offset.as_secs_f64(),
            recorder: s.recorder.to_file(origin),
            server: s.server.clone(),
        }
    }

    fn result(&self, origin: Instant) -> Result<StageResult, String> {
        Ok(StageResult {
            stage: self.stage.clone(),
            recorder: Recorder::from_file(&self.recorder, origin)?,
            offset: Duration::from_secs_f64(self.offset_s.max(0.0)),
            started: instant(origin, Some(self.start_ns)).unwrap_or(origin),
            server: self.server.clone(),
        })
    }
}

impl ShardFile {
    /// The file for a shard's run. `source` is the scenario file's text (secrets are removed here).
    pub fn of(run: &RunResult, run_id: &str, source_name: &str, source: &str) -> ShardFile {
        let origin = run
            .origin
            .or_else(|| run.stages.first().map(|s| s.started))
            .unwrap_or_else(Instant::now);
        ShardFile {
            shard: run.shard.to_string(),
            run_id: run_id.to_string(),
            config_hash: run.config_hash.clone(),
            scenario: run.scenario.clone(),
            source_name: source_name.to_string(),
            source: redact_yaml(source),
            target: run.target.clone(),
            model: run.model.clone(),
            server_version: run.server_version.clone(),
            simulated: run.simulated,
            shortened: run.shortened.clone(),
            started_at_unix_ms: run
                .started_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            elapsed_s: run.elapsed.as_secs_f64(),
            warnings: run.warnings.clone(),
            stopped: run.stopped.clone(),
            aborted: run.aborted.clone(),
            warmup: run.warmup.as_ref().map(|s| ShardStage::of(s, origin)),
            stages: run
                .stages
                .iter()
                .map(|s| ShardStage::of(s, origin))
                .collect(),
            lora: run.lora.clone(),
            server_reports: run.server_reports,
            percentiles: run.percentiles.clone(),
        }
    }

    /// Which shard wrote it.
    pub fn shard(&self) -> Result<Shard, String> {
        Shard::parse(&self.shard).map_err(|e| e.to_string())
    }

    /// The shard's run again, its instants placed at `origin` + their offsets (every shard of a
    /// merge gets the same origin: the agreed start).
    pub fn run(&self, origin: Instant) -> Result<RunResult, String> {
        let stages = self
            .stages
            .iter()
            .map(|s| s.result(origin))
            .collect::<Result<Vec<_>, _>>()?;
        let warmup = self.warmup.as_ref().map(|s| s.result(origin)).transpose()?;
        Ok(RunResult {
            scenario: self.scenario.clone(),
            target: self.target.clone(),
            model: self.model.clone(),
            server_version: self.server_version.clone(),
            simulated: self.simulated,
            shortened: self.shortened.clone(),
            total: Recorder::merged(stages.iter().map(|s| &s.recorder)),
            stages,
            started_at: UNIX_EPOCH + Duration::from_millis(self.started_at_unix_ms),
            elapsed: Duration::from_secs_f64(self.elapsed_s.max(0.0)),
            warnings: self.warnings.clone(),
            stopped: self.stopped.clone(),
            aborted: self.aborted.clone(),
            warmup,
            sweep: None,
            capacity: None,
            config_hash: self.config_hash.clone(),
            shard: self.shard()?,
            origin: Some(origin),
            lora: self.lora.clone(),
            server_reports: self.server_reports,
            percentiles: self.percentiles.clone(),
        })
    }

    /// Reads `shard.json`.
    pub fn read(path: &Path) -> Result<ShardFile, String> {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not a shard's results: {e}", path.display()))
    }

    /// Writes `shard.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(FILE_NAME);
        let text = serde_json::to_vec(self).expect("a shard file serialises");
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Checks that `files` are the shards `0..N` of one run of one configuration, each once; the error
/// names what is missing, doubled or foreign.
pub fn check_set(files: &[ShardFile], run_id: &str) -> Result<Shard, String> {
    let first = files.first().ok_or("no shard has written results")?;
    let count = first.shard()?.count();
    let mut seen = vec![0u32; count as usize];
    for f in files {
        let shard = f.shard()?;
        if f.run_id != run_id {
            return Err(format!(
                "shard {shard} belongs to run `{}`, not `{run_id}`",
                f.run_id
            ));
        }
        if shard.count() != count {
            return Err(format!(
                "shard {shard} was one of {} shards, shard {} one of {count}",
                shard.count(),
                first.shard
            ));
        }
        if f.config_hash != first.config_hash {
            return Err(format!(
                "shard {shard} ran a different configuration (config hash {} against {} of shard {})",
                f.config_hash, first.config_hash, first.shard
            ));
        }
        seen[shard.index() as usize] += 1;
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| seen[i as usize] == 0)
        .map(|i| format!("{i}/{count}"))
        .collect();
    let doubled: Vec<String> = (0..count)
        .filter(|&i| seen[i as usize] > 1)
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !doubled.is_empty() {
        return Err(format!(
            "shard(s) {} wrote results more than once",
            doubled.join(", ")
        ));
    }
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} of run `{run_id}` wrote no results",
            missing.join(", ")
        ));
    }
    Ok(Shard::new(0, count).expect("count >= 1"))
}

/// Keys whose values are never copied: anything that names a key, token, secret or password, and
/// `Authorization` headers.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "token", "secret", "password", "authorization"]
        .iter()
        .any(|word| k.contains(word))
}

/// The scenario's text with every secret-looking value replaced by `redacted`; text that is not YAML
/// is dropped altogether.
pub fn redact_yaml(source: &str) -> String {
    fn walk(value: &mut serde_yaml::Value) {
        match value {
            serde_yaml::Value::Mapping(map) => {
                for (k, v) in map.iter_mut() {
                    if k.as_str().is_some_and(is_secret_key) && !v.is_mapping() {
                        *v = serde_yaml::Value::String("redacted".into());
                    } else {
                        walk(v);
                    }
                }
            }
            serde_yaml::Value::Sequence(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_yaml::from_str::<serde_yaml::Value>(source) {
        Ok(mut value) => {
            walk(&mut value);
            serde_yaml::to_string(&value).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_leave_with_the_scenario() {
        let text = "server:\n  api_key: sk-live-123\n  base_url: http://x\napi:\n  headers:\n    Authorization: Bearer abc\ntokenizer:\n  pretrained_model_name_or_path: m\n  token: hf_456\n";
        let out = redact_yaml(text);
        for secret in ["sk-live-123", "Bearer abc", "hf_456"] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(out.contains("http://x") && out.contains("pretrained_model_name_or_path"));
    }
}
