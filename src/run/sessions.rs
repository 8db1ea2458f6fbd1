//! Multi-turn sessions while a stage runs: each session's history, and the order of its rounds.
//!
//! Round `r` of a session starts only when round `r - 1` has ended and its tool-call latency has
//! passed (the `Held` turn is dropped), on whichever load thread either runs. A turn sends the
//! session's system prompt, its history (each earlier turn's question and the model's real answer,
//! as received) and its question; a failed turn adds nothing to the history. With `max_model_len`,
//! the oldest turns are left out until the prompt plus `max_tokens` plus 200 tokens fits, then the
//! system prompt is cut (inference-perf's rule). Prompt lengths are the sum of the parts' counts,
//! each counted once, so building a turn never re-tokenizes the history.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::client::{Answer, Exchange};
use crate::plan::SessionCaps;
use crate::plan::datagen::RequestSpec;
use crate::plan::sessions::{SessionPlan, Turn, first_words};
use crate::plan::shard::Shard;

/// Tokens kept free beside a turn's prompt and answer under `max_model_len` (inference-perf's).
const CONTEXT_MARGIN: u32 = 200;

/// The sessions of one stage.
pub struct Live {
    plan: Arc<SessionPlan>,
    shared: Arc<str>,
    shared_tokens: u32,
    sessions: Vec<Session>,
    /// Quick mode's limits on answers and tool-call latencies.
    caps: SessionCaps,
    /// Closed loop: the request indexes of the next rounds of this process's sessions that are free
    /// (no round in flight or in its tool call), for the next free slot to take. At most one per
    /// session; none in open-loop stages, whose arrivals say which round goes next.
    free: Option<Mutex<BTreeSet<u64>>>,
    freed: Notify,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

struct Session {
    /// Rounds released: round `r` may start once this reaches `r`.
    released: watch::Sender<u64>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    replay: u64,
    /// Earlier turns: question and answer text, and its tokens.
    history: VecDeque<(String, u32)>,
    history_tokens: u32,
    /// Words of the system prompt kept once it had to be cut to fit.
    system_words: Option<u32>,
    token: Option<String>,
    released_at: Option<Instant>,
}

/// A turn ready to send.
pub struct Prepared {
    pub prompt: String,
    /// The turn's question as sent (the end of `prompt`), and its length.
    pub question: String,
    pub question_tokens: u32,
    /// The prompt's length as the scenario's tokenizer counts its parts.
    pub prompt_tokens: u32,
    /// Whether the prompt is exactly what was planned (no history, nothing cut), so the server's
    /// count must match.
    pub exact: bool,
    pub session_id: String,
    pub token: Option<String>,
    /// The turn's `max_tokens` (capped in quick mode).
    pub max_tokens: u32,
    /// When the previous round released the session.
    pub ready: Option<Instant>,
}

/// A turn in progress: its session's next round waits until this is dropped.
pub struct Held {
    live: Arc<Live>,
    turn: Turn,
}

impl Held {
    pub fn turn(&self) -> &Turn {
        &self.turn
    }

    /// How long to hold the session after the turn ended (its tool-call latency).
    pub fn tool_latency(&self) -> Duration {
        let latency = self.turn.tool_latency;
        self.live
            .caps
            .tool_latency
            .map_or(latency, |cap| latency.min(cap))
    }

    /// Records the answer of a successful turn in the session's history, after its question.
    pub fn answered(&self, prepared: Prepared, exchange: &Exchange, answer: Answer) {
        let (question, question_tokens) = (prepared.question, prepared.question_tokens);
        let Exchange::Ok(success) = exchange else {
            return;
        };
        let answer_tokens = match success.usage.and_then(|u| u.completion_tokens) {
            Some(n) => n.min(u64::from(u32::MAX)) as u32,
            None => self.live.plan.tokens().count_text(&answer.text),
        };
        let space = if answer.text.starts_with(char::is_whitespace) {
            ""
        } else {
            " "
        };
        let entry = format!("{question}{space}{}", answer.text);
        let tokens = question_tokens.saturating_add(answer_tokens);
        let mut state = self.live.lock(self.turn.session);
        state.history.push_back((entry, tokens));
        state.history_tokens = state.history_tokens.saturating_add(tokens);
        if answer.token.is_some() {
            state.token = answer.token;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let session = &self.live.sessions[self.turn.session as usize];
        session
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .released_at = Some(Instant::now());
        let next = self.turn.round + 1;
        session.released.send_modify(|r| *r = (*r).max(next));
        if let Some(free) = &self.live.free {
            let n = u64::from(self.live.plan.count());
            let index = next * n + u64::from(self.turn.session);
            free.lock().unwrap_or_else(|e| e.into_inner()).insert(index);
            self.live.freed.notify_one();
        }
    }
}

impl Live {
    /// The sessions of stage `stage`, all at round 0 with an empty history; in a closed-loop stage
    /// (`closed`), `shard`'s sessions are free to take.
    pub fn new(
        plan: Arc<SessionPlan>,
        stage: usize,
        caps: SessionCaps,
        closed: Option<Shard>,
    ) -> Live {
        let (shared, shared_tokens) = plan.shared(stage);
        let sessions = (0..plan.count())
            .map(|_| Session {
                released: watch::Sender::new(0),
                state: Mutex::default(),
            })
            .collect();
        let free = closed.map(|shard| {
            let mine = (0..u64::from(plan.count())).filter(|&s| shard.owns(s));
            Mutex::new(mine.collect())
        });
        Live {
            plan,
            shared,
            shared_tokens,
            sessions,
            caps,
            free,
            freed: Notify::new(),
        }
    }

