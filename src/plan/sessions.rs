//! Multi-turn sessions as planned: which session and turn a request is, and what the turn asks.
//!
//! Request `i` of a stage belongs to session `i mod N` (`N` sessions) as its round `i div N`, the way
//! inference-perf dispatches them, so a session's rounds go out in order and round `r` waits for round
//! `r - 1` (the run stage keeps that order and carries the history; see `run::sessions`).
//!
//! - `conversation_replay`: session `c` replays conversation `c`: a system prompt (the stage's shared
//!   part, `shared_system_prompt_len` tokens, then the conversation's own part) and `turns` turns, each
//!   a question of `input_tokens_per_turn` tokens asking for `output_tokens_per_turn`, then a tool-call
//!   latency. When the last turn is done the session starts the conversation again with an empty
//!   history (inference-perf's closed-loop replenishment). Each stage has its own shared part (stage 0
//!   from `seed`, later stages from a seed derived from it), so stages share no cached prefix.
//! - `shared_prefix` with `enable_multi_turn_chat`: session `u` is prompt `u` of its group; its system
//!   prompt is the group's, and every round asks its question again after the history.
//!
//! Everything is drawn from seeds (per conversation, per turn), so a run sends the same conversations
//! every time and any thread or shard can plan any request.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::plan::datagen::mix;
use crate::plan::lengths::sample_length;
use crate::plan::tokens::TokenCounter;
use crate::scenario::Conversations;

/// Where a request stands in its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// The session (`i mod N`).
    pub session: u32,
    /// The session's round: its requests go out in this order.
    pub round: u64,
    /// The turn within the conversation being replayed (0 starts a conversation afresh).
    pub turn: u32,
    /// Whether this is the conversation's last turn.
    pub last: bool,
    /// Which replay of the conversation this is (0 the first).
    pub replay: u64,
    /// How long the session waits after this turn before its next one.
    pub tool_latency: Duration,
}

/// One session's system prompt: the stage's shared part, then its own.
#[derive(Debug, Clone)]
pub struct System {
    pub own: Arc<str>,
    pub own_tokens: u32,
}

/// A `shared_prefix` prompt's question: its text (words with their leading spaces), its length and
/// the `max_tokens` it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub text: String,
    pub tokens: u32,
    pub max_tokens: u32,
}

/// `shared_prefix` groups: each system prompt with its prompts' questions.
pub type Groups = Vec<(String, Vec<Question>)>;

enum Kind {
    Replay(Conversations),
    /// `shared_prefix` users: each asks the same question, with the same `max_tokens`, every round.
    Users(Vec<Question>),
}

/// The sessions of a scenario.
pub struct SessionPlan {
    kind: Kind,
    systems: Vec<System>,
    /// Conversations' turn counts (replay only).
    turns: Vec<u32>,
    tokens: Arc<TokenCounter>,
    /// Special tokens the tokenizer adds to a prompt (a BOS, say).
    special: u32,
}

impl SessionPlan {
    /// `conversation_replay`: each conversation's own system prompt and turn count, drawn now.
    pub fn replay(c: &Conversations, tokens: Arc<TokenCounter>) -> SessionPlan {
        let (mut systems, mut turns) = (Vec::new(), Vec::new());
        for i in 0..c.count {
            let mut rng = StdRng::seed_from_u64(mix(c.seed, u64::from(i)));
            turns.push(sample_length(c.turns, &mut rng).max(1));
            let own = c
                .dynamic_system_prompt_len
                .map_or(0, |d| sample_length(d, &mut rng))
                .min(c.max_model_len);
            systems.push(System {
                own: tokens.words(own, &mut rng).into(),
                own_tokens: own,
            });
        }
        SessionPlan {
            kind: Kind::Replay(*c),
            systems,
            turns,
            special: tokens.count(""),
            tokens,
        }
    }

