//! Datasets: ShareGPT's first human turns, from a local file or from the copy inference-perf uses.
//!
//! With no `data.path`, inference-perf streams `anon8231489123/ShareGPT_Vicuna_unfiltered`'s
//! `ShareGPT_V3_unfiltered_cleaned_split.json` from the hub. infergate downloads that file once (from
//! `$HF_ENDPOINT`, with `$HF_TOKEN`) into the cache the tokenizers use and reads it from there;
//! offline, the run stops before any load and says how to pass `data.path`. Against the simulator
//! nothing is downloaded: a cached copy is used if there is one, else generated prompts with the
//! scenario's length distributions stand in, and a warning says so.
//!
//! The file (about 670 MB) is read as a stream: the first `SHAREGPT_MAX` usable conversations are
//! kept and the rest is skipped without being built.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{IgnoredAny, SeqAccess, Visitor};

use crate::client::hub::{self, HubError};
use crate::plan::datagen::RequestSpec;
use crate::plan::tokens::TokenCounter;
use crate::plan::visionarena;
use crate::scenario::LengthDistribution;
use crate::scenario::media::{ImageEncoding, Images, Media, Size, VisionArena, Weighted};
use crate::scenario::{Data, DataSource};

/// Conversations kept from a ShareGPT file.
pub const SHAREGPT_MAX: usize = 10_000;

/// The hub dataset inference-perf reads when `data.path` is not set.
pub const SHAREGPT_REPO: &str = "anon8231489123/ShareGPT_Vicuna_unfiltered";
pub const SHAREGPT_FILE: &str = "ShareGPT_V3_unfiltered_cleaned_split.json";

/// The scenario's data with a hub dataset resolved to its local copy (downloading it first), or,
/// against the simulator without a cached copy, generated prompts instead (with a warning).
pub async fn resolve(
    data: &Data,
    simulated: bool,
    warnings: &mut Vec<String>,
) -> Result<Data, HubError> {
    resolve_from(
        data,
        simulated,
        &hub::endpoint(),
        &hub::cache_root(),
        warnings,
    )
    .await
}

/// `resolve` with the hub's address and the cache's root given.
pub async fn resolve_from(
    data: &Data,
    simulated: bool,
    hub_url: &str,
    cache: &Path,
    warnings: &mut Vec<String>,
) -> Result<Data, HubError> {
    if let DataSource::VisionArena(v) = &data.source {
        return visionarena(data, v, simulated, hub_url, cache, warnings).await;
    }
    let DataSource::ShareGpt { path: None } = data.source else {
        return Ok(data.clone());
    };
    let cached = cached_copy(cache);
    let source = if cached.exists() {
        DataSource::ShareGpt { path: Some(cached) }
    } else if simulated {
        warnings.push(format!(
            "shareGPT: the dataset is not downloaded for a run against the simulator; generated prompts \
             with data.input_distribution / output_distribution stand in (set data.path to a local \
             ShareGPT file, or run once against a target to cache {SHAREGPT_FILE})"
        ));
        DataSource::Generated
    } else {
        eprintln!(
            "shareGPT: downloading {SHAREGPT_REPO}/{SHAREGPT_FILE} (about 670 MB) from {hub_url} once, \
             into {}",
            cached.display()
        );
        let hint = format!(
            "shareGPT: data.path is not set and the dataset cannot be downloaded from {hub_url}; \
             download {SHAREGPT_FILE} from https://huggingface.co/datasets/{SHAREGPT_REPO} and set \
             data.path to it"
        );
        let timeout = Duration::from_secs(1800);
        let request =
            hub::Request::dataset(hub_url, cache, SHAREGPT_REPO, SHAREGPT_FILE, hint, timeout);
        let path = hub::fetch(request).await?;
        DataSource::ShareGpt { path: Some(path) }
    };
    Ok(Data {
        source,
        ..data.clone()
    })
}

/// `visionarena`: the dataset's files on this machine; against the simulator with nothing cached,
/// generated prompts with one-colour 512x512 PNGs stand in, and a warning says so.
async fn visionarena(
    data: &Data,
    v: &VisionArena,
    simulated: bool,
    hub_url: &str,
    cache: &Path,
    warnings: &mut Vec<String>,
) -> Result<Data, HubError> {
    let source = match visionarena::resolve(v, simulated, hub_url, cache).await? {
        Some(files) => DataSource::VisionArena(VisionArena { files, ..v.clone() }),
        None => {
            warnings.push(format!(
                "visionarena: {} is not downloaded for a run against the simulator; generated prompts \
                 with {} synthetic 512x512 PNG image(s) each stand in (run once against a target to \
                 cache it)",
                v.dataset, v.max_images
            ));
            let images = Images {
                count: LengthDistribution::Fixed(v.max_images),
                insertion: v.insertion,
                sizes: vec![Weighted {
                    value: Size {
                        width: 512,
                        height: 512,
                    },
                    weight: 1.0,
                }],
                encoding: ImageEncoding::Png,
            };
            return Ok(Data {
                source: DataSource::Generated,
                media: Some(Media {
                    images: Some(images),
                    ..Media::default()
                }),
                ..data.clone()
            });
        }
    };
    Ok(Data {
        source,
        ..data.clone()
    })
}

