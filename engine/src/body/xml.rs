//! XML bodies, as ModSecurity's XML processor feeds OWASP CRS: the character
//! data of every text node (`XML:/*`) and every attribute value (`XML://@*`).
//!
//! Our own scanner rather than a DOM library, for the same reasons as the
//! JSON parser: it never fails (a syntax error keeps what came before it and
//! is reported as REQBODY_ERROR), nesting is an explicit stack bounded by
//! `BodyLimits::max_depth`, values are bounded by `BodyLimits::max_args`, and
//! the work is linear in the body.
//!
//! No DTD processing, ever: `<!DOCTYPE ...>` and its internal subset
//! (`<!ENTITY ...>` included) are skipped, so an XXE payload stays data. Only
//! the five predefined entities and numeric character references are
//! decoded; any other `&name;` is kept as written and flagged
//! (`xml_undefined_entity`).

use super::{Body, BodyFlag, BodyLimits, Processor};

/// Longest entity reference (`&...;`) looked for; bounds the scan so a body
/// of `&&&&...` stays linear.
const MAX_ENTITY: usize = 32;

/// Why parsing stopped early.
enum Stop {
    /// The input ended mid-construct.
    End,
    Error(String),
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Names of open elements, as byte ranges of `input`.
    stack: Vec<(usize, usize)>,
    /// Whether the root element has been closed.
    root_done: bool,
    text: Vec<Vec<u8>>,
    attrs: Vec<Vec<u8>>,
    flags: Vec<BodyFlag>,
    limits: &'a BodyLimits,
}

pub fn parse(body: &mut Body, limits: &BodyLimits) {
    body.processor = Processor::Xml;
    let raw = std::mem::take(&mut body.raw);
    // An empty (or blank) body is no document at all, not a broken one.
    if raw.iter().all(u8::is_ascii_whitespace) {
        body.raw = raw;
        return;
    }
    let mut p = Parser {
        input: &raw,
        pos: 0,
        stack: Vec::new(),
        root_done: false,
        text: Vec::new(),
        attrs: Vec::new(),
        flags: Vec::new(),
        limits,
    };
    match p.document() {
        Ok(()) => {}
        Err(Stop::End) if body.truncated => {}
        Err(Stop::End) => {
            body.error = Some(format!(
                "XML parser error: unexpected end of body at byte {}",
                p.pos
            ))
        }
        Err(Stop::Error(e)) => {
            body.error = Some(format!("XML parser error: {e} at byte {}", p.pos))
        }
    }
    body.xml_text = p.text;
    body.xml_attrs = p.attrs;
    body.flags.append(&mut p.flags);
    body.raw = raw;
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A byte that cannot be part of an element or attribute name.
fn ends_name(b: u8) -> bool {
    is_ws(b) || matches!(b, b'>' | b'/' | b'=' | b'<' | b'"' | b'\'' | b'?' | b'&')
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn err<T>(msg: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Error(msg.into()))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).escape_default().to_string()
}

