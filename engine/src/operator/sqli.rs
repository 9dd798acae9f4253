//! `@detectSQLi`: a SQL-tokenizer SQL-injection detector, in the spirit of
//! libinjection's (own code, own tables, own rules).
//!
//! # Approach
//!
//! A value is spliced into a query somewhere the attacker cannot see, so the
//! value is tokenized once per starting `Context`:
//!
//! * **as-is** – a numeric / bare position: `WHERE id = VALUE`;
//! * **single-quoted** – `WHERE name = 'VALUE'`: the pass starts inside a
//!   string, so the first token is the string the *application* opened and
//!   the value's first unescaped `'` closes;
//! * **double-quoted** – the same with `"` (MySQL ANSI-less mode, JSON-ish
//!   back ends).
//!
//! The tokenizer knows string literals (`'` and `"`, doubled quotes and
//! backslash escapes, unterminated strings run to the end — the application's
//! own closing quote finishes them), backtick identifiers, numbers (`12`,
//! `3.14`, `.5`, `1e5`, `0x1F`, `0b101`), words classified through small
//! tables (keywords, statement verbs, `union`, logic words, functions — a
//! function only when `(` follows immediately, as MySQL requires for
//! built-ins), operators (`<=>`, `!=`, `<>`, `:=`, `||` and `&&` as logic
//! operators, ...), comments (`--`, `#`, `/* */`; MySQL's executable
//! `/*!50000 ... */` is tokenized as SQL), parentheses, commas, semicolons and
//! variables (`@x`, `@@version`). A closed `/* */` comment is whitespace, so
//! `'/**/or/**/1=1` reads as `' or 1=1`; a word split by such a comment is
//! re-joined when the pieces are unknown but the whole is a known word
//! (`UN/**/ION SEL/**/ECT`).
//!
//! Each token has a one-letter kind (`Kind::code`): `s` string, `n` number
//! (also `true` / `false` / `null`), `k` keyword, `U` union, `E` statement
//! verb, `o` operator, `&` logic, `f` function, `c` comment, `(` `)` `,` `;`,
//! `v` variable, `b` bareword. The detail of a match is the fingerprint of the
//! first tokens of the matching pass, e.g. `s&non` for `' or 1=1`.
//!
//! # What matches
//!
//! Rules anchored at a *break*: the application's string closed by the value
//! (quoted contexts) or a leading number (as-is context), then any `)`:
//!
//! * a logic operator followed (after `(` / `not`) by a function, variable,
//!   sub-select, or an operand compared with something (`1' or 1=1`,
//!   `') or ('a'='a`, `1 and 1=1`, `1) or (1=1`); in the quoted contexts also
//!   an operand that ends the value or is followed by a comment (`' or 1--`,
//!   `1'||'1'='1`, `' or ''='`);
//! * a clause keyword (`where`, `having`, `order by`, `group by`, `limit`,
//!   `procedure`, `into`) followed by an operand (`1' having 1=1`,
//!   `1' order by 1--`, `1 order by 3`);
//! * `;` and a statement (stacked query) whose next tokens are not just words
//!   (`1;drop table x`, `'; select * from t`), in the quoted contexts `;` and
//!   a comment;
//! * quoted contexts only: a comment right after the break (`admin'--`,
//!   `admin'#`, `admin'/*`) or a comparison that ends the value (`'='`).
//!
//! Rules that match anywhere in any pass: `union [all|distinct] [(] select`,
//! blind-injection functions called with an argument (`sleep(5)`,
//! `benchmark(1e7,md5(1))`, `pg_sleep(`, `extractvalue(`, `updatexml(`, ...),
//! `waitfor delay|time`, and stacked statements that are dangerous by
//! themselves (`; drop table`, `; shutdown`, `; exec xp_...`, `; declare @x`).
//!
//! # What does not
//!
//! Text: a sentence containing SQL words (`Select your country`,
//! `rock and roll`, `drop me a line`) has no break; apostrophes in words
//! (`O'Reilly`, `don't`, `it's 5 o'clock`) put a bareword, not a logic
//! operator or comment, after the break. A complete SQL statement with no
//! break (`select * from users`) is not flagged either: it is not an
//! injection into a surrounding query. Known false positives: arithmetic
//! prose such as `2 and 2 = 4`, and the phrase `union select` in prose.
//!
//! # Cost
//!
//! Three passes, each linear in the bytes it reads; at most [`MAX_SCAN`] bytes
//! of the value are tokenized per pass (an injection has to make its point
//! early; rules needing a prefix look at the first tokens only), which also
//! bounds the token vector. Word classification uses a fixed 32-byte buffer.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::OpMatch;
use crate::hash::FastKeys;

