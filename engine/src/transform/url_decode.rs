//! `t:urlDecode`: `%XX` and `+` decoding. Malformed escapes stay as written.
//! Output is never longer than the input.

use crate::request::query::percent_decode_into;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    percent_decode_into(input, true, out).is_some()
}
