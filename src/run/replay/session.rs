//! One replayed session: every call is a task that waits for the calls it depends on, then for its
//! recorded gap (capped by `max_wait_ms`), then sends. A call whose predecessor failed (or did not
//! finish within `predecessor_wait_timeout_sec`) is never sent and counts as cancelled, and so do
//! its own dependents; parallel branches go on. Each sent call is handed to the driver as it ends;
//! the session's record (outcome, counts, duration, critical path) when the last one is done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::Replayer;
use super::messages::{self, Build, Sent};
use crate::client::{Client, Exchange};
use crate::measure::recorder::replay::SessionRecord;
use crate::measure::recorder::{Expect, Sample};
use crate::plan::replay::Session;
use crate::run::send::Finished;
use crate::run::stop::Stop;

/// What the driver is told.
pub(in crate::run) enum Done {
    /// A session was claimed: its calls are scheduled.
    Claimed(u64),
    Call(Box<Finished>),
    Session(SessionRecord),
}

/// How a call ended.
#[derive(Clone)]
enum Outcome {
    Ok(Arc<Sent>),
    Failed,
}

/// What each call's task hands back.
struct Ended {
    index: usize,
    /// When it was due and when it ended (sent calls only).
    sent: Option<(Instant, Instant)>,
    ok: bool,
    error: Option<String>,
    tokens: (u64, u64),
    substitutions: u64,
}

/// Replays `session` (stage `stage`) and reports to `tx`.
pub(super) async fn replay(
    client: Arc<Client>,
    replayer: Arc<Replayer>,
    session: Session,
    stage: usize,
    tx: mpsc::UnboundedSender<Done>,
    stop: Stop,
) {
    let started = Instant::now();
    let n = session.events.len();
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..n).map(|_| watch::channel(None::<Outcome>)).unzip();
    let senders: Arc<[watch::Sender<Option<Outcome>>]> = senders.into();
    let prefix = (replayer.replay.inject_random_session_id || session.duplicate)
        .then(|| format!("[SESS:{}] ", replayer.random_string(&session.id)));
    let session = Arc::new((session, prefix));
    let mut tasks = JoinSet::new();
    for index in 0..n {
        let (client, replayer, session) = (
            Arc::clone(&client),
            Arc::clone(&replayer),
            Arc::clone(&session),
        );
        let (senders, stop, tx) = (Arc::clone(&senders), stop.clone(), tx.clone());
        let waits: Vec<watch::Receiver<Option<Outcome>>> = session.0.events[index]
            .predecessors
            .iter()
            .map(|&p| receivers[p].clone())
            .collect();
        tasks.spawn(async move {
            // However the call ends (a panic included), its dependents hear of it.
            let _told = Told(&senders[index]);
            call(
                &client,
                &replayer,
                &session.0,
                session.1.as_deref(),
                index,
                waits,
                &senders,
                &stop,
                &tx,
            )
            .await
        });
    }
    let mut ends: Vec<Option<Ended>> = (0..n).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(e) = joined {
            let i = e.index;
            ends[i] = Some(e);
        }
    }
    let record = record(&session.0, stage, started, &ends);
    let _ = tx.send(Done::Session(record));
}

/// Marks a call failed when it ends without having succeeded.
struct Told<'a>(&'a watch::Sender<Option<Outcome>>);

impl Drop for Told<'_> {
    fn drop(&mut self) {
        self.0.send_if_modified(|o| {
            let unset = o.is_none();
            if unset {
                *o = Some(Outcome::Failed);
            }
            unset
        });
    }
}

/// One call: waits, builds, sends, and tells its dependents.
#[allow(clippy::too_many_arguments)]
async fn call(
    client: &Client,
    replayer: &Replayer,
    session: &Session,
    prefix: Option<&str>,
    index: usize,
    mut waits: Vec<watch::Receiver<Option<Outcome>>>,
    senders: &[watch::Sender<Option<Outcome>>],
    stop: &Stop,
    tx: &mpsc::UnboundedSender<Done>,
) -> Ended {
    let event = &session.events[index];
    let mut ended = Ended {
        index,
        sent: None,
        ok: false,
        error: None,
        tokens: (0, 0),
        substitutions: 0,
    };
    for w in &mut waits {
        let ready = w.wait_for(Option::is_some);
        let outcome = match replayer.replay.predecessor_timeout {
            Some(limit) => match tokio::time::timeout(limit, ready).await {
                Ok(r) => r.ok().and_then(|o| o.clone()),
                Err(_) => {
                    ended.error = Some(format!(
                        "{}: a predecessor did not finish within {limit:?}",
                        event.id
                    ));
                    return ended;
                }
            },
            None => ready.await.ok().and_then(|o| o.clone()),
        };
        if !matches!(outcome, Some(Outcome::Ok(_))) {
            ended.error = Some(format!("{}: a call it depends on failed", event.id));
            return ended;
        }
    }
    let wait = replayer.wait(event.wait);
    if !wait.is_zero() {
        stop.sleep(wait).await;
    }
    if stop.is_set() {
        ended.error = Some(format!("{}: the run stopped", event.id));
        return ended;
    }
    let intended = Instant::now();
    let done: Vec<Option<Arc<Sent>>> = senders
        .iter()
        .map(|s| match &*s.borrow() {
            Some(Outcome::Ok(sent)) => Some(Arc::clone(sent)),
            _ => None,
        })
        .collect();
    let how = Build {
        substitute: replayer.replay.output_substitution,
        prefix,
        use_recorded_on_bad_tool_calls: replayer.replay.use_recorded_on_bad_tool_calls,
    };
    let (messages, substitutions) = match messages::build(event, &session.events, &done, &how) {
        Ok(built) => built,
        Err(e) => {
            ended.error = Some(format!("{}: {e}", event.id));
            return ended;
        }
    };
    ended.substitutions = substitutions;
    let (body, max_tokens) = replayer.body(event, &messages, client.endpoint());
    let headers = replayer.headers(event, &session.id, client.endpoint());
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (exchange, answer) = client.send_chat(body, max_tokens, &headers).await;
    let end = Instant::now();
    let prompt_tokens = estimate(&messages);
    ended.sent = Some((intended, end));
    match &exchange {
        Exchange::Ok(success) => {
            ended.ok = true;
            let usage = success.usage.unwrap_or_default();
            ended.tokens = (
                usage.prompt_tokens.unwrap_or(u64::from(prompt_tokens)),
                usage.completion_tokens.unwrap_or(0),
            );
            let answer = messages::answer_message(&answer.text, &answer.tool_calls);
            senders[index].send_replace(Some(Outcome::Ok(Arc::new(Sent { messages, answer }))));
        }
        other => ended.error = Some(format!("{}: {}", event.id, describe(other))),
    }
    let finished = Finished {
        sample: Sample {
            intended,
            prompt_tokens,
            expect: Expect::default(),
            exchange,
        },
        ended: end,
        turn: None,
        adapter: None,
        media: Default::default(),
    };
    let _ = tx.send(Done::Call(Box::new(finished)));
    ended
}

