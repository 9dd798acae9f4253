//! `@detectXSS`: an HTML-tokenizer XSS detector, in the spirit of
//! libinjection's (own code, own tables).
//!
//! # Approach
//!
//! A value reflected into a page can land in one of several places, and what
//! is dangerous depends on where. So the value is tokenized once per starting
//! `Context`, each pass with a small HTML5-ish tokenizer:
//!
//! * **data** – text between tags: `a <b>c</b>`;
//! * **inside an attribute value**, double-quoted, single-quoted, backtick
//!   (old IE) or unquoted: `<a title="VALUE">`. The pass reads the value up to
//!   the byte that would end it (`"`, `'`, `` ` ``, whitespace / `>`), checks
//!   that first value as if it were a URL (`javascript:alert(1)` is a complete
//!   attack when it lands in an `href`), then goes on tokenizing attributes
//!   and, after a `>`, HTML text.
//!
//! The tokenizer knows start tags `<name`, end tags `</name` (parsed, never
//! flagged), attributes (`name`, `name=value`, quoted or not), `>`, and the
//! markup declarations `<!`, `<!--`, `<?`, whose *content is scanned as HTML*:
//! a comment never matches by itself, but `<!--[if IE]><script>`,
//! `<![CDATA[><script>` or `<!--<img src="--><img onerror=...>` still do.
//! Browser quirks attackers rely on are honoured: `/` separates attributes
//! (`<img/src/onerror=...>`), whitespace is space, `\t \n \f \r` and also NUL,
//! names are ASCII case-insensitive, `=` may be surrounded by whitespace or
//! newlines, and a `<` inside a tag or attribute name starts a new tag
//! (over-approximation for filter-evasion such as `<scr<script>ipt>`).
//!
//! # What matches
//!
//! * a start tag from [`DANGEROUS_TAGS`] (`script`, `iframe`, `svg`, `style`,
//!   `meta`, `base`, ...; a namespace prefix is ignored, so `svg:script` is
//!   `script`); unknown or formatting tags (`<b>`, `<x>`, `<tag>`) do not;
//! * in any start tag (or after breaking out of an attribute value), an
//!   event-handler attribute with a value: `on` + ASCII letters, `=` present
//!   (`onerror=`, `onanimationstart=`, ...), except a few English words that
//!   are not handlers (`one=`, `only=`, `online=`, ...);
//! * a URL-bearing attribute ([`URL_ATTRS`], `xlink:href`, ...) whose value,
//!   after leading whitespace / control bytes, ignoring tab / newline / control
//!   bytes inside and decoding HTML character references (`&#x6A;`, `&colon;`),
//!   starts with `javascript:`, `vbscript:`, `livescript:` or a scriptable
//!   `data:` type (`data:text/html`, `data:image/svg`, `data:text/xml`, ...);
//! * `style="..."` containing `expression(`, `javascript:` (as in
//!   `url(javascript:...)`), `-moz-binding` or `behavior:` after removing CSS
//!   comments, escapes and whitespace; `srcdoc=` with a value;
//!   `attributeName=on...` / `attributeName=href` (SVG animation indirection).
//!
//! Text without a tag start (`a < b`, `1<2`, `I <3 you`, `<<EOF`) never
//! matches in the data context, and words such as `onload` or `javascript`
//! only matter as an attribute name followed by `=` / a value prefix.
//!
//! The span is the dangerous tag (`<` through its name) or the whole attribute
//! (name through value); the detail is `tag script`, `attribute onerror`,
//! `url javascript:` or `style expression(`.
//!
//! Work is linear: five passes, each moving forward over the value; the URL
//! and CSS checks read only the bytes of the value they examine and use fixed
//! stack buffers. No allocation except for the detail string of a match.

use super::OpMatch;

/// Tags that are flagged as soon as they are opened. Script containers
/// (`script`, `iframe`, `frame(set)`, `object`, `embed`, `applet`), foreign
/// content that reparses its children and hosts its own script / animation
/// vectors (`svg`, `math`), page-wide effects (`style`, `link`, `meta`,
/// `base`), legacy IE vectors (`isindex`, `xml`, `import`, `vmlframe`,
/// `handler`, `listener`, `xss`) and `noscript` (mutation-XSS vector).
/// `form` and `template` are deliberately absent: `<form action=javascript:>`
/// is caught through its URL attribute, a bare form is not script execution.
pub const DANGEROUS_TAGS: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "style",
    "link", "meta", "base", "isindex", "xml", "xss", "import", "vmlframe", "handler", "listener",
    "noscript",
];

