//! `t:removeCommentsChar`: removes the comment markers `/*`, `*/`, `<!--`,
//! `-->`, `--` and `#` themselves, keeping what they enclose. The HTML markers
//! are ModSecurity v3's too (without them `<!--` left `<!` behind). Output is
//! never longer than the input.

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let marker = |rest: &[u8]| -> usize {
        if rest.starts_with(b"<!--") {
            4
        } else if rest.starts_with(b"-->") {
            3
        } else if rest.starts_with(b"/*") || rest.starts_with(b"*/") || rest.starts_with(b"--") {
            2
        } else if rest.first() == Some(&b'#') {
            1
        } else {
            0
        }
    };
    if !(0..input.len()).any(|i| marker(&input[i..]) > 0) {
        return false;
    }
    out.reserve(input.len());
    let mut i = 0;
    while i < input.len() {
        match marker(&input[i..]) {
            0 => {
                out.push(input[i]);
                i += 1;
            }
            n => i += n,
        }
    }
    true
}
