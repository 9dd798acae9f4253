//! `@rx`: regular expressions on regex-automata's meta engine, in byte mode.
//!
//! Why byte mode: ModSecurity rules (and OWASP CRS in particular) are written
//! against raw bytes. They spell single bytes as `\xHH` or `\x{HH}`, expect
//! `.` to cross newlines, and must keep matching when a value holds invalid
//! UTF-8 (an evasion favourite). So the syntax is configured with Unicode off
//! (`\w`, `\d`, `(?i)` are ASCII-only), UTF-8 off (a match may start or end
//! inside a multi-byte sequence) and `s` on, and empty matches may split a
//! code point (`utf8_empty(false)`).
//!
//! ModSecurity semantics followed: the pattern is searched for anywhere in the
//! value (unanchored, like PCRE without `^`); the reported span is the
//! leftmost match. `\x{HH}` with a value up to `FF` is rewritten to `\xHH`
//! before compiling: in byte mode regex-syntax reads `\x{e4}` as the code
//! point U+00E4 (which it rejects with Unicode off) while CRS means the byte.
//!
//! Why regex-automata: every search is linear in the value. The meta engine
//! picks a lazy DFA, a one-pass DFA, a bounded backtracker (whose visited set
//! keeps it linear) or a PikeVM; none can be pushed into exponential time, so
//! a hostile value cannot turn a rule into a ReDoS.
//!
//! Limits:
//! - the lazy DFA's transition cache is capped per regex at
//!   [`LAZY_DFA_CACHE_BYTES`]. The cache grows only as a search discovers new
//!   states; when it fills, it is cleared and, if that keeps happening, the
//!   search falls back to the (slower, still linear) PikeVM. Memory stays
//!   bounded whatever the input.
//! - no PCRE-only features: backreferences, look-around (other than `^`,
//!   `$`, `\b`, `\B`), possessive quantifiers and atomic groups do not compile.
//!   The error says so and names the offset in the pattern as written.
//! - the compiled NFA is limited by regex-automata's default size limit, so a
//!   pathological pattern fails at load time rather than exhausting memory.

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};

use super::required_bytes::{required_bytes, RequiredBytes};
use super::OpMatch;

/// Cap on each regex's lazy DFA cache (2 MiB, regex-automata's own default,
/// stated here so the figure is ours and documented). Large enough that the
/// lazy DFA rarely clears on CRS-sized patterns; small enough that a few
/// hundred rules stay within a proxy-wasm VM's memory.
pub const LAZY_DFA_CACHE_BYTES: usize = 2 * 1024 * 1024;

/// How much of the pattern to quote either side of a syntax error.
const ERROR_CONTEXT_CHARS: usize = 16;

/// A regex whose necessary literals number more than this gets no entry in
/// the engine's cross-rule prefilter: the literals would cost more automaton
/// memory than skipping its runs saves. At 64, CRS had 186 of its 318
/// regexes behind the prefilter in 402 KB of automata; at 256, 197 in
/// 633 KB, and its JSON mix ran 3% fewer instructions (callgrind).
const MAX_REQUIRED_LITERALS: usize = 256;

/// A compiled `@rx`.
#[derive(Clone, Debug)]
pub struct Rx {
    regex: Regex,
    /// Lowercased literals of which every match starts (or ends) with one (see
    /// [`Rx::take_required_literals`]); taken by the engine when it builds
    /// its prefilter.
    required_literals: Option<Vec<Vec<u8>>>,
    /// The pattern as compiled (`\x{HH}` rewritten), until the engine takes
    /// it for a chain's regex set (see [`crate::prefilter`]).
    source: Option<String>,
    /// Bytes every match holds one of: a value with none is no match,
    /// known without starting the regex engine (see
    /// [`super::required_bytes`]).
    required_bytes: Option<RequiredBytes>,
    /// Bytes in the shortest match, where the pattern parses.
    shortest_match: Option<usize>,
}

