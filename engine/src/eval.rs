//! Rule evaluation: runs a compiled ruleset over a request, phase by phase,
//! and keeps the anomaly score.
//!
//! Per phase, each collection is expanded once and each (value, transform
//! chain) pair is transformed once, however many rules read it.

use std::borrow::Cow;
use std::io::Write as _;

use serde::{Deserialize, Serialize};

use crate::body::Processor;
use crate::chains::{self, ChainTree, Chains, TransformCache};
use crate::effect::{Ctl, Effect, EngineSetting, SetOp};
use crate::macros::{MacroSource, MacroVar};
use crate::operator::numeric::parse_int;
use crate::operator::Operator;
use crate::prefilter::{Prefilter, Walks};
use crate::request::Request;
use crate::rule::{Action, ChainId, Condition, Phase, Rule, RuleId};
use crate::transform::triggers::ByteKinds;
use crate::transform::{self, Transform};
use crate::tx_vars::TxVars;
use crate::variable::{
    push_lossy, ByCollection, Collection, CollectionSet, Instance, Instances, Selector, Target,
};
use crate::verdict::{
    is_secret_name, log_data, masked_excerpt, Decision, RuleMatch, Verdict, MASKED_DATA,
};

/// A compiled ruleset, shared by every request.
#[derive(Clone, Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    /// Indices into `rules` by phase, in rule order: CRS has rules in all
    /// five phases, and walking all of them to find one phase's was 3% of
    /// its GET (V8 profile).
    by_phase: [Vec<usize>; Phase::COUNT],
    chains: ChainTree,
    prefilter: Prefilter,
    categories: Vec<String>,
    policy_vars: PolicyVars,
}

/// Transaction variables through which a SecLang ruleset (OWASP CRS) reads
/// the policy and reports its score, so the plugin configuration's
/// `paranoia_level` and `inbound_anomaly_threshold` mean the same for CRS as
/// for native rules. Empty for native rulesets, which the engine scores itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVars {
    /// Set to the paranoia level before the first rule runs.
    #[serde(default)]
    pub paranoia: Vec<String>,
    /// Set to the inbound anomaly threshold before the first rule runs.
    #[serde(default)]
    pub inbound_threshold: Vec<String>,
    /// Read as the verdict's score.
    #[serde(default)]
    pub score: Option<String>,
}

/// Whether a reached threshold blocks or is only reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Block,
    Detect,
    /// No rule runs: the request passes uninspected (a health route, a
    /// host another WAF covers). Only a scoped policy can usefully say it.
    Off,
}

/// Targets taken away from some rules for some requests: the tool for false
/// positives (`password` is not SQL, `/upload` bodies are not inspected by 9xx).
#[derive(Clone, Debug, Default)]
pub struct Exclusion {
    /// Applies only to paths starting with this (raw path), if set.
    pub path_prefix: Option<Vec<u8>>,
    /// Applies only to this host (`Host` / `:authority`, port ignored), if set.
    pub host: Option<Vec<u8>>,
    /// Rules affected by id; with `tags` and `id_ranges` empty too, every rule.
    pub rule_ids: Vec<RuleId>,
    /// Rules affected by id range (inclusive), as SecLang writes them.
    pub id_ranges: Vec<(RuleId, RuleId)>,
    /// Rules affected by tag.
    pub tags: Vec<String>,
    /// Targets removed from those rules; empty means the rules are off.
    pub targets: Vec<(Collection, Option<Selector>)>,
}

