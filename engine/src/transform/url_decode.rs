//! `t:urlDecode`: `%XX` and `+` decoding. Malformed escapes stay as written.
//! Output is never longer than the input.

use std::borrow::Cow;

use crate::request::query::percent_decode;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    percent_decode(input, true).0
}
