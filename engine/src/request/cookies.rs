//! `Cookie` header parsing. Values are kept raw (no percent-decoding), as
//! ModSecurity v3 does; rules decode with transforms when they need to.

use super::Arg;

/// Splits `a=1; b=2` into cookies, keeping order and repeats. A piece
/// without `=` is a name with an empty value; empty pieces are skipped.
pub fn parse(header: &[u8]) -> Vec<Arg> {
    header
        .split(|&b| b == b';')
        .map(trim)
        .filter(|p| !p.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(i) => Arg::new(trim(&piece[..i]), &piece[i + 1..]),
            None => Arg::new(piece, &b""[..]),
        })
        .collect()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}
