//! Media files made from a colour: PNG and JPEG images of one colour (inference-perf's synthetic
//! images; their size follows the resolution, and a solid colour keeps a 4K PNG small), video frames
//! that shift the colour frame by frame so a codec cannot fold them, and WAV audio (16 kHz mono,
//! 16-bit) of a quiet tone.

use crate::scenario::media::{ImageEncoding, Size};

/// inference-perf's JPEG quality.
const JPEG_QUALITY: u8 = 75;
/// inference-perf's audio sample rate.
pub const AUDIO_RATE: u32 = 16_000;
/// Frames per second of generated MP4s (inference-perf's default).
pub const VIDEO_FPS: u32 = 10;

pub type Rgb = [u8; 3];

/// An image of one colour in `encoding`.
pub fn image(size: Size, colour: Rgb, encoding: ImageEncoding) -> Vec<u8> {
    match encoding {
        ImageEncoding::Png => png(size, colour),
        ImageEncoding::Jpeg => jpeg(size, colour),
    }
}

/// A PNG (RGB, 8 bits, fast deflate), written a row at a time.
pub fn png(size: Size, colour: Rgb) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size.width, size.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let row: Vec<u8> = colour.repeat(size.width as usize);
    {
        let mut writer = encoder.write_header().expect("writing to memory");
        let mut stream = writer.stream_writer().expect("writing to memory");
        for _ in 0..size.height {
            std::io::Write::write_all(&mut stream, &row).expect("writing to memory");
        }
        stream.finish().expect("writing to memory");
        writer.finish().expect("writing to memory");
    }
    out
}

/// A baseline JPEG at inference-perf's quality.
pub fn jpeg(size: Size, colour: Rgb) -> Vec<u8> {
    let pixels: Vec<u8> = colour.repeat(size.width as usize * size.height as usize);
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY);
    encoder
        .encode(
            &pixels,
            size.width.min(u32::from(u16::MAX)) as u16,
            size.height.min(u32::from(u16::MAX)) as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("validated sizes fit a JPEG");
    out
}

/// Frame `i`'s colour: the base shifted by `(7 i) mod 32`, as inference-perf shifts its frames.
pub fn frame_colour(base: Rgb, i: u32) -> Rgb {
    let shift = ((i * 7) % 32) as u8;
    base.map(|c| c.saturating_add(shift))
}

/// An MP4 of `frames` motion-JPEG frames at `VIDEO_FPS` (sides rounded down to even, as codecs want).
pub fn mp4(size: Size, frames: u32, colour: Rgb) -> Vec<u8> {
    let even = |n: u32| (n - n % 2).max(2);
    let size = Size {
        width: even(size.width),
        height: even(size.height),
    };
    let frames: Vec<Vec<u8>> = (0..frames)
        .map(|i| jpeg(size, frame_colour(colour, i)))
        .collect();
    super::mp4::motion_jpeg(&frames, size.width as u16, size.height as u16, VIDEO_FPS)
}

/// A WAV of `seconds` of a quiet sine at `hz`.
pub fn wav(seconds: f64, hz: f64) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: AUDIO_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let samples = ((seconds * f64::from(AUDIO_RATE)).round() as u64).max(1);
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut out, spec).expect("writing to memory");
        let step = std::f64::consts::TAU * hz / f64::from(AUDIO_RATE);
        for n in 0..samples {
            let s = (1000.0 * (step * n as f64).sin()) as i16;
            writer.write_sample(s).expect("writing to memory");
        }
        writer.finalize().expect("writing to memory");
    }
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_have_the_asked_for_shape() {
        let size = Size {
            width: 64,
            height: 48,
        };
        let png = png(size, [10, 20, 30]);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 64);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 48);
        let decoder = ::png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut pixels).unwrap();
        assert_eq!(&pixels[..6], &[10, 20, 30, 10, 20, 30]);
        let jpeg = jpeg(size, [10, 20, 30]);
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
        let wav = wav(0.5, 440.0);
        let reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
        assert_eq!(reader.duration(), 8_000);
        assert_eq!(reader.spec().sample_rate, AUDIO_RATE);
    }

    #[test]
    fn bigger_images_are_bigger_files() {
        let small = Size {
            width: 640,
            height: 360,
        };
        let big = Size {
            width: 1920,
            height: 1080,
        };
        for encoding in [ImageEncoding::Png, ImageEncoding::Jpeg] {
            let (a, b) = (
                image(small, [1, 2, 3], encoding),
                image(big, [1, 2, 3], encoding),
            );
            assert!(
                b.len() > 2 * a.len(),
                "{encoding:?}: {} vs {}",
                a.len(),
                b.len()
            );
        }
    }
}
