//! `@pm`: phrase matching on one Aho-Corasick automaton per rule, ASCII
//! case-insensitive like ModSecurity. One pass over the value finds any of
//! thousands of phrases.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::OpMatch;

/// A compiled `@pm`.
#[derive(Clone, Debug)]
pub struct Pm {
    automaton: AhoCorasick,
}

impl Pm {
    /// Builds the automaton; empty phrases are ignored.
    ///
    /// # Errors
    /// When no non-empty phrase is given, or the automaton cannot be built.
    pub fn new(phrases: &[String]) -> Result<Pm, String> {
        let phrases: Vec<&str> = phrases
            .iter()
            .map(String::as_str)
            .filter(|p| !p.is_empty())
            .collect();
        if phrases.is_empty() {
            return Err("needs at least one non-empty phrase".to_string());
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            // A DFA is fastest and, for rule-sized lists, small.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&phrases)
            .or_else(|_| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&phrases)
            })
            .map_err(|e| format!("phrase automaton: {e}"))?;
        Ok(Pm { automaton })
    }

    /// The first phrase occurrence, if any.
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        self.automaton
            .find(value)
            .map(|m| OpMatch::at(m.start(), m.end()))
    }
}
