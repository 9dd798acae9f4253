//! The cross-rule prefilter: which regex and phrase-list conditions can
//! possibly match a value, found with one scan per (value, transform chain)
//! instead of one regex or phrase automaton run per rule.
//!
//! Why: OWASP CRS runs a few hundred regexes over every argument, header and
//! cookie. Each regex has its own literal prefilter inside regex-automata,
//! but a regex run that finds nothing still costs a call, a cache checkout
//! and a scan of the value, per rule. So every regex condition reading
//! request values through the same transform chain is put into one scanner
//! for that chain; each transformed value is scanned once, and only the
//! conditions the scan lets through run their own regex (to find the span
//! the verdict reports). One scanner per chain, not per (collection, chain):
//! CRS applies the same chain to ARGS, ARGS_NAMES, cookies and headers
//! alike. Two kinds:
//!
//! - **Regex set** (the default): all the chain's regexes in one lazy DFA
//!   that says which of them match. A plain search first asks whether any
//!   does, at a few instructions per byte; only a value that matches
//!   something pays for the overlapping walk that says which. Exact, so a
//!   benign value runs none of the chain's regexes.
//! - **Literal automaton**, for a chain whose set would exceed
//!   `MAX_SET_NFA_STATES` (3,000), or that has no set and two phrase
//!   lists or more: an Aho-Corasick automaton over literals of which every
//!   match of a condition's regex holds one (`union`, `<script`), and over
//!   the chain's `@pm` phrases; a condition runs only when one of its
//!   literals occurs. A list's phrases are its literals: CRS PL1's JSON mix
//!   walked 2,100 values a request with its lists' own automata (a tenth of
//!   its instructions), mostly finding nothing. Every such chain shares
//!   one automaton, so that a value its chains leave as received is walked
//!   once for all of them, not once per chain. Beside it, the chain's
//!   regexes with no literals to screen them (and no rare byte they
//!   need) go into a set of their own that says only whether any of them
//!   matches: CRS's busybox-evasion regexes, five at PL1 with no usable
//!   literal, ran one by one on every argument.
//!
//! Measured in bench/README.md.
//!
//! Soundness: a condition is only skipped when its regex cannot match. A
//! set holds the same pattern, parsed with the same byte-mode syntax
//! ([`crate::operator::rx::syntax_config`]), and reports every pattern that
//! matches anywhere in the value (`MatchKind::All`), or, for the set beside
//! the automaton, lets all its conditions through when any matches; when
//! its lazy DFA gives up on a value, every condition runs. Literals are regex-syntax's prefix
//! (or suffix) literals, of which every match starts (or ends) with one, or
//! failing those literals every match holds one of somewhere (see
//! [`crate::operator::rx::Rx::take_required_literals`]), and the automaton
//! ignores ASCII case, which only lets more values through; a phrase list
//! matches exactly when one of its phrases occurs in any ASCII case, which
//! is what the automaton reports.
//! A `multiMatch` condition consults the literal automaton only for the
//! value as received (its tests after each step run as before). Negated
//! conditions, counted (`&ARGS`) and transaction targets never consult the
//! prefilter; values over `MAX_SCANNED_BYTES` are not scanned.

use std::collections::HashMap;
use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::{Pool, PoolGuard};
use regex_automata::{Input, PatternSet};

use crate::operator::required_bytes::RequiredBytes;
use crate::operator::rx::syntax_config;
use crate::operator::Operator;
use crate::rule::{ChainId, Rule};

mod walks;

pub(crate) use walks::Walks;

/// Longer values are not scanned: the regexes' own prefilters search them
/// with SIMD (Teddy, memchr), faster per byte than this byte-at-a-time
/// automaton walk, so skipping a few regex runs no longer pays. Measured
/// with criterion on the 64 KB upload: +32% when scanned.
const MAX_SCANNED_BYTES: usize = 2048;

/// A chain read by fewer regex conditions gets no walk of its own (at most
/// the shared walk of values it leaves as received, [`Group::AsReceived`]):
/// scanning every value to skip one or two regex runs costs more than it
/// saves (callgrind, built-in rules with about two conditions per chain:
/// +5.8% instructions per rule on the GET mix with an automaton for every
/// chain). Five, not
/// four, since case-folded and suffix literals put more regexes behind the
/// prefilter: at four a built-in chain of four got an automaton, +5.1% on
/// the built-in GET, for −2% on CRS's JSON mix.
const MIN_CONDITIONS_PER_CHAIN: usize = 5;

/// Two phrase lists on a chain get an automaton whatever the regexes: each
/// list's own automaton walks the value as the chain's would, so one walk
/// replaces two or more.
const MIN_PHRASE_LISTS_PER_CHAIN: usize = 2;

/// A chain's regex set is kept only while its NFA has at most this many
/// states; a larger one gets the literal automaton instead. Each new state
/// of a lazy DFA costs work in proportion to the NFA: CRS's largest chain
/// (119 regexes, 57,094 states, 2 MB) took about 80,000 instructions per
/// state, and with it and the 64-regex chain (13,933 states) as sets CRS's
/// GET ran 37% more instructions (callgrind, one run; patterns that can
/// match the empty string were still in the sets then), the sets still
/// building states after 200 requests. The cap is counted in states, not
/// bytes, so that native builds (tests, benchmarks) and palisade.wasm split
/// the chains alike: a byte limit let wasm32's smaller NFAs through where
/// x86-64's were refused. At 3,000 the sets are the ones bench/README.md
/// measures: every built-in chain (at most 1,602 states) and 11 of CRS's,
/// not its chains of 8,137 (6 regexes) and 4,100 states (17), which were
/// not measured as sets.
const MAX_SET_NFA_STATES: usize = 3_000;

/// A chain too large for one set puts the regexes its literals cannot
/// screen into a set of their own (see [`rest_candidates`]) while that
/// set's NFA has at most this many states. CRS's busybox-evasion regexes
/// (932230 to 932260 and 932340 at PL1, each thousands of states) were run
/// one by one on every argument; their chain's set, with three PL2 and PL3
/// regexes beside them, has 17,378 states. A lazy DFA's walk costs the same
/// per byte whatever the NFA's size, once its states are built: the cost
/// is memory, each VM holding about 2.9 MiB more with CRS (the NFA and the
/// set's cache, capped like every set's at `SET_CACHE_BYTES`), flat over a
/// soak (bench/README.md).
const MAX_REST_SET_NFA_STATES: usize = 20_000;

