//! Counting tokens the way the server does, and building prompts of an exact token length.
//!
//! `tokenizer.pretrained_model_name_or_path` names a `tokenizer.json`, a directory holding one, or a
//! Hugging Face model id (downloaded once into `~/.cache/infergate/tokenizers`; offline, the error
//! says what to pass instead). Without one, a small built-in word-level tokenizer is used, which is
//! also the simulator's default, so a fresh clone's prompt lengths are exact too.
//!
//! Prompts are runs of vocabulary words that are single tokens with a leading space (" river",
//! " garden"), so a prompt of N tokens is N minus the tokenizer's own special tokens (a BOS, say) such
//! words. That is checked against the real encoder when the tokenizer loads; if a tokenizer does not
//! keep words apart that way, every prompt is re-counted and adjusted instead (slower, still exact).

use std::path::{Path, PathBuf};

use rand::Rng;
use rand::rngs::StdRng;
use tokenizers::Tokenizer;

use crate::client::hub::{self, HubError};
use crate::scenario::Secret;

/// Words of the built-in tokenizer (and of prompts when it is used).
pub const BUILTIN_WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "time",
    "people",
    "year",
    "way",
    "day",
    "man",
    "thing",
    "world",
    "life",
    "hand",
    "part",
    "child",
    "eye",
    "woman",
    "place",
    "work",
    "week",
    "case",
    "point",
    "number",
    "group",
    "problem",
    "fact",
    "water",
    "house",
    "city",
    "river",
    "light",
    "music",
    "paper",
    "story",
    "market",
    "table",
    "garden",
    "window",
    "road",
    "train",
    "stone",
    "green",
    "blue",
    "red",
    "small",
    "large",
    "long",
    "great",
    "little",
    "old",
    "new",
    "good",
    "high",
    "early",
    "young",
    "important",
    "public",
    "bad",
    "same",
    "able",
    "open",
    "close",
    "walk",
    "read",
    "write",
    "think",
    "know",
    "find",
    "give",
    "tell",
    "call",
    "keep",
    "begin",
    "show",
    "hear",
    "play",
    "run",
    "move",
    "live",
    "bring",
    "happen",
    "sit",
    "stand",
    "lose",
    "pay",
    "meet",
    "learn",
    "change",
    "lead",
    "watch",
    "follow",
    "stop",
    "speak",
    "grow",
    "offer",
    "remember",
    "consider",
    "appear",
    "buy",
];

/// Most words kept from a real vocabulary.
const MAX_WORDS: usize = 4000;
/// Re-count attempts per prompt on the slow path (inference-perf uses 20 as well).
const MAX_ADJUSTMENTS: usize = 20;

/// A loaded tokenizer plus the single-token words prompts are made of.
pub struct TokenCounter {
    tokenizer: Tokenizer,
    /// Where it came from, for reports ("built-in" or a path).
    source: String,
    words: Vec<String>,
    /// Tokens the encoder adds to any input (e.g. a BOS); what the server counts on top of the text.
    special: u32,
    /// True when N words always encode to N tokens (checked at load), so prompts need no re-count.
    words_are_tokens: bool,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("source", &self.source)
            .field("words", &self.words.len())
            .field("special", &self.special)
            .finish()
    }
}

