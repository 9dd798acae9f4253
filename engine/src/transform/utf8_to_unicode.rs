//! `t:utf8toUnicode`: each multi-byte UTF-8 character becomes `%uHHHH`
//! (lowercase hex, more digits above U+FFFF), so rules written for `%u`
//! encodings see UTF-8 input the same way. Invalid bytes are kept as they
//! are. Output is at most 3x the input (a 2-byte character becomes 6 bytes).

use std::io::Write as _;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    if input.is_ascii() {
        return false;
    }
    out.reserve(input.len() * 2);
    let mut rest = input;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                push_text(out, text);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // `valid` is valid UTF-8 by construction.
                push_text(out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len());
                out.extend_from_slice(&after[..bad]);
                rest = &after[bad..];
            }
        }
    }
    true
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            // Formatted straight into `out`; writing to a `Vec` cannot fail.
            let _ = write!(out, "%u{:04x}", u32::from(c));
        }
    }
}
