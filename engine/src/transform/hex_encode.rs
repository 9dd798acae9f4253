//! `t:hexEncode`: each byte as two lowercase hex digits. Output is exactly
//! twice the input.

use std::borrow::Cow;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    for &b in input {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    Cow::Owned(out)
}
