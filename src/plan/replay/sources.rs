//! Where trace records come from: a directory's `*.json` files, a list of files and glob patterns,
//! or a hub dataset's files (parquet rows, JSON or JSON Lines), downloaded once into the cache.
//!
//! A relative path is looked up from the working directory, then from the scenario's directory and
//! each one above it, so a file written for inference-perf's repository root
//! (`examples/otel/test_traces/...`) loads from wherever the scenario sits in that tree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;

use crate::client::hub::{self, HubError};
use crate::scenario::replay::{SessionReplay, TraceKind, TraceSource};

/// One trace record and where it came from.
pub struct Record {
    pub value: Value,
    /// The file (and row) it was read from.
    pub source: String,
}

/// Every record of the replay's source; unreadable files are errors unless `skip_invalid_files`
/// (then they are listed in `skipped`).
pub async fn records(
    replay: &SessionReplay,
    simulated: bool,
    hub_url: &str,
    cache: &Path,
    skipped: &mut Vec<String>,
) -> Result<Vec<Record>, String> {
    let files = match &replay.source {
        TraceSource::Directory(dir) => {
            let dir = locate(dir, &replay.search).ok_or_else(|| {
                format!(
                    "trace_directory {} does not exist{}",
                    dir.display(),
                    looked(&replay.search)
                )
            })?;
            if !dir.is_dir() {
                return Err(format!(
                    "trace_directory {} is not a directory",
                    dir.display()
                ));
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(format!("no *.json files in {}", dir.display()));
            }
            files
        }
        TraceSource::Files(patterns) => {
            let mut files = Vec::new();
            for pattern in patterns {
                files.extend(expand(pattern, &replay.search)?);
            }
            files
        }
        TraceSource::Hub { repo, split, .. } => {
            if let TraceKind::Weka(w) = replay.kind {
                return weka_hub(repo, w.num_dataset_entries, simulated, hub_url, cache).await;
            }
            return hub_records(repo, split, simulated, hub_url, cache).await;
        }
    };
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let read = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()));
        match read {
            Ok(value) => out.push(Record {
                value,
                source: file.display().to_string(),
            }),
            Err(e) if replay.skip_invalid_files => skipped.push(format!("{}: {e}", file.display())),
            Err(e) => {
                return Err(format!(
                    "{}: {e} (skip_invalid_files: true skips it)",
                    file.display()
                ));
            }
        }
    }
    Ok(out)
}

fn looked(search: &[PathBuf]) -> String {
    match search.first() {
        Some(dir) => format!(
            " (looked in the working directory, then from {} upwards)",
            dir.display()
        ),
        None => String::new(),
    }
}

/// `path` as given when it exists (absolute, or from the working directory), else under the
/// first of `search` that has it.
fn locate(path: &Path, search: &[PathBuf]) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    if path.is_absolute() {
        return None;
    }
    search.iter().map(|d| d.join(path)).find(|p| p.exists())
}

/// A file, or a glob pattern's files in name order.
fn expand(pattern: &str, search: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let path = Path::new(pattern);
    if !pattern.contains(['*', '?']) {
        let found = locate(path, search)
            .ok_or_else(|| format!("trace file {pattern} does not exist{}", looked(search)))?;
        if !found.is_file() {
            return Err(format!("trace file {} is not a file", found.display()));
        }
        return Ok(vec![found]);
    }
    // The pattern's directory part before its first wildcard, found like a path.
    let fixed: PathBuf = path
        .components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?']))
        .collect();
    let base = if fixed.as_os_str().is_empty() {
        Some(PathBuf::from("."))
    } else {
        locate(&fixed, search)
    };
    let Some(base) = base else {
        return Err(format!("no file matches {pattern}{}", looked(search)));
    };
    let rest = path
        .strip_prefix(&fixed)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    let mut found = Vec::new();
    walk(&base, &base, &rest, &mut found);
    found.sort();
    if found.is_empty() {
        return Err(format!("no file matches {pattern}"));
    }
    Ok(found)
}

fn walk(base: &Path, dir: &Path, pattern: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(base, &path, pattern, found);
        } else if let Ok(relative) = path.strip_prefix(base) {
            let relative = relative.to_string_lossy().replace('\\', "/");
            if crate::plan::visionarena::glob_match(pattern.as_bytes(), relative.as_bytes()) {
                found.push(path);
            }
        }
    }
}

