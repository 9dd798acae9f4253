//! `t:hexEncode`: each byte as two lowercase hex digits. Output is exactly
//! twice the input.

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged
/// (only the empty value).
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    if input.is_empty() {
        return false;
    }
    out.reserve(input.len() * 2);
    for &b in input {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    true
}
