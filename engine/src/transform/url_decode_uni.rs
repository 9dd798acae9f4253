//! `t:urlDecodeUni`: like urlDecode, plus IIS-style `%uXXXX`. A `%u` code
//! point becomes one byte, as ModSecurity does: full-width ASCII
//! (U+FF01–U+FF5E) maps to its ASCII twin so `%uff1cscript` is `<script`;
//! anything else keeps its low byte. Full-width ASCII written as UTF-8
//! (raw, or percent-encoded: `%EF%BC%9C` is `＜`) is folded the same way,
//! because back-ends that normalize Unicode (NFKC, best-fit code pages) turn
//! it into ASCII too; ModSecurity needs `t:utf8toUnicode` first for that,
//! which also turns every other character into its low byte. Output is never
//! longer than the input.

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

/// The ASCII twin of the full-width character (U+FF01–U+FF5E) whose UTF-8
/// encoding starts at `bytes[0]`, if it is one.
fn full_width_at(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [0xEF, 0xBC, b @ 0x81..=0xBF, ..] => Some(b - 0x81 + 0x21),
        [0xEF, 0xBD, b @ 0x80..=0x9E, ..] => Some(b - 0x80 + 0x60),
        _ => None,
    }
}

/// Folds UTF-8 full-width ASCII in place, three bytes to one, in
/// `bytes[start..]` (the decoded value in the caller's buffer): the folded
/// value is compacted towards `start` and the vector shortened to fit.
fn fold_full_width(bytes: &mut Vec<u8>, start: usize) {
    let Some(first) = memchr::memchr(0xEF, &bytes[start..]) else {
        return;
    };
    // Nothing before the first 0xEF moves; after it, `write` never passes
    // `read`, since a fold only shortens.
    let (mut read, mut write) = (start + first, start + first);
    while read < bytes.len() {
        if let Some(ascii) = full_width_at(&bytes[read..]) {
            bytes[write] = ascii;
            read += 3;
        } else {
            bytes[write] = bytes[read];
            read += 1;
        }
        write += 1;
    }
    bytes.truncate(write);
}

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    // Most values hold none of these: memchr3 (SIMD, simd128 in the wasm
    // build) answers that faster than a byte loop, on every value of every
    // chain starting with urlDecodeUni.
    if memchr::memchr3(b'%', b'+', 0xEF, input).is_none() {
        return false;
    }
    let start = out.len();
    out.reserve(input.len());
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
    fold_full_width(out, start);
    true
}
