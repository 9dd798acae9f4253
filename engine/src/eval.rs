//! Rule evaluation: runs a compiled ruleset over a request, phase by phase,
//! and keeps the anomaly score.
//!
//! Per phase, each collection is expanded once and each (value, transform
//! chain) pair is transformed once, however many rules read it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::request::Request;
use crate::rule::{Action, ChainId, Phase, Rule, RuleId};
use crate::transform::{self, Transform};
use crate::variable::{Collection, Instance, Selector, Target};
use crate::verdict::{masked_excerpt, Decision, RuleMatch, Verdict};

/// A compiled ruleset, shared by every request.
#[derive(Clone, Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    chains: Vec<Vec<Transform>>,
    categories: Vec<String>,
}

/// Whether a reached threshold blocks or is only reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Block,
    Detect,
}

/// Targets taken away from some rules for some requests: the tool for false
/// positives (`password` is not SQL, `/upload` bodies are not inspected by 9xx).
#[derive(Clone, Debug, Default)]
pub struct Exclusion {
    /// Applies only to paths starting with this (raw path), if set.
    pub path_prefix: Option<Vec<u8>>,
    /// Applies only to this host (`Host` / `:authority`, port ignored), if set.
    pub host: Option<Vec<u8>>,
    /// Rules affected by id; with `tags` empty too, every rule.
    pub rule_ids: Vec<RuleId>,
    /// Rules affected by tag.
    pub tags: Vec<String>,
    /// Targets removed from those rules; empty means the rules are off.
    pub targets: Vec<(Collection, Option<Selector>)>,
}

impl Exclusion {
    fn applies_to_request(&self, req: &Request) -> bool {
        if let Some(prefix) = &self.path_prefix {
            if !req.path_raw.starts_with(prefix) {
                return false;
            }
        }
        if let Some(host) = &self.host {
            let hosts = req
                .header_values(b":authority")
                .chain(req.header_values(b"host"));
            let mut matched = false;
            for value in hosts {
                let name = value.rsplit_once_port();
                if name.eq_ignore_ascii_case(host) {
                    matched = true;
                    break;
                }
            }
            if !matched {
                return false;
            }
        }
        true
    }

    fn applies_to_rule(&self, rule: &Rule) -> bool {
        (self.rule_ids.is_empty() && self.tags.is_empty())
            || self.rule_ids.contains(&rule.id)
            || rule.tags.iter().any(|t| self.tags.contains(t))
    }

    fn removes(&self, target: &Target, name: &[u8]) -> bool {
        self.targets
            .iter()
            .any(|(c, sel)| *c == target.collection && sel.as_ref().is_none_or(|s| s.selects(name)))
    }
}

trait HostPort {
    fn rsplit_once_port(&self) -> &[u8];
}

impl HostPort for [u8] {
    /// `example.com:8080` → `example.com`; IPv6 `[::1]:80` → `[::1]`.
    fn rsplit_once_port(&self) -> &[u8] {
        match self.iter().rposition(|&b| b == b':') {
            Some(i)
                if !self[i..].contains(&b']') && self[i + 1..].iter().all(u8::is_ascii_digit) =>
            {
                &self[..i]
            }
            _ => self,
        }
    }
}

/// How a ruleset is applied: mode, paranoia, threshold, what is switched off.
#[derive(Clone, Debug)]
pub struct Policy {
    pub mode: Mode,
    pub paranoia: u8,
    pub inbound_threshold: u32,
    pub exclusions: Vec<Exclusion>,
    /// Per rule (engine order): runs at all under this policy.
    enabled: Vec<bool>,
}

/// Inputs to [`Engine::policy`].
#[derive(Clone, Debug)]
pub struct PolicyConfig {
    pub mode: Mode,
    pub paranoia: u8,
    pub inbound_threshold: u32,
    pub disabled_rules: Vec<RuleId>,
    pub disabled_tags: Vec<String>,
    pub exclusions: Vec<Exclusion>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            mode: Mode::Block,
            paranoia: 1,
            inbound_threshold: 5,
            disabled_rules: Vec::new(),
            disabled_tags: Vec::new(),
            exclusions: Vec::new(),
        }
    }
}

