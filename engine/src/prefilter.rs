//! The cross-rule literal prefilter: which regex conditions can possibly
//! match a value, found with one automaton scan instead of one regex run
//! per rule.
//!
//! Why: OWASP CRS runs a few hundred regexes over every argument, header and
//! cookie. Each regex has its own literal prefilter inside regex-automata,
//! but a regex run that finds nothing still costs a call, a cache checkout
//! and a scan of the value, per rule. Most CRS regexes can only match where
//! one of a few literals occurs (`union`, `<script`, `javascript:`), so the
//! engine gathers those literals from every condition that reads values
//! through the same transform chain into one Aho-Corasick automaton, scans
//! each transformed value once, and runs only the regexes whose literals
//! were seen. One automaton per chain, not per (collection, chain): CRS
//! applies the same chain to ARGS, ARGS_NAMES, cookies and headers alike,
//! and per-collection automata held the same literals several times over.
//! Measured in bench/README.md.
//!
//! Soundness: a condition is only skipped when its regex cannot match. Its
//! literals are regex-syntax's prefix (or suffix) literals, of which every
//! match starts (or ends) with one (see
//! [`crate::operator::rx::Rx::take_required_literals`]), and the automaton
//! ignores ASCII case, which only lets more values through.
//! Negated and `multiMatch` conditions, counted (`&ARGS`) and transaction
//! targets never consult the prefilter.

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};

use crate::operator::Operator;
use crate::rule::{ChainId, Rule};

/// Longer values are not scanned: the regexes' own prefilters search them
/// with SIMD (Teddy, memchr), faster per byte than this byte-at-a-time
/// automaton walk, so skipping a few regex runs no longer pays. Measured
/// with criterion on the 64 KB upload: +32% when scanned.
const MAX_SCANNED_BYTES: usize = 2048;

/// A chain read by fewer regex conditions gets no automaton: scanning every
/// value to skip one or two regex runs costs more than it saves (callgrind,
/// built-in rules with about two conditions per chain: +5.8% instructions
/// per rule on the GET mix with an automaton for every chain). Five, not
/// four, since case-folded and suffix literals put more regexes behind the
/// prefilter: at four a built-in chain of four got an automaton, +5.1% on
/// the built-in GET, for −2% on CRS's JSON mix.
const MIN_CONDITIONS_PER_CHAIN: usize = 5;

/// One automaton per transform chain over the literals of every condition
/// reading request values through that chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefilter {
    groups: HashMap<ChainId, Group>,
    /// Conditions with literals; the width of every [`Seen`] set.
    conditions: usize,
}

#[derive(Clone, Debug)]
struct Group {
    automaton: NFA,
    start: StateID,
    /// For each literal (automaton pattern), the conditions that need it.
    owners: Vec<Vec<u32>>,
}

/// The prefilter conditions whose literals occur in one value.
#[derive(Clone, Debug)]
pub(crate) enum Seen {
    /// No automaton for this chain: every condition may match.
    All,
    /// No literal occurs (the common case, kept without allocating).
    Nothing,
    /// A bit per condition id.
    Some(Box<[u64]>),
}

impl Seen {
    /// May condition `id` match this value?
    pub(crate) fn may_match(&self, id: u32) -> bool {
        match self {
            Seen::All => true,
            Seen::Nothing => false,
            Seen::Some(bits) => {
                let (word, bit) = (id as usize / 64, id % 64);
                bits.get(word).is_none_or(|w| w & (1 << bit) != 0)
            }
        }
    }
}

/// One chain's automaton, looked up once per condition and target rather
/// than per value.
#[derive(Clone, Copy)]
pub(crate) struct GroupRef<'p> {
    group: Option<&'p Group>,
    words: usize,
}

/// Literals gathered for one group while the prefilter is built.
#[derive(Default)]
struct GroupBuilder {
    literals: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
    owners: Vec<Vec<u32>>,
}