/// Building the NFA stops past this many bytes, so a chain far over
/// [`MAX_SET_NFA_STATES`] is refused before it is built whole (CRS's
/// largest takes 2 MB); well above what 3,000 states take on any target.
const MAX_SET_BUILD_BYTES: usize = 1024 * 1024;

/// The same for a set beside the literal automaton, over
/// [`MAX_REST_SET_NFA_STATES`]: building CRS's set of 17,378 states takes
/// more than 1 MB on the way (666 KB when built, on x86-64).
const MAX_REST_SET_BUILD_BYTES: usize = 2 * 1024 * 1024;

/// A regex whose shortest match is one byte stays out of a chain's set of
/// unscreened regexes: such a regex (CRS's `.` for counting argument names,
/// `^[^;\s]+` for a content type) matches nearly every value, and as the
/// set only says whether any of its regexes matches, it would then let
/// every value through to all of them (callgrind, CRS PL1: JSON 4 KB +19%
/// against without them).
const MIN_REST_MATCH_LEN: usize = 2;

/// A set pays for itself from two regexes: one scan, nearly always the
/// cheap "does anything match" search, instead of two regex runs. Built-in
/// GET: the same instructions per request with sets from two conditions as
/// from five, JSON 4 KB −21% against from five (callgrind).
const MIN_CONDITIONS_PER_SET: usize = 2;

/// Cap on each regex set's lazy DFA cache, per thread: the same as each
/// regex's own ([`crate::operator::rx::LAZY_DFA_CACHE_BYTES`]).
/// Like those, a set's cache grows with the states its scans visit; the
/// soak's figures are in bench/README.md (Memory).
const SET_CACHE_BYTES: usize = 2 * 1024 * 1024;

/// One scanner per transform chain over the conditions reading request
/// values through that chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefilter {
    /// Indexed by chain id: looked up for every (condition, target), where
    /// a std `HashMap` (SipHash) cost the built-in GET 3% (callgrind).
    groups: Vec<Option<Group>>,
    /// The one literal automaton, over the literals of every chain whose
    /// group is [`Group::Literals`] or [`Group::AsReceived`] and of
    /// multiMatch conditions.
    literals: Option<Literals>,
    /// Conditions behind a scanner; the width of every [`Seen`] set.
    conditions: usize,
    /// How many of them are phrase lists (`@pm`), not regexes.
    phrase_lists: usize,
    /// How many are multiMatch conditions, screened on the value as
    /// received only ([`Prefilter::as_received_scanner`]).
    multi_match: usize,
}

/// A chain's scanner.
// One per transform chain, built once: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Group {
    /// The chain's regexes themselves, exact.
    Set(RegexSet),
    /// For a chain whose set would be too large, or that has phrase lists:
    /// the literal automaton every such chain shares, and beside it a set
    /// of the chain's regexes that have no literals (see
    /// [`MAX_REST_SET_NFA_STATES`]), if it has two or more.
    Literals(Option<RegexSet>),
    /// For a chain with too few literal conditions to be walked for
    /// ([`MIN_CONDITIONS_PER_CHAIN`]): the literal automaton's scan of a
    /// value the chain left as received, which every literal chain shares
    /// (the value is walked once for all of them); a value the chain
    /// changed is not walked, and its conditions run one by one.
    AsReceived,
}

/// Literals of which each condition needs one: a value holding none of a
/// condition's literals cannot match it.
#[derive(Clone, Debug)]
struct Literals {
    automaton: NFA,
    start: StateID,
    /// For each literal (automaton pattern), the conditions that need it.
    owners: Vec<Vec<u32>>,
}

/// Every regex condition of a chain in one lazy DFA that reports which of
/// them match a value, in a single pass: a condition outside the set cannot
/// match, one inside runs its own regex only to find the span it reports.
struct RegexSet {
    dfa: DFA,
    /// The condition id of each pattern.
    ids: Vec<u32>,
    /// Bytes of which a value must hold one for any pattern to match (see
    /// [`RequiredBytes::union`]): a value with none is not walked.
    required: Option<RequiredBytes>,
    /// Says which patterns match; else only whether any does, and a value
    /// where one does may match them all.
    exact: bool,
    /// The lazy DFA's transition cache (kept warm across requests: building
    /// states is what a lazy DFA costs) and a pattern set, per thread.
    scratch: Pool<Scratch, NewScratch>,
}

struct Scratch {
    cache: Cache,
    matched: PatternSet,
}

type NewScratch = Box<dyn Fn() -> Scratch + Send + Sync + UnwindSafe + RefUnwindSafe>;

impl RegexSet {
    fn new(dfa: DFA, ids: Vec<u32>, required: Option<RequiredBytes>, exact: bool) -> RegexSet {
        let for_pool = dfa.clone();
        let scratch: NewScratch = Box::new(move || Scratch {
            cache: for_pool.create_cache(),
            matched: PatternSet::new(for_pool.pattern_len()),
        });
        RegexSet {
            dfa,
            ids,
            required,
            exact,
            scratch: Pool::new(scratch),
        }
    }

    /// Is condition `id` one of this set's? (A set's conditions are
    /// numbered together, one after another.)
    fn owns(&self, id: u32) -> bool {
        self.ids.first().is_some_and(|&first| {
            id.checked_sub(first)
                .and_then(|offset| usize::try_from(offset).ok())
                .is_some_and(|offset| offset < self.ids.len())
        })
    }
}

impl Clone for RegexSet {
    /// A clone gets its own caches.
    fn clone(&self) -> Self {
        RegexSet::new(
            self.dfa.clone(),
            self.ids.clone(),
            self.required.clone(),
            self.exact,
        )
    }
}

impl fmt::Debug for RegexSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegexSet")
            .field("patterns", &self.ids.len())
            .field("nfa_bytes", &self.dfa.get_nfa().memory_usage())
            .finish()
    }
}

/// The prefilter conditions that may match one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// No scanner for this chain (or the value was not scanned): every
    /// condition may match.
    All,
    /// None may (the common case).
    Nothing,
    /// A bit per condition id: the scanner's `words` words of a
    /// collection's [`SeenBits`] from this index on.
    At(u32),
}

/// The marks of every scan of one collection's values, back to back: one
/// kept vector rather than a boxed bitset per value with a mark (and a
/// clone per collection summary). Those were 522 of the 1,310 allocations
/// of a 4 KB JSON body under CRS PL1 (callgrind), where a value's scan
/// marks 10 to 14 conditions.
pub(crate) type SeenBits = Vec<u64>;