impl Rx {
    /// Compiles `pattern` in byte mode, rewriting `\x{HH}` to `\xHH` first.
    ///
    /// # Errors
    /// A message holding the regex parser's reason and, for syntax errors, the
    /// byte offset in `pattern` (as written, before the rewrite) with a short
    /// excerpt around it; or the reason the NFA could not be built (size
    /// limit).
    pub fn new(pattern: &str) -> Result<Rx, String> {
        let rewritten = rewrite_byte_escapes(pattern);
        let syntax = syntax_config();
        let regex = Regex::builder()
            .syntax(syntax)
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .hybrid_cache_capacity(LAZY_DFA_CACHE_BYTES),
            )
            .build(&rewritten.text)
            .map_err(|e| describe_error(pattern, &rewritten, &e))?;
        // The pattern compiled, so it parses; a parse failure here would
        // only mean no prefilter entry.
        let hir = syntax::parse_with(&rewritten.text, &syntax).ok();
        let required_literals = hir.as_ref().and_then(required_literals);
        let required_bytes = hir.as_ref().and_then(required_bytes);
        let shortest_match = hir.as_ref().and_then(|h| h.properties().minimum_len());
        // A pattern that can match the empty string matches every value,
        // at every position: in a set it would only slow the scan down.
        let source = hir
            .filter(|_| shortest_match != Some(0))
            .map(|_| rewritten.text);
        Ok(Rx {
            regex,
            required_literals,
            source,
            required_bytes,
            shortest_match,
        })
    }

    /// Lowercased literals such that every match of this regex starts (or
    /// ends, or failing both, holds) one of them (ASCII case aside): a
    /// value holding none of them, in any case, cannot match. `None` when
    /// no such short set exists (the regex can match the empty string,
    /// some match needs no literal or only a common byte, or the set needs
    /// more than 256 alternatives). The engine takes them
    /// once, to build one automaton per transform chain for all rules; later
    /// calls return `None`.
    pub fn take_required_literals(&mut self) -> Option<Vec<Vec<u8>>> {
        self.required_literals.take()
    }

    /// The pattern in the syntax [`syntax_config`] parses (`\x{HH}`
    /// rewritten), for the engine's per-chain regex set; `None` for a
    /// pattern that can match the empty string, and on later calls.
    pub fn take_source(&mut self) -> Option<String> {
        self.source.take()
    }

    /// Heap bytes of the compiled automata (NFA, one-pass / lazy DFA
    /// caches as allocated so far), for `palisade compile`'s summary.
    pub fn memory_usage(&self) -> usize {
        self.regex.memory_usage()
    }

    /// The length of the shortest match, in bytes, if the pattern has a
    /// match at all.
    pub(crate) fn shortest_match(&self) -> Option<usize> {
        self.shortest_match
    }

    /// Bytes every match holds one of, if the regex has such a set (see
    /// [`super::required_bytes`]).
    pub(crate) fn required_bytes(&self) -> Option<&RequiredBytes> {
        self.required_bytes.as_ref()
    }

    /// The leftmost match anywhere in `value`, if any.
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        if self
            .required_bytes
            .as_ref()
            .is_some_and(|set| !set.found_in(value))
        {
            return None;
        }
        self.regex
            .find(value)
            .map(|m| OpMatch::at(m.start(), m.end()))
    }

    /// Spans of groups 0 to 9 of the leftmost match, for SecLang's
    /// `capture` (`TX:0`..`TX:9`). Slower than [`Rx::find`] (it runs a
    /// capture-aware engine), so it is only called once a rule has matched.
    pub fn captures(&self, value: &[u8]) -> Vec<Option<(usize, usize)>> {
        let mut caps = self.regex.create_captures();
        self.regex.captures(value, &mut caps);
        if !caps.is_match() {
            return Vec::new();
        }
        (0..10)
            .map(|i| caps.get_group(i).map(|s| (s.start, s.end)))
            .collect()
    }
}

