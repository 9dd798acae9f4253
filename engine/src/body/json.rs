//! JSON bodies, flattened into arguments: `{"user":{"name":"x"},"ids":[7]}`
//! gives `json.user.name = x` and `json.ids.0 = 7` (ModSecurity's naming, so
//! rules and exclusions written for it apply).
//!
//! Our own parser rather than serde_json because a WAF needs what a
//! deserializer hides: duplicate keys are all kept (the application may read
//! either), nesting is bounded by an explicit stack (no recursion to blow),
//! a body cut at the size limit is parsed as far as it goes, and a syntax
//! error keeps what was parsed before it and is reported as REQBODY_ERROR.

use super::{Body, BodyFlag, BodyLimits, Processor};
use crate::request::Arg;
use crate::transform::url_decode_uni::hex4;

/// Name of the root in flattened paths.
pub const ROOT: &[u8] = b"json";

enum Container {
    Object,
    Array(usize),
}

struct Frame {
    container: Container,
    /// Length of the path before this container's member part was appended.
    path_len: usize,
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    path: Vec<u8>,
    stack: Vec<Frame>,
    args: Vec<Arg>,
    limits: &'a BodyLimits,
    flags: Vec<BodyFlag>,
}

/// Why parsing stopped early.
enum Stop {
    /// The input ended mid-value.
    End,
    Error(String),
}