impl Seen {
    /// May condition `id` match this value? `bits` are the collection's.
    pub(crate) fn may_match(self, id: u32, bits: &[u64]) -> bool {
        match self {
            Seen::All => true,
            Seen::Nothing => false,
            Seen::At(start) => {
                let word = start as usize + id as usize / 64;
                bits.get(word).is_none_or(|w| w & (1 << (id % 64)) != 0)
            }
        }
    }

    /// Adds what another value may match: afterwards a condition may match
    /// if it may match either. Both are marks in `bits`, `words` wide.
    pub(crate) fn merge(&mut self, other: Seen, bits: &mut SeenBits, words: usize) {
        *self = match (*self, other) {
            (Seen::All, _) | (_, Seen::Nothing) => return,
            (_, Seen::All) => Seen::All,
            (Seen::Nothing, Seen::At(theirs)) => {
                let theirs = theirs as usize..theirs as usize + words;
                match u32::try_from(bits.len()) {
                    Ok(start) if theirs.end <= bits.len() => {
                        bits.extend_from_within(theirs);
                        Seen::At(start)
                    }
                    // Marks that are not there (or cannot be addressed)
                    // rule nothing out.
                    _ => Seen::All,
                }
            }
            (Seen::At(mine), Seen::At(theirs)) => {
                let (at, from) = (mine as usize, theirs as usize);
                // Split so the words are read and written without a bounds
                // check each (a collection's summary merges every value's
                // marks: 2.3% of CRS PL1's JSON mix when indexed). A value
                // scanned before the summary began has its marks before it.
                let merged = if at < from {
                    bits.split_at_mut_checked(from).and_then(|(head, tail)| {
                        head.get_mut(at..at + words).zip(tail.get(..words))
                    })
                } else {
                    bits.split_at_mut_checked(at).and_then(|(head, tail)| {
                        tail.get_mut(..words).zip(head.get(from..from + words))
                    })
                };
                match merged {
                    Some((mine_words, their_words)) => {
                        for (m, t) in mine_words.iter_mut().zip(their_words) {
                            *m |= t;
                        }
                        Seen::At(mine)
                    }
                    // Marks that are not there rule nothing out.
                    None => Seen::All,
                }
            }
        };
    }
}

/// One scan's marks: `words` words appended to a collection's
/// [`SeenBits`] on the first mark, none for a value that marks nothing.
struct Marks<'b> {
    bits: &'b mut SeenBits,
    words: usize,
    start: Option<usize>,
}

impl Marks<'_> {
    /// Marks condition `id`.
    fn mark(&mut self, id: u32) {
        let start = match self.start {
            Some(start) => start,
            None => {
                let start = self.bits.len();
                self.bits.resize(start + self.words, 0);
                self.start = Some(start);
                start
            }
        };
        // Ids are below the prefilter's condition count, which `words`
        // covers: this scan's words are the last in `bits`. (Checking
        // that here cost the CRS GET 2.6% more instructions.)
        self.bits[start + id as usize / 64] |= 1 << (id % 64);
    }

    /// The words this scan marked, if it marked any condition.
    fn marked(&self) -> Option<&[u64]> {
        self.start
            .map(|start| &self.bits[start..start + self.words])
    }

    /// Marks every condition another scan's `words` mark.
    fn copy(&mut self, words: &[u64]) {
        match self.start {
            Some(start) => {
                for (mine, theirs) in self.bits[start..start + self.words].iter_mut().zip(words) {
                    *mine |= theirs;
                }
            }
            None => {
                self.start = Some(self.bits.len());
                self.bits.extend_from_slice(words);
            }
        }
    }

    /// What the scan saw.
    fn seen(self) -> Seen {
        match self.start.map(u32::try_from) {
            None => Seen::Nothing,
            Some(Ok(start)) => Seen::At(start),
            // Four billion words of marks: no request gets here, but a
            // value that cannot be recorded may match anything.
            Some(Err(_)) => Seen::All,
        }
    }
}

/// One chain's scanner, looked up once per condition and target rather
/// than per value. It takes its regex set's per-thread scratch on the first
/// scan and keeps it until dropped, rather than taking it from the pool
/// and giving it back for every value (with the collections indexed, the
/// built-in JSON mix ran 3.1% fewer instructions; in time, natively and in
/// V8, less than the runs resolve).
pub(crate) struct Scanner<'p> {
    scans: Scans<'p>,
    /// What its condition reads of a value the chain left as received.
    reads: AsReceived,
    words: usize,
    scratch: Option<PoolGuard<'p, Scratch, NewScratch>>,
    /// The request's walks of the literal automaton so far, when the
    /// caller keeps them ([`Scanner::remembering`]).
    walks: Option<&'p mut Walks>,
}

/// Which scan of a value its chain left as received a condition reads,
/// known to its scanner ([`Scanner::reads`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AsReceived {
    /// The literal automaton's, the same whatever the chain: every literal
    /// chain shares it, so the value is walked once for all of them (see
    /// [`crate::chains::Chains::value_and_seen`]). It marks the conditions
    /// of every chain whose literals occur; a chain only reads its own
    /// conditions' marks.
    Shared,
    /// The chain's own: its regex set's.
    Own,
    /// That of the chain's set beside the literal automaton
    /// ([`Scanner::scan`]), for that set's conditions: a value none of
    /// them reads (a header, under CRS) is never walked by the set.
    Rest,
}

