//! `t:removeNulls`: drops NUL bytes (`a%00b` hides `ab` from naive matching).
//! Output is never longer than the input.

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(first) = memchr::memchr(0, input) else {
        return false;
    };
    // Room reserved once, as in removeWhitespace.
    out.reserve(input.len() - 1);
    out.extend_from_slice(&input[..first]);
    out.extend(input[first + 1..].iter().copied().filter(|&b| b != 0));
    true
}
