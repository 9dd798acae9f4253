//! `t:normalizePathWin`: normalizePath after reading `\` as `/`, for
//! `..\..\windows\win.ini`. Output is never longer than the input.

use std::borrow::Cow;

use super::normalize_path::normalize;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    match normalize(input, true) {
        Cow::Borrowed(same) if same.contains(&b'\\') => Cow::Owned(
            same.iter()
                .map(|&b| if b == b'\\' { b'/' } else { b })
                .collect(),
        ),
        other => other,
    }
}
