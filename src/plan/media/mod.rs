//! Synthetic media for prompts (`data.multimodal`, `shared_prefix.multimodal`): what each request
//! carries and where it sits in the text, drawn per request from the scenario's counts, weights and
//! insertion points as inference-perf draws them.
//!
//! Encoding is kept off the hot path: before the run, every shape the scenario can ask for (an image
//! resolution and encoding, a video profile, an audio duration) is encoded `VARIANTS` times in
//! different colours (or tones); a request takes one of them, so it costs no encoding at all. A shared
//! prefix's media are encoded for its group alone (`draw_own`), so two groups never send the same
//! bytes and every prompt of a group sends identical ones, which is what a prefix cache needs.

mod encode;
mod mp4;

use std::collections::HashMap;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::client::content::{Attachments, MediaPart, MediaSent, PartKind};
use crate::plan::lengths::sample_length;
use crate::scenario::media::{
    ImageEncoding, Insertion, Media, Size, VideoEncoding, VideoProfile, Weighted,
};

/// Distinct encodings kept of each image shape and audio duration.
pub const VARIANTS: usize = 8;
/// Distinct encodings kept of each video profile (inference-perf's pool size).
pub const VIDEO_VARIANTS: usize = 4;

/// What a drawn item is encoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Image(Size, ImageEncoding),
    Video(VideoProfile, VideoEncoding),
    /// Milliseconds.
    Audio(u64),
}

/// One encoded item: a single part, or a video's frames as image parts.
type Item = Arc<Vec<Arc<MediaPart>>>;

/// The media of one side of the prompts, and the encoded variants requests draw from.
pub struct MediaPlan {
    media: Media,
    pools: HashMap<Shape, Vec<Item>>,
}

impl MediaPlan {
    /// Encodes the variants of every shape `media` can draw, seeded by `seed`.
    /// Items are encoded on every core the process may use, each from its own seed, so the pools are
    /// the same however many threads made them; a wait over a second is reported on stderr.
    pub fn new(media: &Media, seed: u64) -> MediaPlan {
        let started = std::time::Instant::now();
        let jobs: Vec<(Shape, usize)> = shapes(media)
            .into_iter()
            .flat_map(|shape| {
                let variants = match shape {
                    Shape::Video(..) => VIDEO_VARIANTS,
                    _ => VARIANTS,
                };
                (0..variants).map(move |v| (shape, v))
            })
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut encoded: Vec<(usize, Item)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.min(jobs.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&(shape, variant)) = jobs.get(i) else {
                                return done;
                            };
                            let mut rng =
                                StdRng::seed_from_u64(crate::plan::datagen::mix(seed, i as u64));
                            done.push((i, encode(shape, &mut rng, variant)));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("encoding media does not panic"))
                .collect()
        });
        encoded.sort_by_key(|(i, _)| *i);
        let mut pools: HashMap<Shape, Vec<Item>> = HashMap::new();
        for (i, item) in encoded {
            pools.entry(jobs[i].0).or_default().push(item);
        }
        let took = started.elapsed();
        if took.as_secs_f64() > 1.0 {
            eprintln!(
                "media: encoded {} items of {} shapes in {:.1} s, before the run",
                jobs.len(),
                pools.len(),
                took.as_secs_f64()
            );
        }
        MediaPlan {
            media: media.clone(),
            pools,
        }
    }

    /// A plan that encodes nothing ahead: for `draw_own` only.
    pub fn unpooled(media: &Media) -> MediaPlan {
        MediaPlan {
            media: media.clone(),
            pools: HashMap::new(),
        }
    }

    /// One request's media placed in `text`, from the pooled variants.
    pub fn draw(&self, text: &str, rng: &mut StdRng) -> Attachments {
        self.place(text, rng, |shape, rng| {
            let pool = &self.pools[&shape];
            Arc::clone(&pool[rng.random_range(0..pool.len())])
        })
    }

    /// Media placed in `text`, each item encoded anew (a shared prefix's, once per group).
    pub fn draw_own(&self, text: &str, rng: &mut StdRng) -> Attachments {
        self.place(text, rng, |shape, rng| {
            let variant = rng.random_range(0..VARIANTS);
            encode(shape, rng, variant)
        })
    }

    fn place(
        &self,
        text: &str,
        rng: &mut StdRng,
        mut item: impl FnMut(Shape, &mut StdRng) -> Item,
    ) -> Attachments {
        let mut items: Vec<(f64, Item)> = Vec::new();
        let mut sent = MediaSent::default();
        if let Some(images) = &self.media.images {
            for _ in 0..sample_length(images.count, rng) {
                let size = pick(&images.sizes, rng);
                let at = point(images.insertion, rng);
                items.push((at, item(Shape::Image(size, images.encoding), rng)));
                sent.images += 1;
            }
        }
        if let Some(videos) = &self.media.videos {
            for _ in 0..sample_length(videos.count, rng) {
                let profile = pick(&videos.profiles, rng);
                let at = point(videos.insertion, rng);
                items.push((at, item(Shape::Video(profile, videos.encoding), rng)));
                sent.videos += 1;
                sent.frames += profile.frames;
            }
        }
        if let Some(audio) = &self.media.audio {
            for _ in 0..sample_length(audio.count, rng) {
                let seconds = pick(&audio.durations, rng);
                let at = point(audio.insertion, rng);
                let millis = (seconds * 1000.0).round() as u64;
                items.push((at, item(Shape::Audio(millis), rng)));
                sent.audio += 1;
                sent.audio_seconds += seconds;
            }
        }
        let items = items
            .iter()
            .map(|(at, item)| (*at, item.as_slice()))
            .collect();
        placed(text, items, sent)
    }
}

