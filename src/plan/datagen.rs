//! Request contents: a prompt of an exact token length and the `max_tokens` to ask for.
//!
//! - `synthetic` / `random` / `mock`: lengths follow the scenario's distributions (`lengths`), and
//!   prompts are vocabulary words of the scenario's tokenizer (`tokens`), drawn at random so prompts
//!   share no prefix a cache could reuse.
//! - `shared_prefix`: `num_groups` system prompts of `system_prompt_len` tokens, each followed by one of
//!   `num_prompts_per_group` questions of `question_len` tokens (each length fixed or drawn: once per
//!   group for the system prompt, once per prompt for the question and `max_tokens`, from
//!   `shared_prefix.seed` when given); requests pick prompts at random, so a server with prefix
//!   caching reuses each group's prefix.
//! - `shareGPT`: the first human turn of each conversation in a local JSON file (the first
//!   `SHAREGPT_MAX` usable ones, `datasets`); `max_tokens` is the length of the answer that followed.
//!
//! Request `i` of a stage is drawn from its own generator seeded by (stage stream, `i`), so a scenario
//! sends the same requests every run, and a shard (a thread, process or pod sending every `N`-th
//! arrival) sends exactly the requests the unsharded run sends at those global indexes. All counting
//! happens here, before a request's deadline, never on the response path.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::client::content::{Attachments, MediaSent};
use crate::plan::datasets;
use crate::plan::lengths::sample_length;
use crate::plan::media::{self, MediaPlan};
use crate::plan::sessions::{self, Groups, Question, SessionPlan};
use crate::plan::tokens::TokenCounter;
use crate::plan::trace;
use crate::plan::visionarena;
use crate::scenario::media::Insertion;
use crate::scenario::{Data, DataSource, LengthDistribution, SharedPrefix};

/// One request's contents.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    pub prompt: String,
    /// The prompt's length as the scenario's tokenizer counts it (special tokens included).
    pub prompt_tokens: u32,
    /// Sent as `max_tokens`.
    pub max_tokens: u32,
    /// Multi-turn data: the request's place in its session. `prompt` is then empty and
    /// `prompt_tokens` the question's length: the prompt (system prompt, history, question) is
    /// built when the session's previous round is done.
    pub turn: Option<sessions::Turn>,
    /// `load.lora_traffic_split`: the adapter (its index) the request is sent to as `model`.
    pub adapter: Option<u16>,
    /// Images, audio and video placed in `prompt` (`data.multimodal`, `shared_prefix.multimodal`).
    pub media: Option<Attachments>,
}

/// Draws request contents for a scenario.
pub struct Generator {
    /// `load.lora_traffic_split`'s cumulative shares, when requests are spread over adapters.
    adapters: Vec<f64>,
    source: Source,
    input: LengthDistribution,
    output: LengthDistribution,
    tokens: Arc<TokenCounter>,
    /// `data.multimodal`: each request's own media, placed in its own text (after a shared prefix).
    media: Option<MediaPlan>,
}

enum Source {
    Generated,
    /// Generated prompts with a trace's lengths: `(prompt tokens, max_tokens)` of request `i` is row
    /// `i` (the trace repeats when a run sends more requests than it has rows).
    TraceLengths(Vec<(u32, u32)>),
    /// Multi-turn sessions.
    Sessions(Arc<SessionPlan>),
    /// Every prompt of every group, built once, with the byte offset where its own text starts
    /// (after a shared prefix).
    Fixed(Vec<(RequestSpec, usize)>),
    /// `visionarena` rows with their prompts' token counts: request `i` is row `i` (cycling), its
    /// images placed at `insertion` and `max_tokens` from `data.output_distribution`.
    Rows {
        rows: Vec<(visionarena::Row, u32)>,
        insertion: Insertion,
    },
}

