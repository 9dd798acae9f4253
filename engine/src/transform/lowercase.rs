//! `t:lowercase`: ASCII letters only; other bytes untouched. Same length.

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    if !input.iter().any(u8::is_ascii_uppercase) {
        return false;
    }
    // Copied, then lowercased in place (what `to_ascii_lowercase` does).
    let start = out.len();
    out.extend_from_slice(input);
    out[start..].make_ascii_lowercase();
    true
}