/// Transformed values: (collection, instance index, chain) → the value after
/// the chain, `None` when the chain left it unchanged.
type TransformCache = HashMap<(Collection, usize, ChainId), Option<Vec<u8>>, FastKeys>;

/// Hasher for the per-request maps keyed by our own small integers
/// (collection, instance index, chain id). They are probed for every
/// (rule, value) pair: with std's SipHash, hashing was a fifth of the engine's
/// time on a 4 KB JSON body (perf, bench/). The keys are not attacker-chosen
/// bytes, so SipHash's flooding resistance buys nothing here; a
/// multiply-rotate mix is enough to spread them.
type FastKeys = BuildHasherDefault<KeyHasher>;

#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl KeyHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn mix(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(Self::K);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Per-request state carried from the headers phase to the body phase.
#[derive(Clone, Debug, Default)]
pub struct Transaction {
    matches: Vec<RuleMatch>,
    scores: Vec<u32>,
    block_now: bool,
    allowed: bool,
    /// Kept across phases so header, cookie and URI values are transformed
    /// once per request; body-dependent entries are dropped when the body
    /// arrives because their instances change.
    transformed: TransformCache,
}

impl Transaction {
    pub fn new() -> Self {
        Transaction::default()
    }

    /// Total inbound anomaly score so far.
    pub fn score(&self) -> u32 {
        self.scores.iter().sum()
    }

    pub fn matches(&self) -> &[RuleMatch] {
        &self.matches
    }
}

