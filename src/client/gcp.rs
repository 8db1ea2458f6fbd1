//! Google Cloud access for `metrics.prometheus.google_managed` (Managed Service for Prometheus) and
//! `storage.google_cloud_storage`: an OAuth access token and the project, from
//!
//! 1. `GOOGLE_OAUTH_ACCESS_TOKEN` (e.g. `gcloud auth print-access-token`) with `GOOGLE_CLOUD_PROJECT`;
//! 2. else the metadata server, as on GKE with Workload Identity or on GCE (`GCE_METADATA_HOST`, else
//!    `metadata.google.internal`): `instance/service-accounts/default/token` and `project/project-id`
//!    (`GOOGLE_CLOUD_PROJECT` wins when set).
//!
//! A service-account key file (`GOOGLE_APPLICATION_CREDENTIALS`) is not read: it needs a signed JWT
//! exchange. The token is a `Secret`; it is never printed.

use std::time::Duration;

use serde::Deserialize;

use super::{Http, describe_error};
use crate::scenario::Secret;

/// Where Managed Service for Prometheus and Cloud Storage are (`INFERGATE_GCP_MONITORING_URL`,
/// `STORAGE_EMULATOR_HOST` override them, for tests and emulators).
pub const MONITORING: &str = "https://monitoring.googleapis.com";
pub const STORAGE: &str = "https://storage.googleapis.com";

/// An access token and the project it works in.
#[derive(Debug, Clone)]
pub struct Access {
    pub token: Secret,
    pub project: Option<String>,
}

/// The metadata server's root: `GCE_METADATA_HOST` (a host and port), else Google's.
pub fn metadata_root() -> String {
    let host = std::env::var("GCE_METADATA_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "metadata.google.internal".into());
    format!("http://{host}/computeMetadata/v1")
}

/// Managed Service for Prometheus' API root for `project` under the monitoring API at `base`
/// (`/api/v1/...` goes after it).
pub fn prometheus_url(base: &str, project: &str) -> String {
    format!(
        "{}/v1/projects/{project}/location/global/prometheus",
        base.trim_end_matches('/')
    )
}

/// A token and project, from the environment or the metadata server at `metadata` (see the module).
pub async fn access(metadata: &str) -> Result<Access, String> {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let project = env("GOOGLE_CLOUD_PROJECT");
    if let Some(token) = env("GOOGLE_OAUTH_ACCESS_TOKEN") {
        return Ok(Access {
            token: Secret::new(token),
            project,
        });
    }
    let http = Http::default()
        .headers(&[("Metadata-Flavor".into(), "Google".into())])
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let get = |path: &'static str| {
        let url = format!("{}/{path}", metadata.trim_end_matches('/'));
        let http = http.clone();
        async move {
            let response = http.get(&url).send().await.map_err(|e| {
                format!(
                    "no Google credentials: the metadata server ({url}) cannot be reached ({}); \
                     on GKE use Workload Identity, elsewhere set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. to \
                     `gcloud auth print-access-token`) and GOOGLE_CLOUD_PROJECT",
                    describe_error(&e)
                )
            })?;
            if !response.status().is_success() {
                return Err(format!(
                    "the metadata server answered HTTP {} for {path}",
                    response.status()
                ));
            }
            response.text().await.map_err(|e| describe_error(&e))
        }
    };
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
    }
    let body = get("instance/service-accounts/default/token").await?;
    let token: Token = serde_json::from_str(&body).map_err(|_| {
        "the metadata server's token reply is not JSON with access_token".to_string()
    })?;
    let project = match project {
        Some(p) => Some(p),
        None => Some(get("project/project-id").await?.trim().to_string()),
    };
    Ok(Access {
        token: Secret::new(token.access_token),
        project,
    })
}
