//! Which bytes can make a step change a value, and which kinds of bytes a
//! value holds: one pass over a value settles, for every step of every
//! chain, that the step has nothing to do.
//!
//! Most values hold none of the bytes a chain acts on: a JSON number, a
//! plain word, an id. Each step used to find that out for itself, scanning
//! the value (`memchr` for `%`, a table walk for whitespace, ...), and a
//! value passed through about 20 steps under the built-in rules, 50 under
//! CRS. Now a value's kinds are gathered once, and a step whose trigger
//! bytes are absent is skipped with one `and`.
//!
//! Kinds are coarser than bytes (64 bits for 256 bytes), which can only make
//! a step run when it need not: every byte a step lists sets a bit that the
//! step's mask holds. Letters, digits and the punctuation no step acts on
//! set no bit at all.

use super::Transform;

/// The bytes that get a kind of their own: every byte some step lists,
/// except `A`–`Z` and `0x80..`, which share one bit per range.
const OWN_BIT: &[u8] = b"%+&\\\0 \t\n\r\x0b\x0c/.-*#\"'^,;(\xa0\xef";

/// Set in every value's kinds, and the whole mask of a step that may change
/// any value (hexEncode, length, sha1, ...), including the empty one.
const ANY: u64 = 1 << 63;
const UPPER: u64 = 1 << 62;
const HIGH: u64 = 1 << 61;

/// The kind bit of every byte.
static KIND: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = b'A';
    while b <= b'Z' {
        table[b as usize] = UPPER;
        b += 1;
    }
    let mut b = 0x80;
    while b <= 0xff {
        table[b] = HIGH;
        b += 1;
    }
    let mut i = 0;
    while i < OWN_BIT.len() {
        table[OWN_BIT[i] as usize] = 1 << i;
        i += 1;
    }
    table
};

/// The kinds of bytes in a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteKinds(u64);

impl ByteKinds {
    /// The kinds of bytes `value` holds.
    pub fn of(value: &[u8]) -> ByteKinds {
        ByteKinds(value.iter().fold(ANY, |kinds, &b| kinds | KIND[b as usize]))
    }

    /// Might `step` change a value of these kinds? `false` means it
    /// certainly leaves it as it is.
    pub fn may_change(self, step: Transform) -> bool {
        self.0 & MASKS[step as usize] != 0
    }
}

/// Each step's trigger bytes as kind bits, indexed by `Transform as usize`.
static MASKS: [u64; Transform::ALL.len()] = {
    let mut masks = [0u64; Transform::ALL.len()];
    let mut i = 0;
    while i < Transform::ALL.len() {
        let step = Transform::ALL[i];
        masks[step as usize] = match step.triggers() {
            None => ANY,
            Some(bytes) => {
                let mut mask = 0;
                let mut j = 0;
                while j < bytes.len() {
                    mask |= KIND[bytes[j] as usize];
                    j += 1;
                }
                mask
            }
        };
        i += 1;
    }
    masks
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte a step lists sets a bit of that step's mask, so a value
    /// holding one is never skipped.
    #[test]
    fn every_trigger_byte_is_seen() {
        for &step in Transform::ALL {
            let Some(bytes) = step.triggers() else {
                assert!(ByteKinds::of(b"").may_change(step), "{}", step.name());
                continue;
            };
            for &b in bytes {
                assert!(
                    ByteKinds::of(&[b'a', b]).may_change(step),
                    "{} {b:#x}",
                    step.name()
                );
            }
            assert!(!ByteKinds::of(b"").may_change(step), "{}", step.name());
        }
    }

    /// Letters and digits are skipped by every step that lists triggers
    /// but lowercase (which lists `A`-`Z`).
    #[test]
    fn plain_words_trigger_little() {
        let kinds = ByteKinds::of(b"user_id=42:abc");
        let run: Vec<&str> = Transform::ALL
            .iter()
            .filter(|&&t| kinds.may_change(t))
            .map(|t| t.name())
            .collect();
        assert_eq!(
            run,
            ["base64Decode", "hexDecode", "hexEncode", "length", "sha1"]
        );
    }
}
