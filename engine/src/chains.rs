//! Transform chains as a tree of shared prefixes, and the per-request cache
//! of transformed values.
//!
//! Rules rarely share a whole chain but very often share its start: of the
//! built-in rules' 19 chains, 17 begin with `urlDecodeUni` and 12 with
//! `urlDecodeUni, removeNulls`. Where chains branch, the common prefix is
//! kept as a chain of its own, and every chain is computed from its nearest
//! such ancestor: the shared start runs once per value, not once per chain.
//! Only branch points are kept (not every prefix): each kept prefix costs a
//! cache slot per value, which for a chain nobody else extends is pure
//! overhead (callgrind, built-in GET against no sharing: +5.8% when every
//! prefix was kept, +1.1% with branch points only, which JSON bodies and
//! CRS repay: −3% to −4%).

use std::collections::{HashMap, HashSet};

use crate::prefilter::{AsReceived, Scanner, Seen, SeenBits};
use crate::rule::ChainId;
use crate::transform::triggers::{ByteKinds, StepMask};
use crate::transform::{self, Transform};
use crate::variable::{ByCollection, Collection};

/// Every interned chain and, for each, the longest proper prefix that is
/// also kept (a rule's chain or a branch point).
#[derive(Clone, Debug, Default)]
pub(crate) struct ChainTree {
    steps: Vec<Vec<Transform>>,
    parents: Vec<Option<ChainId>>,
    /// By chain id: the trigger kinds of all its steps.
    masks: Vec<StepMask>,
}

