//! The engine's one fast hasher, for maps whose keys are not attacker-chosen.

use std::hash::{BuildHasherDefault, Hasher};

/// Hasher for maps an attacker cannot insert into: fixed vocabularies
/// looked up with request words (the SQL detector's keywords). With std's
/// SipHash, hashing was most of a keyword lookup (perf, bench/).
/// A keyed hasher protects maps whose keys an attacker chooses (the TX
/// variables, whose names can come from the request: see
/// [`crate::tx_vars`]); these only ever hold keys we chose, so a
/// multiply-rotate mix is enough to spread them.
pub(crate) type FastKeys = BuildHasherDefault<KeyHasher>;

#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn mix(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(Self::K);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