fn describe(exchange: &Exchange) -> String {
    match exchange {
        Exchange::Ok(_) => "ok".into(),
        Exchange::Failed(f) => f.message.clone(),
        Exchange::TimedOut { .. } => "timed out".into(),
    }
}

/// The prompt's length estimated as inference-perf does (4 characters a token): counting every
/// call's whole context with the tokenizer would cost the load thread milliseconds per call. A
/// server's `usage` is used where it reports one.
fn estimate(messages: &[Value]) -> u32 {
    let chars: usize = messages
        .iter()
        .map(|m| crate::plan::replay::otel::matching_text(m).chars().count())
        .sum();
    (chars / 4).clamp(1, u32::MAX as usize) as u32
}

/// The session's record from its calls' ends.
fn record(
    session: &Session,
    stage: usize,
    started: Instant,
    ends: &[Option<Ended>],
) -> SessionRecord {
    let events = &session.events;
    let count = |f: &dyn Fn(&Ended) -> bool| ends.iter().flatten().filter(|e| f(e)).count() as u64;
    let completed = count(&|e| e.ok);
    let failed = count(&|e| e.sent.is_some() && !e.ok);
    let cancelled = events.len() as u64 - completed - failed;
    let end_of = |i: usize| ends[i].as_ref().and_then(|e| e.sent).map(|s| s.1);
    let last = (0..events.len())
        .filter_map(|i| end_of(i).map(|t| (t, i)))
        .max();
    let mut path = Vec::new();
    let mut in_calls = Duration::ZERO;
    let mut at = last.map(|(_, i)| i);
    while let Some(i) = at {
        path.push(events[i].id.clone());
        if let Some((due, end)) = ends[i].as_ref().and_then(|e| e.sent) {
            in_calls += end.saturating_duration_since(due);
        }
        at = events[i]
            .predecessors
            .iter()
            .filter_map(|&p| end_of(p).map(|t| (t, p)))
            .max()
            .map(|(_, p)| p);
    }
    path.reverse();
    let error = (0..events.len()).find_map(|i| ends[i].as_ref().and_then(|e| e.error.clone()));
    let sum = |f: &dyn Fn(&Ended) -> u64| ends.iter().flatten().map(f).sum::<u64>();
    SessionRecord {
        session_id: session.id.clone(),
        source: session.source.clone(),
        stage,
        duration_us: last.map_or(0, |(t, _)| {
            t.saturating_duration_since(started).as_micros() as u64
        }),
        events: events.len() as u64,
        completed,
        failed,
        cancelled,
        success: completed == events.len() as u64,
        error,
        critical_path: path,
        critical_calls_us: in_calls.as_micros() as u64,
        input_tokens: sum(&|e| e.tokens.0),
        output_tokens: sum(&|e| e.tokens.1),
        recorded_substitutions: sum(&|e| e.substitutions),
    }
}

/// The `tools` and `tool_choice` a call sends: its recorded tools, and the recorded function
/// forced when the recording was a call of one tool among them (`required` otherwise).
pub(super) fn tool_fields(event: &crate::plan::replay::Event) -> Option<(Value, Option<Value>)> {
    let definitions = event.call.tools.as_ref().filter(|t| !t.is_empty())?;
    let tools = messages::tools(definitions);
    let choice = match event.tool_names.as_slice() {
        [] => None,
        [one]
            if tools
                .iter()
                .any(|t| t.pointer("/function/name").and_then(Value::as_str) == Some(one)) =>
        {
            Some(json!({"type": "function", "function": {"name": one}}))
        }
        _ => Some(json!("required")),
    };
    Some((Value::Array(tools), choice))
}