/// Bytes tokenized per pass. Bounds time and the token vector on large bodies;
/// a payload placed after 32 KiB of padding is not seen by this operator.
pub const MAX_SCAN: usize = 32 * 1024;

/// Longest word looked up in the tables; longer words are barewords.
const MAX_WORD: usize = 32;

/// Tokens shown in the detail fingerprint.
const FINGERPRINT_LEN: usize = 8;

/// Word tables: (lowercase word, kind).
const WORDS: &[(&str, Kind)] = &[
    ("and", Kind::Logic),
    ("or", Kind::Logic),
    ("xor", Kind::Logic),
    ("div", Kind::Op),
    ("mod", Kind::Op),
    ("like", Kind::Op),
    ("rlike", Kind::Op),
    ("regexp", Kind::Op),
    ("sounds", Kind::Op),
    ("is", Kind::Op),
    ("in", Kind::Op),
    ("between", Kind::Op),
    ("union", Kind::Union),
    ("select", Kind::Verb),
    ("insert", Kind::Verb),
    ("update", Kind::Verb),
    ("delete", Kind::Verb),
    ("drop", Kind::Verb),
    ("create", Kind::Verb),
    ("alter", Kind::Verb),
    ("truncate", Kind::Verb),
    ("exec", Kind::Verb),
    ("execute", Kind::Verb),
    ("shutdown", Kind::Verb),
    ("waitfor", Kind::Verb),
    ("declare", Kind::Verb),
    ("grant", Kind::Verb),
    ("revoke", Kind::Verb),
    ("rename", Kind::Verb),
    ("call", Kind::Verb),
    ("where", Kind::Clause),
    ("having", Kind::Clause),
    ("limit", Kind::Clause),
    ("procedure", Kind::Clause),
    ("into", Kind::Clause),
    ("order", Kind::Keyword),
    ("group", Kind::Keyword),
    ("by", Kind::Keyword),
    ("from", Kind::Keyword),
    ("table", Kind::Keyword),
    ("database", Kind::Keyword),
    ("schema", Kind::Keyword),
    ("view", Kind::Keyword),
    ("index", Kind::Keyword),
    ("user", Kind::Keyword),
    ("trigger", Kind::Keyword),
    ("function", Kind::Keyword),
    ("all", Kind::Keyword),
    ("distinct", Kind::Keyword),
    ("not", Kind::Keyword),
    ("exists", Kind::Keyword),
    ("case", Kind::Keyword),
    ("when", Kind::Keyword),
    ("then", Kind::Keyword),
    ("else", Kind::Keyword),
    ("end", Kind::Keyword),
    ("as", Kind::Keyword),
    ("set", Kind::Keyword),
    ("values", Kind::Keyword),
    ("outfile", Kind::Keyword),
    ("dumpfile", Kind::Keyword),
    ("delay", Kind::Keyword),
    ("time", Kind::Keyword),
    ("top", Kind::Keyword),
    ("offset", Kind::Keyword),
    ("collate", Kind::Keyword),
    ("true", Kind::Num),
    ("false", Kind::Num),
    ("null", Kind::Num),
];

/// Functions (a word directly followed by `(`).
const FUNCTIONS: &[&str] = &[
    "ascii",
    "char",
    "chr",
    "concat",
    "concat_ws",
    "group_concat",
    "substring",
    "substr",
    "mid",
    "left",
    "right",
    "length",
    "len",
    "ord",
    "hex",
    "unhex",
    "md5",
    "sha1",
    "rand",
    "floor",
    "count",
    "if",
    "iif",
    "ifnull",
    "isnull",
    "nullif",
    "coalesce",
    "cast",
    "convert",
    "version",
    "database",
    "user",
    "current_user",
    "system_user",
    "schema",
    "db_name",
    "now",
    "lower",
    "upper",
    "replace",
    "elt",
    "make_set",
    "exp",
    "json_keys",
    "name_const",
    "row",
    "exists",
    "sleep",
    "benchmark",
    "pg_sleep",
    "extractvalue",
    "updatexml",
    "load_file",
    "xp_cmdshell",
    "dbms_pipe.receive_message",
    "dbms_lock.sleep",
    "utl_inaddr.get_host_address",
    "utl_http.request",
    "randomblob",
    "geometrycollection",
    "analyse",
    "polygon",
    "multipoint",
];

