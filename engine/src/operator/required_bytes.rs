//! Bytes a regex cannot match without: a set such that every match holds at
//! least one of them, so a value holding none is answered "no match"
//! before the regex engine starts.
//!
//! The engine's prefilter ([`crate::prefilter`]) rules regexes out by the
//! literals every match must begin or end with. A third of CRS's regexes
//! have none it can use (`[\s"'`;/0-9=]on[a-z]{3,50}\s*=` starts with a
//! class), yet almost all need some rare byte: that one needs `=`. Under CRS
//! a 4 KB JSON body ran about 30 such regexes on each of its 350 values
//! (argument names and values), most values holding no `=`, `<`, `(` or
//! quote at all.

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::transform::triggers::ByteKinds;

/// A set of bytes as a 256-bit table.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ByteSet([u64; 4]);

/// How a regex's required bytes are looked for in a value: memchr for up
/// to three (most sets: `=`, `<`, a quote), a table for more.
#[derive(Clone, Debug)]
pub(crate) enum RequiredBytes {
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
    Table(Box<[bool; 256]>),
}

impl RequiredBytes {
    /// Does `value` hold any of the bytes?
    pub(crate) fn found_in(&self, value: &[u8]) -> bool {
        match self {
            RequiredBytes::One(a) => memchr::memchr(*a, value).is_some(),
            RequiredBytes::Two(a, b) => memchr::memchr2(*a, *b, value).is_some(),
            RequiredBytes::Three(a, b, c) => memchr::memchr3(*a, *b, *c, value).is_some(),
            RequiredBytes::Table(table) => value.iter().any(|b| table[usize::from(*b)]),
        }
    }

    /// The bytes of which a value must hold one for any of several regexes
    /// to match: the union of their sets, if every one has a set and the
    /// union is still rare enough to be worth a scan. For the engine's
    /// regex sets ([`crate::prefilter`]), whose lazy DFA then need not walk
    /// a value that none of their regexes could match.
    pub(crate) fn union<'a>(
        all: impl IntoIterator<Item = Option<&'a RequiredBytes>>,
    ) -> Option<Self> {
        let mut union = ByteSet::empty();
        for required in all {
            for byte in required?.bytes() {
                union.insert(byte);
            }
        }
        (union.cost() <= MAX_UNION_COST).then(|| RequiredBytes::from_set(&union))
    }

    /// The kinds of the bytes, if each has one ([`ByteKinds::required`]).
    pub(crate) fn kinds(&self) -> Option<ByteKinds> {
        ByteKinds::required(self.bytes())
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            RequiredBytes::One(a) => vec![*a],
            RequiredBytes::Two(a, b) => vec![*a, *b],
            RequiredBytes::Three(a, b, c) => vec![*a, *b, *c],
            RequiredBytes::Table(table) => {
                (0..=u8::MAX).filter(|b| table[usize::from(*b)]).collect()
            }
        }
    }

    fn from_set(set: &ByteSet) -> Self {
        let bytes: Vec<u8> = set.bytes().collect();
        match bytes[..] {
            [a] => RequiredBytes::One(a),
            [a, b] => RequiredBytes::Two(a, b),
            [a, b, c] => RequiredBytes::Three(a, b, c),
            _ => {
                let mut table = Box::new([false; 256]);
                for b in bytes {
                    table[usize::from(b)] = true;
                }
                RequiredBytes::Table(table)
            }
        }
    }
}

/// A set costlier than this (see [`rarity_cost`]) rules too few values out
/// to pay for the scan: `[a-z]` alone costs 260.
const MAX_COST: u32 = 48;

/// The same bound for the union of a regex set's members: a little looser,
/// since a set's walk of a value costs more than one regex's start (at
/// 128, CRS's GET ran 0.4% more instructions than at 64, its JSON level).
const MAX_UNION_COST: u32 = 64;

impl ByteSet {
    fn empty() -> Self {
        ByteSet([0; 4])
    }

    fn insert(&mut self, byte: u8) {
        self.0[usize::from(byte / 64)] |= 1 << (byte % 64);
    }

    fn contains(&self, byte: u8) -> bool {
        self.0[usize::from(byte / 64)] & (1 << (byte % 64)) != 0
    }

