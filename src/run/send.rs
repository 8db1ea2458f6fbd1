//! One request as the driver records it: sent on its own, or as a session's turn (waiting for its
//! round, carrying its history, holding the session for its tool-call latency), and what the server's
//! `usage` must say about it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use crate::client::content::MediaSent;
use crate::client::{Client, Exchange, Failure, FailureKind};
use crate::measure::recorder::sessions::TurnMark;
use crate::measure::recorder::{Expect, Sample};
use crate::plan::datagen::RequestSpec;
use crate::plan::sessions::Turn;
use crate::run::sessions::{Held, Live};
use crate::run::stop::Stop;
use crate::scenario::ApiKind;

/// A finished request: its sample and when it ended (for the stage window and closed-loop slots).
pub(super) struct Finished {
    pub sample: Sample,
    pub ended: Instant,
    /// Multi-turn data: where it stood in its session.
    pub turn: Option<TurnMark>,
    /// `load.lora_traffic_split`: the adapter it went to.
    pub adapter: Option<u16>,
    /// The media it carried.
    pub media: MediaSent,
}

impl Finished {
    /// A request whose own record was lost (its task ended abnormally), counted as a failure for
    /// `message` that ended now.
    pub(super) fn failed(message: String) -> Finished {
        let now = Instant::now();
        let exchange = Exchange::Failed(Failure {
            kind: FailureKind::Other,
            message,
            sent: now,
            end: now,
        });
        Finished {
            sample: Sample {
                intended: now,
                prompt_tokens: 0,
                expect: Expect::default(),
                exchange,
            },
            ended: now,
            turn: None,
            adapter: None,
            media: MediaSent::default(),
        }
    }
}

async fn send(client: &Client, intended: Instant, spec: RequestSpec) -> Finished {
    let exchange = client
        .send_to(
            spec.adapter,
            &spec.prompt,
            spec.media.as_ref(),
            spec.max_tokens,
        )
        .await;
    Finished {
        sample: Sample {
            intended,
            prompt_tokens: spec.prompt_tokens,
            expect: expect(client, true, spec.max_tokens),
            exchange,
        },
        ended: Instant::now(),
        turn: None,
        adapter: spec.adapter,
        media: spec.media.map(|m| m.sent).unwrap_or_default(),
    }
}

/// What the server's `usage` must say: the prompt length when the prompt is exactly as built and no
/// chat template adds to it, and `max_tokens` when `ignore_eos` is set.
fn expect(client: &Client, exact_prompt: bool, max_tokens: u32) -> Expect {
    Expect {
        prompt: exact_prompt && client.endpoint().api == ApiKind::Completion,
        output: client.endpoint().ignore_eos.then_some(max_tokens),
    }
}

/// Sends a request: a session's turn when it has one (see `send_turn`), else on its own. A turn
/// with a tool-call latency comes back held (its session waits until it is dropped, see `hold`);
/// any other is released at once.
pub(super) async fn send_any(
    client: &Client,
    sessions: Option<&Arc<Live>>,
    intended: Instant,
    spec: RequestSpec,
) -> (Finished, Option<Held>) {
    match (sessions, spec.turn) {
        (Some(live), Some(turn)) => {
            let (finished, held) = send_turn(client, live, intended, spec, turn).await;
            (finished, Some(held).filter(|h| !h.tool_latency().is_zero()))
        }
        _ => (send(client, intended, spec).await, None),
    }
}

/// Sends one turn of a session once its previous round is released: it was due at its schedule or
/// at that release, whichever is later, so waiting for the session is never counted as the runner's
/// delay.
async fn send_turn(
    client: &Client,
    live: &Arc<Live>,
    intended: Instant,
    spec: RequestSpec,
    turn: Turn,
) -> (Finished, Held) {
    let (held, prepared) = live.begin(&spec, turn).await;
    let intended = prepared.ready.map_or(intended, |ready| ready.max(intended));
    let (exchange, answer) = client
        .send_turn(
            spec.adapter,
            &prepared.prompt,
            prepared.max_tokens,
            &prepared.session_id,
            prepared.token.as_deref(),
        )
        .await;
    let ended = Instant::now();
    let sample = Sample {
        intended,
        prompt_tokens: prepared.prompt_tokens,
        expect: expect(client, prepared.exact, prepared.max_tokens),
        exchange,
    };
    held.answered(prepared, &sample.exchange, answer);
    let finished = Finished {
        sample,
        ended,
        turn: Some(TurnMark {
            index: turn.turn,
            last: turn.last,
        }),
        adapter: spec.adapter,
        media: MediaSent::default(),
    };
    (finished, held)
}

/// Holds a session for its turn's tool-call latency (or until the run stops), then releases it.
pub(super) async fn hold(held: Held, stop: &Stop) {
    tokio::select! {
        _ = tokio::time::sleep(held.tool_latency()) => {}
        _ = stop.wait() => {}
    }
}

/// Polls `request` once, here and now: `Ok` with what it gave if it finished at once (a panic is
/// a failed request, as in a task), else the request to hand to a task of its own (whose first poll
/// takes over its wake-ups). Started this way a request stamps and writes its send the moment the
/// pacer hands it over, not when a new task gets its turn behind every task already queued on the
/// load thread.
pub(super) async fn start<F>(mut request: Pin<Box<F>>) -> Result<Finished, Pin<Box<F>>>
where
    F: Future<Output = Finished>,
{
    let polled = std::future::poll_fn(|cx| {
        Poll::Ready(catch_unwind(AssertUnwindSafe(|| request.as_mut().poll(cx))))
    })
    .await;
    match polled {
        Ok(Poll::Ready(finished)) => Ok(finished),
        Ok(Poll::Pending) => Err(request),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Ok(Finished::failed(format!(
                "request task ended abnormally: panicked: {why}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(message: &str) -> Finished {
        Finished::failed(message.to_string())
    }

    fn message(finished: &Finished) -> &str {
        match &finished.sample.exchange {
            Exchange::Failed(f) => &f.message,
            _ => panic!("not a failure"),
        }
    }

    #[tokio::test]
    async fn a_started_request_runs_to_its_first_wait_here() {
        let done = start(Box::pin(async { failed("at once") })).await;
        assert_eq!(message(&done.ok().unwrap()), "at once");

        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = Arc::clone(&ran);
        let waiting = start(Box::pin(async move {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = rx.await;
            failed("after the wait")
        }))
        .await;
        // It ran up to its wait before `start` returned; a task finishes it.
        assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
        let task = tokio::spawn(waiting.err().unwrap());
        tx.send(()).unwrap();
        assert_eq!(message(&task.await.unwrap()), "after the wait");
    }

    #[tokio::test]
    async fn a_request_that_panics_when_started_is_a_failure() {
        let done = start(Box::pin(async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            failed("never")
        }))
        .await;
        let done = done.ok().unwrap();
        assert!(
            message(&done).contains("panicked: boom"),
            "{}",
            message(&done)
        );
    }
}
