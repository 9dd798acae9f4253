//! Operators: the test a rule applies to each (transformed) value. Names are
//! ModSecurity's (`@rx`, `@pm`, ...); one module per family, each with its
//! own vectors in `engine/tests/cases/operators/`.
//!
//! Operators are compiled once when a ruleset loads ([`Operator::compile`]) and
//! are immutable afterwards, so one compiled ruleset serves every request.
//! Regexes run on regex-automata in byte mode: linear time, no backtracking.

pub mod byte_range;
pub mod ip;
pub mod numeric;
pub mod pm;
pub(crate) mod required_bytes;
pub mod rx;
pub mod sqli;
pub mod strings;
pub mod validate;
pub mod xss;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::macros::{MacroSource, MacroVar, Template};
use crate::transform::triggers::ByteKinds;

/// An operator as written in a rule (and stored in the ruleset artifact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorSpec {
    /// Regular expression, matched anywhere in the value, byte mode.
    Rx(String),
    /// Any of these phrases, ASCII case-insensitive (Aho-Corasick).
    Pm(Vec<String>),
    Streq(String),
    Contains(String),
    BeginsWith(String),
    EndsWith(String),
    /// The value occurs inside this string (ModSecurity `@within`).
    Within(String),
    Eq(i64),
    Gt(i64),
    Ge(i64),
    Lt(i64),
    Le(i64),
    /// Matches when a byte falls *outside* these ranges, e.g. `"1-255"` or `"9,10,13,32-126"`.
    ValidateByteRange(String),
    /// Matches invalid `%XX` encoding.
    ValidateUrlEncoding,
    /// Matches invalid UTF-8.
    ValidateUtf8Encoding,
    /// Client address (or value) inside any of these addresses / CIDRs.
    IpMatch(Vec<String>),
    DetectSqli,
    DetectXss,
    Unconditional,
    /// A string or numeric operator whose argument holds `%{...}` macros,
    /// expanded per request (`@ge %{tx.inbound_anomaly_score_threshold}`).
    /// `name` is one of eq, gt, ge, lt, le, streq, contains, beginsWith,
    /// endsWith, within.
    Macro {
        name: String,
        argument: String,
    },
}

impl OperatorSpec {
    /// The ModSecurity name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            OperatorSpec::Rx(_) => "rx",
            OperatorSpec::Pm(_) => "pm",
            OperatorSpec::Streq(_) => "streq",
            OperatorSpec::Contains(_) => "contains",
            OperatorSpec::BeginsWith(_) => "beginsWith",
            OperatorSpec::EndsWith(_) => "endsWith",
            OperatorSpec::Within(_) => "within",
            OperatorSpec::Eq(_) => "eq",
            OperatorSpec::Gt(_) => "gt",
            OperatorSpec::Ge(_) => "ge",
            OperatorSpec::Lt(_) => "lt",
            OperatorSpec::Le(_) => "le",
            OperatorSpec::ValidateByteRange(_) => "validateByteRange",
            OperatorSpec::ValidateUrlEncoding => "validateUrlEncoding",
            OperatorSpec::ValidateUtf8Encoding => "validateUtf8Encoding",
            OperatorSpec::IpMatch(_) => "ipMatch",
            OperatorSpec::DetectSqli => "detectSQLi",
            OperatorSpec::DetectXss => "detectXSS",
            OperatorSpec::Unconditional => "unconditionalMatch",
            OperatorSpec::Macro { .. } => "macro",
        }
    }
}

/// Why an operator could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorError {
    pub operator: &'static str,
    pub message: String,
}

impl fmt::Display for OperatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}: {}", self.operator, self.message)
    }
}

impl std::error::Error for OperatorError {}

/// What matched, for the verdict's excerpt and `explain`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpMatch {
    /// Byte range of the matched fragment in the value, when the operator knows it.
    pub span: Option<(usize, usize)>,
    /// Operator-specific detail, e.g. the SQLi fingerprint.
    pub detail: Option<String>,
}

impl OpMatch {
    pub fn at(start: usize, end: usize) -> Self {
        OpMatch {
            span: Some((start, end)),
            detail: None,
        }
    }
    pub fn whole() -> Self {
        OpMatch::default()
    }
}

