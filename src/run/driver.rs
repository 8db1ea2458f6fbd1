//! Drives one stage against a `Client`: owns the timing, knows nothing of HTTP.
//!
//! Open-loop stages send each request at its absolute deadline (`stage start + offset`), whether or
//! not earlier ones have answered; closed-loop stages keep `concurrency` requests in flight, one task
//! per slot. Either way every request records when it was *intended* to go and when it actually went
//! (schedule delay), nothing scheduled is ever dropped, and the stage ends when every request it sent
//! has ended. Completed requests are recorded by this one task, so the `Recorder` has a single owner.
//!
//! A driver sends one part of a stage (`Part`): its shard's arrivals of an open-loop stage, or its
//! slots of a closed-loop one, claiming requests' global indexes from the `Claims` its process's
//! load threads share. Request `i` is always `Generator::request(stage seed, i)`, so the parts
//! together send exactly what one driver would.
//!
//! When the run is stopped, sending stops at once, requests in flight get `STOP_GRACE` to finish, and
//! everything scheduled but not finished is counted as cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

use crate::client::{Client, Exchange};
use crate::measure::recorder::Recorder;
use crate::measure::timeline::Timeline;
use crate::plan::arrivals::{Arrivals, Process};
use crate::plan::datagen::{Generator, RequestSpec};
use crate::plan::shard::Shard;
use crate::plan::{PlannedStage, StageLoad};
use crate::run::breakers::Breakers;
use crate::run::pacer::Pacer;
use crate::run::records::Records;
use crate::run::replay::{Done, Replayer, SessionsPart};
use crate::run::send::{Finished, hold, send_any, start};
use crate::run::sessions::Live;
use crate::run::stop::Stop;

/// How often a running stage's recorder is shown to its `peek`.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

/// The global indexes of a closed-loop stage's requests that one process sends (`shard`'s share of
/// `num_requests`: `I`, `I + N`, ...), handed out one at a time to whichever slot of whichever load
/// thread asks first.
#[derive(Debug)]
pub struct Claims {
    next: AtomicU64,
    count: u64,
    shard: Shard,
}

impl Claims {
    pub fn new(num_requests: u64, shard: Shard) -> Claims {
        Claims {
            next: AtomicU64::new(0),
            count: shard.share(num_requests),
            shard,
        }
    }

    /// The next request's global index, while any are left.
    pub(super) fn claim(&self) -> Option<u64> {
        let k = self
            .next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |k| {
                (k < self.count).then_some(k + 1)
            })
            .ok()?;
        Some(k * u64::from(self.shard.count()) + u64::from(self.shard.index()))
    }

    /// Requests never claimed (the run stopped first).
    pub fn unclaimed(&self) -> u64 {
        self.count - self.next.load(Ordering::Acquire).min(self.count)
    }

    /// The global indexes never claimed.
    pub fn unclaimed_indexes(&self) -> impl Iterator<Item = u64> + '_ {
        let from = self.next.load(Ordering::Acquire).min(self.count);
        let (n, i) = (u64::from(self.shard.count()), u64::from(self.shard.index()));
        (from..self.count).map(move |k| k * n + i)
    }
}

/// The part of a stage one driver sends.
#[derive(Debug, Clone)]
pub struct Part {
    /// Open loop: the arrivals of the global schedule this driver sends.
    pub shard: Shard,
    /// Closed loop: this driver's concurrency slots, and the requests they claim from.
    pub slots: u64,
    pub claims: Arc<Claims>,
    /// This driver's share of the in-flight cap (open loop).
    pub max_in_flight: usize,
    /// Multi-turn data: the stage's sessions, shared by every load thread of the process.
    pub sessions: Option<Arc<Live>>,
    /// The run's circuit breakers, fed every finished request.
    pub breakers: Option<Arc<Breakers>>,
    /// `trace_replay`: the trace's arrival offsets.
    pub trace: Option<Arc<[Duration]>>,
    /// `report.goodput`: the per-request SLOs each success is judged against.
    pub slo: Option<crate::scenario::goodput::Goodput>,
    /// Where each finished request is recorded, when per-request records are on.
    pub records: Option<Records>,
    /// Session replay: the recorded sessions (`trace_session_replay` stages).
    pub replay: Option<Arc<Replayer>>,
}