/// What a scanner walks values with.
#[derive(Clone, Copy)]
enum Scans<'p> {
    /// Nothing (a chain without a group): every condition may match.
    Nothing,
    /// The chain's regex set ([`Group::Set`]).
    Set(&'p RegexSet),
    /// The shared literal automaton.
    Literals(&'p Literals),
    /// The shared literal automaton and the chain's set of the regexes it
    /// cannot screen ([`Group::Literals`]).
    Both(&'p Literals, &'p RegexSet),
    /// The shared literal automaton, on values as received only
    /// ([`Group::AsReceived`]).
    AsReceived(&'p Literals),
}

/// Literals gathered for one group while the prefilter is built.
#[derive(Default)]
struct GroupBuilder {
    literals: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
    owners: Vec<Vec<u32>>,
}

/// What the build knows of one eligible condition.
struct Candidate {
    rule: usize,
    condition: usize,
    literals: Option<Vec<Vec<u8>>>,
    source: Option<String>,
    required: Option<RequiredBytes>,
    /// The length of a regex's shortest match.
    shortest: Option<usize>,
    /// An `@pm` (its literals are its phrases), not a regex.
    phrases: bool,
}

impl Prefilter {
    /// Numbers the eligible conditions (`Condition::prefilter`) and builds
    /// a scanner per chain: the chain's regex set where it can be built
    /// within [`MAX_SET_NFA_STATES`], else the shared automaton, over its
    /// conditions' literals among others, with a set of the regexes it
    /// cannot screen ([`rest_set`]); a chain with too few literal
    /// conditions for that reads the automaton's walk of the values it
    /// leaves as received ([`Group::AsReceived`]). A chain with none is
    /// left out: its values then pass every condition, as without a
    /// prefilter.
    ///
    /// Only the rules `screened` accepts are screened: the others keep no
    /// id and run as without a prefilter (see [`RulesetSpec::compile_for`]).
    ///
    /// [`RulesetSpec::compile_for`]: crate::RulesetSpec::compile_for
    pub(crate) fn build(rules: &mut [Rule], screened: &dyn Fn(&Rule) -> bool) -> Prefilter {
        let mut per_chain: HashMap<ChainId, Vec<Candidate>> = HashMap::new();
        // multiMatch conditions, whose test of the value as received the
        // shared automaton may settle (see below).
        let mut as_received: Vec<Candidate> = Vec::new();
        for (r, rule) in rules.iter_mut().enumerate() {
            let screen = screened(rule);
            for (c, condition) in rule.conditions.iter_mut().enumerate() {
                condition.prefilter = None;
                if condition.negate {
                    continue;
                }
                let reads_request = condition
                    .targets
                    .iter()
                    .any(|t| !t.count && !t.collection.is_dynamic());
                if !reads_request {
                    continue;
                }
                let candidate = match &mut condition.operator {
                    Operator::Rx(rx) => Candidate {
                        rule: r,
                        condition: c,
                        literals: rx.take_required_literals(),
                        source: rx.take_source(),
                        required: rx.required_bytes().cloned(),
                        shortest: rx.shortest_match(),
                        phrases: false,
                    },
                    // A phrase list is its own literals.
                    Operator::Pm(pm) => Candidate {
                        rule: r,
                        condition: c,
                        literals: pm.take_phrases(),
                        source: None,
                        required: pm.required_bytes().cloned(),
                        shortest: None,
                        phrases: true,
                    },
                    _ => continue,
                };
                // Taken all the same, so an unscreened rule holds no more
                // memory than a screened one.
                if !screen {
                    continue;
                }
                if condition.multi_match {
                    as_received.push(candidate);
                } else {
                    per_chain
                        .entry(condition.chain)
                        .or_default()
                        .push(candidate);
                }
            }
        }
        // Deterministic condition ids, whatever the hash order.
        let mut chains: Vec<(ChainId, Vec<Candidate>)> = per_chain.into_iter().collect();
        chains.sort_by_key(|(chain, _)| chain.0);
        let mut groups: Vec<Option<Group>> = Vec::new();
        let put = |groups: &mut Vec<Option<Group>>, chain: ChainId, group: Group| {
            let at = usize::from(chain.0);
            if groups.len() <= at {
                groups.resize_with(at + 1, || None);
            }
            groups[at] = Some(group);
        };
        let mut next: u32 = 0;
        let mut numbered_phrase_lists = 0;
        let mut numbered_multi_match = 0;
        // Every literal chain's candidates and ids, for the one automaton.
        let mut literal_chains = Vec::new();
        // Chains screened by the automaton's walk of values they leave as
        // received, and only those.
        let mut as_received_chains = Vec::new();
        let mut literal_candidates: Vec<&Candidate> = Vec::new();
        let mut literal_ids = Vec::new();
        for (chain, candidates) in &chains {
            let chain = *chain;
            let settable: Vec<&Candidate> =
                candidates.iter().filter(|c| c.source.is_some()).collect();
            if settable.len() >= MIN_CONDITIONS_PER_SET {
                if let Some(dfa) = build_set(&settable, MAX_SET_NFA_STATES, MAX_SET_BUILD_BYTES) {
                    let ids = number(&settable, rules, &mut next);
                    let required =
                        RequiredBytes::union(settable.iter().map(|c| c.required.as_ref()));
                    put(
                        &mut groups,
                        chain,
                        Group::Set(RegexSet::new(dfa, ids, required, true)),
                    );
                    continue;
                }
            }
            // Too large for one set (four CRS chains): the regexes
            // with literals go behind a literal automaton, and the others
            // into a set of their own beside it.
            let with_literals: Vec<&Candidate> =
                candidates.iter().filter(|c| c.literals.is_some()).collect();
            let phrase_lists = with_literals.iter().filter(|c| c.phrases).count();
            let rest = rest_set(candidates, rules, &mut next);
            if with_literals.len() >= MIN_CONDITIONS_PER_CHAIN
                || phrase_lists >= MIN_PHRASE_LISTS_PER_CHAIN
            {
                literal_ids.extend(number(&with_literals, rules, &mut next));
                literal_candidates.extend(with_literals);
                numbered_phrase_lists += phrase_lists;
                literal_chains.push((chain, rest));
            } else if let Some(rest) = rest {
                put(&mut groups, chain, Group::Set(rest));
            } else if !with_literals.is_empty()
                && with_literals
                    .iter()
                    .all(|c| c.required.as_ref().and_then(RequiredBytes::kinds).is_none())
            {
                // Too few to walk a value for, but a value the chain leaves
                // as received is walked by the automaton anyway, for every
                // literal chain reading its collection (under CRS the
                // t:none chain reads them all): reading that walk costs a
                // bit test. Under
                // CRS PL1, 942190 (urlDecodeUni, removeCommentsChar) is
                // alone on its chain and ran on every argument of a JSON
                // body. Not when an operator needs a byte of some kind: a
                // collection holding none settles it without transforming
                // a value (`Condition::required_kinds`), where the
                // prefilter's summary would transform them all (callgrind,
                // CRS PL1: JSON 4 KB +12% with such conditions screened so).
                as_received_chains.push((chain, with_literals));
            }
        }
        // A multiMatch condition tests the value as received, then the value
        // after each step that changed it. The first test reads what the
        // shared automaton found in the value as received, kept per value
        // for every literal chain that left it so: under CRS PL1 six
        // multiMatch rules tested every argument of a JSON body, a sixth
        // of its instructions, nearly all on values as received. The later
        // tests run as before: a value a step changed would be walked for
        // one condition, no quicker than its regex's own prefilter.
        let as_received: Vec<&Candidate> = as_received
            .iter()
            .filter(|c| c.literals.is_some())
            .collect();
        let walked = !literal_chains.is_empty() || as_received.len() >= MIN_CONDITIONS_PER_CHAIN;
        if walked {
            literal_ids.extend(number(&as_received, rules, &mut next));
            numbered_phrase_lists += as_received.iter().filter(|c| c.phrases).count();
            numbered_multi_match = as_received.len();
            literal_candidates.extend(as_received);
        } else {
            // No walk to read: no automaton for these chains alone.
            as_received_chains.clear();
        }
        for (_, candidates) in &as_received_chains {
            literal_ids.extend(number(candidates, rules, &mut next));
            numbered_phrase_lists += candidates.iter().filter(|c| c.phrases).count();
            literal_candidates.extend(candidates.iter().copied());
        }
        // One automaton for every literal chain, not one each: a value
        // most chains leave as received (CRS PL1's JSON mix: 5 literal
        // chains a value, 4.7 of them on the value as received) is walked
        // once for all, and literals the chains share are stored once.
        let literals = Literals::build(&literal_candidates, &literal_ids);
        // Without the automaton a literal chain gets no group at all, its
        // set beside it included: as a chain's only scanner, that set
        // would rule out the literal conditions, which it does not hold.
        if literals.is_some() {
            for (chain, rest) in literal_chains {
                put(&mut groups, chain, Group::Literals(rest));
            }
            for (chain, _) in as_received_chains {
                put(&mut groups, chain, Group::AsReceived);
            }
        }
        // Conditions numbered for a group that was then left out keep
        // their ids: with no group, `scan` answers `All` for them.
        Prefilter {
            groups,
            literals,
            conditions: next as usize,
            phrase_lists: numbered_phrase_lists,
            multi_match: numbered_multi_match,
        }
    }

    /// The scanner for multiMatch conditions' values as received: the
    /// shared literal automaton, whatever their chain.
    pub(crate) fn as_received_scanner(&self) -> Scanner<'_> {
        let (scans, reads) = match &self.literals {
            Some(literals) => (Scans::Literals(literals), AsReceived::Shared),
            None => (Scans::Nothing, AsReceived::Own),
        };
        Scanner {
            scans,
            reads,
            words: self.conditions.div_ceil(64),
            scratch: None,
            walks: None,
        }
    }

    /// The scanner for condition `id`'s values after `chain`.
    pub(crate) fn scanner(&self, chain: ChainId, id: u32) -> Scanner<'_> {
        let group = self
            .groups
            .get(usize::from(chain.0))
            .and_then(Option::as_ref);
        let (scans, reads) = match (group, self.literals.as_ref()) {
            (Some(Group::Set(set)), _) => (Scans::Set(set), AsReceived::Own),
            (Some(Group::Literals(None)), Some(literals)) => {
                (Scans::Literals(literals), AsReceived::Shared)
            }
            (Some(Group::AsReceived), Some(literals)) => {
                (Scans::AsReceived(literals), AsReceived::Shared)
            }
            (Some(Group::Literals(Some(rest))), Some(literals)) => (
                Scans::Both(literals, rest),
                if rest.owns(id) {
                    AsReceived::Rest
                } else {
                    AsReceived::Shared
                },
            ),
            _ => (Scans::Nothing, AsReceived::Own),
        };
        Scanner {
            scans,
            reads,
            words: self.conditions.div_ceil(64),
            scratch: None,
            walks: None,
        }
    }
}

