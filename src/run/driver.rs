//! Drives one stage against a `Client`: owns the timing, knows nothing of HTTP.
//!
//! Open-loop stages send each request at its absolute deadline (`stage start + offset`), whether or
//! not earlier ones have answered; closed-loop stages keep `concurrency` requests in flight, one task
//! per slot. Either way every request records when it was *intended* to go and when it actually went
//! (schedule delay), nothing scheduled is ever dropped, and the stage ends when every request it sent
//! has ended. Completed requests are recorded by this one task, so the `Recorder` has a single owner.
//!
//! When the run is stopped, sending stops at once, requests in flight get `STOP_GRACE` to finish, and
//! everything scheduled but not finished is counted as cancelled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

use crate::client::{Client, Exchange, Failure, FailureKind};
use crate::measure::recorder::{Expect, Recorder, Sample};
use crate::measure::timeline::Timeline;
use crate::plan::arrivals::Arrivals;
use crate::plan::datagen::{Generator, RequestSpec};
use crate::plan::{PlannedStage, StageLoad};
use crate::run::pacer::Pacer;
use crate::run::stop::{Stop, StopHandle};
use crate::scenario::ApiKind;

/// The request generator, shared by a stage's slots and kept across stages.
pub type SharedGenerator = Arc<Mutex<Generator>>;

/// A finished request: its sample and when it ended (for the stage window and closed-loop slots).
struct Finished {
    sample: Sample,
    ended: Instant,
}

/// How often a running stage's recorder is shown to its `Watch`.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Looks at a stage while it runs, every `WATCH_EVERY` as requests finish: for progress lines and for
/// thresholds that abort the run (k6's `abortOnFail`). Returning a reason stops the run.
pub struct Watch<'a> {
    pub handle: &'a StopHandle,
    pub check: &'a mut dyn FnMut(&Recorder) -> Option<String>,
}

/// Runs one stage to completion (or until `stop`) and returns what it recorded.
pub async fn run_stage(
    client: &Arc<Client>,
    stage: &PlannedStage,
    generator: &SharedGenerator,
    max_in_flight: usize,
    stop: &Stop,
    watch: Option<Watch<'_>>,
) -> Recorder {
    let started = Instant::now();
    let mut driver = Driver {
        client,
        stop,
        watch,
        last_watch: Instant::now(),
        recorder: Recorder::new(),
        in_flight: JoinSet::new(),
        last_end: None,
        launched: Arc::new(AtomicU64::new(0)),
        timeline: Timeline::new(started),
    };
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
            let slots = concurrency as usize;
            driver
                .closed_loop(started, num_requests, slots, generator)
                .await;
        }
    }
    driver.drain().await;
    let ended = driver.last_end.unwrap_or_else(Instant::now);
    driver.recorder.close(started, ended);
    driver.recorder.timeline = driver.timeline.points;
    driver.recorder
}

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
            expect: Expect {
                prompt: client.endpoint().api == ApiKind::Completion,
                output: client.endpoint().ignore_eos.then_some(spec.max_tokens),
            },
            exchange,
        },
        ended: Instant::now(),
    }
}

struct Driver<'a, 'b> {
    client: &'a Arc<Client>,
    stop: &'a Stop,
    watch: Option<Watch<'b>>,
    last_watch: Instant,
    recorder: Recorder,
    in_flight: JoinSet<Finished>,
    last_end: Option<Instant>,
    /// Requests handed to a task so far (open loop: at launch; closed loop: when a slot claims one).
    launched: Arc<AtomicU64>,
    timeline: Timeline,
}

