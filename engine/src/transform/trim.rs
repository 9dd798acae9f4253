//! `t:trim`: removes leading and trailing whitespace (space, tab, CR, LF,
//! VT, FF). Output is never longer than the input.

use std::borrow::Cow;

fn is_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    let start = input
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    Cow::Borrowed(&input[start..end.max(start)])
}
