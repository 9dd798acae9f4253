//! `t:removeNulls`: drops NUL bytes (`a%00b` hides `ab` from naive matching).
//! Output is never longer than the input.

use std::borrow::Cow;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    if input.contains(&0) {
        Cow::Owned(input.iter().copied().filter(|&b| b != 0).collect())
    } else {
        Cow::Borrowed(input)
    }
}