/// Literals of which every match starts with one, or failing that, ends
/// with one: regex-syntax's prefix (else suffix) literals, when the set is
/// finite and none is empty, lowercased (the engine's automaton ignores
/// ASCII case, which only widens what passes) and reduced to the shortest: a
/// value holding `ab` passes for `abc` too, so `abc` adds nothing. Inexact
/// literals (cut short by the extractor's limits) are still prefixes (or
/// suffixes) of every match, so still necessary: either way, a value holding
/// none of them cannot match. A set that would not screen ([`screens`]: one
/// holding `e`, say) counts as none, and the next kind is tried.
///
/// The regex is case-folded first ([`fold_case`]): `(?i)select` is the
/// class sequence `[Ss][Ee]…`, whose 2^6 spellings blow the extractor's
/// limits, while the automaton needs only `select`. With both, CRS regexes
/// behind the prefilter went from 171 to 186 of 318 (197 with the larger
/// [`MAX_REQUIRED_LITERALS`]).
///
/// Failing both, literals one of which every match holds anywhere
/// ([`inner_literals`]).
fn required_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let folded = fold_case(hir);
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .find_map(|kind| shortest_literals(&Extractor::new().kind(kind).extract(&folded)))
        .or_else(|| inner_literals(&folded).and_then(fewest_literals))
}

/// Literals one of which every match of `hir` holds, somewhere: a literal
/// itself; any branch's for an alternation; for a sequence, the best of
/// its parts' (the longest shortest literal, then the fewest). CRS's SQL
/// regexes 942190 and 942360 have no short prefix or suffix set, since
/// some branches open and close with classes (`[\s\x0b]*?exec`,
/// `["'`]...`), yet every branch needs a word; under CRS PL1 each was run
/// on every argument of a JSON body. `None` where some match may hold no
/// literal (an optional part, a large class, an anchor).
fn inner_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(vec![literal.0.to_vec()]),
        HirKind::Class(class) => small_class(class),
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Capture(capture) => inner_literals(&capture.sub),
        HirKind::Repetition(rep) if rep.min > 0 => inner_literals(&rep.sub),
        HirKind::Repetition(_) => None,
        HirKind::Alternation(branches) => every_branch(branches, inner_literals),
        HirKind::Concat(parts) => {
            // Runs of parts with a small finite language are crossed
            // first: `de(?:lete|sc)` needs `delete` or `desc`, where its
            // parts alone give `de`, or `lete` or `sc`.
            let mut sets = Vec::new();
            let mut run: Option<Vec<Vec<u8>>> = None;
            for part in parts {
                match (exact(part), run.take()) {
                    (Some(strings), None) => run = Some(strings),
                    (Some(strings), Some(before)) => {
                        run = cross(&before, &strings).or_else(|| {
                            sets.push(before);
                            Some(strings)
                        });
                    }
                    (None, before) => {
                        sets.extend(before);
                        sets.extend(inner_literals(part));
                    }
                }
            }
            sets.extend(run);
            sets.into_iter().max_by_key(|set| {
                let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
                (shortest, std::cmp::Reverse(set.len()))
            })
        }
    }
}

/// Every string `hir` can match, when they are few: literals, small
/// classes, and alternations and sequences of them. Zero-width assertions
/// match the empty string (they consume nothing).
fn exact(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(vec![literal.0.to_vec()]),
        HirKind::Class(class) => small_class(class),
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Capture(capture) => exact(&capture.sub),
        HirKind::Repetition(_) => None,
        HirKind::Alternation(branches) => every_branch(branches, exact),
        HirKind::Concat(parts) => parts.iter().try_fold(vec![Vec::new()], |before, part| {
            cross(&before, &exact(part)?)
        }),
    }
}

/// Every branch's strings (`of` each), unless one has none or there are
/// more than [`MAX_REQUIRED_LITERALS`].
fn every_branch(branches: &[Hir], of: fn(&Hir) -> Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let mut any = Vec::new();
    for branch in branches {
        any.extend(of(branch)?);
        if any.len() > MAX_REQUIRED_LITERALS {
            return None;
        }
    }
    Some(any)
}

