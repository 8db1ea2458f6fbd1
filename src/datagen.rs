//! Request contents: prompt text of a sampled length and the `max_tokens` to ask for.
//!
//! Lengths follow the scenario's distributions (normal clamped to [min, max], uniform, or fixed), drawn
//! from a seeded generator so a scenario sends the same requests every run. Prompts are built from common
//! English words, each preceded by a space, which byte-level BPE tokenizers (Llama 3, Qwen) encode as one
//! token each: the requested length is an approximation, and reports show the server's own
//! `usage.prompt_tokens` beside it. Words are drawn at random so prompts share no prefix a cache could
//! reuse.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::scenario::LengthDistribution;

/// Common words that are single tokens with a leading space in the usual BPE vocabularies.
const WORDS: &[&str] = &[
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

/// One request's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub prompt: String,
    /// The prompt length infergate aimed for (approximate; see the module docs).
    pub prompt_tokens: u32,
    /// Sent as `max_tokens`.
    pub max_tokens: u32,
}

/// Draws request contents for a scenario.
pub struct Generator {
    input: LengthDistribution,
    output: LengthDistribution,
    rng: StdRng,
}

impl Generator {
    pub fn new(input: LengthDistribution, output: LengthDistribution, seed: u64) -> Generator {
        Generator {
            input,
            output,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn next_request(&mut self) -> RequestSpec {
        let prompt_tokens = sample_length(self.input, &mut self.rng);
        let max_tokens = sample_length(self.output, &mut self.rng);
        let mut prompt = String::with_capacity(prompt_tokens as usize * 7);
        for i in 0..prompt_tokens {
            if i > 0 {
                prompt.push(' ');
            }
            prompt.push_str(WORDS[self.rng.random_range(0..WORDS.len())]);
        }
        RequestSpec {
            prompt,
            prompt_tokens,
            max_tokens,
        }
    }
}

/// Draws one length; normal samples are rounded and clamped to [min, max] like inference-perf's.
pub fn sample_length(distribution: LengthDistribution, rng: &mut StdRng) -> u32 {
    match distribution {
        LengthDistribution::Fixed(n) => n,
        LengthDistribution::Uniform { min, max } => rng.random_range(min..=max),
        LengthDistribution::Normal {
            mean,
            std_dev,
            min,
            max,
        } => {
            let normal = Normal::new(mean, std_dev).expect("std_dev is finite and positive");
            let x: f64 = normal.sample(rng);
            (x.round().max(0.0) as u32).clamp(min, max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_lengths_give_that_many_words() {
        let mut g = Generator::new(
            LengthDistribution::Fixed(512),
            LengthDistribution::Fixed(128),
            1,
        );
        let r = g.next_request();
        assert_eq!(r.prompt.split(' ').count(), 512);
        assert_eq!((r.prompt_tokens, r.max_tokens), (512, 128));
    }

    #[test]
    fn normal_lengths_are_clamped_and_centred() {
        let d = LengthDistribution::Normal {
            mean: 200.0,
            std_dev: 20.0,
            min: 190,
            max: 260,
        };
        let mut rng = StdRng::seed_from_u64(3);
        let xs: Vec<u32> = (0..10_000).map(|_| sample_length(d, &mut rng)).collect();
        assert!(xs.iter().all(|&x| (190..=260).contains(&x)));
        assert!(xs.contains(&190), "the lower tail piles up at min");
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64;
        assert!((mean - 203.0).abs() < 3.0, "mean {mean}");
    }

    #[test]
    fn same_seed_same_requests() {
        let d = LengthDistribution::Uniform { min: 5, max: 50 };
        let a: Vec<_> = {
            let mut g = Generator::new(d, d, 9);
            (0..20).map(|_| g.next_request()).collect()
        };
        let mut g = Generator::new(d, d, 9);
        let b: Vec<_> = (0..20).map(|_| g.next_request()).collect();
        assert_eq!(a, b);
    }
}
