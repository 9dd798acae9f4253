//! `@rx`: regular expressions on regex-automata's meta engine, in byte mode.
//!
//! Byte mode (no Unicode classes, `.` matches any byte including newline,
//! matches may split UTF-8 sequences) is what ModSecurity rules assume: they
//! write raw bytes as `\xHH` and must see through invalid UTF-8. The engine
//! is linear in the input (no backtracking), so no pattern can be turned
//! into a ReDoS. The lazy DFA's cache per regex is capped
//! ([`LAZY_DFA_CACHE_BYTES`]); past it the engine falls back to slower but
//! still linear simulation instead of growing memory.

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;

use super::OpMatch;

/// Cap on each regex's lazy DFA cache.
pub const LAZY_DFA_CACHE_BYTES: usize = 2 * 1024 * 1024;

/// A compiled `@rx`.
#[derive(Clone, Debug)]
pub struct Rx {
    regex: Regex,
}

impl Rx {
    /// Compiles `pattern`, rewriting `\x{HH}` to `\xHH` first (SecLang writes
    /// single bytes that way; in byte mode `\x{..}` would mean a code point).
    ///
    /// # Errors
    /// The regex parser's message when the pattern does not compile.
    pub fn new(pattern: &str) -> Result<Rx, String> {
        let pattern = rewrite_byte_escapes(pattern);
        let regex = Regex::builder()
            .syntax(
                syntax::Config::new()
                    .unicode(false)
                    .utf8(false)
                    .dot_matches_new_line(true),
            )
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .hybrid_cache_capacity(LAZY_DFA_CACHE_BYTES),
            )
            .build(&pattern)
            .map_err(|e| format!("regex does not compile: {e}"))?;
        Ok(Rx { regex })
    }

    /// The leftmost match, if any.
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        self.regex
            .find(value)
            .map(|m| OpMatch::at(m.start(), m.end()))
    }
}

/// `\x{e4}` → `\xe4` for one- and two-digit escapes; wider ones are left for
/// the parser to reject or accept as it sees fit.
fn rewrite_byte_escapes(pattern: &str) -> String {
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            // Keep escaped backslashes together so `\\x{41}` is not rewritten.
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push_str("\\\\");
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'x') && bytes.get(i + 2) == Some(&b'{') {
                if let Some(close) = bytes[i + 3..].iter().position(|&b| b == b'}') {
                    let digits = &pattern[i + 3..i + 3 + close];
                    if (1..=2).contains(&digits.len())
                        && digits.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        out.push_str("\\x");
                        if digits.len() == 1 {
                            out.push('0');
                        }
                        out.push_str(digits);
                        i += 3 + close + 1;
                        continue;
                    }
                }
            }
        }
        let ch_len = pattern[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&pattern[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::rewrite_byte_escapes;

    #[test]
    fn rewrites_only_byte_escapes() {
        assert_eq!(rewrite_byte_escapes(r"a\x{e4}b"), r"a\xe4b");
        assert_eq!(rewrite_byte_escapes(r"\x{9}"), r"\x09");
        assert_eq!(rewrite_byte_escapes(r"\\x{41}"), r"\\x{41}");
        assert_eq!(rewrite_byte_escapes(r"\x{1F600}"), r"\x{1F600}");
        assert_eq!(rewrite_byte_escapes("ü\\x{41"), "ü\\x{41");
    }
}
