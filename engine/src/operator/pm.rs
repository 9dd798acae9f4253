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
        // Decided before building: DFAs built to be measured and thrown
        // away (CRS's three large lists) were 5% of CRS's load, 148M
        // instructions.
        let kind =
            (dfa_bytes(&phrases) > MAX_PHRASE_DFA_BYTES).then_some(AhoCorasickKind::ContiguousNFA);
        Ok(Pm {
            automaton: build(kind)?,
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

/// Heap bytes aho-corasick's DFA takes for `phrases`, matched ASCII
/// case-insensitively: a row of 4-byte transitions per state of the
/// phrases' trie, each row as wide as the byte classes the phrases'
/// bytes (in both cases) split 0..=255 into, rounded up to a power of
/// two. On CRS's 21 data files this is within 5% of the DFA's
/// `memory_usage()` but for one list (+36%), a list far over the limit.
fn dfa_bytes(phrases: &[&[u8]]) -> usize {
    let mut folded: Vec<Vec<u8>> = phrases.iter().map(|p| p.to_ascii_lowercase()).collect();
    folded.sort_unstable();
    // One state per distinct prefix, the empty one (the root) included.
    let mut states = 1;
    let mut previous: &[u8] = &[];
    for phrase in &folded {
        let shared = previous
            .iter()
            .zip(phrase)
            .take_while(|(a, b)| a == b)
            .count();
        states += phrase.len() - shared;
        previous = phrase;
    }
    // A class boundary falls on each side of every byte a transition uses.
    let mut boundary_after = [false; 256];
    for byte in folded.iter().flatten() {
        for b in [byte.to_ascii_lowercase(), byte.to_ascii_uppercase()] {
            if let Some(before) = b.checked_sub(1) {
                boundary_after[usize::from(before)] = true;
            }
            boundary_after[usize::from(b)] = true;
        }
    }
    let classes = 1 + boundary_after[..255].iter().filter(|&&b| b).count();
    states * classes.next_power_of_two() * 4
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `count` phrases of `len` bytes drawn from `alphabet` (a fixed
    /// sequence, so runs agree).
    fn phrases(count: usize, len: usize, alphabet: &[u8]) -> Vec<String> {
        let mut state = 7u32;
        (0..count)
            .map(|_| {
                (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        char::from(alphabet[(state >> 16) as usize % alphabet.len()])
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn dfa_size_is_estimated_within_a_tenth() {
        let lists = [
            phrases(20, 6, b"abcdefghij"),
            phrases(60, 12, b"abcdefghijklmnopqrstuvwxyz_./"),
            phrases(74, 70, b"ABCdef$()[];'\"=<>%/._-0123456789"),
        ];
        for list in &lists {
            let bytes: Vec<&[u8]> = list.iter().map(|p| p.as_bytes()).collect();
            let dfa = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostFirst)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&bytes)
                .unwrap();
            let (estimate, real) = (dfa_bytes(&bytes) as f64, dfa.memory_usage() as f64);
            assert!(
                (estimate / real - 1.0).abs() < 0.1,
                "estimate {estimate} against {real} for {} phrases of {} bytes",
                list.len(),
                list[0].len()
            );
        }
    }

    #[test]
    fn a_list_whose_dfa_would_be_large_gets_an_nfa_that_finds_the_same() {
        let long = phrases(74, 70, b"ABCdef$()[];'\"=<>%/._-0123456789");
        let short = phrases(20, 6, b"abcdefghij");
        let (long_pm, short_pm) = (Pm::new(&long).unwrap(), Pm::new(&short).unwrap());
        assert_eq!(long_pm.automaton.kind(), AhoCorasickKind::ContiguousNFA);
        assert_eq!(short_pm.automaton.kind(), AhoCorasickKind::DFA);
        let value = format!("x={}", long[40].to_ascii_uppercase());
        let found = long_pm.find(value.as_bytes()).unwrap();
        assert_eq!(found.span, Some((2, 72)));
    }
}
