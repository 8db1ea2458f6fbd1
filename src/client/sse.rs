//! An incremental Server-Sent Events decoder: bytes in, `data` payloads out.
//!
//! Pure and allocation-light: complete lines are read where they arrive, and it keeps only a line
//! cut by the end of a read and the data of an event that spans reads or lines. It handles `\n` and
//! `\r\n`, multi-line `data:` fields, comments and events split across network reads at any byte.
//! Field names other than `data` are ignored, as OpenAI streams use none.

/// Decodes a byte stream into the `data` of each complete event.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// The start of a line the last read cut (never a whole line).
    pending: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl SseDecoder {
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Feeds bytes from the network; calls `on_event` with the data of every event they complete.
    /// Complete lines are read where they lie: only a line cut by the end of `bytes` is copied, and
    /// an event's data only when it has several lines or is cut.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            // Finish the line the last read cut, on its own.
            let Some(newline) = memchr::memchr(b'\n', bytes) else {
                self.pending.extend_from_slice(bytes);
                return;
            };
            let mut line = std::mem::take(&mut self.pending);
            line.extend_from_slice(&bytes[..=newline]);
            self.lines(&line, &mut on_event);
            line.clear();
            self.pending = line;
            bytes = &bytes[newline + 1..];
        }
        let used = self.lines(bytes, &mut on_event);
        self.pending.extend_from_slice(&bytes[used..]);
    }

    /// Reads the complete lines of `bytes`; returns how many bytes they took.
    fn lines(&mut self, bytes: &[u8], on_event: &mut impl FnMut(&[u8])) -> usize {
        let mut consumed = 0;
        // An event's single data line, still in `bytes` (not yet copied to `data`).
        let mut borrowed: Option<&[u8]> = None;
        while let Some(newline) = memchr::memchr(b'\n', &bytes[consumed..]) {
            let end = consumed + newline;
            let mut line = &bytes[consumed..end];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            consumed = end + 1;
            if line.is_empty() {
                match borrowed.take() {
                    Some(data) => on_event(data),
                    None if self.has_data => on_event(&self.data),
                    None => {}
                }
                self.data.clear();
                self.has_data = false;
                continue;
            }
            if line[0] == b':' {
                continue;
            }
            let (field, value) = match memchr::memchr(b':', line) {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (line, &[][..]),
            };
            if field != b"data" {
                continue;
            }
            if let Some(first) = borrowed.take() {
                self.data.extend_from_slice(first);
            }
            if self.has_data {
                self.data.push(b'\n');
                self.data.extend_from_slice(value);
            } else {
                borrowed = Some(value);
            }
            self.has_data = true;
        }
        if let Some(data) = borrowed {
            self.data.extend_from_slice(data);
        }
        consumed
    }

    /// Bytes received but not yet part of a complete event: what a server that never ends a line or
    /// an event makes grow.
    pub fn pending_len(&self) -> usize {
        self.pending.len() + self.data.len()
    }

    /// Ends the stream: returns the data of an event the stream left unterminated (no blank line after
    /// it), which many servers do for their last event.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        if !self.pending.is_empty() {
            // A last line with no newline at all.
            self.feed(b"\n", |_| {});
        }
        self.has_data.then(|| {
            self.has_data = false;
            std::mem::take(&mut self.data)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> (Vec<String>, Option<Vec<u8>>) {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            d.feed(chunk, |data| {
                out.push(String::from_utf8(data.to_vec()).unwrap())
            });
        }
        (out, d.finish())
    }

    #[test]
    fn decodes_events_split_at_every_byte() {
        let input = b"data: {\"a\":1}\n\n: keep-alive\n\ndata: {\"b\":2}\r\n\r\nevent: x\ndata:line1\ndata: line2\n\ndata: [DONE]\n\n";
        for piece in 1..input.len() {
            let (events, rest) = decode_in_pieces(input, piece);
            assert_eq!(
                events,
                ["{\"a\":1}", "{\"b\":2}", "line1\nline2", "[DONE]"],
                "piece {piece}"
            );
            assert_eq!(rest, None);
        }
    }

    #[test]
    fn an_unterminated_last_event_is_returned_by_finish() {
        let (events, rest) = decode_in_pieces(b"data: one\n\ndata: two\n", 3);
        assert_eq!(events, ["one"]);
        assert_eq!(rest.as_deref(), Some(&b"two"[..]));
        let (_, rest) = decode_in_pieces(b"data: three", 4);
        assert_eq!(rest.as_deref(), Some(&b"three"[..]));
    }

    #[test]
    fn a_long_line_fed_in_small_pieces_is_decoded_once() {
        let mut input = b"data: ".to_vec();
        input.resize(200_000, b'x');
        input.extend_from_slice(b"\n\n");
        let mut d = SseDecoder::new();
        let mut lens = Vec::new();
        for chunk in input.chunks(1000) {
            d.feed(chunk, |data| lens.push(data.len()));
            assert!(d.pending_len() <= input.len());
        }
        assert_eq!(lens, [200_000 - 6]);
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn an_event_is_handed_over_by_the_read_that_completes_it() {
        // What makes a first-token time: the event is stamped with the read its blank line came in.
        let input = b"data: {\"a\":1}\n\n: c\n\ndata: x\r\ndata: y\r\n\r\ndata: [DONE]\n\n";
        let ends = [14, 39, 53];
        assert_eq!(input[ends[0]], b'\n');
        for piece in 1..input.len() {
            let mut d = SseDecoder::new();
            let mut delivered = Vec::new();
            for (k, chunk) in input.chunks(piece).enumerate() {
                d.feed(chunk, |data| delivered.push((k, data.to_vec())));
            }
            let expected: Vec<(usize, Vec<u8>)> = ends
                .iter()
                .map(|end| end / piece)
                .zip([&b"{\"a\":1}"[..], b"x\ny", b"[DONE]"])
                .map(|(k, data)| (k, data.to_vec()))
                .collect();
            assert_eq!(delivered, expected, "piece {piece}");
        }
    }

    #[test]
    fn ignores_fields_without_data_and_empty_events() {
        let (events, rest) = decode_in_pieces(b"id: 1\nretry: 10\n\n\n\n", 5);
        assert!(events.is_empty());
        assert_eq!(rest, None);
    }
}