/// Each of `before` followed by each of `after`, unless there would be
/// more than [`MAX_REQUIRED_LITERALS`].
fn cross(before: &[Vec<u8>], after: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if before.len().saturating_mul(after.len()) > MAX_REQUIRED_LITERALS {
        return None;
    }
    Some(
        before
            .iter()
            .flat_map(|b| after.iter().map(move |a| [b.as_slice(), a].concat()))
            .collect(),
    )
}

/// The bytes of a class of at most four ASCII bytes (`["'`]`), each a
/// one-byte string, else `None`.
fn small_class(class: &Class) -> Option<Vec<Vec<u8>>> {
    const MAX: usize = 4;
    // A Unicode class outside ASCII has no byte form: `None`.
    let bytes = match class {
        Class::Bytes(c) => c.clone(),
        Class::Unicode(c) => c.to_byte_class()?,
    };
    let bytes: Vec<u8> = bytes
        .ranges()
        .iter()
        .flat_map(|r| r.start()..=r.end())
        .take(MAX + 1)
        .collect();
    if bytes.len() > MAX || !bytes.is_ascii() {
        return None;
    }
    Some(bytes.into_iter().map(|b| vec![b]).collect())
}

/// An inner literal set, lowercased and reduced: a literal holding a
/// shorter kept one adds nothing. `None` when it is still too large, or
/// holds a common single byte ([`screens`]).
fn fewest_literals(literals: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    // An empty literal (a branch of zero-width assertions alone, `\b`)
    // requires nothing.
    if literals.iter().any(Vec::is_empty) {
        return None;
    }
    let mut lowered: Vec<Vec<u8>> = literals.iter().map(|l| l.to_ascii_lowercase()).collect();
    lowered.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    lowered.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for literal in lowered {
        if !kept
            .iter()
            .any(|k| literal.windows(k.len()).any(|w| w == k.as_slice()))
        {
            kept.push(literal);
        }
    }
    screens(&kept).then_some(kept)
}

/// Single bytes rare enough in benign values to screen on alone.
const RARE_BYTES: &[u8] = b"\"'`<>\\|$!^@[]{}~";

/// Does a reduced literal set screen values at a cost the prefilter can
/// pay? Not when it is too large ([`MAX_REQUIRED_LITERALS`]), nor when it
/// holds an empty literal, or a single byte common in benign values (a
/// letter, digit, space or everyday punctuation: `/`, `.`, `;`, `=`, `%`,
/// `(`). Such a byte lets nearly every value through to the regex, and
/// the literal automaton's walk stops at nearly every occurrence of it to
/// mark its owners, while the regex's own search rules a value out about as
/// fast. CRS's busybox-style evasions (932230 and four others) allow junk
/// between every letter: their prefix or suffix sets held `e`, `l` and `s`.
/// Refusing such sets took CRS PL1's mixes from 882,566 to 812,053
/// instructions per GET, 6,867,077 to 6,329,143 per 4 KB JSON body and
/// 3,710,470 to 3,108,892 per 50-argument query (callgrind,
/// `palisade-engine-loop`); for inner literals alone it had already saved
/// 1% on the GET.
fn screens(literals: &[Vec<u8>]) -> bool {
    literals.len() <= MAX_REQUIRED_LITERALS
        && literals.iter().all(|l| match l[..] {
            [] => false,
            [b] => RARE_BYTES.contains(&b),
            _ => true,
        })
}

fn shortest_literals(seq: &Seq) -> Option<Vec<Vec<u8>>> {
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    let mut lowered: Vec<Vec<u8>> = literals
        .iter()
        .map(|l| l.as_bytes().to_ascii_lowercase())
        .collect();
    lowered.sort();
    lowered.dedup();
    // Sorted, the strings extending a kept literal follow it directly. A
    // suffix set is reduced the same way: a literal containing a kept one
    // at its start still contains it.
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for literal in lowered {
        if kept.last().is_none_or(|k| !literal.starts_with(k)) {
            kept.push(literal);
        }
    }
    screens(&kept).then_some(kept)
}

