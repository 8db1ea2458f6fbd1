//! HTTP/1.1 response body framing, decoded in place: a `Content-Length` body, a chunked one
//! (`Transfer-Encoding: chunked`, sizes, extensions and trailers skipped), or one that lasts until the
//! connection closes. Pure: bytes in, the body's own bytes out, over a buffer the caller owns, so the
//! streaming client (`h1`) de-chunks each network read without a copy into another buffer.

/// How a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunk),
    /// Until the server closes the connection.
    Close,
}

/// Where a chunked body's decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Reading a chunk's size (hex digits so far), then its extension after `;`.
    Size {
        size: u64,
        digits: u8,
        extension: bool,
    },
    /// Past the size line's `\r`, expecting `\n`.
    SizeLf {
        size: u64,
    },
    /// This many bytes of chunk data are left.
    Data(u64),
    /// After a chunk's data: its `\r\n` (`true` once the `\r` was seen).
    DataEnd {
        cr: bool,
    },
    /// After the last chunk: trailer lines up to an empty one (`true` at the start of a line).
    Trailer {
        line_start: bool,
        cr: bool,
    },
    Done,
}

/// A body the server framed wrongly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFraming(pub &'static str);

impl Framing {
    /// The start of a chunked body.
    pub fn chunked() -> Framing {
        Framing::Chunked(Chunk::Size {
            size: 0,
            digits: 0,
            extension: false,
        })
    }

    /// True once the whole body has been read (never for `Close`: the caller sees the end).
    pub fn is_done(&self) -> bool {
        matches!(self, Framing::Length(0) | Framing::Chunked(Chunk::Done))
    }

    /// Decodes `buf` in place: the body's bytes are moved to its front and their length returned,
    /// with how many input bytes were consumed (less than `buf.len()` only when the body ended
    /// before the input did).
    pub fn decode(&mut self, buf: &mut [u8]) -> Result<(usize, usize), BadFraming> {
        match self {
            Framing::Close => Ok((buf.len(), buf.len())),
            Framing::Length(left) => {
                let n = (*left).min(buf.len() as u64) as usize;
                *left -= n as u64;
                Ok((n, n))
            }
            Framing::Chunked(state) => dechunk(state, buf),
        }
    }
}

fn dechunk(state: &mut Chunk, buf: &mut [u8]) -> Result<(usize, usize), BadFraming> {
    let (mut read, mut written) = (0, 0);
    while read < buf.len() {
        let b = buf[read];
        match state {
            Chunk::Data(left) => {
                let n = (*left).min((buf.len() - read) as u64) as usize;
                buf.copy_within(read..read + n, written);
                (read, written) = (read + n, written + n);
                *left -= n as u64;
                if *left == 0 {
                    *state = Chunk::DataEnd { cr: false };
                }
                continue;
            }
            Chunk::Size {
                size,
                digits,
                extension,
            } => match b {
                b'\r' => *state = Chunk::SizeLf { size: *size },
                b'\n' => *state = after_size(*size),
                _ if *extension => {}
                b';' | b' ' | b'\t' => *extension = true,
                _ => {
                    let digit = (b as char)
                        .to_digit(16)
                        .ok_or(BadFraming("a chunk size that is not hexadecimal"))?;
                    if *digits >= 15 {
                        return Err(BadFraming("a chunk size too large"));
                    }
                    *size = *size * 16 + u64::from(digit);
                    *digits += 1;
                }
            },
            Chunk::SizeLf { size } => match b {
                b'\n' => *state = after_size(*size),
                _ => return Err(BadFraming("a chunk size line without its line feed")),
            },
            Chunk::DataEnd { cr } => match b {
                b'\r' if !*cr => *cr = true,
                b'\n' => {
                    *state = Chunk::Size {
                        size: 0,
                        digits: 0,
                        extension: false,
                    }
                }
                _ => return Err(BadFraming("chunk data longer than its size")),
            },
            Chunk::Trailer { line_start, cr } => match b {
                b'\n' if *line_start => {
                    *state = Chunk::Done;
                    return Ok((written, read + 1));
                }
                b'\n' => (*line_start, *cr) = (true, false),
                b'\r' if *line_start && !*cr => *cr = true,
                _ => (*line_start, *cr) = (false, false),
            },
            Chunk::Done => return Ok((written, read)),
        }
        read += 1;
    }
    Ok((written, read))
}

/// After a size line: the chunk's data, or the trailer after the last (empty) chunk.
fn after_size(size: u64) -> Chunk {
    match size {
        0 => Chunk::Trailer {
            line_start: true,
            cr: false,
        },
        n => Chunk::Data(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `piece` bytes; the body and the bytes left after its end.
    fn decode(mut framing: Framing, input: &[u8], piece: usize) -> (Vec<u8>, usize, bool) {
        let (mut body, mut left) = (Vec::new(), 0);
        for part in input.chunks(piece) {
            let mut buf = part.to_vec();
            let (n, used) = framing.decode(&mut buf).unwrap();
            body.extend_from_slice(&buf[..n]);
            left += part.len() - used;
        }
        (body, left, framing.is_done())
    }

    #[test]
    fn chunked_bodies_split_at_every_byte() {
        let input = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        for piece in 1..=input.len() {
            let (body, left, done) = decode(Framing::chunked(), input, piece);
            assert_eq!(body, b"hello 0123456789", "piece {piece}");
            assert_eq!((left, done), (0, true), "piece {piece}");
        }
    }

    #[test]
    fn bare_line_feeds_and_bytes_after_the_end() {
        let (body, left, done) = decode(Framing::chunked(), b"3\nabc\n0\n\nEXTRA", 4);
        assert_eq!((body.as_slice(), left, done), (&b"abc"[..], 5, true));
    }

    #[test]
    fn length_and_close_bodies() {
        let (body, left, done) = decode(Framing::Length(4), b"abcdef", 3);
        assert_eq!((body.as_slice(), left, done), (&b"abcd"[..], 2, true));
        let (body, left, done) = decode(Framing::Close, b"abcdef", 4);
        assert_eq!((body.as_slice(), left, done), (&b"abcdef"[..], 0, false));
    }

    #[test]
    fn bad_chunks_are_refused() {
        for input in [
            &b"zz\r\n"[..],
            b"2\r\nabc\r\n",
            b"2\rx",
            b"1234567890abcdef0\r\n",
        ] {
            let mut buf = input.to_vec();
            assert!(
                Framing::chunked().decode(&mut buf).is_err(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
