//! Property tests for transforms: round trips where a transform is the
//! inverse of an encoder, idempotence where applying twice must change
//! nothing, and the output-length bound every transform states
//! (`Transform::max_output_len`):
//!
//! | transform | output length for `n` input bytes |
//! |---|---|
//! | urlDecode, urlDecodeUni, htmlEntityDecode, jsDecode, cssDecode, escapeSeqDecode | ≤ n (every escape is longer than the byte it decodes to) |
//! | base64Decode | ≤ 3n/4 when anything decodes, else unchanged (n) |
//! | hexDecode | n/2 when the whole value is hex pairs, else unchanged (n) |
//! | hexEncode | exactly 2n |
//! | lowercase | exactly n |
//! | removeNulls, removeWhitespace, compressWhitespace, trim, replaceComments, removeCommentsChar, cmdLine | ≤ n |
//! | normalizePath, normalizePathWin | ≤ n |
//! | utf8toUnicode | ≤ 3n (a 2-byte character becomes `%uHHHH`) |
//! | length | the decimal digits of n (≤ 20) |
//! | sha1 | exactly 20 |
//!
//! Case counts are kept small so the file runs in a few seconds.

use std::borrow::Cow;

use palisade_engine::transform::triggers::ByteKinds;
use palisade_engine::transform::Transform;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

/// Percent-encodes every byte outside RFC 3986's unreserved set, `+` and
/// `%` included, so urlDecode must give back exactly `x`.
fn percent_encode(x: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in x {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// RFC 4648 standard base64 with `=` padding.
fn base64_encode(x: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for chunk in x.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// Bytes weighted towards what the decoders react to.
fn interesting_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"%+&#;\\/.*-<!uUxX0123456789abcdefABCDEF \t\r\n\0".to_vec()),
    ];
    prop::collection::vec(byte, 0..64)
}

/// What urlDecodeUni does beyond decoding: UTF-8 full-width ASCII
/// (U+FF01–U+FF5E, three bytes) becomes its ASCII twin, so `＜script` is
/// seen as `<script`.
fn fold_full_width(x: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.len());
    let mut i = 0;
    while i < x.len() {
        match x[i..] {
            [0xEF, 0xBC, b @ 0x81..=0xBF, ..] => {
                out.push(b - 0x81 + 0x21);
                i += 3;
            }
            [0xEF, 0xBD, b @ 0x80..=0x9E, ..] => {
                out.push(b - 0x80 + 0x60);
                i += 3;
            }
            _ => {
                out.push(x[i]);
                i += 1;
            }
        }
    }
    out
}

fn apply(t: Transform, x: &[u8]) -> Vec<u8> {
    t.apply(x).into_owned()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn url_decode_inverts_percent_encoding(x in any::<Vec<u8>>()) {
        prop_assert_eq!(apply(Transform::UrlDecode, &percent_encode(&x)), x.clone());
        prop_assert_eq!(apply(Transform::UrlDecodeUni, &percent_encode(&x)), fold_full_width(&x));
    }

    #[test]
    fn hex_decode_inverts_hex_encode(x in any::<Vec<u8>>()) {
        let encoded = apply(Transform::HexEncode, &x);
        prop_assert_eq!(encoded.len(), 2 * x.len());
        prop_assert_eq!(apply(Transform::HexDecode, &encoded), x);
    }

    #[test]
    fn base64_decode_inverts_standard_encoding(x in any::<Vec<u8>>()) {
        prop_assert_eq!(apply(Transform::Base64Decode, &base64_encode(&x)), x);
    }

    #[test]
    fn idempotent_transforms(x in interesting_bytes()) {
        for t in [
            Transform::Lowercase,
            Transform::RemoveNulls,
            Transform::RemoveWhitespace,
            Transform::CompressWhitespace,
            Transform::Trim,
            Transform::NormalizePath,
            Transform::NormalizePathWin,
            Transform::CmdLine,
        ] {
            let once = apply(t, &x);
            prop_assert_eq!(apply(t, &once), once, "{} on {:?}", t.name(), x);
        }
    }

    #[test]
    fn exact_lengths(x in any::<Vec<u8>>()) {
        prop_assert_eq!(apply(Transform::Lowercase, &x).len(), x.len());
        prop_assert_eq!(apply(Transform::Sha1, &x).len(), 20);
        prop_assert_eq!(apply(Transform::Length, &x), x.len().to_string().into_bytes());
    }

    #[test]
    fn no_output_exceeds_its_bound(x in interesting_bytes()) {
        for &t in Transform::ALL {
            let out = t.apply(&x);
            prop_assert!(
                out.len() <= t.max_output_len(x.len()),
                "{}: {:?} ({} bytes) gave {} bytes", t.name(), x, x.len(), out.len()
            );
        }
    }

    /// A value holding none of a step's trigger bytes comes out unchanged
    /// (`Cow::Borrowed`): chains skip the step on such values.
    #[test]
    fn steps_leave_values_without_their_triggers_alone(x in interesting_bytes(), y in any::<Vec<u8>>()) {
        for &t in Transform::ALL {
            let Some(triggers) = t.triggers() else { continue };
            for value in [&x, &y] {
                let value: Vec<u8> =
                    value.iter().map(|&b| if triggers.contains(&b) { b'a' } else { b }).collect();
                prop_assert!(
                    matches!(t.apply(&value), Cow::Borrowed(_)),
                    "{} changed {:?}", t.name(), String::from_utf8_lossy(&value)
                );
            }
        }
    }

    #[test]
    fn steps_stay_within_their_kinds_bound(x in interesting_bytes(), y in any::<Vec<u8>>()) {
        for &t in Transform::ALL {
            for value in [&x, &y] {
                let before = ByteKinds::of(value);
                let bound = before.bound_after(&[t]);
                let after = ByteKinds::of(&t.apply(value));
                prop_assert!(
                    bound.union(after) == bound,
                    "{} wrote kinds {:?} outside {:?} into {:?}",
                    t.name(), after, bound, String::from_utf8_lossy(value)
                );
            }
        }
    }

    #[test]
    fn utf8_text_stays_within_bound(s in any::<String>()) {
        let out = apply(Transform::Utf8ToUnicode, s.as_bytes());
        prop_assert!(out.len() <= 3 * s.len());
    }
}