/// Functions used for time-based or error-based blind injection.
const BLIND_FUNCTIONS: &[&str] = &[
    "sleep",
    "benchmark",
    "pg_sleep",
    "extractvalue",
    "updatexml",
    "load_file",
    "xp_cmdshell",
    "dbms_pipe.receive_message",
    "dbms_lock.sleep",
    "utl_inaddr.get_host_address",
    "utl_http.request",
    "randomblob",
    "name_const",
    "geometrycollection",
    "json_keys",
];

/// Objects that make `drop` / `create` / `alter` / `truncate` a statement.
const DDL_OBJECTS: &[&str] = &[
    "table",
    "database",
    "schema",
    "view",
    "index",
    "user",
    "trigger",
    "function",
    "procedure",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Keyword,
    Clause,
    Union,
    Verb,
    Op,
    Logic,
    Func,
    Comment,
    Open,
    Close,
    Comma,
    Semi,
    Var,
    Bare,
}

impl Kind {
    /// The fingerprint letter.
    fn code(self) -> char {
        match self {
            Kind::Str => 's',
            Kind::Num => 'n',
            Kind::Keyword | Kind::Clause => 'k',
            Kind::Union => 'U',
            Kind::Verb => 'E',
            Kind::Op => 'o',
            Kind::Logic => '&',
            Kind::Func => 'f',
            Kind::Comment => 'c',
            Kind::Open => '(',
            Kind::Close => ')',
            Kind::Comma => ',',
            Kind::Semi => ';',
            Kind::Var => 'v',
            Kind::Bare => 'b',
        }
    }

    /// A value: something a comparison or logic operator can take.
    fn is_operand(self) -> bool {
        matches!(self, Kind::Str | Kind::Num | Kind::Var | Kind::Bare)
    }
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
    /// The table word for keywords, verbs and functions; `""` otherwise.
    word: &'static str,
}

/// Where the value is assumed to land.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    AsIs,
    Single,
    Double,
}

const CONTEXTS: [Context; 3] = [Context::AsIs, Context::Single, Context::Double];

pub fn detect(v: &[u8]) -> Option<OpMatch> {
    let v = v.get(..MAX_SCAN).unwrap_or(v);
    // One token buffer for the three readings, kept by the thread across
    // calls: a vector per call, regrown as tokens came, was most of the
    // built-in rules' allocations on a 4 KB JSON body (CRS runs detectSQLi
    // on every argument too).
    TOKENS.with(|kept| match kept.try_borrow_mut() {
        Ok(mut toks) => {
            let found = CONTEXTS.iter().find_map(|&ctx| run(v, ctx, &mut toks));
            if toks.capacity() > KEPT_TOKENS {
                *toks = Vec::new();
            }
            found
        }
        // Only if detect were re-entered on this thread, which nothing does.
        Err(_) => CONTEXTS
            .iter()
            .find_map(|&ctx| run(v, ctx, &mut Vec::new())),
    })
}

thread_local! {
    static TOKENS: RefCell<Vec<Tok>> = const { RefCell::new(Vec::new()) };
}

/// Tokens' storage kept between calls (20 bytes each in palisade.wasm); a
/// value with more gives back what it grew. Arguments rarely hold more;
/// keeping up to 1,024 grew the VM from 5.2 to 5.5 MiB in the built-in
/// soak (`palisade-soak --requests 150000 --warmup-percent 20`), for no
/// fewer instructions.
const KEPT_TOKENS: usize = 128;

