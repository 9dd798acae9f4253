//! `t:base64Decode`: decodes base64 (standard or URL-safe alphabet) up to the first character that
//! is not part of the alphabet (padding ends it too), like ModSecurity; a
//! value with nothing decodable is left unchanged. Output is at most 3/4 of
//! the input. CR and LF are skipped (MIME wraps base64 at 76 columns; the
//! mbedtls decoder ModSecurity v3 uses and Coraza's both skip them), so a
//! wrapped payload decodes past its first line.

/// Both alphabets at once: standard (`+/`) and URL-safe (`-_`). Apps and
/// JWTs use the URL-safe one, and a payload must not hide behind the choice.
fn sextet(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged
/// (nothing decodes).
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    // Nothing decodes when the first byte past any CR/LF is outside both
    // alphabets: say so before reserving room in `out`.
    let first = input.iter().find(|&&b| b != b'\r' && b != b'\n');
    if first.is_none_or(|&b| sextet(b).is_none()) {
        return false;
    }
    out.reserve(input.len() / 4 * 3 + 3);
    let (mut acc, mut nbits) = (0u32, 0u32);
    for &b in input {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        let Some(v) = sextet(b) else { break };
        acc = (acc << 6 | v) & 0xFFFFFF;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
    }
    true
}