/// Runs one part of a stage from `started` to completion (or until `stop`) and returns what it
/// recorded; `peek` sees the recorder every `WATCH_EVERY` as requests finish.
pub async fn run_stage<'p>(
    client: &Arc<Client>,
    stage: &PlannedStage,
    part: &Part,
    generator: &Arc<Generator>,
    started: Instant,
    stop: &Stop,
    peek: Option<&'p mut (dyn FnMut(&Recorder) + 'p)>,
) -> Recorder {
    let mut driver = Driver {
        client,
        stop,
        breakers: part.breakers.clone(),
        peek,
        last_watch: Instant::now(),
        recorder: Recorder::judging(part.slo),
        in_flight: JoinSet::new(),
        last_end: None,
        launched: Arc::new(AtomicU64::new(0)),
        timeline: Timeline::new(started),
        records: part.records.clone().map(|r| (r, stage.index)),
    };
    match stage.load {
        StageLoad::Open {
            process,
            rate,
            duration,
        } => {
            let all = match (process, &part.trace) {
                (Process::Trace, Some(offsets)) => Arrivals::trace(Arc::clone(offsets), duration),
                _ => Arrivals::new(process, rate, duration, stage.seed),
            };
            let arrivals = part.shard.arrivals(all);
            let (generator, stream) = (Arc::clone(generator), stage.seed);
            let prepare = move |index| generator.request(stream, index);
            driver
                .open_loop(
                    started,
                    arrivals,
                    prepare,
                    part.max_in_flight.max(1),
                    part.sessions.as_ref(),
                )
                .await;
        }
        StageLoad::Closed { num_requests, .. } => {
            tokio::time::sleep_until(started.into()).await;
            driver
                .closed_loop(started, part, generator, (stage.seed, num_requests))
                .await;
        }
        StageLoad::Sessions { first, rate, .. } => {
            let replayer = part
                .replay
                .as_ref()
                .expect("session stages are run with the recorded sessions");
            tokio::time::sleep_until(started.into()).await;
            let sessions = SessionsPart {
                client,
                replayer,
                claims: &part.claims,
                slots: part.slots,
                first,
                rate,
                stage: stage.index,
            };
            driver.sessions(sessions, started).await;
        }
    }
    driver.drain().await;
    let ended = driver.last_end.unwrap_or_else(Instant::now);
    driver.recorder.close(started, ended);
    for adapter in &mut driver.recorder.adapters {
        adapter.close(started, ended);
    }
    driver.recorder.timeline = driver.timeline.points;
    driver.recorder
}

struct Driver<'a, 'b> {
    client: &'a Arc<Client>,
    stop: &'a Stop,
    breakers: Option<Arc<Breakers>>,
    peek: Option<&'b mut (dyn FnMut(&Recorder) + 'b)>,
    last_watch: Instant,
    recorder: Recorder,
    in_flight: JoinSet<Finished>,
    last_end: Option<Instant>,
    /// Requests handed to a task so far (open loop: at launch; closed loop: when a slot claims one).
    launched: Arc<AtomicU64>,
    timeline: Timeline,
    /// Per-request records, and this stage's index for them.
    records: Option<(Records, usize)>,
}

impl Driver<'_, '_> {
    async fn open_loop(
        &mut self,
        started: Instant,
        arrivals: impl Iterator<Item = (u64, Duration)>,
        prepare: impl FnMut(u64) -> RequestSpec,
        max_in_flight: usize,
        sessions: Option<&Arc<Live>>,
    ) {
        let mut pacer = match Pacer::new(started, arrivals, prepare) {
            Ok(pacer) => pacer,
            Err(e) => panic!("cannot start the pacer's timer: {e}"),
        };
        loop {
            let due = tokio::select! {
                biased;
                _ = self.stop.wait() => None,
                due = pacer.next() => Some(due),
            };
            let due = match due {
                Some(Some(due)) => due,
                Some(None) => return,
                None => {
                    // The rest of the schedule will never be sent.
                    let never_sent = pacer.remaining();
                    self.recorder.scheduled += never_sent;
                    self.recorder.cancelled += never_sent;
                    return;
                }
            };
            if self.in_flight.len() >= max_in_flight {
                self.reap_ready();
            }
            if self.in_flight.len() >= max_in_flight {
                self.recorder.in_flight_cap_waits += 1;
                while self.in_flight.len() >= max_in_flight {
                    self.wait_for_one().await;
                }
            }
            self.launch(due.deadline, due.spec, sessions).await;
            self.reap_ready();
        }
    }

