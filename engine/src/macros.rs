//! Macro expansion: SecLang's `%{tx.score}`, `%{MATCHED_VAR}`,
//! `%{request_headers.host}` inside `setvar` values and names, messages and
//! operator arguments (`@ge %{tx.inbound_anomaly_score_threshold}`).
//!
//! A [`Template`] is parsed once when the ruleset loads; expanding it at
//! request time is a walk over literal and variable parts, and a template
//! without macros is returned as it is, without a copy.

use std::borrow::Cow;
use std::fmt;

use crate::variable::Collection;

/// What a `%{...}` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacroVar {
    /// `%{tx.name}`: a transaction variable (name lowercased).
    Tx(Vec<u8>),
    /// `%{MATCHED_VAR}`: the value the previous condition matched.
    MatchedVar,
    /// `%{MATCHED_VAR_NAME}`: its name, `ARGS:id`.
    MatchedVarName,
    /// `%{rule.id}`, `%{rule.msg}` and the like.
    Rule(Vec<u8>),
    /// Any request collection, optionally one member: `%{request_headers.host}`.
    Request(Collection, Option<Vec<u8>>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(Vec<u8>),
    Var(MacroVar),
}

/// A string with `%{...}` macros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// Where macros get their values.
pub trait MacroSource {
    /// The value of one macro variable; `None` expands to nothing, as in
    /// ModSecurity.
    fn lookup(&self, var: &MacroVar) -> Option<Cow<'_, [u8]>>;
}

impl Template {
    /// Parses a string. Text outside `%{...}` is kept byte for byte.
    ///
    /// # Errors
    /// An unterminated `%{`, an empty name, or a collection this engine does
    /// not know, naming the macro.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("%{") {
            if start > 0 {
                parts.push(Part::Text(rest.as_bytes()[..start].to_vec()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("`{text}`: `%{{` without a closing `}}`"))?;
            parts.push(Part::Var(
                parse_var(&after[..end]).map_err(|e| format!("`{text}`: {e}"))?,
            ));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.as_bytes().to_vec()));
        }
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    }

    /// True when there is nothing to expand.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The variables this template reads.
    pub fn vars(&self) -> impl Iterator<Item = &MacroVar> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Text(_) => None,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Expands every macro from `source`.
    pub fn expand<'a>(&'a self, source: &'a dyn MacroSource) -> Cow<'a, [u8]> {
        let parts = match self.parts.as_slice() {
            [] => return Cow::Borrowed(b""),
            [Part::Text(t)] => return Cow::Borrowed(t),
            // A lone variable (`@within %{tx.restricted_headers_basic}`,
            // tested once per header by CRS 920450): its value as the
            // source holds it, not a copy.
            [Part::Var(v)] => return source.lookup(v).unwrap_or(Cow::Borrowed(b"")),
            parts => parts,
        };
        let mut out = Vec::with_capacity(self.source.len());
        expand_parts(parts, source, &mut out);
        Cow::Owned(out)
    }

    /// Expands every macro from `source`, appending to `out`: for a caller
    /// that keeps a buffer (the engine's `setvar`, about 70 per CRS GET,
    /// most of them `%{tx.a}`-with-text that [`Template::expand`] must
    /// allocate for).
    pub fn expand_into(&self, source: &dyn MacroSource, out: &mut Vec<u8>) {
        expand_parts(&self.parts, source, out);
    }
}

fn expand_parts(parts: &[Part], source: &dyn MacroSource, out: &mut Vec<u8>) {
    for part in parts {
        match part {
            Part::Text(t) => out.extend_from_slice(t),
            Part::Var(v) => {
                if let Some(value) = source.lookup(v) {
                    out.extend_from_slice(&value);
                }
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// `tx.score`, `TX.0`, `MATCHED_VAR`, `request_headers.host`, `rule.id`.
fn parse_var(name: &str) -> Result<MacroVar, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("empty macro `%{}`".to_string());
    }
    let (collection, member) = match name.split_once('.') {
        Some((c, m)) => (c, Some(m)),
        None => (name, None),
    };
    let lc = collection.to_ascii_lowercase();
    match (lc.as_str(), member) {
        ("tx", Some(m)) if !m.is_empty() => Ok(MacroVar::Tx(m.to_ascii_lowercase().into_bytes())),
        ("matched_var", None) => Ok(MacroVar::MatchedVar),
        ("matched_var_name", None) => Ok(MacroVar::MatchedVarName),
        ("rule", Some(m)) => Ok(MacroVar::Rule(m.to_ascii_lowercase().into_bytes())),
        _ => {
            let c = Collection::from_name(collection)
                .ok_or_else(|| format!("unknown variable `{collection}` in macro `%{{{name}}}`"))?;
            Ok(MacroVar::Request(
                c,
                member.map(|m| m.to_ascii_lowercase().into_bytes()),
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Fixed;

    impl MacroSource for Fixed {
        fn lookup(&self, var: &MacroVar) -> Option<Cow<'_, [u8]>> {
            match var {
                MacroVar::Tx(n) if n == b"score" => Some(Cow::Borrowed(b"7")),
                MacroVar::MatchedVarName => Some(Cow::Borrowed(b"ARGS:id")),
                MacroVar::Request(Collection::RequestHeaders, Some(h)) if h == b"host" => {
                    Some(Cow::Borrowed(b"example.com"))
                }
                _ => None,
            }
        }
    }

    #[test]
    fn expands_known_and_drops_unknown() {
        let t = Template::parse("score %{TX.Score} in %{MATCHED_VAR_NAME}%{tx.none}!").unwrap();
        assert!(!t.is_constant());
        assert_eq!(&*t.expand(&Fixed), b"score 7 in ARGS:id!");
        let h = Template::parse(".%{request_headers.host}").unwrap();
        assert_eq!(&*h.expand(&Fixed), b".example.com");
    }

    #[test]
    fn constant_is_borrowed() {
        let t = Template::parse("plain").unwrap();
        assert!(t.is_constant());
        assert!(matches!(t.expand(&Fixed), Cow::Borrowed(b"plain")));
    }

    #[test]
    fn errors_name_the_macro() {
        assert!(Template::parse("%{tx.a").unwrap_err().contains("closing"));
        assert!(Template::parse("%{nosuch.x}")
            .unwrap_err()
            .contains("nosuch"));
        assert!(Template::parse("%{}").unwrap_err().contains("empty"));
    }
}