/// The regex with every class that spells one ASCII letter in its two cases
/// (`[Ss]`, what `(?i)s` becomes) replaced by the lowercase letter. Only for
/// literal extraction: a match of the original, lowercased where the classes
/// were, matches the folded regex, so the folded regex's necessary literals
/// are the original's up to ASCII case.
fn fold_case(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Class(class) => match one_letter(class) {
            Some(letter) => Hir::literal([letter]),
            None => hir.clone(),
        },
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(fold_case(&rep.sub)),
            ..rep.clone()
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            sub: Box::new(fold_case(&cap.sub)),
            ..cap.clone()
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(fold_case).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(fold_case).collect()),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Look(_) => hir.clone(),
    }
}

/// The lowercase letter a class is made of, when it holds exactly one
/// ASCII letter in upper and lower case (and nothing else).
fn one_letter(class: &Class) -> Option<u8> {
    let bytes: Vec<u8> = match class {
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .flat_map(|r| r.start()..=r.end())
            .take(3)
            .collect(),
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .flat_map(|r| r.start()..=r.end())
            .take(3)
            .map(|ch| u8::try_from(u32::from(ch)).ok())
            .collect::<Option<_>>()?,
    };
    match bytes[..] {
        [a, b] if a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(&b) => {
            Some(a.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// The syntax [`Rx::new`] compiles with: byte mode, no Unicode classes,
/// `.` matching newlines (ModSecurity's PCRE `DOTALL`).
pub fn syntax_config() -> syntax::Config {
    syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
}

/// `pattern` as [`Rx::new`] hands it to the regex parser (`\x{HH}`
/// rewritten to `\xHH`), for tools that measure the automaton it becomes.
pub fn byte_mode_pattern(pattern: &str) -> String {
    rewrite_byte_escapes(pattern).text
}

/// A pattern after `\x{HH}` rewriting, with the way back to the original.
struct Rewritten {
    text: String,
    /// `origin[i]` is the offset in the original pattern of byte `i` of
    /// `text`; one extra entry maps `text.len()` to the original's length.
    origin: Vec<usize>,
}

impl Rewritten {
    fn push(&mut self, s: &str, from: usize) {
        self.text.push_str(s);
        self.origin.resize(self.origin.len() + s.len(), from);
    }
}

/// `\x{e4}` → `\xe4`, `\x{9}` → `\x09`, `\x{00ff}` → `\xff`. Escapes for
/// values above `FF` are left alone for the parser to reject (code points
/// need Unicode mode). An escaped backslash is kept whole, so `\\x{41}` stays
/// a literal backslash followed by `x{41}`.
fn rewrite_byte_escapes(pattern: &str) -> Rewritten {
    let bytes = pattern.as_bytes();
    let mut out = Rewritten {
        text: String::with_capacity(pattern.len()),
        origin: Vec::with_capacity(pattern.len() + 1),
    };
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push("\\\\", i);
                i += 2;
                continue;
            }
            if let Some((byte, len)) = brace_byte_escape(&bytes[i..]) {
                out.push(&format!("\\x{byte:02x}"), i);
                i += len;
                continue;
            }
        }
        let ch_len = pattern
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .map_or(1, char::len_utf8);
        match pattern.get(i..i + ch_len) {
            Some(ch) => out.push(ch, i),
            None => break, // unreachable: `i` always sits on a char boundary
        }
        i += ch_len;
    }
    out.origin.push(pattern.len());
    out
}

/// At `\x{...}` whose hex digits (1 to 8 of them) denote a value up to `FF`:
/// that byte and the escape's length.
fn brace_byte_escape(s: &[u8]) -> Option<(u8, usize)> {
    let body = s.strip_prefix(b"\\x{")?;
    let close = body.iter().take(9).position(|&b| b == b'}')?;
    let digits = &body[..close];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let value = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| u32::from_str_radix(d, 16).ok())?;
    let byte = u8::try_from(value).ok()?;
    Some((byte, 3 + close + 1))
}