/// Tokenize `v` from `ctx` (into `toks`) and apply the rules.
fn run(v: &[u8], ctx: Context, toks: &mut Vec<Tok>) -> Option<OpMatch> {
    let quote = match ctx {
        Context::AsIs => None,
        Context::Single => Some(b'\''),
        Context::Double => Some(b'"'),
    };
    match quote {
        // The whole value stays inside the string.
        Some(q) if !v.contains(&q) => return None,
        None if !as_is_may_match(v) => return None,
        _ => {}
    }
    tokenize(v, quote, toks);
    let toks = toks.as_slice();
    let (a, b) = break_rules(toks, quote.is_some()).or_else(|| anywhere_rules(toks))?;
    let start = toks.get(a).map_or(0, |t| t.start);
    let end = toks.get(b).map_or(v.len(), |t| t.end);
    Some(OpMatch {
        span: Some((start, end)),
        detail: Some(fingerprint(toks)),
    })
}

/// Can the as-is reading of `v` match? Its break rules need a number as
/// the first token (after a sign), and its rules that match anywhere need
/// a `;`, a `(` (a blind function's call), or the words `union` or
/// `waitfor`, whole or split by a comment (`/*`). A value whose first token
/// is a word and that holds none of these is settled without tokenizing:
/// most arguments and argument names (the tokenizer was a twentieth of
/// CRS PL1's instructions on a JSON body, callgrind).
fn as_is_may_match(v: &[u8]) -> bool {
    let first_is_word = v
        .iter()
        .find(|&&b| !is_space(b))
        .is_some_and(|&b| is_word_start(b));
    if !first_is_word {
        return true;
    }
    let ends_with = |end: usize, word: &[u8]| {
        end.checked_sub(word.len())
            .and_then(|start| v.get(start..end))
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    v.iter().enumerate().any(|(i, &b)| match b {
        b';' | b'(' => true,
        b'/' => v.get(i + 1) == Some(&b'*'),
        b'n' | b'N' => ends_with(i + 1, b"union"),
        b'r' | b'R' => ends_with(i + 1, b"waitfor"),
        _ => false,
    })
}

fn fingerprint(toks: &[Tok]) -> String {
    toks.iter()
        .take(FINGERPRINT_LEN)
        .map(|t| t.kind.code())
        .collect()
}

// ---------- rules ----------

fn kind_at(toks: &[Tok], i: usize) -> Option<Kind> {
    toks.get(i).map(|t| t.kind)
}

fn word_at(toks: &[Tok], i: usize) -> &'static str {
    toks.get(i).map_or("", |t| t.word)
}

/// First index at or after `i` whose token is not of `kind`.
fn skip(toks: &[Tok], mut i: usize, kind: Kind) -> usize {
    while kind_at(toks, i) == Some(kind) {
        i += 1;
    }
    i
}

/// A comparison: an operator token (`=`, `<>`, `like`, `in`, ...).
fn is_comparison(toks: &[Tok], i: usize) -> bool {
    kind_at(toks, i) == Some(Kind::Op)
}

/// Index just past the break, if the pass has one: the application's string
/// (quoted contexts) or a leading, possibly signed, number (as-is).
fn after_break(toks: &[Tok], quoted: bool) -> Option<usize> {
    if quoted {
        return Some(1);
    }
    let i =
        usize::from(kind_at(toks, 0) == Some(Kind::Op) && matches!(word_at(toks, 0), "-" | "+"));
    (kind_at(toks, i) == Some(Kind::Num)).then_some(i + 1)
}

/// Rules anchored right after the break; returns the matched token range.
fn break_rules(toks: &[Tok], quoted: bool) -> Option<(usize, usize)> {
    let p = skip(toks, after_break(toks, quoted)?, Kind::Close);
    let hit = match kind_at(toks, p)? {
        Kind::Logic => logic_rhs(toks, p + 1, quoted),
        Kind::Clause => clause_rhs(toks, p + 1),
        Kind::Keyword if is_clause_pair(toks, p) => clause_rhs(toks, p + 1),
        Kind::Semi => stacked(toks, p + 1, true)
            .or_else(|| (quoted && kind_at(toks, p + 1) == Some(Kind::Comment)).then_some(p + 1)),
        Kind::Comment if quoted => Some(p),
        Kind::Op if quoted && p == 1 => {
            let operand = matches!(kind_at(toks, 2), Some(Kind::Str | Kind::Num));
            let ends = matches!(
                kind_at(toks, 3),
                None | Some(Kind::Comment | Kind::Logic | Kind::Semi | Kind::Close)
            );
            (operand && ends).then_some(2)
        }
        _ => None,
    }?;
    Some((0, hit))
}

