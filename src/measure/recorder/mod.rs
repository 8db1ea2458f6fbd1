//! Records finished requests into HDR histograms and counters: one `Recorder` per stage, owned by a
//! single task, merged into a scenario-wide one at the end.
//!
//! Memory does not grow with the number of requests: durations go into histograms (microseconds, three
//! significant figures, up to one hour), failures into counters by kind with a few sample messages.
//! Every scheduled request ends in exactly one bucket: ok, failed (by kind), timed out or cancelled.

mod figures;
pub mod goodput;
pub mod media;
pub mod replay;
pub mod sessions;
mod shards;
pub mod wire;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::{Exchange, FailureKind, Success, Timeout};
use crate::scenario::goodput::Goodput;
use goodput::{Figures, GoodputCounts};

/// The histograms' names (in files), in the order `Recorder::histograms` gives them.
const HISTOGRAMS: [&str; 11] = [
    "ttft",
    "ttfo",
    "itl",
    "tpot",
    "ntpot",
    "request_latency",
    "latency_from_intended",
    "schedule_delay",
    "prompt_tokens",
    "output_tokens",
    "reasoning_tokens",
];

/// How many example messages are kept per failure kind.
const SAMPLES_PER_KIND: usize = 3;

/// One finished request as the load generator hands it over. (Requests that never finished because
/// the run stopped are counted in `Recorder::cancelled` directly.)
#[derive(Debug, Clone)]
pub struct Sample {
    /// When the schedule wanted it sent.
    pub intended: Instant,
    /// The prompt length infergate built, as the scenario's tokenizer counts it.
    pub prompt_tokens: u32,
    /// What the server's `usage` must say for the counts to agree (`token_count_mismatch`).
    pub expect: Expect,
    pub exchange: Exchange,
}

/// Token counts a success's `usage` is checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expect {
    /// `usage.prompt_tokens` must equal `Sample::prompt_tokens` (completion API: no chat template
    /// adds tokens the client cannot see).
    pub prompt: bool,
    /// `usage.completion_tokens` must equal this (`max_tokens` when `ignore_eos` is set).
    pub output: Option<u32>,
}

/// Failures of one kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct FailureGroup {
    pub count: u64,
    /// Up to three messages, as received.
    pub samples: Vec<String>,
}

fn duration_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds are valid")
}

fn count_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("static bounds are valid")
}