/// Attributes whose value is a URL the browser may navigate to / load.
/// Compared with the local name, so `xlink:href` is `href`.
pub const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "background",
    "lowsrc",
    "dynsrc",
    "poster",
    "codebase",
    "folder",
    "to",
    "from",
    "by",
    "values",
];

/// `on` + letters that are English words rather than event handlers.
const NOT_HANDLERS: &[&str] = &[
    "one", "ones", "only", "online", "onion", "onions", "onto", "onward", "onwards", "ongoing",
    "onset", "onus", "onboard", "onsite", "onscreen",
];

/// URL prefixes that run script (compared after normalisation, lowercase).
const BAD_SCHEMES: &[&str] = &[
    "javascript:",
    "vbscript:",
    "livescript:",
    "data:text/html",
    "data:image/svg",
    "data:text/xml",
    "data:application/xhtml",
    "data:application/xml",
];

/// Needles in a normalised `style` value.
const BAD_CSS: &[&str] = &[
    "expression(",
    "javascript:",
    "vbscript:",
    "livescript:",
    "-moz-binding",
    "behavior:",
];

/// Where the value is assumed to land.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    Data,
    DoubleQuoted,
    SingleQuoted,
    Unquoted,
    Backtick,
}

const CONTEXTS: [Context; 5] = [
    Context::Data,
    Context::DoubleQuoted,
    Context::SingleQuoted,
    Context::Unquoted,
    Context::Backtick,
];

/// Every finding needs one of these bytes: a tag start, an `=`, or a URL
/// scheme's `:` (possibly as `&colon;` / `&#58;`). The engine passes over
/// values holding none (`Operator::required_kinds`).
pub(crate) const REQUIRED: [u8; 4] = *b"<=:&";

pub fn detect(v: &[u8]) -> Option<OpMatch> {
    if !v.iter().any(|b| REQUIRED.contains(b)) {
        return None;
    }
    CONTEXTS
        .iter()
        .find_map(|&ctx| Tokenizer { s: v, i: 0 }.run(ctx))
}

/// HTML whitespace, plus NUL (tolerated as a separator, as old parsers did).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0c | b'\r' | 0)
}

fn found(start: usize, end: usize, detail: String) -> OpMatch {
    OpMatch {
        span: Some((start, end)),
        detail: Some(detail),
    }
}

/// Lowercase, lossy rendering of a name for the detail string (bounded).
fn show(name: &[u8]) -> String {
    let name = name.get(..32).unwrap_or(name);
    String::from_utf8_lossy(name).to_ascii_lowercase()
}

/// The part after the last `:` (namespace prefix dropped).
fn local_name(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(p) => name.get(p + 1..).unwrap_or(&[]),
        None => name,
    }
}

fn in_list(name: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| name.eq_ignore_ascii_case(w.as_bytes()))
}

fn is_handler(name: &[u8]) -> bool {
    match (name.get(..2), name.get(2..)) {
        (Some(on), Some(rest)) => {
            on.eq_ignore_ascii_case(b"on")
                && !rest.is_empty()
                && rest.iter().all(u8::is_ascii_alphabetic)
                && !in_list(name, NOT_HANDLERS)
        }
        _ => false,
    }
}

