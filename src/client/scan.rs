//! What a streamed event says, read without building it: whether it carries answer or reasoning,
//! and its `usage`, in one pass over the bytes with no allocation.
//!
//! A full parse of every chunk (serde, `openai::Chunk`) was a fifth of a streamed token's cost. This
//! walker reads only the fields the measurement needs (`choices[].text`, `choices[].delta` or
//! `.message` with `content`, `reasoning_content`, `reasoning`, `tool_calls`; `usage` with its
//! `completion_tokens_details.reasoning_tokens`; `error`) and skips every other value while checking
//! it is well-formed JSON. It vouches for an event only when the full parse would read it the same
//! way: anything it is unsure of (an `error`, escapes in a key or in a field it reads, a duplicate
//! field, an unexpected type, bad JSON, deep nesting) returns `None`, and the caller parses the event
//! with serde as before. So counts and times never change.

use super::openai::Usage;

/// What one event carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Event {
    /// Some choice carries answer: non-empty text or content, or tool calls.
    pub answer: bool,
    /// Some choice carries non-empty reasoning (`reasoning_content` or `reasoning`).
    pub reasoning: bool,
    pub usage: Option<Usage>,
}

impl Event {
    /// Generated text of any kind: a content chunk.
    pub fn content(&self) -> bool {
        self.answer || self.reasoning
    }
}

/// Reads `data` (one event's JSON), or `None` when serde must.
pub fn scan(data: &[u8]) -> Option<Event> {
    // serde reads strings as UTF-8; the walker reads bytes.
    std::str::from_utf8(data).ok()?;
    let mut s = Scanner { b: data, i: 0 };
    let mut event = Event::default();
    s.fields(
        [b"choices", b"usage", b"error"],
        0,
        |s, field| match field {
            0 => s.choices(&mut event),
            1 => {
                event.usage = s.usage()?;
                Some(())
            }
            // An error (its message is the full parse's to read), or `"error": null`.
            _ => s.null(),
        },
    )?;
    s.ws();
    (s.i == data.len()).then_some(event)
}

