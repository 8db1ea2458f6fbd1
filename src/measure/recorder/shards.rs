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

    /// Adds a shard of the same stage (see the module doc); timelines are left to `merged_shards`.
    fn add_shard(&mut self, other: &Recorder) {
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
