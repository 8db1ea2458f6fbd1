//! Media sent (`data.multimodal`, `visionarena`): how many requests carried any, and how many images,
//! videos (and their frames), audio clips (and their seconds) and encoded bytes they carried. Counted
//! as each request ends, whatever its outcome (what was sent was sent), and summed exactly on merge.

use serde::{Deserialize, Serialize};

use crate::client::content::MediaSent;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaCounts {
    /// Requests that carried at least one item.
    pub requests: u64,
    pub images: u64,
    pub videos: u64,
    pub video_frames: u64,
    pub audio: u64,
    pub audio_seconds: f64,
    /// Encoded media bytes (before base64, which adds a third on the wire).
    pub bytes: u64,
}

impl MediaCounts {
    pub fn record(&mut self, sent: &MediaSent) {
        if sent.is_empty() {
            return;
        }
        self.requests += 1;
        self.images += u64::from(sent.images);
        self.videos += u64::from(sent.videos);
        self.video_frames += u64::from(sent.frames);
        self.audio += u64::from(sent.audio);
        self.audio_seconds += sent.audio_seconds;
        self.bytes += sent.bytes;
    }

    pub fn add(&mut self, other: &MediaCounts) {
        self.requests += other.requests;
        self.images += other.images;
        self.videos += other.videos;
        self.video_frames += other.video_frames;
        self.audio += other.audio;
        self.audio_seconds += other.audio_seconds;
        self.bytes += other.bytes;
    }

    pub fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// One line: `120 requests with media: 240 images, 120 videos (3840 frames); 1.9 MiB`.
    pub fn describe(&self) -> String {
        let mut kinds = Vec::new();
        if self.images > 0 {
            kinds.push(format!("{} images", self.images));
        }
        if self.videos > 0 {
            kinds.push(format!(
                "{} videos ({} frames)",
                self.videos, self.video_frames
            ));
        }
        if self.audio > 0 {
            kinds.push(format!(
                "{} audio clips ({:.1} s)",
                self.audio, self.audio_seconds
            ));
        }
        let per = self.bytes as f64 / self.requests.max(1) as f64;
        format!(
            "{} requests with media: {}; {} sent, {} per request",
            self.requests,
            kinds.join(", "),
            bytes(self.bytes as f64),
            bytes(per)
        )
    }
}

fn bytes(n: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_say_so() {
        let mut a = MediaCounts::default();
        a.record(&MediaSent::default());
        assert!(a.is_empty(), "a request without media is not counted");
        let sent = MediaSent {
            images: 2,
            videos: 1,
            frames: 16,
            audio: 0,
            audio_seconds: 0.0,
            bytes: 3 * 1024 * 1024,
        };
        a.record(&sent);
        let mut b = a;
        b.add(&a);
        assert_eq!(
            (b.requests, b.images, b.video_frames, b.bytes),
            (2, 4, 32, 6 << 20)
        );
        assert_eq!(
            b.describe(),
            "2 requests with media: 4 images, 2 videos (32 frames); 6.0 MiB sent, 3.0 MiB per request"
        );
    }
}