/// Gives each candidate the next condition id, on its condition and in
/// the returned list (in the candidates' order).
fn number(candidates: &[&Candidate], rules: &mut [Rule], next: &mut u32) -> Vec<u32> {
    candidates
        .iter()
        .map(|candidate| {
            let id = *next;
            *next += 1;
            rules[candidate.rule].conditions[candidate.condition].prefilter = Some(id);
            id
        })
        .collect()
}

impl Literals {
    /// One automaton over the candidates' literals, `ids[i]` owning those
    /// of `candidates[i]`; `None` if aho-corasick cannot build it.
    fn build(candidates: &[&Candidate], ids: &[u32]) -> Option<Literals> {
        let mut builder = GroupBuilder::default();
        for (candidate, &id) in candidates.iter().zip(ids) {
            for literal in candidate.literals.iter().flatten() {
                let at = match builder.index.get(literal) {
                    Some(at) => *at,
                    None => {
                        builder.literals.push(literal.clone());
                        builder.owners.push(Vec::new());
                        builder
                            .index
                            .insert(literal.clone(), builder.literals.len() - 1);
                        builder.literals.len() - 1
                    }
                };
                builder.owners[at].push(id);
            }
        }
        // A contiguous NFA walked byte by byte in `scan`: every occurrence
        // of every literal is wanted, and with `Standard` semantics each
        // state lists all literals ending there. The crate's overlapping
        // iterator does the same walk at several times the instructions per
        // byte (callgrind). A DFA took 2.2 MiB for CRS against 311 KiB for
        // the NFA (23 chains then), for no measurable speed difference
        // (criterion, request mixes).
        let automaton = NFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&builder.literals)
            .ok()?;
        let start = automaton.start_state(Anchored::No).ok()?;
        Some(Literals {
            automaton,
            start,
            owners: builder.owners,
        })
    }
}

/// The regexes of a chain too large for one set that go into a set of
/// their own: those without literals, which the automaton cannot screen,
/// and without required bytes, which are passed over cheaply already (see
/// `Condition::required_kinds`; with them in the set, CRS PL1's GET ran
/// 1.4% more instructions for 0.8% fewer on its JSON mix), matching two
/// bytes or more ([`MIN_REST_MATCH_LEN`]).
fn rest_candidates(candidates: &[Candidate]) -> Vec<&Candidate> {
    candidates
        .iter()
        .filter(|c| c.literals.is_none() && c.source.is_some() && c.required.is_none())
        .filter(|c| c.shortest.is_some_and(|len| len >= MIN_REST_MATCH_LEN))
        .collect()
}

/// The set of a chain's [`rest_candidates`], when there are two or more
/// and their NFA stays within [`MAX_REST_SET_NFA_STATES`]; they are
/// numbered only then. It says only whether any of them matches: under
/// CRS they match benign header values of every browser request
/// (`gzip, deflate, br` names a command, `*/*;` is four non-word bytes)
/// that none of their rules reads, and the overlapping walk that says
/// which would run there for nothing (callgrind, CRS PL1: GET −0.7% and
/// JSON 4 KB +0.3% against telling them apart).
fn rest_set(candidates: &[Candidate], rules: &mut [Rule], next: &mut u32) -> Option<RegexSet> {
    let rest = rest_candidates(candidates);
    if rest.len() < MIN_CONDITIONS_PER_SET {
        return None;
    }
    let dfa = build_set(&rest, MAX_REST_SET_NFA_STATES, MAX_REST_SET_BUILD_BYTES)?;
    let ids = number(&rest, rules, next);
    // No required bytes: its regexes have none (`rest_candidates`).
    Some(RegexSet::new(dfa, ids, None, false))
}