impl ChainTree {
    /// Adds the branch points of the rules' chains as chains of their own
    /// (new ids after the existing ones, so conditions keep theirs).
    pub(crate) fn new(mut steps: Vec<Vec<Transform>>) -> Self {
        // What follows each proper prefix, over all chains.
        let mut next: HashMap<&[Transform], HashSet<&Transform>> = HashMap::new();
        for chain in &steps {
            for k in 1..chain.len() {
                next.entry(&chain[..k]).or_default().insert(&chain[k]);
            }
        }
        let mut branches: Vec<Vec<Transform>> = next
            .into_iter()
            .filter(|(prefix, after)| after.len() > 1 && !steps.iter().any(|c| c == prefix))
            .map(|(prefix, _)| prefix.to_vec())
            .collect();
        // Deterministic ids, whatever the hash order.
        branches.sort_by_key(|b| format!("{b:?}"));
        for branch in branches {
            // The ruleset compiler caps chains at u16; a branch past the cap
            // is simply not shared.
            if steps.len() < usize::from(u16::MAX) {
                steps.push(branch);
            }
        }
        let ids: HashMap<&[Transform], u16> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.as_slice(), u16::try_from(i).ok()?)))
            .collect();
        let parents = steps
            .iter()
            .map(|chain| {
                (1..chain.len())
                    .rev()
                    .find_map(|k| ids.get(&chain[..k]))
                    .map(|id| ChainId(*id))
            })
            .collect();
        let masks = steps.iter().map(|chain| StepMask::of(chain)).collect();
        ChainTree {
            steps,
            parents,
            masks,
        }
    }

    /// The steps of a chain (empty for an unknown id).
    pub(crate) fn steps(&self, id: ChainId) -> &[Transform] {
        self.steps.get(id.0 as usize).map_or(&[], Vec::as_slice)
    }

    /// Number of chains, prefixes included: the width of a [`Chains`].
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Fills slot `index` of `chain` (and of the chain's prefixes, where
    /// not there yet) with the value after the chain. `raw` is the
    /// instance's value, `len` the number of instances.
    pub(crate) fn fill(
        &self,
        cache: &mut Chains,
        chain: ChainId,
        index: usize,
        len: usize,
        raw: &[u8],
    ) {
        let raw_kinds = cache.raw_kinds(index, len, raw);
        // A value holding no trigger of any of the chain's steps is left
        // as received, known without its prefix or a walk of the steps:
        // under CRS a value passes through about 25 chains, and most
        // leave a plain argument or header alone.
        let at = chain.0 as usize;
        if !raw_kinds.may_change_any(self.masks.get(at).copied().unwrap_or_default()) {
            slots(cache, chain, len)[index].transformed = Transformed::Unchanged(raw_kinds);
            return;
        }
        let own = self.steps(chain);
        let (before, rest) = match self.parents[at] {
            None => (Transformed::Unchanged(raw_kinds), own),
            Some(parent) => {
                if !cache.is_filled(parent, index) {
                    self.fill(cache, parent, index, len, raw);
                }
                let before = cache.slots[parent.0 as usize][index].transformed;
                (before, &own[self.steps(parent).len()..])
            }
        };
        let Chains { bytes, scratch, .. } = &mut *cache;
        let (input, kinds) = match before {
            Transformed::At { start, end, kinds } => (&bytes[start..end], kinds),
            Transformed::Unchanged(kinds) => (raw, kinds),
            // Filled above.
            Transformed::Unknown => (raw, raw_kinds),
        };
        let result = match transform::apply_chain_in(rest, input, kinds, scratch, |_, _| false) {
            Some((after, kinds)) => {
                let start = bytes.len();
                bytes.extend_from_slice(after);
                Transformed::At {
                    start,
                    end: bytes.len(),
                    kinds,
                }
            }
            // The rest changed nothing: the prefix's result stands, shared
            // rather than copied.
            None => before,
        };
        slots(cache, chain, len)[index].transformed = result;
    }

    /// May prefilter condition `id` match any instance of the collection
    /// under `chain`? `values` are the instances' raw values, `scanner` the
    /// chain's scanner. The first condition that asks transforms and scans
    /// every instance (filling their slots, which a per-value loop would
    /// have filled anyway) and merges the answers; every other condition of
    /// the chain reading that collection is then settled by one bit test,
    /// where it used to visit each value to learn it matched nothing
    /// (callgrind, steady state per request: built-in GET −3.7%, JSON 4 KB
    /// −7.6%; CRS PL1 GET −2.8%, JSON −9.9%).
    pub(crate) fn may_match_any<'v>(
        &self,
        cache: &mut Chains,
        chain: ChainId,
        values: impl ExactSizeIterator<Item = &'v [u8]>,
        scanner: &mut Scanner<'_>,
        id: u32,
    ) -> bool {
        let at = summary_at(chain, scanner.reads());
        if cache.summaries.len() <= at {
            cache.summaries.resize(2 * self.len(), None);
        }
        if cache.summaries[at].is_none() {
            let len = values.len();
            slots(cache, chain, len);
            let transforms = !self.steps(chain).is_empty();
            let mut merged = Seen::Nothing;
            for (index, raw) in values.enumerate() {
                if transforms && !cache.is_filled(chain, index) {
                    self.fill(cache, chain, index, len, raw);
                }
                let (_, seen, bits) = cache.value_and_seen(chain, index, raw, scanner);
                merged.merge(seen, bits, scanner.words());
            }
            cache.summaries[at] = Some(merged);
        }
        cache.summaries[at].is_none_or(|s| s.may_match(id, &cache.seen_bits))
    }

    /// May any instance of the collection hold one of `required`'s kinds
    /// after `chain`, `values` being their raw values? A condition whose
    /// operator needs kinds none holds is settled for the whole collection
    /// at once. Asked first of the bound the values' kinds as received
    /// give ([`ByteKinds::bound_after`]), which transforms nothing; only
    /// where that bound holds one are the values transformed
    /// ([`ChainTree::kinds_of_all`]).
    pub(crate) fn may_hold_any<'v>(
        &self,
        cache: &mut Chains,
        chain: ChainId,
        values: impl ExactSizeIterator<Item = &'v [u8]> + Clone,
        required: ByteKinds,
    ) -> bool {
        if let Some(Some(kinds)) = cache.all_kinds.get(chain.0 as usize) {
            return kinds.holds_any(required);
        }
        let steps = self.steps(chain);
        let received = match cache.received_kinds {
            Some(kinds) => kinds,
            None => {
                let len = values.len();
                let mut all = ByteKinds::of(b"");
                for (index, raw) in values.clone().enumerate() {
                    all = all.union(cache.raw_kinds(index, len, raw));
                }
                *cache.received_kinds.insert(all)
            }
        };
        // Without steps the bound is the exact answer, kept as such below.
        if !steps.is_empty() && !received.bound_after(steps).holds_any(required) {
            return false;
        }
        self.kinds_of_all(cache, chain, values, received)
            .holds_any(required)
    }

    /// The kinds of bytes any instance of the collection holds after
    /// `chain`, `values` being their raw values and `received` those
    /// values' kinds merged (the answer for a chain with no steps). Like
    /// [`ChainTree::may_match_any`], it fills every slot, which a per-value
    /// loop would have done anyway.
    fn kinds_of_all<'v>(
        &self,
        cache: &mut Chains,
        chain: ChainId,
        values: impl ExactSizeIterator<Item = &'v [u8]>,
        received: ByteKinds,
    ) -> ByteKinds {
        let at = chain.0 as usize;
        if cache.all_kinds.len() <= at {
            cache.all_kinds.resize(self.len(), None);
        }
        if let Some(kinds) = cache.all_kinds[at] {
            return kinds;
        }
        let mut all = received;
        if !self.steps(chain).is_empty() {
            let len = values.len();
            slots(cache, chain, len);
            all = ByteKinds::of(b"");
            for (index, raw) in values.enumerate() {
                if !cache.is_filled(chain, index) {
                    self.fill(cache, chain, index, len, raw);
                }
                all = all.union(match cache.slots[at][index].transformed {
                    Transformed::Unchanged(kinds) | Transformed::At { kinds, .. } => kinds,
                    // Filled above.
                    Transformed::Unknown => ByteKinds::of(raw),
                });
            }
        }
        cache.all_kinds[at] = Some(all);
        all
    }
}