/// After `and` / `or`: returns the last token index of the dangerous operand.
fn logic_rhs(toks: &[Tok], i: usize, quoted: bool) -> Option<usize> {
    let mut i = i;
    while kind_at(toks, i) == Some(Kind::Open) || word_at(toks, i) == "not" {
        i += 1;
    }
    let kind = kind_at(toks, i)?;
    match kind {
        Kind::Func | Kind::Var | Kind::Verb | Kind::Union => Some(i),
        _ if kind.is_operand() && is_comparison(toks, i + 1) => Some(i + 1),
        Kind::Str | Kind::Num if quoted => match kind_at(toks, i + 1) {
            None | Some(Kind::Comment | Kind::Semi | Kind::Close) => Some(i),
            _ => None,
        },
        _ => None,
    }
}

/// After `having` / `where` / `order by` / ...: an operand or expression.
fn clause_rhs(toks: &[Tok], i: usize) -> Option<usize> {
    // `order by` / `group by`: the operand follows `by`.
    let i = if word_at(toks, i) == "by" { i + 1 } else { i };
    match kind_at(toks, i)? {
        Kind::Num
        | Kind::Str
        | Kind::Var
        | Kind::Func
        | Kind::Open
        | Kind::Keyword
        | Kind::Verb => Some(i),
        Kind::Bare => match kind_at(toks, i + 1) {
            Some(Kind::Op | Kind::Comma | Kind::Clause | Kind::Comment) => Some(i + 1),
            _ => None,
        },
        _ => None,
    }
}

/// Keywords `order` / `group` only act as clauses with `by`.
fn is_clause_pair(toks: &[Tok], i: usize) -> bool {
    matches!(word_at(toks, i), "order" | "group") && word_at(toks, i + 1) == "by"
}

/// A statement starting at `i` (after `;`). With `after_break`, any statement
/// whose next three tokens are not all barewords; otherwise only statements
/// dangerous by themselves. Returns the last token index of the evidence.
fn stacked(toks: &[Tok], i: usize, after_break: bool) -> Option<usize> {
    if kind_at(toks, i)? != Kind::Verb {
        return None;
    }
    let next = toks.get(i + 1);
    let strong = match word_at(toks, i) {
        "drop" | "create" | "alter" | "truncate" => DDL_OBJECTS.contains(&word_at(toks, i + 1)),
        "shutdown" => true,
        "waitfor" => matches!(word_at(toks, i + 1), "delay" | "time"),
        "declare" => kind_at(toks, i + 1) == Some(Kind::Var),
        "exec" | "execute" => next.is_some_and(|t| {
            t.kind == Kind::Str
                || t.kind == Kind::Open
                || t.kind == Kind::Func
                || t.kind == Kind::Var
        }),
        _ => false,
    };
    if strong {
        return Some(i + 1);
    }
    if !after_break {
        return None;
    }
    (i + 1..i + 4).find(|&j| kind_at(toks, j).is_some_and(|k| k != Kind::Bare))
}

/// Rules that hold wherever they occur in the pass.
fn anywhere_rules(toks: &[Tok]) -> Option<(usize, usize)> {
    (0..toks.len()).find_map(|i| {
        let kind = kind_at(toks, i)?;
        let end = match kind {
            Kind::Union => union_select(toks, i + 1),
            Kind::Func if BLIND_FUNCTIONS.contains(&word_at(toks, i)) => blind_call(toks, i + 1),
            Kind::Verb if word_at(toks, i) == "waitfor" => {
                matches!(word_at(toks, i + 1), "delay" | "time").then_some(i + 1)
            }
            Kind::Semi => stacked(toks, i + 1, false),
            _ => None,
        }?;
        Some((i, end))
    })
}

fn union_select(toks: &[Tok], i: usize) -> Option<usize> {
    let mut i = i;
    while matches!(word_at(toks, i), "all" | "distinct") || kind_at(toks, i) == Some(Kind::Open) {
        i += 1;
    }
    (word_at(toks, i) == "select").then_some(i)
}

