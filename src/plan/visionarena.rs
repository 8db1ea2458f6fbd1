//! `data.type: visionarena`: real image and prompt pairs from the hub dataset inference-perf uses
//! (`lmarena-ai/VisionArena-Chat`), as its loader reads them: the first user turn of each row's
//! `conversation` is the prompt, and the row's `images` (encoded bytes, at most
//! `max_images_per_request`) go in as they are, PNG, JPEG or WebP (rows with other formats, no prompt
//! or no image are skipped). The first `num_rows` usable rows are kept and requests cycle through them.
//!
//! The dataset is parquet files on the hub: the split's files (`data/train-*.parquet`), or those
//! `hf_data_files` names, downloaded one at a time into the cache until enough usable rows are read,
//! before any load. Offline, the run stops with the hub's error; against the simulator nothing is
//! downloaded (a cached copy is used when there is one).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use crate::client::content::{MediaPart, PartKind};
use crate::client::hub::{self, HubError};
use crate::scenario::media::VisionArena;

/// One usable row.
#[derive(Debug, Clone)]
pub struct Row {
    pub prompt: String,
    pub images: Vec<Arc<MediaPart>>,
}

/// The dataset's files for `v`: those matching `hf_data_files` (a glob: `*` within a path segment,
/// `**` across them, `?` one character), else the parquet files of its split, in name order.
pub fn split_files(files: &[String], v: &VisionArena) -> Vec<String> {
    let mut out: Vec<String> = files
        .iter()
        .filter(|f| match &v.data_files {
            Some(glob) => glob_match(glob.as_bytes(), f.as_bytes()),
            None => {
                f.ends_with(".parquet")
                    && f.split('/').any(|part| {
                        part == v.split
                            || part.starts_with(&format!("{}-", v.split))
                            || part.starts_with(&format!("{}.", v.split))
                    })
            }
        })
        .cloned()
        .collect();
    out.sort();
    out
}

/// Whether `name` matches the glob `pattern` (`*` within a path segment, `**` across them, `?` one
/// character).
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) if pattern.get(1) == Some(&b'*') => {
            let rest = pattern[2..].strip_prefix(b"/").unwrap_or(&pattern[2..]);
            (0..=name.len()).any(|i| glob_match(rest, &name[i..]))
        }
        (Some(b'*'), _) => {
            let limit = name.iter().position(|&c| c == b'/').unwrap_or(name.len());
            (0..=limit).any(|i| glob_match(&pattern[1..], &name[i..]))
        }
        (Some(b'?'), Some(&c)) if c != b'/' => glob_match(&pattern[1..], &name[1..]),
        (Some(p), Some(c)) if p == c => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// The local parquet files that hold `v.rows` usable rows (or all there are), downloaded when
/// needed. `None` against the simulator when nothing is cached.
pub async fn resolve(
    v: &VisionArena,
    simulated: bool,
    hub_url: &str,
    cache: &Path,
) -> Result<Option<Vec<PathBuf>>, HubError> {
    let hint = format!(
        "visionarena: cannot read {} from {hub_url}; set HF_ENDPOINT to a hub that mirrors it, or \
         download it into {} once",
        v.dataset,
        hub::cache_path_in(cache, hub::DATASETS, &v.dataset, "").display()
    );
    let request = |file| {
        let timeout = Duration::from_secs(1800);
        hub::Request::dataset(hub_url, cache, &v.dataset, file, hint.clone(), timeout)
    };
    let listed = hub::cache_path_in(cache, hub::DATASETS, &v.dataset, "files.json");
    if simulated && !listed.exists() {
        return Ok(None);
    }
    let files = split_files(&hub::list(&request("")).await?, v);
    if files.is_empty() {
        return Err(HubError {
            hint,
            detail: match &v.data_files {
                Some(glob) => format!("no file of the dataset matches hf_data_files `{glob}`"),
                None => format!("the dataset has no parquet files for split `{}`", v.split),
            },
        });
    }
    let mut local = Vec::new();
    let mut usable = 0;
    for file in &files {
        let path = hub::cache_path_in(cache, hub::DATASETS, &v.dataset, file);
        if simulated && !path.exists() {
            break;
        }
        let path = hub::fetch(request(file)).await?;
        let want = (v.rows as usize).saturating_sub(usable);
        // Only counted here: the rows' images are encoded when the generator reads them.
        usable += scan(&path, v.max_images, want, |_, _| ()).map_err(|detail| HubError {
            hint: hint.clone(),
            detail,
        })?;
        local.push(path);
        if usable >= v.rows as usize {
            break;
        }
    }
    Ok((!local.is_empty()).then_some(local))
}

