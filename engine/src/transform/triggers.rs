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
//! The same kinds, merged over a collection, tell a condition whose
//! operator needs a rare byte (`=`, `<`, a quote: see
//! `operator::required_bytes`) that no value holds one.
//!
//! Kinds are coarser than bytes (32 bits for 256 bytes), which can only make
//! a step run when it need not: every byte a step lists sets a bit that the
//! step's mask holds. Lowercase letters and digits set no bit at all, so
//! they cannot be required (see [`ByteKinds::required`]).

use super::Transform;

/// Bytes sharing a kind, one group per bit from the lowest. Every byte a
/// step lists has a kind of its own (a step is then skipped exactly when
/// the value holds none of its bytes), and so does `=`, the byte regexes
/// most often require; the rarer punctuation shares a few bits (a shared
/// bit can only make an operator run when it need not). `A`–`Z` and the
/// other high bytes share one bit per range, the other control bytes join
/// the rare punctuation; lowercase letters and digits have no kind.
///
/// 32 bits, not 64: a kind set is kept with every cached value (see
/// `chains::Slot`), and at 8 bytes it made palisade.wasm's kept slots 40
/// bytes each instead of 28 (`palisade-soak --requests 150000
/// --warmup-percent 20`: VM memory 5.7 MiB against 5.2; 4.8 before kinds).
const GROUPS: [&[u8]; 29] = [
    b"%", b"+", b"&", b"\\", b"\0", b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"\xa0", b"\xef",
    b"/", b".", b"-", b"*", b"#", b"\"", b"'", b"^", b",", b";", b"(", b"=", b"<>", b")[]{}",
    b"`$|~!?", b":@_",
];

/// Set in every value's kinds, and the whole mask of a step that may change
/// any value (hexEncode, length, sha1, ...), including the empty one.
const ANY: u32 = 1 << 31;
const UPPER: u32 = 1 << 30;
const HIGH: u32 = 1 << 29;
/// The group control bytes join.
const RARE: u32 = 1 << 27;

/// The kind bit of every byte.
static KIND: [u32; 256] = {
    let mut table = [0u32; 256];
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
    let mut b = 0;
    while b < 0x20 {
        table[b] = RARE;
        b += 1;
    }
    table[0x7f] = RARE;
    assert!(GROUPS.len() <= 29, "the top three bits have other uses");
    assert!(
        GROUPS[27][0] == b'`',
        "RARE names the rare punctuation's bit"
    );
    let mut i = 0;
    while i < GROUPS.len() {
        let mut j = 0;
        while j < GROUPS[i].len() {
            table[GROUPS[i][j] as usize] = 1 << i;
            j += 1;
        }
        i += 1;
    }
    table
};

/// The kinds of bytes in a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteKinds(u32);

impl ByteKinds {
    /// The kinds of bytes `value` holds.
    pub fn of(value: &[u8]) -> ByteKinds {
        ByteKinds(value.iter().fold(ANY, |kinds, &b| kinds | KIND[b as usize]))
    }

    /// Might `step` change a value of these kinds? `false` means it
    /// certainly leaves it as it is.
    pub fn may_change(self, step: Transform) -> bool {
        self.0 & STEP_KINDS[step as usize][0] != 0
    }

    /// The kinds of `bytes`, if each has a kind of its own (lowercase
    /// letters and digits have none): a mask such that a value holding one
    /// of `bytes` holds one of these kinds.
    pub fn required(bytes: impl IntoIterator<Item = u8>) -> Option<ByteKinds> {
        bytes.into_iter().try_fold(ByteKinds(0), |kinds, b| {
            let kind = KIND[b as usize];
            (kind != 0).then_some(ByteKinds(kinds.0 | kind))
        })
    }

    /// Might any of `steps` change a value of these kinds? `false` means
    /// each leaves it as it is, so the whole chain does.
    pub fn may_change_any(self, steps: StepMask) -> bool {
        self.0 & steps.0 != 0
    }