    /// `shared_prefix` with `enable_multi_turn_chat`: every prompt of every group is a user.
    pub fn users(groups: Groups, tokens: Arc<TokenCounter>) -> SessionPlan {
        let (mut systems, mut users) = (Vec::new(), Vec::new());
        for (system, questions) in groups {
            let own: Arc<str> = system.into();
            let own_tokens = tokens.count_text(&own);
            for q in questions {
                systems.push(System {
                    own: Arc::clone(&own),
                    own_tokens,
                });
                users.push(q);
            }
        }
        SessionPlan {
            kind: Kind::Users(users),
            systems,
            turns: Vec::new(),
            special: tokens.count(""),
            tokens,
        }
    }

    /// How many sessions there are (`N`).
    pub fn count(&self) -> u32 {
        self.systems.len() as u32
    }

    pub fn system(&self, session: u32) -> &System {
        &self.systems[session as usize]
    }

    /// The longest prompt plus answer a turn may make (`max_model_len`), if any.
    pub fn max_context(&self) -> Option<u32> {
        match &self.kind {
            Kind::Replay(c) => Some(c.max_model_len),
            Kind::Users(_) => None,
        }
    }

    /// The part every session of stage `stage` starts its system prompt with, and its length.
    pub fn shared(&self, stage: usize) -> (Arc<str>, u32) {
        match &self.kind {
            Kind::Replay(c) => {
                let len = c.shared_system_prompt_len.min(c.max_model_len);
                let seed = match stage {
                    0 => c.seed,
                    s => mix(c.seed ^ 0x5348_4152_4544, s as u64),
                };
                let text = self.tokens.words(len, &mut StdRng::seed_from_u64(seed));
                (text.into(), len)
            }
            Kind::Users(_) => (Arc::from(""), 0),
        }
    }

    /// What request `index` of a stage asks: its place in its session, its question's length and
    /// `max_tokens`. The question's text is made when the turn is sent (`question`), at the length
    /// that fits its context.
    pub fn request(&self, index: u64) -> (Turn, u32, u32) {
        let n = u64::from(self.count());
        let session = (index % n) as u32;
        let round = index / n;
        match &self.kind {
            Kind::Replay(c) => {
                let turns = self.turns[session as usize];
                let turn = (round % u64::from(turns)) as u32;
                let mut rng = StdRng::seed_from_u64(turn_seed(c.seed, session, turn));
                let question_tokens = sample_length(c.input, &mut rng).max(1);
                let max_tokens = sample_length(c.output, &mut rng).max(1);
                let tool_latency = c.tool_call_latency.map_or(Duration::ZERO, |d| {
                    Duration::from_secs(u64::from(sample_length(d, &mut rng)))
                });
                let turn = Turn {
                    session,
                    round,
                    turn,
                    last: turn + 1 == turns,
                    replay: round / u64::from(turns),
                    tool_latency,
                };
                (turn, question_tokens, max_tokens)
            }
            Kind::Users(users) => {
                let user = &users[session as usize];
                let turn = Turn {
                    session,
                    round,
                    turn: round.min(u64::from(u32::MAX)) as u32,
                    last: false,
                    replay: 0,
                    tool_latency: Duration::ZERO,
                };
                (turn, user.tokens, user.max_tokens)
            }
        }
    }

    /// The first `words` words of the turn's question (all of it when `words` is its length).
    pub fn question(&self, turn: &Turn, words: u32) -> String {
        match &self.kind {
            Kind::Replay(c) => {
                let seed = turn_seed(c.seed ^ 0x574f_5244, turn.session, turn.turn);
                self.tokens.words(words, &mut StdRng::seed_from_u64(seed))
            }
            Kind::Users(users) => {
                first_words(&users[turn.session as usize].text, words).to_string()
            }
        }
    }

    /// The id a session's requests carry (`api.session_id_header_key`): inference-perf's names.
    pub fn session_id(&self, turn: &Turn) -> String {
        match (&self.kind, turn.replay) {
            (Kind::Replay(_), 0) => format!("conv_{}", turn.session),
            (Kind::Replay(_), k) => format!("slot_{}_convo_{k}", turn.session),
            (Kind::Users(_), _) => format!("user_session_{}", turn.session),
        }
    }

    pub fn tokens(&self) -> &TokenCounter {
        &self.tokens
    }

    /// Special tokens the tokenizer adds to every prompt.
    pub fn special(&self) -> u32 {
        self.special
    }
}

