//! Downloads from a Hugging Face style hub (`$HF_ENDPOINT`, default `https://huggingface.co`): one file
//! of a repository at `main`, fetched once into `~/.cache/infergate/<kind>/` and read from there
//! afterwards. Offline, the error says what to pass instead. Tokenizers use it today; datasets next.

use std::path::PathBuf;
use std::time::Duration;

use super::{Http, describe_error};
use crate::scenario::Secret;

/// Why a file could not be had from the hub.
#[derive(Debug, thiserror::Error)]
#[error("{hint} ({detail})")]
pub struct HubError {
    /// What could not be downloaded and what to pass instead.
    pub hint: String,
    /// What went wrong (transport, HTTP status, the local cache).
    pub detail: String,
}

/// The hub's address: `$HF_ENDPOINT`, or huggingface.co.
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".into())
}

/// Where `repo`'s `file` is kept once downloaded (`kind` separates tokenizers from datasets).
pub fn cache_path(kind: &str, repo: &str, file: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/infergate")
        .join(kind)
        .join(repo.replace('/', "--"))
        .join(file)
}

/// What to download and what to tell the user when it cannot be.
pub struct Request<'a> {
    pub hub: &'a str,
    pub kind: &'a str,
    pub repo: &'a str,
    pub file: &'a str,
    /// For gated repositories; `HF_TOKEN` when not given.
    pub token: Option<&'a Secret>,
    /// The first half of the error message, e.g. "tokenizer: cannot download `x` from hub; pass ...".
    pub hint: String,
}

/// The cached copy of the file, downloading it first when there is none.
pub async fn fetch(request: Request<'_>) -> Result<PathBuf, HubError> {
    let path = cache_path(request.kind, request.repo, request.file);
    if path.exists() {
        return Ok(path);
    }
    let fail = |detail: String| HubError {
        hint: request.hint.clone(),
        detail,
    };
    let url = format!(
        "{}/{}/resolve/main/{}",
        request.hub.trim_end_matches('/'),
        request.repo,
        request.file
    );
    let env_token = std::env::var("HF_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    let token = request.token.or(env_token.as_ref());
    let http = Http::to_hub(token)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(describe_error(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let bytes = response.bytes().await.map_err(|e| fail(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(&path, &bytes).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(path)
}