#[derive(Deserialize)]
struct Conversation {
    #[serde(default)]
    conversations: Vec<Turn>,
}

#[derive(Deserialize)]
struct Turn {
    #[serde(default)]
    from: String,
    #[serde(default)]
    value: String,
}

/// The first usable conversations of a ShareGPT file: a human turn followed by a gpt answer, each at
/// least 4 tokens (vLLM's benchmark drops shorter ones: they measure nothing but overhead).
pub fn share_gpt(path: &Path, tokens: &TokenCounter) -> Result<Vec<RequestSpec>, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("data.path {shown}: {e}"))?;
    let mut reader = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
    let specs = serde::Deserializer::deserialize_seq(&mut reader, Usable { tokens })
        .map_err(|e| {
            format!(
                "data.path {shown}: not a ShareGPT file (a JSON list of {{\"conversations\": [{{\"from\", \"value\"}}]}}): {e}"
            )
        })?;
    if specs.is_empty() {
        return Err(format!(
            "data.path {shown}: no conversation has a human turn followed by a gpt answer"
        ));
    }
    Ok(specs)
}

/// Reads the list one conversation at a time, keeping the usable ones up to `SHAREGPT_MAX`.
struct Usable<'a> {
    tokens: &'a TokenCounter,
}

impl<'de> Visitor<'de> for Usable<'_> {
    type Value = Vec<RequestSpec>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of conversations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut specs = Vec::new();
        while specs.len() < SHAREGPT_MAX {
            let Some(c) = seq.next_element::<Conversation>()? else {
                return Ok(specs);
            };
            let turns = &c.conversations;
            let Some(asked) = turns.iter().position(|t| t.from == "human") else {
                continue;
            };
            let Some(answer) = turns.get(asked + 1).filter(|t| t.from == "gpt") else {
                continue;
            };
            let prompt = turns[asked].value.clone();
            let prompt_tokens = self.tokens.count(&prompt);
            let max_tokens = self.tokens.count_text(&answer.value);
            if prompt_tokens >= 4 && max_tokens >= 4 {
                specs.push(RequestSpec {
                    prompt,
                    prompt_tokens,
                    max_tokens,
                    turn: None,
                    adapter: None,
                    media: None,
                });
            }
        }
        // Enough: the rest is skipped, never built.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(specs)
    }
}

/// Where the hub copy is kept under `cache`.
pub fn cached_copy(cache: &Path) -> PathBuf {
    hub::cache_path_in(cache, hub::DATASETS, SHAREGPT_REPO, SHAREGPT_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_gpt_takes_first_human_turns_and_answer_lengths() {
        let dir = std::env::temp_dir().join(format!("infergate-sharegpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sg.json");
        std::fs::write(
            &file,
            r#"[{"id":"a","conversations":[{"from":"human","value":"the river and the stone"},{"from":"gpt","value":"the old house by the road"}]},
                {"id":"b","conversations":[{"from":"gpt","value":"no question first"}]},
                {"id":"c","conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"too short to keep"}]}]"#,
        )
        .unwrap();
        let specs = share_gpt(&file, &TokenCounter::builtin()).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!((specs[0].prompt_tokens, specs[0].max_tokens), (5, 6));
        std::fs::write(&file, "{}").unwrap();
        assert!(
            share_gpt(&file, &TokenCounter::builtin())
                .unwrap_err()
                .contains("ShareGPT")
        );
    }

    #[test]
    fn a_long_file_keeps_the_first_usable_conversations_and_skips_the_rest() {
        let dir =
            std::env::temp_dir().join(format!("infergate-sharegpt-long-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("long.json");
        let one = r#"{"conversations":[{"from":"human","value":"one two three four five"},{"from":"gpt","value":"six seven eight nine"}]}"#;
        let body = vec![one; SHAREGPT_MAX + 25].join(",");
        std::fs::write(&file, format!("[{body}]")).unwrap();
        let specs = share_gpt(&file, &TokenCounter::builtin()).unwrap();
        assert_eq!(specs.len(), SHAREGPT_MAX);
        std::fs::write(&file, format!("[{body},")).unwrap();
        assert!(
            share_gpt(&file, &TokenCounter::builtin()).is_err(),
            "a broken file is an error even past the part kept"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
