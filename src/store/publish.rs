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

/// The saved runs a scenario's runs are compared with: loaded once, so that a confirming rerun is
/// judged against the same history.
#[derive(Debug, Clone)]
pub struct Baselines {
    /// Where they were looked for (`LOCATION/<scenario>`).
    pub location: String,
    pub history: Result<baseline::History, Problem>,
}

/// The saved runs of scenario `name`, when a baseline location is given or thresholds need one
/// (`None`: nothing is compared). Each saved run is copied into `out_dir/baseline/` as a record of
/// what was compared.
pub fn baselines(
    scenario: &Scenario,
    name: &str,
    options: &PublishOptions,
    out_dir: &Path,
) -> Option<Baselines> {
    let relative = scenario
        .thresholds
        .iter()
        .any(|t| t.baseline_factor.is_some());
    let configured = options
        .baseline
        .clone()
        .or_else(|| scenario.regression.baseline.clone());
    let Some(text) = configured else {
        return relative.then(|| Baselines {
            location: String::new(),
            history: Err(Problem::NotConfigured),
        });
    };
    let mut location = text.clone();
    let loaded = Location::parse(&text, scenario.storage.s3.as_ref()).and_then(|place| {
        location = place.join(name).display();
        let scratch = out_dir.join("baseline");
        let _ = std::fs::remove_dir_all(&scratch);
        io_runtime()?.block_on(super::baseline::load(&place, name, &scratch))
    });
    let history = match loaded {
        Err(e) => Err(Problem::Unreadable(e.to_string())),
        Ok(None) => Err(Problem::Missing),
        Ok(Some(history)) => Ok(history),
    };
    Some(Baselines { location, history })
}

/// Compares a run (its `samples`) with the saved runs.
pub fn compare(
    scenario: &Scenario,
    baselines: &Baselines,
    options: &PublishOptions,
    current: &RunSamples,
) -> Comparison {
    let regression = &scenario.regression;
    let mut comparison = match &baselines.history {
        Ok(history) => baseline::compare(
            current,
            history,
            regression,
            &scenario.thresholds,
            options.force_baseline,
            regression.run_spread_for(current.simulated),
        ),
        Err(problem) => Comparison {
            location: String::new(),
            about: None,
            problem: Some(problem.clone()),
            rows: Vec::new(),
            notes: Vec::new(),
            budget: 1.0 - regression.confidence,
            confirmation: None,
            unit: "saved run(s)",
        },
    };
    comparison.location = baselines.location.clone();
    comparison
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
            let keep = scenario.regression.history;
            let saved = Location::parse(text, scenario.storage.s3.as_ref()).and_then(|location| {
                let saving = super::baseline::save(&location, name, out_dir, run.started_at, keep);
                runtime.block_on(saving).map(|s| {
                    format!(
                        "baseline saved: {} (history: {} run(s) kept of at most {keep}, {} removed)",
                        s.to, s.kept, s.removed
                    )
                })
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