/// Transformed values per collection: slots indexed by collection, chain
/// id, then instance. Looking values up in a map per value was a tenth of
/// the engine's time on a JSON body under CRS (perf); now nothing on the
/// way to a slot is hashed.
pub(crate) type TransformCache = ByCollection<Chains>;

/// Slots a transaction keeps for its next request, over all collections
/// and chains (24 bytes each in palisade.wasm, where pointers and `usize`
/// are 4 bytes, 32 natively: at most 96 KB in the filter). A GET uses 460
/// under the built-in rules and 680 under CRS, 50 query arguments 1,840
/// and 3,348 (bench/README.md); a 4 KB JSON body (5,522 and 10,094) keeps
/// what fits, chain by chain, and a request with thousands of arguments
/// leaves no megabytes behind in a pooled transaction.
const RETAINED_SLOTS: usize = 4096;

/// Bytes of transformed values (and scratch) a transaction keeps for its
/// next request, over all collections: a GET fills about 1 KB, a 4 KB JSON
/// body 14 KB and 50 query arguments 12 KB to 17 KB, under CRS PL1 or the
/// built-in rules (bench's request mixes). The prefilter's marks count
/// here too (about 16 KB more on that JSON body under CRS PL1). A larger
/// request gives back what it grew.
const RETAINED_BYTES: usize = 64 * 1024;

impl TransformCache {
    /// Forgets the transformed values of the collections `which` names
    /// (their instances changed), keeping the slots' storage.
    pub(crate) fn forget(&mut self, which: impl Fn(Collection) -> bool) {
        self.retain_mut(|c, chains| {
            if which(c) {
                chains.clear();
            }
            true
        });
    }

