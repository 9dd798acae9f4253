//! `t:removeWhitespace`: drops space, tab, CR, LF, VT, FF and NBSP (0xA0),
//! so `s e l e c t` reads `select`. Output is never longer than the input.

use std::borrow::Cow;

/// Whitespace as ModSecurity's whitespace transforms see it.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0xa0)
}

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().any(|&b| is_space(b)) {
        Cow::Owned(input.iter().copied().filter(|&b| !is_space(b)).collect())
    } else {
        Cow::Borrowed(input)
    }
}