/// A compiled operator.
#[derive(Clone, Debug)]
pub enum Operator {
    Rx(rx::Rx),
    Pm(pm::Pm),
    Streq(Vec<u8>),
    Contains(Vec<u8>),
    BeginsWith(Vec<u8>),
    EndsWith(Vec<u8>),
    Within(Vec<u8>),
    Numeric(numeric::Comparison, i64),
    ValidateByteRange(byte_range::ByteRanges),
    ValidateUrlEncoding,
    ValidateUtf8Encoding,
    IpMatch(ip::IpSet),
    DetectSqli,
    DetectXss,
    Unconditional,
    Macro(MacroOperator),
}

/// Operators that take their argument from macros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroKind {
    Numeric(numeric::Comparison),
    Streq,
    Contains,
    BeginsWith,
    EndsWith,
    Within,
}

/// An operator compiled around a [`Template`] argument.
#[derive(Clone, Debug)]
pub struct MacroOperator {
    pub kind: MacroKind,
    pub argument: Template,
}

impl MacroOperator {
    fn evaluate(&self, value: &[u8], macros: &dyn MacroSource) -> Option<OpMatch> {
        let arg = self.argument.expand(macros);
        match self.kind {
            MacroKind::Numeric(cmp) => numeric::compare(cmp, value, numeric::parse_int(&arg)),
            MacroKind::Streq => strings::streq(value, &arg),
            MacroKind::Contains => strings::contains(value, &arg),
            MacroKind::BeginsWith => strings::begins_with(value, &arg),
            MacroKind::EndsWith => strings::ends_with(value, &arg),
            MacroKind::Within => strings::within(value, &arg),
        }
    }
}

/// A macro source with nothing in it, for operators evaluated out of a
/// transaction (tests, tools).
struct NoMacros;

impl MacroSource for NoMacros {
    fn lookup(&self, _: &MacroVar) -> Option<std::borrow::Cow<'_, [u8]>> {
        None
    }
}

impl Operator {
    /// Compiles a spec.
    ///
    /// # Errors
    /// An [`OperatorError`] naming the operator when a regex does not parse, a
    /// byte range or CIDR is malformed, or a phrase list is empty.
    pub fn compile(spec: &OperatorSpec) -> Result<Operator, OperatorError> {
        let err = |message: String| OperatorError {
            operator: spec.name(),
            message,
        };
        Ok(match spec {
            OperatorSpec::Rx(pattern) => Operator::Rx(rx::Rx::new(pattern).map_err(err)?),
            OperatorSpec::Pm(phrases) => Operator::Pm(pm::Pm::new(phrases).map_err(err)?),
            OperatorSpec::Streq(s) => Operator::Streq(s.as_bytes().to_vec()),
            OperatorSpec::Contains(s) => Operator::Contains(s.as_bytes().to_vec()),
            OperatorSpec::BeginsWith(s) => Operator::BeginsWith(s.as_bytes().to_vec()),
            OperatorSpec::EndsWith(s) => Operator::EndsWith(s.as_bytes().to_vec()),
            OperatorSpec::Within(s) => Operator::Within(s.as_bytes().to_vec()),
            OperatorSpec::Eq(n) => Operator::Numeric(numeric::Comparison::Eq, *n),
            OperatorSpec::Gt(n) => Operator::Numeric(numeric::Comparison::Gt, *n),
            OperatorSpec::Ge(n) => Operator::Numeric(numeric::Comparison::Ge, *n),
            OperatorSpec::Lt(n) => Operator::Numeric(numeric::Comparison::Lt, *n),
            OperatorSpec::Le(n) => Operator::Numeric(numeric::Comparison::Le, *n),
            OperatorSpec::ValidateByteRange(r) => {
                Operator::ValidateByteRange(byte_range::ByteRanges::parse(r).map_err(err)?)
            }
            OperatorSpec::ValidateUrlEncoding => Operator::ValidateUrlEncoding,
            OperatorSpec::ValidateUtf8Encoding => Operator::ValidateUtf8Encoding,
            OperatorSpec::IpMatch(list) => Operator::IpMatch(ip::IpSet::parse(list).map_err(err)?),
            OperatorSpec::DetectSqli => Operator::DetectSqli,
            OperatorSpec::DetectXss => Operator::DetectXss,
            OperatorSpec::Unconditional => Operator::Unconditional,
            OperatorSpec::Macro { name, argument } => {
                let kind = match name.as_str() {
                    "eq" => MacroKind::Numeric(numeric::Comparison::Eq),
                    "gt" => MacroKind::Numeric(numeric::Comparison::Gt),
                    "ge" => MacroKind::Numeric(numeric::Comparison::Ge),
                    "lt" => MacroKind::Numeric(numeric::Comparison::Lt),
                    "le" => MacroKind::Numeric(numeric::Comparison::Le),
                    "streq" => MacroKind::Streq,
                    "contains" => MacroKind::Contains,
                    "beginsWith" => MacroKind::BeginsWith,
                    "endsWith" => MacroKind::EndsWith,
                    "within" => MacroKind::Within,
                    other => {
                        return Err(err(format!(
                            "@{other} does not take macros in its argument; only string and numeric comparisons do"
                        )))
                    }
                };
                Operator::Macro(MacroOperator {
                    kind,
                    argument: Template::parse(argument).map_err(err)?,
                })
            }
        })
    }

