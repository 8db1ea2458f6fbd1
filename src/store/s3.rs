//! S3 through `aws-sdk-s3`: uploading a run directory, downloading one back, listing the directories
//! under a prefix and deleting one. Credentials come from the
//! standard AWS chain (environment, shared profile, web identity as with IRSA on EKS, container and
//! instance metadata). Every request is retried by the SDK's standard policy (4 attempts with
//! exponential back-off) under a connect and a per-attempt timeout, so an unreachable store costs
//! seconds, not the run.

use super::{StoreError, local};
use std::path::Path;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 4;

/// A bucket, a key prefix and how to reach them.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Place {
    pub bucket: String,
    /// No leading or trailing `/`; may be empty.
    pub prefix: String,
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// Bucket in the path (`endpoint/bucket/key`) rather than in the host name.
    pub path_style: bool,
}

impl S3Place {
    /// The same bucket, `name` further down.
    pub fn join(&self, name: &str) -> S3Place {
        let name = name.trim_matches('/');
        S3Place {
            prefix: if self.prefix.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", self.prefix)
            },
            ..self.clone()
        }
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn key(&self, file: &str) -> String {
        if self.prefix.is_empty() {
            file.to_string()
        } else {
            format!("{}/{file}", self.prefix)
        }
    }
}

async fn client(place: &S3Place) -> Client {
    let region =
        RegionProviderChain::first_try(place.region.clone().map(aws_sdk_s3::config::Region::new))
            .or_default_provider()
            .or_else("us-east-1");
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .load()
        .await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(place.path_style)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(url) = &place.endpoint_url {
        config = config.endpoint_url(url);
    }
    Client::from_conf(config.build())
}

/// Uploads every file of `dir` to `place`, each key `prefix/{file_prefix}{name}`; the number uploaded.
/// Stops at the first file that still fails after the retries.
pub async fn upload_dir(
    place: &S3Place,
    dir: &Path,
    file_prefix: &str,
) -> Result<usize, StoreError> {
    upload_files(place, &super::files_in(dir)?, file_prefix).await
}

/// Uploads `files`, in this order, to `place` (keys `prefix/{file_prefix}{name}`).
pub async fn upload_files(
    place: &S3Place,
    files: &[std::path::PathBuf],
    file_prefix: &str,
) -> Result<usize, StoreError> {
    let client = client(place).await;
    for path in files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let key = place.key(&format!("{file_prefix}{name}"));
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StoreError::S3(format!("cannot read {}: {e}", path.display())))?;
        client
            .put_object()
            .bucket(&place.bucket)
            .key(&key)
            .content_type(content_type(&name))
            .body(body)
            .send()
            .await
            .map_err(|e| {
                StoreError::S3(format!(
                    "upload of s3://{}/{key} failed after up to {MAX_ATTEMPTS} attempts: {}",
                    place.bucket,
                    describe(&e)
                ))
            })?;
    }
    Ok(files.len())
}

/// Downloads every object directly under `place` into `dest`; `Ok(0)` when there are none.
pub async fn download_dir(place: &S3Place, dest: &Path) -> Result<usize, StoreError> {
    let client = client(place).await;
    let keys = listing(&client, place, false).await?.keys;
    if keys.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(dest).map_err(local("create", dest))?;
    for key in &keys {
        let name = key.rsplit('/').next().unwrap_or(key);
        let object = client
            .get_object()
            .bucket(&place.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                StoreError::S3(format!(
                    "cannot download s3://{}/{key}: {}",
                    place.bucket,
                    describe(&e)
                ))
            })?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| {
                StoreError::S3(format!("cannot download s3://{}/{key}: {e}", place.bucket))
            })?
            .into_bytes();
        let path = dest.join(name);
        std::fs::write(&path, &bytes).map_err(local("write", &path))?;
    }
    Ok(keys.len())
}

/// What a listing of `place` found: object keys, and the names of the "directories" one level down.
#[derive(Default)]
struct Listing {
    keys: Vec<String>,
    dirs: Vec<String>,
}

/// Lists `place`: only what lies directly under it (`deep` false: keys there, and the directories
/// below as names), or every key further down too (`deep` true).
async fn listing(client: &Client, place: &S3Place, deep: bool) -> Result<Listing, StoreError> {
    let prefix = place.key("");
    let mut found = Listing::default();
    let mut pages = client
        .list_objects_v2()
        .bucket(&place.bucket)
        .prefix(&prefix)
        .set_delimiter((!deep).then(|| "/".to_string()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            StoreError::S3(format!("cannot list {}: {}", place.url(), describe(&e)))
        })?;
        let keys = page.contents().iter().filter_map(|o| o.key());
        found.keys.extend(keys.map(str::to_string));
        found
            .dirs
            .extend(page.common_prefixes().iter().filter_map(|p| {
                let name = p.prefix()?.strip_prefix(&prefix)?.trim_end_matches('/');
                (!name.is_empty()).then(|| name.to_string())
            }));
    }
    found.dirs.sort();
    Ok(found)
}

/// Whether any object lies directly under `place`.
pub async fn has_objects(place: &S3Place) -> Result<bool, StoreError> {
    let found = listing(&client(place).await, place, false).await?;
    Ok(!found.keys.is_empty())
}

/// Deletes the objects directly under `place` (not further down).
pub async fn delete_objects_here(place: &S3Place) -> Result<usize, StoreError> {
    let client = client(place).await;
    let found = listing(&client, place, false).await?;
    delete_keys(&client, place, &found.keys).await
}

/// The names of the "directories" directly under `place` (the common prefixes one level down), in
/// name order.
pub async fn list_dirs(place: &S3Place) -> Result<Vec<String>, StoreError> {
    Ok(listing(&client(place).await, place, false).await?.dirs)
}

/// Deletes every object under `place` (its whole "directory").
pub async fn delete_dir(place: &S3Place) -> Result<usize, StoreError> {
    let client = client(place).await;
    let found = listing(&client, place, true).await?;
    delete_keys(&client, place, &found.keys).await
}

async fn delete_keys(
    client: &Client,
    place: &S3Place,
    keys: &[String],
) -> Result<usize, StoreError> {
    for key in keys {
        client
            .delete_object()
            .bucket(&place.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                StoreError::S3(format!(
                    "cannot delete s3://{}/{key}: {}",
                    place.bucket,
                    describe(&e)
                ))
            })?;
    }
    Ok(keys.len())
}

/// The SDK's error with its source chain (its `Display` alone is often just "service error").
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub(super) fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}
