//! Stage 7, the last: copies of what the reports wrote, and baselines read back for the gate.
//!
//! Where run directories are copied to and read back from: a local directory or an S3 (or
//! S3-compatible) prefix. Reports are always written locally first; copies elsewhere are extra, and a
//! copy that fails is reported without touching the local files or the verdict.

pub mod baseline;
pub mod gcs;
pub mod publish;
pub mod rendezvous;

pub mod s3;

use std::path::{Path, PathBuf};

use crate::scenario::{Addressing, S3Storage};

/// Why a copy to or from a store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{0}`: an S3 location is s3://bucket/prefix")]
    BadLocation(String),
    /// A local file or directory could not be read, created or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Local {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy {} to {}: {source}", from.display(), to.display())]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// S3 refused or could not be reached (after the SDK's retries); the message names the object.
    #[error("{0}")]
    S3(String),
    /// Google Cloud Storage refused, or no credentials.
    #[error("{0}")]
    Gcs(String),
    /// What the location holds is not a baseline.
    #[error("{0}")]
    NotABaseline(String),
    #[error("cannot start a runtime for storage: {0}")]
    Runtime(#[source] std::io::Error),
}

/// `StoreError::Local` for `path`.
pub(crate) fn local(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Local {
        action,
        path,
        source,
    }
}

/// A place that holds run directories.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Local(PathBuf),
    S3(s3::S3Place),
}

impl Location {
    /// `s3://bucket/prefix` or a directory. For S3, the endpoint, region and addressing style come
    /// from the scenario's `storage.simple_storage_service` when it names the same bucket, else from
    /// the standard AWS settings (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, `AWS_REGION`, profile).
    pub fn parse(text: &str, storage: Option<&S3Storage>) -> Result<Location, StoreError> {
        let Some(rest) = text.strip_prefix("s3://") else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::BadLocation(text.to_string()));
        }
        let same_bucket = storage.filter(|s| s.bucket_name == bucket);
        Ok(Location::S3(place(bucket, prefix, same_bucket)))
    }

    /// The same kind of place, one level down (`name` may contain `/`).
    pub fn join(&self, name: &str) -> Location {
        match self {
            Location::Local(dir) => Location::Local(dir.join(name)),
            Location::S3(place) => Location::S3(place.join(name)),
        }
    }

    /// For messages: the path or `s3://bucket/prefix`.
    pub fn display(&self) -> String {
        match self {
            Location::Local(dir) => dir.display().to_string(),
            Location::S3(place) => place.url(),
        }
    }

    /// Copies every file of `dir` (not sub-directories) here, replacing what was there.
    pub async fn put_dir(&self, dir: &Path) -> Result<usize, StoreError> {
        match self {
            Location::Local(dest) => copy_files(dir, dest),
            Location::S3(place) => s3::upload_dir(place, dir, "").await,
        }
    }

    /// Copies `files`, in this order, here; each arrives whole (a local file through a temporary
    /// name and a rename, an S3 object by one PUT).
    pub async fn put_files(&self, files: &[PathBuf]) -> Result<usize, StoreError> {
        match self {
            Location::Local(dest) => {
                std::fs::create_dir_all(dest).map_err(local("create", dest))?;
                for path in files {
                    let name = path.file_name().unwrap_or_default();
                    copy_whole(path, &dest.join(name))?;
                }
                Ok(files.len())
            }
            Location::S3(place) => s3::upload_files(place, files, "").await,
        }
    }

    /// Whether any file lies directly here.
    pub async fn has_files(&self) -> Result<bool, StoreError> {
        match self {
            Location::Local(dir) if !dir.is_dir() => Ok(false),
            Location::Local(dir) => Ok(!files_in(dir)?.is_empty()),
            Location::S3(place) => s3::has_objects(place).await,
        }
    }

    /// Removes the files directly here, leaving the directories below.
    pub async fn remove_files(&self) -> Result<(), StoreError> {
        match self {
            Location::Local(dir) if !dir.is_dir() => Ok(()),
            Location::Local(dir) => {
                for path in files_in(dir)? {
                    std::fs::remove_file(&path).map_err(local("remove", &path))?;
                }
                Ok(())
            }
            Location::S3(place) => s3::delete_objects_here(place).await.map(|_| ()),
        }
    }

    /// The directories directly here, in name order (none when there is nothing here).
    pub async fn list_dirs(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Location::Local(dir) if !dir.is_dir() => Ok(Vec::new()),
            Location::Local(dir) => {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(dir).map_err(local("read", dir))? {
                    let entry = entry.map_err(local("read", dir))?;
                    if entry.path().is_dir() {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                names.sort();
                Ok(names)
            }
            Location::S3(place) => s3::list_dirs(place).await,
        }
    }

    /// Removes everything here; nothing here is not an error.
    pub async fn remove_dir(&self) -> Result<(), StoreError> {
        match self {
            Location::Local(dir) => match std::fs::remove_dir_all(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(local("remove", dir)(e)),
                _ => Ok(()),
            },
            Location::S3(place) => s3::delete_dir(place).await.map(|_| ()),
        }
    }

    /// Copies every file here into `dest`; `Ok(0)` when there is nothing here.
    pub async fn get_dir(&self, dest: &Path) -> Result<usize, StoreError> {
        match self {
            Location::Local(src) if !src.is_dir() => Ok(0),
            Location::Local(src) => copy_files(src, dest),
            Location::S3(place) => s3::download_dir(place, dest).await,
        }
    }
}