/// `(` then an argument: `sleep(5)`, `benchmark(1e7,...)`, `updatexml(1,...)`.
fn blind_call(toks: &[Tok], i: usize) -> Option<usize> {
    if kind_at(toks, i)? != Kind::Open {
        return None;
    }
    match kind_at(toks, i + 1)? {
        Kind::Num | Kind::Str | Kind::Func | Kind::Var | Kind::Open | Kind::Verb | Kind::Op => {
            Some(i + 1)
        }
        _ => None,
    }
}

// ---------- tokenizer ----------

/// The keyword and function tables as hash maps, built on first use. The
/// tokenizer looks up every word of every value it reads (a browser's
/// User-Agent is a dozen words, tried in three quoting contexts); scanning
/// the ~120 table entries per word cost the built-in rules 9% of their
/// instructions on a plain GET (callgrind, before and after).
struct Vocabulary {
    words: HashMap<&'static [u8], (Kind, &'static str), FastKeys>,
    functions: HashMap<&'static [u8], &'static str, FastKeys>,
}

fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(|| {
        let mut words = HashMap::with_capacity_and_hasher(WORDS.len(), FastKeys::default());
        for &(w, k) in WORDS {
            // The first entry wins, as the linear tables did.
            words.entry(w.as_bytes()).or_insert((k, w));
        }
        let functions = FUNCTIONS.iter().map(|f| (f.as_bytes(), *f)).collect();
        Vocabulary { words, functions }
    })
}

fn lookup(word: &[u8]) -> Option<(Kind, &'static str)> {
    vocabulary().words.get(word).copied()
}

fn function(word: &[u8]) -> Option<&'static str> {
    vocabulary().functions.get(word).copied()
}

fn known(word: &[u8]) -> bool {
    lookup(word).is_some() || function(word).is_some()
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_word_byte(b: u8) -> bool {
    is_word_start(b) || b.is_ascii_digit() || b == b'.'
}

fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b || b == 0 || b == 0xa0
}

/// Operators, longest first. `||` and `&&` are logic operators.
const OPERATORS: &[&str] = &[
    "<=>", "<=", ">=", "<>", "!=", ":=", "==", "<<", ">>", "||", "&&", "=", "<", ">", "+", "-",
    "*", "/", "%", "^", "|", "&", "~", "!", ":",
];

/// A lowercase word being assembled, bounded.
struct WordBuf {
    buf: [u8; MAX_WORD],
    len: usize,
    overflow: bool,
}

impl WordBuf {
    fn new() -> Self {
        WordBuf {
            buf: [0; MAX_WORD],
            len: 0,
            overflow: false,
        }
    }

    fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b.to_ascii_lowercase();
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    fn word(&self) -> &[u8] {
        if self.overflow {
            return &[];
        }
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// The tokens of `s` (read as if after `quote`), in `toks`.
fn tokenize(s: &[u8], quote: Option<u8>, toks: &mut Vec<Tok>) {
    toks.clear();
    let mut t = Tokenizer {
        s,
        i: 0,
        toks: std::mem::take(toks),
        in_exec: false,
    };
    if let Some(q) = quote {
        t.string_body(q);
        t.push(Kind::Str, 0, "");
    }
    t.run();
    *toks = t.toks;
}

struct Tokenizer<'a> {
    s: &'a [u8],
    i: usize,
    toks: Vec<Tok>,
    /// Inside a MySQL `/*! ... */` executable comment.
    in_exec: bool,
}

impl Tokenizer<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    fn starts(&self, i: usize, pat: &[u8]) -> bool {
        self.s.get(i..).is_some_and(|r| r.starts_with(pat))
    }

    fn push(&mut self, kind: Kind, start: usize, word: &'static str) {
        self.toks.push(Tok {
            kind,
            start,
            end: self.i,
            word,
        });
    }

