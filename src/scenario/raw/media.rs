//! `data.multimodal` (and `shared_prefix.multimodal`) and `data.visionarena` as written, with
//! inference-perf's field names and defaults. Resolutions, profiles, durations and insertion points
//! take several shapes in inference-perf (a preset or a size, one or a weighted list, a number or a
//! distribution); they stay YAML values here so `validate` can say which shapes are allowed.

use serde::Deserialize;
use serde_yaml::Value;

use super::RawDistribution;

/// inference-perf's `SyntheticMultimodalDatagenConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMultimodal {
    pub image: Option<RawImages>,
    pub video: Option<RawVideos>,
    pub audio: Option<RawAudios>,
}

/// inference-perf's `ImageDatagenConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImages {
    pub count: Option<RawDistribution>,
    pub insertion_point: Option<Value>,
    pub resolutions: Option<Value>,
    #[serde(default)]
    pub representation: ImageEncoding,
}

/// inference-perf's `VideoDatagenConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVideos {
    pub count: Option<RawDistribution>,
    pub insertion_point: Option<Value>,
    pub profiles: Option<Value>,
    #[serde(default)]
    pub representation: VideoEncoding,
}

/// inference-perf's `AudioDatagenConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudios {
    pub count: Option<RawDistribution>,
    pub insertion_point: Option<Value>,
    pub durations: Option<Value>,
}

/// How a synthetic image is encoded on the wire (inference-perf's `ImageRepresentation`; `webp` is
/// for dataset bytes only there, and is refused here for synthetic images by the enum).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageEncoding {
    #[default]
    Png,
    Jpeg,
}

/// How a synthetic video is sent (inference-perf's `VideoRepresentation`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoEncoding {
    /// One `video_url` part carrying an MP4.
    #[default]
    Mp4,
    /// `frames` PNG `image_url` parts at one insertion point.
    PngFrames,
    /// `frames` JPEG `image_url` parts at one insertion point.
    JpegFrames,
}

/// inference-perf's `VisionArenaConfig`, with its defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVisionArena {
    #[serde(default = "default_visionarena_dataset")]
    pub hf_dataset_name: String,
    #[serde(default = "default_split")]
    pub hf_split: String,
    pub hf_data_files: Option<String>,
    #[serde(default = "default_visionarena_rows")]
    pub num_rows: u32,
    #[serde(default = "default_one")]
    pub max_images_per_request: u32,
    /// inference-perf's default is `0.0` (images first); `null` means a uniform draw.
    #[serde(default = "default_start")]
    pub insertion_point: Option<Value>,
}

fn default_visionarena_dataset() -> String {
    "lmarena-ai/VisionArena-Chat".into()
}
fn default_split() -> String {
    "train".into()
}
fn default_visionarena_rows() -> u32 {
    1000
}
fn default_one() -> u32 {
    1
}
fn default_start() -> Option<Value> {
    Some(Value::from(0.0))
}
