//! Downloads from a Hugging Face style hub (`$HF_ENDPOINT`, default `https://huggingface.co`): one file
//! of a model or dataset repository at `main`, fetched once into `<cache>/<kind>/` (`cache_root`:
//! `$INFERGATE_CACHE`, else `~/.cache/infergate`) and read from there afterwards. The file is streamed
//! to disk and renamed into place only when whole, so an interrupted download is never taken for a
//! copy. Offline, the error says what to pass instead. Tokenizers and the ShareGPT dataset use it.

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// Where downloads are kept: `$INFERGATE_CACHE`, else `~/.cache/infergate`.
pub fn cache_root() -> PathBuf {
    if let Some(root) = std::env::var_os("INFERGATE_CACHE").filter(|r| !r.is_empty()) {
        return PathBuf::from(root);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/infergate")
}

/// Where `repo`'s `file` is kept once downloaded (`kind` separates tokenizers from datasets).
pub fn cache_path(kind: &str, repo: &str, file: &str) -> PathBuf {
    cache_path_in(&cache_root(), kind, repo, file)
}

/// `cache_path` under another root.
pub fn cache_path_in(root: &Path, kind: &str, repo: &str, file: &str) -> PathBuf {
    root.join(kind).join(repo.replace('/', "--")).join(file)
}

/// What to download and what to tell the user when it cannot be.
pub struct Request<'a> {
    pub hub: &'a str,
    /// Where the cache is (`cache_root()` unless a caller keeps its own).
    pub cache: &'a Path,
    pub kind: &'a str,
    /// A dataset repository (`{hub}/datasets/{repo}/...`) rather than a model's.
    pub dataset: bool,
    pub repo: &'a str,
    pub file: &'a str,
    /// For gated repositories; `HF_TOKEN` when not given.
    pub token: Option<&'a Secret>,
    /// The first half of the error message, e.g. "tokenizer: cannot download `x` from hub; pass ...".
    pub hint: String,
    /// How long the whole download may take.
    pub timeout: Duration,
}

/// Where hub datasets are cached (`cache_path`'s `kind`).
pub const DATASETS: &str = "datasets";

impl<'a> Request<'a> {
    /// A public dataset's `file` (`""` for its listing), cached under `DATASETS`.
    pub fn dataset(
        hub: &'a str,
        cache: &'a Path,
        repo: &'a str,
        file: &'a str,
        hint: String,
        timeout: Duration,
    ) -> Request<'a> {
        Request {
            hub,
            cache,
            kind: DATASETS,
            dataset: true,
            repo,
            file,
            token: None,
            hint,
            timeout,
        }
    }

    /// An HTTP client for the hub with the request's token, else `HF_TOKEN`.
    fn client(&self, timeout: Duration) -> Result<reqwest::Client, super::ClientError> {
        let env_token = std::env::var("HF_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        Http::to_hub(self.token.or(env_token.as_ref()))
            .timeout(timeout)
            .build()
    }
}

/// The cached copy of the file, downloading it first when there is none.
pub async fn fetch(request: Request<'_>) -> Result<PathBuf, HubError> {
    let path = cache_path_in(request.cache, request.kind, request.repo, request.file);
    if path.exists() {
        return Ok(path);
    }
    let fail = |detail: String| HubError {
        hint: request.hint.clone(),
        detail,
    };
    let url = format!(
        "{}/{}{}/resolve/main/{}",
        request.hub.trim_end_matches('/'),
        if request.dataset { "datasets/" } else { "" },
        request.repo,
        request.file
    );
    let http = request
        .client(request.timeout)
        .map_err(|e| fail(e.to_string()))?;
    let mut response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(describe_error(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let dir = path.parent().unwrap_or(request.cache);
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let partial = path.with_extension(format!("part-{}", std::process::id()));
    let written = async {
        let mut file = std::fs::File::create(&partial).map_err(|e| e.to_string())?;
        while let Some(chunk) = response.chunk().await.map_err(|e| describe_error(&e))? {
            file.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&partial, &path).map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(fail(format!("{}: {e}", path.display())));
    }
    Ok(path)
}

/// The files of `request.repo` (its `siblings` in the hub's API), from a listing cached beside its
/// downloads when there is one, so a repository once listed needs no network again.
pub async fn list(request: &Request<'_>) -> Result<Vec<String>, HubError> {
    let cached = cache_path_in(request.cache, request.kind, request.repo, "files.json");
    if let Ok(text) = std::fs::read_to_string(&cached)
        && let Ok(files) = serde_json::from_str::<Vec<String>>(&text)
    {
        return Ok(files);
    }
    let fail = |detail: String| HubError {
        hint: request.hint.clone(),
        detail,
    };
    let url = format!(
        "{}/api/{}{}",
        request.hub.trim_end_matches('/'),
        if request.dataset {
            "datasets/"
        } else {
            "models/"
        },
        request.repo
    );
    let http = request
        .client(Duration::from_secs(60))
        .map_err(|e| fail(e.to_string()))?;
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(describe_error(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!(
            "HTTP {} listing {}",
            response.status(),
            request.repo
        )));
    }
    #[derive(serde::Deserialize)]
    struct Sibling {
        rfilename: String,
    }
    #[derive(serde::Deserialize)]
    struct Info {
        #[serde(default)]
        siblings: Vec<Sibling>,
    }
    let info: Info = response.json().await.map_err(|e| {
        fail(format!(
            "the listing of {}: {}",
            request.repo,
            describe_error(&e)
        ))
    })?;
    let files: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    if let Some(dir) = cached.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let _ = std::fs::write(&cached, serde_json::to_string(&files).unwrap_or_default());
    }
    Ok(files)
}