/// The seed of a conversation's turn (the same in every replay of it).
fn turn_seed(seed: u64, session: u32, turn: u32) -> u64 {
    mix(
        seed ^ 0x5455_524e,
        (u64::from(session) << 32) | u64::from(turn),
    )
}

/// The first `words` words of `text`, a run of words each with its leading space.
pub fn first_words(text: &str, words: u32) -> &str {
    if words == 0 {
        return "";
    }
    // The space before word `words + 1` ends the cut (the first byte is the first word's space).
    match text
        .match_indices(' ')
        .filter(|&(i, _)| i > 0)
        .nth(words as usize - 1)
    {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::LengthDistribution as L;

    fn conversations(count: u32, turns: u32) -> Conversations {
        Conversations {
            seed: 42,
            count,
            shared_system_prompt_len: 30,
            dynamic_system_prompt_len: Some(L::Uniform { min: 5, max: 50 }),
            turns: L::Fixed(turns),
            input: L::Uniform { min: 3, max: 9 },
            output: L::Fixed(7),
            tool_call_latency: Some(L::Fixed(2)),
            max_model_len: 1000,
        }
    }

    #[test]
    fn requests_walk_each_session_round_by_round_and_replay_conversations() {
        let plan = SessionPlan::replay(&conversations(3, 2), Arc::new(TokenCounter::builtin()));
        let turns: Vec<(u32, u64, u32, bool, u64)> = (0..8)
            .map(|i| {
                let (t, _, _) = plan.request(i);
                (t.session, t.round, t.turn, t.last, t.replay)
            })
            .collect();
        assert_eq!(
            turns,
            [
                (0, 0, 0, false, 0),
                (1, 0, 0, false, 0),
                (2, 0, 0, false, 0),
                (0, 1, 1, true, 0),
                (1, 1, 1, true, 0),
                (2, 1, 1, true, 0),
                (0, 2, 0, false, 1),
                (1, 2, 0, false, 1),
            ]
        );
        let (t, qt, max) = plan.request(6);
        let q = plan.question(&t, qt);
        assert_eq!(
            plan.question(&plan.request(0).0, qt),
            q,
            "a replay asks the same questions"
        );
        assert_eq!((TokenCounter::builtin().count_text(&q), max), (qt, 7));
        assert_eq!(
            plan.question(&t, 2),
            first_words(&q, 2),
            "a cut question is its start"
        );
        assert_eq!(t.tool_latency, Duration::from_secs(2));
        assert_eq!(plan.session_id(&t), "slot_0_convo_1");
        assert_eq!(plan.session_id(&plan.request(1).0), "conv_1");
    }

    #[test]
    fn first_words_cuts_at_word_boundaries() {
        assert_eq!(first_words(" a bb ccc", 0), "");
        assert_eq!(first_words(" a bb ccc", 1), " a");
        assert_eq!(first_words(" a bb ccc", 2), " a bb");
        assert_eq!(first_words(" a bb ccc", 3), " a bb ccc");
        assert_eq!(first_words(" a bb ccc", 9), " a bb ccc");
    }

    #[test]
    fn systems_are_drawn_per_conversation_and_shared_parts_per_stage() {
        let tokens = Arc::new(TokenCounter::builtin());
        let plan = SessionPlan::replay(&conversations(4, 3), Arc::clone(&tokens));
        let own: Vec<u32> = (0..4).map(|c| plan.system(c).own_tokens).collect();
        assert!(own.iter().any(|&n| n != own[0]), "{own:?}");
        for c in 0..4 {
            assert_eq!(
                tokens.count_text(&plan.system(c).own),
                plan.system(c).own_tokens
            );
        }
        let (s0, n0) = plan.shared(0);
        assert_eq!((tokens.count_text(&s0), n0), (30, 30));
        assert_eq!(plan.shared(0).0, s0, "seeded");
        assert_ne!(plan.shared(1).0, s0, "each stage its own shared part");
        let again = SessionPlan::replay(&conversations(4, 3), tokens);
        assert_eq!(again.system(2).own, plan.system(2).own);
    }
}