/// One line: the reason, and for syntax errors where it happened in the
/// pattern as the rule author wrote it. regex-syntax's own rendering repeats
/// the whole pattern with a caret line, which for a multi-kilobyte CRS regex
/// buries the reason; its error type is not nameable from here (regex-syntax
/// is not a direct dependency), so the caret line is read back from it.
fn describe_error(original: &str, rewritten: &Rewritten, err: &meta::BuildError) -> String {
    let Some(syntax_err) = err.syntax_error() else {
        let mut msg = format!("regex does not compile: {err}");
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        return msg;
    };
    let rendered = syntax_err.to_string();
    let reason = rendered
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or("invalid syntax");
    match caret_offset(&rendered, &rewritten.text).and_then(|at| rewritten.origin.get(at).copied())
    {
        Some(at) => format!(
            "regex does not compile: {reason} at byte {at} (near `{}`)",
            excerpt(original, at)
        ),
        None => format!("regex does not compile: {reason}"),
    }
}

/// Byte offset in `pattern` of the first `^` in regex-syntax's single-line
/// rendering (`regex parse error:` / 4 spaces + pattern / 4 spaces + carets).
fn caret_offset(rendered: &str, pattern: &str) -> Option<usize> {
    if pattern.contains('\n') {
        return None;
    }
    let carets = rendered.lines().nth(2)?.strip_prefix("    ")?;
    if !carets.contains('^') || !carets.chars().all(|c| c == ' ' || c == '^') {
        return None;
    }
    let column = carets.find('^')?; // spaces are one byte each
    pattern
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(pattern.len()))
        .nth(column)
}

/// Up to [`ERROR_CONTEXT_CHARS`] characters either side of byte `at`.
fn excerpt(pattern: &str, at: usize) -> &str {
    let mut start = at.min(pattern.len());
    for _ in 0..ERROR_CONTEXT_CHARS {
        match pattern.get(..start).and_then(|s| s.chars().next_back()) {
            Some(c) => start -= c.len_utf8(),
            None => break,
        }
    }
    let mut end = at.min(pattern.len());
    for _ in 0..ERROR_CONTEXT_CHARS {
        match pattern.get(end..).and_then(|s| s.chars().next()) {
            Some(c) => end += c.len_utf8(),
            None => break,
        }
    }
    pattern.get(start..end).unwrap_or(pattern)
}

#[cfg(test)]
mod tests {
    use super::{rewrite_byte_escapes, Rx};

    fn rewrite(p: &str) -> String {
        rewrite_byte_escapes(p).text
    }

    fn literals(pattern: &str) -> Option<Vec<String>> {
        let mut rx = Rx::new(pattern).ok()?;
        rx.take_required_literals().map(|ls| {
            ls.into_iter()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .collect()
        })
    }

    #[test]
    fn required_literals_are_necessary_prefixes() {
        assert_eq!(
            literals("(?i)union.{1,5}select"),
            Some(vec!["union".into()])
        );
        assert_eq!(
            literals("<script|javascript:"),
            Some(vec!["<script".into(), "javascript:".into()])
        );
        // `ab` covers `abc`: a value with `abc` holds `ab`.
        assert_eq!(literals("ab|abc|xy"), Some(vec!["ab".into(), "xy".into()]));
        assert_eq!(literals("^/admin"), Some(vec!["/admin".into()]));
        // May match the empty string.
        assert_eq!(literals("a*"), None);
        assert_eq!(literals("x?"), None);
        // No prefix set, so the suffixes: every match ends with `select`.
        assert_eq!(literals("[^a]+select"), Some(vec!["select".into()]));
        // Case-folded before extraction: `(?i)javascript` has 1,024
        // spellings, past the extractor's limits, but one literal here.
        assert_eq!(
            literals("(?i)javascript:|vbscript:"),
            Some(vec!["javascript:".into(), "vbscript:".into()])
        );
        assert_eq!(
            literals("(?i)\\bexec(?:ute)?\\b"),
            Some(vec!["exec".into()])
        );
    }

