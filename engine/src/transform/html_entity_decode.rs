//! `t:htmlEntityDecode`: `&#DDD;`, `&#xHH;` (the `;` optional, as browsers
//! accept it) and `&quot; &amp; &lt; &gt; &nbsp; &apos;`. A numeric entity
//! becomes one byte (its low byte, as ModSecurity does). Unknown or malformed
//! entities are left as written. Output is never longer than the input.

use crate::request::query::hex_value;

const NAMED: &[(&[u8], u8)] = &[
    (b"quot", b'"'),
    (b"amp", b'&'),
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"nbsp", 0xa0),
    (b"apos", b'\''),
];

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    if !input.contains(&b'&') {
        return false;
    }
    // Written as it is read; if no `&` began an entity, the copy is taken
    // back out.
    let start = out.len();
    out.reserve(input.len());
    let mut i = 0;
    let mut changed = false;
    while i < input.len() {
        if input[i] == b'&' {
            if let Some((byte, used)) = entity(&input[i + 1..]) {
                out.push(byte);
                i += 1 + used;
                changed = true;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    if !changed {
        out.truncate(start);
    }
    changed
}

/// Decodes the entity after `&`; returns the byte and how many bytes it used.
fn entity(rest: &[u8]) -> Option<(u8, usize)> {
    let semicolon = |at: usize| usize::from(rest.get(at) == Some(&b';'));
    if rest.first() == Some(&b'#') {
        let (hex, start) = match rest.get(1) {
            Some(b'x' | b'X') => (true, 2),
            _ => (false, 1),
        };
        let mut value: u32 = 0;
        let mut end = start;
        while let Some(&b) = rest.get(end) {
            let digit = if hex {
                hex_value(b)
            } else {
                b.is_ascii_digit().then(|| b - b'0')
            };
            let Some(d) = digit else { break };
            value = value
                .saturating_mul(if hex { 16 } else { 10 })
                .saturating_add(u32::from(d));
            end += 1;
        }
        if end == start {
            return None;
        }
        return Some(((value & 0xFF) as u8, end + semicolon(end)));
    }
    NAMED.iter().find_map(|(name, byte)| {
        let candidate = rest.get(..name.len())?;
        candidate
            .eq_ignore_ascii_case(name)
            .then(|| (*byte, name.len() + semicolon(name.len())))
    })
}