impl Engine {
    pub(crate) fn new(
        rules: Vec<Rule>,
        chains: Vec<Vec<Transform>>,
        categories: Vec<String>,
    ) -> Self {
        Engine {
            rules,
            chains,
            categories,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Does any enabled rule run in the body phase? If not, the filter need
    /// not buffer bodies at all.
    pub fn inspects_body(&self, policy: &Policy) -> bool {
        self.rules
            .iter()
            .zip(&policy.enabled)
            .any(|(r, on)| *on && r.phase == Phase::Body)
    }

    /// Binds a policy to this ruleset, resolving paranoia and disabled
    /// ids / tags to one flag per rule so requests pay no lookups.
    pub fn policy(&self, config: PolicyConfig) -> Policy {
        let enabled = self
            .rules
            .iter()
            .map(|r| {
                r.paranoia <= config.paranoia
                    && !config.disabled_rules.contains(&r.id)
                    && !r.tags.iter().any(|t| config.disabled_tags.contains(t))
            })
            .collect();
        Policy {
            mode: config.mode,
            paranoia: config.paranoia,
            inbound_threshold: config.inbound_threshold,
            exclusions: config.exclusions,
            enabled,
        }
    }

    /// Runs every enabled rule of `phase` over `req`, accumulating into `tx`.
    /// Returns true when the outcome is already decided (block or allow), so
    /// the caller can stop early.
    pub fn evaluate(
        &self,
        phase: Phase,
        req: &Request,
        policy: &Policy,
        tx: &mut Transaction,
    ) -> bool {
        if tx.allowed || tx.block_now {
            return true;
        }
        if tx.scores.len() < self.categories.len() {
            tx.scores.resize(self.categories.len(), 0);
        }
        let active: Vec<&Exclusion> = policy
            .exclusions
            .iter()
            .filter(|e| e.applies_to_request(req))
            .collect();
        if phase == Phase::Body {
            tx.transformed.retain(|(c, _, _), _| !c.needs_body());
        }
        let mut scope = PhaseScope {
            req,
            tables: HashMap::default(),
            transformed: std::mem::take(&mut tx.transformed),
        };
        for (rule, _) in self
            .rules
            .iter()
            .zip(&policy.enabled)
            .filter(|(r, on)| **on && r.phase == phase)
        {
            let excl: Vec<&Exclusion> = active
                .iter()
                .copied()
                .filter(|e| e.applies_to_rule(rule))
                .collect();
            if excl.iter().any(|e| e.targets.is_empty()) {
                continue;
            }
            let chain = &self.chains[rule.chain.0 as usize];
            let Some(found) = scope.first_match(rule, chain, &excl) else {
                continue;
            };
            let score = match rule.action {
                Action::Log | Action::Allow => 0,
                Action::Pass | Action::Block => rule.score,
            };
            tx.scores[rule.category.0 as usize] += score;
            tx.matches.push(RuleMatch {
                rule_id: rule.id,
                message: rule.message.clone(),
                severity: rule.severity,
                category: self.categories[rule.category.0 as usize].clone(),
                action: rule.action,
                phase: rule.phase,
                score,
                variable: found.variable,
                excerpt: found.excerpt,
            });
            match rule.action {
                Action::Block => tx.block_now = true,
                Action::Allow => tx.allowed = true,
                Action::Pass | Action::Log => {}
            }
            if tx.block_now || tx.allowed {
                break;
            }
        }
        tx.transformed = scope.transformed;
        tx.block_now || tx.allowed || tx.score() >= policy.inbound_threshold
    }

    /// The verdict for everything evaluated so far.
    pub fn verdict(&self, policy: &Policy, tx: &Transaction) -> Verdict {
        let score = tx.score();
        let decision = if tx.allowed {
            Decision::Allow
        } else if tx.block_now || score >= policy.inbound_threshold {
            match policy.mode {
                Mode::Block => Decision::Block,
                Mode::Detect => Decision::Detect,
            }
        } else {
            Decision::Pass
        };
        Verdict {
            decision,
            score,
            scores: self
                .categories
                .iter()
                .zip(&tx.scores)
                .filter(|(_, s)| **s > 0)
                .map(|(c, s)| (c.clone(), *s))
                .collect(),
            threshold: policy.inbound_threshold,
            matches: tx.matches.clone(),
        }
    }

    /// Convenience for tests and the CLI: both phases over a complete request.
    pub fn inspect(&self, req: &Request, policy: &Policy) -> Verdict {
        let mut tx = Transaction::new();
        if !self.evaluate(Phase::Headers, req, policy, &mut tx) {
            self.evaluate(Phase::Body, req, policy, &mut tx);
        }
        self.verdict(policy, &tx)
    }
}

struct Found {
    variable: String,
    excerpt: String,
}

/// Expanded collections and transformed values for one phase of one request.
struct PhaseScope<'r> {
    req: &'r Request,
    tables: HashMap<Collection, Vec<Instance<'r>>, FastKeys>,
    transformed: TransformCache,
}

impl PhaseScope<'_> {
    fn first_match(
        &mut self,
        rule: &Rule,
        chain: &[Transform],
        excl: &[&Exclusion],
    ) -> Option<Found> {
        for target in &rule.targets {
            let req = self.req;
            let table = self
                .tables
                .entry(target.collection)
                .or_insert_with(|| target.collection.instances(req));
            let selected = table.iter().enumerate().filter(|(_, inst)| {
                target.selects(&inst.name) && !excl.iter().any(|e| e.removes(target, &inst.name))
            });
            if target.count {
                let count = selected.count().to_string().into_bytes();
                let value = transform::apply_chain(chain, &count);
                if let Some(m) = evaluate(rule, &value) {
                    return Some(Found {
                        variable: target.describe(b""),
                        excerpt: masked_excerpt(b"", &value, m),
                    });
                }
                continue;
            }
            for (index, inst) in selected {
                let value: Cow<'_, [u8]> = if chain.is_empty() {
                    Cow::Borrowed(&inst.value)
                } else {
                    let cached = self
                        .transformed
                        .entry((target.collection, index, rule.chain))
                        .or_insert_with(|| match transform::apply_chain(chain, &inst.value) {
                            Cow::Borrowed(_) => None,
                            Cow::Owned(v) => Some(v),
                        });
                    match cached {
                        Some(v) => Cow::Borrowed(v.as_slice()),
                        None => Cow::Borrowed(&inst.value),
                    }
                };
                if let Some(span) = evaluate(rule, &value) {
                    return Some(Found {
                        variable: target.describe(&inst.name),
                        excerpt: masked_excerpt(&inst.name, &value, span),
                    });
                }
            }
        }
        None
    }
}

/// Runs the operator, applying negation. `Some(span)` on a match.
fn evaluate(rule: &Rule, value: &[u8]) -> Option<Option<(usize, usize)>> {
    match (rule.operator.evaluate(value), rule.negate) {
        (Some(m), false) => Some(m.span),
        (None, true) => Some(None),
        _ => None,
    }
}
