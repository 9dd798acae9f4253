//! A compiled rule: targets, a transform chain, an operator and what to do on
//! a match. Rules are built by [`crate::ruleset`] and never change afterwards.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::effect::Effect;
use crate::macros::Template;
use crate::operator::Operator;
use crate::transform::triggers::ByteKinds;
use crate::variable::{CollectionSet, Target};

/// A rule's id, unique within a ruleset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub u32);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Index of an interned transform chain; equal chains share an id so a value
/// is transformed once per (variable, chain) per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(pub u16);

/// Index of an interned anomaly-score category (`sqli`, `xss`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CategoryId(pub u8);

/// When a rule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Request line and headers: runs before any body arrives.
    Headers,
    /// After the body was read (or right after headers when there is none).
    Body,
    /// Response status and headers (SecLang phase 3).
    ResponseHeaders,
    /// Response body (SecLang phase 4).
    ResponseBody,
    /// After the response was sent (SecLang phase 5): runs for logging
    /// only, its matches cannot change the decision.
    Logging,
}

impl Phase {
    /// How many phases there are.
    pub const COUNT: usize = 5;

    /// A dense number below [`Phase::COUNT`], for per-phase tables.
    pub fn index(self) -> usize {
        usize::from(self.number() - 1)
    }

    /// SecLang's phase number.
    pub fn number(self) -> u8 {
        match self {
            Phase::Headers => 1,
            Phase::Body => 2,
            Phase::ResponseHeaders => 3,
            Phase::ResponseBody => 4,
            Phase::Logging => 5,
        }
    }
}

/// How bad a match is; sets the default anomaly score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Notice,
}

impl Severity {
    /// Anomaly score a match adds when the rule does not set one (CRS's values).
    pub fn default_score(self) -> u32 {
        match self {
            Severity::Critical => 5,
            Severity::Error => 4,
            Severity::Warning => 3,
            Severity::Notice => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        }
    }
}

/// What a match does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Add the rule's score to the anomaly score and go on; the request is
    /// blocked if the total reaches the inbound threshold.
    #[default]
    Pass,
    /// Block right away, whatever the score.
    Block,
    /// Record the match without scoring: for monitoring a new rule.
    Log,
    /// Stop inspecting and let the request through (allow-lists).
    Allow,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Block => "block",
            Action::Log => "log",
            Action::Allow => "allow",
        }
    }
}

/// One test of a rule: targets, a transform chain and an operator. A rule
/// has one, or several when SecLang `chain`s them; all must match.
#[derive(Clone, Debug)]
pub struct Condition {
    pub targets: Vec<Target>,
    /// The collections of `targets` ([`CollectionSet::of`]), which
    /// exclusions are tested against first.
    pub collections: CollectionSet,
    pub chain: ChainId,
    pub operator: Operator,
    /// Match when the operator does *not* match.
    pub negate: bool,
    /// Store the regex's groups in `TX:0`..`TX:9` on a match (SecLang `capture`).
    pub capture: bool,
    /// Run the operator on the value before and after each transform step,
    /// not only at the end (SecLang `multiMatch`).
    pub multi_match: bool,
    /// Find every matching value, not only the first: the next condition
    /// reads `MATCHED_VARS`.
    pub collect_all: bool,
    /// Run in order when the whole rule matched (`setvar`, `ctl`).
    pub effects: Vec<Effect>,
    /// This condition's id in the engine's prefilter, when its regex is in
    /// its chain's regex set or needs one of a few literals (set by the
    /// engine, see [`crate::prefilter`]). For a multiMatch condition the
    /// id screens only the value as received.
    pub prefilter: Option<u32>,
    /// Kinds of bytes of which a value must hold one for the operator to
    /// match (set by the engine from `Operator::required_kinds`: a regex's
    /// or phrase list's required bytes, the bytes a validation operator
    /// flags, those `@detectXSS` needs): a collection none of whose values
    /// holds one is passed over whole, and so is each such value. `None`
    /// for a multiMatch condition, which has `step_kinds` instead.
    pub required_kinds: Option<ByteKinds>,
    /// The same kinds for a multiMatch condition, asked of each value it
    /// would test (as received and after each step that changed it): the
    /// collection-wide and per-value checks above see only the value after
    /// the whole chain. Kept apart so that those checks, on the path of
    /// every condition, need not ask whether a condition is multiMatch
    /// (callgrind, built-in GET: +0.9% instructions when they did).
    pub step_kinds: Option<ByteKinds>,
}

/// A rule ready to evaluate.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: RuleId,
    /// May hold `%{...}` macros, expanded when the rule matches.
    pub message: Template,
    pub tags: Vec<String>,
    pub severity: Severity,
    pub paranoia: u8,
    pub phase: Phase,
    pub category: CategoryId,
    pub score: u32,
    pub action: Action,
    /// The first condition, then chained ones; never empty.
    pub conditions: Vec<Condition>,
    /// Position in the source, for `skip_after` (markers share the numbering).
    pub ordinal: u32,
    /// On a match, skip the rest of the phase up to this ordinal (a marker's).
    pub skip_after: Option<u32>,
    /// Listed in the verdict when it matches (SecLang `nolog` clears it).
    pub log: bool,
    /// SecLang `logdata`, expanded into the match's `data` when it matches.
    pub logdata: Option<Template>,
}