    fn union(&mut self, other: &ByteSet) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine |= theirs;
        }
    }

    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=u8::MAX).filter(|b| self.contains(*b))
    }

    /// How often values are expected to hold a byte of the set: the sum of
    /// each byte's [`rarity_cost`]. Counted by weight class with masks, not
    /// byte by byte: it is asked for every piece of every regex at VM
    /// start, and CRS's word lists have thousands.
    fn cost(&self) -> u32 {
        WEIGHT_MASKS
            .iter()
            .map(|(weight, mask)| {
                let members: u32 = self
                    .0
                    .iter()
                    .zip(mask)
                    .map(|(s, m)| (s & m).count_ones())
                    .sum();
                weight * members
            })
            .sum()
    }
}

/// Each weight [`rarity_cost`] gives, with the bytes that have it.
const WEIGHT_MASKS: [(u32, [u64; 4]); 4] = [
    (10, weight_mask(10)),
    (6, weight_mask(6)),
    (4, weight_mask(4)),
    (1, weight_mask(1)),
];

const fn weight_mask(weight: u32) -> [u64; 4] {
    let mut mask = [0u64; 4];
    let mut byte = 0;
    while byte < 256 {
        if rarity_cost(byte as u8) == weight {
            mask[byte / 64] |= 1 << (byte % 64);
        }
        byte += 1;
    }
    mask
}

/// A rough weight for how common a byte is in request values (argument
/// names and values, header values): letters and digits most, then space
/// and the punctuation of ordinary text and URLs, then the rest. Only
/// used to choose among sets a regex needs, and to give up on common ones.
const fn rarity_cost(byte: u8) -> u32 {
    match byte {
        b'a'..=b'z' => 10,
        b'A'..=b'Z' | b'0'..=b'9' | b' ' => 6,
        b'.' | b',' | b'-' | b'_' | b'/' | b':' | b'@' => 4,
        _ => 1,
    }
}

/// The bytes of which a value must hold one to contain any of `phrases`
/// (compared ASCII case-insensitively, as `@pm` does): each phrase's
/// rarest byte, both cases of a letter, if the union is rare enough to be
/// worth a scan. CRS's file-path and extension lists (`.bash_history`,
/// `/etc/passwd`) need `.`, `/` or `_`; a list of plain words needs letters
/// and gets no set.
pub(crate) fn for_phrases(phrases: &[&[u8]]) -> Option<RequiredBytes> {
    let mut union = ByteSet::empty();
    for phrase in phrases {
        let rarest = phrase
            .iter()
            .map(|&b| {
                let mut set = ByteSet::empty();
                set.insert(b.to_ascii_lowercase());
                set.insert(b.to_ascii_uppercase());
                set
            })
            .min_by_key(ByteSet::cost)?;
        union.union(&rarest);
        if union.cost() > MAX_COST {
            return None;
        }
    }
    Some(RequiredBytes::from_set(&union))
}

/// The bytes every match of `hir` holds at least one of, if a set rare
/// enough to be worth a scan exists.
pub(crate) fn required_bytes(hir: &Hir) -> Option<RequiredBytes> {
    needed(hir)
        .filter(|set| set.cost() <= MAX_COST)
        .map(|set| RequiredBytes::from_set(&set))
}

/// A set every match of `hir` holds a byte of; `None` when a match may be
/// empty (or hold bytes this analysis does not follow).
fn needed(hir: &Hir) -> Option<ByteSet> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        // Any one byte of the literal will do: the rarest.
        HirKind::Literal(lit) => lit
            .0
            .iter()
            .copied()
            .min_by_key(|b| rarity_cost(*b))
            .map(|b| {
                let mut set = ByteSet::empty();
                set.insert(b);
                set
            }),
        HirKind::Class(class) => class_bytes(class),
        HirKind::Repetition(rep) if rep.min > 0 => needed(&rep.sub),
        HirKind::Repetition(_) => None,
        HirKind::Capture(cap) => needed(&cap.sub),
        // Every piece of a sequence is in the match: the rarest piece's set.
        HirKind::Concat(subs) => subs.iter().filter_map(needed).min_by_key(ByteSet::cost),
        // A match is some branch's match: every branch must need something.
        HirKind::Alternation(subs) => subs.iter().try_fold(ByteSet::empty(), |mut all, sub| {
            all.union(&needed(sub)?);
            Some(all)
        }),
    }
}

