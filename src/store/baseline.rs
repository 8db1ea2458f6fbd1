//! Baselines in a store: the history of a scenario's saved runs under `LOCATION/<scenario>/` (a
//! directory or `s3://bucket/prefix`), read back as `gate::baseline::History` for the gate.
//!
//! Each saved run is a directory of its own, `runs/<YYYYmmdd-HHMMSS>-<8 hex>/` (its UTC start and a
//! random suffix), holding its `verdicts.json` and then its `samples.json`, each written whole (a
//! local file through a temporary name and a rename, an S3 object by one PUT), so a run is complete
//! once its `samples.json` is there. A save writes only its own directory, so two saves at once never
//! touch each other's files; then it removes the oldest runs beyond `regression.history`. The old
//! single-run layout (a whole report directory directly under `LOCATION/<scenario>/`) is read as one
//! more saved run, the oldest, and pruned like the others.

use std::path::Path;

use rand::Rng;

use super::{Location, StoreError};
use crate::gate::baseline::samples::RunSamples;
use crate::gate::baseline::{Baseline, History};
use crate::report::schema::{self, Verdicts, files};

/// Where a scenario's saved runs are, under its baseline directory.
pub const RUNS: &str = "runs";

/// What a saved run keeps, in the order written: `samples.json` last marks the run complete.
const SAVED: [&str; 2] = [files::VERDICTS, files::SAMPLES];

/// Where the old single-run layout is copied to in the scratch directory.
const LEGACY: &str = "single-run";

/// Reads the history of `scenario` under `location`, copying each saved run into `scratch` (kept
/// beside the run's reports as a record of what it was compared with). `Ok(None)` when there is none.
/// A saved run that cannot be read is left out and named in `History::skipped`.
pub async fn load(
    location: &Location,
    scenario: &str,
    scratch: &Path,
) -> Result<Option<History>, StoreError> {
    let root = location.join(scenario);
    let mut history = History::default();
    let legacy = scratch.join(LEGACY);
    if root.get_dir(&legacy).await? > 0 && legacy.join(files::SAMPLES).is_file() {
        read_into(&mut history, &legacy, "the single saved run");
    }
    let runs = root.join(RUNS);
    for name in runs.list_dirs().await? {
        let dir = scratch.join(&name);
        // A run being saved right now may have no samples yet: it is not a run yet.
        if runs.join(&name).get_dir(&dir).await? > 0 && dir.join(files::SAMPLES).is_file() {
            read_into(&mut history, &dir, &name);
        }
    }
    Ok((!history.runs.is_empty() || !history.skipped.is_empty()).then_some(history))
}

fn read_into(history: &mut History, dir: &Path, name: &str) {
    match schema::read::<RunSamples>(&dir.join(files::SAMPLES)) {
        Ok(samples) => {
            let verdicts: Option<Verdicts> = schema::read(&dir.join(files::VERDICTS)).ok();
            history.runs.push(Baseline {
                samples,
                about: describe_origin(verdicts.as_ref()),
            });
        }
        Err(e) => history
            .skipped
            .push(format!("saved run {name} left out: {e}")),
    }
}

/// What a save did.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// Where the run went.
    pub to: String,
    /// Saved runs now kept, this one included.
    pub kept: usize,
    /// Old runs removed to keep `history`.
    pub removed: usize,
}

/// Saves the run whose reports are in `dir` (started at `started`) into the history of `scenario`,
/// then removes the oldest runs so that at most `keep` remain.
pub async fn save(
    location: &Location,
    scenario: &str,
    dir: &Path,
    started: std::time::SystemTime,
    keep: u32,
) -> Result<Saved, StoreError> {
    let root = location.join(scenario);
    let name = format!(
        "{}-{:08x}",
        super::timestamp(started),
        rand::rng().random::<u32>()
    );
    let place = root.join(RUNS).join(&name);
    let paths: Vec<_> = SAVED.iter().map(|f| dir.join(f)).collect();
    place.put_files(&paths).await?;
    let mut runs = root.join(RUNS).list_dirs().await?;
    let legacy = root.has_files().await?;
    let total = runs.len() + usize::from(legacy);
    let mut excess = total.saturating_sub(keep.max(1) as usize);
    let removed = excess;
    if legacy && excess > 0 {
        root.remove_files().await?;
        excess -= 1;
    }
    for old in runs.drain(..excess.min(runs.len())) {
        root.join(RUNS).join(&old).remove_dir().await?;
    }
    Ok(Saved {
        to: place.display(),
        kept: total - removed,
        removed,
    })
}

/// `commit 1a2b3c4d5e (main), run 2026-11-22 10:04:05 UTC`, as far as the verdicts tell.
fn describe_origin(verdicts: Option<&Verdicts>) -> String {
    let mut parts = Vec::new();
    if let Some(v) = verdicts {
        if let Some(commit) = &v.environment.git_commit {
            let short = &commit[..commit.len().min(10)];
            match &v.environment.git_branch {
                Some(branch) => parts.push(format!("commit {short} ({branch})")),
                None => parts.push(format!("commit {short}")),
            }
        }
        let at =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(v.started_at_unix.max(0.0));
        parts.push(format!("run {} UTC", super::timestamp(at)));
    }
    if parts.is_empty() {
        "a saved run".to_string()
    } else {
        parts.join(", ")
    }
}
