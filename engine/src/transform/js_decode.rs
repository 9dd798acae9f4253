//! `t:jsDecode`: JavaScript string escapes: `\uHHHH` (one byte, full-width
//! ASCII folded as in urlDecodeUni), `\xHH`, octal `\OOO`, the C escapes and
//! `\c` → `c`. Output is never longer than the input.

use super::escape_seq_decode::decode_escapes;

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    decode_escapes(input, true, out)
}
