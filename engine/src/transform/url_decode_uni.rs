//! `t:urlDecodeUni`: like urlDecode, plus IIS-style `%uXXXX`. A `%u` code
//! point becomes one byte, as ModSecurity does: full-width ASCII
//! (U+FF01–U+FF5E) maps to its ASCII twin so `%uff1cscript` is `<script`;
//! anything else keeps its low byte. Output is never longer than the input.

use std::borrow::Cow;

use crate::request::query::hex_value;

/// One byte for a `%u` / `\u` code point (full-width ASCII folded to ASCII).
pub fn code_point_byte(cp: u32) -> u8 {
    if (0xFF01..=0xFF5E).contains(&cp) {
        (cp - 0xFF00 + 0x20) as u8
    } else {
        (cp & 0xFF) as u8
    }
}

/// Reads four hex digits at `at`.
pub fn hex4(input: &[u8], at: usize) -> Option<u32> {
    let digits = input.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | u32::from(hex_value(b)?)))
}

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                if matches!(input.get(i + 1), Some(b'u' | b'U')) {
                    if let Some(cp) = hex4(input, i + 2) {
                        out.push(code_point_byte(cp));
                        i += 6;
                        continue;
                    }
                }
                let hi = input.get(i + 1).copied().and_then(hex_value);
                let lo = input.get(i + 2).copied().and_then(hex_value);
                if let (Some(h), Some(l)) = (hi, lo) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}
