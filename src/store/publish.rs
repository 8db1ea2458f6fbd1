//! After the verdict, the steps that reach beyond this run: comparing it with its scenario's baseline
//! (before the reports are written, so they carry the comparison), then saving it as the new baseline
//! and uploading its reports to S3 (after, from the written files). The copies never change the
//! verdict and never touch the local reports; a failure is printed and added to the job summary.

use std::path::Path;

use crate::gate::baseline::samples::RunSamples;
use crate::gate::baseline::{self, Comparison, Problem};
use crate::gate::{ScenarioOutcome, Status};
use crate::scenario::Scenario;
use crate::store::{self, Location, StoreError};

/// When reports go to the scenario's `storage.simple_storage_service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Upload {
    /// Upload, except for runs against the embedded simulator (a fresh clone never leaves the machine).
    #[default]
    Auto,
    Always,
    Never,
}

impl Upload {
    /// `auto`, `always`/`1`/`true`, `never`/`0`/`false`.
    pub fn parse(text: &str) -> Result<Upload, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Upload::Auto),
            "always" | "1" | "true" | "yes" => Ok(Upload::Always),
            "never" | "0" | "false" | "no" => Ok(Upload::Never),
            other => Err(format!("`{other}`: allowed: auto, always, never")),
        }
    }
}

/// What to do with baselines and uploads.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// Compare with the baseline here (overrides `regression.baseline`).
    pub baseline: Option<String>,
    /// Save this run as its scenario's baseline here (when the run is valid).
    pub save_baseline: Option<String>,
    /// Compare even when the baseline's load-relevant config differs.
    pub force_baseline: bool,
    pub upload: Upload,
}

/// A small runtime for the storage calls, apart from the load generator's.
fn io_runtime() -> Result<tokio::runtime::Runtime, StoreError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StoreError::Runtime)
}

/// Compares a run (its `samples`) with its baseline, when a baseline location is given or thresholds
/// need one. The baseline is copied into `out_dir/baseline/` as a record of what was compared.
pub fn compare(
    scenario: &Scenario,
    name: &str,
    options: &PublishOptions,
    out_dir: &Path,
    current: &RunSamples,
) -> Option<Comparison> {
    let relative = scenario
        .thresholds
        .iter()
        .any(|t| t.baseline_factor.is_some());
    let configured = options
        .baseline
        .clone()
        .or_else(|| scenario.regression.baseline.clone());
    let Some(text) = configured else {
        return relative.then(|| Comparison {
            location: String::new(),
            about: None,
            problem: Some(Problem::NotConfigured),
            rows: Vec::new(),
        });
    };
    let mut comparison = Comparison {
        location: text.clone(),
        about: None,
        problem: None,
        rows: Vec::new(),
    };
    let loaded = Location::parse(&text, scenario.storage.s3.as_ref()).and_then(|location| {
        comparison.location = location.join(name).display();
        let scratch = out_dir.join("baseline");
        let _ = std::fs::remove_dir_all(&scratch);
        io_runtime()?.block_on(super::baseline::load(&location, name, &scratch))
    });
    match loaded {
        Err(e) => comparison.problem = Some(Problem::Unreadable(e.to_string())),
        Ok(None) => comparison.problem = Some(Problem::Missing),
        Ok(Some(base)) => {
            let (rows, problem) = baseline::compare(
                current,
                &base,
                &scenario.regression,
                &scenario.thresholds,
                options.force_baseline,
            );
            comparison.about = Some(base.about);
            comparison.rows = rows;
            comparison.problem = problem;
        }
    }
    Some(comparison)
}

/// Saves the baseline and uploads the reports, as configured; returns one line per copy made or failed.
pub fn copies(
    scenario: &Scenario,
    name: &str,
    options: &PublishOptions,
    out_dir: &Path,
    outcome: &ScenarioOutcome,
) -> Vec<String> {
    let ScenarioOutcome::Judged { run, gate } = outcome else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let runtime = match io_runtime() {
        Ok(rt) => rt,
        Err(e) => return vec![e.to_string()],
    };
    if let Some(text) = &options.save_baseline {
        if gate.status == Status::Invalid {
            lines.push(
                "baseline not saved: the run was invalid, so its numbers describe the runner"
                    .to_string(),
            );
        } else {
            let saved = Location::parse(text, scenario.storage.s3.as_ref()).and_then(|location| {
                let to = location.join(name).display();
                runtime
                    .block_on(super::baseline::save(&location, name, out_dir))
                    .map(|n| format!("baseline saved: {n} files to {to}"))
            });
            lines.push(saved.unwrap_or_else(|e| format!("baseline NOT saved: {e}")));
        }
    }
    if let Some(s3) = &scenario.storage.s3 {
        let wanted = match options.upload {
            Upload::Always => true,
            Upload::Never => false,
            Upload::Auto => !run.simulated,
        };
        let place = store::report_place(s3, name, run.started_at);
        if wanted {
            let uploaded = runtime.block_on(store::s3::upload_dir(
                &place,
                out_dir,
                &s3.report_file_prefix,
            ));
            lines.push(match uploaded {
                Ok(n) => format!("reports uploaded: {n} files to {}", place.url()),
                Err(e) => format!(
                    "reports NOT uploaded ({e}); they are kept in {}",
                    out_dir.display()
                ),
            });
        } else if options.upload == Upload::Auto {
            lines.push(format!(
                "reports not uploaded to {}: the target was the embedded simulator (INFERGATE_UPLOAD=always to upload anyway)",
                place.url()
            ));
        }
    }
    if let Some(gcs) = &scenario.storage.gcs {
        lines.push(upload_gcs(gcs, name, run, options, out_dir, &runtime));
    }
    lines
}

/// `storage.google_cloud_storage`: the reports to `gs://bucket/path/<scenario>/<prefix><file>`.
fn upload_gcs(
    gcs: &crate::scenario::GcsStorage,
    name: &str,
    run: &crate::run::RunResult,
    options: &PublishOptions,
    out_dir: &Path,
    runtime: &tokio::runtime::Runtime,
) -> String {
    let prefix = format!(
        "{}/{name}",
        gcs.path
            .replace("{timestamp}", &store::timestamp(run.started_at))
            .trim_matches('/')
    );
    let url = format!("gs://{}/{prefix}", gcs.bucket_name);
    let wanted = match options.upload {
        Upload::Always => true,
        Upload::Never => false,
        Upload::Auto => !run.simulated,
    };
    if !wanted {
        return format!(
            "reports not uploaded to {url}: the target was the embedded simulator (INFERGATE_UPLOAD=always to upload anyway)"
        );
    }
    let uploaded = runtime.block_on(async {
        let (root, access) = store::gcs::endpoint().await?;
        store::gcs::upload_dir(
            &root,
            &access,
            &gcs.bucket_name,
            &prefix,
            out_dir,
            &gcs.report_file_prefix,
        )
        .await
    });
    match uploaded {
        Ok((n, 0)) => format!("reports uploaded: {n} files to {url}"),
        Ok((n, kept)) => {
            format!("reports uploaded: {n} files to {url} ({kept} already there, kept)")
        }
        Err(e) => format!(
            "reports NOT uploaded ({e}); they are kept in {}",
            out_dir.display()
        ),
    }
}