    /// Where matches neither start nor end with a short literal set, the
    /// literals they hold somewhere: the best part of a sequence, every
    /// branch of an alternation, small classes of punctuation; none where
    /// a branch needs no literal or only a letter.
    #[test]
    fn required_literals_fall_back_to_inner_ones() {
        let some = |ls: &[&str]| Some(ls.iter().map(|l| l.to_string()).collect::<Vec<_>>());
        assert_eq!(literals("[^a]+select[^b]+"), some(&["select"]));
        assert_eq!(literals("(?i)[a-z]+\\s*drop\\s+[a-z]+"), some(&["drop"]));
        // The part whose shortest literal is longest.
        assert_eq!(
            literals("(?i)[^a-z]+(?:union|select)[^a-z]+ab[^a-z]+"),
            some(&["union", "select"])
        );
        // `union` holds `uni`: a value with it holds `uni` too.
        assert_eq!(literals("[^a]+(?:uni|union)[^b]+"), some(&["uni"]));
        // Folded letters are joined: `desc`, not `sc`.
        assert_eq!(
            literals("(?i)[^a-z]+de(?:lete|sc)[^a-z]+"),
            some(&["desc", "delete"])
        );
        assert_eq!(
            literals("[^a]+(?:[\"'`]|exec)[^b]+"),
            some(&["\"", "'", "`", "exec"])
        );
        // A branch that may hold no literal, or only a common byte: a
        // letter, a digit, everyday punctuation.
        assert_eq!(literals("[^a]+(?:select|[^b]*)[^c]+"), None);
        assert_eq!(literals("[^a]+(?:b\\W*u\\W*s\\W*y)[^c]+"), None);
        assert_eq!(literals("[^a]+(?:select|\\d)[^c]+"), None);
        assert_eq!(literals("[^a]+(?:select|/)[^c]+"), None);
        // A branch that is only an assertion: nothing required.
        assert_eq!(literals("[^a]+(?:abc|\\b)[^c]+"), None);
        assert_eq!(
            literals("[^a]+(?:select|on|&&)[^c]+"),
            some(&["&&", "on", "select"])
        );
    }

    /// A prefix or suffix set that holds a common single byte would not
    /// screen: the next kind is tried, and failing all, none.
    #[test]
    fn sets_with_a_common_byte_do_not_screen() {
        let some = |ls: &[&str]| Some(ls.iter().map(|l| l.to_string()).collect::<Vec<_>>());
        // Prefixes `e` or `abc`: the suffix instead.
        assert_eq!(literals("(?:e|abc)[^a]+xyz"), some(&["xyz"]));
        // Suffixes too: the inner literal instead.
        assert_eq!(
            literals("(?:e|ab)[^a]+select[^a]+(?:e|ab)"),
            some(&["select"])
        );
        // A digit, `;` or `=` alone, anywhere: no set at all.
        assert_eq!(literals("[0-3]\\W*[a-z]"), None);
        assert_eq!(literals("(?:;|=)\\s*\\w"), None);
        // Rare single bytes still screen.
        assert_eq!(literals("(?:<|\\{)\\s*\\w"), some(&["<", "{"]));
    }

