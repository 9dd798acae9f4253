//! ModSecurity SecLang parser: configuration text to an AST, no semantics.
//!
//! [`parse_files`] and [`parse_str`] turn SecLang text (for example the OWASP
//! CRS) into a list of [`Directive`]s: `SecRule`/`SecAction` with their
//! variables, operator and actions split out and `chain`s folded, `SecMarker`,
//! `SecDefaultAction`, and every other directive kept as a name with its
//! shell-like split arguments. Deciding what a directive means is left to the
//! compiler.
//!
//! Lexing follows ModSecurity (Apache config) rules: `#` comments on their own
//! line, `\` at the end of a line continues the directive on the next line,
//! arguments separated by whitespace and optionally double-quoted; inside
//! quotes only `\"` is unescaped, every other backslash is kept verbatim so
//! regular expressions survive untouched.

pub mod compile;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

pub use parse::{parse_files, parse_str};

/// Where a directive came from, for errors naming file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based line where the directive starts (0 when no line applies,
    /// e.g. a file that cannot be read).
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One target of a `SecRule`, e.g. `!ARGS:foo`, `&TX:x`, `REQUEST_COOKIES:/^_ga/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariableRef {
    /// `!ARGS:foo`
    pub exclude: bool,
    /// `&ARGS`
    pub count: bool,
    /// As written, e.g. "REQUEST_HEADERS", "TX", "XML".
    pub collection: String,
    /// After the first ':' verbatim, e.g. "User-Agent", "/^foo/", "/*";
    /// `'/x/'` has its surrounding single quotes stripped.
    pub selector: Option<String>,
}

/// The operator of a `SecRule`, e.g. `!@rx ^\d+$`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorRef {
    /// `!@rx ...`
    pub negated: bool,
    /// Without '@', e.g. "rx", "pmFromFile", "detectSQLi"; "rx" when the
    /// operator string has no '@'.
    pub name: String,
    /// The rest after the name and one space, with `\"` unescaped and every
    /// other backslash kept.
    pub argument: String,
}

/// One action, e.g. `setvar:'tx.a=+%{tx.b}'` is name "setvar", value "tx.a=+%{tx.b}".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRef {
    pub name: String,
    /// Single quotes stripped, `\'` unescaped; `None` for `chain`, `pass`, ...
    pub value: Option<String>,
}

/// A `SecRule` or `SecAction`, with its chain folded in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecRule {
    pub location: Location,
    /// Empty for `SecAction`.
    pub variables: Vec<VariableRef>,
    /// `SecAction`: name "unconditionalMatch", argument "".
    pub operator: OperatorRef,
    pub actions: Vec<ActionRef>,
    /// The next rule when this one has the `chain` action.
    pub chained: Option<Box<SecRule>>,
}

impl SecRule {
    /// The first action named `name` (case-insensitive).
    pub fn action(&self, name: &str) -> Option<&ActionRef> {
        self.actions
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The value of the `id` action, when present.
    pub fn id(&self) -> Option<&str> {
        self.action("id").and_then(|a| a.value.as_deref())
    }

    /// Whether this rule has the `chain` action.
    pub fn has_chain(&self) -> bool {
        self.action("chain").is_some()
    }

    /// Number of rules chained after this one (0 for an unchained rule).
    pub fn chain_len(&self) -> usize {
        let mut n = 0;
        let mut cur = self.chained.as_deref();
        while let Some(r) = cur {
            n += 1;
            cur = r.chained.as_deref();
        }
        n
    }
}

/// One configuration directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    /// SecRule and SecAction (chains already folded).
    Rule(SecRule),
    /// SecMarker.
    Marker { location: Location, name: String },
    /// SecDefaultAction.
    DefaultAction {
        location: Location,
        actions: Vec<ActionRef>,
    },
    /// Every other directive (SecRuleEngine, SecRequestBodyAccess, SecRuleRemoveById, SecRuleRemoveByTag,
    /// SecRuleUpdateTargetById, SecRuleUpdateTargetByTag, SecComponentSignature, SecRequestBodyLimit, ...):
    /// name as written and the arguments split like a shell would (quotes
    /// removed, `\"` unescaped; other backslashes kept, as Apache does).
    Other {
        location: Location,
        name: String,
        args: Vec<String>,
    },
}

impl Directive {
    /// Where the directive starts.
    pub fn location(&self) -> &Location {
        match self {
            Directive::Rule(r) => &r.location,
            Directive::Marker { location, .. }
            | Directive::DefaultAction { location, .. }
            | Directive::Other { location, .. } => location,
        }
    }
}

/// A SecLang syntax error, located in a file.
#[derive(Debug)]
pub struct ParseError {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for ParseError {}