/// A hub dataset's records: its split's parquet files (each row a record), or its JSON and JSON
/// Lines files. Against the simulator nothing is downloaded: a dataset not cached is an error.
async fn hub_records(
    repo: &str,
    split: &str,
    simulated: bool,
    hub_url: &str,
    cache: &Path,
) -> Result<Vec<Record>, String> {
    let hint = format!(
        "otel_trace_replay: cannot read the dataset {repo} from {hub_url}; set HF_ENDPOINT to a hub \
         that mirrors it, download its files into {}, or use trace_directory with local traces",
        hub::cache_path_in(cache, hub::DATASETS, repo, "").display()
    );
    let request = |file| {
        let timeout = Duration::from_secs(3600);
        hub::Request::dataset(hub_url, cache, repo, file, hint.clone(), timeout)
    };
    let listed = hub::cache_path_in(cache, hub::DATASETS, repo, "files.json");
    if simulated && !listed.exists() {
        return Err(format!(
            "otel_trace_replay: the dataset {repo} is not downloaded for a run against the simulator \
             (nothing is downloaded then); run once against a target to cache it, or use local traces"
        ));
    }
    let shown = |e: HubError| e.to_string();
    let all = hub::list(&request("")).await.map_err(shown)?;
    let in_split = |f: &&String| {
        f.split('/').any(|part| {
            part == split
                || part.starts_with(&format!("{split}-"))
                || part.starts_with(&format!("{split}."))
        })
    };
    let mut files: Vec<&String> = all
        .iter()
        .filter(|f| f.ends_with(".parquet"))
        .filter(in_split)
        .collect();
    if files.is_empty() {
        files = all.iter().filter(|f| f.ends_with(".parquet")).collect();
    }
    if files.is_empty() {
        files = all
            .iter()
            .filter(|f| f.ends_with(".json") || f.ends_with(".jsonl"))
            .collect();
    }
    if files.is_empty() {
        return Err(format!(
            "{hint}: the dataset has no parquet, JSON or JSON Lines files"
        ));
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let path = hub::fetch(request(file)).await.map_err(shown)?;
        read_local(&path, &mut out)?;
    }
    Ok(out)
}

/// A Weka dataset's `traces.jsonl` (the file inference-perf downloads), its first `entries` lines.
async fn weka_hub(
    repo: &str,
    entries: u32,
    simulated: bool,
    hub_url: &str,
    cache: &Path,
) -> Result<Vec<Record>, String> {
    let file = "traces.jsonl";
    let local = hub::cache_path_in(cache, hub::DATASETS, repo, file);
    if simulated && !local.exists() {
        return Err(format!(
            "weka_trace_replay: the dataset {repo} is not downloaded for a run against the simulator \
             (nothing is downloaded then); run once against a target to cache it, or put its \
             {file} at {}",
            local.display()
        ));
    }
    let hint = format!(
        "weka_trace_replay: cannot download {repo}/{file} from {hub_url}; set HF_ENDPOINT to a hub \
         that mirrors it, or put the file at {}",
        local.display()
    );
    let request =
        hub::Request::dataset(hub_url, cache, repo, file, hint, Duration::from_secs(3600));
    let path = hub::fetch(request).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    read_local(&path, &mut out)?;
    out.truncate(entries as usize);
    Ok(out)
}

/// The records of one downloaded file.
fn read_local(path: &Path, out: &mut Vec<Record>) -> Result<(), String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let name = path.to_string_lossy();
    if name.ends_with(".parquet") {
        let file = std::fs::File::open(path).map_err(|e| named(&e))?;
        let reader = SerializedFileReader::new(file).map_err(|e| named(&e))?;
        for (i, row) in reader
            .get_row_iter(None)
            .map_err(|e| named(&e))?
            .enumerate()
        {
            let row = row.map_err(|e| named(&e))?;
            let mut value = row.to_json_value();
            decode_strings(&mut value);
            out.push(Record {
                value,
                source: format!("{name}#{i}"),
            });
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| named(&e))?;
    if name.ends_with(".jsonl") {
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let value =
                serde_json::from_str(line).map_err(|e| named(&format!("line {}: {e}", i + 1)))?;
            out.push(Record {
                value,
                source: format!("{name}:{}", i + 1),
            });
        }
        return Ok(());
    }
    match serde_json::from_str::<Value>(&text).map_err(|e| named(&e))? {
        Value::Array(items) => out.extend(items.into_iter().enumerate().map(|(i, value)| Record {
            value,
            source: format!("{name}#{i}"),
        })),
        value => out.push(Record {
            value,
            source: name.into_owned(),
        }),
    }
    Ok(())
}

/// A `spans` column stored as a JSON string becomes the list it holds.
fn decode_strings(value: &mut Value) {
    if let Some(Value::String(s)) = value.get("spans")
        && let Ok(parsed) = serde_json::from_str::<Value>(s)
        && let Some(obj) = value.as_object_mut()
    {
        obj.insert("spans".into(), parsed);
    }
}
