//! `@validateUrlEncoding` and `@validateUtf8Encoding`: match malformed input,
//! which decoders would otherwise normalise away and evasion relies on.

use crate::request::query::hex_value;

use super::OpMatch;

/// Matches a `%` not followed by two hex digits.
pub fn url_encoding(value: &[u8]) -> Option<OpMatch> {
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let ok = value.get(i + 1).copied().and_then(hex_value).is_some()
                && value.get(i + 2).copied().and_then(hex_value).is_some();
            if !ok {
                return Some(OpMatch::at(i, (i + 3).min(value.len())));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    None
}

/// Matches invalid UTF-8: bad sequences, overlong forms, surrogates, code
/// points above U+10FFFF (exactly what `std::str::from_utf8` rejects).
pub fn utf8_encoding(value: &[u8]) -> Option<OpMatch> {
    match std::str::from_utf8(value) {
        Ok(_) => None,
        Err(e) => {
            let start = e.valid_up_to();
            let len = e.error_len().unwrap_or(value.len() - start);
            Some(OpMatch::at(start, start + len))
        }
    }
}