    /// On sample patterns and values: whenever the regex matches, the value
    /// holds one of its literals, ignoring ASCII case (what makes skipping
    /// the regex sound).
    #[test]
    fn a_matching_value_always_holds_a_required_literal() {
        let patterns = [
            "(?i)union.{1,5}select",
            "[^a]+select",
            "(?i)<script[^>]*>",
            "(?i)on(?:error|load)\\s*=",
            "(?i)\\b(?:cat|wget|curl)\\s+\\S+$",
            "\\.\\./|\\.\\.\\\\",
            "(?i)(?:sleep|benchmark)\\s*\\(",
            "[^a]+select[^b]+",
            "(?i)[a-z]+\\s*drop\\s+[a-z]+",
            // After CRS's 942190: branches opening with classes.
            "(?i)[\"'`](?:\\s*!\\s*[\"'0-9a-z]|;?\\s*(?:having|select))|\\b(?:user|database)\\s*\\(|\\s*?exec(?:ute)?.*?[^0-9a-z]xp_cmdshell|[^0-9a-z]iif\\s*\\(",
        ];
        let values = [
            "x UNION  SELECT 1",
            "id=1 uNiOn/**/sElEcT",
            "bselect",
            "SELECT",
            "<ScRiPt src=x>",
            "<img OnErRoR = alert(1)>",
            "; CURL http://x",
            "..\\..\\windows",
            "../etc/passwd",
            "BeNcHmArK (1000,md5(1))",
            "plain value",
            "1 DROP table",
            "x' ! 1",
            "\"; SELECT x",
            "current_USER ()",
            "EXECUTE master..XP_CMDSHELL 'dir'",
            " iif (1",
            "O'Connor",
        ];
        for pattern in patterns {
            let compiled = Rx::new(pattern);
            assert!(compiled.is_ok(), "{pattern}: {compiled:?}");
            let Ok(mut rx) = compiled else { continue };
            let required = rx.take_required_literals().unwrap_or_default();
            assert!(!required.is_empty(), "{pattern} has literals");
            for value in values {
                if rx.find(value.as_bytes()).is_some() {
                    let lowered = value.to_ascii_lowercase();
                    assert!(
                        required.iter().any(|l| lowered
                            .as_bytes()
                            .windows(l.len())
                            .any(|w| w == l.as_slice())),
                        "{pattern} matched {value:?} without any of {required:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn rewrites_only_byte_escapes() {
        assert_eq!(rewrite(r"a\x{e4}b"), r"a\xe4b");
        assert_eq!(rewrite(r"\x{9}"), r"\x09");
        assert_eq!(rewrite(r"\x{00FF}"), r"\xff");
        assert_eq!(rewrite(r"[\x{00}-\x{1f}]"), r"[\x00-\x1f]");
        assert_eq!(rewrite(r"\\x{41}"), r"\\x{41}");
        assert_eq!(rewrite(r"\\\x{41}"), r"\\\x41");
        assert_eq!(rewrite(r"\x{100}"), r"\x{100}");
        assert_eq!(rewrite(r"\x{1F600}"), r"\x{1F600}");
        assert_eq!(rewrite(r"\x{}"), r"\x{}");
        assert_eq!(rewrite("ü\\x{41"), "ü\\x{41");
        assert_eq!(rewrite("trailing\\"), "trailing\\");
    }

    #[test]
    fn offsets_map_back_through_the_rewrite() {
        let r = rewrite_byte_escapes(r"\x{e4}ü(");
        assert_eq!(r.text, r"\xe4ü(");
        assert_eq!(r.origin.len(), r.text.len() + 1);
        // `(` is byte 6 of the rewritten text and byte 8 of the original.
        assert_eq!(r.origin[6], 8);
        assert_eq!(r.origin[r.text.len()], r"\x{e4}ü(".len());
    }

    #[test]
    fn syntax_error_names_the_original_offset() {
        let err = Rx::new(r"\x{e4}\x{e4}abc(def").err().unwrap_or_default();
        assert!(err.contains("unclosed group"), "{err}");
        assert!(err.contains("at byte 15"), "{err}");
        assert!(err.contains(r"(near `\x{e4}\x{e4}abc(def`)"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn error_excerpt_is_bounded_and_char_safe() {
        let pattern = format!("{}ä)", "ö".repeat(40));
        let err = Rx::new(&pattern).err().unwrap_or_default();
        assert!(err.contains("unopened group"), "{err}");
        assert!(err.contains(&format!("at byte {}", 40 * 2 + 2)), "{err}");
        assert!(err.len() < 160, "{err}");
    }
}