/// Nesting deeper than this is left to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.i += usize::from(hit);
        hit
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    fn null(&mut self) -> Option<()> {
        self.peek()?;
        self.literal(b"null")
    }

    /// `{ "key": value, ... }`, calling `field` with each key (no escapes) to read its value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.plain_string()?;
            if !self.eat(b':') {
                return None;
            }
            field(self, key)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// An object whose keys of interest are `names`: `read` is called with the index of each one
    /// present, other keys' values are skipped (at `depth`), and a key given twice leaves the object
    /// to serde (which keeps the last).
    fn fields<const N: usize>(
        &mut self,
        names: [&[u8]; N],
        depth: u32,
        mut read: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        let mut seen = [false; N];
        self.object(|s, key| match names.iter().position(|name| *name == key) {
            None => s.skip(depth),
            Some(i) if std::mem::replace(&mut seen[i], true) => None,
            Some(i) => read(s, i),
        })
    }

    /// `null` (giving `absent`), or the value `read` reads.
    fn nullable<T>(&mut self, absent: T, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if self.peek()? == b'n' {
            return self.null().map(|_| absent);
        }
        read(self)
    }

    /// `[ value, ... ]`, calling `element` for each; returns how many there were.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<usize> {
        if !self.eat(b'[') {
            return None;
        }
        if self.eat(b']') {
            return Some(0);
        }
        let mut n = 0;
        loop {
            element(self)?;
            n += 1;
            if self.eat(b']') {
                return Some(n);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// A key's raw bytes between its quotes; `None` if it has escapes (or is not a string).
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let len = memchr::memchr2(b'"', b'\\', &self.b[start..])?;
        let raw = &self.b[start..start + len];
        if self.b[start + len] != b'"' || raw.iter().any(|&c| c < 0x20) {
            return None;
        }
        self.i = start + len + 1;
        Some(raw)
    }

    /// Skips a string, escapes and all (valid ones only).
    fn skip_string(&mut self) -> Option<()> {
        if !self.eat(b'"') {
            return None;
        }
        loop {
            let rest = &self.b[self.i..];
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            if rest[..at].iter().any(|&c| c < 0x20) {
                return None;
            }
            self.i += at + 1;
            if rest[at] == b'"' {
                return Some(());
            }
            let e = *self.b.get(self.i)?;
            self.i += 1;
            match e {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    let hex = self.b.get(self.i..self.i + 4)?;
                    // Surrogates must pair up: left to serde, which checks that.
                    let surrogate = matches!(hex[0], b'd' | b'D')
                        && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F');
                    if surrogate || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.i += 4;
                }
                _ => return None,
            }
        }
    }

    /// Skips a number of JSON's grammar; returns its text.
    fn number(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        self.i += usize::from(self.b.get(self.i) == Some(&b'-'));
        let digits = |s: &mut Self| {
            let n = s.b[s.i..].iter().take_while(|c| c.is_ascii_digit()).count();
            s.i += n;
            n
        };
        let whole = self.i;
        if digits(self) == 0 || (self.b[whole] == b'0' && self.i - whole > 1) {
            return None;
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        Some(&self.b[start..self.i])
    }

    /// Skips any value.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.object(|s, _| s.skip(depth + 1)),
            b'[' => self.array(|s| s.skip(depth + 1)).map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    /// A string or null that serde reads as `Option<Cow<str>>`: whether it is non-empty (any
    /// escape is at least one character).
    fn text(&mut self) -> Option<bool> {
        self.nullable(false, |s| {
            let start = s.i;
            s.skip_string()?;
            Some(s.i - start > 2)
        })
    }

    /// `choices`: null or a list of choice objects.
    fn choices(&mut self, event: &mut Event) -> Option<()> {
        self.nullable((), |s| {
            s.array(|s| {
                s.fields([b"text", b"delta", b"message"], 1, |s, field| {
                    let (answer, reasoning) = match field {
                        0 => (s.text()?, false),
                        _ => s.delta()?,
                    };
                    event.answer |= answer;
                    event.reasoning |= reasoning;
                    Some(())
                })
            })
            .map(|_| ())
        })
    }

    /// A choice's `delta` or `message`: null or an object; whether it carries answer, and reasoning.
    fn delta(&mut self) -> Option<(bool, bool)> {
        self.nullable((false, false), |s| {
            let names = [
                &b"content"[..],
                b"reasoning_content",
                b"reasoning",
                b"tool_calls",
            ];
            let (mut answer, mut reasoning) = (false, false);
            s.fields(names, 2, |s, field| {
                match field {
                    0 => answer |= s.text()?,
                    1 | 2 => reasoning |= s.text()?,
                    _ => answer |= s.nullable(false, |s| Some(s.array(|s| s.skip(3))? > 0))?,
                }
                Some(())
            })?;
            Some((answer, reasoning))
        })
    }

    /// `usage`: null, or an object whose token counts are unsigned integers or null.
    fn usage(&mut self) -> Option<Option<Usage>> {
        self.nullable(None, |s| {
            let names = [
                &b"prompt_tokens"[..],
                b"completion_tokens",
                b"completion_tokens_details",
            ];
            let mut usage = Usage::default();
            s.fields(names, 1, |s, field| {
                match field {
                    0 => usage.prompt_tokens = s.count()?,
                    1 => usage.completion_tokens = s.count()?,
                    _ => usage.reasoning_tokens = s.details()?,
                }
                Some(())
            })?;
            Some(Some(usage))
        })
    }

    /// A token count: an unsigned integer, or null.
    fn count(&mut self) -> Option<Option<u64>> {
        self.nullable(None, |s| {
            Some(Some(std::str::from_utf8(s.number()?).ok()?.parse().ok()?))
        })
    }

    /// `completion_tokens_details`: null, or an object whose `reasoning_tokens` is read.
    fn details(&mut self) -> Option<Option<u64>> {
        self.nullable(None, |s| {
            let mut reasoning = None;
            s.fields([b"reasoning_tokens"], 2, |s, _| {
                reasoning = s.count()?;
                Some(())
            })?;
            Some(reasoning)
        })
    }
}

#[cfg(test)]
mod tests;