/// `items` (each a point in [0, 1] and its parts) placed in `text`: inference-perf sorts them by their
/// points (a stable sort, so images, videos, audio at a tie) and cuts the text at `int(point * len)`
/// characters. `sent` gets their bytes.
pub fn placed(
    text: &str,
    mut items: Vec<(f64, &[Arc<MediaPart>])>,
    mut sent: MediaSent,
) -> Attachments {
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    let len = text.chars().count();
    // The points are in order, so one walk over the characters finds every offset.
    let mut chars = text.char_indices();
    let (mut walked, mut offset) = (0, 0);
    let mut parts = Vec::new();
    for (at, item) in items {
        let index = ((at * len as f64) as usize).min(len);
        if index >= walked {
            offset = match chars.nth(index - walked) {
                Some((byte, _)) => byte,
                None => text.len(),
            };
            walked = index + 1;
        }
        for part in item {
            sent.bytes += part.bytes;
            parts.push((offset, Arc::clone(part)));
        }
    }
    Attachments { parts, sent }
}

/// Every shape `media` can draw, in a fixed order.
fn shapes(media: &Media) -> Vec<Shape> {
    let mut out = Vec::new();
    if let Some(i) = &media.images {
        out.extend(i.sizes.iter().map(|s| Shape::Image(s.value, i.encoding)));
    }
    if let Some(v) = &media.videos {
        out.extend(v.profiles.iter().map(|p| Shape::Video(p.value, v.encoding)));
    }
    if let Some(a) = &media.audio {
        out.extend(
            a.durations
                .iter()
                .map(|d| Shape::Audio((d.value * 1000.0).round() as u64)),
        );
    }
    out.dedup();
    out
}

/// A weighted choice (inference-perf's `rng.choice(p = w / sum)`).
fn pick<T: Copy>(choices: &[Weighted<T>], rng: &mut StdRng) -> T {
    let total: f64 = choices.iter().map(|c| c.weight).sum();
    let mut draw = rng.random::<f64>() * total;
    for c in choices {
        if draw < c.weight {
            return c.value;
        }
        draw -= c.weight;
    }
    choices
        .iter()
        .rev()
        .find(|c| c.weight > 0.0)
        .unwrap_or(&choices[0])
        .value
}

/// An insertion point in [0, 1].
pub fn point(insertion: Insertion, rng: &mut StdRng) -> f64 {
    match insertion {
        Insertion::Uniform => rng.random::<f64>(),
        Insertion::At(f) => f,
        Insertion::Drawn(d) => f64::from(sample_length(d, rng)).clamp(0.0, 1.0),
    }
}

/// Encodes one item of `shape`; `variant` picks the tone of audio.
fn encode(shape: Shape, rng: &mut StdRng, variant: usize) -> Item {
    let colour: encode::Rgb = rng.random();
    let parts = match shape {
        Shape::Image(size, encoding) => vec![image_part(size, colour, encoding)],
        Shape::Video(profile, VideoEncoding::Mp4) => {
            let file = encode::mp4(profile.size, profile.frames, colour);
            vec![MediaPart::new(PartKind::Video, "video/mp4", &file)]
        }
        Shape::Video(profile, frames) => {
            let encoding = match frames {
                VideoEncoding::JpegFrames => ImageEncoding::Jpeg,
                _ => ImageEncoding::Png,
            };
            (0..profile.frames)
                .map(|i| image_part(profile.size, encode::frame_colour(colour, i), encoding))
                .collect()
        }
        Shape::Audio(millis) => {
            let hz = 220.0 + 55.0 * variant as f64;
            let file = encode::wav(millis as f64 / 1000.0, hz);
            vec![MediaPart::new(PartKind::Audio, "audio/wav", &file)]
        }
    };
    Arc::new(parts.into_iter().map(Arc::new).collect())
}

fn image_part(size: Size, colour: encode::Rgb, encoding: ImageEncoding) -> MediaPart {
    let mime = match encoding {
        ImageEncoding::Png => "image/png",
        ImageEncoding::Jpeg => "image/jpeg",
    };
    MediaPart::new(
        PartKind::Image,
        mime,
        &encode::image(size, colour, encoding),
    )
}

#[cfg(test)]
mod tests;
