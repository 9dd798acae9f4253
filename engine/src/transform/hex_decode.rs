//! `t:hexDecode`: `414243` → `ABC`. Only a value that is entirely pairs of
//! hex digits is decoded; anything else is left unchanged, so ordinary text
//! is not garbled. Output is half the input.

use std::borrow::Cow;

use crate::request::query::hex_value;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() || !input.len().is_multiple_of(2) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() / 2);
    for pair in input.chunks_exact(2) {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => return Cow::Borrowed(input),
        }
    }
    Cow::Owned(out)
}
