//! `@validateByteRange`: matches when a value holds a byte outside the
//! allowed set. CRS uses it to refuse NUL (`"1-255"`), or everything but
//! printable ASCII in headers (`"9,10,13,32-126"`).
//!
//! ModSecurity semantics followed: the parameter is a comma-separated list of
//! byte values and inclusive `lo-hi` ranges, spaces around numbers allowed;
//! the operator *matches* (flags the value) when any byte is not allowed. The
//! span is the first offending byte. An empty value has no offending byte and
//! does not match.
//!
//! Difference: ModSecurity v3 ignores a malformed entry at load time and
//! carries on with a partial set (silently forbidding more than intended);
//! here every entry must be a value in 0..=255 or a range with start <= end,
//! and an empty list or empty entry (`"1,,2"`) is an error naming it.
//!
//! The allowed set is a 256-bit bitmap, so the scan is one lookup per byte.

use super::OpMatch;

/// The allowed bytes, one bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteRanges {
    allowed: [u64; 4],
}

impl ByteRanges {
    /// Parses a list such as `"1-255"` or `"9, 10, 13, 32-126"`.
    ///
    /// # Errors
    /// A message quoting the malformed entry: not a number, outside 0..=255,
    /// a range whose start is above its end, an empty entry, or no entries.
    pub fn parse(spec: &str) -> Result<ByteRanges, String> {
        if spec.trim().is_empty() {
            return Err("no byte ranges given".to_string());
        }
        let mut allowed = [0u64; 4];
        for raw in spec.split(',') {
            let entry = raw.trim();
            if entry.is_empty() {
                return Err(format!("empty entry in byte range list `{spec}`"));
            }
            let (lo, hi) = match entry.split_once('-') {
                Some((lo, hi)) => (byte(entry, lo)?, byte(entry, hi)?),
                None => {
                    let b = byte(entry, entry)?;
                    (b, b)
                }
            };
            if lo > hi {
                return Err(format!("range `{entry}`: start {lo} is above end {hi}"));
            }
            for b in lo..=hi {
                allowed[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        Ok(ByteRanges { allowed })
    }

    /// The bytes outside the ranges: a value holding none passes.
    pub(crate) fn outside(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=u8::MAX).filter(|&b| !self.allows(b))
    }

    fn allows(&self, b: u8) -> bool {
        self.allowed[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    /// The first byte not in the allowed set, if any.
    pub fn find_outside(&self, value: &[u8]) -> Option<OpMatch> {
        value
            .iter()
            .position(|&b| !self.allows(b))
            .map(|i| OpMatch::at(i, i + 1))
    }
}

/// One end of an entry: decimal digits only (no sign), 0..=255.
fn byte(entry: &str, text: &str) -> Result<u8, String> {
    let text = text.trim();
    let quoted = if text == entry {
        format!("`{text}`")
    } else {
        format!("`{entry}`: `{text}`")
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{quoted} is not a byte value (0-255)"));
    }
    text.parse::<u8>()
        .map_err(|_| format!("{quoted} is out of range (0-255)"))
}
