//! `Cookie` header parsing. STUB: to be implemented.

use super::Arg;

/// Splits `a=1; b=2` into cookies, keeping order and repeats.
pub fn parse(header: &[u8]) -> Vec<Arg> {
    let _ = header;
    Vec::new()
}
