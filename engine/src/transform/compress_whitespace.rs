//! `t:compressWhitespace`: each run of whitespace (as in removeWhitespace)
//! becomes one space. Output is never longer than the input.

use super::remove_whitespace::is_space;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let needs = input.windows(2).any(|w| is_space(w[0]) && is_space(w[1]))
        || input.iter().any(|&b| is_space(b) && b != b' ');
    if !needs {
        return false;
    }
    out.reserve(input.len());
    let mut in_space = false;
    for &b in input {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b);
            in_space = false;
        }
    }
    true
}