/// One lazy DFA over every candidate's regex, `None` when a pattern is
/// missing or the NFA would exceed `max_states` (or `max_bytes` while
/// built).
fn build_set(candidates: &[&Candidate], max_states: usize, max_bytes: usize) -> Option<DFA> {
    let sources: Vec<&str> = candidates
        .iter()
        .map(|c| c.source.as_deref())
        .collect::<Option<_>>()?;
    let dfa = DFA::builder()
        .syntax(syntax_config())
        .thompson(
            thompson::Config::new()
                .utf8(false)
                .nfa_size_limit(Some(max_bytes)),
        )
        .configure(
            DFA::config()
                // Every pattern that matches anywhere, not the leftmost.
                .match_kind(regex_automata::MatchKind::All)
                .cache_capacity(SET_CACHE_BYTES)
                // A value that keeps filling the cache makes the scan give
                // up (the conditions then run one by one) instead of
                // building states at every byte.
                .minimum_cache_clear_count(Some(3))
                .minimum_bytes_per_state(Some(10)),
        )
        .build_many(&sources)
        .ok()?;
    (dfa.get_nfa().states().len() <= max_states).then_some(dfa)
}

impl Prefilter {
    /// Conditions it covers, scanners, and their heap bytes: reported when
    /// a ruleset loads.
    pub(crate) fn stats(&self) -> PrefilterStats {
        let mut stats = PrefilterStats {
            regexes: self.conditions - self.phrase_lists,
            phrase_lists: self.phrase_lists,
            literal_chains: 0,
            as_received_chains: 0,
            multi_match: self.multi_match,
            sets: 0,
            bytes: self.literals.as_ref().map_or(0, |literals| {
                literals.automaton.memory_usage()
                    + literals.owners.iter().map(|o| o.len() * 4).sum::<usize>()
            }),
        };
        for group in self.groups.iter().flatten() {
            let set = match group {
                Group::Set(set) => Some(set),
                Group::Literals(rest) => {
                    stats.literal_chains += 1;
                    rest.as_ref()
                }
                Group::AsReceived => {
                    stats.as_received_chains += 1;
                    None
                }
            };
            if let Some(set) = set {
                stats.sets += 1;
                // The NFA; its lazy DFA's cache grows with the states
                // visited, up to SET_CACHE_BYTES.
                stats.bytes += set.dfa.get_nfa().memory_usage();
            }
        }
        stats
    }
}

/// What the engine reports of its prefilter ([`crate::Engine::prefilter_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefilterStats {
    /// Regex conditions skipped when their chain's scanner rules them out.
    pub regexes: usize,
    /// Phrase-list (`@pm`) conditions likewise, behind the literal automaton.
    pub phrase_lists: usize,
    /// Chains scanned by the literal automaton (there is one, shared).
    pub literal_chains: usize,
    /// Chains that read the literal automaton's scan of values they leave
    /// as received, and scan no others.
    pub as_received_chains: usize,
    /// multiMatch conditions (counted in `regexes` and `phrase_lists`)
    /// whose test of the value as received the literal automaton screens.
    pub multi_match: usize,
    /// Regex sets (one per chain that has one).
    pub sets: usize,
    /// Heap bytes of the scanners: automata with their literal-to-condition
    /// tables, the sets' NFAs (each set's lazy DFA cache comes on top,
    /// growing with use up to 2 MiB).
    pub bytes: usize,
}

impl<'p> Scanner<'p> {
    /// The same scanner, reading and adding to the request's walks of the
    /// literal automaton, so that bytes walked before are not walked again.
    pub(crate) fn remembering(self, walks: &'p mut Walks) -> Self {
        Scanner {
            walks: Some(walks),
            ..self
        }
    }

    /// Which scan of a value the chain left as received this scanner's
    /// condition reads (see [`AsReceived`]).
    pub(crate) fn reads(&self) -> AsReceived {
        self.reads
    }

    /// Words of marks per scanned value (see [`Seen::merge`]).
    pub(crate) fn words(&self) -> usize {
        self.words
    }

    /// Which of the chain's conditions may match `value` (already
    /// transformed by the chain), its marks written to `bits`. Of a value
    /// the chain left `as_received`, a chain with a set beside the literal
    /// automaton scans only what its condition reads ([`AsReceived`]): the
    /// automaton's scan, the same for every chain, or the set's.
    pub(crate) fn scan(&mut self, value: &[u8], bits: &mut SeenBits, as_received: bool) -> Seen {
        if value.len() > MAX_SCANNED_BYTES {
            return Seen::All;
        }
        let mut marks = Marks {
            bits,
            words: self.words,
            start: None,
        };
        let set = match self.scans {
            Scans::Nothing => return Seen::All,
            Scans::Set(set) => set,
            // A value the chain changed is not walked for it.
            Scans::AsReceived(_) if !as_received => return Seen::All,
            Scans::Literals(literals) | Scans::AsReceived(literals) => {
                self.walk(literals, value, &mut marks);
                return marks.seen();
            }
            Scans::Both(_, set) if as_received && self.reads == AsReceived::Rest => set,
            Scans::Both(literals, set) => {
                self.walk(literals, value, &mut marks);
                if as_received {
                    return marks.seen();
                }
                set
            }
        };
        let scratch = self.scratch.get_or_insert_with(|| set.scratch.get());
        if set.scan(scratch, value, &mut marks).is_err() {
            // Marks it made stay behind, unread.
            return Seen::All;
        }
        marks.seen()
    }
}

impl Scanner<'_> {
    /// Walks `value` with the literal automaton, unless the request walked
    /// the same bytes before ([`Walks`]).
    fn walk(&mut self, literals: &Literals, value: &[u8], marks: &mut Marks<'_>) {
        match self.walks.as_deref_mut() {
            Some(walks) => walks.walk(value, marks, |value, marks| literals.scan(value, marks)),
            None => literals.scan(value, marks),
        }
    }
}

