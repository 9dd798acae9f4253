//! `t:escapeSeqDecode`: ANSI C escapes (`\n`, `\t`, `\xHH`, `\OOO`, ...).
//! Shared with jsDecode, which adds `\uHHHH`. In both, the backslash of an
//! unknown escape is dropped (`\z` → `z`), as ModSecurity v3 and Coraza do:
//! `sel\ect` must read `select`. Output is never longer than the input.

use super::url_decode_uni::{code_point_byte, hex4};
use crate::request::query::hex_value;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    decode_escapes(input, false, out)
}

/// Decodes backslash escapes; `js` enables `\uHHHH` and JavaScript's rules:
/// `\u`/`\x` lowercase only (`\U0041` is not an escape in JS, nor in
/// ModSecurity's jsDecode), octal at most `\377`. Appends the decoded value
/// to `out` and returns `true`, or returns `false` (`out` untouched) when
/// the value holds no backslash.
pub fn decode_escapes(input: &[u8], js: bool, out: &mut Vec<u8>) -> bool {
    if !input.contains(&b'\\') {
        return false;
    }
    out.reserve(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let c = input[i + 1];
        let simple = match c {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' => Some(c),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
            continue;
        }
        if js && c == b'u' {
            if let Some(cp) = hex4(input, i + 2) {
                out.push(code_point_byte(cp));
                i += 6;
                continue;
            }
        }
        if c == b'x' || (!js && c == b'X') {
            let hi = input.get(i + 2).copied().and_then(hex_value);
            let lo = input.get(i + 3).copied().and_then(hex_value);
            if let (Some(h), Some(l)) = (hi, lo) {
                out.push(h << 4 | l);
                i += 4;
                continue;
            }
        }
        if (b'0'..=b'7').contains(&c) {
            let mut value: u32 = 0;
            let mut used = 0;
            // JS octal escapes stop at \377: `\777` is `\77` then `7`
            // (ModSecurity's jsDecode does the same); C takes three digits.
            let max = if js && c > b'3' { 2 } else { 3 };
            while used < max {
                match input.get(i + 1 + used) {
                    Some(&d @ b'0'..=b'7') => {
                        value = value * 8 + u32::from(d - b'0');
                        used += 1;
                    }
                    _ => break,
                }
            }
            out.push((value & 0xFF) as u8);
            i += 1 + used;
            continue;
        }
        // Unknown escape: the backslash is dropped, the character kept. This
        // used to keep `\c` for escapeSeqDecode, unlike ModSecurity v3.
        out.push(c);
        i += 2;
    }
    true
}
