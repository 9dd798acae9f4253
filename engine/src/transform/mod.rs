//! Transformations: normalise a value before an operator sees it, so one
//! rule catches every spelling of an attack. Names are ModSecurity's
//! (`t:urlDecodeUni`), one module each with its own test vectors in
//! `engine/tests/cases/transforms/`.
//!
//! Every module's entry point is `apply_into(input, out) -> bool`: it appends
//! the transformed value to the caller's `out` and returns `true`, or returns
//! `false` and leaves `out` exactly as it was when the value is unchanged. It
//! only appends (never clears `out` nor reads what was there), so a caller
//! can keep many transformed values in one kept buffer, and the common case
//! (nothing to decode) costs no allocation and no copy.
//! [`Transform::apply`] wraps it for callers that want a `Cow`:
//! `Cow::Owned` when `apply_into` returned `true`, `Cow::Borrowed` when it
//! returned `false`.

pub mod base64_decode;
pub mod cmd_line;
pub mod compress_whitespace;
pub mod css_decode;
pub mod escape_seq_decode;
pub mod hex_decode;
pub mod hex_encode;
pub mod html_entity_decode;
pub mod js_decode;
pub mod length;
pub mod lowercase;
pub mod normalize_path;
pub mod normalize_path_win;
pub mod remove_comments_char;
pub mod remove_nulls;
pub mod remove_whitespace;
pub mod replace_comments;
pub mod sha1;
pub mod triggers;
pub mod trim;
pub mod url_decode;
pub mod url_decode_uni;
pub mod utf8_to_unicode;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use triggers::ByteKinds;

/// One transformation step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Transform {
    UrlDecode,
    UrlDecodeUni,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    EscapeSeqDecode,
    Base64Decode,
    HexDecode,
    HexEncode,
    Lowercase,
    RemoveNulls,
    RemoveWhitespace,
    CompressWhitespace,
    ReplaceComments,
    RemoveCommentsChar,
    NormalizePath,
    NormalizePathWin,
    CmdLine,
    Utf8ToUnicode,
    Length,
    Trim,
    Sha1,
}