impl Generator {
    /// Prepares the scenario's data; reading a ShareGPT file can fail.
    pub fn new(data: &Data, tokens: Arc<TokenCounter>, seed: u64) -> Result<Generator, String> {
        let rng = StdRng::seed_from_u64(seed);
        let source = match &data.source {
            DataSource::Generated => Source::Generated,
            DataSource::TraceLengths { path } => Source::TraceLengths(
                trace::read(path)?
                    .iter()
                    .map(|r| (r.context_tokens.max(1), r.generated_tokens.max(1)))
                    .collect(),
            ),
            DataSource::SharedPrefix(p) => {
                let mut rng = p.seed.map_or(rng, StdRng::seed_from_u64);
                let groups = shared_prefix(p, &tokens, &mut rng);
                if p.multi_turn {
                    Source::Sessions(Arc::new(SessionPlan::users(groups, Arc::clone(&tokens))))
                } else {
                    let prefix = p.media.as_deref().map(MediaPlan::unpooled);
                    Source::Fixed(flatten(groups, &tokens, prefix.as_ref(), &mut rng))
                }
            }
            DataSource::ShareGpt { path: Some(path) } => Source::Fixed(
                datasets::share_gpt(path, &tokens)?
                    .into_iter()
                    .map(|spec| (spec, 0))
                    .collect(),
            ),
            DataSource::VisionArena(v) => Source::Rows {
                rows: visionarena::read(v)?
                    .into_iter()
                    .map(|row| {
                        let count = tokens.count(&row.prompt);
                        (row, count)
                    })
                    .collect(),
                insertion: v.insertion,
            },
            DataSource::ShareGpt { path: None } => {
                return Err(
                    "shareGPT: no local copy of the dataset (the run resolves it before this)"
                        .into(),
                );
            }
            // Session replay sends recorded messages (`run::replay`); the generator is not asked.
            DataSource::Replay(_) => Source::Generated,
            DataSource::Conversations(c) => {
                Source::Sessions(Arc::new(SessionPlan::replay(c, Arc::clone(&tokens))))
            }
        };
        let media = data
            .media
            .as_ref()
            .map(|m| MediaPlan::new(m, mix(seed, 0x4d45_4449)));
        Ok(Generator {
            adapters: Vec::new(),
            source,
            input: data.input,
            output: data.output,
            tokens,
            media,
        })
    }

    /// Spreads requests over adapters by these shares (`load.lora_traffic_split`, adding up to 1).
    pub fn with_adapters(mut self, shares: &[f64]) -> Generator {
        self.adapters = shares
            .iter()
            .scan(0.0, |sum, share| {
                *sum += share;
                Some(*sum)
            })
            .collect();
        self
    }

    /// The request with global index `index` of the stream `stream` (one per stage: its seed).
    pub fn request(&self, stream: u64, index: u64) -> RequestSpec {
        let (mut spec, own_text) = self.contents(stream, index);
        if let Some(plan) = &self.media {
            // Its own generator too, so adding media changes no prompt.
            let mut rng = StdRng::seed_from_u64(mix(stream ^ 0x4d45_4449, index));
            let drawn = plan.draw(&spec.prompt[own_text..], &mut rng);
            let mut media = spec.media.take().unwrap_or_default();
            media.extend_shifted(drawn, own_text);
            spec.media = Some(media);
        }
        if !self.adapters.is_empty() {
            // Its own generator, so adding adapters changes no request's contents.
            let draw: f64 = StdRng::seed_from_u64(mix(stream ^ 0x4c4f_5241, index)).random();
            let last = self.adapters.len() - 1;
            let adapter = self.adapters.iter().position(|&c| draw < c).unwrap_or(last);
            spec.adapter = Some(adapter as u16);
        }
        spec
    }

    /// The request's contents, and the byte offset where its own text starts.
    fn contents(&self, stream: u64, index: u64) -> (RequestSpec, usize) {
        let mut rng = StdRng::seed_from_u64(mix(stream, index));
        match &self.source {
            Source::Generated => {
                let prompt_tokens = sample_length(self.input, &mut rng).max(1);
                let max_tokens = sample_length(self.output, &mut rng).max(1);
                (self.generated(prompt_tokens, max_tokens, &mut rng), 0)
            }
            Source::TraceLengths(rows) => {
                let (prompt_tokens, max_tokens) = rows[(index % rows.len() as u64) as usize];
                (self.generated(prompt_tokens, max_tokens, &mut rng), 0)
            }
            Source::Fixed(specs) => specs[rng.random_range(0..specs.len())].clone(),
            Source::Rows { rows, insertion } => {
                let (row, prompt_tokens) = &rows[(index % rows.len() as u64) as usize];
                let items = row
                    .images
                    .iter()
                    .map(|image| {
                        (
                            media::point(*insertion, &mut rng),
                            std::slice::from_ref(image),
                        )
                    })
                    .collect();
                let sent = MediaSent {
                    images: row.images.len() as u32,
                    ..MediaSent::default()
                };
                let spec = RequestSpec {
                    prompt: row.prompt.clone(),
                    prompt_tokens: *prompt_tokens,
                    max_tokens: sample_length(self.output, &mut rng).max(1),
                    turn: None,
                    adapter: None,
                    media: Some(media::placed(&row.prompt, items, sent)),
                };
                (spec, row.prompt.len())
            }
            Source::Sessions(plan) => {
                let (turn, prompt_tokens, max_tokens) = plan.request(index);
                let spec = RequestSpec {
                    prompt: String::new(),
                    prompt_tokens,
                    max_tokens,
                    turn: Some(turn),
                    adapter: None,
                    media: None,
                };
                (spec, 0)
            }
        }
    }

