//! Media as OpenAI chat content parts: an image (`image_url`), a video (`video_url`) or an audio clip
//! (`input_audio`), each carried inline as base64, and how a prompt's text is cut around them.
//!
//! Parts are encoded once, before a run (`plan::media`), and shared by every request that carries
//! them; a request holds only their places in its text.

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

/// The kind of a content part, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartKind {
    Image,
    Video,
    Audio,
}

/// One encoded media item, ready to send: its content part is serialised once, here, so a request
/// body copies it instead of escaping a megabyte of base64 again.
#[derive(Debug, Clone)]
pub struct MediaPart {
    pub kind: PartKind,
    /// The encoded file's size, before base64.
    pub bytes: u64,
    /// The whole content part as JSON: the file is held only here, as base64.
    json: Box<RawValue>,
}

impl PartialEq for MediaPart {
    fn eq(&self, other: &MediaPart) -> bool {
        self.kind == other.kind && self.json.get() == other.json.get()
    }
}

impl MediaPart {
    /// A part for `file`, of `mime` type (`image/png`, `video/mp4`, `audio/wav`).
    pub fn new(kind: PartKind, mime: &str, file: &[u8]) -> MediaPart {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(file);
        let data = match kind {
            PartKind::Audio => encoded,
            PartKind::Image | PartKind::Video => format!("data:{mime};base64,{encoded}"),
        };
        let json = serde_json::value::to_raw_value(&ContentPart::media(kind, &data))
            .expect("a content part serialises");
        MediaPart {
            kind,
            bytes: file.len() as u64,
            json,
        }
    }

    /// The content part as sent.
    pub fn json(&self) -> &str {
        self.json.get()
    }
}

/// What one request carries: a video sent as frames counts once under `videos`, and its frames
/// under `frames`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaSent {
    pub images: u32,
    pub videos: u32,
    pub frames: u32,
    pub audio: u32,
    pub audio_seconds: f64,
    /// Encoded media bytes (before base64).
    pub bytes: u64,
}

impl MediaSent {
    pub fn add(&mut self, other: &MediaSent) {
        self.images += other.images;
        self.videos += other.videos;
        self.frames += other.frames;
        self.audio += other.audio;
        self.audio_seconds += other.audio_seconds;
        self.bytes += other.bytes;
    }

    pub fn is_empty(&self) -> bool {
        self.images == 0 && self.videos == 0 && self.audio == 0
    }
}

/// A request's media: each part with the byte offset in the prompt's text it goes before (parts at
/// one offset keep their order), and what they add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attachments {
    pub parts: Vec<(usize, Arc<MediaPart>)>,
    pub sent: MediaSent,
}

impl Attachments {
    /// Adds `other`'s parts, their offsets moved by `shift` bytes, keeping every part in offset order
    /// (a shared prefix's parts come before the request's own, so that is usually already so).
    pub fn extend_shifted(&mut self, other: Attachments, shift: usize) {
        let shifted = other.parts.into_iter().map(|(at, part)| (at + shift, part));
        if self.parts.is_empty() {
            // Collected in place: no new buffer for a request without a shared prefix.
            self.parts = shifted.collect();
        } else {
            self.parts.extend(shifted);
            if !self.parts.is_sorted_by_key(|(at, _)| *at) {
                self.parts.sort_by_key(|(at, _)| *at);
            }
        }
        self.sent.add(&other.sent);
    }
}

#[derive(Debug, Serialize)]
struct Url<'a> {
    url: &'a str,
}

#[derive(Debug, Serialize)]
struct AudioData<'a> {
    data: &'a str,
    format: &'static str,
}

/// One element of a message's `content` list, as the API shapes it.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: Url<'a> },
    VideoUrl { video_url: Url<'a> },
    InputAudio { input_audio: AudioData<'a> },
}

impl<'a> ContentPart<'a> {
    fn media(kind: PartKind, data: &'a str) -> ContentPart<'a> {
        let url = Url { url: data };
        match kind {
            PartKind::Image => ContentPart::ImageUrl { image_url: url },
            PartKind::Video => ContentPart::VideoUrl { video_url: url },
            PartKind::Audio => ContentPart::InputAudio {
                input_audio: AudioData {
                    data,
                    format: "wav",
                },
            },
        }
    }
}

/// An element of a request's `content`: its text, or a part serialised before the run.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Piece<'a> {
    Text(#[serde(serialize_with = "text_part")] &'a str),
    Media(&'a RawValue),
}

fn text_part<S: serde::Serializer>(text: &&str, s: S) -> Result<S::Ok, S::Error> {
    ContentPart::Text { text }.serialize(s)
}

/// The text cut at each part's offset, the parts in between (inference-perf's `assemble_content`).
pub fn content<'a>(text: &'a str, media: &'a Attachments) -> Vec<Piece<'a>> {
    let mut out = Vec::with_capacity(media.parts.len() * 2 + 1);
    let mut last = 0;
    for (at, part) in &media.parts {
        let at = (*at).min(text.len());
        if at > last {
            out.push(Piece::Text(&text[last..at]));
            last = at;
        }
        out.push(Piece::Media(&part.json));
    }
    if last < text.len() || out.is_empty() {
        out.push(Piece::Text(&text[last..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_around_parts_in_order() {
        let image = Arc::new(MediaPart::new(PartKind::Image, "image/png", b"png"));
        let audio = Arc::new(MediaPart::new(PartKind::Audio, "audio/wav", b"wav"));
        let media = Attachments {
            parts: vec![(0, image.clone()), (3, audio), (8, image)],
            sent: MediaSent::default(),
        };
        let json = serde_json::to_value(content("abc defgh", &media)).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,cG5n"}},
                {"type": "text", "text": "abc"},
                {"type": "input_audio", "input_audio": {"data": "d2F2", "format": "wav"}},
                {"type": "text", "text": " defg"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,cG5n"}},
                {"type": "text", "text": "h"},
            ])
        );
    }
}