/// The S3 place of a scenario's `storage.simple_storage_service`, with `{timestamp}` in its path
/// replaced by `started` (`20261123-104501`, UTC).
pub fn report_place(s3: &S3Storage, scenario: &str, started: std::time::SystemTime) -> s3::S3Place {
    let prefix = s3.path.replace("{timestamp}", &timestamp(started));
    place(&s3.bucket_name, &prefix, Some(s3)).join(scenario)
}

/// `bucket/prefix`, reached as `storage` says (endpoint, region, addressing style), else by the
/// standard AWS settings; a custom endpoint from either means path-style addressing unless the
/// storage says otherwise.
fn place(bucket: &str, prefix: &str, storage: Option<&S3Storage>) -> s3::S3Place {
    let endpoint_url = storage
        .and_then(|s| s.endpoint_url.clone())
        .or_else(env_endpoint);
    let addressing = storage.map_or(Addressing::Auto, |s| s.addressing_style);
    s3::S3Place {
        bucket: bucket.to_string(),
        prefix: prefix.trim_matches('/').to_string(),
        path_style: addressing.path_style(endpoint_url.is_some()),
        endpoint_url,
        region: storage.and_then(|s| s.region_name.clone()),
    }
}

fn env_endpoint() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// The files directly in `dir` (not its subdirectories), in name order: what an upload sends.
pub(crate) fn files_in(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(local("read", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn copy_files(src: &Path, dest: &Path) -> Result<usize, StoreError> {
    std::fs::create_dir_all(dest).map_err(local("create", dest))?;
    let entries = std::fs::read_dir(src).map_err(local("read", src))?;
    let mut copied = 0;
    for entry in entries {
        let path = entry.map_err(local("read", src))?.path();
        if path.is_file()
            && let Some(name) = path.file_name()
        {
            let to = dest.join(name);
            std::fs::copy(&path, &to).map_err(|source| StoreError::Copy {
                from: path.clone(),
                to: to.clone(),
                source,
            })?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Copies `from` to `to` through a temporary name beside it, so a reader never sees half a file.
fn copy_whole(from: &Path, to: &Path) -> Result<(), StoreError> {
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let temporary = to.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let failed = |source| StoreError::Copy {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    };
    std::fs::copy(from, &temporary).map_err(failed)?;
    std::fs::rename(&temporary, to).map_err(failed)
}

/// `YYYYmmdd-HHMMSS` in UTC, as inference-perf names its report folders.
pub fn timestamp(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, mo, d, h, mi, s) = crate::report::metadata::utc_parts(secs as i64);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_times() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_400_701);
        assert_eq!(timestamp(at), "20261123-022501");
        assert_eq!(timestamp(std::time::UNIX_EPOCH), "19700101-000000");
    }

    #[test]
    fn locations_parse_s3_urls_and_directories() {
        assert_eq!(
            Location::parse("baselines", None).unwrap(),
            Location::Local("baselines".into())
        );
        let storage = S3Storage {
            bucket_name: "perf".into(),
            path: "x".into(),
            report_file_prefix: String::new(),
            endpoint_url: Some("http://127.0.0.1:9000".into()),
            region_name: Some("eu-west-1".into()),
            addressing_style: Addressing::Auto,
        };
        let Location::S3(place) = Location::parse("s3://perf/main/", Some(&storage)).unwrap()
        else {
            panic!("not s3");
        };
        assert_eq!(place.prefix, "main");
        assert!(place.path_style);
        assert_eq!(place.region.as_deref(), Some("eu-west-1"));
        assert_eq!(place.join("smoke").url(), "s3://perf/main/smoke");
        assert!(Location::parse("s3:///x", None).is_err());
    }
}