    /// A prompt of random words `prompt_tokens` long.
    fn generated(&self, prompt_tokens: u32, max_tokens: u32, rng: &mut StdRng) -> RequestSpec {
        RequestSpec {
            prompt_tokens: self.tokens.prompt_length(prompt_tokens),
            prompt: self.tokens.prompt(prompt_tokens, rng),
            max_tokens,
            turn: None,
            adapter: None,
            media: None,
        }
    }

    /// The sessions of multi-turn data.
    pub fn sessions(&self) -> Option<&Arc<SessionPlan>> {
        match &self.source {
            Source::Sessions(plan) => Some(plan),
            _ => None,
        }
    }
}

/// One seed from a stream and an index (SplitMix64's finaliser over both), so neighbouring indexes
/// get unrelated generators.
pub fn mix(stream: u64, index: u64) -> u64 {
    let mut z = stream
        .rotate_left(32)
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn shared_prefix(p: &SharedPrefix, tokens: &TokenCounter, rng: &mut StdRng) -> Groups {
    (0..p.num_groups)
        .map(|_| {
            let system = tokens.words(sample_length(p.system_prompt_len, rng), rng);
            let questions = (0..p.num_prompts_per_group)
                .map(|_| {
                    let length = sample_length(p.question_len, rng).max(1);
                    let text = tokens.words(length, rng);
                    let max_tokens = sample_length(p.output_len, rng).max(1);
                    Question {
                        text,
                        tokens: length,
                        max_tokens,
                    }
                })
                .collect();
            (system, questions)
        })
        .collect()
}

/// Every prompt of every group: its system prompt, then its question; with `prefix` media, the
/// group's own, encoded once and placed in the system prompt. Each comes with the offset of its
/// question.
fn flatten(
    groups: Groups,
    tokens: &TokenCounter,
    prefix: Option<&MediaPlan>,
    rng: &mut StdRng,
) -> Vec<(RequestSpec, usize)> {
    let mut specs = Vec::new();
    for (system, questions) in groups {
        let media = prefix.map(|plan| plan.draw_own(&system, rng));
        for question in questions {
            let prompt = format!("{system}{}", question.text);
            let spec = RequestSpec {
                prompt_tokens: tokens.count(&prompt),
                prompt,
                max_tokens: question.max_tokens,
                turn: None,
                adapter: None,
                media: media.clone(),
            };
            specs.push((spec, system.len()));
        }
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(input: LengthDistribution, output: LengthDistribution, seed: u64) -> Generator {
        let data = Data {
            source: DataSource::Generated,
            input,
            output,
            media: None,
        };
        Generator::new(&data, Arc::new(TokenCounter::builtin()), seed).unwrap()
    }

    #[test]
    fn fixed_lengths_give_exactly_that_many_tokens() {
        let g = generated(
            LengthDistribution::Fixed(512),
            LengthDistribution::Fixed(128),
            1,
        );
        let r = g.request(7, 0);
        assert_eq!(TokenCounter::builtin().count(&r.prompt), 512);
        assert_eq!((r.prompt_tokens, r.max_tokens), (512, 128));
    }

    #[test]
    fn shared_prefix_groups_share_their_system_prompt() {
        let p = SharedPrefix {
            num_groups: 3,
            num_prompts_per_group: 4,
            system_prompt_len: LengthDistribution::Fixed(20),
            question_len: LengthDistribution::Fixed(5),
            output_len: LengthDistribution::Fixed(7),
            seed: None,
            multi_turn: false,
            media: None,
        };
        let tokens = TokenCounter::builtin();
        let mut rng = StdRng::seed_from_u64(1);
        let groups = shared_prefix(&p, &tokens, &mut rng);
        let specs: Vec<RequestSpec> = flatten(groups, &tokens, None, &mut rng)
            .into_iter()
            .map(|(spec, _)| spec)
            .collect();
        assert_eq!(specs.len(), 12);
        for group in specs.chunks(4) {
            let prefix: Vec<&str> = group[0].prompt.split(' ').take(21).collect();
            for spec in group {
                assert_eq!(spec.prompt.split(' ').take(21).collect::<Vec<_>>(), prefix);
                assert_eq!((spec.prompt_tokens, spec.max_tokens), (25, 7));
            }
        }
        assert_ne!(specs[0].prompt.split(' ').nth(1), None);
    }

    #[test]
    fn shared_prefix_lengths_are_drawn_per_group_and_prompt_and_seeded_by_their_own_seed() {
        let p = SharedPrefix {
            num_groups: 4,
            num_prompts_per_group: 25,
            system_prompt_len: LengthDistribution::Uniform { min: 10, max: 60 },
            question_len: LengthDistribution::Poisson {
                mean: 12.0,
                min: 1,
                max: 40,
            },
            output_len: LengthDistribution::Uniform { min: 5, max: 500 },
            seed: Some(42),
            multi_turn: false,
            media: None,
        };
        let data = |p: &SharedPrefix| Data {
            source: DataSource::SharedPrefix(p.clone()),
            input: LengthDistribution::Fixed(1),
            output: LengthDistribution::Fixed(1),
            media: None,
        };
        let tokens = Arc::new(TokenCounter::builtin());
        let specs = |scenario_seed| match Generator::new(&data(&p), tokens.clone(), scenario_seed)
            .unwrap()
            .source
        {
            Source::Fixed(specs) => specs.into_iter().map(|(spec, _)| spec).collect::<Vec<_>>(),
            _ => unreachable!(),
        };
        let a = specs(1);
        assert_eq!(
            a,
            specs(2),
            "shared_prefix.seed, not the scenario's, builds the prompts"
        );
        let outputs: std::collections::BTreeSet<u32> = a.iter().map(|s| s.max_tokens).collect();
        assert!(
            outputs.len() > 50,
            "max_tokens drawn per prompt: {outputs:?}"
        );
        let systems: std::collections::BTreeSet<usize> = a
            .chunks(25)
            .map(|group| {
                let first = &group[0].prompt;
                // The longest prefix every prompt of the group shares: the system prompt at least.
                let shared = group
                    .iter()
                    .map(|s| {
                        first
                            .chars()
                            .zip(s.prompt.chars())
                            .take_while(|(x, y)| x == y)
                            .count()
                    })
                    .min()
                    .unwrap();
                first[..shared].split(' ').count()
            })
            .collect();
        assert!(
            systems.len() > 1,
            "system prompt lengths differ by group: {systems:?}"
        );
        let unseeded = SharedPrefix {
            seed: None,
            ..p.clone()
        };
        let b = match Generator::new(&data(&unseeded), tokens.clone(), 1)
            .unwrap()
            .source
        {
            Source::Fixed(specs) => specs.into_iter().map(|(spec, _)| spec).collect::<Vec<_>>(),
            _ => unreachable!(),
        };
        assert_ne!(a, b);
    }

    #[test]
    fn same_index_same_request_in_any_order() {
        let d = LengthDistribution::Uniform { min: 5, max: 50 };
        let a: Vec<_> = {
            let g = generated(d, d, 9);
            (0..20).map(|i| g.request(3, i)).collect()
        };
        let g = generated(d, d, 9);
        let mut b: Vec<_> = (0..20).rev().map(|i| g.request(3, i)).collect();
        b.reverse();
        assert_eq!(a, b);
        assert_ne!(g.request(3, 0), g.request(4, 0), "streams differ");
        let lengths: std::collections::BTreeSet<u32> = a.iter().map(|r| r.prompt_tokens).collect();
        assert!(
            lengths.len() > 5,
            "indexes draw different lengths: {lengths:?}"
        );
    }
}
