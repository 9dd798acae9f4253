//! `application/x-www-form-urlencoded` parsing, shared by the query string and
//! urlencoded bodies, and the one percent-decoder the request model uses.

use std::borrow::Cow;

use super::Arg;

/// Value of an ASCII hex digit.
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` (and `+` as space when asked). Malformed escapes are kept
/// as written and reported, because an attacker's `%zz` is evidence, not noise.
/// Returns the value and whether a malformed escape was seen.
pub fn percent_decode(input: &[u8], plus_as_space: bool) -> (Cow<'_, [u8]>, bool) {
    let mut out = Vec::new();
    match percent_decode_into(input, plus_as_space, &mut out) {
        Some(invalid) => (Cow::Owned(out), invalid),
        None => (Cow::Borrowed(input), false),
    }
}

/// [`percent_decode`] into the caller's buffer: appends the decoded value to
/// `out` and returns whether a malformed escape was seen, or returns `None`
/// and leaves `out` as it was when there is nothing to decode (no `%`, nor
/// `+` when it reads as a space).
pub fn percent_decode_into(input: &[u8], plus_as_space: bool, out: &mut Vec<u8>) -> Option<bool> {
    if !input
        .iter()
        .any(|&b| b == b'%' || (plus_as_space && b == b'+'))
    {
        return None;
    }
    out.reserve(input.len());
    let mut invalid = false;
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex_value);
                let lo = input.get(i + 2).copied().and_then(hex_value);
                if let (Some(h), Some(l)) = (hi, lo) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                invalid = true;
                out.push(b'%');
            }
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Some(invalid)
}

/// Splits `a=1&b=2&a=3` into decoded arguments, keeping order and repeats.
/// A piece without `=` is a name with an empty value; empty pieces are skipped.
pub fn parse(input: &[u8]) -> Vec<Arg> {
    parse_limited(input, usize::MAX).0
}

/// Like [`parse`], but keeps at most `max` arguments; the flag says more were present.
pub fn parse_limited(input: &[u8], max: usize) -> (Vec<Arg>, bool) {
    let mut args = Vec::new();
    for piece in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        if args.len() == max {
            return (args, true);
        }
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        args.push(Arg::new(
            percent_decode(name, true).0.into_owned(),
            percent_decode(value, true).0.into_owned(),
        ));
    }
    (args, false)
}

/// True when the input holds a `%` not followed by two hex digits.
pub fn has_invalid_escape(input: &[u8]) -> bool {
    input.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !(input.get(i + 1).copied().and_then(hex_value).is_some()
                && input.get(i + 2).copied().and_then(hex_value).is_some())
    })
}
