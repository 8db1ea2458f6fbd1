//! The load threads: `load.num_workers` threads in one process, each with its own single-threaded
//! runtime, its own HTTP client and its own pacer, so a stage's load spreads over the cores the
//! process may use with no hand-off between them.
//!
//! Thread `j` of `T` in a process that is shard `I` of `N` sends shard `I + j·N` of `N·T` of every
//! open-loop stage (together: exactly the process's shard), and a share of its closed-loop slots,
//! claiming requests from the process's `Claims`. Each stage starts on every thread at the same
//! instant; while it runs, each thread copies its recorder in place (no allocation) four times a
//! second, and the main thread merges the copies for the progress line and the abort rule; when
//! every thread is done the stage's recorder is their exact merge.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::RunError;
use super::breakers::Breakers;
use super::driver::{Claims, Part, WATCH_EVERY, run_stage};
use super::records::Records;
use super::sessions::Live;
use super::stop::Stop;
use crate::client::{Client, Endpoint};
use crate::measure::recorder::Recorder;
use crate::plan::SessionCaps;
use crate::plan::datagen::Generator;
use crate::plan::sessions::SessionPlan;
use crate::plan::shard::Shard;
use crate::plan::{PlannedStage, StageLoad};
use crate::scenario::goodput::Goodput;

struct Job {
    stage: PlannedStage,
    part: Part,
    started: Instant,
    stop: Stop,
    /// Where the thread shows its recorder every `WATCH_EVERY`, when the stage is watched.
    view: Option<Arc<Mutex<Recorder>>>,
    done: mpsc::UnboundedSender<(usize, Recorder)>,
}

/// The running load threads of one process.
pub struct Workers {
    jobs: Vec<std_mpsc::Sender<Job>>,
    threads: Vec<thread::JoinHandle<()>>,
    clients: Vec<Arc<Client>>,
    /// Each thread's latest recorder, copied in place (no allocation) while a watched stage runs.
    views: Vec<Arc<Mutex<Recorder>>>,
    /// Which part of the load this process sends.
    shard: Shard,
    /// Multi-turn data: the sessions.
    sessions: Option<Arc<SessionPlan>>,
    shared: Shared,
    /// Where the measured stages' requests are recorded one by one (not warm-up or probes).
    pub records: Option<Records>,
}

/// What every load thread shares besides the generator.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// Quick mode's limits on session turns.
    pub session_caps: SessionCaps,
    /// The run's circuit breakers.
    pub breakers: Option<Arc<Breakers>>,
    /// `trace_replay`: the trace's arrival offsets.
    pub trace: Option<Arc<[Duration]>>,
    /// `report.goodput`: the per-request SLOs each success is judged against.
    pub slo: Option<Goodput>,
    /// Session replay: the recorded sessions.
    pub replay: Option<Arc<crate::run::replay::Replayer>>,
}

