//! `t:length`: the value's length in bytes, as decimal text, for size rules
//! (`transforms: [length]`, `operator: {gt: 8000}`).

use std::borrow::Cow;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(input.len().to_string().into_bytes())
}