impl RegexSet {
    /// Marks the conditions whose regex matches `value`. `Err` when the
    /// lazy DFA gave up on it (its cache kept filling): then any of them
    /// may match, and they run one by one, each with its own regex.
    fn scan(&self, scratch: &mut Scratch, value: &[u8], marks: &mut Marks<'_>) -> Result<(), ()> {
        if self
            .required
            .as_ref()
            .is_some_and(|required| !required.found_in(value))
        {
            return Ok(());
        }
        let Scratch { cache, matched } = scratch;
        // Most values match no pattern at all, which the plain search
        // settles at a few instructions per byte; only a value that
        // matches something pays for the overlapping walk that says what.
        let input = Input::new(value).earliest(true);
        match self.dfa.try_search_fwd(cache, &input) {
            Ok(None) => return Ok(()),
            Ok(Some(_)) => {}
            Err(_) => return Err(()),
        }
        if !self.exact {
            for &id in &self.ids {
                marks.mark(id);
            }
            return Ok(());
        }
        matched.clear();
        self.dfa
            .try_which_overlapping_matches(cache, &Input::new(value), matched)
            .map_err(|_| ())?;
        for pattern in matched.iter() {
            marks.mark(self.ids[pattern.as_usize()]);
        }
        Ok(())
    }
}

