//! A recorder as a file: what one shard (a process or pod) writes so that `merge` can rebuild the
//! recorder exactly. Histograms are written bucket by bucket (each bucket's highest equivalent value
//! and its count, which records back into the same bucket), so a file's size follows the number of
//! distinct buckets, never the number of requests. Instants are written as signed nanoseconds from an
//! origin the shards agree on (the rendezvous start), so windows from different hosts line up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::goodput::GoodputCounts;
use super::media::MediaCounts;
use super::replay::ReplayStats;
use super::sessions::SessionsFile;
use super::{FailureGroup, HISTOGRAMS, Recorder};
use crate::client::FailureKind;
use crate::measure::timeline::Point;
use crate::scenario::goodput::Goodput;

/// A histogram as `[value, count]` pairs, one per recorded bucket.
pub type Buckets = Vec<(u64, u64)>;

/// Everything a `Recorder` holds, in a form that survives JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecorderFile {
    pub histograms: BTreeMap<String, Buckets>,
    pub scheduled: u64,
    pub ok: u64,
    /// Failures by kind (`FailureKind::label`), with their sample messages.
    pub failures: Vec<(FailureKind, FailureGroup)>,
    pub timed_out: u64,
    pub idle_timeouts: u64,
    pub cancelled: u64,
    pub input_tokens_total: u64,
    pub output_tokens_total: u64,
    pub output_tokens_from_usage: u64,
    /// Reasoning tokens, and successes whose count the server gave (absent from older files).
    #[serde(default)]
    pub reasoning_tokens_total: u64,
    #[serde(default)]
    pub reasoning_tokens_from_usage: u64,
    pub prompt_token_mismatches: u64,
    pub token_count_mismatches: u64,
    pub in_flight_cap_waits: u64,
    pub ramp_up_us: u64,
    pub active_us: u64,
    /// first_sent, last_sent, first_intended, last_intended, first_ok_end, last_ok_end, in
    /// nanoseconds from the origin.
    pub windows: [Option<i64>; 6],
    pub stages: usize,
    pub timeline: Vec<Point>,
    /// Multi-turn sessions (absent for runs without them).
    #[serde(default, skip_serializing_if = "SessionsFile::is_empty")]
    pub sessions: SessionsFile,
    /// Goodput counts (absent without `report.goodput`).
    #[serde(default, skip_serializing_if = "GoodputCounts::is_empty")]
    pub goodput: GoodputCounts,
    /// The SLOs they were judged against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Goodput>,
    /// Per LoRA adapter (absent without adapters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<RecorderFile>,
    /// Media sent (absent without media).
    #[serde(default, skip_serializing_if = "MediaCounts::is_empty")]
    pub media: MediaCounts,
    /// Replayed sessions (absent without session replay).
    #[serde(default, skip_serializing_if = "ReplayStats::is_empty")]
    pub replay: ReplayStats,
}

pub(super) fn buckets(h: &Histogram<u64>) -> Buckets {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

/// `t` as signed nanoseconds from `origin`.
pub fn offset(origin: Instant, t: Option<Instant>) -> Option<i64> {
    t.map(|t| match t.checked_duration_since(origin) {
        Some(after) => after.as_nanos().min(i64::MAX as u128) as i64,
        None => -(origin.duration_since(t).as_nanos().min(i64::MAX as u128) as i64),
    })
}

/// The instant `ns` nanoseconds from `origin` (`None` when not representable).
pub fn instant(origin: Instant, ns: Option<i64>) -> Option<Instant> {
    ns.and_then(|ns| {
        let d = Duration::from_nanos(ns.unsigned_abs());
        if ns >= 0 {
            origin.checked_add(d)
        } else {
            origin.checked_sub(d)
        }
    })
}

impl Recorder {
    /// This recorder as a file, its instants counted from `origin`.
    pub fn to_file(&self, origin: Instant) -> RecorderFile {
        let histograms = HISTOGRAMS
            .iter()
            .zip(self.histograms())
            .map(|(name, h)| (name.to_string(), buckets(h)))
            .collect();
        let w = |t| offset(origin, t);
        RecorderFile {
            histograms,
            scheduled: self.scheduled,
            ok: self.ok,
            failures: self.failures.clone().into_iter().collect(),
            timed_out: self.timed_out,
            idle_timeouts: self.idle_timeouts,
            cancelled: self.cancelled,
            input_tokens_total: self.input_tokens_total,
            output_tokens_total: self.output_tokens_total,
            output_tokens_from_usage: self.output_tokens_from_usage,
            reasoning_tokens_total: self.reasoning_tokens_total,
            reasoning_tokens_from_usage: self.reasoning_tokens_from_usage,
            prompt_token_mismatches: self.prompt_token_mismatches,
            token_count_mismatches: self.token_count_mismatches,
            in_flight_cap_waits: self.in_flight_cap_waits,
            ramp_up_us: super::micros(self.ramp_up),
            active_us: super::micros(self.active),
            windows: [
                w(self.first_sent),
                w(self.last_sent),
                w(self.first_intended),
                w(self.last_intended),
                w(self.first_ok_end),
                w(self.last_ok_end),
            ],
            stages: self.stages,
            timeline: self.timeline.clone(),
            sessions: SessionsFile::of(&self.sessions),
            goodput: self.goodput,
            slo: self.slo,
            adapters: self.adapters.iter().map(|a| a.to_file(origin)).collect(),
            media: self.media,
            replay: self.replay.clone(),
        }
    }

    /// The recorder a file holds, its instants placed at `origin` + offset. Fails on an unknown
    /// histogram name or a value out of a histogram's bounds.
    pub fn from_file(file: &RecorderFile, origin: Instant) -> Result<Recorder, String> {
        let mut r = Recorder::new();
        for (name, pairs) in &file.histograms {
            let i = HISTOGRAMS
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| format!("unknown histogram `{name}`"))?;
            let all = r.histograms_mut();
            let h = &mut *all[i];
            for &(value, count) in pairs {
                h.record_n(value, count)
                    .map_err(|e| format!("histogram `{name}`: value {value}: {e:?}"))?;
            }
        }
        let at = |ns| instant(origin, ns);
        let [fs, ls, fi, li, fo, lo] = file.windows;
        Ok(Recorder {
            scheduled: file.scheduled,
            ok: file.ok,
            failures: file.failures.iter().cloned().collect(),
            timed_out: file.timed_out,
            idle_timeouts: file.idle_timeouts,
            cancelled: file.cancelled,
            input_tokens_total: file.input_tokens_total,
            output_tokens_total: file.output_tokens_total,
            output_tokens_from_usage: file.output_tokens_from_usage,
            reasoning_tokens_total: file.reasoning_tokens_total,
            reasoning_tokens_from_usage: file.reasoning_tokens_from_usage,
            prompt_token_mismatches: file.prompt_token_mismatches,
            token_count_mismatches: file.token_count_mismatches,
            in_flight_cap_waits: file.in_flight_cap_waits,
            ramp_up: Duration::from_micros(file.ramp_up_us),
            active: Duration::from_micros(file.active_us),
            first_sent: at(fs),
            last_sent: at(ls),
            first_intended: at(fi),
            last_intended: at(li),
            first_ok_end: at(fo),
            last_ok_end: at(lo),
            stages: file.stages,
            timeline: file.timeline.clone(),
            sessions: file.sessions.stats(),
            goodput: file.goodput,
            slo: file.slo,
            adapters: file
                .adapters
                .iter()
                .map(|a| Recorder::from_file(a, origin))
                .collect::<Result<_, _>>()?,
            media: file.media,
            replay: file.replay.clone(),
            ..r
        })
    }
}
