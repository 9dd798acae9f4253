//! `@validateUrlEncoding` and `@validateUtf8Encoding`: match malformed input.
//!
//! Why: decoders normalise bad encodings away (a lone `%` stays a `%`, an
//! overlong `C0 AF` may become `/` in a lenient backend), and evasion relies
//! on the WAF and the backend disagreeing. CRS flags such values outright.
//!
//! ModSecurity semantics followed:
//! - `@validateUrlEncoding` matches when a `%` is not followed by two hex
//!   digits, including a `%` too close to the end. A valid `%XX` is skipped
//!   whole, so `%%41` is bad (the first `%`) but `%2541` is fine. The span is
//!   the bad escape: the `%` and up to two bytes after it.
//! - `@validateUtf8Encoding` matches invalid UTF-8: stray continuation bytes,
//!   truncated sequences, overlong forms (`C0 AF`, `E0 80 AF`), UTF-16
//!   surrogates (`ED A0 80`) and code points above U+10FFFF. These are exactly
//!   the sequences `std::str::from_utf8` rejects, so it does the work. The
//!   span is the first bad sequence (as far as it can be told apart; for a
//!   truncated sequence at the end, the rest of the value).
//!
//! Both scans are linear and allocation-free.

use super::OpMatch;

/// Matches the first `%` not followed by two hex digits.
pub fn url_encoding(value: &[u8]) -> Option<OpMatch> {
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'%', value.get(i..)?) {
        let at = i + offset;
        let hex = |k: usize| value.get(at + k).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(1) && hex(2)) {
            return Some(OpMatch::at(at, (at + 3).min(value.len())));
        }
        i = at + 3;
    }
    None
}

/// Matches invalid UTF-8; the span is the first invalid sequence.
pub fn utf8_encoding(value: &[u8]) -> Option<OpMatch> {
    let err = std::str::from_utf8(value).err()?;
    let start = err.valid_up_to();
    let end = err.error_len().map_or(value.len(), |len| start + len);
    Some(OpMatch::at(start, end))
}