pub fn parse(body: &mut Body, limits: &BodyLimits) {
    body.processor = Processor::Json;
    let raw = std::mem::take(&mut body.raw);
    let mut p = Parser {
        input: &raw,
        pos: 0,
        path: ROOT.to_vec(),
        stack: Vec::new(),
        args: Vec::new(),
        limits,
        flags: Vec::new(),
    };
    // An empty (or blank) body is no document at all, not a broken one:
    // clients send `content-type: application/json` on body-less POSTs.
    if raw.iter().all(u8::is_ascii_whitespace) {
        body.raw = raw;
        return;
    }
    match p.document() {
        Ok(()) => {}
        Err(Stop::End) if body.truncated => {}
        Err(Stop::End) => {
            body.error = Some(format!("JSON: unexpected end of body at byte {}", p.pos))
        }
        Err(Stop::Error(e)) => body.error = Some(format!("JSON: {e} at byte {}", p.pos)),
    }
    body.args = p.args;
    body.flags.append(&mut p.flags);
    body.raw = raw;
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.input.get(self.pos), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Result<u8, Stop> {
        self.skip_ws();
        self.input.get(self.pos).copied().ok_or(Stop::End)
    }

    fn emit(&mut self, value: Vec<u8>) -> Result<(), Stop> {
        if self.args.len() >= self.limits.max_args {
            self.flags.push(BodyFlag::ArgsLimitExceeded);
            return Err(Stop::Error(format!(
                "more than {} values",
                self.limits.max_args
            )));
        }
        self.args.push(Arg::new(self.path.clone(), value));
        Ok(())
    }

    fn open(&mut self, container: Container) -> Result<(), Stop> {
        if self.stack.len() >= self.limits.max_depth {
            self.flags.push(BodyFlag::DepthLimitExceeded);
            return Err(Stop::Error(format!(
                "nesting deeper than {}",
                self.limits.max_depth
            )));
        }
        self.stack.push(Frame {
            container,
            path_len: self.path.len(),
        });
        self.pos += 1;
        Ok(())
    }

    /// Reads `"key" :` and appends `.key` to the path.
    fn member_key(&mut self) -> Result<(), Stop> {
        if self.peek()? != b'"' {
            return Err(Stop::Error("expected a quoted member name".to_string()));
        }
        // Read straight onto the path: a key read into a vector of its own
        // was an allocation per member (a sixth of a 4 KB body's).
        let mut path = std::mem::take(&mut self.path);
        path.push(b'.');
        let read = self.string_into(&mut path);
        self.path = path;
        read?;
        if self.peek()? != b':' {
            return Err(Stop::Error("expected `:` after a member name".to_string()));
        }
        self.pos += 1;
        Ok(())
    }

    fn document(&mut self) -> Result<(), Stop> {
        loop {
            // Expecting a value.
            match self.peek()? {
                b'{' => {
                    self.open(Container::Object)?;
                    if self.peek()? == b'}' {
                        self.pos += 1;
                        self.close_frame();
                    } else {
                        self.member_key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.open(Container::Array(0))?;
                    if self.peek()? == b']' {
                        self.pos += 1;
                        self.close_frame();
                    } else {
                        self.path.extend_from_slice(b".0");
                        continue;
                    }
                }
                b'"' => {
                    let s = self.string()?;
                    self.emit(s)?;
                }
                _ => {
                    let literal = self.literal()?;
                    self.emit(literal)?;
                }
            }
            // After a value: a separator, a closer, or the end.
            loop {
                let Some(frame) = self.stack.last() else {
                    self.skip_ws();
                    if self.pos < self.input.len() {
                        return Err(Stop::Error("data after the JSON value".to_string()));
                    }
                    return Ok(());
                };
                let path_len = frame.path_len;
                let is_object = matches!(frame.container, Container::Object);
                let next = self.peek()?;
                self.path.truncate(path_len);
                match (next, is_object) {
                    (b',', true) => {
                        self.pos += 1;
                        self.member_key()?;
                        break;
                    }
                    (b',', false) => {
                        self.pos += 1;
                        let index = match self.stack.last_mut().map(|f| &mut f.container) {
                            Some(Container::Array(i)) => {
                                *i += 1;
                                *i
                            }
                            _ => 0,
                        };
                        self.path.push(b'.');
                        self.path.extend_from_slice(index.to_string().as_bytes());
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.pos += 1;
                        self.close_frame();
                    }
                    _ => {
                        return Err(Stop::Error(format!(
                            "unexpected `{}`",
                            char::from(next).escape_default()
                        )))
                    }
                }
            }
        }
    }

    fn close_frame(&mut self) {
        if let Some(frame) = self.stack.pop() {
            self.path.truncate(frame.path_len);
        }
    }

    /// A string starting at `"`, unescaped. `\uD83D\uDE00` pairs become one
    /// UTF-8 character; a lone surrogate becomes U+FFFD.
    fn string(&mut self) -> Result<Vec<u8>, Stop> {
        let mut out = Vec::new();
        self.string_into(&mut out)?;
        Ok(out)
    }

    /// Reads the string starting at the opening quote, unescaped, onto
    /// the end of `out`.
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), Stop> {
        self.pos += 1;
        loop {
            // The plain bytes up to the next quote or escape, copied at
            // once: most strings have no escape, and pushing byte by byte
            // grew each from empty (450 reallocations per 4 KB body).
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let run = memchr::memchr2(b'"', b'\\', rest).ok_or(Stop::End)?;
            out.extend_from_slice(&rest[..run]);
            let b = rest[run];
            self.pos += run + 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = *self.input.get(self.pos).ok_or(Stop::End)?;
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let cp = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&cp)
                                && self.input.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let low = self.hex4()?;
                                if (0xDC00..0xE000).contains(&low) {
                                    char::from_u32(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00))
                                } else {
                                    self.pos = save;
                                    None
                                }
                            } else {
                                char::from_u32(cp)
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(
                                c.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes(),
                            );
                        }
                        other => {
                            return Err(Stop::Error(format!(
                                "invalid escape `\\{}`",
                                char::from(other).escape_default()
                            )))
                        }
                    }
                }
                // memchr2 stops at nothing else.
                _ => {}
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Stop> {
        if self.input.len() < self.pos + 4 {
            return Err(Stop::End);
        }
        let cp = hex4(self.input, self.pos)
            .ok_or_else(|| Stop::Error("invalid `\\u` escape".to_string()))?;
        self.pos += 4;
        Ok(cp)
    }

    /// `true`, `false`, `null` or a number, as written.
    fn literal(&mut self) -> Result<Vec<u8>, Stop> {
        let start = self.pos;
        while matches!(
            self.input.get(self.pos),
            Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'+' | b'-' | b'.')
        ) {
            self.pos += 1;
        }
        let text = &self.input[start..self.pos];
        if text.is_empty() {
            let b = self.input.get(self.pos).copied().unwrap_or(b' ');
            return Err(Stop::Error(format!(
                "unexpected `{}`",
                char::from(b).escape_default()
            )));
        }
        if self.pos == self.input.len() && !matches!(text, b"true" | b"false" | b"null") {
            // Might be a number cut short; only the caller knows if that is fine.
            if is_number(text) {
                return Ok(text.to_vec());
            }
            return Err(Stop::End);
        }
        if matches!(text, b"true" | b"false" | b"null") || is_number(text) {
            Ok(text.to_vec())
        } else {
            Err(Stop::Error(format!(
                "invalid literal `{}`",
                String::from_utf8_lossy(text)
            )))
        }
    }
}

/// JSON number grammar: `-? int frac? exp?`.
fn is_number(t: &[u8]) -> bool {
    let mut i = usize::from(t.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let s = *i;
        while t.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return false;
    }
    if t.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == t.len()
}