    fn run(&mut self) {
        while let Some(b) = self.at(self.i) {
            let start = self.i;
            match b {
                _ if is_space(b) => self.i += 1,
                b'\'' | b'"' => {
                    self.i += 1;
                    self.string_body(b);
                    self.push(Kind::Str, start, "");
                }
                b'`' => {
                    self.i += 1;
                    self.string_body(b);
                    self.push(Kind::Bare, start, "");
                }
                b'#' => self.line_comment(start),
                b'-' if self.at(start + 1) == Some(b'-') => self.line_comment(start),
                b'/' if self.at(start + 1) == Some(b'*') => self.block_comment(start),
                b'*' if self.in_exec && self.at(start + 1) == Some(b'/') => {
                    self.in_exec = false;
                    self.i += 2;
                }
                b'(' => self.single(Kind::Open, start),
                b')' => self.single(Kind::Close, start),
                b',' => self.single(Kind::Comma, start),
                b';' => self.single(Kind::Semi, start),
                b'@' => self.variable(start),
                b'0'..=b'9' => self.number(start),
                b'.' if self.at(start + 1).is_some_and(|d| d.is_ascii_digit()) => {
                    self.number(start)
                }
                _ if is_word_start(b) => self.word(start),
                _ => self.operator(start),
            }
        }
    }

    fn single(&mut self, kind: Kind, start: usize) {
        self.i += 1;
        self.push(kind, start, "");
    }

    /// Reads a string body up to and including the closing `q` (or the end);
    /// a doubled `q` and a backslash escape do not close it.
    fn string_body(&mut self, q: u8) {
        while let Some(b) = self.at(self.i) {
            // A backslash escape or a doubled quote: two bytes, still inside.
            if b == b'\\' || (b == q && self.at(self.i + 1) == Some(q)) {
                self.i += 2;
            } else if b == q {
                self.i += 1;
                return;
            } else {
                self.i += 1;
            }
        }
        self.i = self.s.len();
    }

    fn line_comment(&mut self, start: usize) {
        while self.at(self.i).is_some_and(|b| b != b'\n') {
            self.i += 1;
        }
        self.push(Kind::Comment, start, "");
    }

    /// `/* ... */` is whitespace; unterminated it is a comment token; `/*!`
    /// (optionally with a version number) opens MySQL executable SQL.
    fn block_comment(&mut self, start: usize) {
        if self.at(start + 2) == Some(b'!') {
            self.i = start + 3;
            while self.at(self.i).is_some_and(|b| b.is_ascii_digit()) {
                self.i += 1;
            }
            self.in_exec = true;
            return;
        }
        match self.comment_end(start) {
            Some(end) => self.i = end,
            None => {
                self.i = self.s.len();
                self.push(Kind::Comment, start, "");
            }
        }
    }

    /// Index just past the `*/` closing the comment opened at `start`.
    fn comment_end(&self, start: usize) -> Option<usize> {
        let body = self.s.get(start + 2..)?;
        body.windows(2)
            .position(|w| w == b"*/")
            .map(|p| start + 2 + p + 2)
    }

    fn variable(&mut self, start: usize) {
        self.i += 1;
        if self.at(self.i) == Some(b'@') {
            self.i += 1;
        }
        match self.at(self.i) {
            Some(q @ (b'\'' | b'"' | b'`')) => {
                self.i += 1;
                self.string_body(q);
            }
            _ => {
                while self.at(self.i).is_some_and(is_word_byte) {
                    self.i += 1;
                }
            }
        }
        self.push(Kind::Var, start, "");
    }

    fn digits(&mut self, ok: fn(&u8) -> bool) {
        while self.at(self.i).as_ref().is_some_and(ok) {
            self.i += 1;
        }
    }

    fn number(&mut self, start: usize) {
        let radix = self.at(start + 1).map(|b| b.to_ascii_lowercase());
        if self.at(start) == Some(b'0') && matches!(radix, Some(b'x' | b'b')) {
            self.i = start + 2;
            self.digits(u8::is_ascii_hexdigit);
        } else {
            self.digits(u8::is_ascii_digit);
            if self.at(self.i) == Some(b'.') {
                self.i += 1;
                self.digits(u8::is_ascii_digit);
            }
            if matches!(self.at(self.i), Some(b'e' | b'E')) {
                let sign = usize::from(matches!(self.at(self.i + 1), Some(b'+' | b'-')));
                if self
                    .at(self.i + 1 + sign)
                    .is_some_and(|d| d.is_ascii_digit())
                {
                    self.i += 1 + sign;
                    self.digits(u8::is_ascii_digit);
                }
            }
        }
        self.push(Kind::Num, start, "");
    }

    /// Reads word bytes from `self.i` into `buf`.
    fn word_part(&mut self, buf: &mut WordBuf) {
        while let Some(b) = self.at(self.i).filter(|&b| is_word_byte(b)) {
            buf.push(b);
            self.i += 1;
        }
    }