impl Driver<'_, '_> {
    async fn open_loop(
        &mut self,
        started: Instant,
        arrivals: Arrivals,
        generator: &SharedGenerator,
        max_in_flight: usize,
    ) {
        let mut pacer = match Pacer::start(started, arrivals) {
            Ok(pacer) => pacer,
            Err(e) => panic!("cannot start the pacer thread: {e}"),
        };
        loop {
            // Prepare the request before its deadline, so building it never delays the send.
            let spec = next_request(generator);
            let due = tokio::select! {
                biased;
                _ = self.stop.wait() => None,
                due = pacer.next() => Some(due),
            };
            let intended = match due {
                Some(Some(intended)) => intended,
                Some(None) => return,
                None => {
                    // The rest of the schedule will never be sent.
                    let never_sent = pacer.cancel();
                    self.recorder.scheduled += never_sent;
                    self.recorder.cancelled += never_sent;
                    return;
                }
            };
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
            let client = Arc::clone(self.client);
            let (generator, unclaimed) = (Arc::clone(generator), Arc::clone(&unclaimed));
            let launched = Arc::clone(&self.launched);
            let (tx, stop) = (tx.clone(), self.stop.clone());
            slots.spawn(async move {
                // A slot's first request is due when the slot starts; how long it took to start every
                // slot is the stage's ramp-up, reported on its own.
                let slot_started = Instant::now();
                let mut intended = slot_started;
                while !stop.is_set()
                    && unclaimed
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                        .is_ok()
                {
                    launched.fetch_add(1, Ordering::Relaxed);
                    let finished = send(&client, intended, next_request(&generator)).await;
                    intended = finished.ended;
                    if tx.send(finished).is_err() {
                        break;
                    }
                }
                slot_started
            });
        }
        drop(tx);
        let mut received = 0;
        loop {
            tokio::select! {
                biased;
                finished = rx.recv() => match finished {
                    Some(finished) => {
                        received += 1;
                        self.finish(Ok(finished));
                    }
                    None => break,
                },
                _ = self.stop.grace_over() => {
                    slots.abort_all();
                    break;
                }
            }
        }
        let claimed = num_requests - unclaimed.load(Ordering::Acquire);
        self.recorder.scheduled += num_requests;
        // Never claimed, because the run stopped first.
        self.recorder.cancelled += num_requests - claimed;
        while let Some(joined) = slots.join_next().await {
            match joined {
                Ok(slot_started) => {
                    let ramp = slot_started.saturating_duration_since(started);
                    self.recorder.ramp_up = self.recorder.ramp_up.max(ramp);
                }
                Err(e) if e.is_cancelled() => {}
                // The slot's request in flight is lost with it: count it as failed, never drop it.
                Err(e) => {
                    received += 1;
                    self.finish(Err(e));
                }
            }
        }
        self.recorder.cancelled += claimed.saturating_sub(received);
    }

    fn launch(&mut self, intended: Instant, spec: RequestSpec) {
        self.recorder.scheduled += 1;
        self.launched.fetch_add(1, Ordering::Relaxed);
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

    /// Waits for every open-loop request in flight; after a stop, only for `STOP_GRACE`.
    async fn drain(&mut self) {
        loop {
            tokio::select! {
                biased;
                joined = self.in_flight.join_next() => match joined {
                    Some(joined) => self.finish(joined),
                    None => return,
                },
                _ = self.stop.grace_over() => {
                    self.in_flight.abort_all();
                    while let Some(joined) = self.in_flight.join_next().await {
                        self.finish(joined);
                    }
                    return;
                }
            }
        }
    }

    fn finish(&mut self, joined: Result<Finished, JoinError>) {
        let finished = match joined {
            Ok(finished) => finished,
            Err(e) if e.is_cancelled() => {
                self.recorder.cancelled += 1;
                return;
            }
            Err(e) => {
                // A request task that panicked is still a request: count it, never lose it.
                let now = Instant::now();
                Finished {
                    sample: Sample {
                        intended: now,
                        prompt_tokens: 0,
                        expect: Expect::default(),
                        exchange: Exchange::Failed(Failure {
                            kind: FailureKind::Other,
                            message: format!("request task ended abnormally: {e}"),
                            sent: now,
                            end: now,
                        }),
                    },
                    ended: now,
                }
            }
        };
        self.recorder.record(&finished.sample);
        let r = &self.recorder;
        let in_flight = self
            .launched
            .load(Ordering::Relaxed)
            .saturating_sub(r.ok + r.failed() + r.timed_out);
        let (ttft, e2e) = match &finished.sample.exchange {
            Exchange::Ok(s) => (
                s.first_content.map(|f| f.saturating_duration_since(s.sent)),
                Some(s.end.saturating_duration_since(s.sent)),
            ),
            _ => (None, None),
        };
        self.timeline.finished(ttft, e2e, in_flight);
        self.last_end = Some(
            self.last_end
                .map_or(finished.ended, |t| t.max(finished.ended)),
        );
        if let Some(watch) = &mut self.watch
            && self.last_watch.elapsed() >= WATCH_EVERY
        {
            self.last_watch = Instant::now();
            if let Some(reason) = (watch.check)(&self.recorder) {
                watch.handle.stop(reason);
            }
        }
    }
}
