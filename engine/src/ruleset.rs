//! The ruleset artifact: what the compiler writes and the filter loads.
//!
//! Format: one header line `PALISADE-RULESET <version>\n`, then the
//! [`RulesetSpec`] as JSON. The header lets a loader reject an artifact from an
//! incompatible version with a clear error instead of misreading it.
//! Operators are validated when the artifact is written and compiled again
//! when it is loaded (see the README for load-time figures).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::effect::{Effect, EffectSpec};
use crate::eval::{Engine, PolicyConfig, PolicyVars};
use crate::macros::Template;
use crate::operator::{Operator, OperatorSpec};
use crate::rule::{Action, CategoryId, ChainId, Condition, Phase, Rule, RuleId, Severity};
use crate::transform::Transform;
use crate::variable::{Collection, CollectionSet, Target, TargetItem};

/// Magic at the start of every artifact.
pub const MAGIC: &str = "PALISADE-RULESET";
/// Artifact format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 2;

/// A rule as stored in the artifact: validated, not yet compiled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: RuleId,
    pub message: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub severity: Severity,
    pub paranoia: u8,
    pub phase: Phase,
    pub category: String,
    pub score: u32,
    pub action: Action,
    /// Target strings as written (`args:!password`), parsed at load.
    pub targets: Vec<String>,
    #[serde(default)]
    pub transforms: Vec<Transform>,
    pub operator: OperatorSpec,
    #[serde(default)]
    pub negate: bool,
    /// SecLang `capture`: regex groups to `TX:0`..`TX:9`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub capture: bool,
    /// SecLang `multiMatch`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multi_match: bool,
    /// `setvar` / `ctl` run when the rule (with its chain) matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<EffectSpec>,
    /// SecLang `chain`: further conditions that must all match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chained: Vec<ConditionSpec>,
    /// Listed in the verdict when it matches (SecLang `nolog` clears it).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub log: bool,
    /// On a match, skip the phase's rules up to this marker (SecLang `skipAfter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_after: Option<String>,
    /// SecLang `logdata`: a template expanded when the rule matches
    /// (`Matched Data: %{TX.0} found within %{MATCHED_VAR_NAME}`), carried
    /// in the verdict as the match's `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logdata: Option<String>,
}

/// A chained condition as stored in the artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    pub targets: Vec<String>,
    #[serde(default)]
    pub transforms: Vec<Transform>,
    pub operator: OperatorSpec,
    #[serde(default)]
    pub negate: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub capture: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub multi_match: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<EffectSpec>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A SecLang `SecMarker`: a name for a position in the rule order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkerSpec {
    pub name: String,
    /// How many rules (in `RulesetSpec::rules` order) come before it.
    pub position: u32,
}

/// A whole ruleset as stored in the artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesetSpec {
    /// Free text naming where the rules came from.
    pub source: String,
    /// In source order: `skip_after` and markers count positions in it.
    pub rules: Vec<RuleSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<MarkerSpec>,
    #[serde(default)]
    pub policy_vars: PolicyVars,
}

/// Why a ruleset could not be loaded or compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesetError {
    /// Not an artifact at all.
    BadMagic,
    /// An artifact of another format version.
    Version { found: String, supported: u32 },
    /// The payload is not valid JSON for this version.
    Payload(String),
    /// A rule failed to compile.
    Rule {
        id: RuleId,
        field: &'static str,
        message: String,
    },
    /// Two rules share an id.
    DuplicateId(RuleId),
    /// More distinct transform chains or categories than the engine indexes.
    TooMany(&'static str),
}

impl fmt::Display for RulesetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesetError::BadMagic => write!(f, "not a Palisade ruleset (missing `{MAGIC}` header)"),
            RulesetError::Version { found, supported } => write!(
                f,
                "ruleset format version {found} is not supported by this build (reads version {supported}); recompile the rules with this version's `palisade compile`"
            ),
            RulesetError::Payload(e) => write!(f, "ruleset payload is malformed: {e}"),
            RulesetError::Rule { id, field, message } => write!(f, "rule {id}: field `{field}`: {message}"),
            RulesetError::DuplicateId(id) => write!(f, "rule id {id} is defined twice"),
            RulesetError::TooMany(what) => write!(f, "too many distinct {what} in one ruleset"),
        }
    }
}

