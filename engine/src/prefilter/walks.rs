//! What the literal automaton found in the values walked so far in one
//! request, by content: a value walked again, under another collection or
//! another chain, reads the marks of the first walk instead of walking.
//!
//! The automaton is one for every chain, so what a walk marks depends on
//! the bytes alone. The same bytes come back: the URI as `REQUEST_URI` and
//! as `REQUEST_URI_RAW`, a header value two chains decode alike. Under CRS
//! PL1, 17% of the bytes walked for bench's 50-argument request (1.5 KB of
//! 9.3 KB) were its URI walked a second time, at about 60 instructions per
//! byte.
//!
//! A direct-mapped table of recent walks: a slot is found from the value's
//! length and its first and last eight bytes, and a hit is one only when
//! the bytes kept for the slot equal the value's. A value that misses
//! (another value in the slot, or none) is walked and, while the
//! request's budget of kept bytes lasts, takes the slot. So
//! crafted values that share a slot cost a comparison and a copy each, and
//! are still walked: no input is answered from another value's walk.

use super::{Marks, SeenBits};

/// Shorter values are walked every time. Most values are short and few
/// of those come back, so remembering them costs more than it saves: from
/// 16 bytes up, CRS PL1's GET ran about 1% slower in V8 (`bench/v8.sh
/// --against`), for the same instructions natively.
const MIN_REMEMBERED_LEN: usize = 64;

/// Slots of the table (a power of two): a request walks a few values this
/// long (bench's 50-argument request, eight).
const SLOTS: usize = 64;

/// Bytes of walked values kept per request: past them, values are walked
/// without being remembered (a request with megabytes of arguments keeps
/// no megabytes of copies). bench's 50-argument request keeps 6 KB.
const MAX_KEPT_BYTES: usize = 32 * 1024;

/// The walks remembered in one request (see the module documentation).
#[derive(Clone, Debug, Default)]
pub(crate) struct Walks {
    /// Empty until the first value long enough is walked.
    slots: Vec<Slot>,
    /// The walked values the slots name, back to back.
    bytes: Vec<u8>,
    /// The marks of the walks that marked any condition, back to back.
    seen: SeenBits,
    /// The request's number, modulo 2^32 (see [`Walks::clear`]).
    request: u32,
}

/// One remembered walk.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// The value's key (see [`key`]).
    key: u64,
    /// The request that filled it: slots of earlier requests are empty.
    request: u32,
    /// Where the value is kept in `Walks::bytes`, and its length.
    start: u32,
    len: u32,
    /// Where its marks start in `Walks::seen`; `None` when it marked
    /// nothing.
    marks: Option<u32>,
}

impl Walks {
    /// Marks in `marks` what a walk of `value` marks, walking it with
    /// `walk` unless the same bytes were walked before in this request.
    pub(super) fn walk(
        &mut self,
        value: &[u8],
        marks: &mut Marks<'_>,
        walk: impl FnOnce(&[u8], &mut Marks<'_>),
    ) {
        if value.len() < MIN_REMEMBERED_LEN {
            walk(value, marks);
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); SLOTS];
        }
        let key = key(value);
        // The low bits of the key mix the length and both ends.
        let at = (key as usize) & (SLOTS - 1);
        let slot = self.slots[at];
        if slot.key == key
            && slot.request == self.request
            && self.kept(slot).is_some_and(|kept| same_bytes(kept, value))
        {
            match slot.marks {
                None => return,
                Some(from) => {
                    let from = from as usize;
                    // Always there (kept with the slot); were it not, the
                    // value is walked.
                    if let Some(words) = self.seen.get(from..from + marks.words) {
                        marks.copy(words);
                        return;
                    }
                }
            }
        }
        walk(value, marks);
        self.remember(at, key, value, marks);
    }

    /// The value a slot names.
    fn kept(&self, slot: Slot) -> Option<&[u8]> {
        let start = slot.start as usize;
        self.bytes.get(start..start + slot.len as usize)
    }

    /// Keeps `value`'s walk in slot `at`, unless the request's budget of
    /// kept bytes is spent.
    fn remember(&mut self, at: usize, key: u64, value: &[u8], marks: &Marks<'_>) {
        if self.bytes.len() + value.len() > MAX_KEPT_BYTES {
            return;
        }
        // Both fit: the bytes are capped above, and so are the marks (at
        // most one scan's words per kept value, each MIN_REMEMBERED_LEN
        // bytes or more).
        let (Ok(start), Ok(len)) = (u32::try_from(self.bytes.len()), u32::try_from(value.len()))
        else {
            return;
        };
        let marked = match marks.marked() {
            Some(words) => match u32::try_from(self.seen.len()) {
                Ok(from) => {
                    // A few words: a loop, not a call to memcpy.
                    self.seen.extend(words.iter().copied());
                    Some(from)
                }
                Err(_) => return,
            },
            None => None,
        };
        self.bytes.extend_from_slice(value);
        self.slots[at] = Slot {
            key,
            request: self.request,
            start,
            len,
            marks: marked,
        };
    }

    /// Forgets every walk for the next request, keeping the storage
    /// (bounded by [`MAX_KEPT_BYTES`] and the marks of as many values).
    /// The slots are emptied by counting the request, not by writing each.
    pub(crate) fn clear(&mut self) {
        self.request = self.request.wrapping_add(1);
        if self.request == 0 {
            // Four billion requests on: a slot filled at the last 0 would
            // pass for this request's.
            self.slots
                .iter_mut()
                .for_each(|slot| *slot = Slot::default());
        }
        self.bytes.clear();
        self.seen.clear();
    }
}

