//! Drives one stage against a `Client`: owns the timing, knows nothing of HTTP.
//!
//! Open-loop stages send each request at its absolute deadline (`stage start + offset`), whether or not
//! earlier ones have answered; closed-loop stages keep `concurrency` requests in flight, one task per slot. Either way every
//! request records when it was *intended* to go and when it actually went (schedule delay), nothing
//! scheduled is ever dropped, and the stage ends when every request it sent has ended. Completed
//! requests are recorded by this one task, so the `Recorder` has a single owner.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::{Client, Exchange, Failure, FailureKind};
use crate::datagen::{Generator, RequestSpec};
use crate::plan::{PlannedStage, StageLoad};
use crate::recorder::{Outcome, Recorder, Sample};
use crate::schedule::Arrivals;

/// A finished request: its sample and when it ended (for the stage window and closed-loop slots).
struct Finished {
    sample: Sample,
    ended: Instant,
}

/// Runs one stage to completion and returns what it recorded.
pub async fn run_stage(
    client: &Arc<Client>,
    stage: &PlannedStage,
    generator: &SharedGenerator,
    max_in_flight: usize,
) -> Recorder {
    let mut driver = Driver {
        client,
        recorder: Recorder::new(),
        in_flight: JoinSet::new(),
        last_end: None,
    };
    let started = Instant::now();
    match stage.load {
        StageLoad::Open {
            process,
            rate,
            duration,
        } => {
            let arrivals = Arrivals::new(process, rate, duration, stage.seed);
            driver
                .open_loop(started, arrivals, generator, max_in_flight.max(1))
                .await;
        }
        StageLoad::Closed {
            num_requests,
            concurrency,
        } => {
            driver
                .closed_loop(started, num_requests, concurrency as usize, generator)
                .await;
        }
    }
    while let Some(joined) = driver.in_flight.join_next().await {
        driver.finish(joined);
    }
    let ended = driver.last_end.unwrap_or_else(Instant::now);
    driver.recorder.close(started, ended);
    driver.recorder
}

/// The request generator, shared by a stage's slots and kept across stages.
pub type SharedGenerator = Arc<Mutex<Generator>>;

fn next_request(generator: &SharedGenerator) -> RequestSpec {
    generator
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .next_request()
}

async fn send(client: &Client, intended: Instant, spec: RequestSpec) -> Finished {
    let exchange = client.send(&spec.prompt, spec.max_tokens).await;
    Finished {
        sample: Sample {
            intended,
            prompt_tokens: spec.prompt_tokens,
            exchange: Outcome::Sent(exchange),
        },
        ended: Instant::now(),
    }
}

struct Driver<'a> {
    client: &'a Arc<Client>,
    recorder: Recorder,
    in_flight: JoinSet<Finished>,
    last_end: Option<Instant>,
}

impl Driver<'_> {
    async fn open_loop(
        &mut self,
        started: Instant,
        arrivals: Arrivals,
        generator: &SharedGenerator,
        max_in_flight: usize,
    ) {
        for offset in arrivals {
            // Prepare the request before its deadline, so building it never delays the send.
            let spec = next_request(generator);
            let intended = started + offset;
            tokio::time::sleep_until(intended.into()).await;
            self.reap_ready();
            if self.in_flight.len() >= max_in_flight {
                self.recorder.in_flight_cap_waits += 1;
                while self.in_flight.len() >= max_in_flight {
                    self.wait_for_one().await;
                }
            }
            self.launch(intended, spec);
        }
    }

    /// Runs `concurrency` slots, each its own task: a slot's next request is due the moment its previous
    /// one ended, with no hop through a dispatcher, and finished requests come back over a channel.
    async fn closed_loop(
        &mut self,
        started: Instant,
        num_requests: u64,
        concurrency: usize,
        generator: &SharedGenerator,
    ) {
        let unclaimed = Arc::new(AtomicU64::new(num_requests));
        let (tx, mut rx) = mpsc::unbounded_channel::<Finished>();
        let mut slots = JoinSet::new();
        for _ in 0..(concurrency as u64).min(num_requests) {
            let (client, generator, unclaimed, tx) = (
                Arc::clone(self.client),
                Arc::clone(generator),
                Arc::clone(&unclaimed),
                tx.clone(),
            );
            slots.spawn(async move {
                // A slot's first request is due when the slot starts; how long it took to start every
                // slot is the stage's ramp-up, reported on its own.
                let slot_started = Instant::now();
                let mut intended = slot_started;
                while unclaimed
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let spec = next_request(&generator);
                    let finished = send(&client, intended, spec).await;
                    intended = finished.ended;
                    if tx.send(finished).is_err() {
                        break;
                    }
                }
                slot_started
            });
        }
        drop(tx);
        while let Some(finished) = rx.recv().await {
            self.finish(Ok(finished));
        }
        self.recorder.scheduled += num_requests - unclaimed.load(Ordering::Acquire);
        while let Some(joined) = slots.join_next().await {
            match joined {
                Ok(slot_started) => {
                    let ramp = slot_started.saturating_duration_since(started);
                    self.recorder.ramp_up = self.recorder.ramp_up.max(ramp);
                }
                // The slot's request in flight is lost with it: count it as failed, never drop it.
                Err(e) => self.finish(Err(e)),
            }
        }
    }

    fn launch(&mut self, intended: Instant, spec: RequestSpec) {
        self.recorder.scheduled += 1;
        let client = Arc::clone(self.client);
        self.in_flight
            .spawn(async move { send(&client, intended, spec).await });
    }

    /// Records every request that has already finished, without waiting.
    fn reap_ready(&mut self) {
        while let Some(joined) = self.in_flight.try_join_next() {
            self.finish(joined);
        }
    }

    /// Waits for one request to finish and records it.
    async fn wait_for_one(&mut self) {
        if let Some(joined) = self.in_flight.join_next().await {
            self.finish(joined);
        }
    }

    fn finish(&mut self, joined: Result<Finished, tokio::task::JoinError>) {
        let finished = joined.unwrap_or_else(|e| {
            // A request task that panicked is still a request: count it, never lose it.
            let now = Instant::now();
            Finished {
                sample: Sample {
                    intended: now,
                    prompt_tokens: 0,
                    exchange: Outcome::Sent(Exchange::Failed(Failure {
                        kind: FailureKind::Other,
                        message: format!("request task ended abnormally: {e}"),
                        sent: now,
                        end: now,
                    })),
                },
                ended: now,
            }
        });
        self.recorder.record(&finished.sample);
        self.last_end = Some(
            self.last_end
                .map_or(finished.ended, |t| t.max(finished.ended)),
        );
    }
}