impl std::error::Error for RulesetError {}

impl RulesetSpec {
    /// Serialises to the artifact format.
    pub fn to_artifact(&self) -> Vec<u8> {
        let mut out = format!("{MAGIC} {FORMAT_VERSION}\n").into_bytes();
        // Serialising plain data structures to a Vec cannot fail.
        if let Ok(json) = serde_json::to_vec(self) {
            out.extend_from_slice(&json);
        }
        out
    }

    /// Parses an artifact.
    ///
    /// # Errors
    /// [`RulesetError::BadMagic`], [`RulesetError::Version`] or
    /// [`RulesetError::Payload`].
    pub fn from_artifact(bytes: &[u8]) -> Result<RulesetSpec, RulesetError> {
        let newline = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(RulesetError::BadMagic)?;
        let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| RulesetError::BadMagic)?;
        let version = header
            .strip_prefix(MAGIC)
            .ok_or(RulesetError::BadMagic)?
            .trim();
        if version != FORMAT_VERSION.to_string() {
            return Err(RulesetError::Version {
                found: version.to_string(),
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_slice(&bytes[newline + 1..])
            .map_err(|e| RulesetError::Payload(e.to_string()))
    }

    /// Compiles every rule into an [`Engine`] whose prefilter screens
    /// every rule, whatever policy later runs it (`palisade compile`,
    /// tools that bind their own policies).
    ///
    /// # Errors
    /// The first rule that fails, naming its id and field.
    pub fn compile(&self) -> Result<Engine, RulesetError> {
        self.compile_screening(&|_| true)
    }

    /// As [`RulesetSpec::compile`], the prefilter screening only the rules
    /// one of `policies` enables (what a configuration loads: its policies
    /// are known before the engine is built). A rule none enables never
    /// runs, and screening it costs every value: CRS's paranoia 2 to 4
    /// patterns made its paranoia 1 regex sets report matches that only
    /// disabled rules wanted, and added their literals to the automaton's
    /// walk (bench/README.md). A policy bound later that enables more
    /// rules runs those unscreened, one by one, with the same verdicts.
    ///
    /// # Errors
    /// The first rule that fails, naming its id and field.
    pub fn compile_for(&self, policies: &[&PolicyConfig]) -> Result<Engine, RulesetError> {
        self.compile_screening(&|rule| policies.iter().any(|p| p.enables(rule)))
    }

    fn compile_screening(&self, screened: &dyn Fn(&Rule) -> bool) -> Result<Engine, RulesetError> {
        let mut chains: Vec<Vec<Transform>> = Vec::new();
        let mut chain_ids: HashMap<Vec<Transform>, ChainId> = HashMap::new();
        let mut categories: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut rules = Vec::with_capacity(self.rules.len());
        for spec in &self.rules {
            if !seen.insert(spec.id) {
                return Err(RulesetError::DuplicateId(spec.id));
            }
            let rule_err = |field: &'static str, message: String| RulesetError::Rule {
                id: spec.id,
                field,
                message,
            };
            if !(1..=4).contains(&spec.paranoia) {
                return Err(rule_err(
                    "paranoia",
                    format!("{} is not 1..4", spec.paranoia),
                ));
            }
            let head = ConditionSpec {
                targets: spec.targets.clone(),
                transforms: spec.transforms.clone(),
                operator: spec.operator.clone(),
                negate: spec.negate,
                capture: spec.capture,
                multi_match: spec.multi_match,
                effects: spec.effects.clone(),
            };
            let mut conditions = Vec::with_capacity(1 + spec.chained.len());
            for (i, cond) in std::iter::once(&head).chain(&spec.chained).enumerate() {
                let field = |name: &'static str| if i == 0 { name } else { "chained" };
                // SecAction: no variables, an unconditional operator.
                let targets =
                    if cond.targets.is_empty() && cond.operator == OperatorSpec::Unconditional {
                        Vec::new()
                    } else {
                        compile_targets(&cond.targets).map_err(|m| rule_err(field("targets"), m))?
                    };
                let operator = Operator::compile(&cond.operator)
                    .map_err(|e| rule_err(field("operator"), e.to_string()))?;
                let effects = cond
                    .effects
                    .iter()
                    .map(Effect::compile)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|m| rule_err(field("effects"), m))?;
                let chain = match chain_ids.get(&cond.transforms) {
                    Some(id) => *id,
                    None => {
                        let id = ChainId(
                            u16::try_from(chains.len())
                                .map_err(|_| RulesetError::TooMany("transform chains"))?,
                        );
                        chains.push(cond.transforms.clone());
                        chain_ids.insert(cond.transforms.clone(), id);
                        id
                    }
                };
                conditions.push(Condition {
                    collections: CollectionSet::of(&targets),
                    targets,
                    chain,
                    operator,
                    negate: cond.negate,
                    capture: cond.capture,
                    multi_match: cond.multi_match,
                    collect_all: false,
                    effects,
                    prefilter: None,
                    required_kinds: None,
                    step_kinds: None,
                });
            }
            // A condition collects every match when its actions run per
            // match or the next condition reads them all; otherwise the
            // first match is enough and the rest of the values are skipped.
            for i in 0..conditions.len() {
                let next_reads_all = conditions.get(i + 1).is_some_and(|next| {
                    next.targets.iter().any(|t| {
                        matches!(
                            t.collection,
                            Collection::MatchedVars | Collection::MatchedVarsNames
                        )
                    })
                });
                let c = &mut conditions[i];
                c.collect_all = next_reads_all || c.capture || !c.effects.is_empty();
            }
            let skip_after = match &spec.skip_after {
                None => None,
                Some(name) => Some(
                    self.markers
                        .iter()
                        .find(|m| m.name == *name)
                        .map(|m| m.position)
                        .ok_or_else(|| {
                            rule_err("skip_after", format!("no marker named `{name}`"))
                        })?,
                ),
            };
            let category = match categories.iter().position(|c| *c == spec.category) {
                Some(i) => i,
                None => {
                    categories.push(spec.category.clone());
                    categories.len() - 1
                }
            };
            let category = CategoryId(
                u8::try_from(category).map_err(|_| RulesetError::TooMany("categories"))?,
            );
            let ordinal = u32::try_from(rules.len()).map_err(|_| RulesetError::TooMany("rules"))?;
            rules.push(Rule {
                id: spec.id,
                message: Template::parse(&spec.message).map_err(|m| rule_err("message", m))?,
                tags: spec.tags.clone(),
                severity: spec.severity,
                paranoia: spec.paranoia,
                phase: spec.phase,
                category,
                score: spec.score,
                action: spec.action,
                conditions,
                ordinal,
                skip_after,
                log: spec.log,
                logdata: spec
                    .logdata
                    .as_deref()
                    .map(Template::parse)
                    .transpose()
                    .map_err(|m| rule_err("logdata", m))?,
            });
        }
        // Headers-phase rules first; within a phase, file order is kept.
        rules.sort_by_key(|r| r.phase);
        Ok(Engine::new(
            rules,
            chains,
            categories,
            self.policy_vars.clone(),
            screened,
        ))
    }
}

/// Parses target strings, folding `coll:!name` exclusions into the rule's
/// other targets of the same collection.
///
/// # Errors
/// A message naming the bad target, or an exclusion with nothing to exclude from.
pub fn compile_targets(texts: &[String]) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    let mut exclusions = Vec::new();
    for text in texts {
        match TargetItem::parse(text).map_err(|e| format!("`{text}`: {e}"))? {
            TargetItem::Include(t) => targets.push(t),
            TargetItem::Exclude(c, s) => exclusions.push((text, c, s)),
        }
    }
    for (text, collection, selector) in exclusions {
        let mut used = false;
        for t in targets.iter_mut().filter(|t| t.collection == collection) {
            t.exclusions.push(selector.clone());
            used = true;
        }
        if !used {
            return Err(format!(
                "`{text}` excludes from `{}`, which the rule does not target",
                collection.name()
            ));
        }
    }
    if targets.is_empty() {
        return Err("no targets".to_string());
    }
    Ok(targets)
}
