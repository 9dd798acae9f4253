//! `@streq`, `@contains`, `@beginsWith`, `@endsWith`, `@within`: byte-exact,
//! case-sensitive comparisons, as in ModSecurity (rules lowercase with a
//! transform when they want case-insensitivity).

use memchr::memmem;

use super::OpMatch;

pub fn streq(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    (value == s).then(|| OpMatch::at(0, value.len()))
}

pub fn contains(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    memmem::find(value, s).map(|i| OpMatch::at(i, i + s.len()))
}

pub fn begins_with(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    value.starts_with(s).then(|| OpMatch::at(0, s.len()))
}

pub fn ends_with(value: &[u8], s: &[u8]) -> Option<OpMatch> {
    value
        .ends_with(s)
        .then(|| OpMatch::at(value.len() - s.len(), value.len()))
}

/// The value occurs inside `haystack` (`@within "GET HEAD POST"`). An empty
/// value does not match: "nothing" is not an allowed method.
pub fn within(value: &[u8], haystack: &[u8]) -> Option<OpMatch> {
    if value.is_empty() {
        return None;
    }
    memmem::find(haystack, value).map(|_| OpMatch::at(0, value.len()))
}