impl Prefilter {
    /// Takes the literals of every eligible condition, numbers those
    /// conditions (`Condition::prefilter`) and builds the automata. A group
    /// whose automaton cannot be built is left out: its values then pass
    /// every condition, as without a prefilter.
    pub(crate) fn build(rules: &mut [Rule]) -> Prefilter {
        // First the eligible conditions and their literals, then the ids:
        // only chains with enough conditions get an automaton.
        let mut candidates: Vec<(usize, usize, Vec<Vec<u8>>)> = Vec::new();
        let mut per_chain: HashMap<ChainId, usize> = HashMap::new();
        for (r, rule) in rules.iter_mut().enumerate() {
            for (c, condition) in rule.conditions.iter_mut().enumerate() {
                condition.prefilter = None;
                if condition.negate || condition.multi_match {
                    continue;
                }
                let reads_request = condition
                    .targets
                    .iter()
                    .any(|t| !t.count && !t.collection.is_dynamic());
                if !reads_request {
                    continue;
                }
                let Operator::Rx(rx) = &mut condition.operator else {
                    continue;
                };
                let Some(literals) = rx.take_required_literals() else {
                    continue;
                };
                *per_chain.entry(condition.chain).or_default() += 1;
                candidates.push((r, c, literals));
            }
        }
        let mut builders: HashMap<ChainId, GroupBuilder> = HashMap::new();
        let mut next: u32 = 0;
        for (r, c, literals) in candidates {
            let condition = &mut rules[r].conditions[c];
            if per_chain[&condition.chain] < MIN_CONDITIONS_PER_CHAIN {
                continue;
            }
            let id = next;
            next += 1;
            condition.prefilter = Some(id);
            let group = builders.entry(condition.chain).or_default();
            for literal in literals {
                let at = match group.index.get(&literal) {
                    Some(at) => *at,
                    None => {
                        group.literals.push(literal.clone());
                        group.owners.push(Vec::new());
                        group.index.insert(literal, group.literals.len() - 1);
                        group.literals.len() - 1
                    }
                };
                group.owners[at].push(id);
            }
        }
        let groups = builders
            .into_iter()
            .filter_map(|(key, b)| {
                // A contiguous NFA walked byte by byte in `scan`: every
                // occurrence of every literal is wanted, and with
                // `Standard` semantics each state lists all literals ending
                // there. The crate's overlapping iterator does the same
                // walk at several times the instructions per byte
                // (callgrind). A DFA took 2.2 MiB for CRS against 311 KiB
                // for the NFA (23 chains then), for no measurable speed difference
                // (criterion, request mixes).
                let automaton = NFA::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&b.literals)
                    .ok()?;
                let start = automaton.start_state(Anchored::No).ok()?;
                Some((
                    key,
                    Group {
                        automaton,
                        start,
                        owners: b.owners,
                    },
                ))
            })
            .collect();
        Prefilter {
            groups,
            conditions: next as usize,
        }
    }

    /// The automaton for values after `chain`.
    pub(crate) fn group(&self, chain: ChainId) -> GroupRef<'_> {
        GroupRef {
            group: self.groups.get(&chain),
            words: self.conditions.div_ceil(64),
        }
    }
}

impl Prefilter {
    /// Conditions it covers, automata, and their heap bytes: reported when
    /// a ruleset loads.
    pub(crate) fn stats(&self) -> PrefilterStats {
        PrefilterStats {
            conditions: self.conditions,
            automata: self.groups.len(),
            bytes: self
                .groups
                .values()
                .map(|g| {
                    g.automaton.memory_usage() + g.owners.iter().map(|o| o.len() * 4).sum::<usize>()
                })
                .sum(),
        }
    }
}

/// What [`Prefilter::stats`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefilterStats {
    /// Regex conditions that are skipped when none of their literals occurs.
    pub conditions: usize,
    /// One per transform chain those conditions use.
    pub automata: usize,
    /// Heap bytes of the automata and their literal-to-condition tables.
    pub bytes: usize,
}

impl GroupRef<'_> {
    /// Which of the group's conditions may match `value` (already
    /// transformed by the group's chain).
    pub(crate) fn scan(&self, value: &[u8]) -> Seen {
        let Some(group) = self.group else {
            return Seen::All;
        };
        if value.len() > MAX_SCANNED_BYTES {
            return Seen::All;
        }
        let mut seen: Option<Box<[u64]>> = None;
        let nfa = &group.automaton;
        let mut state = group.start;
        for &byte in value {
            state = nfa.next_state(Anchored::No, state, byte);
            if nfa.is_special(state) && nfa.is_match(state) {
                for i in 0..nfa.match_len(state) {
                    let literal = nfa.match_pattern(state, i).as_usize();
                    let bits =
                        seen.get_or_insert_with(|| vec![0u64; self.words].into_boxed_slice());
                    for &id in &group.owners[literal] {
                        bits[id as usize / 64] |= 1 << (id % 64);
                    }
                }
            }
        }
        seen.map_or(Seen::Nothing, Seen::Some)
    }
}