impl Exclusion {
    /// Does this exclusion apply to this request (path prefix and host)?
    pub fn applies_to_request(&self, req: &Request) -> bool {
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

    /// Does this exclusion apply to this rule (id, id range or tag)?
    pub fn applies_to_rule(&self, rule: &Rule) -> bool {
        (self.rule_ids.is_empty() && self.tags.is_empty() && self.id_ranges.is_empty())
            || self.rule_ids.contains(&rule.id)
            || self
                .id_ranges
                .iter()
                .any(|(a, b)| (*a..=*b).contains(&rule.id))
            || rule.tags.iter().any(|t| self.tags.contains(t))
    }

    /// Could this exclusion change how `condition` runs: it turns rules
    /// off, or takes away part of a collection the condition reads? Asked
    /// before [`Exclusion::applies_to_rule`], whose tag comparisons cost
    /// more: CRS's 941010 removes REQUEST_FILENAME from its XSS rules for
    /// the rest of almost every request, and every condition after it used
    /// to compare its rule's tags with that exclusion's.
    fn may_affect(&self, condition: &Condition) -> bool {
        self.targets.is_empty()
            || self.targets.iter().any(|(collection, _)| {
                condition
                    .targets
                    .iter()
                    .any(|t| t.collection == *collection)
            })
    }

    /// Does this exclusion take the member `name` of `target` away?
    pub fn removes(&self, target: &Target, name: &[u8]) -> bool {
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

/// A host a scoped policy names: exact (`api.example.com`) or every
/// subdomain (`*.example.com`, which does not cover `example.com` itself).
/// Stored lowercase, without a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Exact(Vec<u8>),
    /// The suffix with its dot: `.example.com`.
    Subdomains(Vec<u8>),
}

impl HostPattern {
    fn matches(&self, host: &[u8]) -> bool {
        match self {
            HostPattern::Exact(h) => host.eq_ignore_ascii_case(h),
            HostPattern::Subdomains(suffix) => {
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }
}

/// Which requests a scoped policy (`policies[i]`) covers. Every part that
/// is set must match; an empty list means "any".
#[derive(Clone, Debug, Default)]
pub struct PolicyScope {
    /// `:authority` / `Host`, port ignored.
    pub hosts: Vec<HostPattern>,
    /// Envoy route names (the `name` of the matched route, `xds.route_name`).
    pub routes: Vec<Vec<u8>>,
    /// Raw path prefix.
    pub path_prefix: Option<Vec<u8>>,
}

impl PolicyScope {
    /// Does the scope cover this request? `route` is the name of the Envoy
    /// route it matched, if the host told.
    pub fn covers(&self, req: &Request, route: Option<&[u8]>) -> bool {
        if let Some(prefix) = &self.path_prefix {
            if !req.path_raw.starts_with(prefix) {
                return false;
            }
        }
        if !self.routes.is_empty() && !route.is_some_and(|r| self.routes.iter().any(|n| n == r)) {
            return false;
        }
        if !self.hosts.is_empty() {
            let mut hosts = req
                .header_values(b":authority")
                .chain(req.header_values(b"host"));
            if !hosts.any(|v| {
                let name = v.rsplit_once_port();
                self.hosts.iter().any(|p| p.matches(name))
            }) {
                return false;
            }
        }
        true
    }
}

/// Names one of a configuration's policies: 0 is the top-level policy,
/// `i + 1` is `policies[i]`. Resolved once per request so the rule loop
/// works on one [`Policy`], never on host or route strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PolicyId(pub u16);

impl PolicyId {
    /// The top-level policy, for requests no scoped policy covers.
    pub const TOP: PolicyId = PolicyId(0);
}

/// A policy and the requests it covers.
#[derive(Clone, Debug)]
pub struct ScopedPolicy {
    pub scope: PolicyScope,
    pub policy: Policy,
}

/// How a ruleset is applied: mode, paranoia, threshold, what is switched off.
#[derive(Clone, Debug)]
pub struct Policy {
    /// How logs name it: `policies[i].name`, or `policies[i]`; empty for
    /// the top-level policy.
    pub name: String,
    pub mode: Mode,
    pub paranoia: u8,
    pub inbound_threshold: u32,
    pub exclusions: Vec<Exclusion>,
    /// Per rule (engine order): runs at all under this policy.
    enabled: Vec<bool>,
    /// Transaction variables set before the first rule (see [`PolicyVars`]).
    tx_seed: Vec<(Vec<u8>, Vec<u8>)>,
    /// Transaction variable read as the score, if the ruleset keeps its own.
    score_var: Option<Vec<u8>>,
}

/// Inputs to [`Engine::policy`].
#[derive(Clone, Debug)]
pub struct PolicyConfig {
    pub name: String,
    pub mode: Mode,
    pub paranoia: u8,
    pub inbound_threshold: u32,
    pub disabled_rules: Vec<RuleId>,
    pub disabled_tags: Vec<String>,
    pub exclusions: Vec<Exclusion>,
}

impl PolicyConfig {
    /// Whether `rule` runs at all under this policy: its mode is not off,
    /// the rule's paranoia level is within the policy's, and neither its
    /// id nor any of its tags is disabled.
    pub fn enables(&self, rule: &Rule) -> bool {
        self.mode != Mode::Off
            && rule.paranoia <= self.paranoia
            && !self.disabled_rules.contains(&rule.id)
            && !rule.tags.iter().any(|t| self.disabled_tags.contains(t))
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            name: String::new(),
            mode: Mode::Block,
            paranoia: 1,
            inbound_threshold: 5,
            disabled_rules: Vec::new(),
            disabled_tags: Vec::new(),
            exclusions: Vec::new(),
        }
    }
}

/// Hits whose storage a reset transaction keeps: most conditions match
/// one value; a `MATCHED_VARS` chain over every argument may match
/// thousands, and those are not kept.
const RETAINED_HITS: usize = 16;

/// A kept buffer (a hit's value, a `setvar` being expanded) larger than
/// this is dropped at reset: a pooled transaction should not hold a copy of
/// a large body.
const RETAINED_BUFFER_BYTES: usize = 1024;

/// Drops `buffer`'s storage if it is larger than a reset keeps.
fn drop_if_large(buffer: &mut Vec<u8>) {
    if buffer.capacity() > RETAINED_BUFFER_BYTES {
        *buffer = Vec::new();
    }
}

/// One value a condition matched.
#[derive(Clone, Debug, Default)]
struct Hit {
    /// How the verdict names it: `ARGS:id`, `TX:score`.
    name: String,
    /// The member name (`id`), empty for scalars.
    key: Vec<u8>,
    /// The value the operator saw (after transforms).
    value: Vec<u8>,
    span: Option<(usize, usize)>,
    /// Read from the transaction (TX, MATCHED_*), not from the request.
    dynamic: bool,
}

/// The values one condition matched, in storage kept from condition to
/// condition and request to request: a CRS GET matches 91 conditions (98
/// values, TX checks mostly), and a new name, key and value for each,
/// with the vector holding them, were about 380 of its 897 allocations
/// (callgrind).
#[derive(Clone, Debug, Default)]
struct Hits {
    /// The hits in use, then storage left by earlier conditions.
    items: Vec<Hit>,
    len: usize,
}

impl Hits {
    fn clear(&mut self) {
        self.len = 0;
    }

    /// Emptied storage for one more hit.
    fn next(&mut self) -> &mut Hit {
        if self.len == self.items.len() {
            self.items.push(Hit::default());
        }
        let hit = &mut self.items[self.len];
        self.len += 1;
        hit.name.clear();
        hit.key.clear();
        hit.value.clear();
        hit.span = None;
        hit.dynamic = false;
        hit
    }

    /// Shows only the first `len` hits: a condition's actions run once
    /// per hit, each seeing MATCHED_VARS up to its own.
    fn show(&mut self, len: usize) {
        self.len = len.min(self.items.len());
    }

    /// Empty, keeping bounded storage for the next request.
    fn recycle(&mut self) {
        self.len = 0;
        self.items.truncate(RETAINED_HITS);
        for hit in &mut self.items {
            drop_if_large(&mut hit.key);
            drop_if_large(&mut hit.value);
            if hit.name.capacity() > RETAINED_BUFFER_BYTES {
                hit.name = String::new();
            }
        }
    }
}

impl std::ops::Deref for Hits {
    type Target = [Hit];

    fn deref(&self) -> &[Hit] {
        &self.items[..self.len]
    }
}

/// Variables rules set and read while a request is inspected.
#[derive(Clone, Debug, Default)]
struct TxState {
    vars: TxVars,
    /// What the last matching condition matched (MATCHED_VAR, MATCHED_VARS).
    matched: Hits,
}

/// What a set of exclusions can touch, in one word: most conditions read
/// no collection an exclusion names, and are told so by one AND before any
/// exclusion is looked at. CRS's 941010 adds a `ctl` exclusion
/// (REQUEST_FILENAME, for the XSS rules) to nearly every request, which
/// every later condition was tested against target by target (callgrind,
/// CRS PL1 GET: 951,898 → 937,134 instructions per request).
#[derive(Clone, Copy, Debug, Default)]
struct Reach {
    /// Collections some exclusion takes members from.
    collections: CollectionSet,
    /// Some exclusion turns rules off (no targets): it may touch any.
    rules_off: bool,
}

impl Reach {
    /// Adds what `exclusion` can touch.
    fn add(&mut self, exclusion: &Exclusion) {
        if exclusion.targets.is_empty() {
            self.rules_off = true;
        }
        for (collection, _) in &exclusion.targets {
            self.collections.insert(*collection);
        }
    }

    /// Could any of the exclusions change how `condition` runs?
    fn may_affect(self, condition: &Condition) -> bool {
        self.rules_off || self.collections.intersects(condition.collections)
    }

    /// What either can touch.
    fn union(self, other: Reach) -> Reach {
        Reach {
            collections: self.collections.union(other.collections),
            rules_off: self.rules_off || other.rules_off,
        }
    }
}

/// Per-request state carried from phase to phase.
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
    /// Kept across phases likewise: the literal automaton's walks by
    /// content, for values walked again under another collection or chain.
    walks: Walks,
    state: TxState,
    seeded: bool,
    /// Exclusions rules added with `ctl` for the rest of this request.
    ctl_exclusions: Vec<Exclusion>,
    /// What `ctl_exclusions` can touch.
    ctl_reach: Reach,
    /// `ctl:ruleEngine=Off`: stop inspecting, let it through.
    engine_off: bool,
    /// `ctl:ruleEngine=DetectionOnly`: report, never block.
    detect_only: bool,
    body_processor: Option<Processor>,
    /// `ctl:forceRequestBodyVariable=On`.
    force_body_parsing: bool,
    /// Where the condition being tested puts its hits; swapped with
    /// `state.matched` when it matches.
    hits: Hits,
    /// A `setvar`'s name and value, expanded (see [`apply_effect`]).
    setvar_buffers: [Vec<u8>; 2],
}

impl Transaction {
    pub fn new() -> Self {
        Transaction::default()
    }

    /// Makes the transaction ready for another request to the same engine,
    /// as if new, but keeping (bounded) storage for transformed values:
    /// the filter pools transactions so a request does not allocate again
    /// what the previous one did.
    pub fn reset(&mut self) {
        let mut transformed = std::mem::take(&mut self.transformed);
        transformed.recycle();
        let mut walks = std::mem::take(&mut self.walks);
        walks.clear();
        let mut scores = std::mem::take(&mut self.scores);
        scores.clear();
        let mut vars = std::mem::take(&mut self.state.vars);
        vars.clear();
        let mut matched = std::mem::take(&mut self.state.matched);
        matched.recycle();
        let mut hits = std::mem::take(&mut self.hits);
        hits.recycle();
        let mut setvar_buffers = std::mem::take(&mut self.setvar_buffers);
        setvar_buffers.iter_mut().for_each(drop_if_large);
        *self = Transaction {
            transformed,
            walks,
            scores,
            state: TxState { vars, matched },
            hits,
            setvar_buffers,
            ..Transaction::default()
        };
    }

    /// Total inbound anomaly score so far, as the engine keeps it (native
    /// rules); see [`Verdict::score`] for the reported figure.
    pub fn score(&self) -> u32 {
        self.scores.iter().sum()
    }

    pub fn matches(&self) -> &[RuleMatch] {
        &self.matches
    }

    /// A transaction variable (`TX:name`, name in lowercase).
    pub fn var(&self, name: &[u8]) -> Option<&[u8]> {
        self.state.vars.get(name)
    }

    /// The body parser rules chose for this request, if any: one forced
    /// with `ctl:requestBodyProcessor`, or URL-encoded form parsing for a
    /// body whose Content-Type names no parser once a rule asked for it
    /// with `ctl:forceRequestBodyVariable=On`.
    pub fn body_processor(&self, req: &Request) -> Option<Processor> {
        if self.body_processor.is_some() {
            return self.body_processor;
        }
        let unparsed = req
            .content_type()
            .is_none_or(|ct| crate::body::processor_for(ct) == Processor::Raw);
        (self.force_body_parsing && unparsed).then_some(Processor::UrlEncoded)
    }

    fn finished(&self) -> bool {
        self.allowed || self.block_now || self.engine_off
    }
}

impl Engine {
    pub(crate) fn new(
        mut rules: Vec<Rule>,
        chains: Vec<Vec<Transform>>,
        categories: Vec<String>,
        policy_vars: PolicyVars,
        screened: &dyn Fn(&Rule) -> bool,
    ) -> Self {
        let prefilter = Prefilter::build(&mut rules, screened);
        for condition in rules.iter_mut().flat_map(|r| r.conditions.iter_mut()) {
            // A negated condition matches the values its operator cannot.
            let kinds = (!condition.negate)
                .then(|| condition.operator.required_kinds())
                .flatten();
            if condition.multi_match {
                condition.step_kinds = kinds;
            } else {
                condition.required_kinds = kinds;
            }
        }
        let mut by_phase: [Vec<usize>; Phase::COUNT] = Default::default();
        for (index, rule) in rules.iter().enumerate() {
            by_phase[rule.phase.index()].push(index);
        }
        Engine {
            rules,
            by_phase,
            chains: ChainTree::new(chains),
            prefilter,
            categories,
            policy_vars,
        }
    }

    /// Size of the cross-rule prefilter (see [`crate::prefilter`]).
    pub fn prefilter_stats(&self) -> crate::prefilter::PrefilterStats {
        self.prefilter.stats()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A rule by id, for tools that explain a verdict.
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The transform steps of an interned chain (empty for an unknown id).
    pub fn chain(&self, id: ChainId) -> &[Transform] {
        self.chains.steps(id)
    }

    /// Whether the rule runs at all under `policy` (paranoia, disabled ids
    /// and tags); `None` when the ruleset has no such rule.
    pub fn is_enabled(&self, policy: &Policy, id: RuleId) -> Option<bool> {
        let index = self.rules.iter().position(|r| r.id == id)?;
        Some(policy.enabled.get(index).copied().unwrap_or(false))
    }

    /// The name of an anomaly-score category.
    pub fn category_name(&self, id: crate::rule::CategoryId) -> &str {
        self.categories
            .get(id.0 as usize)
            .map_or("", String::as_str)
    }

    /// Does any enabled rule run in the body phase? If not, the filter need
    /// not buffer bodies at all.
    pub fn inspects_body(&self, policy: &Policy) -> bool {
        self.rules
            .iter()
            .zip(&policy.enabled)
            .any(|(r, on)| *on && r.phase == Phase::Body)
    }

    /// Does any enabled rule run in a response phase? If not, the filter
    /// need not look at responses at all.
    pub fn inspects_response(&self, policy: &Policy) -> bool {
        self.rules
            .iter()
            .zip(&policy.enabled)
            .any(|(r, on)| *on && matches!(r.phase, Phase::ResponseHeaders | Phase::ResponseBody))
    }

    /// Does any enabled rule run in the response body phase?
    pub fn inspects_response_body(&self, policy: &Policy) -> bool {
        self.runs_phase(policy, Phase::ResponseBody)
    }

    /// Does any enabled rule run in `phase`?
    pub fn runs_phase(&self, policy: &Policy, phase: Phase) -> bool {
        self.rules
            .iter()
            .zip(&policy.enabled)
            .any(|(r, on)| *on && r.phase == phase)
    }

    /// Binds a policy to this ruleset, resolving paranoia and disabled
    /// ids / tags to one flag per rule so requests pay no lookups.
    pub fn policy(&self, config: PolicyConfig) -> Policy {
        let enabled = self.rules.iter().map(|r| config.enables(r)).collect();
        let var = |name: &String| name.to_ascii_lowercase().into_bytes();
        let mut tx_seed: Vec<(Vec<u8>, Vec<u8>)> = self
            .policy_vars
            .paranoia
            .iter()
            .map(|n| (var(n), config.paranoia.to_string().into_bytes()))
            .collect();
        tx_seed.extend(
            self.policy_vars
                .inbound_threshold
                .iter()
                .map(|n| (var(n), config.inbound_threshold.to_string().into_bytes())),
        );
        Policy {
            name: config.name,
            mode: config.mode,
            paranoia: config.paranoia,
            inbound_threshold: config.inbound_threshold,
            exclusions: config.exclusions,
            enabled,
            tx_seed,
            score_var: self.policy_vars.score.as_ref().map(var),
        }
    }

    /// Runs every enabled rule of `phase` over `req`, accumulating into `tx`.
    /// Returns true when the outcome is already decided (block or allow), so
    /// the caller can stop early.
    ///
    /// A transaction belongs to the engine that evaluated its first phase:
    /// its cache of transformed values is indexed by this engine's chain
    /// ids, so evaluating it with another engine can panic on an index out
    /// of range. The filter keeps each stream's engine for the stream's
    /// life.
    pub fn evaluate(
        &self,
        phase: Phase,
        req: &Request,
        policy: &Policy,
        tx: &mut Transaction,
    ) -> bool {
        // Detection only: a request that would have been blocked reached
        // the upstream, so its response is inspected too (as ModSecurity's
        // DetectionOnly runs every phase). The block is kept for the verdict.
        let carried_block = matches!(phase, Phase::ResponseHeaders | Phase::ResponseBody)
            && tx.block_now
            && (policy.mode == Mode::Detect || tx.detect_only);
        if carried_block {
            tx.block_now = false;
        }
        let decided = self.evaluate_phase(phase, req, policy, tx);
        tx.block_now |= carried_block;
        decided
    }

    fn evaluate_phase(
        &self,
        phase: Phase,
        req: &Request,
        policy: &Policy,
        tx: &mut Transaction,
    ) -> bool {
        // The logging phase runs whatever was decided (CRS reports scores
        // there); it only records, its actions cannot change the decision.
        if tx.finished() && phase != Phase::Logging {
            return true;
        }
        if !tx.seeded {
            tx.seeded = true;
            for (name, value) in &policy.tx_seed {
                tx.state.vars.set(name, value);
            }
        }
        if tx.scores.len() < self.categories.len() {
            tx.scores.resize(self.categories.len(), 0);
        }
        let active: Vec<&Exclusion> = policy
            .exclusions
            .iter()
            .filter(|e| e.applies_to_request(req))
            .collect();
        let mut active_reach = Reach::default();
        active.iter().for_each(|e| active_reach.add(e));
        if phase == Phase::Body {
            tx.transformed.forget(Collection::needs_body);
        }
        if phase == Phase::ResponseBody {
            // RESPONSE_BODY is only known now.
            tx.transformed.forget(|c| c == Collection::ResponseBody);
        }
        let mut scope = PhaseScope {
            req,
            tables: ByCollection::default(),
            transformed: std::mem::take(&mut tx.transformed),
            walks: std::mem::take(&mut tx.walks),
            chains: &self.chains,
            prefilter: &self.prefilter,
            uncached_scratch: Default::default(),
        };
        // skipAfter: rules before this ordinal are skipped for the rest of
        // the phase.
        let mut skip_until = 0;
        for &index in &self.by_phase[phase.index()] {
            let rule = &self.rules[index];
            if policy.enabled.get(index) != Some(&true) || rule.ordinal < skip_until {
                continue;
            }
            let Some(found) = self.match_rule(rule, req, (&active, active_reach), &mut scope, tx)
            else {
                continue;
            };
            let score = match rule.action {
                Action::Log | Action::Allow => 0,
                Action::Pass | Action::Block => rule.score,
            };
            tx.scores[rule.category.0 as usize] += score;
            if let (true, Some(found)) = (rule.log, found) {
                let macros = Macros {
                    req,
                    state: &tx.state,
                    rule,
                };
                let message = rule.message.expand(&macros);
                // `logdata` is expanded now, while MATCHED_VAR and TX:0..9
                // are this rule's match. Any secret among the matched
                // values (or the hit the verdict names) masks the whole
                // text: TX:0 may hold a piece of it.
                let data = rule.logdata.as_ref().map(|t| {
                    let secret = is_secret_name(&found.key)
                        || tx.state.matched.iter().any(|h| is_secret_name(&h.key));
                    if secret {
                        MASKED_DATA.to_string()
                    } else {
                        log_data(&t.expand(&macros))
                    }
                });
                tx.matches.push(RuleMatch {
                    rule_id: rule.id,
                    message: String::from_utf8_lossy(&message).into_owned(),
                    severity: rule.severity,
                    category: self.categories[rule.category.0 as usize].clone(),
                    action: rule.action,
                    phase: rule.phase,
                    score,
                    variable: found.name,
                    excerpt: masked_excerpt(&found.key, &found.value, found.span),
                    data,
                });
            }
            if let Some(marker) = rule.skip_after {
                skip_until = marker;
            }
            match rule.action {
                _ if phase == Phase::Logging => {}
                Action::Block => tx.block_now = true,
                Action::Allow => tx.allowed = true,
                Action::Pass | Action::Log => {}
            }
            if tx.finished() && phase != Phase::Logging {
                break;
            }
        }
        tx.transformed = scope.transformed;
        tx.walks = scope.walks;
        tx.finished() || tx.score() >= policy.inbound_threshold
    }

    /// The verdict for everything evaluated so far.
    pub fn verdict(&self, policy: &Policy, tx: &Transaction) -> Verdict {
        let score = match &policy.score_var {
            Some(var) => u32::try_from(parse_int(tx.var(var).unwrap_or(b"0"))).unwrap_or(0),
            None => tx.score(),
        };
        let decision = if tx.allowed || (tx.engine_off && !tx.block_now) {
            Decision::Allow
        } else if tx.block_now || tx.score() >= policy.inbound_threshold {
            match policy.mode {
                Mode::Block if !tx.detect_only => Decision::Block,
                _ => Decision::Detect,
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
        self.inspect_with(req, policy, &mut Transaction::new())
    }

    /// [`Engine::inspect`] on `tx`, reset first: a test that runs many
    /// requests through one transaction, as the filter's pool does, sees
    /// any state one request leaves to the next.
    pub fn inspect_with(&self, req: &Request, policy: &Policy, tx: &mut Transaction) -> Verdict {
        tx.reset();
        if !self.evaluate(Phase::Headers, req, policy, tx) {
            self.evaluate(Phase::Body, req, policy, tx);
        }
        self.verdict(policy, tx)
    }
}

impl Engine {
    /// Tests every condition of `rule` in order, each seeing the previous
    /// one's matches as MATCHED_VAR(S). As in ModSecurity, a condition's
    /// own `setvar` / `ctl` run as soon as it matches, before the next
    /// condition is tested: CRS chains rely on it (920420 sets
    /// `tx.content_type` in the first condition and tests it in the second).
    /// `Some` when every condition matched, holding the hit the verdict
    /// reports if the rule logs; for a `nolog` rule (most of CRS's
    /// bookkeeping) nothing is copied.
    fn match_rule(
        &self,
        rule: &Rule,
        req: &Request,
        (active, active_reach): (&[&Exclusion], Reach),
        scope: &mut PhaseScope<'_>,
        tx: &mut Transaction,
    ) -> Option<Option<Hit>> {
        let mut reported: Option<Hit> = None;
        for condition in &rule.conditions {
            // A rule's `ctl` may add an exclusion between its conditions.
            let reach = active_reach.union(tx.ctl_reach);
            let excl: Vec<&Exclusion> = if reach.may_affect(condition) {
                active
                    .iter()
                    .copied()
                    .chain(&tx.ctl_exclusions)
                    .filter(|e| e.may_affect(condition) && e.applies_to_rule(rule))
                    .collect()
            } else {
                Vec::new()
            };
            if excl.iter().any(|e| e.targets.is_empty()) {
                return None;
            }
            scope.match_condition(rule, condition, &excl, &tx.state, &mut tx.hits);
            drop(excl);
            let first = tx.hits.first()?;
            // Report the first request value that matched; a condition on
            // TX or MATCHED_VAR only says why a chain went on.
            if rule.log
                && reported
                    .as_ref()
                    .is_none_or(|r| r.dynamic && !first.dynamic)
            {
                reported = Some(first.clone());
            }
            // The last matched is now this condition's; the storage of the
            // one before takes the next condition's hits.
            std::mem::swap(&mut tx.state.matched, &mut tx.hits);
            if condition.effects.is_empty() && !condition.capture {
                continue;
            }
            // Actions run once per matched value, each seeing that value as
            // MATCHED_VAR and its groups as TX:0..TX:9 (ModSecurity; CRS
            // 922150 collects every part's Content-Type this way).
            let count = tx.state.matched.len();
            for shown in 1..=count {
                tx.state.matched.show(shown);
                if condition.capture {
                    set_captures(condition, &tx.state.matched[shown - 1], &mut tx.state.vars);
                }
                for effect in &condition.effects {
                    apply_effect(effect, req, rule, tx);
                }
            }
        }
        (!rule.conditions.is_empty()).then_some(reported)
    }
}

/// Runs one `setvar` or `ctl` of a matched rule.
fn apply_effect(effect: &Effect, req: &Request, rule: &Rule, tx: &mut Transaction) {
    match effect {
        Effect::SetVar { name, op, value } => {
            // Expanded into the transaction's buffers before the write: a
            // macro may read TX itself (`%{tx.critical_anomaly_score}`),
            // which the write cannot borrow, and a fresh copy of each was
            // two allocations per `setvar` (CRS runs about 70 per GET).
            let [mut name_buf, mut value_buf] = std::mem::take(&mut tx.setvar_buffers);
            let macros = Macros {
                req,
                state: &tx.state,
                rule,
            };
            name_buf.clear();
            name.expand_into(&macros, &mut name_buf);
            name_buf.make_ascii_lowercase();
            value_buf.clear();
            if *op != SetOp::Delete {
                value.expand_into(&macros, &mut value_buf);
            }
            let vars = &mut tx.state.vars;
            match op {
                SetOp::Set => vars.set(&name_buf, &value_buf),
                SetOp::Delete => vars.remove(&name_buf),
                SetOp::Add | SetOp::Sub => {
                    let current = vars.get(&name_buf).map_or(0, parse_int);
                    let delta = parse_int(&value_buf);
                    let next = if *op == SetOp::Add {
                        current.saturating_add(delta)
                    } else {
                        current.saturating_sub(delta)
                    };
                    vars.set_with(&name_buf, |v| {
                        // Writing to a Vec cannot fail.
                        let _ = write!(v, "{next}");
                    });
                }
            }
            tx.setvar_buffers = [name_buf, value_buf];
        }
        Effect::Ctl(Ctl::Exclude(e)) => {
            tx.ctl_reach.add(e);
            tx.ctl_exclusions.push(e.clone());
        }
        Effect::Ctl(Ctl::RuleEngine(setting)) => match setting {
            EngineSetting::On => tx.detect_only = false,
            EngineSetting::Off => tx.engine_off = true,
            EngineSetting::DetectionOnly => tx.detect_only = true,
        },
        Effect::Ctl(Ctl::BodyProcessor(p)) => tx.body_processor = Some(*p),
        Effect::Ctl(Ctl::ForceBodyParsing) => tx.force_body_parsing = true,
        Effect::Ctl(Ctl::Ignored) => {}
    }
}

/// Macro values for one rule: transaction variables, the last match, the
/// request.
struct Macros<'a> {
    req: &'a Request,
    state: &'a TxState,
    rule: &'a Rule,
}

impl MacroSource for Macros<'_> {
    fn lookup(&self, var: &MacroVar) -> Option<Cow<'_, [u8]>> {
        match var {
            MacroVar::Tx(name) => self.state.vars.get(name).map(Cow::Borrowed),
            MacroVar::MatchedVar => self
                .state
                .matched
                .last()
                .map(|h| Cow::Borrowed(h.value.as_slice())),
            MacroVar::MatchedVarName => self
                .state
                .matched
                .last()
                .map(|h| Cow::Borrowed(h.name.as_bytes())),
            MacroVar::Rule(field) => match field.as_slice() {
                b"id" => Some(Cow::Owned(self.rule.id.to_string().into_bytes())),
                b"severity" => Some(Cow::Borrowed(self.rule.severity.name().as_bytes())),
                b"msg" => Some(Cow::Borrowed(self.rule.message.source().as_bytes())),
                _ => None,
            },
            // Values borrowed from the request stay borrowed.
            MacroVar::Request(collection, member) => collection
                .instances(self.req)
                .iter()
                .find(|i| {
                    member
                        .as_ref()
                        .is_none_or(|m| i.name.eq_ignore_ascii_case(m))
                })
                .map(|i| i.value.clone()),
        }
    }
}

impl TxState {
    /// Instances of a collection the transaction holds, narrowed to what
    /// `target` selects.
    /// Borrowed, not copied: CRS reads TX in about half its rules.
    fn instances(&self, target: &Target) -> Instances<'_> {
        fn borrowed<'a>(name: &'a [u8], value: &'a [u8]) -> Instance<'a> {
            Instance {
                name: Cow::Borrowed(name),
                value: Cow::Borrowed(value),
            }
        }
        match target.collection {
            Collection::Tx => match &target.selector {
                // The common case (`TX:blocking_paranoia_level`) is one lookup.
                Some(Selector::Name(n)) if target.exclusions.is_empty() => self
                    .vars
                    .get_key_value(n)
                    .map(|(k, v)| Instances::One(borrowed(k, v)))
                    .unwrap_or_default(),
                // In name order, as rules see TX. A selector's plain
                // literal (`/^header_name_920450_/`) rules most names out
                // before its regex runs (see `Selector::selects`).
                _ => {
                    let mut picked: Vec<Instance<'_>> = self
                        .vars
                        .iter()
                        .filter(|(k, _)| target.selects(k))
                        .map(|(k, v)| borrowed(k, v))
                        .collect();
                    picked.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                    picked.into()
                }
            },
            Collection::MatchedVar => self
                .matched
                .last()
                .map(|h| Instances::One(borrowed(b"", &h.value)))
                .unwrap_or_default(),
            Collection::MatchedVarName => self
                .matched
                .last()
                .map(|h| Instances::One(borrowed(b"", h.name.as_bytes())))
                .unwrap_or_default(),
            Collection::MatchedVars => self
                .matched
                .iter()
                .filter(|h| target.selects(h.name.as_bytes()))
                .map(|h| borrowed(h.name.as_bytes(), &h.value))
                .collect(),
            Collection::MatchedVarsNames => self
                .matched
                .iter()
                .filter(|h| target.selects(h.name.as_bytes()))
                .map(|h| borrowed(h.name.as_bytes(), h.name.as_bytes()))
                .collect(),
            _ => Instances::default(),
        }
    }
}

/// Expanded collections and transformed values for one phase of one request.
struct PhaseScope<'r> {
    req: &'r Request,
    tables: ByCollection<Instances<'r>>,
    transformed: TransformCache,
    walks: Walks,
    chains: &'r ChainTree,
    prefilter: &'r Prefilter,
    /// Transform buffers where the collection caches nothing (TX): for
    /// multiMatch and for plain chains alike.
    uncached_scratch: [Vec<u8>; 2],
}

