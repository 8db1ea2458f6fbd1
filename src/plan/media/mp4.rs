//! A minimal MP4 (ISO base media file) writer for motion-JPEG video: one video track whose samples
//! are JPEG frames (`mp4v` with object type 0x6C, ISO/IEC 10918-1), `moov` before `mdat` so a reader
//! can start at once. No maintained Rust crate encodes H.264 without a C++ build, and the MP4 crates
//! write only H.264/H.265/VP9/AV1 tracks; ffmpeg (and so vLLM's video loaders) decode this form.

/// Writes a box: its 32-bit size, its type, then `body`.
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&(body.len() as u32 + 8).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A full box: version 0 and `flags`, then `body`.
fn full(kind: &[u8; 4], flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = flags.to_be_bytes().to_vec();
    b.extend_from_slice(body);
    boxed(kind, &b)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn matrix() -> Vec<u8> {
    MATRIX.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// An MPEG-4 descriptor: tag, one-byte length (every descriptor here is under 128 bytes), body.
fn descriptor(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, body.len() as u8];
    out.extend_from_slice(body);
    out
}

fn esds(largest: u32) -> Vec<u8> {
    // DecoderConfigDescriptor: JPEG (0x6C), visual stream (4 << 2 | 1), buffer size, bit rates.
    let mut config = vec![0x6C, 0x11];
    config.extend_from_slice(&largest.to_be_bytes()[1..]);
    config.extend_from_slice(&0u32.to_be_bytes());
    config.extend_from_slice(&0u32.to_be_bytes());
    let es = cat(&[
        &1u16.to_be_bytes(), // ES_ID
        &[0],                // flags
        &descriptor(0x04, &config),
        &descriptor(0x06, &[0x02]), // SLConfigDescriptor: predefined for MP4
    ]);
    full(b"esds", 0, &descriptor(0x03, &es))
}

fn sample_entry(width: u16, height: u16, largest: u32) -> Vec<u8> {
    let mut compressor = [0u8; 32];
    let name = b"infergate motion JPEG";
    compressor[0] = name.len() as u8;
    compressor[1..=name.len()].copy_from_slice(name);
    let body = cat(&[
        &[0; 6],
        &1u16.to_be_bytes(), // data reference index
        &[0; 16],            // pre-defined and reserved
        &width.to_be_bytes(),
        &height.to_be_bytes(),
        &0x0048_0000u32.to_be_bytes(), // 72 dpi
        &0x0048_0000u32.to_be_bytes(),
        &0u32.to_be_bytes(),
        &1u16.to_be_bytes(), // frames per sample
        &compressor,
        &0x0018u16.to_be_bytes(), // depth
        &(-1i16).to_be_bytes(),
        &esds(largest),
    ]);
    boxed(b"mp4v", &body)
}

/// An MP4 of `frames` (JPEG files) at `fps`, `width` x `height` pixels.
pub fn motion_jpeg(frames: &[Vec<u8>], width: u16, height: u16, fps: u32) -> Vec<u8> {
    let count = frames.len() as u32;
    let largest = frames.iter().map(|f| f.len() as u32).max().unwrap_or(0);
    let duration_ms = u64::from(count) * 1000 / u64::from(fps.max(1));
    let ftyp = boxed(
        b"ftyp",
        &cat(&[b"isom", &512u32.to_be_bytes(), b"isomiso2mp41"]),
    );
    let moov = |chunk_offset: u32| {
        let mvhd = full(
            b"mvhd",
            0,
            &cat(&[
                &[0; 8], // creation and modification times
                &1000u32.to_be_bytes(),
                &(duration_ms as u32).to_be_bytes(),
                &0x0001_0000u32.to_be_bytes(), // rate 1.0
                &0x0100u16.to_be_bytes(),      // volume 1.0
                &[0; 10],
                &matrix(),
                &[0; 24],
                &2u32.to_be_bytes(), // next track id
            ]),
        );
        let tkhd = full(
            b"tkhd",
            3, // enabled, in movie
            &cat(&[
                &[0; 8],
                &1u32.to_be_bytes(), // track id
                &[0; 4],
                &(duration_ms as u32).to_be_bytes(),
                &[0; 8],
                &[0; 8], // layer, alternate group, volume, reserved
                &matrix(),
                &(u32::from(width) << 16).to_be_bytes(),
                &(u32::from(height) << 16).to_be_bytes(),
            ]),
        );
        let mdhd = full(
            b"mdhd",
            0,
            &cat(&[
                &[0; 8],
                &fps.to_be_bytes(),       // timescale: one tick per frame
                &count.to_be_bytes(),     // duration in ticks
                &0x55C4u16.to_be_bytes(), // language `und`
                &[0; 2],
            ]),
        );
        let hdlr = full(
            b"hdlr",
            0,
            &cat(&[&[0; 4], b"vide", &[0; 12], b"VideoHandler\0"]),
        );
        let vmhd = full(b"vmhd", 1, &[0; 8]);
        let dinf = boxed(
            b"dinf",
            &full(
                b"dref",
                0,
                &cat(&[&1u32.to_be_bytes(), &full(b"url ", 1, &[])]),
            ),
        );
        let stsd = full(
            b"stsd",
            0,
            &cat(&[&1u32.to_be_bytes(), &sample_entry(width, height, largest)]),
        );
        let stts = full(
            b"stts",
            0,
            &cat(&[
                &1u32.to_be_bytes(),
                &count.to_be_bytes(),
                &1u32.to_be_bytes(),
            ]),
        );
        let stsc = full(
            b"stsc",
            0,
            &cat(&[
                &1u32.to_be_bytes(),
                &1u32.to_be_bytes(),
                &count.to_be_bytes(),
                &1u32.to_be_bytes(),
            ]),
        );
        let sizes: Vec<u8> = frames
            .iter()
            .flat_map(|f| (f.len() as u32).to_be_bytes())
            .collect();
        let stsz = full(
            b"stsz",
            0,
            &cat(&[&0u32.to_be_bytes(), &count.to_be_bytes(), &sizes]),
        );
        let stco = full(
            b"stco",
            0,
            &cat(&[&1u32.to_be_bytes(), &chunk_offset.to_be_bytes()]),
        );
        let stbl = boxed(b"stbl", &cat(&[&stsd, &stts, &stsc, &stsz, &stco]));
        let minf = boxed(b"minf", &cat(&[&vmhd, &dinf, &stbl]));
        let mdia = boxed(b"mdia", &cat(&[&mdhd, &hdlr, &minf]));
        let trak = boxed(b"trak", &cat(&[&tkhd, &mdia]));
        boxed(b"moov", &cat(&[&mvhd, &trak]))
    };
    // The box sizes do not depend on the offset: measure once, then write it.
    let offset = (ftyp.len() + moov(0).len() + 8) as u32;
    let mdat = boxed(b"mdat", &frames.concat());
    cat(&[&ftyp, &moov(offset), &mdat])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top-level boxes: (type, size).
    fn boxes(file: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= file.len() {
            let size = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
            out.push((
                String::from_utf8_lossy(&file[at + 4..at + 8]).into_owned(),
                size,
            ));
            at += size;
        }
        assert_eq!(at, file.len(), "boxes tile the file");
        out
    }

    #[test]
    fn frames_are_the_mdat_and_the_chunk_offset_points_at_the_first() {
        let frames = vec![
            vec![0xFF, 0xD8, 1, 0xFF, 0xD9],
            vec![0xFF, 0xD8, 2, 2, 0xFF, 0xD9],
        ];
        let file = motion_jpeg(&frames, 64, 48, 10);
        let kinds: Vec<String> = boxes(&file).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
        let stco = file.windows(4).position(|w| w == b"stco").unwrap();
        let offset = u32::from_be_bytes(file[stco + 12..stco + 16].try_into().unwrap()) as usize;
        assert_eq!(&file[offset..offset + 5], &frames[0][..]);
        assert_eq!(&file[offset + 5..], &frames[1][..]);
        let mdhd = file.windows(4).position(|w| w == b"mdhd").unwrap();
        let ticks = u32::from_be_bytes(file[mdhd + 20..mdhd + 24].try_into().unwrap());
        assert_eq!(ticks, 2, "one tick per frame");
    }
}
