//! `@validateUrlEncoding`, `@validateUtf8Encoding`. STUB.
use super::OpMatch;
pub fn url_encoding(v: &[u8]) -> Option<OpMatch> {
    let _ = v;
    None
}
pub fn utf8_encoding(v: &[u8]) -> Option<OpMatch> {
    let _ = v;
    None
}
