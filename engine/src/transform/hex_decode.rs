//! `t:hexDecode`: `414243` → `ABC`. Only a value that is entirely pairs of
//! hex digits is decoded; anything else is left unchanged, so ordinary text
//! is not garbled. Output is half the input.

use crate::request::query::hex_value;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    if input.is_empty() || !input.len().is_multiple_of(2) {
        return false;
    }
    // Decoded as it is read; a pair that is not hex takes the bytes
    // written so far back out.
    let start = out.len();
    out.reserve(input.len() / 2);
    for pair in input.chunks_exact(2) {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => {
                out.truncate(start);
                return false;
            }
        }
    }
    true
}
