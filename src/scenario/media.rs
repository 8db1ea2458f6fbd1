//! Synthetic media attached to prompts (`data.multimodal`, `shared_prefix.multimodal`): how many
//! images, audio clips and videos a request carries, where they sit in the text, and their sizes,
//! as inference-perf's `SyntheticMultimodalDatagenConfig` means them. Validated; bytes are made by
//! `plan::media`.

use crate::scenario::LengthDistribution;
pub use crate::scenario::raw::{ImageEncoding, VideoEncoding};

/// The media of one side of a prompt (a request's own, or a shared prefix's).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Media {
    pub images: Option<Images>,
    pub videos: Option<Videos>,
    pub audio: Option<Audio>,
}

impl Media {
    /// Whether any kind of media is sent.
    pub fn is_empty(&self) -> bool {
        self.images.is_none() && self.videos.is_none() && self.audio.is_none()
    }
}

/// Where an item sits in the prompt's text: a fraction of its characters (0 = before the text,
/// 1 = after it), drawn per item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Insertion {
    /// inference-perf's `null`: uniform over [0, 1].
    Uniform,
    /// A fixed fraction.
    At(f64),
    /// inference-perf's `Distribution`: a whole-number draw, clamped to [0, 1] (so 0 or 1).
    Drawn(LengthDistribution),
}

/// One choice of a weighted list, and its weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weighted<T> {
    pub value: T,
    pub weight: f64,
}

/// Pixels across and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// Items per request.
    pub count: LengthDistribution,
    pub insertion: Insertion,
    /// One is drawn per image; inference-perf's default is 512 x 512.
    pub sizes: Vec<Weighted<Size>>,
    pub encoding: ImageEncoding,
}

/// A video's frame size and frame count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VideoProfile {
    pub size: Size,
    pub frames: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Videos {
    pub count: LengthDistribution,
    pub insertion: Insertion,
    /// One is drawn per video; inference-perf's default is 512 x 512, 10 frames.
    pub profiles: Vec<Weighted<VideoProfile>>,
    pub encoding: VideoEncoding,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub count: LengthDistribution,
    pub insertion: Insertion,
    /// Seconds; one is drawn per clip. inference-perf's default is 1 s.
    pub durations: Vec<Weighted<f64>>,
}

/// inference-perf's resolution presets.
pub const PRESETS: [(&str, Size); 4] = [
    (
        "4k",
        Size {
            width: 3840,
            height: 2160,
        },
    ),
    (
        "1080p",
        Size {
            width: 1920,
            height: 1080,
        },
    ),
    (
        "720p",
        Size {
            width: 1280,
            height: 720,
        },
    ),
    (
        "360p",
        Size {
            width: 640,
            height: 360,
        },
    ),
];

/// The largest side infergate generates (8K UHD is 7680).
pub const MAX_SIDE: u32 = 8192;
/// The most frames a generated video has.
pub const MAX_FRAMES: u32 = 1024;
/// The longest generated audio clip, in seconds.
pub const MAX_AUDIO_SECONDS: f64 = 600.0;

/// `data.type: visionarena`: real image and prompt pairs from the hub dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionArena {
    pub dataset: String,
    pub split: String,
    pub data_files: Option<String>,
    /// Usable rows kept (the requests cycle through them).
    pub rows: u32,
    pub max_images: u32,
    pub insertion: Insertion,
    /// The dataset's parquet files on this machine, once the run has resolved them (`plan::visionarena`);
    /// empty in a validated scenario.
    pub files: Vec<std::path::PathBuf>,
}