impl PhaseScope<'_> {
    /// Every value of the condition's targets that matches (only the first
    /// unless the next condition reads MATCHED_VARS), put in `hits`.
    // Kept out of `match_rule`: once multiMatch borrowed the collection's
    // buffers the compiler inlined it there, and the GET mixes ran 1% to 2%
    // more instructions (callgrind); it runs once per condition, so the
    // call costs nothing measurable.
    #[inline(never)]
    fn match_condition(
        &mut self,
        rule: &Rule,
        condition: &Condition,
        excl: &[&Exclusion],
        state: &TxState,
        hits: &mut Hits,
    ) {
        let req = self.req;
        let macros = Macros { req, state, rule };
        let chains = self.chains;
        let chain = chains.steps(condition.chain);
        hits.clear();
        if condition.targets.is_empty() {
            // SecAction: the operator runs once, on nothing.
            if let Some(span) = test(&condition.operator, condition.negate, b"", &macros) {
                let hit = hits.next();
                hit.span = span;
                hit.dynamic = true;
            }
            return;
        }
        // The prefilter's scanner (when this condition has one), made once
        // for every target: under CRS a condition reads six collections,
        // and a GET's cookies and arguments are each settled by a bit test
        // of their summary, for which a scanner per target was most of the
        // work.
        let mut scanner = condition.prefilter.map(|id| {
            let scanner = if condition.multi_match {
                self.prefilter.as_received_scanner()
            } else {
                self.prefilter.scanner(condition.chain, id)
            };
            scanner.remembering(&mut self.walks)
        });
        for target in &condition.targets {
            let dynamic = target.collection.is_dynamic();
            let dynamic_table;
            let table: &[Instance<'_>] = if dynamic {
                dynamic_table = state.instances(target);
                &dynamic_table
            } else {
                self.tables
                    .get_or_insert_with(target.collection, || target.collection.instances(req))
            };
            if table.is_empty() && !target.count {
                // Nothing to test, negated or not. Under CRS most targets of
                // a plain GET are empty collections (ARGS, ARGS_NAMES, XML,
                // FILES...), each set up for a loop that never ran.
                continue;
            }
            let selected = table.iter().enumerate().filter(|(_, inst)| {
                (dynamic || target.selects(&inst.name))
                    && !excl.iter().any(|e| e.removes(target, &inst.name))
            });
            if target.count {
                // Written on the stack: CRS counts (`&ARGS`, `&TX:...`) about
                // 40 times per GET.
                let mut digits = [0u8; 20];
                let mut rest = &mut digits[..];
                // A usize has at most 20 digits: the write cannot fail.
                let _ = write!(rest, "{}", selected.count());
                let unwritten = rest.len();
                let written = digits.len() - unwritten;
                let value = transform::apply_chain(chain, &digits[..written]);
                if let Some(span) = test(&condition.operator, condition.negate, &value, &macros) {
                    let hit = hits.next();
                    target.describe_into(b"", &mut hit.name);
                    hit.value.extend_from_slice(&value);
                    hit.span = span;
                    hit.dynamic = dynamic;
                    if !condition.collect_all {
                        return;
                    }
                }
                continue;
            }
            // Asked only of several values: on one, the operator's own
            // look for the bytes is as quick (callgrind, built-in GET: +1%
            // instructions when single values were asked too).
            let required_kinds = condition.required_kinds.filter(|_| table.len() > 1);
            // multiMatch caches nothing but borrows the collection's kept
            // buffers (see `multi_match`).
            let mut cached = if dynamic
                || (chain.is_empty() && condition.prefilter.is_none() && required_kinds.is_none())
            {
                None
            } else {
                let by_chain = self
                    .transformed
                    .get_or_insert_with(target.collection, || Chains::new(chains));
                if !condition.multi_match {
                    chains::slots(by_chain, condition.chain, table.len());
                }
                Some(by_chain)
            };
            // Whole collections (and any whose summary is known) are settled
            // at once. A target naming one member does not ask first: the
            // summary would transform and scan members it never reads.
            // (A multiMatch condition's scanner sees only the values as
            // received, not the chain's.)
            if let (Some(id), Some(scanner), Some(by_chain), false) = (
                condition.prefilter,
                scanner.as_mut(),
                cached.as_deref_mut(),
                condition.multi_match,
            ) {
                let ask = target.selector.is_none()
                    || by_chain.has_summary(condition.chain, scanner.reads());
                let values = table.iter().map(|inst| inst.value.as_ref());
                if ask && !chains.may_match_any(by_chain, condition.chain, values, scanner, id) {
                    continue;
                }
            }
            // So are conditions needing a rare byte no value holds: under
            // CRS, about 40 conditions without a prefilter read every
            // argument of a JSON body, most needing `=`, `<`, `(` or a quote.
            if let (Some(required), Some(by_chain)) = (required_kinds, cached.as_deref_mut()) {
                let ask = target.selector.is_none() || by_chain.has_all_kinds(condition.chain);
                let values = table.iter().map(|inst| inst.value.as_ref());
                if ask && !chains.may_hold_any(by_chain, condition.chain, values, required) {
                    continue;
                }
            }
            for (index, inst) in selected {
                let found = if condition.multi_match {
                    let (as_received, kinds, scratch) = match cached.as_deref_mut() {
                        Some(by_chain) => {
                            let may_match = match condition.prefilter.zip(scanner.as_mut()) {
                                Some((id, scanner)) => {
                                    let (seen, bits) =
                                        by_chain.seen_as_received(index, table.len());
                                    let seen = *seen.get_or_insert_with(|| {
                                        scanner.scan(&inst.value, bits, true)
                                    });
                                    seen.may_match(id, bits)
                                }
                                None => true,
                            };
                            // Known to every chain reading the value.
                            let kinds = by_chain.raw_kinds(index, table.len(), &inst.value);
                            (may_match, kinds, by_chain.scratch())
                        }
                        None => (true, ByteKinds::of(&inst.value), &mut self.uncached_scratch),
                    };
                    let received = (&*inst.value, kinds);
                    multi_match(condition, chain, received, as_received, scratch, &macros)
                } else {
                    let (value, seen): (&[u8], _) = match cached.as_deref_mut() {
                        Some(by_chain) => {
                            if !chain.is_empty() && !by_chain.is_filled(condition.chain, index) {
                                // Computed from the chain's prefix, itself cached.
                                chains.fill(
                                    by_chain,
                                    condition.chain,
                                    index,
                                    table.len(),
                                    &inst.value,
                                );
                            }
                            // The slot knows the value's kinds: a value
                            // holding none the operator needs is passed
                            // over without a call. Under CRS PL1 three
                            // regexes no scanner screens (942550, 933200,
                            // 941170) were called for most arguments of a
                            // JSON body, which hold none of their bytes.
                            if let Some(required) = condition.required_kinds {
                                let kinds = by_chain.kinds(condition.chain, index);
                                if kinds.is_some_and(|k| !k.holds_any(required)) {
                                    continue;
                                }
                            }
                            match condition.prefilter.zip(scanner.as_mut()) {
                                Some((id, scanner)) => {
                                    let (value, seen, bits) = by_chain.value_and_seen(
                                        condition.chain,
                                        index,
                                        &inst.value,
                                        scanner,
                                    );
                                    (value, Some(seen.may_match(id, bits)))
                                }
                                None => (by_chain.value(condition.chain, index, &inst.value), None),
                            }
                        }
                        // Nothing cached (TX, or a chain with no steps): the
                        // steps write into the scope's kept buffers.
                        None if chain.is_empty() => (&*inst.value, None),
                        None => {
                            let after = transform::apply_chain_in(
                                chain,
                                &inst.value,
                                ByteKinds::of(&inst.value),
                                &mut self.uncached_scratch,
                                |_, _| false,
                            );
                            (after.map_or(&*inst.value, |(v, _)| v), None)
                        }
                    };
                    if seen == Some(false) {
                        // The chain's scan ruled this condition out.
                        continue;
                    }
                    test(&condition.operator, condition.negate, value, &macros)
                        .map(|span| (value, span))
                };
                if let Some((value, span)) = found {
                    let hit = hits.next();
                    if target.collection == Collection::Tx {
                        hit.name.push_str("TX:");
                        push_lossy(&mut hit.name, &inst.name);
                    } else if dynamic && !inst.name.is_empty() {
                        push_lossy(&mut hit.name, &inst.name);
                    } else {
                        target.describe_into(&inst.name, &mut hit.name);
                    }
                    hit.key.extend_from_slice(&inst.name);
                    hit.value.extend_from_slice(value);
                    hit.span = span;
                    hit.dynamic = dynamic;
                    if !condition.collect_all {
                        return;
                    }
                }
            }
        }
    }
}

