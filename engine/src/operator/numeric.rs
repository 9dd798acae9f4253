//! `@eq`, `@gt`, `@ge`, `@lt`, `@le`: integer comparisons. The value is read
//! the way ModSecurity reads it: leading whitespace, an optional sign, then
//! digits up to the first non-digit; no digits at all reads as 0.

use super::OpMatch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Compares the value (as an integer) against `n`.
pub fn compare(cmp: Comparison, value: &[u8], n: i64) -> Option<OpMatch> {
    let v = parse_int(value);
    let hit = match cmp {
        Comparison::Eq => v == n,
        Comparison::Gt => v > n,
        Comparison::Ge => v >= n,
        Comparison::Lt => v < n,
        Comparison::Le => v <= n,
    };
    hit.then(OpMatch::whole)
}

/// Saturating integer parse; never fails.
pub fn parse_int(value: &[u8]) -> i64 {
    let mut rest = value
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .peekable();
    let negative = match rest.peek() {
        Some(b'-') => {
            rest.next();
            true
        }
        Some(b'+') => {
            rest.next();
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    for b in rest.take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -n
    } else {
        n
    }
}
