//! `trace_session_replay` stages: recorded agent sessions replayed against the target.
//!
//! A stage's sessions are claimed one at a time by its slots (`concurrent_sessions` of them over
//! every load thread and shard; one per session when it is 0), each slot replaying its session
//! whole (`session`) before it claims the next; with `session_rate`, session `k` of the stage
//! starts no earlier than `k / rate` seconds in. Calls are recorded like any request (schedule
//! delay is from when a call was due, its predecessors done and its gap waited, to when it went),
//! and each session adds its record (`measure::recorder::replay`).

mod messages;
mod session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use rand::SeedableRng;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::{Client, Endpoint};
use crate::plan::replay::{Event, Session};
use crate::plan::{Plan, Quick, SessionCaps};
use crate::run::RunError;
use crate::run::driver::Claims;
use crate::run::stop::Stop;
use crate::scenario::replay::{ModelChoice, SessionReplay};
pub(super) use session::Done;

/// What every load thread shares to replay sessions.
#[derive(Debug)]
pub struct Replayer {
    pub replay: SessionReplay,
    pub sessions: Arc<[Session]>,
    pub caps: SessionCaps,
    pub seed: u64,
}

impl Replayer {
    /// The session at position `at` of the corpus (wrapping).
    fn session(&self, at: u64) -> Session {
        self.sessions[(at % self.sessions.len() as u64) as usize].clone()
    }

    /// How many calls sessions `first..first + count` hold, for those never claimed.
    pub fn calls_in(&self, positions: impl Iterator<Item = u64>) -> u64 {
        let n = self.sessions.len() as u64;
        positions
            .map(|p| self.sessions[(p % n) as usize].events.len() as u64)
            .sum()
    }

    /// The session's random string for `[SESS:...]` (the same in every shard and every run).
    fn random_string(&self, id: &str) -> String {
        let seed = id.bytes().fold(self.seed ^ 0x5345_5353, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!(
            "{:016x}",
            rand::rngs::StdRng::seed_from_u64(seed).next_u64()
        )
    }

    /// A call's recorded gap, capped by `max_wait_ms` (and quick mode's tool-call cap).
    fn wait(&self, recorded: Duration) -> Duration {
        let wait = recorded.min(self.replay.max_wait);
        self.caps.tool_latency.map_or(wait, |cap| wait.min(cap))
    }

    fn model<'a>(&'a self, event: &'a Event, endpoint: &'a Endpoint) -> &'a str {
        match &self.replay.model {
            ModelChoice::Static(name) => name,
            ModelChoice::Mapping(map) => map.get(&event.call.model).unwrap_or(&endpoint.model),
            ModelChoice::Scenario => &endpoint.model,
        }
    }

    /// The request body of `event` with `messages`, and its `max_tokens`: the recorded answer's
    /// length (`default_max_tokens` without one); a recorded tool call with tools asks for
    /// `max(4 x that, 4096)` without `ignore_eos`, and forces the recorded function.
    fn body(&self, event: &Event, messages: &[Value], endpoint: &Endpoint) -> (Vec<u8>, u32) {
        let mut max_tokens = event
            .expected_tokens
            .unwrap_or(self.replay.default_max_tokens);
        let mut ignore_eos = endpoint.ignore_eos;
        let tools = session::tool_fields(event);
        let forced = tools.as_ref().is_some_and(|(_, choice)| choice.is_some());
        if forced && self.replay.override_tool_call_max_tokens {
            max_tokens = max_tokens.saturating_mul(4).max(4096);
            ignore_eos = false;
        }
        if let Some(cap) = self.caps.max_tokens {
            max_tokens = max_tokens.min(cap);
        }
        let mut body = json!({
            "model": self.model(event, endpoint),
            "messages": messages,
            "max_tokens": max_tokens,
            "stream": endpoint.streaming,
        });
        if endpoint.streaming {
            body["stream_options"] = json!({"include_usage": true});
        }
        if ignore_eos {
            body["ignore_eos"] = Value::Bool(true);
        }
        if let Some((tools, choice)) = tools {
            body["tools"] = tools;
            if let Some(choice) = choice {
                body["tool_choice"] = choice;
            }
        }
        (
            serde_json::to_vec(&body).expect("JSON values serialise"),
            max_tokens,
        )
    }

    /// The session id header (`api.session_id_header_key`) and `attribute_to_header_map`'s.
    fn headers(&self, event: &Event, session: &str, endpoint: &Endpoint) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(name) = &endpoint.session_id_header {
            out.push((name.clone(), session.to_string()));
        }
        for (attribute, header) in &self.replay.header_map {
            match event.call.attributes.get(attribute) {
                Some(Value::String(s)) => out.push((header.clone(), s.clone())),
                Some(v) if !v.is_null() => out.push((header.clone(), v.to_string())),
                _ => {}
            }
        }
        out
    }
}

