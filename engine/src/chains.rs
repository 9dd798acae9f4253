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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::prefilter::{Scanner, Seen};
use crate::rule::ChainId;
use crate::transform::{self, Transform};
use crate::variable::{ByCollection, Collection};

/// Every interned chain and, for each, the longest proper prefix that is
/// also kept (a rule's chain or a branch point).
#[derive(Clone, Debug, Default)]
pub(crate) struct ChainTree {
    steps: Vec<Vec<Transform>>,
    parents: Vec<Option<ChainId>>,
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
        ChainTree { steps, parents }
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
        let own = self.steps(chain);
        let result = match self.parents[chain.0 as usize] {
            None => changed(transform::apply_chain(own, raw)),
            Some(parent) => {
                if transformed(cache, parent, index).is_none() {
                    self.fill(cache, parent, index, len, raw);
                }
                let rest = &own[self.steps(parent).len()..];
                match transformed(cache, parent, index) {
                    Some(Some(before)) => match transform::apply_chain(rest, before) {
                        Cow::Owned(after) => Some(after),
                        // The rest changed nothing: the parent's result stands.
                        Cow::Borrowed(_) => Some(before.clone()),
                    },
                    // The prefix left the value as it was.
                    _ => changed(transform::apply_chain(rest, raw)),
                }
            }
        };
        slots(cache, chain, len)[index].transformed = Some(result);
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
        let at = chain.0 as usize;
        if cache.summaries.len() <= at {
            cache.summaries.resize(self.len(), None);
        }
        if cache.summaries[at].is_none() {
            let len = values.len();
            slots(cache, chain, len);
            let transforms = !self.steps(chain).is_empty();
            let mut merged = Seen::Nothing;
            for (index, raw) in values.enumerate() {
                if transforms && cache.slots[at][index].transformed.is_none() {
                    self.fill(cache, chain, index, len, raw);
                }
                let slot = &mut cache.slots[at][index];
                let value = after(&slot.transformed, raw);
                merged.merge(slot.seen.get_or_insert_with(|| scanner.scan(value)));
            }
            cache.summaries[at] = Some(merged);
        }
        cache.summaries[at].as_ref().is_none_or(|s| s.may_match(id))
    }
}

/// Transformed values per collection: slots indexed by collection, chain
/// id, then instance. Looking values up in a map per value was a tenth of
/// the engine's time on a JSON body under CRS (perf); now nothing on the
/// way to a slot is hashed.
pub(crate) type TransformCache = ByCollection<Chains>;

/// Slots a transaction keeps for its next request, over all collections
/// and chains (24 bytes each in palisade.wasm, 48 natively: at most 96 KB
/// in the filter). A GET uses 460 under the built-in rules and 680 under
/// CRS, 50 query arguments 1,840 and 3,348 (bench/README.md); a 4 KB JSON
/// body (5,522 and 10,094) keeps what fits, and a request with thousands
/// of arguments leaves no megabytes behind in a pooled transaction.
const RETAINED_SLOTS: usize = 4096;

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
    /// [`RETAINED_SLOTS`] slots' storage: a GET under the built-in rules
    /// allocated about 100 slot vectors (dhat), a third of its allocations.
    pub(crate) fn recycle(&mut self) {
        let mut budget = RETAINED_SLOTS;
        self.retain_mut(|_, chains| {
            chains.clear();
            match budget.checked_sub(chains.capacity()) {
                Some(left) => {
                    budget = left;
                    true
                }
                None => false,
            }
        });
    }
}

/// One collection's slots by chain id, and what the prefilter said of the
/// collection as a whole.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chains {
    /// By chain id, then by instance.
    slots: Vec<Vec<Slot>>,
    /// By chain id: the prefilter's answers for every instance, merged
    /// (see [`ChainTree::may_match_any`]). Empty until the first is: most
    /// collections a request expands are never asked.
    summaries: Vec<Option<Seen>>,
}

impl Chains {
    /// Empty slots for every chain of `tree`.
    pub(crate) fn new(tree: &ChainTree) -> Self {
        Chains {
            slots: vec![Vec::new(); tree.len()],
            summaries: Vec::new(),
        }
    }