    /// Runs this part's slots, each its own task: a slot's next request is due the moment its previous
    /// one ended, with no hop through a dispatcher, and finished requests come back over a channel.
    async fn closed_loop(
        &mut self,
        started: Instant,
        part: &Part,
        generator: &Arc<Generator>,
        (stream, limit): (u64, u64),
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Finished>();
        let mut slots = JoinSet::new();
        for _ in 0..part.slots {
            let client = Arc::clone(self.client);
            let (generator, claims) = (Arc::clone(generator), Arc::clone(&part.claims));
            let launched = Arc::clone(&self.launched);
            let (tx, stop) = (tx.clone(), self.stop.clone());
            let sessions = part.sessions.clone();
            slots.spawn(async move {
                // A slot's first request is due when the slot starts; how long it took to start every
                // slot is the stage's ramp-up, reported on its own.
                let slot_started = Instant::now();
                let mut intended = slot_started;
                while !stop.is_set()
                    && let Some(claimed) = claims.claim()
                {
                    launched.fetch_add(1, Ordering::Relaxed);
                    // With sessions, a claim is a turn to send: of whichever session is free.
                    let index = match &sessions {
                        Some(live) => tokio::select! {
                            biased;
                            _ = stop.wait() => break,
                            index = live.take(limit) => index,
                        },
                        None => claimed,
                    };
                    let spec = generator.request(stream, index);
                    let (finished, held) =
                        send_any(&client, sessions.as_ref(), intended, spec).await;
                    intended = finished.ended;
                    if tx.send(finished).is_err() {
                        break;
                    }
                    // A session's tool call holds the slot (inference-perf's rule); the next request
                    // is due when it is over.
                    if let Some(held) = held {
                        hold(held, &stop).await;
                        intended = Instant::now();
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
        // What this part claimed is its schedule; what was never claimed the caller counts once.
        let claimed = self.launched.load(Ordering::Relaxed);
        self.recorder.scheduled += claimed;
        self.recorder.cancelled += claimed.saturating_sub(received);
    }

    /// Replays this part's sessions (`run::replay`): every call is recorded as it ends, every
    /// session's record when its last call is done; calls of claimed sessions never sent are
    /// cancelled.
    async fn sessions(&mut self, part: SessionsPart<'_>, started: Instant) {
        let (mut slots, mut rx) = crate::run::replay::start(part, started, self.stop);
        loop {
            tokio::select! {
                biased;
                done = rx.recv() => match done {
                    Some(done) => self.take(done),
                    None => break,
                },
                _ = self.stop.grace_over() => {
                    slots.abort_all();
                    while let Ok(done) = rx.try_recv() {
                        self.take(done);
                    }
                    break;
                }
            }
        }
        while slots.join_next().await.is_some() {}
        let r = &self.recorder;
        let ended = r.ok + r.failed() + r.timed_out;
        self.recorder.cancelled += self.recorder.scheduled.saturating_sub(ended);
    }

    fn take(&mut self, done: Done) {
        match done {
            Done::Claimed(calls) => {
                self.recorder.scheduled += calls;
                self.launched.fetch_add(calls, Ordering::Relaxed);
            }
            Done::Call(finished) => self.finish(Ok(*finished)),
            Done::Session(record) => self.recorder.replay.sessions.push(record),
        }
    }

    /// Starts a request here (see `start`) and leaves the rest of it to a task.
    async fn launch(&mut self, intended: Instant, spec: RequestSpec, sessions: Option<&Arc<Live>>) {
        self.recorder.scheduled += 1;
        self.launched.fetch_add(1, Ordering::Relaxed);
        let client = Arc::clone(self.client);
        let (sessions, stop) = (sessions.cloned(), self.stop.clone());
        let request = Box::pin(async move {
            let (finished, held) = send_any(&client, sessions.as_ref(), intended, spec).await;
            // The session's tool-call latency passes after the request is recorded.
            if let Some(held) = held {
                tokio::spawn(async move { hold(held, &stop).await });
            }
            finished
        });
        match start(request).await {
            Ok(finished) => self.finish(Ok(finished)),
            Err(request) => drop(self.in_flight.spawn(request)),
        }
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
            // A request task that panicked is still a request: count it, never lose it.
            Err(e) => Finished::failed(format!("request task ended abnormally: {e}")),
        };
        let judged = self.recorder.record(&finished.sample);
        self.recorder.media.record(&finished.media);
        if let Some((records, stage)) = &self.records {
            records.send(*stage, &finished.sample, judged, finished.adapter);
        }
        if let Some(breakers) = &self.breakers {
            breakers.feed(&finished.sample, finished.ended);
        }
        if let Some(mark) = finished.turn {
            self.recorder.sessions.record(mark, &finished.sample);
        }
        if let Some(adapter) = finished.adapter {
            self.recorder
                .adapter(usize::from(adapter))
                .record(&finished.sample);
        }
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
        if let Some(peek) = &mut self.peek
            && self.last_watch.elapsed() >= WATCH_EVERY
        {
            self.last_watch = Instant::now();
            peek(&self.recorder);
        }
    }
}
