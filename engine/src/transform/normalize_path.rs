//! `t:normalizePath`: resolves `.` and `..` segments and collapses repeated
//! slashes, so `/a/./b/../../etc//passwd` reads `/etc/passwd`. An absolute
//! path cannot climb above `/`; a relative one keeps its leading `..`.
//! A trailing slash is kept. Output is never longer than the input.

/// Appends the value after this transform to `out` and returns `true`, or
/// returns `false` and leaves `out` as it was when the value is unchanged.
pub fn apply_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    normalize(input, false, out)
}

/// Shared with normalizePathWin, which first reads `\` as `/`. Appends the
/// normalized path to `out` and returns `true`, or returns `false` and
/// leaves `out` as it was when the path is already normal.
pub fn normalize(input: &[u8], backslash: bool, out: &mut Vec<u8>) -> bool {
    !is_normal(input, backslash) && walk(input, backslash, out)
}

/// [`normalize`] segment by segment.
fn walk(input: &[u8], backslash: bool, out: &mut Vec<u8>) -> bool {
    let is_sep = |b: u8| b == b'/' || (backslash && b == b'\\');
    let absolute = input.first().is_some_and(|&b| is_sep(b));
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut trailing = false;
    for seg in input.split(|&b| is_sep(b)) {
        trailing = false;
        match seg {
            b"" => trailing = true,
            b"." => trailing = true,
            b".." => {
                if stack.last().is_some_and(|s| *s != b"..") {
                    stack.pop();
                    trailing = true;
                } else if !absolute {
                    // A `..` kept as a segment is not a trailing slash:
                    // `..` stays `..` (it became `../`, longer than the
                    // input, against the bound; found by fuzz/transforms).
                    stack.push(seg);
                } else {
                    trailing = true;
                }
            }
            _ => stack.push(seg),
        }
    }
    // Written out, then taken back if it came out the same as the input.
    let start = out.len();
    out.reserve(input.len());
    if absolute {
        out.push(b'/');
    }
    for (i, seg) in stack.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(seg);
    }
    if trailing && !stack.is_empty() {
        out.push(b'/');
    }
    if out[start..] == *input {
        out.truncate(start);
        false
    } else {
        true
    }
}

/// Is `input` a path the transform leaves as it is? With no two separators
/// in a row and no `.` next to one, every segment but a leading or trailing
/// empty one is a plain name, kept in order; normalizePathWin also writes
/// each `\` as `/`. Asked first, so that a value holding a `/` in prose
/// (`blue / large`) is not split into a vector of segments and written out
/// again to learn that it came out the same.
fn is_normal(input: &[u8], backslash: bool) -> bool {
    input != b"."
        && input != b".."
        && !(backslash && input.contains(&b'\\'))
        && memchr::memchr_iter(b'/', input).all(|at| {
            !matches!(input.get(at + 1), Some(b'/' | b'.'))
                && input.get(at.wrapping_sub(1)) != Some(&b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform;

    /// Every path of up to six bytes of `/`, `\`, `.` and `a` that the
    /// quick test calls normal comes out of the whole walk unchanged.
    #[test]
    fn paths_called_normal_are_left_as_they_are() {
        const BYTES: [u8; 4] = [b'/', b'\\', b'.', b'a'];
        let mut normal = 0;
        for len in 0..=6u32 {
            for code in 0..4usize.pow(len) {
                let input: Vec<u8> = (0..len).map(|k| BYTES[code / 4usize.pow(k) % 4]).collect();
                for backslash in [false, true] {
                    if is_normal(&input, backslash) {
                        normal += 1;
                        let mut out = Vec::new();
                        assert!(
                            !walk(&input, backslash, &mut out),
                            "{:?} changed to {:?}",
                            String::from_utf8_lossy(&input),
                            String::from_utf8_lossy(&out)
                        );
                    }
                }
            }
        }
        assert!(normal > 1000, "{normal}");
    }

    #[test]
    fn kept_dotdot_gets_no_trailing_slash() {
        let apply = |input| Transform::NormalizePath.apply(input);
        assert_eq!(apply(b"..").as_ref(), b"..");
        assert_eq!(apply(b"../..").as_ref(), b"../..");
        assert_eq!(apply(b"../a/..").as_ref(), b"../");
        assert_eq!(apply(b"/a/..").as_ref(), b"/");
        assert_eq!(apply(b"a/b/..").as_ref(), b"a/");
    }
}