struct Tokenizer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Tokenizer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.i += 1;
        }
    }

    fn slice(&self, start: usize, end: usize) -> &[u8] {
        self.s.get(start..end).unwrap_or(&[])
    }

    fn run(mut self, ctx: Context) -> Option<OpMatch> {
        let n = self.s.len();
        let quote = match ctx {
            Context::Data => return self.data(),
            Context::DoubleQuoted => Some(b'"'),
            Context::SingleQuoted => Some(b'\''),
            Context::Backtick => Some(b'`'),
            Context::Unquoted => None,
        };
        // The value we start inside of, and where the attribute list resumes.
        let (end, resume) = match quote {
            Some(q) => match memchr::memchr(q, self.s) {
                Some(p) => (p, p + 1),
                None => (n, n),
            },
            None => {
                let p = self
                    .s
                    .iter()
                    .position(|&b| is_ws(b) || b == b'>')
                    .unwrap_or(n);
                (p, p)
            }
        };
        if let Some(scheme) = bad_url(self.slice(0, end)) {
            return Some(found(0, end, format!("url {scheme}")));
        }
        if resume >= n {
            return None;
        }
        self.i = resume;
        if let Some(m) = self.attributes(true) {
            return Some(m);
        }
        self.data()
    }

    /// Data state: look for tag starts.
    fn data(&mut self) -> Option<OpMatch> {
        loop {
            let rest = self.s.get(self.i..)?;
            let p = memchr::memchr(b'<', rest)?;
            let lt = self.i + p;
            self.i = lt;
            match self.at(lt + 1) {
                Some(c) if c.is_ascii_alphabetic() => {
                    self.i = lt + 1;
                    let (ns, ne) = self.name();
                    let local = local_name(self.slice(ns, ne));
                    if in_list(local, DANGEROUS_TAGS) {
                        return Some(found(lt, ne, format!("tag {}", show(local))));
                    }
                    if let Some(m) = self.attributes(true) {
                        return Some(m);
                    }
                }
                Some(b'/') if self.at(lt + 2).is_some_and(|c| c.is_ascii_alphabetic()) => {
                    // End tag: parsed (so its quoted values are skipped), not flagged.
                    self.i = lt + 2;
                    self.name();
                    self.attributes(false);
                }
                // `<!--`, `<!DOCTYPE`, `<![CDATA[`, `<?xml`, `</ ...`: skip the
                // marker and keep scanning the content as HTML.
                Some(b'!' | b'?' | b'/') => self.i = lt + 2,
                _ => self.i = lt + 1,
            }
        }
    }

    /// A tag or attribute name from `self.i`: ends at whitespace, `/`, `>`, `<`
    /// (and `=` for attribute names, handled by the caller).
    fn name(&mut self) -> (usize, usize) {
        let start = self.i;
        while let Some(b) = self.peek() {
            if is_ws(b) || matches!(b, b'/' | b'>' | b'<') {
                break;
            }
            self.i += 1;
        }
        (start, self.i)
    }

    /// Attribute list of a tag, up to and including `>` (or up to a `<`, or
    /// the end). `flag`: check attributes (start tags) or only skip them.
    fn attributes(&mut self, flag: bool) -> Option<OpMatch> {
        loop {
            while self.peek().is_some_and(|b| is_ws(b) || b == b'/') {
                self.i += 1;
            }
            match self.peek() {
                None | Some(b'<') => return None,
                Some(b'>') => {
                    self.i += 1;
                    return None;
                }
                Some(_) => {}
            }
            // Attribute name; a leading `=` belongs to the name (HTML5).
            let ns = self.i;
            self.i += 1;
            while let Some(b) = self.peek() {
                if is_ws(b) || matches!(b, b'/' | b'>' | b'<' | b'=') {
                    break;
                }
                self.i += 1;
            }
            let ne = self.i;
            self.skip_ws();
            if self.peek() != Some(b'=') {
                continue;
            }
            self.i += 1;
            self.skip_ws();
            let (vs, ve) = match self.peek() {
                Some(q @ (b'"' | b'\'')) => {
                    let vs = self.i + 1;
                    let rest = self.s.get(vs..).unwrap_or(&[]);
                    match memchr::memchr(q, rest) {
                        Some(p) => {
                            self.i = vs + p + 1;
                            (vs, vs + p)
                        }
                        None => {
                            self.i = self.s.len();
                            (vs, self.s.len())
                        }
                    }
                }
                _ => {
                    let vs = self.i;
                    while self.peek().is_some_and(|b| !is_ws(b) && b != b'>') {
                        self.i += 1;
                    }
                    (vs, self.i)
                }
            };
            if flag {
                let name = self.slice(ns, ne);
                let value = self.slice(vs, ve);
                if let Some(detail) = check_attr(name, value) {
                    return Some(found(ns, self.i, detail));
                }
            }
        }
    }
}