/// `a == b`, eight bytes at a time: in wasm, slice equality calls
/// wasi-libc's `memcmp`, which compares byte by byte (about 2% of a CRS
/// PL1 GET's time in V8 goes there, from other callers).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails = a8.remainder().iter().eq(b8.remainder());
    tails && a8.zip(b8).all(|(x, y)| word(x) == word(y))
}

/// Eight bytes as one word (`bytes` holds eight).
fn word(bytes: &[u8]) -> u64 {
    u64::from_ne_bytes(bytes.try_into().unwrap_or_default())
}

/// The value's length and its first and last eight bytes, mixed: a slot
/// is only a guess, confirmed by comparing the bytes.
fn key(value: &[u8]) -> u64 {
    let first = word(&value[..8]);
    let last = word(&value[value.len() - 8..]);
    let mixed =
        (first ^ last.rotate_left(32) ^ value.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    mixed ^ (mixed >> 29)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::prefilter::Seen;

    /// A stand-in walk: marks condition `byte % 128` for each of the
    /// value's bytes, and counts the walks made.
    fn walk(walks: &mut Walks, value: &[u8], bits: &mut SeenBits, count: &mut usize) -> Seen {
        let mut marks = Marks {
            bits,
            words: 2,
            start: None,
        };
        walks.walk(value, &mut marks, |value, marks| {
            *count += 1;
            for &b in value {
                marks.mark(u32::from(b % 128));
            }
        });
        marks.seen()
    }

    /// `value`, padded past the length below which values are not
    /// remembered.
    fn long(value: &str) -> Vec<u8> {
        format!("{value:-<MIN_REMEMBERED_LEN$}").into_bytes()
    }

    /// The conditions a scan marked, from its words in `bits`.
    fn marked(seen: Seen, bits: &[u64]) -> Vec<u32> {
        (0..128).filter(|&id| seen.may_match(id, bits)).collect()
    }

    #[test]
    fn a_value_walked_again_reads_the_first_walk() {
        let mut walks = Walks::default();
        let (mut bits, mut count) = (SeenBits::new(), 0);
        let uri = &long("/search?q=union+select&page=2")[..];
        let first = walk(&mut walks, uri, &mut bits, &mut count);
        // Another collection's marks, in its own vector.
        let mut other_bits = vec![0; 6];
        let again = walk(&mut walks, uri, &mut other_bits, &mut count);
        assert_eq!(count, 1);
        assert_eq!(marked(again, &other_bits), marked(first, &bits));
        // Marks before it in that vector are not touched.
        assert_eq!(&other_bits[..6], &[0; 6]);
        // A walk that marked nothing is remembered as such.
        let nothing = |walks: &mut Walks, count: &mut usize| {
            let mut bits = SeenBits::new();
            let mut marks = Marks {
                bits: &mut bits,
                words: 2,
                start: None,
            };
            walks.walk(&long("no literal occurs in here"), &mut marks, |_, _| {
                *count += 1
            });
            marks.seen()
        };
        assert_eq!(nothing(&mut walks, &mut count), Seen::Nothing);
        assert_eq!(nothing(&mut walks, &mut count), Seen::Nothing);
        assert_eq!(count, 2);
    }

    #[test]
    fn values_sharing_a_slot_are_each_walked() {
        let mut walks = Walks::default();
        let (mut bits, mut count) = (SeenBits::new(), 0);
        // The same length and the same first and last eight bytes: the
        // same key, told apart by their bytes.
        let (a, b) = (&long("prefix--AAAAAAAA")[..], &long("prefix--BBBBBBBB")[..]);
        assert_eq!(key(a), key(b));
        let seen_a = walk(&mut walks, a, &mut bits, &mut count);
        let seen_b = walk(&mut walks, b, &mut bits, &mut count);
        assert_eq!(count, 2);
        assert!(marked(seen_b, &bits).contains(&u32::from(b'B')));
        assert!(!marked(seen_a, &bits).contains(&u32::from(b'B')));
        // b took the slot: a is walked again, and its marks are its own.
        let again = walk(&mut walks, a, &mut bits, &mut count);
        assert_eq!(count, 3);
        assert_eq!(marked(again, &bits), marked(seen_a, &bits));
    }

    #[test]
    fn a_new_request_walks_every_value_again() {
        let mut walks = Walks::default();
        let (mut bits, mut count) = (SeenBits::new(), 0);
        let value = &long("text/html,application/xhtml+xml")[..];
        walk(&mut walks, value, &mut bits, &mut count);
        walks.clear();
        bits.clear();
        let seen = walk(&mut walks, value, &mut bits, &mut count);
        assert_eq!(count, 2);
        assert!(marked(seen, &bits).contains(&u32::from(b'x')));
    }

    /// A slot filled in an earlier request names bytes and marks that
    /// this request's may have overwritten, here with a value that starts
    /// like the old one and marked another condition.
    #[test]
    fn same_bytes_is_slice_equality() {
        let values: [&[u8]; 7] = [
            b"",
            b"abc",
            b"abd",
            b"0123456789abcdef",
            b"0123456789abcdeg",
            b"1123456789abcdef",
            b"0123456789abcdef0",
        ];
        for a in values {
            for b in values {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn a_slot_of_an_earlier_request_is_not_read() {
        let mut walks = Walks::default();
        let mut bits = SeenBits::new();
        let scan = |walks: &mut Walks, bits: &mut SeenBits, value: &[u8], id: Option<u32>| {
            let mut marks = Marks {
                bits,
                words: 2,
                start: None,
            };
            let mut walked = false;
            walks.walk(value, &mut marks, |_, marks| {
                walked = true;
                if let Some(id) = id {
                    marks.mark(id);
                }
            });
            (marks.seen(), walked)
        };
        let old = &long("cat /etc/passwd; echo")[..];
        scan(&mut walks, &mut bits, old, Some(5));
        walks.clear();
        bits.clear();
        let newer = [old, b" and more"].concat();
        let (_, walked) = scan(&mut walks, &mut bits, &newer, Some(9));
        assert!(walked);
        let (seen, walked) = scan(&mut walks, &mut bits, old, Some(7));
        assert!(walked);
        assert_eq!(marked(seen, &bits), vec![7]);
    }

    #[test]
    fn short_values_and_values_past_the_budget_are_walked_each_time() {
        let mut walks = Walks::default();
        let (mut bits, mut count) = (SeenBits::new(), 0);
        let short = &long("select")[..MIN_REMEMBERED_LEN - 1];
        walk(&mut walks, short, &mut bits, &mut count);
        walk(&mut walks, short, &mut bits, &mut count);
        assert_eq!(count, 2);
        // Distinct values of 100 bytes until the budget keeps no more,
        // then another.
        let mut n = 0u32;
        loop {
            let kept = walks.bytes.len();
            let value = format!("{n:0>100}");
            walk(&mut walks, value.as_bytes(), &mut bits, &mut count);
            n += 1;
            if walks.bytes.len() == kept {
                break;
            }
        }
        let late = format!("{:-<100}", "a value past the budget of kept bytes");
        let late = late.as_bytes();
        let before = count;
        let first = walk(&mut walks, late, &mut bits, &mut count);
        let second = walk(&mut walks, late, &mut bits, &mut count);
        assert_eq!(count, before + 2);
        assert_eq!(marked(first, &bits), marked(second, &bits));
        assert!(walks.bytes.len() <= MAX_KEPT_BYTES);
    }
}