impl Literals {
    /// Marks the conditions one of whose literals occurs in `value`.
    fn scan(&self, value: &[u8], marks: &mut Marks<'_>) {
        let nfa = &self.automaton;
        let mut state = self.start;
        for &byte in value {
            state = nfa.next_state(Anchored::No, state, byte);
            if nfa.is_special(state) && nfa.is_match(state) {
                for i in 0..nfa.match_len(state) {
                    let literal = nfa.match_pattern(state, i).as_usize();
                    for &id in &self.owners[literal] {
                        marks.mark(id);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::operator::pm::Pm;
    use crate::operator::rx::Rx;

    /// A set says a pattern matches exactly when that pattern's own regex
    /// finds a match: anchors, word boundaries, case folding, byte escapes,
    /// invalid UTF-8 values.
    #[test]
    fn a_regex_set_agrees_with_each_regex() {
        let patterns = [
            r"(?i)\bunion\b.{0,20}\bselect\b",
            r"^/admin",
            r"\.\./",
            r"(?i)<script[^>]*>",
            r"[\x00-\x08]",
            r"\x{ff}\x{fe}",
            r"etc/passwd$",
            r"(?m)^x-[a-z]+$",
            r"(?i)on(?:load|error)\s*=",
            r"\d{3,}",
            // Matches none of the values.
            r"qq\d+x",
        ];
        let values: [&[u8]; 13] = [
            b"",
            b"plain text",
            b"1 UNION all SELECT x",
            b"/admin/users",
            b"a/admin",
            b"../../etc/passwd",
            b"<ScRiPt src=x>",
            b"ok\x01",
            b"\xff\xfe\xc3",
            b"img onError = 1",
            b"order 12345",
            b"unionselect",
            b"a\nx-forwarded\n",
        ];
        // A pattern that can match the empty string stays out of sets.
        assert_eq!(Rx::new("a*").unwrap().take_source(), None);
        let set = set_of(&patterns);
        assert!(set.required.is_none());
        agrees_with_each_regex(&set, &patterns, &values);
    }

    /// A set whose every pattern needs one of a few rare bytes skips the
    /// values holding none, and still says exactly which patterns match.
    #[test]
    fn a_set_with_required_bytes_agrees_with_each_regex() {
        let patterns = [r"<\s*script", r"'\s*or\s*'", r"\.\./"];
        let values: [&[u8]; 6] = [
            b"plain text",
            b"<SCRIPT",
            b"x' or '1",
            b"../../etc",
            b"a.b/c",
            b"",
        ];
        let set = set_of(&patterns);
        assert!(set.required.is_some());
        agrees_with_each_regex(&set, &patterns, &values);
    }

    /// Phrase lists behind a literal automaton: the scan says a list may
    /// match exactly when one of its phrases occurs, in any ASCII case, as
    /// the list's own automaton finds it.
    #[test]
    fn marks_merge_and_stale_marks_rule_nothing_out() {
        let mut bits = SeenBits::new();
        let mark = |bits: &mut SeenBits, ids: &[u32]| {
            let mut marks = Marks {
                bits,
                words: 2,
                start: None,
            };
            for &id in ids {
                marks.mark(id);
            }
            marks.seen()
        };
        let a = mark(&mut bits, &[1, 70]);
        let b = mark(&mut bits, &[2]);
        assert_eq!(mark(&mut bits, &[]), Seen::Nothing);

        let mut merged = Seen::Nothing;
        merged.merge(a, &mut bits, 2);
        merged.merge(b, &mut bits, 2);
        for id in [1, 2, 70] {
            assert!(merged.may_match(id, &bits), "{id}");
        }
        assert!(!merged.may_match(3, &bits));
        // The merge wrote its own words: `a` is as it was.
        assert!(!a.may_match(2, &bits) && a.may_match(70, &bits));
        // A value scanned after the summary began has its marks after it
        // (`a` and `b` before it).
        let c = mark(&mut bits, &[3, 127]);
        merged.merge(c, &mut bits, 2);
        for id in [1, 2, 3, 70, 127] {
            assert!(merged.may_match(id, &bits), "{id}");
        }
        assert!(!merged.may_match(4, &bits) && !c.may_match(1, &bits));

        // Marks that are not there rule nothing out.
        let mut stale = Seen::Nothing;
        stale.merge(Seen::At(1_000), &mut bits, 2);
        assert_eq!(stale, Seen::All);
        // Beyond the marks on either side of a merge, in either order.
        for (mine, theirs) in [(0, 1_000), (1_000, 0), (1_000, 2_000), (2_000, 1_000)] {
            let mut summary = Seen::At(mine);
            summary.merge(Seen::At(theirs), &mut bits, 2);
            assert_eq!(summary, Seen::All, "{mine} with {theirs}");
        }
    }

    #[test]
    fn phrase_lists_behind_an_automaton_agree_with_each_list() {
        let lists: [&[&str]; 3] = [
            &["select", "UNION ALL"],
            &["/etc/passwd", ".htaccess", "passwd"],
            // Bytes above 0x7F compare exactly.
            &["\u{ff}boot", "\u{e9}"],
        ];
        let values: [&[u8]; 9] = [
            b"plain text",
            b"SeLeCt 1",
            b"x union all y",
            b"../ETC/PASSWD",
            b"cat .HTACCESS",
            "\u{ff}BOOT".as_bytes(),
            "caf\u{e9}".as_bytes(),
            "CAF\u{c9}".as_bytes(),
            b"",
        ];
        let pms: Vec<Pm> = lists
            .iter()
            .map(|list| Pm::new(&list.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap())
            .collect();
        let candidates: Vec<Candidate> = pms
            .iter()
            .map(|pm| Candidate {
                rule: 0,
                condition: 0,
                literals: pm.clone().take_phrases(),
                source: None,
                required: pm.required_bytes().cloned(),
                shortest: None,
                phrases: true,
            })
            .collect();
        let ids: Vec<u32> = (0..lists.len() as u32).collect();
        let literals = Literals::build(&candidates.iter().collect::<Vec<_>>(), &ids)
            .expect("automaton builds");
        let mut scanner = Scanner {
            scans: Scans::Literals(&literals),
            reads: AsReceived::Shared,
            words: 1,
            scratch: None,
            walks: None,
        };
        // Marks of several values share one vector, as a collection's do.
        let mut bits = SeenBits::new();
        for value in values {
            let seen = scanner.scan(value, &mut bits, true);
            for (id, pm) in pms.iter().enumerate() {
                assert_eq!(
                    seen.may_match(id as u32, &bits),
                    pm.find(value).is_some(),
                    "list {id} on {:?}",
                    String::from_utf8_lossy(value)
                );
            }
        }
    }

    /// One regex set over `patterns`, built as [`Prefilter::build`] does.
    fn set_of(patterns: &[&str]) -> RegexSet {
        let candidates: Vec<Candidate> = patterns.iter().map(|p| candidate(p)).collect();
        let dfa = build_set(
            &candidates.iter().collect::<Vec<_>>(),
            MAX_SET_NFA_STATES,
            MAX_SET_BUILD_BYTES,
        )
        .expect("set builds");
        let ids: Vec<u32> = (0..patterns.len() as u32).collect();
        let required = RequiredBytes::union(candidates.iter().map(|c| c.required.as_ref()));
        RegexSet::new(dfa, ids, required, true)
    }

    /// A regex condition's candidate, as [`Prefilter::build`] takes it.
    fn candidate(pattern: &str) -> Candidate {
        let mut rx = Rx::new(pattern).unwrap();
        Candidate {
            rule: 0,
            condition: 0,
            literals: rx.take_required_literals(),
            source: rx.take_source(),
            required: rx.required_bytes().cloned(),
            shortest: rx.shortest_match(),
            phrases: false,
        }
    }

    /// Beside the literal automaton, a chain's regexes it cannot screen go
    /// into a set that says whether any of them matches: a value matching
    /// none rules them all out, one matching any lets them all through.
    /// The automaton's marks are the same, whether its conditions read the
    /// shared scan of a value as received or one scan by both marks a
    /// value the chain changed.
    #[test]
    fn a_rest_set_screens_the_regexes_literals_cannot() {
        let patterns = [
            // Behind the automaton.
            r"(?i)union\s+select",
            // Required bytes (`<`): passed over without the set.
            r"<\s*[a-z]+\s*on[a-z]+\s*=",
            // Matches nearly everything.
            r".",
            // In the set: no literals, no required bytes.
            r"(?i)(?:^(?:json\.)?|[;&|]\s*)(?:w|ls|id|ps)[^;]",
            r"(?i)(?:^(?:json\.)?|[;&|]\s*)(?:x|cat|nc|sh)[^;]",
        ];
        let candidates: Vec<Candidate> = patterns.iter().map(|p| candidate(p)).collect();
        let rest = rest_candidates(&candidates);
        let rest_patterns: Vec<_> = rest.iter().map(|c| c.source.as_deref()).collect();
        assert_eq!(rest_patterns, [Some(patterns[3]), Some(patterns[4])]);
        let dfa = build_set(&rest, MAX_REST_SET_NFA_STATES, MAX_REST_SET_BUILD_BYTES)
            .expect("set builds");
        let set = RegexSet::new(dfa, vec![1, 2], None, false);
        let literals = Literals::build(&[&candidates[0]], &[0]).expect("automaton builds");
        assert!(!set.owns(0) && set.owns(1) && set.owns(2) && !set.owns(3));
        let scanner = |reads| Scanner {
            scans: Scans::Both(&literals, &set),
            reads,
            words: 1,
            scratch: None,
            walks: None,
        };
        let (mut literal_condition, mut rest_condition) =
            (scanner(AsReceived::Shared), scanner(AsReceived::Rest));
        let values: [&[u8]; 6] = [
            b"SKU-00001",
            b"gift wrap; deliver after 5pm",
            b"1;ls -la",
            b"cat /etc/hosts",
            b"1 UNION SELECT 2",
            b"1 union select 2;id -a",
        ];
        let rx: Vec<Rx> = patterns.iter().map(|p| Rx::new(p).unwrap()).collect();
        let mut bits = SeenBits::new();
        for value in values {
            let any_rest = rx[3].find(value).is_some() || rx[4].find(value).is_some();
            let shared = literal_condition.scan(value, &mut bits, true);
            let rest = rest_condition.scan(value, &mut bits, true);
            let changed = rest_condition.scan(value, &mut bits, false);
            let shown = String::from_utf8_lossy(value);
            for (seen, id, want) in [
                (shared, 0, rx[0].find(value).is_some()),
                (rest, 1, any_rest),
                (rest, 2, any_rest),
                (changed, 0, rx[0].find(value).is_some()),
                (changed, 1, any_rest),
                (changed, 2, any_rest),
            ] {
                assert_eq!(seen.may_match(id, &bits), want, "{id} on {shown}");
            }
        }
    }

    fn agrees_with_each_regex(set: &RegexSet, patterns: &[&str], values: &[&[u8]]) {
        let mut scanner = Scanner {
            scans: Scans::Set(set),
            reads: AsReceived::Own,
            words: 1,
            scratch: None,
            walks: None,
        };
        // A collection's summary: a pattern may match some value exactly
        // when it matches one of them.
        let mut merged = Seen::Nothing;
        let mut bits = SeenBits::new();
        for &value in values {
            let seen = scanner.scan(value, &mut bits, true);
            assert!(!matches!(seen, Seen::All), "gave up on {value:?}");
            merged.merge(seen, &mut bits, scanner.words());
            for (id, pattern) in patterns.iter().enumerate() {
                let expected = Rx::new(pattern).unwrap().find(value).is_some();
                assert_eq!(
                    seen.may_match(id as u32, &bits),
                    expected,
                    "{pattern} on {:?}",
                    String::from_utf8_lossy(value)
                );
            }
        }
        for (id, pattern) in patterns.iter().enumerate() {
            let rx = Rx::new(pattern).unwrap();
            let expected = values.iter().any(|v| rx.find(v).is_some());
            assert_eq!(merged.may_match(id as u32, &bits), expected, "{pattern}");
        }
        // A value that was not scanned makes every pattern possible.
        merged.merge(Seen::All, &mut bits, scanner.words());
        assert!(merged.may_match(0, &bits) && matches!(merged, Seen::All));
    }
}
