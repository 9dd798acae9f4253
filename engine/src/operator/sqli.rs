//! `@detectSQLi`. STUB.
use super::OpMatch;
pub fn detect(v: &[u8]) -> Option<OpMatch> {
    let _ = v;
    None
}