    /// Forgets every value for the next request, keeping at most
    /// [`RETAINED_SLOTS`] slots' and [`RETAINED_BYTES`] bytes' storage: a GET
    /// under the built-in rules allocated about 100 slot vectors (dhat), a
    /// third of its allocations.
    pub(crate) fn recycle(&mut self) {
        let mut budget = RETAINED_SLOTS;
        let mut byte_budget = RETAINED_BYTES;
        self.retain_mut(|_, chains| {
            chains.clear();
            // Chain by chain, not the whole collection: a JSON body's
            // arguments fill more slots than are kept, and dropping the
            // collection made every such request allocate its slots,
            // transformed bytes and scratch anew.
            for slots in &mut chains.slots {
                match budget.checked_sub(slots.capacity()) {
                    Some(left) => budget = left,
                    None => *slots = Vec::new(),
                }
            }
            // A third of a slot's size each, or less; counted as slots
            // all the same.
            match budget.checked_sub(chains.raw_seen.capacity()) {
                Some(left) => budget = left,
                None => chains.raw_seen = Vec::new(),
            }
            match budget.checked_sub(chains.raw_kinds.capacity()) {
                Some(left) => budget = left,
                None => chains.raw_kinds = Vec::new(),
            }
            let bytes =
                chains.bytes.capacity() + chains.scratch.iter().map(Vec::capacity).sum::<usize>();
            match byte_budget.checked_sub(bytes) {
                Some(left) => byte_budget = left,
                None => {
                    chains.bytes = Vec::new();
                    chains.scratch = Default::default();
                }
            }
            // A 4 KB JSON body's marks under CRS PL1 take about 16 KB.
            match byte_budget.checked_sub(chains.seen_bits.capacity() * 8) {
                Some(left) => byte_budget = left,
                None => chains.seen_bits = SeenBits::new(),
            }
            // Every collection stays: what it holds is bounded above.
            true
        });
    }
}

/// One collection's slots by chain id, and what the prefilter said of the
/// collection as a whole.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chains {
    /// By chain id, then by instance.
    slots: Vec<Vec<Slot>>,
    /// By chain id, two each (see [`summary_at`]): the prefilter's answers
    /// for every instance, merged (see [`ChainTree::may_match_any`]).
    /// Empty until the first is: most collections a request expands are
    /// never asked.
    summaries: Vec<Option<Seen>>,
    /// By chain id: the kinds of bytes of every instance, merged (see
    /// [`ChainTree::kinds_of_all`]); empty until the first is asked for.
    all_kinds: Vec<Option<ByteKinds>>,
    /// Every value a chain changed, back to back; slots hold ranges of it.
    /// One kept buffer instead of a vector per changed value: allocating
    /// and freeing those was a tenth of the built-in rules' time on a 4 KB
    /// JSON body (callgrind: with transforms writing into these buffers,
    /// its 2,068 allocations per request fell to 1,025).
    bytes: Vec<u8>,
    /// Where a chain's steps write, in turn, before its result is appended
    /// to `bytes` (a step cannot read `bytes` while writing to it).
    scratch: [Vec<u8>; 2],
    /// By instance: the shared literal automaton's scan of the value as
    /// received, for every literal chain that left it so (see
    /// [`AsReceived::Shared`]).
    raw_seen: Vec<Option<Seen>>,
    /// The marks every [`Seen`] above points into.
    seen_bits: SeenBits,
    /// By instance: the kinds of the value as received, once a chain asked
    /// (a value passes through about 25 chains under CRS).
    raw_kinds: Vec<Option<ByteKinds>>,
    /// The kinds of every value as received, merged, once a condition
    /// asked (see [`ChainTree::may_hold_any`]).
    received_kinds: Option<ByteKinds>,
}

impl Chains {
    /// Empty slots for every chain of `tree`.
    pub(crate) fn new(tree: &ChainTree) -> Self {
        Chains {
            slots: vec![Vec::new(); tree.len()],
            summaries: Vec::new(),
            all_kinds: Vec::new(),
            bytes: Vec::new(),
            scratch: Default::default(),
            raw_seen: Vec::new(),
            seen_bits: SeenBits::new(),
            raw_kinds: Vec::new(),
            received_kinds: None,
        }
    }

    /// The kinds of instance `index`'s value as received (`raw`), of `len`.
    // Inlined by hand, like `value_and_seen`: fill and multiMatch ask it
    // for every value, and as a call it cost CRS PL1's JSON mix 3% more
    // instructions (callgrind).
    #[inline(always)]
    pub(crate) fn raw_kinds(&mut self, index: usize, len: usize, raw: &[u8]) -> ByteKinds {
        if self.raw_kinds.len() <= index {
            self.raw_kinds.resize(len.max(index + 1), None);
        }
        *self.raw_kinds[index].get_or_insert_with(|| ByteKinds::of(raw))
    }

    /// Is the value of instance `index` under `chain` known? (A prefix's
    /// slots may not be sized yet.)
    pub(crate) fn is_filled(&self, chain: ChainId, index: usize) -> bool {
        self.slots[chain.0 as usize]
            .get(index)
            .is_some_and(|slot| slot.transformed != Transformed::Unknown)
    }

