//! `t:normalizePath`: resolves `.` and `..` segments and collapses repeated
//! slashes, so `/a/./b/../../etc//passwd` reads `/etc/passwd`. An absolute
//! path cannot climb above `/`; a relative one keeps its leading `..`.
//! A trailing slash is kept. Output is never longer than the input.

use std::borrow::Cow;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    normalize(input, false)
}

/// Shared with normalizePathWin, which first reads `\` as `/`.
pub fn normalize(input: &[u8], backslash: bool) -> Cow<'_, [u8]> {
    let is_sep = |b: u8| b == b'/' || (backslash && b == b'\\');
    if !input.iter().any(|&b| is_sep(b)) && input != b"." && input != b".." {
        return Cow::Borrowed(input);
    }
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
    let mut out = Vec::with_capacity(input.len());
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
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_dotdot_gets_no_trailing_slash() {
        assert_eq!(apply(b"..").as_ref(), b"..");
        assert_eq!(apply(b"../..").as_ref(), b"../..");
        assert_eq!(apply(b"../a/..").as_ref(), b"../");
        assert_eq!(apply(b"/a/..").as_ref(), b"/");
        assert_eq!(apply(b"a/b/..").as_ref(), b"a/");
    }
}
