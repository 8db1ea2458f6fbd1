use super::*;
use crate::scenario::LengthDistribution;
use crate::scenario::media::{Audio, Images, Videos};

fn size(width: u32, height: u32) -> Size {
    Size { width, height }
}

fn mixed() -> Media {
    Media {
        images: Some(Images {
            count: LengthDistribution::Uniform { min: 1, max: 3 },
            insertion: Insertion::At(0.0),
            sizes: vec![
                Weighted {
                    value: size(64, 32),
                    weight: 0.8,
                },
                Weighted {
                    value: size(128, 64),
                    weight: 0.2,
                },
            ],
            encoding: ImageEncoding::Png,
        }),
        videos: Some(Videos {
            count: LengthDistribution::Fixed(1),
            insertion: Insertion::At(1.0),
            profiles: vec![Weighted {
                value: VideoProfile {
                    size: size(32, 32),
                    frames: 4,
                },
                weight: 1.0,
            }],
            encoding: VideoEncoding::PngFrames,
        }),
        audio: Some(Audio {
            count: LengthDistribution::Fixed(1),
            insertion: Insertion::At(0.5),
            durations: vec![Weighted {
                value: 0.25,
                weight: 1.0,
            }],
        }),
    }
}

#[test]
fn items_sit_at_their_points_and_are_counted() {
    let plan = MediaPlan::new(&mixed(), 7);
    let text = "héllo wörld, this is a prompt";
    let mut sizes = std::collections::BTreeMap::new();
    for seed in 0..200 {
        let media = plan.draw(text, &mut StdRng::seed_from_u64(seed));
        let s = media.sent;
        assert!((1..=3).contains(&s.images), "{s:?}");
        assert_eq!((s.videos, s.frames, s.audio), (1, 4, 1));
        assert_eq!(s.audio_seconds, 0.25);
        // Images first, then the audio mid-text, then the video's four frames at the end.
        let kinds: Vec<(usize, PartKind)> =
            media.parts.iter().map(|(at, p)| (*at, p.kind)).collect();
        let n = s.images as usize;
        assert!(kinds[..n].iter().all(|k| *k == (0, PartKind::Image)));
        let middle = text.char_indices().nth(text.chars().count() / 2).unwrap().0;
        assert_eq!(kinds[n], (middle, PartKind::Audio));
        assert!(
            kinds[n + 1..]
                .iter()
                .all(|k| *k == (text.len(), PartKind::Image))
        );
        assert_eq!(kinds.len(), n + 5);
        assert!(media.parts.iter().all(|(at, _)| text.is_char_boundary(*at)));
        assert_eq!(
            s.bytes,
            media.parts.iter().map(|(_, p)| p.bytes).sum::<u64>()
        );
        for (_, p) in &media.parts[..n] {
            *sizes.entry(p.bytes).or_insert(0u32) += 1;
        }
    }
    assert!(sizes.len() >= 2, "both resolutions drawn: {sizes:?}");
}

#[test]
fn requests_share_pooled_encodings_and_groups_get_their_own() {
    let plan = MediaPlan::new(&mixed(), 7);
    let again = MediaPlan::new(&mixed(), 7);
    let draw = |p: &MediaPlan, seed| p.draw("some text", &mut StdRng::seed_from_u64(seed));
    assert_eq!(draw(&plan, 3), draw(&again, 3), "same seed, same bytes");
    let distinct: std::collections::BTreeSet<String> = (0..100)
        .flat_map(|s| {
            draw(&plan, s)
                .parts
                .into_iter()
                .map(|(_, p)| p.json().to_string())
        })
        .collect();
    // At most VARIANTS per image size and audio, VIDEO_VARIANTS videos of four frames each.
    assert!(distinct.len() <= 2 * VARIANTS + VARIANTS + 4 * VIDEO_VARIANTS);
    assert!(distinct.len() > VARIANTS, "{}", distinct.len());
    let own = MediaPlan::unpooled(&mixed());
    let group = |seed| own.draw_own("text", &mut StdRng::seed_from_u64(seed));
    assert_eq!(group(1), group(1));
    assert_ne!(group(1).parts[0].1.json(), group(2).parts[0].1.json());
}

#[test]
fn mp4_videos_are_one_part_each() {
    let mut media = mixed();
    media.images = None;
    media.audio = None;
    if let Some(v) = &mut media.videos {
        v.encoding = VideoEncoding::Mp4;
    }
    let plan = MediaPlan::new(&media, 1);
    let drawn = plan.draw("abc", &mut StdRng::seed_from_u64(0));
    assert_eq!(drawn.parts.len(), 1);
    let part = &drawn.parts[0].1;
    assert_eq!(part.kind, PartKind::Video);
    assert!(
        part.json()
            .starts_with(r#"{"type":"video_url","video_url":{"url":"data:video/mp4;base64,"#)
    );
    assert_eq!((drawn.sent.videos, drawn.sent.frames), (1, 4));
}
