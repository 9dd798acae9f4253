//! `@eq`, `@gt`, `@ge`, `@lt`, `@le`: integer comparisons, used on counters
//! and sizes (`&ARGS`, `TX:ANOMALY_SCORE`, `REQUEST_HEADERS:Content-Length`).
//!
//! ModSecurity semantics followed: the value is read as `std::stoi` / `atoi`
//! read it: leading C whitespace (space, `\t`, `\n`, `\v`, `\f`, `\r`)
//! skipped, an optional `+` or `-`, then decimal digits up to the first
//! non-digit (`"12abc"` is 12). A value with no digits reads as 0, so `@eq 0`
//! matches `""` and `"abc"`, as in ModSecurity.
//!
//! Limits: numbers are `i64` and saturate at its bounds, so a huge value
//! still compares as huge. ModSecurity v3 uses a 32-bit `int` and reads an
//! out-of-range value as 0, which would let `99999999999` pass an `@gt`
//! check; saturating is the safe reading.

use super::OpMatch;

/// Which comparison: `value <cmp> parameter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Compares the value, read as an integer, against `n`. The match covers the
/// whole value (there is no meaningful sub-span).
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

/// Reads a leading integer the way C's `atoi` does, saturating at the `i64`
/// bounds instead of overflowing. Never fails: no digits reads as 0.
pub fn parse_int(value: &[u8]) -> i64 {
    let is_c_space = |b: &&u8| matches!(**b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let mut rest = value.iter().skip_while(is_c_space).peekable();
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
    // Accumulate towards the sign so i64::MIN itself is reachable.
    let mut n: i64 = 0;
    for d in rest
        .take_while(|b| b.is_ascii_digit())
        .map(|b| i64::from(b - b'0'))
    {
        n = n.saturating_mul(10);
        n = if negative {
            n.saturating_sub(d)
        } else {
            n.saturating_add(d)
        };
    }
    n
}