impl Parser<'_> {
    fn rest(&self) -> &[u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.rest().starts_with(s)
    }

    fn byte(&self) -> Result<u8, Stop> {
        self.input.get(self.pos).copied().ok_or(Stop::End)
    }

    fn skip_ws(&mut self) {
        while self.input.get(self.pos).is_some_and(|&b| is_ws(b)) {
            self.pos += 1;
        }
    }

    /// Moves past the next `needle`, or to the end (`Stop::End`).
    fn skip_past(&mut self, needle: &[u8]) -> Result<usize, Stop> {
        match find(self.rest(), needle) {
            Some(i) => {
                let start = self.pos;
                self.pos += i + needle.len();
                Ok(start + i)
            }
            None => {
                self.pos = self.input.len();
                Err(Stop::End)
            }
        }
    }

    fn room(&mut self) -> Result<(), Stop> {
        if self.text.len() + self.attrs.len() >= self.limits.max_args {
            self.flags.push(BodyFlag::ArgsLimitExceeded);
            return err(format!("more than {} values", self.limits.max_args));
        }
        Ok(())
    }

    fn push_text(&mut self, value: Vec<u8>) -> Result<(), Stop> {
        if value.iter().all(|&b| is_ws(b)) {
            return Ok(());
        }
        self.room()?;
        self.text.push(value);
        Ok(())
    }

    fn document(&mut self) -> Result<(), Stop> {
        let mut seen_root = false;
        loop {
            // Character data up to the next markup.
            let start = self.pos;
            let end = memchr::memchr(b'<', self.rest()).map_or(self.input.len(), |i| start + i);
            if end > start {
                let raw = self.input.get(start..end).unwrap_or_default();
                if self.stack.is_empty() {
                    if !raw.iter().all(|&b| is_ws(b)) {
                        self.pos = start + raw.iter().position(|&b| !is_ws(b)).unwrap_or(0);
                        return err(if seen_root {
                            "text after the root element"
                        } else {
                            "text before the root element"
                        });
                    }
                } else {
                    let value = self.decode(raw, false);
                    self.pos = start;
                    self.push_text(value)?;
                }
            }
            self.pos = end;
            if self.pos >= self.input.len() {
                return if !self.stack.is_empty() || !self.root_done {
                    Err(Stop::End)
                } else {
                    Ok(())
                };
            }
            // At `<`.
            if self.starts_with(b"<!--") {
                self.pos += 4;
                self.skip_past(b"-->")?;
            } else if self.starts_with(b"<?") {
                self.pos += 2;
                self.skip_past(b"?>")?;
            } else if self.starts_with(b"<![CDATA[") {
                if self.stack.is_empty() {
                    return err("CDATA outside the root element");
                }
                self.pos += 9;
                let from = self.pos;
                let to = self.skip_past(b"]]>")?;
                let value = self.input.get(from..to).unwrap_or_default().to_vec();
                self.push_text(value)?;
            } else if self.starts_with(b"<!DOCTYPE") {
                if seen_root {
                    return err("DOCTYPE after the root element");
                }
                self.pos += 9;
                self.doctype()?;
            } else if self.starts_with(b"<!") {
                return err("unexpected `<!`");
            } else if self.starts_with(b"</") {
                self.end_tag()?;
            } else {
                if self.root_done {
                    return err("second root element");
                }
                seen_root = true;
                self.start_tag()?;
            }
        }
    }

    /// Skips a DOCTYPE (after `<!DOCTYPE`) with its internal subset, without
    /// interpreting any of it.
    fn doctype(&mut self) -> Result<(), Stop> {
        let mut in_subset = false;
        loop {
            let b = self.byte()?;
            match b {
                b'"' | b'\'' => {
                    self.pos += 1;
                    self.skip_past(&[b])?;
                }
                b'<' if in_subset && self.starts_with(b"<!--") => {
                    self.pos += 4;
                    self.skip_past(b"-->")?;
                }
                b'[' if !in_subset => {
                    in_subset = true;
                    self.pos += 1;
                }
                b']' if in_subset => {
                    in_subset = false;
                    self.pos += 1;
                }
                b'>' if !in_subset => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => self.pos += 1,
            }
        }
    }

    /// A name starting at `pos`, as a range of `input`.
    fn name(&mut self, what: &str) -> Result<(usize, usize), Stop> {
        let start = self.pos;
        while self.input.get(self.pos).is_some_and(|&b| !ends_name(b)) {
            self.pos += 1;
        }
        if self.pos == start {
            let b = self.byte()?;
            return err(format!(
                "invalid {what} name at `{}`",
                char::from(b).escape_default()
            ));
        }
        if self.pos >= self.input.len() {
            return Err(Stop::End);
        }
        Ok((start, self.pos))
    }

    fn start_tag(&mut self) -> Result<(), Stop> {
        self.pos += 1;
        let name = self.name("element")?;
        if self.stack.len() >= self.limits.max_depth {
            self.flags.push(BodyFlag::DepthLimitExceeded);
            return err(format!("nesting deeper than {}", self.limits.max_depth));
        }
        loop {
            let had_ws = self.input.get(self.pos).is_some_and(|&b| is_ws(b));
            self.skip_ws();
            match self.byte()? {
                b'>' => {
                    self.pos += 1;
                    self.stack.push(name);
                    return Ok(());
                }
                b'/' => {
                    self.pos += 1;
                    if self.byte()? != b'>' {
                        return err("expected `>` after `/`");
                    }
                    self.pos += 1;
                    if self.stack.is_empty() {
                        self.root_done = true;
                    }
                    return Ok(());
                }
                _ if !had_ws => return err("expected whitespace before an attribute"),
                _ => self.attribute()?,
            }
        }
    }

    /// `name = "value"` or `name = 'value'`.
    fn attribute(&mut self) -> Result<(), Stop> {
        self.name("attribute")?;
        self.skip_ws();
        if self.byte()? != b'=' {
            return err("expected `=` after an attribute name");
        }
        self.pos += 1;
        self.skip_ws();
        let quote = self.byte()?;
        if quote != b'"' && quote != b'\'' {
            return err("attribute value not quoted");
        }
        self.pos += 1;
        let start = self.pos;
        let Some(len) = memchr::memchr(quote, self.rest()) else {
            // Report a `<` before the end if there is one: it is the error.
            if let Some(lt) = memchr::memchr(b'<', self.rest()) {
                self.pos += lt;
                return err("`<` in an attribute value");
            }
            self.pos = self.input.len();
            return Err(Stop::End);
        };
        let raw = self.input.get(start..start + len).unwrap_or_default();
        if let Some(lt) = memchr::memchr(b'<', raw) {
            self.pos = start + lt;
            return err("`<` in an attribute value");
        }
        let value = self.decode(raw, true);
        self.room()?;
        self.attrs.push(value);
        self.pos = start + len + 1;
        Ok(())
    }

    fn end_tag(&mut self) -> Result<(), Stop> {
        let at = self.pos;
        self.pos += 2;
        let (s, e) = self.name("element")?;
        self.skip_ws();
        if self.byte()? != b'>' {
            return err("expected `>` in an end tag");
        }
        let got = self.input.get(s..e).unwrap_or_default();
        let Some(&(os, oe)) = self.stack.last() else {
            self.pos = at;
            return err(format!("end tag </{}> without a start tag", lossy(got)));
        };
        let open = self.input.get(os..oe).unwrap_or_default();
        if open != got {
            self.pos = at;
            return err(format!(
                "mismatched end tag </{}>, expected </{}>",
                lossy(got),
                lossy(open)
            ));
        }
        self.pos += 1;
        self.stack.pop();
        if self.stack.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }

    /// Decodes the predefined entities and character references. Anything
    /// else after `&` is kept as written and flagged. In attribute values,
    /// literal tab, CR and LF become spaces (XML attribute normalisation).
    fn decode(&mut self, raw: &[u8], attribute: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while let Some(&b) = raw.get(i) {
            if b != b'&' {
                out.push(if attribute && matches!(b, b'\t' | b'\r' | b'\n') {
                    b' '
                } else {
                    b
                });
                i += 1;
                continue;
            }
            let window = raw
                .get(i + 1..raw.len().min(i + 1 + MAX_ENTITY))
                .unwrap_or_default();
            let decoded = memchr::memchr(b';', window).and_then(|semi| {
                let name = window.get(..semi)?;
                Some((entity(name)?, semi))
            });
            match decoded {
                Some((c, semi)) => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += semi + 2;
                }
                None => {
                    if !self.flags.contains(&BodyFlag::XmlUndefinedEntity) {
                        self.flags.push(BodyFlag::XmlUndefinedEntity);
                    }
                    out.push(b'&');
                    i += 1;
                }
            }
        }
        out
    }
}