/// Reads the corpus (before any load), gives each session stage its sessions, and says what was left
/// out.
pub(super) async fn prepare(
    replay: &SessionReplay,
    tokens: &crate::plan::tokens::TokenCounter,
    seed: u64,
    (simulated, quick): (bool, Option<Quick>),
    plan: &mut Plan,
    warnings: &mut Vec<String>,
) -> Result<Arc<Replayer>, RunError> {
    let hub = (
        crate::client::hub::endpoint(),
        crate::client::hub::cache_root(),
    );
    let corpus = crate::plan::replay::load(replay, tokens, seed, simulated, &hub.0, &hub.1)
        .await
        .map_err(RunError::Setup)?;
    for skipped in &corpus.skipped {
        warnings.push(format!("session replay: left out {skipped}"));
    }
    if corpus.filtered > 0 {
        let n = corpus.filtered;
        warnings.push(format!("session replay: the filter left out {n} record(s)"));
    }
    if crate::plan::replay::fit(plan, corpus.sessions.len() as u64, quick) {
        let per = quick.unwrap_or_default().requests_per_slot;
        let note = format!(
            "quick mode: session stages replay at most {per} sessions per concurrent session"
        );
        plan.shortened = Some(match plan.shortened.take() {
            Some(said) => format!("{said}; {note}"),
            None => note,
        });
    }
    Ok(Arc::new(Replayer {
        replay: replay.clone(),
        sessions: corpus.sessions.into(),
        caps: plan.session_caps,
        seed,
    }))
}

/// A session stage's part on one load thread.
pub(super) struct SessionsPart<'a> {
    pub client: &'a Arc<Client>,
    pub replayer: &'a Arc<Replayer>,
    pub claims: &'a Arc<Claims>,
    pub slots: u64,
    pub first: u64,
    pub rate: Option<f64>,
    pub stage: usize,
}

/// Starts the part's slots; calls and sessions come back on the channel until every slot is done.
pub(super) fn start(
    part: SessionsPart<'_>,
    started: Instant,
    stop: &Stop,
) -> (JoinSet<()>, mpsc::UnboundedReceiver<Done>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut slots = JoinSet::new();
    for _ in 0..part.slots {
        let (client, replayer) = (Arc::clone(part.client), Arc::clone(part.replayer));
        let (claims, tx, stop) = (Arc::clone(part.claims), tx.clone(), stop.clone());
        let (first, rate, stage) = (part.first, part.rate, part.stage);
        slots.spawn(async move {
            while !stop.is_set()
                && let Some(k) = claims.claim()
            {
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(k as f64 / rate);
                    stop.sleep(due.saturating_duration_since(Instant::now()))
                        .await;
                }
                let session = replayer.session(first + k);
                if tx.send(Done::Claimed(session.events.len() as u64)).is_err() {
                    break;
                }
                let (client, replayer) = (Arc::clone(&client), Arc::clone(&replayer));
                session::replay(client, replayer, session, stage, tx.clone(), stop.clone()).await;
            }
        });
    }
    (slots, rx)
}