/// A matched value and the span the operator reported in it.
type ValueMatch<'v> = (&'v [u8], Option<(usize, usize)>);

/// `multiMatch`: the operator runs on the value as received (unless the
/// prefilter ruled that out: `as_received` false) and again after every
/// transform step that changed it, each time only if the value holds a
/// byte the operator needs (`value` comes with its kinds): under CRS PL1
/// six multiMatch conditions read every argument of a JSON body. The
/// values after each step are written into `scratch`, kept with the
/// collection: CRS's multiMatch chains end in base64Decode, which changes
/// almost every value, and each change was a new vector (700 per request
/// on a 4 KB JSON body).
fn multi_match<'v>(
    condition: &Condition,
    chain: &[Transform],
    (value, kinds): (&'v [u8], ByteKinds),
    as_received: bool,
    scratch: &'v mut [Vec<u8>; 2],
    macros: &Macros<'_>,
) -> Option<ValueMatch<'v>> {
    let may_match = |kinds: ByteKinds| {
        condition
            .step_kinds
            .is_none_or(|required| kinds.holds_any(required))
    };
    if as_received && may_match(kinds) {
        if let Some(span) = test(&condition.operator, condition.negate, value, macros) {
            return Some((value, span));
        }
    }
    let mut found = None;
    let last = transform::apply_chain_in(chain, value, kinds, scratch, |after, kinds| {
        found = may_match(kinds)
            .then(|| test(&condition.operator, condition.negate, after, macros))
            .flatten();
        found.is_some()
    });
    Some((last?.0, found?))
}

/// Stores a regex's groups as `TX:0`..`TX:9` (SecLang `capture`); groups
/// that did not take part are removed so a stale capture cannot leak.
fn set_captures(condition: &Condition, hit: &Hit, vars: &mut TxVars) {
    let Operator::Rx(rx) = &condition.operator else {
        return;
    };
    let groups = rx.captures(&hit.value);
    for (i, key) in CAPTURE_KEYS.iter().enumerate() {
        match groups.get(i).copied().flatten() {
            // Overwritten in place: CRS captures on every header name
            // (920450), so a new key and value per group added up.
            Some((s, e)) => vars.set(key, &hit.value[s..e]),
            None => vars.remove(key),
        }
    }
}

/// The transaction variables a capture sets, `TX:0`..`TX:9`.
const CAPTURE_KEYS: [&[u8]; 10] = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"];

/// Runs the operator, applying negation. `Some(span)` on a match.
fn test(
    operator: &Operator,
    negate: bool,
    value: &[u8],
    macros: &Macros<'_>,
) -> Option<Option<(usize, usize)>> {
    match (operator.evaluate_in(value, macros), negate) {
        (Some(m), false) => Some(m.span),
        (None, true) => Some(None),
        _ => None,
    }
}