/// Histograms and counters for one stage (or, merged, a whole scenario).
#[derive(Debug, Clone)]
pub struct Recorder {
    pub ttft: Histogram<u64>,
    /// Time to first output token: the first answer chunk (not reasoning), streamed successes only.
    pub ttfo: Histogram<u64>,
    pub itl: Histogram<u64>,
    pub tpot: Histogram<u64>,
    pub ntpot: Histogram<u64>,
    pub request_latency: Histogram<u64>,
    /// End-to-end latency measured from the *intended* send time (coordinated omission corrected).
    pub latency_from_intended: Histogram<u64>,
    pub schedule_delay: Histogram<u64>,
    pub prompt_tokens: Histogram<u64>,
    pub output_tokens: Histogram<u64>,
    /// Reasoning tokens of every success (0 for a response without reasoning).
    pub reasoning_tokens: Histogram<u64>,
    pub scheduled: u64,
    pub ok: u64,
    pub failures: BTreeMap<FailureKind, FailureGroup>,
    pub timed_out: u64,
    /// Of `timed_out`, those whose stream went silent (`load.idle_timeout`).
    pub idle_timeouts: u64,
    pub cancelled: u64,
    pub input_tokens_total: u64,
    pub output_tokens_total: u64,
    /// Successes whose output count came from the server's `usage` (the rest were counted by chunks).
    pub output_tokens_from_usage: u64,
    /// Reasoning tokens of all successes, and of those, successes whose count came from the server's
    /// `usage.completion_tokens_details.reasoning_tokens` (the rest were counted by chunks or words).
    pub reasoning_tokens_total: u64,
    pub reasoning_tokens_from_usage: u64,
    /// Successes where the server's `usage.prompt_tokens` differed from the length infergate built.
    pub prompt_token_mismatches: u64,
    /// Successes whose `usage` disagreed with what was asked for: the prompt length above, or (with
    /// `ignore_eos`) `completion_tokens` other than `max_tokens`. The `token_count_mismatch` metric.
    pub token_count_mismatches: u64,
    /// Sends that waited for a free in-flight slot (`load.worker_max_concurrency`).
    pub in_flight_cap_waits: u64,
    /// Closed-loop stages: how long after the stage start the last slot began. Max when merging.
    pub ramp_up: Duration,
    /// Time the stage was active: from its start to its last response. Summed when merging.
    pub active: Duration,
    first_sent: Option<Instant>,
    last_sent: Option<Instant>,
    first_intended: Option<Instant>,
    last_intended: Option<Instant>,
    /// First and last end of a successful request (the completion rate of a sweep step).
    first_ok_end: Option<Instant>,
    last_ok_end: Option<Instant>,
    /// Stages counted into this recorder.
    pub stages: usize,
    /// Once-a-second points of the stage (empty for merged recorders).
    pub timeline: Vec<crate::measure::timeline::Point>,
    /// Multi-turn sessions: counts, and requests by turn index.
    pub sessions: sessions::SessionStats,
    /// `load.lora_traffic_split`: the same measurements for each adapter's requests (in the run's
    /// adapter order; empty without adapters).
    pub adapters: Vec<Recorder>,
    /// The per-request SLOs successes are judged against as they are recorded (`report.goodput`).
    pub slo: Option<Goodput>,
    /// What that judging counted.
    pub goodput: GoodputCounts,
    /// Images, audio and video sent.
    pub media: media::MediaCounts,
    /// Replayed agent sessions (`trace_session_replay`), one record each.
    pub replay: replay::ReplayStats,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            ttft: duration_histogram(),
            ttfo: duration_histogram(),
            itl: duration_histogram(),
            tpot: duration_histogram(),
            ntpot: duration_histogram(),
            request_latency: duration_histogram(),
            latency_from_intended: duration_histogram(),
            schedule_delay: duration_histogram(),
            prompt_tokens: count_histogram(),
            output_tokens: count_histogram(),
            reasoning_tokens: count_histogram(),
            scheduled: 0,
            ok: 0,
            failures: BTreeMap::new(),
            timed_out: 0,
            idle_timeouts: 0,
            cancelled: 0,
            input_tokens_total: 0,
            output_tokens_total: 0,
            output_tokens_from_usage: 0,
            reasoning_tokens_total: 0,
            reasoning_tokens_from_usage: 0,
            prompt_token_mismatches: 0,
            token_count_mismatches: 0,
            in_flight_cap_waits: 0,
            ramp_up: Duration::ZERO,
            active: Duration::ZERO,
            first_sent: None,
            last_sent: None,
            first_intended: None,
            last_intended: None,
            first_ok_end: None,
            last_ok_end: None,
            stages: 1,
            timeline: Vec::new(),
            sessions: sessions::SessionStats::default(),
            adapters: Vec::new(),
            slo: None,
            goodput: GoodputCounts::default(),
            media: media::MediaCounts::default(),
            replay: replay::ReplayStats::default(),
        }
    }

    /// A recorder that judges successes against `slo` (see `goodput`).
    pub fn judging(slo: Option<Goodput>) -> Recorder {
        Recorder {
            slo,
            ..Recorder::new()
        }
    }

    /// Adapter `i`'s recorder, made when first needed.
    pub fn adapter(&mut self, i: usize) -> &mut Recorder {
        while self.adapters.len() <= i {
            let mut fresh = Recorder::judging(self.slo);
            fresh.stages = self.stages;
            self.adapters.push(fresh);
        }
        &mut self.adapters[i]
    }

    /// Requests that failed (any kind).
    pub fn failed(&self) -> u64 {
        self.failures.values().map(|g| g.count).sum()
    }

    /// Requests that reached an end: ok + failed + timed out + cancelled. Equals `scheduled` after a run.
    pub fn accounted(&self) -> u64 {
        self.ok + self.failed() + self.timed_out + self.cancelled
    }

    /// Records one scheduled request's end; a success's figures are returned (and, with SLOs,
    /// whether it was good).
    pub fn record(&mut self, sample: &Sample) -> Option<(Figures, Option<bool>)> {
        let intended = sample.intended;
        self.first_intended = Some(self.first_intended.map_or(intended, |t| t.min(intended)));
        self.last_intended = Some(self.last_intended.map_or(intended, |t| t.max(intended)));
        let exchange = &sample.exchange;
        let sent = match exchange {
            Exchange::Ok(s) => s.sent,
            Exchange::Failed(f) => f.sent,
            Exchange::TimedOut { sent, .. } => *sent,
        };
        self.first_sent = Some(self.first_sent.map_or(sent, |t| t.min(sent)));
        self.last_sent = Some(self.last_sent.map_or(sent, |t| t.max(sent)));
        self.schedule_delay
            .saturating_record(micros(sent.saturating_duration_since(intended)));
        match exchange {
            Exchange::Ok(success) => {
                let figures = self.record_success(success, sample);
                let good = self.slo.map(|slo| self.goodput.judge(&slo, &figures));
                return Some((figures, good));
            }
            Exchange::Failed(failure) => {
                let group = self.failures.entry(failure.kind).or_default();
                group.count += 1;
                if group.samples.len() < SAMPLES_PER_KIND {
                    group.samples.push(failure.message.clone());
                }
            }
            Exchange::TimedOut { timeout, .. } => {
                self.timed_out += 1;
                if *timeout == Timeout::Idle {
                    self.idle_timeouts += 1;
                }
            }
        }
        None
    }

    fn record_success(&mut self, s: &Success, sample: &Sample) -> Figures {
        let (intended, prompt_tokens) = (sample.intended, sample.prompt_tokens);
        self.ok += 1;
        self.first_ok_end = Some(self.first_ok_end.map_or(s.end, |t| t.min(s.end)));
        self.last_ok_end = Some(self.last_ok_end.map_or(s.end, |t| t.max(s.end)));
        let e2e = s.end.saturating_duration_since(s.sent);
        let e2e_us = micros(e2e);
        self.request_latency.saturating_record(e2e_us);
        self.latency_from_intended
            .saturating_record(micros(s.end.saturating_duration_since(intended)));
        let usage = s.usage.unwrap_or_default();
        let output = match usage.completion_tokens {
            Some(n) => {
                self.output_tokens_from_usage += 1;
                n
            }
            None if s.first_content.is_some() => s.content_chunks,
            None => s.body_words,
        };
        let input = usage.prompt_tokens.unwrap_or(prompt_tokens as u64);
        let prompt_differs = sample.expect.prompt
            && usage
                .prompt_tokens
                .is_some_and(|p| p != prompt_tokens as u64);
        let output_differs = sample.expect.output.is_some_and(|want| {
            usage
                .completion_tokens
                .is_some_and(|got| got != want as u64)
        });
        self.prompt_token_mismatches += prompt_differs as u64;
        self.token_count_mismatches += (prompt_differs || output_differs) as u64;
        self.input_tokens_total += input;
        self.output_tokens_total += output;
        self.prompt_tokens.saturating_record(input);
        self.output_tokens.saturating_record(output);
        let mut figures = Figures {
            request_latency: e2e_us,
            ntpot: e2e_us.checked_div(output),
            input_tokens: input,
            output_tokens: output,
            ..Figures::default()
        };
        if let Some(ntpot) = figures.ntpot {
            self.ntpot.saturating_record(ntpot);
        }
        self.record_reasoning(s, &mut figures);
        if let Some(first) = s.first_content {
            let ttft = first.saturating_duration_since(s.sent);
            let ttft_us = micros(ttft);
            figures.ttft = Some(ttft_us);
            self.ttft.saturating_record(ttft_us);
            let mut gaps_total = 0u64;
            for &gap in &s.content_gaps_us {
                self.itl.saturating_record(gap);
                gaps_total = gaps_total.saturating_add(gap);
            }
            figures.itl = gaps_total.checked_div(s.content_gaps_us.len() as u64);
            if output > 1 {
                let tpot = micros(e2e.saturating_sub(ttft)) / (output - 1);
                figures.tpot = Some(tpot);
                self.tpot.saturating_record(tpot);
            }
        }
        figures
    }

    /// A success's reasoning: its tokens (the server's count, else the client's), and when its answer
    /// began (TTFO).
    fn record_reasoning(&mut self, s: &Success, figures: &mut Figures) {
        let reasoning = match s.usage.and_then(|u| u.reasoning_tokens) {
            Some(n) => {
                self.reasoning_tokens_from_usage += 1;
                n
            }
            None => s.reasoning.counted,
        };
        self.reasoning_tokens_total += reasoning;
        self.reasoning_tokens.saturating_record(reasoning);
        figures.reasoning_tokens = reasoning;
        if let Some(output) = s.reasoning.first_output {
            let ttfo = micros(output.saturating_duration_since(s.sent));
            figures.ttfo = Some(ttfo);
            self.ttfo.saturating_record(ttfo);
        }
    }

    /// Whether any success carried reasoning: reports show reasoning figures only then.
    pub fn saw_reasoning(&self) -> bool {
        self.reasoning_tokens_total > 0
    }

    /// Closes a stage: `started` is when its schedule began; the active window ends at `ended`.
    pub fn close(&mut self, started: Instant, ended: Instant) {
        self.active = ended.saturating_duration_since(started);
    }

    /// A scenario-wide recorder from its stages' recorders.
    pub fn merged<'a>(parts: impl IntoIterator<Item = &'a Recorder>) -> Recorder {
        let mut all = Recorder::new();
        all.stages = 0;
        for part in parts {
            all.merge(part);
        }
        all
    }

    /// Adds another stage's observations (for the scenario-wide view): counts and histograms add up,
    /// active time is summed, and the merged recorder reports no send rate (windows are per stage).
    pub fn merge(&mut self, other: &Recorder) {
        self.add_counts(other);
        self.sessions.add(&other.sessions);
        for (i, theirs) in other.adapters.iter().enumerate() {
            self.adapter(i).merge(theirs);
        }
        self.active += other.active;
        self.stages += other.stages;
        self.first_sent = None;
        self.last_sent = None;
        self.first_intended = None;
        self.last_intended = None;
        self.first_ok_end = None;
        self.last_ok_end = None;
    }

    /// The histograms, in `HISTOGRAMS` order.
    fn histograms(&self) -> [&Histogram<u64>; 11] {
        [
            &self.ttft,
            &self.ttfo,
            &self.itl,
            &self.tpot,
            &self.ntpot,
            &self.request_latency,
            &self.latency_from_intended,
            &self.schedule_delay,
            &self.prompt_tokens,
            &self.output_tokens,
            &self.reasoning_tokens,
        ]
    }

    /// The histograms, in `HISTOGRAMS` order, to change.
    fn histograms_mut(&mut self) -> [&mut Histogram<u64>; 11] {
        [
            &mut self.ttft,
            &mut self.ttfo,
            &mut self.itl,
            &mut self.tpot,
            &mut self.ntpot,
            &mut self.request_latency,
            &mut self.latency_from_intended,
            &mut self.schedule_delay,
            &mut self.prompt_tokens,
            &mut self.output_tokens,
            &mut self.reasoning_tokens,
        ]
    }

    /// Every count and every histogram bucket of `other` added to this one's.
    fn add_counts(&mut self, other: &Recorder) {
        for (mine, theirs) in self.histograms_mut().into_iter().zip(other.histograms()) {
            mine.add(theirs).expect("histograms share bounds");
        }
        self.scheduled += other.scheduled;
        self.ok += other.ok;
        for (kind, group) in &other.failures {
            let mine = self.failures.entry(*kind).or_default();
            mine.count += group.count;
            let room = SAMPLES_PER_KIND.saturating_sub(mine.samples.len());
            mine.samples
                .extend(group.samples.iter().take(room).cloned());
        }
        self.timed_out += other.timed_out;
        self.idle_timeouts += other.idle_timeouts;
        self.cancelled += other.cancelled;
        self.input_tokens_total += other.input_tokens_total;
        self.output_tokens_total += other.output_tokens_total;
        self.output_tokens_from_usage += other.output_tokens_from_usage;
        self.reasoning_tokens_total += other.reasoning_tokens_total;
        self.reasoning_tokens_from_usage += other.reasoning_tokens_from_usage;
        self.prompt_token_mismatches += other.prompt_token_mismatches;
        self.token_count_mismatches += other.token_count_mismatches;
        self.in_flight_cap_waits += other.in_flight_cap_waits;
        self.goodput.add(&other.goodput);
        self.media.add(&other.media);
        self.replay.add(&other.replay);
        self.slo = self.slo.or(other.slo);
        self.ramp_up = self.ramp_up.max(other.ramp_up);
    }
}

pub(super) fn span_rate(count: u64, first: Instant, last: Instant) -> Option<f64> {
    let span = last.saturating_duration_since(first).as_secs_f64();
    (count >= 2 && span > 0.0).then(|| (count - 1) as f64 / span)
}

pub(super) fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests;