    /// Closed loop: the request of the lowest-numbered free session's next round below `limit`
    /// (the stage's request count), waiting for one to be freed if none is. Slots take whichever
    /// session is free, so a slot never waits behind one session while another could go; every
    /// session still sends its rounds in order, and the stage sends the same requests.
    pub async fn take(&self, limit: u64) -> u64 {
        let free = self.free.as_ref().expect("take is for closed-loop stages");
        loop {
            let freed = self.freed.notified();
            {
                let mut free = free.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(&index) = free.range(..limit).next() {
                    free.remove(&index);
                    return index;
                }
            }
            freed.await;
        }
    }

    fn lock(&self, session: u32) -> std::sync::MutexGuard<'_, State> {
        self.sessions[session as usize]
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the turn's round, then builds its prompt. The turn holds the session until the
    /// returned `Held` is dropped.
    pub async fn begin(self: &Arc<Self>, spec: &RequestSpec, turn: Turn) -> (Held, Prepared) {
        let mut released = self.sessions[turn.session as usize].released.subscribe();
        // The sender lives as long as `self`, so waiting ends only when the round comes.
        let _ = released.wait_for(|&r| r >= turn.round).await;
        let held = Held {
            live: Arc::clone(self),
            turn,
        };
        let prepared = self.prepare(spec, &turn);
        (held, prepared)
    }

    fn prepare<'a>(&'a self, spec: &RequestSpec, turn: &Turn) -> Prepared {
        let system = self.plan.system(turn.session);
        let mut state = self.lock(turn.session);
        if turn.replay != state.replay {
            // The conversation starts again: a fresh session.
            *state = State {
                replay: turn.replay,
                released_at: state.released_at,
                ..State::default()
            };
        }
        let system_tokens = self.shared_tokens + system.own_tokens;
        let mut question_tokens = spec.prompt_tokens;
        let max_tokens = self
            .caps
            .max_tokens
            .map_or(spec.max_tokens, |cap| spec.max_tokens.min(cap));
        let max_context = match (self.plan.max_context(), self.caps.max_context) {
            (Some(max), Some(cap)) => Some(max.min(cap)),
            (max, cap) => max.or(cap),
        };
        if let Some(max) = max_context {
            let target = max.saturating_sub(max_tokens.saturating_add(CONTEXT_MARGIN));
            let used = |s: &State| {
                s.system_words.unwrap_or(system_tokens) + s.history_tokens + question_tokens
            };
            while used(&state) > target {
                let Some((_, tokens)) = state.history.pop_front() else {
                    break;
                };
                state.history_tokens -= tokens;
            }
            if used(&state) > target {
                let room = target.saturating_sub(question_tokens);
                state.system_words = Some(room);
                if room == 0 {
                    question_tokens = question_tokens.min(target);
                }
            }
        }
        let question = self.plan.question(turn, question_tokens);
        let kept = state.system_words.unwrap_or(system_tokens);
        let history_len: usize = state.history.iter().map(|(t, _)| t.len()).sum();
        let mut prompt = String::with_capacity(
            self.shared.len() + system.own.len() + history_len + question.len(),
        );
        // Cut only when something must go: scanning a long system prompt for every turn would cost
        // the load thread more than the rest of the turn.
        let part = |text: &'a str, tokens: u32, keep: u32| -> &'a str {
            if keep >= tokens {
                text
            } else {
                first_words(text, keep)
            }
        };
        let shared_kept = kept.min(self.shared_tokens);
        prompt.push_str(part(&self.shared, self.shared_tokens, shared_kept));
        prompt.push_str(part(&system.own, system.own_tokens, kept - shared_kept));
        for (entry, _) in &state.history {
            prompt.push_str(entry);
        }
        prompt.push_str(&question);
        Prepared {
            prompt,
            question,
            question_tokens,
            prompt_tokens: kept + state.history_tokens + question_tokens + self.plan.special(),
            exact: state.history.is_empty() && state.system_words.is_none(),
            session_id: self.plan.session_id(turn),
            token: state.token.clone(),
            max_tokens,
            ready: state.released_at.filter(|_| turn.round > 0),
        }
    }
}