impl Transform {
    /// Every transform, for listings and exhaustive tests.
    pub const ALL: &'static [Transform] = &[
        Transform::UrlDecode,
        Transform::UrlDecodeUni,
        Transform::HtmlEntityDecode,
        Transform::JsDecode,
        Transform::CssDecode,
        Transform::EscapeSeqDecode,
        Transform::Base64Decode,
        Transform::HexDecode,
        Transform::HexEncode,
        Transform::Lowercase,
        Transform::RemoveNulls,
        Transform::RemoveWhitespace,
        Transform::CompressWhitespace,
        Transform::ReplaceComments,
        Transform::RemoveCommentsChar,
        Transform::NormalizePath,
        Transform::NormalizePathWin,
        Transform::CmdLine,
        Transform::Utf8ToUnicode,
        Transform::Length,
        Transform::Trim,
        Transform::Sha1,
    ];

    /// Looks a transform up by its ModSecurity name, case-insensitively
    /// (`urlDecodeUni`, `utf8toUnicode`).
    pub fn from_name(name: &str) -> Option<Transform> {
        Transform::ALL
            .iter()
            .copied()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The ModSecurity name.
    pub fn name(self) -> &'static str {
        match self {
            Transform::UrlDecode => "urlDecode",
            Transform::UrlDecodeUni => "urlDecodeUni",
            Transform::HtmlEntityDecode => "htmlEntityDecode",
            Transform::JsDecode => "jsDecode",
            Transform::CssDecode => "cssDecode",
            Transform::EscapeSeqDecode => "escapeSeqDecode",
            Transform::Base64Decode => "base64Decode",
            Transform::HexDecode => "hexDecode",
            Transform::HexEncode => "hexEncode",
            Transform::Lowercase => "lowercase",
            Transform::RemoveNulls => "removeNulls",
            Transform::RemoveWhitespace => "removeWhitespace",
            Transform::CompressWhitespace => "compressWhitespace",
            Transform::ReplaceComments => "replaceComments",
            Transform::RemoveCommentsChar => "removeCommentsChar",
            Transform::NormalizePath => "normalizePath",
            Transform::NormalizePathWin => "normalizePathWin",
            Transform::CmdLine => "cmdLine",
            Transform::Utf8ToUnicode => "utf8toUnicode",
            Transform::Length => "length",
            Transform::Trim => "trim",
            Transform::Sha1 => "sha1",
        }
    }

    /// The most bytes this step returns for an input of `len` bytes: the
    /// bound each module's docs state, checked by
    /// `engine/tests/transform_props.rs` and the `transforms` fuzz target.
    /// Decoders and filters never grow a value; hexEncode doubles it;
    /// utf8toUnicode at most triples it (a 2-byte character becomes
    /// `%uHHHH`); length and sha1 return at most 20 bytes whatever the input
    /// (`usize::MAX` has 20 decimal digits; a SHA-1 digest is 20 bytes).
    pub fn max_output_len(self, len: usize) -> usize {
        match self {
            Transform::HexEncode => len.saturating_mul(2),
            Transform::Utf8ToUnicode => len.saturating_mul(3),
            Transform::Length | Transform::Sha1 => 20,
            _ => len,
        }
    }

    /// The bytes this step may write that its input need not hold; `None`
    /// when it may write any (a decoder, a hash). The other steps only
    /// remove bytes, lowercase letters or write a space or a slash, so the
    /// kinds of a value after them are bounded by the kinds before
    /// ([`triggers::ByteKinds::bound_after`]); `engine/tests/transform_props.rs`
    /// checks every list against the step.
    pub const fn introduces(self) -> Option<&'static [u8]> {
        Some(match self {
            Transform::Lowercase
            | Transform::RemoveNulls
            | Transform::RemoveWhitespace
            | Transform::RemoveCommentsChar
            | Transform::Trim => b"",
            // Whitespace runs, comments and `,` `;` become one space.
            Transform::CompressWhitespace | Transform::ReplaceComments | Transform::CmdLine => b" ",
            // A slash ends a path kept as a directory; normalizePathWin
            // also turns backslashes into slashes.
            Transform::NormalizePath | Transform::NormalizePathWin => b"/",
            Transform::UrlDecode
            | Transform::UrlDecodeUni
            | Transform::HtmlEntityDecode
            | Transform::JsDecode
            | Transform::CssDecode
            | Transform::EscapeSeqDecode
            | Transform::Base64Decode
            | Transform::HexDecode
            | Transform::HexEncode
            | Transform::Utf8ToUnicode
            | Transform::Length
            | Transform::Sha1 => return None,
        })
    }

    /// The bytes without which this step leaves a value as it is; `None`
    /// when it may change any value. Chains skip a step when the value holds
    /// none ([`triggers::ByteKinds`]); `engine/tests/transform_props.rs`
    /// checks every list against the step.
    pub const fn triggers(self) -> Option<&'static [u8]> {
        const SPACE: &[u8] = b" \t\n\r\x0b\x0c\xa0";
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const HIGH: &[u8] = &{
            let mut high = [0u8; 128];
            let mut i = 0;
            while i < 128 {
                high[i] = 0x80 + i as u8;
                i += 1;
            }
            high
        };
        Some(match self {
            Transform::UrlDecode => b"%+",
            Transform::UrlDecodeUni => b"%+\xef",
            Transform::HtmlEntityDecode => b"&",
            Transform::JsDecode | Transform::CssDecode | Transform::EscapeSeqDecode => b"\\",
            Transform::Lowercase => UPPER,
            Transform::RemoveNulls => b"\0",
            Transform::RemoveWhitespace | Transform::CompressWhitespace => SPACE,
            // Trim's whitespace leaves out NBSP.
            Transform::Trim => b" \t\n\r\x0b\x0c",
            Transform::ReplaceComments => b"/",
            // Every marker (`<!--`, `-->`, `/*`, `*/`, `--`, `#`) holds one.
            Transform::RemoveCommentsChar => b"-/*#",
            // `.` and `..` alone are paths too.
            Transform::NormalizePath => b"/.",
            Transform::NormalizePathWin => b"/.\\",
            // `/` and `(` change only after a space, which is listed.
            Transform::CmdLine => b"\\\"'^\t\r\n,; ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            Transform::Utf8ToUnicode => HIGH,
            Transform::Base64Decode
            | Transform::HexDecode
            | Transform::HexEncode
            | Transform::Length
            | Transform::Sha1 => return None,
        })
    }

    /// Appends the value after this step to `out` and returns `true`, or
    /// returns `false` and leaves `out` as it was when the value is
    /// unchanged. `out` may already hold other values: it is only appended to.
    pub fn apply_into(self, input: &[u8], out: &mut Vec<u8>) -> bool {
        match self {
            Transform::UrlDecode => url_decode::apply_into(input, out),
            Transform::UrlDecodeUni => url_decode_uni::apply_into(input, out),
            Transform::HtmlEntityDecode => html_entity_decode::apply_into(input, out),
            Transform::JsDecode => js_decode::apply_into(input, out),
            Transform::CssDecode => css_decode::apply_into(input, out),
            Transform::EscapeSeqDecode => escape_seq_decode::apply_into(input, out),
            Transform::Base64Decode => base64_decode::apply_into(input, out),
            Transform::HexDecode => hex_decode::apply_into(input, out),
            Transform::HexEncode => hex_encode::apply_into(input, out),
            Transform::Lowercase => lowercase::apply_into(input, out),
            Transform::RemoveNulls => remove_nulls::apply_into(input, out),
            Transform::RemoveWhitespace => remove_whitespace::apply_into(input, out),
            Transform::CompressWhitespace => compress_whitespace::apply_into(input, out),
            Transform::ReplaceComments => replace_comments::apply_into(input, out),
            Transform::RemoveCommentsChar => remove_comments_char::apply_into(input, out),
            Transform::NormalizePath => normalize_path::apply_into(input, out),
            Transform::NormalizePathWin => normalize_path_win::apply_into(input, out),
            Transform::CmdLine => cmd_line::apply_into(input, out),
            Transform::Utf8ToUnicode => utf8_to_unicode::apply_into(input, out),
            Transform::Length => length::apply_into(input, out),
            Transform::Trim => trim::apply_into(input, out),
            Transform::Sha1 => sha1::apply_into(input, out),
        }
    }

    /// Applies this step: `Cow::Borrowed(input)` when the value is
    /// unchanged, else the new value.
    pub fn apply(self, input: &[u8]) -> Cow<'_, [u8]> {
        let mut out = Vec::new();
        if self.apply_into(input, &mut out) {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(input)
        }
    }
}