    /// The slot of instance `index` under `chain`; [`slots`] sized them.
    pub(crate) fn slot(&mut self, chain: ChainId, index: usize) -> &mut Slot {
        &mut self.slots[chain.0 as usize][index]
    }

    /// As new, keeping the storage: every slot and summary unknown.
    fn clear(&mut self) {
        for slots in &mut self.slots {
            slots.clear();
        }
        self.summaries.clear();
    }

    /// Slots allocated, over every chain.
    fn capacity(&self) -> usize {
        self.slots.iter().map(Vec::capacity).sum()
    }

    /// Has the collection's summary under `chain` been computed?
    pub(crate) fn has_summary(&self, chain: ChainId) -> bool {
        self.summaries
            .get(chain.0 as usize)
            .is_some_and(Option::is_some)
    }
}

/// What is known of one value under one transform chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct Slot {
    /// `None`: not transformed yet; `Some(None)`: the chain left the value
    /// unchanged; `Some(Some(v))`: the value after the chain.
    pub(crate) transformed: Option<Option<Vec<u8>>>,
    /// The prefilter conditions whose literals occur in the transformed
    /// value, once a condition asked.
    pub(crate) seen: Option<Seen>,
}

/// The value after the chain, from a filled slot's `transformed` and the
/// instance's raw value.
pub(crate) fn after<'a>(transformed: &'a Option<Option<Vec<u8>>>, raw: &'a [u8]) -> &'a [u8] {
    match transformed {
        Some(Some(after)) => after,
        _ => raw,
    }
}

/// The slots of one chain of a collection, one per instance.
pub(crate) fn slots(cache: &mut Chains, chain: ChainId, len: usize) -> &mut Vec<Slot> {
    let slots = &mut cache.slots[chain.0 as usize];
    if slots.len() < len {
        slots.resize(len, Slot::default());
    }
    slots
}

fn transformed(cache: &Chains, chain: ChainId, index: usize) -> Option<&Option<Vec<u8>>> {
    cache.slots[chain.0 as usize]
        .get(index)?
        .transformed
        .as_ref()
}

/// A step's output as the cache keeps it: `None` when it changed nothing.
fn changed(output: Cow<'_, [u8]>) -> Option<Vec<u8>> {
    match output {
        Cow::Owned(after) => Some(after),
        Cow::Borrowed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform::*;

    /// A recycled cache answers as a new one (nothing transformed, no
    /// summary), keeps the storage of small collections and drops a
    /// collection too large to keep.
    #[test]
    fn recycled_caches_are_empty_and_bounded() {
        let tree = ChainTree::new(vec![vec![UrlDecodeUni], vec![UrlDecodeUni, Lowercase]]);
        let (chain, raw) = (ChainId(1), &b"A%41"[..]);
        let mut cache = TransformCache::default();
        for (collection, len) in [
            (Collection::RequestHeaders, 8),
            (Collection::Args, RETAINED_SLOTS + 1),
        ] {
            let chains = cache.get_or_insert_with(collection, || Chains::new(&tree));
            slots(chains, chain, len);
            tree.fill(chains, chain, 0, len, raw);
            chains.summaries.resize(tree.len(), Some(Seen::Nothing));
            assert!(chains.has_summary(chain));
        }
        cache.recycle();
        let mut kept = Vec::new();
        cache.retain_mut(|c, chains| {
            assert!(chains.slots.iter().all(Vec::is_empty), "{c:?} kept values");
            assert!(!chains.has_summary(chain), "{c:?} kept a summary");
            kept.push((c, chains.capacity()));
            true
        });
        // Headers: both the chain and its `urlDecodeUni` prefix were filled.
        assert_eq!(kept, vec![(Collection::RequestHeaders, 16)]);
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
                    // `None`: not filled; `Some(None)`: unchanged.
                    let got = cache.slots[chain][index]
                        .transformed
                        .clone()
                        .map(|t| t.unwrap_or_else(|| raw.to_vec()));
                    assert_eq!(
                        got.as_deref(),
                        Some(expected.as_ref()),
                        "chain {:?} on {raw:?}",
                        rules[chain]
                    );
                }
            }
        }
    }
}