    /// A bound on the kinds of a value of these kinds (or of any of
    /// several values, these being their union) after `steps`: a step
    /// triggered by none of them leaves the value alone, one that may run
    /// adds what it may write ([`Transform::introduces`]). A collection's
    /// bound settles a condition needing a rare byte without transforming
    /// a value: a 4 KB JSON body's plain text, under CRS, holds spaces and
    /// commas that make most chains run, but nothing a chain of removals
    /// and whitespace steps could turn into `<`, `=` or a quote.
    pub fn bound_after(self, steps: &[Transform]) -> ByteKinds {
        steps.iter().fold(self, |kinds, &step| {
            if kinds.may_change(step) {
                ByteKinds(kinds.0 | STEP_KINDS[step as usize][1])
            } else {
                kinds
            }
        })
    }

    /// Both values' kinds.
    pub fn union(self, other: ByteKinds) -> ByteKinds {
        ByteKinds(self.0 | other.0)
    }

    /// Do these kinds hold any of `required`'s?
    pub fn holds_any(self, required: ByteKinds) -> bool {
        self.0 & required.0 != 0
    }
}

/// The trigger kinds of several steps together (a chain's): a value holding
/// none of them is left as it is by every step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepMask(u32);

impl StepMask {
    /// The mask of `steps`: a step that may change any value makes it
    /// hold every value's `ANY` bit.
    pub fn of(steps: &[Transform]) -> StepMask {
        StepMask(
            steps
                .iter()
                .fold(0, |mask, &step| mask | STEP_KINDS[step as usize][0]),
        )
    }
}

/// The kind bits of `bytes`, at compile time.
const fn kinds_of(bytes: &[u8]) -> u32 {
    let mut mask = 0;
    let mut i = 0;
    while i < bytes.len() {
        mask |= KIND[bytes[i] as usize];
        i += 1;
    }
    mask
}

/// Each step's trigger bytes as kind bits (`[0]`) and the kinds it may
/// write (`[1]`, every kind for a step that may write any byte), indexed
/// by `Transform as usize`.
static STEP_KINDS: [[u32; 2]; Transform::ALL.len()] = {
    let mut kinds = [[0u32; 2]; Transform::ALL.len()];
    let mut i = 0;
    while i < Transform::ALL.len() {
        let step = Transform::ALL[i];
        kinds[step as usize] = [
            match step.triggers() {
                None => ANY,
                Some(bytes) => kinds_of(bytes),
            },
            match step.introduces() {
                None => u32::MAX,
                Some(bytes) => kinds_of(bytes),
            },
        ];
        i += 1;
    }
    kinds
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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

    /// A chain may change a value exactly when one of its steps may: the
    /// kinds of a plain word settle a chain of steps it has no trigger of,
    /// and one step that may change anything makes the chain run.
    #[test]
    fn chain_masks_are_their_steps_masks() {
        use Transform::*;
        let chains: [&[Transform]; 4] = [
            &[],
            &[UrlDecodeUni, RemoveNulls, CompressWhitespace],
            &[Lowercase, UrlDecodeUni],
            &[UrlDecodeUni, Sha1],
        ];
        let values: [&[u8]; 5] = [b"", b"plain42", b"Plain", b"a%20b", b"two words"];
        for chain in chains {
            let mask = StepMask::of(chain);
            for value in values {
                let kinds = ByteKinds::of(value);
                assert_eq!(
                    kinds.may_change_any(mask),
                    chain.iter().any(|&step| kinds.may_change(step)),
                    "{chain:?} on {value:?}"
                );
            }
        }
        assert!(!ByteKinds::of(b"plain42").may_change_any(StepMask::of(chains[1])));
        assert!(ByteKinds::of(b"plain42").may_change_any(StepMask::of(chains[3])));
    }

    /// Required kinds exist only for bytes with a kind of their own (or a
    /// shared one), and a value holding one of the bytes holds the kinds.
    #[test]
    fn required_kinds_cover_their_bytes() {
        assert_eq!(ByteKinds::required(*b"a="), None);
        assert_eq!(ByteKinds::required(*b"7"), None);
        for bytes in [&b"="[..], b"<>", b"'\"`", b"\x01", b"\xc3", b"Q"] {
            let required = ByteKinds::required(bytes.iter().copied()).unwrap();
            for &b in bytes {
                assert!(
                    ByteKinds::of(&[b'x', b, b'1']).holds_any(required),
                    "{b:#x}"
                );
            }
            assert!(
                !ByteKinds::of(b"plain value 42").holds_any(required),
                "{bytes:?}"
            );
        }
    }
}
