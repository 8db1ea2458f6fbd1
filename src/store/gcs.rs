//! Report copies in Google Cloud Storage (`storage.google_cloud_storage`), through its JSON API
//! (`POST /upload/storage/v1/b/{bucket}/o?uploadType=media`), with a token from `client::gcp`. As in
//! inference-perf, an object that already exists is kept, not overwritten (`ifGenerationMatch=0`).
//! `STORAGE_EMULATOR_HOST` (an emulator's address, e.g. fake-gcs-server's) is used without a token,
//! as Google's client libraries use it.

use std::path::Path;
use std::time::Duration;

use super::StoreError;
use crate::client::gcp;
use crate::client::{Http, describe_error};

/// Where the API is and how to reach it: the emulator when `STORAGE_EMULATOR_HOST` is set, else
/// Google with credentials.
pub async fn endpoint() -> Result<(String, Http), StoreError> {
    if let Some(host) = std::env::var("STORAGE_EMULATOR_HOST")
        .ok()
        .filter(|h| !h.is_empty())
    {
        let root = if host.starts_with("http") {
            host
        } else {
            format!("http://{host}")
        };
        return Ok((root, Http::default()));
    }
    let access = gcp::access(&gcp::metadata_root())
        .await
        .map_err(StoreError::Gcs)?;
    Ok((gcp::STORAGE.into(), Http::to_hub(Some(&access.token))))
}

/// Uploads every file directly in `dir` as `{prefix}/{file_prefix}{name}`; files already there are
/// kept. The count uploaded and the count kept.
pub async fn upload_dir(
    root: &str,
    access: &Http,
    bucket: &str,
    prefix: &str,
    dir: &Path,
    file_prefix: &str,
) -> Result<(usize, usize), StoreError> {
    let http = access
        .clone()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| StoreError::Gcs(e.to_string()))?;
    let files = super::files_in(dir)?;
    let (mut uploaded, mut kept) = (0, 0);
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let object = format!("{}/{file_prefix}{name}", prefix.trim_matches('/'));
        let body = std::fs::read(path).map_err(super::local("read", path))?;
        let url = reqwest::Url::parse_with_params(
            &format!(
                "{}/upload/storage/v1/b/{bucket}/o",
                root.trim_end_matches('/')
            ),
            &[
                ("uploadType", "media"),
                ("name", object.as_str()),
                ("ifGenerationMatch", "0"),
            ],
        )
        .map_err(|e| StoreError::Gcs(format!("bucket `{bucket}`: {e}")))?;
        let response = http
            .post(url)
            .header("content-type", super::s3::content_type(&name))
            .body(body)
            .send()
            .await
            .map_err(|e| {
                StoreError::Gcs(format!("gs://{bucket}/{object}: {}", describe_error(&e)))
            })?;
        match response.status().as_u16() {
            200..=299 => uploaded += 1,
            412 => kept += 1,
            status => {
                let text = response.text().await.unwrap_or_default();
                return Err(StoreError::Gcs(format!(
                    "gs://{bucket}/{object}: HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                )));
            }
        }
    }
    Ok((uploaded, kept))
}
