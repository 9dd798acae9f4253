//! `t:normalizePathWin`: normalizePath after reading `\` as `/`, for
//! `..\..\windows\win.ini`. Output is never longer than the input.

use super::normalize_path::normalize;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    if normalize(input, true, out) {
        return true;
    }
    // Already normal, but a `\` still reads `/`.
    if !input.contains(&b'\\') {
        return false;
    }
    out.extend(input.iter().map(|&b| if b == b'\\' { b'/' } else { b }));
    true
}