/// The usable rows of the resolved files, at most `v.rows`.
pub fn read(v: &VisionArena) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for path in &v.files {
        let want = (v.rows as usize).saturating_sub(rows.len());
        rows.extend(read_file(path, v.max_images, want)?);
        if rows.len() >= v.rows as usize {
            break;
        }
    }
    if rows.is_empty() {
        return Err(format!(
            "visionarena: no usable row (a user prompt and a PNG, JPEG or WebP image) in {}",
            v.dataset
        ));
    }
    Ok(rows)
}

fn read_file(path: &Path, max_images: u32, want: usize) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    scan(path, max_images, want, |prompt, images| {
        let images = images
            .into_iter()
            .map(|(mime, bytes)| Arc::new(MediaPart::new(PartKind::Image, mime, bytes)))
            .collect();
        rows.push(Row { prompt, images });
    })?;
    Ok(rows)
}

/// Hands the first `want` usable rows of `path` to `keep` (the prompt, and each image's type and
/// bytes); how many there were.
fn scan(
    path: &Path,
    max_images: u32,
    want: usize,
    mut keep: impl FnMut(String, Vec<(&'static str, &[u8])>),
) -> Result<usize, String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| named(&e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| named(&e))?;
    let mut usable = 0;
    for row in reader.get_row_iter(None).map_err(|e| named(&e))? {
        if usable >= want {
            break;
        }
        let row = row.map_err(|e| named(&e))?;
        let mut prompt = None;
        let mut images = Vec::new();
        for (name, field) in row.get_column_iter() {
            match name.as_str() {
                "conversation" => prompt = first_user_turn(field),
                "images" => {
                    if let Field::ListInternal(list) = field {
                        images = list
                            .elements()
                            .iter()
                            .take(max_images as usize)
                            .filter_map(image)
                            .collect();
                    }
                }
                _ => {}
            }
        }
        if let Some(prompt) = prompt
            && !images.is_empty()
        {
            keep(prompt, images);
            usable += 1;
        }
    }
    Ok(usable)
}

/// The first `{role: user, content}` with text, in turns that are lists of messages (the dataset's
/// layout) or messages themselves.
fn first_user_turn(field: &Field) -> Option<String> {
    let Field::ListInternal(turns) = field else {
        return None;
    };
    turns.elements().iter().find_map(|turn| match turn {
        Field::ListInternal(messages) => messages.elements().iter().find_map(user_text),
        message => user_text(message),
    })
}

fn user_text(message: &Field) -> Option<String> {
    let Field::Group(m) = message else {
        return None;
    };
    let get = |key: &str| {
        m.get_column_iter().find_map(|(k, v)| match v {
            Field::Str(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    };
    match (get("role"), get("content")) {
        (Some("user"), Some(text)) if !text.trim().is_empty() => Some(text.to_string()),
        _ => None,
    }
}

/// An image `{bytes, path}`, to be sent as it is when its bytes are PNG, JPEG or WebP: its type and
/// bytes.
fn image(field: &Field) -> Option<(&'static str, &[u8])> {
    let Field::Group(g) = field else {
        return None;
    };
    let bytes = g.get_column_iter().find_map(|(k, v)| match v {
        Field::Bytes(b) if k == "bytes" => Some(b.data()),
        _ => None,
    })?;
    let mime = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        return None;
    };
    Some((mime, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::media::Insertion;

    fn arena(split: &str, data_files: Option<&str>) -> VisionArena {
        VisionArena {
            dataset: "lmarena-ai/VisionArena-Chat".into(),
            split: split.into(),
            data_files: data_files.map(str::to_string),
            rows: 10,
            max_images: 1,
            insertion: Insertion::At(0.0),
            files: Vec::new(),
        }
    }

    #[test]
    fn a_split_is_its_parquet_files_and_a_glob_picks_its_own() {
        let files: Vec<String> = [
            "README.md",
            "data/train-00001-of-00002.parquet",
            "data/train-00000-of-00002.parquet",
            "data/test-00000-of-00001.parquet",
            "train/part.parquet",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            split_files(&files, &arena("train", None)),
            [
                "data/train-00000-of-00002.parquet",
                "data/train-00001-of-00002.parquet",
                "train/part.parquet"
            ]
        );
        assert_eq!(
            split_files(&files, &arena("train", Some("data/train-00001-*.parquet"))),
            ["data/train-00001-of-00002.parquet"]
        );
        assert_eq!(
            split_files(&files, &arena("train", Some("**/*.parquet"))).len(),
            4
        );
        assert!(split_files(&files, &arena("train", Some("*.parquet"))).is_empty());
    }
}
