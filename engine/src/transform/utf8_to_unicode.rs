//! `t:utf8toUnicode`: each multi-byte UTF-8 character becomes `%uHHHH`
//! (lowercase hex, more digits above U+FFFF), so rules written for `%u`
//! encodings see UTF-8 input the same way. Invalid bytes are kept as they
//! are. Output is at most 3x the input (a 2-byte character becomes 6 bytes).

use std::borrow::Cow;
use std::fmt::Write as _;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_ascii() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut rest = input;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                push_text(&mut out, text);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // `valid` is valid UTF-8 by construction.
                push_text(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len());
                out.extend_from_slice(&after[..bad]);
                rest = &after[bad..];
            }
        }
    }
    Cow::Owned(out)
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    let mut buf = String::new();
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            buf.clear();
            let _ = write!(buf, "%u{:04x}", u32::from(c));
            out.extend_from_slice(buf.as_bytes());
        }
    }
}