    /// Bytes of which a value must hold one for this operator to match,
    /// when known and rare (`@rx`, `@pm`).
    pub(crate) fn required_bytes(&self) -> Option<&required_bytes::RequiredBytes> {
        match self {
            Operator::Rx(rx) => rx.required_bytes(),
            Operator::Pm(pm) => pm.required_bytes(),
            _ => None,
        }
    }

    /// Kinds of bytes of which a value must hold one for this operator to
    /// match, when every such byte has a kind of its own
    /// ([`ByteKinds::required`]): the engine passes over values, and whole
    /// collections, holding none. Under CRS PL1 `@validateByteRange 1-255`
    /// (920270), `@validateUtf8Encoding` (920250) and `@detectXSS`
    /// (941100) read every argument and argument name; almost none holds a
    /// NUL or a byte above 0x7f, and most hold none of `<`, `=`, `:`, `&`.
    pub(crate) fn required_kinds(&self) -> Option<ByteKinds> {
        match self {
            Operator::Rx(_) | Operator::Pm(_) => self.required_bytes()?.kinds(),
            // A value of allowed bytes only passes.
            Operator::ValidateByteRange(ranges) => ByteKinds::required(ranges.outside()),
            // ASCII is valid UTF-8.
            Operator::ValidateUtf8Encoding => ByteKinds::required(0x80..=0xff),
            // Only a `%` starts an escape.
            Operator::ValidateUrlEncoding => ByteKinds::required([b'%']),
            Operator::DetectXss => ByteKinds::required(xss::REQUIRED),
            _ => None,
        }
    }

    /// Tests one value. `None` means no match. Macro arguments expand to
    /// nothing here; rules use [`Operator::evaluate_in`].
    pub fn evaluate(&self, value: &[u8]) -> Option<OpMatch> {
        self.evaluate_in(value, &NoMacros)
    }

    /// Tests one value, expanding macro arguments from `macros`.
    pub fn evaluate_in(&self, value: &[u8], macros: &dyn MacroSource) -> Option<OpMatch> {
        match self {
            Operator::Macro(op) => op.evaluate(value, macros),
            Operator::Rx(rx) => rx.find(value),
            Operator::Pm(pm) => pm.find(value),
            Operator::Streq(s) => strings::streq(value, s),
            Operator::Contains(s) => strings::contains(value, s),
            Operator::BeginsWith(s) => strings::begins_with(value, s),
            Operator::EndsWith(s) => strings::ends_with(value, s),
            Operator::Within(s) => strings::within(value, s),
            Operator::Numeric(cmp, n) => numeric::compare(*cmp, value, *n),
            Operator::ValidateByteRange(ranges) => ranges.find_outside(value),
            Operator::ValidateUrlEncoding => validate::url_encoding(value),
            Operator::ValidateUtf8Encoding => validate::utf8_encoding(value),
            Operator::IpMatch(set) => set.find(value),
            Operator::DetectSqli => sqli::detect(value),
            Operator::DetectXss => xss::detect(value),
            Operator::Unconditional => Some(OpMatch::whole()),
        }
    }
}
