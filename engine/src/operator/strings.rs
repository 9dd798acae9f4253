//! `@streq`, `@contains`, `@beginsWith`, `@endsWith`, `@within`: plain string
//! comparisons, for rules that need no regex (allowed methods, protocol
//! versions, path prefixes).
//!
//! ModSecurity semantics followed: comparisons are byte-exact and
//! case-sensitive (rules add `t:lowercase` when they want otherwise); an empty
//! parameter is found in every value for `@contains`, `@beginsWith` and
//! `@endsWith`, and `@streq ""` matches only the empty value. Spans are byte
//! ranges in the value. Substring search is memchr's `memmem` (SIMD where
//! available), linear in the value.
//!
//! One deliberate difference: `@within` with an *empty value* does not match
//! here, while ModSecurity v3 returns true for it. CRS uses `@within` as
//! `!@within %{tx.allowed_methods}` and similar allow-lists, where "nothing"
//! is not an allowed item; callers that need ModSecurity's answer can test the
//! empty value separately.

use memchr::memmem;

use super::OpMatch;

/// `@streq`: the value equals `s`. Span: the whole value.
pub fn streq(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    (value == s).then(|| OpMatch::at(0, value.len()))
}

/// `@contains`: `s` occurs in the value. Span: its first occurrence.
pub fn contains(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    memmem::find(value, s).map(|i| OpMatch::at(i, i + s.len()))
}

/// `@beginsWith`: the value starts with `s`. Span: that prefix.
pub fn begins_with(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    value.starts_with(s).then(|| OpMatch::at(0, s.len()))
}

/// `@endsWith`: the value ends with `s`. Span: that suffix.
pub fn ends_with(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    let start = value.len().checked_sub(s.len())?;
    value.ends_with(s).then(|| OpMatch::at(start, value.len()))
}

/// `@within`: the value occurs inside `haystack` (`@within "GET HEAD POST"`).
/// Span: the whole value (the match is of the value, not in it). An empty
/// value does not match (see the module docs).
pub fn within(value: &[u8], haystack: &[u8]) -> Option<OpMatch> {
    if value.is_empty() {
        return None;
    }
    memmem::find(haystack, value).map(|_| OpMatch::at(0, value.len()))
}