    fn word(&mut self, start: usize) {
        let mut buf = WordBuf::new();
        self.word_part(&mut buf);
        let first_end = self.i;
        let (first_len, first_overflow) = (buf.len, buf.overflow);
        // `UN/**/ION`: re-join pieces split by closed comments while unknown.
        // The comment is looked for first: almost no word is followed by
        // one, and asking both tables about every word first was half of
        // the detector's time on a JSON body (callgrind).
        while self.starts(self.i, b"/*") && !buf.overflow && !known(buf.word()) {
            if self.at(self.i + 2) == Some(b'!') {
                break;
            }
            match self.comment_end(self.i) {
                Some(end) if self.at(end).is_some_and(is_word_start) => {
                    self.i = end;
                    self.word_part(&mut buf);
                }
                _ => break,
            }
        }
        // Nothing re-joined leaves the first piece as it was.
        if self.i != first_end && !known(buf.word()) {
            self.i = first_end;
            buf.len = first_len;
            buf.overflow = first_overflow;
        }
        let word = buf.word();
        if self.at(self.i) == Some(b'(') {
            if let Some(f) = function(word) {
                return self.push(Kind::Func, start, f);
            }
        }
        match lookup(word) {
            Some((kind, w)) => self.push(kind, start, w),
            None => self.push(Kind::Bare, start, ""),
        }
    }

    fn operator(&mut self, start: usize) {
        match OPERATORS
            .iter()
            .find(|op| self.starts(start, op.as_bytes()))
        {
            Some(op) => {
                self.i = start + op.len();
                let kind = if matches!(*op, "||" | "&&") {
                    Kind::Logic
                } else {
                    Kind::Op
                };
                self.push(kind, start, op);
            }
            // Other punctuation (`{`, `[`, `?`, `\`, ...) separates tokens.
            None => self.i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_two_byte_inputs_are_safe() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let _ = detect(&[a, b]);
            }
        }
    }

    #[test]
    fn tricky_three_byte_inputs_are_safe() {
        let alphabet = b"'\"`\\/*!-#@0x.e(;)a|&<=>";
        for &a in alphabet {
            for &b in alphabet {
                for &c in alphabet {
                    let _ = detect(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn long_inputs_only_scan_the_prefix() {
        let mut v = b"x".repeat(MAX_SCAN);
        v.extend_from_slice(b"' or 1=1--");
        assert!(detect(&v).is_none());
        let v = b"'/*".repeat(200_000);
        let _ = detect(&v);
        let v = b"un/**/".repeat(200_000);
        let _ = detect(&v);
    }

    /// The as-is reading's screen only settles values that reading could
    /// not match: every value of up to four pieces below that matches when
    /// tokenized is let through, and the screen does settle some.
    #[test]
    fn the_as_is_screen_lets_every_match_through() {
        const PIECES: [&str; 16] = [
            "x", "UNion", "select", "1", " ", ";", "(", "/**/", "WAIT", "for", "delay", "or", "=",
            "-", "sleep", "drop",
        ];
        let unscreened = |v: &[u8]| {
            let mut toks = Vec::new();
            tokenize(v, None, &mut toks);
            break_rules(&toks, false)
                .or_else(|| anywhere_rules(&toks))
                .is_some()
        };
        let (mut matched, mut settled) = (0, 0);
        let n = PIECES.len();
        for code in 0..n.pow(4) {
            let mut v = String::new();
            let mut rest = code;
            for _ in 0..4 {
                v.push_str(PIECES[rest % n]);
                rest /= n;
            }
            let v = v.as_bytes();
            if unscreened(v) {
                matched += 1;
                assert!(
                    as_is_may_match(v),
                    "{:?} matches",
                    String::from_utf8_lossy(v)
                );
            } else if !as_is_may_match(v) {
                settled += 1;
            }
        }
        assert!(
            matched > 100 && settled > 1000,
            "{matched} matched, {settled} settled"
        );
    }

    #[test]
    fn fingerprint_is_the_detail() {
        let m = detect(b"1' or 1=1--");
        assert_eq!(m.and_then(|m| m.detail).as_deref(), Some("s&nonc"));
    }
}
