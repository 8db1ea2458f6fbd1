//! `storage`: where a run's reports go. The local directory always gets them; inference-perf's
//! `simple_storage_service` block adds an S3 (or S3-compatible) copy, and `google_cloud_storage` a
//! Cloud Storage one, uploaded after the run.

use std::path::PathBuf;

use super::ScenarioError;
use super::locate::Step;
use super::raw::RawScenario;
use super::validate::Checker;

/// Where reports go.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// `storage.local_storage.path`, when the file sets it (the command line can override it).
    pub local_path: Option<PathBuf>,
    pub s3: Option<S3Storage>,
    pub gcs: Option<GcsStorage>,
}

/// `storage.google_cloud_storage`, with inference-perf's field names.
#[derive(Debug, Clone, PartialEq)]
pub struct GcsStorage {
    pub bucket_name: String,
    /// Object name prefix; `{timestamp}` becomes the run's start time.
    pub path: String,
    pub report_file_prefix: String,
}

/// `storage.simple_storage_service`, with inference-perf's field names.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Storage {
    pub bucket_name: String,
    /// Key prefix; `{timestamp}` becomes the run's start time (`20261123-104501`).
    pub path: String,
    /// Put in front of every file name (`{prefix}verdicts.json`).
    pub report_file_prefix: String,
    /// An S3-compatible endpoint (MinIO, Ceph, a local test server); AWS when absent.
    pub endpoint_url: Option<String>,
    pub region_name: Option<String>,
    pub addressing_style: Addressing,
}

/// How the bucket is named in requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addressing {
    /// Path style with a custom `endpoint_url`, virtual-hosted style with AWS.
    #[default]
    Auto,
    /// `https://bucket.s3.region.amazonaws.com/key`
    Virtual,
    /// `https://endpoint/bucket/key`
    Path,
}

impl Addressing {
    /// Whether requests put the bucket in the path, given whether a custom endpoint is set.
    pub fn path_style(self, custom_endpoint: bool) -> bool {
        match self {
            Addressing::Auto => custom_endpoint,
            Addressing::Virtual => false,
            Addressing::Path => true,
        }
    }
}

/// inference-perf's default key prefix.
pub const DEFAULT_S3_PATH: &str = "reports-{timestamp}";

pub(super) fn check(c: &mut Checker<'_>, raw: &RawScenario) -> Result<Storage, ScenarioError> {
    let Some(storage) = &raw.storage else {
        return Ok(Storage::default());
    };
    let gcs = match &storage.google_cloud_storage {
        None => None,
        Some(g) if g.bucket_name.trim().is_empty() => {
            return Err(c.error(
                &[
                    Step::Key("storage"),
                    Step::Key("google_cloud_storage"),
                    Step::Key("bucket_name"),
                ],
                "must name a bucket",
            ));
        }
        Some(g) => Some(GcsStorage {
            bucket_name: g.bucket_name.trim().to_string(),
            path: g
                .path
                .clone()
                .unwrap_or_else(|| DEFAULT_S3_PATH.to_string()),
            report_file_prefix: g.report_file_prefix.clone().unwrap_or_default(),
        }),
    };
    let s3 = match &storage.simple_storage_service {
        None => None,
        Some(s3) => {
            let at = |key| {
                [
                    Step::Key("storage"),
                    Step::Key("simple_storage_service"),
                    Step::Key(key),
                ]
            };
            if s3.bucket_name.trim().is_empty() {
                return Err(c.error(&at("bucket_name"), "must name a bucket"));
            }
            let addressing_style = match s3.addressing_style.as_deref() {
                None | Some("auto") => Addressing::Auto,
                Some("virtual") => Addressing::Virtual,
                Some("path") => Addressing::Path,
                Some(other) => {
                    return Err(c.error(
                        &at("addressing_style"),
                        format!("unknown style `{other}`; allowed: auto, virtual, path"),
                    ));
                }
            };
            if let Some(url) = &s3.endpoint_url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(c.error(
                    &at("endpoint_url"),
                    format!("`{url}` is not an http:// or https:// URL"),
                ));
            }
            Some(S3Storage {
                bucket_name: s3.bucket_name.trim().to_string(),
                path: s3
                    .path
                    .clone()
                    .unwrap_or_else(|| DEFAULT_S3_PATH.to_string()),
                report_file_prefix: s3.report_file_prefix.clone().unwrap_or_default(),
                endpoint_url: s3.endpoint_url.clone(),
                region_name: s3.region_name.clone(),
                addressing_style,
            })
        }
    };
    let local = storage.local_storage.as_ref();
    if local.is_some_and(|l| l.report_file_prefix.is_some()) {
        c.warn(
            &[
                Step::Key("storage"),
                Step::Key("local_storage"),
                Step::Key("report_file_prefix"),
            ],
            "ignored: local report files keep inference-perf's default names",
        );
    }
    Ok(Storage {
        local_path: local.and_then(|l| l.path.clone()).map(Into::into),
        s3,
        gcs,
    })
}
