//! `t:cmdLine`: undoes shell obfuscation the way ModSecurity does: deletes
//! `\ " ' ^`, deletes spaces before `/` and `(`, turns `,` `;` and whitespace
//! runs into one space, lowercases. `c^at /e"t"c/pa\sswd` reads
//! `cat/etc/passwd`. Output is never longer than the input.

use std::borrow::Cow;

pub fn apply(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len());
    let mut pending_space = false;
    for &b in input {
        match b {
            b'\\' | b'"' | b'\'' | b'^' => {}
            b' ' | b'\t' | b'\r' | b'\n' | b',' | b';' => pending_space = true,
            b'/' | b'(' => {
                pending_space = false;
                out.push(b);
            }
            _ => {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(b.to_ascii_lowercase());
            }
        }
    }
    if pending_space {
        out.push(b' ');
    }
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}