    /// The kinds of bytes instance `index`'s value holds after `chain`, if
    /// its slot is filled.
    pub(crate) fn kinds(&self, chain: ChainId, index: usize) -> Option<ByteKinds> {
        match self.slots[chain.0 as usize].get(index)?.transformed {
            Transformed::Unchanged(kinds) | Transformed::At { kinds, .. } => Some(kinds),
            Transformed::Unknown => None,
        }
    }

    /// The value of instance `index` after `chain`: `raw`, its value as
    /// received, when the chain changed nothing. The slot is filled.
    pub(crate) fn value<'a>(&'a self, chain: ChainId, index: usize, raw: &'a [u8]) -> &'a [u8] {
        match self.slots[chain.0 as usize][index].transformed {
            Transformed::At { start, end, .. } => &self.bytes[start..end],
            _ => raw,
        }
    }

    /// As [`Chains::value`], with what `scanner` (the chain's) saw in it,
    /// scanned on the first ask, and the marks scans write and read. The
    /// scan is kept in the slot; but for a value left as received, the
    /// shared literal automaton's is kept once per instance for every
    /// chain. A chain with a set beside the automaton reads that shared
    /// scan for its literal conditions, and keeps the set's own in the slot
    /// for the set's conditions ([`Scanner::reads`]).
    // Inlined by hand: it runs for every condition and value, and left as
    // a call by the compiler it cost the built-in GET 1% more instructions
    // (callgrind).
    #[inline(always)]
    pub(crate) fn value_and_seen<'a>(
        &'a mut self,
        chain: ChainId,
        index: usize,
        raw: &'a [u8],
        scanner: &mut Scanner<'_>,
    ) -> (&'a [u8], Seen, &'a mut SeenBits) {
        let Chains {
            slots,
            bytes,
            raw_seen,
            seen_bits,
            ..
        } = self;
        let slots = &mut slots[chain.0 as usize];
        let (value, seen, as_received) = match slots[index].transformed {
            Transformed::At { start, end, .. } => {
                (&bytes[start..end], &mut slots[index].seen, false)
            }
            _ if scanner.reads() == AsReceived::Shared => {
                (raw, shared_seen(raw_seen, index, slots.len()), true)
            }
            _ => (raw, &mut slots[index].seen, true),
        };
        let seen = *seen.get_or_insert_with(|| scanner.scan(value, seen_bits, as_received));
        (value, seen, seen_bits)
    }

    /// As new, keeping the storage: every slot and summary unknown.
    fn clear(&mut self) {
        for slots in &mut self.slots {
            slots.clear();
        }
        self.summaries.clear();
        self.all_kinds.clear();
        self.bytes.clear();
        self.raw_seen.clear();
        self.seen_bits.clear();
        self.raw_kinds.clear();
        self.received_kinds = None;
    }

    /// Slots allocated, over every chain.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.slots.iter().map(Vec::capacity).sum()
    }

    /// Where the shared literal automaton's scan of instance `index`'s
    /// value as received is kept (of `len` instances), and the marks it
    /// points into: a multiMatch condition's test of the value as received
    /// reads it ([`Prefilter::as_received_scanner`]).
    ///
    /// [`Prefilter::as_received_scanner`]: crate::prefilter::Prefilter::as_received_scanner
    pub(crate) fn seen_as_received(
        &mut self,
        index: usize,
        len: usize,
    ) -> (&mut Option<Seen>, &mut SeenBits) {
        (
            shared_seen(&mut self.raw_seen, index, len),
            &mut self.seen_bits,
        )
    }

    /// Kept buffers for transforms whose results are not cached (multiMatch
    /// tests the value after every step).
    pub(crate) fn scratch(&mut self) -> &mut [Vec<u8>; 2] {
        &mut self.scratch
    }

    /// Are the kinds of every instance under `chain` known?
    pub(crate) fn has_all_kinds(&self, chain: ChainId) -> bool {
        self.all_kinds
            .get(chain.0 as usize)
            .is_some_and(Option::is_some)
    }

    /// Has the collection's summary under `chain` been computed, for
    /// conditions reading what `reads` says of values as received?
    pub(crate) fn has_summary(&self, chain: ChainId, reads: AsReceived) -> bool {
        self.summaries
            .get(summary_at(chain, reads))
            .is_some_and(Option::is_some)
    }
}

