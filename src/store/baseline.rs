//! Baselines in a store: a scenario's report directory saved to `LOCATION/<scenario>/` (a directory or
//! `s3://bucket/prefix`), and read back as `gate::baseline::Baseline` (its samples, and where it came
//! from, from its `verdicts.json`) for the gate to compare with.

use std::path::Path;

use super::{Location, StoreError};
use crate::gate::baseline::Baseline;
use crate::gate::baseline::samples::RunSamples;
use crate::report::schema::{self, Verdicts, files};

/// Reads the baseline of `scenario` under `location` into `scratch` (kept beside the run's reports as a
/// record of what it was compared with). `Ok(None)` when there is none.
pub async fn load(
    location: &Location,
    scenario: &str,
    scratch: &Path,
) -> Result<Option<Baseline>, StoreError> {
    let copied = location.join(scenario).get_dir(scratch).await?;
    if copied == 0 {
        return Ok(None);
    }
    let samples: RunSamples = schema::read(&scratch.join(files::SAMPLES)).map_err(|e| match e {
        schema::ReadError::Io { path, source } => StoreError::Local {
            action: "read",
            path,
            source,
        },
        schema::ReadError::Json { source, .. } => StoreError::NotABaseline(format!(
            "{} is not a baseline's samples: {source}",
            files::SAMPLES
        )),
    })?;
    let verdicts: Option<Verdicts> = schema::read(&scratch.join(files::VERDICTS)).ok();
    Ok(Some(Baseline {
        samples,
        about: describe_origin(verdicts.as_ref()),
    }))
}

/// Copies a scenario's report directory to `location/<scenario>/`, replacing the previous baseline.
pub async fn save(location: &Location, scenario: &str, dir: &Path) -> Result<usize, StoreError> {
    location.join(scenario).put_dir(dir).await
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
