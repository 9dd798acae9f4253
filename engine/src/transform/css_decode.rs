//! `t:cssDecode`: CSS 2 escapes: `\` + 1–6 hex digits (one byte out: the
//! low byte, full-width ASCII folded), one whitespace after the digits
//! swallowed, `\`+newline removed, `\c` → `c`. Defeats `java\73 cript:` and
//! `\65 xpression(`. Output is never longer than the input.

use super::url_decode_uni::code_point_byte;
use crate::request::query::hex_value;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    if !input.contains(&b'\\') {
        return false;
    }
    out.reserve(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let mut end = i + 1;
        let mut cp: u32 = 0;
        while end < input.len() && end - (i + 1) < 6 {
            match hex_value(input[end]) {
                Some(d) => cp = cp << 4 | u32::from(d),
                None => break,
            }
            end += 1;
        }
        if end > i + 1 {
            out.push(code_point_byte(cp));
            // One whitespace (C isspace, VT included, as ModSecurity) after a
            // hex escape belongs to the escape.
            if matches!(
                input.get(end),
                Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
            ) {
                end += 1;
            }
            i = end;
            continue;
        }
        match input.get(i + 1) {
            Some(b'\n') => i += 2,
            Some(&c) => {
                out.push(c);
                i += 2;
            }
            None => i += 1,
        }
    }
    true
}
