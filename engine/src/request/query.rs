//! `application/x-www-form-urlencoded` argument parsing, shared by the query
//! string and urlencoded bodies. STUB: to be implemented.

use super::Arg;

/// Splits `a=1&b=2&a=3` into decoded arguments, keeping order and repeats.
pub fn parse(input: &[u8]) -> Vec<Arg> {
    let _ = input;
    Vec::new()
}
