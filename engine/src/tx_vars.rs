//! Transaction variables (the TX collection): lowercase name → value, with
//! their storage kept from one request to the next.
//!
//! CRS sets about 150 variables per request, most of them the same names
//! every time (`tx.blocking_paranoia_level`, the anomaly scores). Dropped
//! at each reset, they cost two allocations apiece on the next request,
//! and `setvar` on an existing one a third: a quarter of a CRS GET's
//! allocations (callgrind). A reset here only marks every variable unset;
//! setting it again writes into the buffers it had.

use std::collections::HashMap;

use foldhash::fast::RandomState;

/// Variables a reset keeps storage for: CRS names about 150 per request;
/// a request that made thousands (one per header or part, CRS 920450)
/// does not leave them allocated in a pooled transaction.
const RETAINED_VARS: usize = 512;

/// Bytes of names and values a reset keeps, over all variables: CRS's
/// come to a few KB (its longest are lists such as
/// `tx.restricted_extensions`); a request that set large values (a copy of
/// a header or a body) leaves nothing behind in a pooled transaction, of
/// which a VM keeps up to 16.
const RETAINED_BYTES: usize = 32 * 1024;

/// Hashed, not sorted: CRS reads a variable by name in 260 rules and names
/// share prefixes (`inbound_anomaly_score_pl1`..`pl4`), which a B-tree
/// compared byte by byte at every level, while only five of its rules
/// iterate TX (selected by regex), and those sort what they pick.
///
/// Names can come from the request (CRS 920450 names one after each
/// header), so the hasher is keyed, never the engine's fixed one
/// ([`crate::hash`]): foldhash, seeded per map from a per-process seed.
/// std's SipHash was 4% of a CRS GET in V8, about 300 lookups of short
/// names per request.
#[derive(Clone, Debug, Default)]
pub(crate) struct TxVars {
    slots: HashMap<Vec<u8>, Slot, RandomState>,
}

/// One name's storage; `set` is false once the variable is removed or the
/// transaction reset, and then no reader sees it.
#[derive(Clone, Debug, Default)]
struct Slot {
    value: Vec<u8>,
    set: bool,
}

impl TxVars {
    /// The value of a set variable.
    pub(crate) fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.get_key_value(name).map(|(_, v)| v)
    }

    /// The stored name and value of a set variable.
    pub(crate) fn get_key_value(&self, name: &[u8]) -> Option<(&[u8], &[u8])> {
        match self.slots.get_key_value(name) {
            Some((k, slot)) if slot.set => Some((k, &slot.value)),
            _ => None,
        }
    }

    /// Sets a variable to `value`.
    pub(crate) fn set(&mut self, name: &[u8], value: &[u8]) {
        self.set_with(name, |v| v.extend_from_slice(value));
    }

    /// Sets a variable to what `write` appends to its emptied buffer.
    pub(crate) fn set_with(&mut self, name: &[u8], write: impl FnOnce(&mut Vec<u8>)) {
        if let Some(slot) = self.slots.get_mut(name) {
            slot.value.clear();
            write(&mut slot.value);
            slot.set = true;
            return;
        }
        let mut value = Vec::new();
        write(&mut value);
        self.slots.insert(name.to_vec(), Slot { value, set: true });
    }

    /// Unsets a variable.
    pub(crate) fn remove(&mut self, name: &[u8]) {
        if let Some(slot) = self.slots.get_mut(name) {
            slot.set = false;
            slot.value.clear();
        }
    }

    /// Every set variable, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.slots
            .iter()
            .filter(|(_, slot)| slot.set)
            .map(|(k, slot)| (k.as_slice(), slot.value.as_slice()))
    }

    /// Unsets every variable, keeping (bounded) storage for the next
    /// request.
    pub(crate) fn clear(&mut self) {
        let bytes: usize = self
            .slots
            .iter()
            .map(|(name, slot)| name.capacity() + slot.value.capacity())
            .sum();
        if self.slots.len() > RETAINED_VARS || bytes > RETAINED_BYTES {
            self.slots = HashMap::default();
            return;
        }
        for slot in self.slots.values_mut() {
            slot.set = false;
            slot.value.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cleared or removed variable is gone for every reader, and setting
    /// it again shows only the new value.
    #[test]
    fn unset_variables_are_invisible() {
        let mut vars = TxVars::default();
        vars.set(b"score", b"5");
        vars.set(b"kept", b"yes");
        vars.remove(b"kept");
        assert_eq!(vars.get(b"score"), Some(&b"5"[..]));
        assert_eq!(vars.get(b"kept"), None);
        assert_eq!(vars.iter().count(), 1);

        vars.clear();
        assert_eq!(vars.get(b"score"), None);
        assert_eq!(vars.get_key_value(b"score"), None);
        assert_eq!(vars.iter().count(), 0);

        vars.set_with(b"score", |v| v.extend_from_slice(b"12"));
        assert_eq!(vars.get(b"score"), Some(&b"12"[..]));
        assert_eq!(
            vars.iter().collect::<Vec<_>>(),
            [(&b"score"[..], &b"12"[..])]
        );
    }

    /// Storage survives a reset up to the bounds, and no further.
    #[test]
    fn reset_keeps_bounded_storage() {
        let mut vars = TxVars::default();
        vars.set(b"small", b"1");
        vars.set(b"list", &[b'x'; 4096]);
        vars.clear();
        assert_eq!(vars.slots.len(), 2);
        assert!(vars.slots[&b"list"[..]].value.capacity() >= 4096);

        vars.set(b"large", &[b'x'; RETAINED_BYTES]);
        vars.clear();
        assert!(vars.slots.is_empty());

        for i in 0..=RETAINED_VARS {
            vars.set(format!("v{i}").as_bytes(), b"1");
        }
        vars.clear();
        assert!(vars.slots.is_empty());
    }
}