/// Applies a chain left to right, copying only when a step changes the value.
/// Applies `chain` to `input` (whose bytes are of `kinds`), each step
/// writing into one of two kept buffers in turn, and skipping the steps
/// the value holds no trigger byte of ([`triggers`]). After each step that
/// changed the value, `changed` is shown it and its kinds, and may stop
/// the chain there by answering `true`. Returns the value where the chain
/// stopped, and its kinds, if any step changed it.
pub fn apply_chain_in<'b>(
    chain: &[Transform],
    input: &[u8],
    mut kinds: ByteKinds,
    scratch: &'b mut [Vec<u8>; 2],
    mut changed: impl FnMut(&[u8], ByteKinds) -> bool,
) -> Option<(&'b [u8], ByteKinds)> {
    let mut current = None;
    for &step in chain {
        if !kinds.may_change(step) {
            continue;
        }
        let [first, second] = &mut *scratch;
        let (from, to, written) = match current {
            None => (input, first, 0),
            Some(0) => (first.as_slice(), second, 1),
            Some(_) => (second.as_slice(), first, 0),
        };
        to.clear();
        if step.apply_into(from, to) {
            current = Some(written);
            kinds = ByteKinds::of(to);
            if changed(to, kinds) {
                break;
            }
        }
    }
    current.map(|i| (scratch[i].as_slice(), kinds))
}

/// Steps the value holds no trigger byte of are skipped (see [`triggers`]).
/// A wrapper of [`apply_chain_in`] with buffers of its own, for callers off
/// the per-value path (counts, tests, fuzzing): a changed value is copied
/// out of them.
pub fn apply_chain<'a>(chain: &[Transform], input: &'a [u8]) -> Cow<'a, [u8]> {
    if chain.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut scratch = <[Vec<u8>; 2]>::default();
    match apply_chain_in(chain, input, ByteKinds::of(input), &mut scratch, |_, _| {
        false
    }) {
        Some((after, _)) => Cow::Owned(after.to_vec()),
        None => Cow::Borrowed(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `apply_into` appends after what `out` already holds, and writes
    /// exactly what `apply` returns (nothing when the value is unchanged).
    #[test]
    fn apply_into_appends_what_apply_returns() {
        let high: Vec<u8> = (0x80..=0xff).collect();
        let inputs: &[&[u8]] = &[
            b"",
            b"plain ascii",
            b"%41%u0041+",
            b"a\0b /*c*/ D",
            b"&lt;x&gt;",
            b"  Trim Me  ",
            &high,
            b"../a/./b//c",
        ];
        for &t in Transform::ALL {
            for &input in inputs {
                let mut out = b"prefix".to_vec();
                let changed = t.apply_into(input, &mut out);
                let (prefix, written) = out.split_at(6);
                assert_eq!(prefix, b"prefix", "{} {input:?}", t.name());
                match t.apply(input) {
                    Cow::Owned(expected) => {
                        assert!(changed, "{} {input:?}", t.name());
                        assert_eq!(written, expected.as_slice(), "{} {input:?}", t.name());
                    }
                    Cow::Borrowed(same) => {
                        assert!(!changed, "{} {input:?}", t.name());
                        assert_eq!(same, input);
                        assert!(written.is_empty(), "{} {input:?}", t.name());
                    }
                }
            }
        }
    }
}
