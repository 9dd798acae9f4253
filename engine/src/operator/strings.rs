//! `@streq`, `@contains`, `@beginsWith`, `@endsWith`, `@within`. STUB.
use super::OpMatch;
pub fn streq(v: &[u8], s: &[u8]) -> Option<OpMatch> {
    let _ = (v, s);
    None
}
pub fn contains(v: &[u8], s: &[u8]) -> Option<OpMatch> {
    let _ = (v, s);
    None
}
pub fn begins_with(v: &[u8], s: &[u8]) -> Option<OpMatch> {
    let _ = (v, s);
    None
}
pub fn ends_with(v: &[u8], s: &[u8]) -> Option<OpMatch> {
    let _ = (v, s);
    None
}
pub fn within(v: &[u8], s: &[u8]) -> Option<OpMatch> {
    let _ = (v, s);
    None
}
