//! `t:length`: the value's length in bytes, as decimal text, for size rules
//! (`transforms: [length]`, `operator: {gt: 8000}`).

use std::io::Write as _;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged
/// (never: the length always replaces the value).
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    // Writing to a `Vec` cannot fail.
    let _ = write!(out, "{}", input.len());
    true
}