impl Workers {
    /// Starts `count` load threads sending `shard`'s part of every stage to `endpoint`.
    /// A session's rounds must all be sent by one process: with `N` sessions, shard `I` of `S` sends
    /// requests `I`, `I + S`, ..., which keeps every session on one shard only when `S` divides `N`.
    pub fn start(
        count: u32,
        shard: Shard,
        endpoint: &Endpoint,
        generator: &Arc<Generator>,
        shared: Shared,
    ) -> Result<Workers, RunError> {
        let sessions = generator.sessions().map(Arc::clone);
        if let Some(plan) = &sessions
            && plan.count() % shard.count() != 0
        {
            return Err(RunError::Setup(format!(
                "{} sessions cannot be split over {} shards: a session's turns must all go from one \
                 shard, so the number of sessions (conversations, or shared_prefix prompts) must be a \
                 multiple of the shard count",
                plan.count(),
                shard.count()
            )));
        }
        let mut workers = Workers {
            jobs: Vec::new(),
            threads: Vec::new(),
            clients: Vec::new(),
            views: Vec::new(),
            shard,
            sessions,
            shared,
            records: None,
        };
        for j in 0..count.max(1) {
            let client = Arc::new(Client::new(endpoint.clone())?);
            let runtime = super::load_runtime().map_err(|e| {
                RunError::Setup(format!("cannot start the runtime of load thread {j}: {e}"))
            })?;
            let (tx, rx) = std_mpsc::channel::<Job>();
            let (c, generator) = (Arc::clone(&client), Arc::clone(generator));
            let thread = thread::Builder::new()
                .name(format!("infergate-load-{j}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        let recorder = runtime.block_on(work(&c, &generator, &job));
                        let _ = job.done.send((j as usize, recorder));
                    }
                })
                .map_err(|e| RunError::Setup(format!("cannot start load thread {j}: {e}")))?;
            workers.jobs.push(tx);
            workers.threads.push(thread);
            workers.clients.push(client);
            workers.views.push(Arc::default());
        }
        Ok(workers)
    }

    /// How many load threads there are.
    pub fn count(&self) -> usize {
        self.jobs.len()
    }

    /// Requests re-sent after a kept-alive connection closed, over every thread.
    pub fn resent(&self) -> u64 {
        self.clients.iter().map(|c| c.resent()).sum()
    }

    /// Each thread's part of `stage` (the in-flight cap `max_in_flight` is for the whole run).
    fn parts(&self, stage: &PlannedStage, max_in_flight: usize) -> Vec<Part> {
        let (shard, threads) = (self.shard, self.count() as u32);
        let (num_requests, concurrency) = match stage.load {
            StageLoad::Closed {
                num_requests,
                concurrency,
            } => (num_requests, u64::from(concurrency)),
            StageLoad::Sessions {
                concurrent, count, ..
            } => {
                let count = count.expect("the corpus gave every session stage its count");
                let slots = match concurrent {
                    0 => count,
                    n => u64::from(n).min(count),
                };
                (count, slots)
            }
            StageLoad::Open { .. } => (0, 0),
        };
        let claims = Arc::new(Claims::new(num_requests, shard));
        let sessions = self.sessions.as_ref().map(|plan| {
            let closed = matches!(stage.load, StageLoad::Closed { .. }).then_some(shard);
            let caps = self.shared.session_caps;
            Arc::new(Live::new(Arc::clone(plan), stage.index, caps, closed))
        });
        let (slots, in_flight) = (shard.share(concurrency), shard.share(max_in_flight as u64));
        (0..threads)
            .map(|j| {
                let mine = Shard::new(j, threads).expect("j < threads");
                Part {
                    shard: Shard::new(shard.index() + j * shard.count(), shard.count() * threads)
                        .expect("index < count"),
                    slots: mine.share(slots),
                    claims: Arc::clone(&claims),
                    max_in_flight: mine.share(in_flight).max(1) as usize,
                    sessions: sessions.clone(),
                    breakers: self.shared.breakers.clone(),
                    trace: self.shared.trace.clone(),
                    slo: self.shared.slo,
                    records: self.records.clone(),
                    replay: self.shared.replay.clone(),
                }
            })
            .collect()
    }

    /// Runs this process's part of `stage` on every thread from `started`, and returns the exact merge
    /// of what they recorded. `watch` sees the threads' merged recorders every `WATCH_EVERY`.
    pub async fn run_stage(
        &self,
        stage: &PlannedStage,
        max_in_flight: usize,
        started: Instant,
        stop: &Stop,
        mut watch: Option<&mut (dyn FnMut(&Recorder) + '_)>,
    ) -> Result<Recorder, RunError> {
        let parts = self.parts(stage, max_in_flight);
        let claims = Arc::clone(&parts[0].claims);
        let (done_tx, mut rx) = mpsc::unbounded_channel();
        for ((jobs, part), view) in self.jobs.iter().zip(parts).zip(&self.views) {
            view.lock().unwrap_or_else(|e| e.into_inner()).clear();
            let job = Job {
                stage: stage.clone(),
                part,
                started,
                stop: stop.clone(),
                view: watch.is_some().then(|| Arc::clone(view)),
                done: done_tx.clone(),
            };
            jobs.send(job)
                .map_err(|_| RunError::Setup("a load thread has stopped".into()))?;
        }
        drop(done_tx);
        let n = self.count();
        let mut done: Vec<Option<Recorder>> = vec![None; n];
        let mut seen = Recorder::new();
        let mut ticks = tokio::time::interval_at((started + WATCH_EVERY).into(), WATCH_EVERY);
        while done.iter().any(Option::is_none) {
            tokio::select! {
                finished = rx.recv() => match finished {
                    Some((j, recorder)) => done[j] = Some(recorder),
                    None => {
                        let lost: Vec<usize> = (0..n).filter(|&j| done[j].is_none()).collect();
                        return Err(RunError::Setup(format!(
                            "load thread(s) {lost:?} stopped in the middle of a stage"
                        )));
                    }
                },
                _ = ticks.tick(), if watch.is_some() => {
                    seen.clear();
                    for view in &self.views {
                        seen.add_shard(&view.lock().unwrap_or_else(|e| e.into_inner()));
                    }
                    if let Some(watch) = &mut watch {
                        watch(&seen);
                    }
                }
            }
        }
        let mut merged = Recorder::merged_shards(done.iter().flatten());
        // Session stages claim sessions: what was never sent is their calls.
        let unclaimed = match (&stage.load, &self.shared.replay) {
            (StageLoad::Sessions { first, .. }, Some(replayer)) => {
                replayer.calls_in(claims.unclaimed_indexes().map(|k| first + k))
            }
            _ => claims.unclaimed(),
        };
        merged.scheduled += unclaimed;
        merged.cancelled += unclaimed;
        Ok(merged)
    }
}

/// One thread's part of a stage.
async fn work(client: &Arc<Client>, generator: &Arc<Generator>, job: &Job) -> Recorder {
    let mut show = |r: &Recorder| {
        if let Some(view) = &job.view {
            view.lock().unwrap_or_else(|e| e.into_inner()).copy_from(r);
        }
    };
    let peek: Option<&mut (dyn FnMut(&Recorder) + '_)> = match job.view {
        Some(_) => Some(&mut show),
        None => None,
    };
    run_stage(
        client,
        &job.stage,
        &job.part,
        generator,
        job.started,
        &job.stop,
        peek,
    )
    .await
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