/// Why an attribute `name=value` in a start tag is dangerous, if it is.
fn check_attr(name: &[u8], value: &[u8]) -> Option<String> {
    if is_handler(name) {
        return Some(format!("attribute {}", show(name)));
    }
    let local = local_name(name);
    if in_list(local, URL_ATTRS) {
        let hit = if local.eq_ignore_ascii_case(b"values") {
            // SVG animation: `values="a;javascript:alert(1)"`.
            value.split(|&b| b == b';').find_map(bad_url)
        } else {
            bad_url(value)
        };
        return hit.map(|scheme| format!("url {scheme}"));
    }
    if local.eq_ignore_ascii_case(b"style") {
        return bad_css(value).map(|needle| format!("style {needle}"));
    }
    if local.eq_ignore_ascii_case(b"srcdoc") && value.iter().any(|&b| !is_ws(b)) {
        return Some("attribute srcdoc".to_string());
    }
    if local.eq_ignore_ascii_case(b"attributename") {
        let target = trim(value);
        if is_handler(target) || local_name(target).eq_ignore_ascii_case(b"href") {
            return Some("attribute attributename".to_string());
        }
    }
    None
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b > b' ').unwrap_or(v.len());
    let end = v.iter().rposition(|&b| b > b' ').map_or(start, |p| p + 1);
    v.get(start..end).unwrap_or(&[])
}

/// Bytes of an attribute value with HTML character references decoded
/// (numeric, plus the named ones that matter for URLs and CSS). Code points
/// above ASCII come out as 0xFF, which matches nothing we look for.
struct Decoded<'a> {
    s: &'a [u8],
    i: usize,
}

const NAMED: &[(&str, u8)] = &[
    ("colon;", b':'),
    ("tab;", b'\t'),
    ("newline;", b'\n'),
    ("lpar;", b'('),
    ("rpar;", b')'),
    ("sol;", b'/'),
    ("bsol;", b'\\'),
    ("ast;", b'*'),
    ("hyphen;", b'-'),
    ("dash;", b'-'),
    ("period;", b'.'),
    ("comma;", b','),
];

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let b = *self.s.get(self.i)?;
        self.i += 1;
        if b != b'&' {
            return Some(b);
        }
        let rest = self.s.get(self.i..).unwrap_or(&[]);
        if rest.first() == Some(&b'#') {
            let hex = matches!(rest.get(1), Some(b'x' | b'X'));
            let mut j = if hex { 2 } else { 1 };
            let mut cp: u32 = 0;
            let mut digits = 0usize;
            while let Some(&d) = rest.get(j) {
                let v = match (hex, d) {
                    (_, b'0'..=b'9') => u32::from(d - b'0'),
                    (true, b'a'..=b'f') => u32::from(d - b'a' + 10),
                    (true, b'A'..=b'F') => u32::from(d - b'A' + 10),
                    _ => break,
                };
                cp = cp
                    .saturating_mul(if hex { 16 } else { 10 })
                    .saturating_add(v);
                digits += 1;
                j += 1;
            }
            if digits == 0 {
                return Some(b'&');
            }
            if rest.get(j) == Some(&b';') {
                j += 1;
            }
            self.i += j;
            return Some(u8::try_from(cp).ok().filter(u8::is_ascii).unwrap_or(0xFF));
        }
        for (name, byte) in NAMED {
            let len = name.len();
            if rest
                .get(..len)
                .is_some_and(|r| r.eq_ignore_ascii_case(name.as_bytes()))
            {
                self.i += len;
                return Some(*byte);
            }
        }
        Some(b'&')
    }
}

/// Does this URL value run script? Returns the scheme it starts with.
fn bad_url(value: &[u8]) -> Option<&'static str> {
    const CAP: usize = 24;
    let mut buf = [0u8; CAP];
    let mut len = 0;
    let mut leading = true;
    let mut it = Decoded { s: value, i: 0 };
    while let Some(c) = it.next() {
        // Leading whitespace / controls (and IE backtick quoting) are
        // stripped by browsers; tab / newline / controls anywhere are ignored.
        if c < b' ' || c == 0x7f || (leading && (c == b' ' || c == b'`')) {
            continue;
        }
        leading = false;
        let Some(slot) = buf.get_mut(len) else { break };
        *slot = c.to_ascii_lowercase();
        len += 1;
        let got = buf.get(..len).unwrap_or(&[]);
        if let Some(s) = BAD_SCHEMES.iter().find(|s| got == s.as_bytes()) {
            if s.ends_with("script:") && no_code_follows(it) {
                return None;
            }
            return Some(s);
        }
        // Stop early once no scheme can match any more.
        if !BAD_SCHEMES.iter().any(|s| s.as_bytes().starts_with(got)) {
            return None;
        }
    }
    None
}