/// What is known of one value under one transform chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct Slot {
    transformed: Transformed,
    /// The prefilter conditions whose literals occur in the transformed
    /// value, once a condition asked.
    seen: Option<Seen>,
}

/// A value after a chain, and the kinds of bytes it holds (which of the
/// next steps may change it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Transformed {
    /// Not transformed yet.
    #[default]
    Unknown,
    /// The chain left the value as received.
    Unchanged(ByteKinds),
    /// The value after the chain is `Chains::bytes[start..end]`.
    At {
        start: usize,
        end: usize,
        kinds: ByteKinds,
    },
}

/// Where the shared literal automaton's scan of instance `index`'s value
/// as received is kept, of `len` instances.
#[inline(always)]
fn shared_seen(raw_seen: &mut Vec<Option<Seen>>, index: usize, len: usize) -> &mut Option<Seen> {
    if raw_seen.len() <= index {
        grow(raw_seen, len.max(index + 1));
    }
    &mut raw_seen[index]
}

/// Where a collection's summary under `chain` is kept: one for the
/// conditions of the chain's set beside the literal automaton
/// ([`AsReceived::Rest`]), one for the others, as a value as received
/// keeps a scan for each (see [`Chains::value_and_seen`]).
fn summary_at(chain: ChainId, reads: AsReceived) -> usize {
    2 * chain.0 as usize + usize::from(reads == AsReceived::Rest)
}

/// Sizes a collection's shared scans (`Chains::raw_seen`) to its `len`
/// instances: once per collection and request, kept out of the per-value
/// path.
#[cold]
#[inline(never)]
fn grow(raw_seen: &mut Vec<Option<Seen>>, len: usize) {
    raw_seen.resize(len, None);
}

