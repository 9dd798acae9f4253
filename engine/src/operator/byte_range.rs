//! `@validateByteRange`: matches when a value holds a byte outside the
//! allowed ranges (`"1-255"` forbids NUL; `"9,10,13,32-126"` printable ASCII).
//! A 256-bit set makes the check one lookup per byte.

use super::OpMatch;

/// The allowed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteRanges {
    allowed: [u64; 4],
}

impl ByteRanges {
    /// Parses a comma-separated list of bytes and `lo-hi` ranges (0..=255).
    ///
    /// # Errors
    /// A message naming the malformed entry.
    pub fn parse(spec: &str) -> Result<ByteRanges, String> {
        let mut allowed = [0u64; 4];
        let mut any = false;
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let byte = |s: &str| -> Result<u8, String> {
                s.trim()
                    .parse::<u8>()
                    .map_err(|_| format!("`{entry}`: `{}` is not a byte value (0-255)", s.trim()))
            };
            let (lo, hi) = match entry.split_once('-') {
                Some((lo, hi)) => (byte(lo)?, byte(hi)?),
                None => (byte(entry)?, byte(entry)?),
            };
            if lo > hi {
                return Err(format!("`{entry}`: range start is above its end"));
            }
            for b in lo..=hi {
                allowed[usize::from(b >> 6)] |= 1 << (b & 63);
            }
            any = true;
        }
        if !any {
            return Err("no byte ranges given".to_string());
        }
        Ok(ByteRanges { allowed })
    }

    fn allows(&self, b: u8) -> bool {
        self.allowed[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    /// The first byte outside the ranges, if any.
    pub fn find_outside(&self, value: &[u8]) -> Option<OpMatch> {
        value
            .iter()
            .position(|&b| !self.allows(b))
            .map(|i| OpMatch::at(i, i + 1))
    }
}
