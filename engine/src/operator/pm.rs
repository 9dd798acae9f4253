//! `@pm`: phrase matching with one Aho-Corasick automaton per rule.
//!
//! Why: CRS lists hundreds of phrases per rule (scanner names, PHP function
//! names, file extensions); one pass over the value finds any of them, in time
//! linear in the value whatever the number of phrases.
//!
//! ModSecurity semantics followed: phrases match anywhere in the value, ASCII
//! case-insensitively (`SELECT` finds `select` and `SeLeCt`; bytes above 0x7F
//! compare exactly, as ModSecurity's `tolower` in the C locale does). The
//! phrases are bytes: no Unicode case folding, no normalisation. The reported
//! span is the leftmost occurrence; when several phrases start there the one
//! listed first wins (`MatchKind::LeftmostFirst`). Splitting ModSecurity's
//! single space-separated parameter into phrases is the rule compiler's job.
//!
//! Limits: aho-corasick picks the automaton (a DFA for short lists, a
//! contiguous NFA for long ones), which keeps memory proportional to the total
//! phrase length rather than phrases × 256. Empty phrases are dropped (one
//! would match every value); a list with no phrase left is an error.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::required_bytes::{self, RequiredBytes};
use super::OpMatch;

/// Heap bytes past which a list gets the contiguous NFA instead of the DFA
/// aho-corasick picks for lists of up to 100 phrases: a DFA's size grows
/// with the phrases' length times the byte classes, and CRS's web-shell
/// list (74 phrases of 73 bytes on average) took 2.48 MB in every VM,
/// a third of all CRS's phrase automata; its NFA takes 103 KB. (CRS's
/// scanner list, 78 short phrases in a 294 KB DFA, gets an NFA too.)
const MAX_PHRASE_DFA_BYTES: usize = 256 * 1024;

/// A compiled `@pm`.
#[derive(Clone, Debug)]
pub struct Pm {
    automaton: AhoCorasick,
    /// Bytes every phrase holds one of, when rare: a value with none holds
    /// no phrase, known without walking the automaton (CRS's path and file
    /// lists run on every argument, most holding no `.`, `/` or `_`).
    required_bytes: Option<RequiredBytes>,
    /// The phrases, until the engine takes them for its chain's literal
    /// automaton (see [`crate::prefilter`]): there one walk of the value
    /// tells several lists, and the regexes beside them, which may match.
    phrases: Option<Vec<Vec<u8>>>,
}

impl Pm {
    /// Builds the automaton over the non-empty phrases.
    ///
    /// # Errors
    /// When no non-empty phrase is given, or aho-corasick cannot build the
    /// automaton (its state ids would overflow).
    pub fn new(phrases: &[String]) -> Result<Pm, String> {
        let phrases: Vec<&[u8]> = phrases
            .iter()
            .map(|p| p.as_bytes())
            .filter(|p| !p.is_empty())
            .collect();
        if phrases.is_empty() {
            return Err("needs at least one non-empty phrase".to_string());
        }
        let build = |kind: Option<AhoCorasickKind>| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostFirst)
                .kind(kind)
                .build(&phrases)
                .map_err(|e| format!("phrase automaton: {e}"))
        };
        let mut automaton = build(None)?;
        if automaton.memory_usage() > MAX_PHRASE_DFA_BYTES {
            automaton = build(Some(AhoCorasickKind::ContiguousNFA))?;
        }
        Ok(Pm {
            automaton,
            required_bytes: required_bytes::for_phrases(&phrases),
            phrases: Some(phrases.iter().map(|p| p.to_vec()).collect()),
        })
    }

    /// The non-empty phrases, for the engine's prefilter; `None` on later
    /// calls.
    pub(crate) fn take_phrases(&mut self) -> Option<Vec<Vec<u8>>> {
        self.phrases.take()
    }

    /// Heap bytes of the phrase automaton, for `palisade compile`'s summary.
    pub fn memory_usage(&self) -> usize {
        self.automaton.memory_usage()
    }

    /// Bytes every phrase holds one of, if rare (see [`Pm::find`]).
    pub(crate) fn required_bytes(&self) -> Option<&RequiredBytes> {
        self.required_bytes.as_ref()
    }

    /// The leftmost phrase occurrence in `value`, if any.
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        if self
            .required_bytes
            .as_ref()
            .is_some_and(|set| !set.found_in(value))
        {
            return None;
        }
        self.automaton
            .find(value)
            .map(|m| OpMatch::at(m.start(), m.end()))
    }
}
