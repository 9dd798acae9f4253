//! `t:jsDecode`: JavaScript string escapes: `\uHHHH` (one byte, full-width
//! ASCII folded as in urlDecodeUni), `\xHH`, octal `\OOO`, the C escapes and
//! `\c` → `c`. Output is never longer than the input.

use std::borrow::Cow;

use super::escape_seq_decode::decode_escapes;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    decode_escapes(input, true)
}
