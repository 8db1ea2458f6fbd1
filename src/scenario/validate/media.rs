//! `data.multimodal`, `shared_prefix.multimodal` and `data.visionarena`: counts, insertion points,
//! resolutions, video profiles and audio durations in every shape inference-perf accepts, with its
//! defaults, and limits on what infergate will generate.

use serde_yaml::Value;

use super::Checker;
use super::data::distribution_at;
use crate::scenario::locate::Step;
use crate::scenario::media::{
    Audio, Images, Insertion, MAX_AUDIO_SECONDS, MAX_FRAMES, MAX_SIDE, Media, PRESETS, Size,
    VideoProfile, Videos, VisionArena, Weighted,
};
use crate::scenario::raw::{RawDistribution, RawMultimodal, RawVisionArena};
use crate::scenario::{LengthDistribution, ScenarioError};

type Path<'a> = Vec<Step<'a>>;

fn join<'a>(base: &[Step<'a>], more: &[Step<'a>]) -> Path<'a> {
    base.iter().chain(more).copied().collect()
}

/// A `multimodal` block at `base`.
pub(super) fn multimodal(
    c: &mut Checker<'_>,
    base: &[Step<'_>],
    raw: &RawMultimodal,
) -> Result<Media, ScenarioError> {
    let mut media = Media::default();
    if let Some(i) = &raw.image {
        let at = join(base, &[Step::Key("image")]);
        if let Some(count) = count(c, &at, i.count.as_ref())? {
            media.images = Some(Images {
                count,
                insertion: insertion(c, &at, i.insertion_point.as_ref())?,
                sizes: resolutions(c, &at, i.resolutions.as_ref())?,
                encoding: i.representation,
            });
        }
    }
    if let Some(v) = &raw.video {
        let at = join(base, &[Step::Key("video")]);
        if let Some(count) = count(c, &at, v.count.as_ref())? {
            media.videos = Some(Videos {
                count,
                insertion: insertion(c, &at, v.insertion_point.as_ref())?,
                profiles: profiles(c, &at, v.profiles.as_ref())?,
                encoding: v.representation,
            });
        }
    }
    if let Some(a) = &raw.audio {
        let at = join(base, &[Step::Key("audio")]);
        if let Some(count) = count(c, &at, a.count.as_ref())? {
            media.audio = Some(Audio {
                count,
                insertion: insertion(c, &at, a.insertion_point.as_ref())?,
                durations: durations(c, &at, a.durations.as_ref())?,
            });
        }
    }
    Ok(media)
}

/// Items per request. Without `count` inference-perf sends none of that kind, and so does infergate,
/// with a warning.
fn count(
    c: &mut Checker<'_>,
    at: &[Step<'_>],
    raw: Option<&RawDistribution>,
) -> Result<Option<LengthDistribution>, ScenarioError> {
    let Some(raw) = raw else {
        c.warn(
            at,
            "no `count`: none of these are sent (inference-perf's meaning)",
        );
        return Ok(None);
    };
    let count = distribution_at(c, &join(at, &[Step::Key("count")]), raw)?;
    Ok(Some(count))
}

/// `insertion_point`: absent or `null` (uniform), a fraction in [0, 1], or a distribution.
pub(super) fn insertion(
    c: &mut Checker<'_>,
    base: &[Step<'_>],
    value: Option<&Value>,
) -> Result<Insertion, ScenarioError> {
    let at = join(base, &[Step::Key("insertion_point")]);
    match value {
        None | Some(Value::Null) => Ok(Insertion::Uniform),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if (0.0..=1.0).contains(&f) => Ok(Insertion::At(f)),
            _ => Err(c.error(
                &at,
                "a fraction of the prompt from 0.0 (start) to 1.0 (end)",
            )),
        },
        Some(v @ Value::Mapping(_)) => {
            let raw: RawDistribution = serde_yaml::from_value(v.clone()).map_err(|e| {
                c.error(
                    &at,
                    format!("a distribution {{type, mean, std_dev, min, max}}: {e}"),
                )
            })?;
            Ok(Insertion::Drawn(distribution_at(c, &at, &raw)?))
        }
        Some(_) => Err(c.error(
            &at,
            "a fraction from 0.0 (start) to 1.0 (end), a distribution, or null (uniform)",
        )),
    }
}

/// A weighted list's `weight` (inference-perf's default 1.0).
fn weight(c: &Checker<'_>, at: &[Step<'_>], entry: &Value) -> Result<f64, ScenarioError> {
    match entry.get("weight") {
        None => Ok(1.0),
        Some(w) => match w.as_f64() {
            Some(w) if w >= 0.0 && w.is_finite() => Ok(w),
            _ => Err(c.error(&join(at, &[Step::Key("weight")]), "a weight of 0 or more")),
        },
    }
}

/// Refuses keys other than `allowed` in a list entry.
fn only_keys(
    c: &Checker<'_>,
    at: &[Step<'_>],
    entry: &Value,
    allowed: &[&str],
) -> Result<(), ScenarioError> {
    let Value::Mapping(map) = entry else {
        return Err(c.error(at, format!("a map with {}", allowed.join(", "))));
    };
    for key in map.keys() {
        let name = key.as_str().unwrap_or("?");
        if !allowed.contains(&name) {
            return Err(c.error(
                &join(at, &[Step::Key(name)]),
                format!("unknown key `{name}`; allowed: {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The list's entries with their weights; a list whose weights are all 0 is refused (inference-perf
/// would silently take the first).
fn weighted<T>(
    c: &Checker<'_>,
    at: &[Step<'_>],
    items: &[Value],
    keys: &[&str],
    mut each: impl FnMut(&Path<'_>, &Value) -> Result<T, ScenarioError>,
) -> Result<Vec<Weighted<T>>, ScenarioError> {
    if items.is_empty() {
        return Err(c.error(at, "an empty list: give at least one entry"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, entry) in items.iter().enumerate() {
        let at = join(at, &[Step::Item(i)]);
        only_keys(c, &at, entry, keys)?;
        let value = each(&at, entry)?;
        out.push(Weighted {
            value,
            weight: weight(c, &at, entry)?,
        });
    }
    if out.iter().all(|w| w.weight == 0.0) {
        return Err(c.error(at, "every weight is 0: give one a positive weight"));
    }
    Ok(out)
}

/// A resolution: a preset name or `{width, height}`.
fn resolution(c: &Checker<'_>, at: &[Step<'_>], value: &Value) -> Result<Size, ScenarioError> {
    let names = || PRESETS.map(|(n, _)| format!("`{n}`")).join(", ");
    let size = match value {
        Value::String(s) => match PRESETS.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            Some((_, size)) => *size,
            None => {
                return Err(c.error(
                    at,
                    format!(
                        "unknown resolution `{s}`; presets are {}, or give {{width, height}}",
                        names()
                    ),
                ));
            }
        },
        Value::Mapping(_) => {
            only_keys(c, at, value, &["width", "height"])?;
            let side = |key: &'static str| {
                value.get(key).and_then(Value::as_u64).ok_or_else(|| {
                    c.error(
                        &join(at, &[Step::Key(key)]),
                        format!("`{key}` in pixels is required"),
                    )
                })
            };
            let (width, height) = (side("width")?, side("height")?);
            Size {
                width: width.min(u64::from(u32::MAX)) as u32,
                height: height.min(u64::from(u32::MAX)) as u32,
            }
        }
        _ => {
            return Err(c.error(at, format!("a preset ({}) or {{width, height}}", names())));
        }
    };
    if size.width == 0 || size.height == 0 || size.width > MAX_SIDE || size.height > MAX_SIDE {
        return Err(c.error(
            at,
            format!(
                "each side must be from 1 to {MAX_SIDE} pixels, not {}x{}",
                size.width, size.height
            ),
        ));
    }
    Ok(size)
}

/// `resolutions`: one resolution, or a list of `{resolution, weight}`.
fn resolutions(
    c: &Checker<'_>,
    base: &[Step<'_>],
    value: Option<&Value>,
) -> Result<Vec<Weighted<Size>>, ScenarioError> {
    let at = join(base, &[Step::Key("resolutions")]);
    let one = |value| Weighted { value, weight: 1.0 };
    match value {
        None | Some(Value::Null) => Ok(vec![one(Size {
            width: 512,
            height: 512,
        })]),
        Some(Value::Sequence(items)) => {
            weighted(c, &at, items, &["resolution", "weight"], |at, e| {
                let r = e
                    .get("resolution")
                    .ok_or_else(|| c.error(at, "`resolution` is required"))?;
                resolution(c, &join(at, &[Step::Key("resolution")]), r)
            })
        }
        Some(v) => Ok(vec![one(resolution(c, &at, v)?)]),
    }
}

/// A video profile: `{resolution, frames}`.
fn profile(c: &Checker<'_>, at: &[Step<'_>], value: &Value) -> Result<VideoProfile, ScenarioError> {
    only_keys(c, at, value, &["resolution", "frames"])?;
    let r = value
        .get("resolution")
        .ok_or_else(|| c.error(at, "`resolution` is required"))?;
    let size = resolution(c, &join(at, &[Step::Key("resolution")]), r)?;
    let frames_at = join(at, &[Step::Key("frames")]);
    let frames = match value.get("frames").map(Value::as_u64) {
        None => return Err(c.error(at, "`frames` is required")),
        Some(Some(n)) if (1..=u64::from(MAX_FRAMES)).contains(&n) => n as u32,
        Some(_) => {
            return Err(c.error(
                &frames_at,
                format!("a whole number of frames from 1 to {MAX_FRAMES}"),
            ));
        }
    };
    Ok(VideoProfile { size, frames })
}

/// `profiles`: one profile, or a list of `{profile, weight}`.
fn profiles(
    c: &Checker<'_>,
    base: &[Step<'_>],
    value: Option<&Value>,
) -> Result<Vec<Weighted<VideoProfile>>, ScenarioError> {
    let at = join(base, &[Step::Key("profiles")]);
    match value {
        None | Some(Value::Null) => Ok(vec![Weighted {
            value: VideoProfile {
                size: Size {
                    width: 512,
                    height: 512,
                },
                frames: 10,
            },
            weight: 1.0,
        }]),
        Some(Value::Sequence(items)) => weighted(c, &at, items, &["profile", "weight"], |at, e| {
            let p = e
                .get("profile")
                .ok_or_else(|| c.error(at, "`profile` is required"))?;
            profile(c, &join(at, &[Step::Key("profile")]), p)
        }),
        Some(v) => Ok(vec![Weighted {
            value: profile(c, &at, v)?,
            weight: 1.0,
        }]),
    }
}

/// One audio duration in seconds.
fn seconds(c: &Checker<'_>, at: &[Step<'_>], value: &Value) -> Result<f64, ScenarioError> {
    match value.as_f64() {
        Some(s) if s > 0.0 && s <= MAX_AUDIO_SECONDS => Ok(s),
        _ => Err(c.error(
            at,
            format!("seconds, more than 0 and at most {MAX_AUDIO_SECONDS}"),
        )),
    }
}

/// `durations`: seconds, or a list of `{duration, weight}`.
fn durations(
    c: &Checker<'_>,
    base: &[Step<'_>],
    value: Option<&Value>,
) -> Result<Vec<Weighted<f64>>, ScenarioError> {
    let at = join(base, &[Step::Key("durations")]);
    match value {
        None | Some(Value::Null) => Ok(vec![Weighted {
            value: 1.0,
            weight: 1.0,
        }]),
        Some(Value::Sequence(items)) => {
            weighted(c, &at, items, &["duration", "weight"], |at, e| {
                let d = e
                    .get("duration")
                    .ok_or_else(|| c.error(at, "`duration` is required"))?;
                seconds(c, &join(at, &[Step::Key("duration")]), d)
            })
        }
        Some(v) => Ok(vec![Weighted {
            value: seconds(c, &at, v)?,
            weight: 1.0,
        }]),
    }
}

/// `data.visionarena`.
pub(super) fn visionarena(
    c: &mut Checker<'_>,
    raw: &RawVisionArena,
) -> Result<VisionArena, ScenarioError> {
    let base = [Step::Key("data"), Step::Key("visionarena")];
    for (key, n) in [
        ("num_rows", raw.num_rows),
        ("max_images_per_request", raw.max_images_per_request),
    ] {
        if n == 0 {
            return Err(c.error(&join(&base, &[Step::Key(key)]), "must be at least 1"));
        }
    }
    Ok(VisionArena {
        dataset: raw.hf_dataset_name.clone(),
        split: raw.hf_split.clone(),
        data_files: raw.hf_data_files.clone(),
        rows: raw.num_rows,
        max_images: raw.max_images_per_request,
        insertion: insertion(c, &base, raw.insertion_point.as_ref())?,
        files: Vec::new(),
    })
}