/// JavaScript keywords that may start a statement and be followed by a
/// space and a letter (`new Image()`, `void open()`).
const JS_LEADING_WORDS: &[&str] = &[
    "new", "void", "typeof", "delete", "throw", "var", "let", "const", "function", "return", "if",
    "while", "for", "do", "with", "await", "async", "yield", "eval",
];

/// Is what follows `javascript:` nothing, or English rather than code? A
/// title such as `javascript: the good parts` is a word, a space and another
/// word (in an unquoted attribute only `javascript:` itself lands in the
/// URL); code after the scheme starts with a call, an operator, a quote or a
/// keyword (`alert(1)`, `void 0`, `new Image`). A browser runs an empty
/// script as nothing and prose only as a syntax error, so not flagging
/// either costs nothing.
fn no_code_follows(rest: Decoded<'_>) -> bool {
    let mut rest = rest.skip_while(|c| *c == b' ').peekable();
    if rest.peek().is_none() {
        return true;
    }
    let mut word = Vec::new();
    while let Some(&c) = rest.peek() {
        if !c.is_ascii_alphabetic() || word.len() > 16 {
            break;
        }
        word.push(c.to_ascii_lowercase());
        rest.next();
    }
    if word.is_empty()
        || JS_LEADING_WORDS
            .iter()
            .any(|w| w.as_bytes() == word.as_slice())
    {
        return false;
    }
    rest.next() == Some(b' ') && rest.next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Does this `style` value contain a script vector? CSS comments, escapes
/// (`\65` or `\e`) and whitespace are removed, case folded.
fn bad_css(value: &[u8]) -> Option<&'static str> {
    const W: usize = 16;
    let mut win = [0u8; W];
    let mut it = Decoded { s: value, i: 0 }.peekable();
    while let Some(c) = it.next() {
        let c = match c {
            b'/' if it.peek() == Some(&b'*') => {
                it.next();
                let mut prev = 0u8;
                for x in it.by_ref() {
                    if prev == b'*' && x == b'/' {
                        break;
                    }
                    prev = x;
                }
                continue;
            }
            b'\\' => {
                let mut cp: u32 = 0;
                let mut digits = 0;
                while digits < 6 {
                    match it.peek().and_then(|h| char::from(*h).to_digit(16)) {
                        Some(d) => {
                            cp = cp * 16 + d;
                            digits += 1;
                            it.next();
                        }
                        None => break,
                    }
                }
                if digits == 0 {
                    match it.next() {
                        Some(x) => x,
                        None => break,
                    }
                } else {
                    if it.peek().is_some_and(|w| is_ws(*w)) {
                        it.next();
                    }
                    u8::try_from(cp).ok().filter(u8::is_ascii).unwrap_or(0xFF)
                }
            }
            c if c <= b' ' => continue,
            c => c,
        };
        win.copy_within(1.., 0);
        if let Some(last) = win.last_mut() {
            *last = c.to_ascii_lowercase();
        }
        if let Some(n) = BAD_CSS
            .iter()
            .find(|n| win.get(W - n.len()..) == Some(n.as_bytes()))
        {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_details() {
        let m = detect(b"<img src=x onerror=alert(1)>").unwrap_or_default();
        assert_eq!(m.span, Some((11, 27)));
        assert_eq!(m.detail.as_deref(), Some("attribute onerror"));
        let m = detect(b"x <ScRiPt>").unwrap_or_default();
        assert_eq!(m.span, Some((2, 9)));
        assert_eq!(m.detail.as_deref(), Some("tag script"));
        let m = detect(b"javascript:alert(1)").unwrap_or_default();
        assert_eq!(m.detail.as_deref(), Some("url javascript:"));
    }

    #[test]
    fn no_panic_on_odd_input() {
        for v in [
            &b"<"[..],
            b"<a",
            b"<a ",
            b"<a b=",
            b"<a b=\"",
            b"&#",
            b"&#x",
            b"<a href=&#x",
            b"<a style=\\",
            b"<a style=/*",
            b"\xff<\xfe a=\x00",
            b"</",
            b"<!",
            b"\"",
            b"'",
            b"`",
        ] {
            let _ = detect(v);
        }
    }
}
