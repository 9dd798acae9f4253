//! `t:trim`: removes leading and trailing whitespace (space, tab, CR, LF,
//! VT, FF). Output is never longer than the input.

fn is_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let start = input
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    let trimmed = &input[start..end.max(start)];
    // A changed value must be written out and reported (`true`, `Owned`
    // from `Transform::apply`): `apply_chain` and multiMatch keep a step's
    // result only when it is reported changed (the module contract), so
    // handing back a Borrowed sub-slice made `t:trim` a silent no-op in
    // every chain. Found by the `transforms` fuzz target.
    if trimmed.len() == input.len() {
        return false;
    }
    out.extend_from_slice(trimmed);
    true
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::transform::{apply_chain, Transform};

    #[test]
    fn trimmed_value_is_owned_so_chains_keep_it() {
        assert!(matches!(Transform::Trim.apply(b" a "), Cow::Owned(ref v) if v == b"a"));
        assert!(matches!(Transform::Trim.apply(b"a"), Cow::Borrowed(b"a")));
        assert_eq!(apply_chain(&[Transform::Trim], b"\x0c x \t").as_ref(), b"x");
        assert_eq!(
            apply_chain(&[Transform::Trim, Transform::Trim], b"\x0c\x05\x82").as_ref(),
            b"\x05\x82"
        );
    }
}
