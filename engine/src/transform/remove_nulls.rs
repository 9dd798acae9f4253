//! `t:removeNulls`: drops NUL bytes (`a%00b` hides `ab` from naive matching).
//! Output is never longer than the input.

use std::borrow::Cow;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(0, input) else {
        return Cow::Borrowed(input);
    };
    // Sized once, as in removeWhitespace.
    let mut out = Vec::with_capacity(input.len() - 1);
    out.extend_from_slice(&input[..first]);
    out.extend(input[first + 1..].iter().copied().filter(|&b| b != 0));
    Cow::Owned(out)
}