/// The character an entity name (between `&` and `;`) stands for, if it is
/// predefined or a valid character reference.
fn entity(name: &[u8]) -> Option<char> {
    match name {
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"amp" => Some('&'),
        b"apos" => Some('\''),
        b"quot" => Some('"'),
        _ => {
            let num = name.strip_prefix(b"#")?;
            let (digits, radix) = match num.strip_prefix(b"x") {
                Some(hex) => (hex, 16),
                None => (num, 10),
            };
            if digits.is_empty() || digits.len() > 8 {
                return None;
            }
            let text = std::str::from_utf8(digits).ok()?;
            if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let cp = u32::from_str_radix(text, radix).ok()?;
            if cp == 0 {
                return None;
            }
            char::from_u32(cp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(raw: &[u8], truncated: bool) -> Body {
        let mut body = Body::raw_only(raw.to_vec(), truncated);
        parse(&mut body, &BodyLimits::default());
        body
    }

    #[test]
    fn random_xmlish_input_never_panics() {
        const TOKENS: &[&[u8]] = &[
            b"<a>",
            b"</a>",
            b"<b x='1'>",
            b"</b>",
            b"<c/>",
            b"&amp;",
            b"&#x41;",
            b"&",
            b";",
            b"<!--",
            b"-->",
            b"<![CDATA[",
            b"]]>",
            b"<?",
            b"?>",
            b"<!DOCTYPE d [",
            b"]>",
            b"\"",
            b"'",
            b"=",
            b" ",
            b"text",
            b"<",
            b">",
            b"/",
            b"\xff",
            b"&#",
            b"<!",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut raw = Vec::new();
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let n = (seed >> 59) as usize;
            for _ in 0..n {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let t = TOKENS[(seed >> 33) as usize % TOKENS.len()];
                raw.extend_from_slice(t);
            }
            let body = run(&raw, seed & 1 == 0);
            assert_eq!(body.raw, raw);
        }
    }

    #[test]
    fn pathological_inputs_are_fast() {
        let started = std::time::Instant::now();
        let mut amps = b"<a>".to_vec();
        amps.extend(std::iter::repeat_n(b'&', 1 << 20));
        let body = run(&amps, false);
        assert_eq!(body.xml_text.first().map(Vec::len), Some(1 << 20));
        let opens: Vec<u8> = b"<a>".repeat(1 << 18);
        let body = run(&opens, false);
        assert!(body.has_flag(BodyFlag::DepthLimitExceeded));
        let attrs: Vec<u8> = [&b"<a "[..], &b"x='1' ".repeat(1 << 17)].concat();
        let body = run(&attrs, false);
        assert!(body.has_flag(BodyFlag::ArgsLimitExceeded));
        let doctype: Vec<u8> = [&b"<!DOCTYPE ["[..], &b"<!-- ] -->".repeat(1 << 17)].concat();
        let body = run(&doctype, false);
        assert!(body.error.is_some());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