/// The slots of one chain of a collection, one per instance.
pub(crate) fn slots(cache: &mut Chains, chain: ChainId, len: usize) -> &mut Vec<Slot> {
    let slots = &mut cache.slots[chain.0 as usize];
    if slots.len() < len {
        slots.resize(len, Slot::default());
    }
    slots
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::transform::Transform::*;

    /// A recycled cache answers as a new one (nothing transformed, no
    /// summary), keeps the storage of small collections and drops a
    /// collection too large to keep.
    #[test]
    fn recycled_caches_are_empty_and_bounded() {
        let tree = ChainTree::new(vec![vec![UrlDecodeUni], vec![UrlDecodeUni, Lowercase]]);
        let chain = ChainId(1);
        let small = b"A%41".to_vec();
        let large = b"%41".repeat(RETAINED_BYTES);
        let mut cache = TransformCache::default();
        for (collection, len, raw) in [
            (Collection::RequestHeaders, 8, &small),
            (Collection::RequestCookies, 1, &large),
            (Collection::Args, RETAINED_SLOTS + 1, &small),
        ] {
            let chains = cache.get_or_insert_with(collection, || Chains::new(&tree));
            slots(chains, chain, len);
            tree.fill(chains, chain, 0, len, raw);
            chains.summaries.resize(2 * tree.len(), Some(Seen::Nothing));
            assert!(chains.has_summary(chain, AsReceived::Own));
        }
        cache.recycle();
        let mut kept = Vec::new();
        cache.retain_mut(|c, chains| {
            assert!(chains.slots.iter().all(Vec::is_empty), "{c:?} kept values");
            assert!(chains.bytes.is_empty(), "{c:?} kept transformed bytes");
            assert!(chains.raw_kinds.is_empty(), "{c:?} kept kinds of values");
            assert!(
                !chains.has_summary(chain, AsReceived::Own),
                "{c:?} kept a summary"
            );
            kept.push((c, chains.capacity(), chains.bytes.capacity() > 0));
            true
        });
        // Arguments: too many slots to keep, but their few bytes are kept.
        // Headers: both the chain and its `urlDecodeUni` prefix were filled,
        // and kept. The cookie's value was too large to keep.
        assert_eq!(
            kept,
            vec![
                (Collection::Args, 0, true),
                (Collection::RequestHeaders, 16, true),
                (Collection::RequestCookies, 8, false)
            ]
        );
    }

    /// A collection whose values a chain cannot give a required kind is
    /// settled without a value transformed; one where it can is answered
    /// from the values after the chain, whether they hold it or not.
    #[test]
    fn kinds_bounds_settle_collections_without_transforming() {
        let tree = ChainTree::new(vec![
            vec![CompressWhitespace, Lowercase],
            vec![UrlDecodeUni],
            vec![],
        ]);
        let (spaces, decode, none) = (ChainId(0), ChainId(1), ChainId(2));
        let required = |bytes: &[u8]| ByteKinds::required(bytes.iter().copied()).unwrap();
        let values: Vec<&[u8]> = vec![b"Two\twords, one", b"50%25 off", b"plain"];
        let mut cache = Chains::new(&tree);
        let ask = |cache: &mut Chains, chain, bytes: &[u8]| {
            tree.may_hold_any(cache, chain, values.iter().copied(), required(bytes))
        };
        // Neither `<` nor a quote can come of whitespace steps...
        assert!(!ask(&mut cache, spaces, b"<"));
        assert!(!ask(&mut cache, spaces, b"'"));
        assert!(cache.slots[0].is_empty(), "transformed for a settled ask");
        // ... but a space can, and tabs are in the bound until the values
        // are transformed, which shows none is left.
        assert!(ask(&mut cache, spaces, b" "));
        assert!(!ask(&mut cache, spaces, b"\t"));
        // A decoder may write anything: its values are looked at, and
        // `%25` decodes to a `%`, not to a `<`.
        assert!(!ask(&mut cache, decode, b"<"));
        assert!(ask(&mut cache, decode, b"%"));
        assert!(!cache.slots[1].is_empty());
        // Without steps the values as received answer.
        assert!(ask(&mut cache, none, b"%"));
        assert!(!ask(&mut cache, none, b"<"));
    }

    /// Every chain computed through its ancestors equals the chain applied
    /// step by step, whatever order the slots are filled in.
    #[test]
    fn shared_prefixes_give_the_same_values_as_whole_chains() {
        let rules = vec![
            vec![UrlDecodeUni, RemoveNulls, Lowercase],
            vec![UrlDecodeUni, RemoveNulls, RemoveWhitespace, Lowercase],
            vec![UrlDecodeUni, Lowercase],
            vec![UrlDecodeUni],
            vec![Lowercase, Trim],
            vec![UrlDecodeUni, ReplaceComments, CompressWhitespace, Lowercase],
            vec![UrlDecodeUni, ReplaceComments, RemoveWhitespace, Lowercase],
        ];
        let tree = ChainTree::new(rules.clone());
        // Two branch points are added (`urlDecodeUni, removeNulls` and
        // `urlDecodeUni, replaceComments`); `urlDecodeUni` is a rule's chain
        // already, and chain 1 now starts from `urlDecodeUni, removeNulls`.
        assert_eq!(tree.len(), rules.len() + 2);
        assert_eq!(tree.parents[1], Some(ChainId(7)), "{:?}", tree.steps);
        let values: [&[u8]; 5] = [
            b"Mozilla/5.0 (X11; Linux x86_64)",
            b"id=1%27%20OR%201%3D1--",
            b"a\0b  /*c*/ D",
            b"plain",
            b"  Trim Me  ",
        ];
        for order in [false, true] {
            let mut cache = Chains::new(&tree);
            let ids: Vec<usize> = if order {
                (0..rules.len()).rev().collect()
            } else {
                (0..rules.len()).collect()
            };
            for &chain in &ids {
                for (index, raw) in values.iter().enumerate() {
                    let id = ChainId(chain as u16);
                    slots(&mut cache, id, values.len());
                    tree.fill(&mut cache, id, index, values.len(), raw);
                    let expected = transform::apply_chain(&rules[chain], raw);
                    assert!(cache.is_filled(id, index));
                    let got = cache.value(id, index, raw);
                    assert_eq!(
                        got,
                        expected.as_ref(),
                        "chain {:?} on {raw:?}",
                        rules[chain]
                    );
                }
            }
        }
    }
}