impl TokenCounter {
    /// The built-in word-level tokenizer: one token per `BUILTIN_WORDS` word, whitespace split.
    pub fn builtin() -> TokenCounter {
        let mut vocab = serde_json::Map::new();
        vocab.insert("[UNK]".into(), 0.into());
        for (i, word) in BUILTIN_WORDS.iter().enumerate() {
            vocab.insert((*word).into(), (i + 1).into());
        }
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": [],
            "normalizer": null,
            "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null,
            "decoder": null,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
        });
        let tokenizer =
            Tokenizer::from_bytes(json.to_string()).expect("the built-in tokenizer is valid");
        TokenCounter::new(tokenizer, "built-in".into()).expect("the built-in tokenizer has words")
    }

    /// Loads `tokenizer.json` from a file or directory, or downloads a Hugging Face model id's (from
    /// `$HF_ENDPOINT`, default `https://huggingface.co`).
    pub async fn load(name: &str, token: Option<&Secret>) -> Result<TokenCounter, TokenizerError> {
        TokenCounter::load_from(name, token, &hub::endpoint()).await
    }

    /// `load` with the hub's address given.
    pub async fn load_from(
        name: &str,
        token: Option<&Secret>,
        hub: &str,
    ) -> Result<TokenCounter, TokenizerError> {
        let path = Path::new(name);
        let file = if path.is_dir() {
            path.join("tokenizer.json")
        } else if path.exists() {
            path.to_path_buf()
        } else if crate::scenario::looks_like_path(name) {
            return Err(TokenizerError::Missing(name.to_string()));
        } else {
            hub::fetch(hub::Request {
                hub,
                cache: &hub::cache_root(),
                kind: CACHE_KIND,
                dataset: false,
                repo: name,
                file: "tokenizer.json",
                token,
                hint: format!(
                    "tokenizer: cannot download `{name}` from {hub}; pass a local tokenizer.json or a \
                     directory holding one instead (tokenizer.pretrained_model_name_or_path: /path/to/tokenizer.json)"
                ),
                timeout: std::time::Duration::from_secs(60),
            })
            .await?
        };
        let tokenizer = Tokenizer::from_file(&file).map_err(|e| TokenizerError::Unreadable {
            path: file.clone(),
            message: e.to_string(),
        })?;
        TokenCounter::new(tokenizer, file.display().to_string())
    }

    fn new(tokenizer: Tokenizer, source: String) -> Result<TokenCounter, TokenizerError> {
        let mut counter = TokenCounter {
            tokenizer,
            source,
            words: Vec::new(),
            special: 0,
            words_are_tokens: false,
        };
        counter.special = counter.count("");
        let mut vocab: Vec<(String, u32)> =
            counter.tokenizer.get_vocab(false).into_iter().collect();
        vocab.sort_by_key(|(_, id)| *id);
        let mut words: Vec<String> = vocab
            .into_iter()
            .filter_map(|(token, _)| {
                let bare = token.trim_start_matches(['Ġ', '▁']);
                let plain =
                    (3..=12).contains(&bare.len()) && bare.bytes().all(|b| b.is_ascii_lowercase());
                plain.then(|| bare.to_string())
            })
            .filter(|w| counter.count_text(&format!(" {w}")) == 1)
            .collect();
        words.dedup();
        words.truncate(MAX_WORDS);
        if words.len() < 20 {
            return Err(TokenizerError::TooFewWords(counter.source));
        }
        counter.words = words;
        counter.words_are_tokens = counter.check_words_are_tokens();
        Ok(counter)
    }

    /// Tokens the server would count for `text` as a completion prompt (special tokens included).
    pub fn count(&self, text: &str) -> u32 {
        self.tokenizer
            .encode_fast(text, true)
            .map_or(0, |e| e.len() as u32)
    }

    /// Tokens of `text` alone, without special tokens (an answer's length).
    pub fn count_text(&self, text: &str) -> u32 {
        self.tokenizer
            .encode_fast(text, false)
            .map_or(0, |e| e.len() as u32)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many single-token words prompts are drawn from.
    pub fn word_count(&self) -> usize {
        self.words.len()
    }

    /// Word `i` of them (`i < word_count()`), without its leading space.
    pub fn word(&self, i: usize) -> &str {
        &self.words[i]
    }

    /// Whether prompts are built without re-counting (see the module docs).
    pub fn words_are_tokens(&self) -> bool {
        self.words_are_tokens
    }

    fn check_words_are_tokens(&self) -> bool {
        use rand::SeedableRng;
        let mut rng = StdRng::seed_from_u64(1);
        [1u32, 2, 7, 64, 300, 1500].into_iter().all(|n| {
            let target = n + self.special;
            self.count(&self.words(n, &mut rng)) == target
        })
    }

    /// The length `prompt(tokens)` will have as the server counts it: `tokens`, except that a
    /// prompt cannot be shorter than the tokenizer's special tokens plus one word.
    pub fn prompt_length(&self, tokens: u32) -> u32 {
        tokens.max(self.special + 1)
    }

    /// `words` random single-token words, each with its leading space: that many tokens when
    /// `words_are_tokens`, and safe to concatenate.
    pub fn words(&self, words: u32, rng: &mut StdRng) -> String {
        let mut prompt = String::with_capacity(words as usize * 8);
        for _ in 0..words {
            prompt.push(' ');
            prompt.push_str(&self.words[rng.random_range(0..self.words.len())]);
        }
        prompt
    }

    /// A prompt the server will count as `tokens` tokens (at least the special tokens plus one word).
    pub fn prompt(&self, tokens: u32, rng: &mut StdRng) -> String {
        let mut words = tokens.saturating_sub(self.special).max(1);
        let mut prompt = self.words(words, rng);
        if self.words_are_tokens {
            return prompt;
        }
        for _ in 0..MAX_ADJUSTMENTS {
            let counted = self.count(&prompt);
            if counted == tokens {
                break;
            }
            words = if counted > tokens {
                words.saturating_sub(counted - tokens).max(1)
            } else {
                words + (tokens - counted)
            };
            prompt = self.words(words, rng);
        }
        prompt
    }
}

/// True when loading `name` would mean a download: not a file or directory here, and not cached.
pub fn needs_download(name: &str) -> bool {
    !Path::new(name).exists()
        && !crate::scenario::looks_like_path(name)
        && !hub::cache_path(CACHE_KIND, name, "tokenizer.json").exists()
}

/// The hub cache's folder for tokenizers.
const CACHE_KIND: &str = "tokenizers";

/// Why a tokenizer could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("tokenizer: `{0}` does not exist")]
    Missing(String),
    #[error(transparent)]
    Download(#[from] HubError),
    #[error("tokenizer: cannot load {}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("tokenizer {0}: too few plain words in its vocabulary to build prompts from")]
    TooFewWords(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn builtin_prompts_have_exactly_the_requested_length() {
        let counter = TokenCounter::builtin();
        assert!(counter.words_are_tokens());
        let mut rng = StdRng::seed_from_u64(3);
        for n in [1, 2, 10, 128, 1000] {
            assert_eq!(counter.count(&counter.prompt(n, &mut rng)), n);
        }
    }

    #[tokio::test]
    async fn a_missing_path_says_so() {
        let err = TokenCounter::load("./no/such/tokenizer.json", None)
            .await
            .unwrap_err();
        assert!(matches!(err, TokenizerError::Missing(_)), "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
