//! One stage recorded by several shards (threads, processes or pods), merged into the recorder the
//! stage would have had with one: counts and HDR buckets add up exactly, send and completion windows
//! run from the earliest first to the latest last, and the stage was active as long as its longest
//! shard (they ran side by side). Timelines are combined second by second.

use super::Recorder;
use crate::measure::timeline;

fn earliest<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    a.max(b)
}

impl Recorder {
    /// The stage as one recorder, from what each of its shards recorded (all on one clock).
    pub fn merged_shards<'a>(parts: impl IntoIterator<Item = &'a Recorder>) -> Recorder {
        let parts: Vec<&Recorder> = parts.into_iter().collect();
        if let [one] = parts.as_slice() {
            return (*one).clone();
        }
        let mut all = Recorder::new();
        for part in &parts {
            all.add_shard(part);
        }
        all.timeline = timeline::merge(parts.iter().map(|p| p.timeline.as_slice()));
        all
    }

    /// This recorder made equal to `other` without allocating (histograms are reset and refilled in
    /// place): a cheap copy for looking at a running stage from another thread. Sessions' per-turn
    /// statistics are left out: only the final reports show them, and copying them four times a
    /// second would cost the load thread its timing.
    pub fn copy_from(&mut self, other: &Recorder) {
        self.clear();
        self.add_view(other);
        self.stages = other.stages;
        self.timeline.clone_from(&other.timeline);
    }

    /// Empty again, keeping the histograms' memory.
    pub fn clear(&mut self) {
        for h in self.histograms_mut() {
            h.reset();
        }
        self.failures.clear();
        self.timeline.clear();
        self.sessions.clear();
        self.adapters.clear();
        (
            self.scheduled,
            self.ok,
            self.timed_out,
            self.idle_timeouts,
            self.cancelled,
        ) = (0, 0, 0, 0, 0);
        (self.input_tokens_total, self.output_tokens_total) = (0, 0);
        (self.output_tokens_from_usage, self.prompt_token_mismatches) = (0, 0);
        (self.token_count_mismatches, self.in_flight_cap_waits) = (0, 0);
        (
            self.reasoning_tokens_total,
            self.reasoning_tokens_from_usage,
        ) = (0, 0);
        self.goodput = Default::default();
        self.media = Default::default();
        self.replay = Default::default();
        (self.ramp_up, self.active) = (Default::default(), Default::default());
        (self.first_sent, self.last_sent, self.first_intended) = (None, None, None);
        (self.last_intended, self.first_ok_end, self.last_ok_end) = (None, None, None);
        self.stages = 1;
    }

    /// Adds a shard of the same stage (see the module doc); timelines are left to `merged_shards`.
    pub fn add_shard(&mut self, other: &Recorder) {
        self.add_view(other);
        self.sessions.add(&other.sessions);
        for (i, theirs) in other.adapters.iter().enumerate() {
            self.adapter(i).add_shard(theirs);
        }
    }

    /// `add_shard` without the sessions' per-turn statistics.
    fn add_view(&mut self, other: &Recorder) {
        self.add_counts(other);
        self.active = self.active.max(other.active);
        self.first_sent = earliest(self.first_sent, other.first_sent);
        self.last_sent = latest(self.last_sent, other.last_sent);
        self.first_intended = earliest(self.first_intended, other.first_intended);
        self.last_intended = latest(self.last_intended, other.last_intended);
        self.first_ok_end = earliest(self.first_ok_end, other.first_ok_end);
        self.last_ok_end = latest(self.last_ok_end, other.last_ok_end);
    }
}