/// The bytes a one-byte class matches. A Unicode class (which byte mode
/// only makes of ASCII) counts when every member is one byte.
fn class_bytes(class: &Class) -> Option<ByteSet> {
    let mut set = ByteSet::empty();
    match class {
        Class::Bytes(c) => {
            for range in c.ranges() {
                for b in range.start()..=range.end() {
                    set.insert(b);
                }
            }
        }
        Class::Unicode(c) => {
            for range in c.ranges() {
                let end = u8::try_from(u32::from(range.end()))
                    .ok()
                    .filter(u8::is_ascii)?;
                let start = u8::try_from(u32::from(range.start())).ok()?;
                for b in start..=end {
                    set.insert(b);
                }
            }
        }
    }
    Some(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::operator::rx::syntax_config;
    use regex_automata::util::syntax;

    fn required(pattern: &str) -> Option<String> {
        let hir = syntax::parse_with(pattern, &syntax_config()).unwrap();
        let set = required_bytes(&hir)?;
        let bytes = (0..=u8::MAX).filter(|b| set.found_in(&[*b])).collect();
        Some(String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn picks_the_rarest_piece_a_match_needs() {
        // CRS 941120's shape: the class at the start is common, `=` is not.
        assert_eq!(
            required(r#"(?i)[\s"'`;/0-9=]on[a-z]{3,50}[\s]*?="#).as_deref(),
            Some("=")
        );
        assert_eq!(required(r"<script").as_deref(), Some("<"));
        // Each branch needs its own byte; a match needs one of them.
        assert_eq!(required(r"\(|<|'").as_deref(), Some("'(<"));
        assert_eq!(required(r"a+\$\{").as_deref(), Some("$"));
    }

    #[test]
    fn gives_up_where_a_match_may_need_nothing_rare() {
        // May be empty, or a branch needs nothing.
        assert_eq!(required(r"x*"), None);
        assert_eq!(required(r"^"), None);
        assert_eq!(required(r"<|\w*"), None);
        // Needs only common bytes: scanning for them would rule out little.
        assert_eq!(required(r"[a-z0-9]+"), None);
        assert_eq!(required(r"\w{2}"), None);
        // A letter will do, where nothing rarer is needed.
        assert_eq!(required(r"(?i)select").as_deref(), Some("Ss"));
    }

    /// The masked count agrees with summing byte by byte.
    #[test]
    fn cost_is_the_sum_of_byte_weights() {
        let mut set = ByteSet::empty();
        for b in [b'a', b'Z', b'0', b' ', b'.', b'=', 0xff, 0] {
            set.insert(b);
        }
        let naive: u32 = set.bytes().map(rarity_cost).sum();
        assert_eq!(set.cost(), naive);
        assert_eq!(naive, 10 + 6 + 6 + 6 + 4 + 1 + 1 + 1);
    }

    /// The rule the set stands for: a value with none of its bytes never
    /// matches the regex.
    #[test]
    fn values_without_the_bytes_never_match() {
        let patterns = [
            r#"(?i)[\s"'`;/0-9=]on[a-z]{3,50}[\s]*?="#,
            r"(?:<|%3c)\s*script",
            r"\$\{[^}]+\}|\(\)\s*\{",
            r"(?i)\b(?:union|select)\b.{0,20}'",
        ];
        let values: [&[u8]; 6] = [
            b"onload=alert(1)",
            b"<SCRIPT>",
            b"%3cscript",
            b"${jndi:ldap}",
            b"() {",
            b"union all select 'x'",
        ];
        for pattern in patterns {
            let hir = syntax::parse_with(pattern, &syntax_config()).unwrap();
            let Some(set) = required_bytes(&hir) else {
                continue;
            };
            let regex = regex_automata::meta::Regex::builder()
                .syntax(syntax_config())
                .build(pattern)
                .unwrap();
            for value in values {
                if regex.is_match(value) {
                    assert!(set.found_in(value), "{pattern} matched {value:?}");
                }
            }
        }
    }

    /// A phrase list's set holds a byte of every phrase in either case; a
    /// list of plain words soon costs too much to get one.
    #[test]
    fn phrase_lists_need_their_rarest_bytes() {
        let paths: [&[u8]; 4] = [b"etc/passwd", b".bash_history", b"boot.ini", b"WEB-INF"];
        let set = for_phrases(&paths).unwrap();
        for phrase in paths {
            for value in [
                phrase.to_vec(),
                phrase.to_ascii_uppercase(),
                phrase.to_ascii_lowercase(),
            ] {
                let mut framed = b"x=".to_vec();
                framed.extend_from_slice(&value);
                assert!(
                    set.found_in(&framed),
                    "{:?}",
                    String::from_utf8_lossy(&value)
                );
            }
        }
        assert!(!set.found_in(b"hello world 42"));
        let words: [&[u8]; 6] = [b"select", b"union", b"insert", b"drop", b"alter", b"grant"];
        assert!(for_phrases(&words).is_none());
    }
}
