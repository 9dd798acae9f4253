//! SecLang AST → Palisade ruleset: what each directive, variable, operator
//! and action means here.
//!
//! Everything SecLang says is either compiled into the engine's model
//! (conditions, effects, markers), accepted as a documented no-op (audit log
//! and storage settings that have no meaning in a proxy), or refused with an
//! error naming file and line. `lenient` turns refusals of unsupported
//! features into warnings and drops what they applied to; nothing is dropped
//! silently.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use palisade_engine::effect::{parse_id_ranges, Effect, EffectSpec, SetOp};
use palisade_engine::eval::PolicyVars;
use palisade_engine::macros::Template;
use palisade_engine::operator::{Operator, OperatorSpec};
use palisade_engine::ruleset::{ConditionSpec, MarkerSpec, RuleSpec};
use palisade_engine::transform::Transform;
use palisade_engine::variable::Collection;
use palisade_engine::{Action, Phase, RuleId, RulesetSpec, Severity};

use super::{ActionRef, Directive, Location, OperatorRef, SecRule, VariableRef};

/// Something the compiler wants a human to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// What a compile produced besides the ruleset.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Unsupported features dropped because of `lenient`.
    pub warnings: Vec<Diagnostic>,
    /// Directives accepted with no effect in a proxy, and why.
    pub notes: Vec<Diagnostic>,
}

/// Compiles parsed SecLang into a ruleset.
///
/// # Errors
/// Every error found, each naming file and line.
pub fn compile(
    directives: &[Directive],
    source: &str,
    lenient: bool,
) -> Result<(RulesetSpec, Report), Vec<Diagnostic>> {
    let mut c = Compiler {
        lenient,
        ..Compiler::default()
    };
    for directive in directives {
        c.directive(directive);
    }
    c.finish(source)
}

/// A rule compiled so far; `removed` by a later `SecRuleRemove*`.
struct Compiled {
    spec: RuleSpec,
    location: Location,
    removed: bool,
}

#[derive(Default)]
struct Compiler {
    lenient: bool,
    /// `SecDefaultAction` per phase number.
    defaults: HashMap<u8, Vec<ActionRef>>,
    rules: Vec<Compiled>,
    /// Marker name → (index into `rules` it precedes, where defined).
    markers: Vec<(String, usize, Location)>,
    errors: Vec<Diagnostic>,
    report: Report,
}

/// What the rule's actions said, before they become a [`RuleSpec`].
#[derive(Default)]
struct Meta {
    id: Option<u32>,
    phase: Option<u8>,
    message: Option<String>,
    tags: Vec<String>,
    severity: Option<Severity>,
    disruptive: Option<Disruptive>,
    log: Option<bool>,
    skip_after: Option<String>,
    logdata: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Disruptive {
    Pass,
    Deny,
    Allow,
    /// `block`: whatever `SecDefaultAction` of the phase says.
    Block,
}

/// One condition's own actions.
#[derive(Default)]
struct CondActions {
    transforms: Vec<Transform>,
    capture: bool,
    multi_match: bool,
    effects: Vec<EffectSpec>,
}

impl Compiler {
    fn error(&mut self, location: &Location, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            location: location.clone(),
            message: message.into(),
        });
    }

    /// An unsupported feature: an error, or with `lenient` a warning.
    /// Returns true when compilation may go on without it.
    fn unsupported(&mut self, location: &Location, message: String) -> bool {
        let d = Diagnostic {
            location: location.clone(),
            message,
        };
        if self.lenient {
            self.report.warnings.push(d);
            true
        } else {
            self.errors.push(d);
            false
        }
    }

    fn note(&mut self, location: &Location, message: impl Into<String>) {
        self.report.notes.push(Diagnostic {
            location: location.clone(),
            message: message.into(),
        });
    }

    fn directive(&mut self, directive: &Directive) {
        match directive {
            Directive::Rule(rule) => self.rule(rule),
            Directive::Marker { location, name } => {
                self.markers
                    .push((name.clone(), self.rules.len(), location.clone()));
            }
            Directive::DefaultAction { location, actions } => {
                let phase = actions
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case("phase"))
                    .and_then(|a| a.value.as_deref())
                    .map(parse_phase);
                match phase {
                    Some(Ok(p)) => {
                        self.defaults.insert(p, actions.clone());
                    }
                    Some(Err(e)) => self.error(location, e),
                    None => self.error(location, "SecDefaultAction needs a `phase`"),
                }
            }
            Directive::Other {
                location,
                name,
                args,
            } => self.other(location, name, args),
        }
    }

    fn other(&mut self, location: &Location, name: &str, args: &[String]) {
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        match name.to_ascii_lowercase().as_str() {
            "secruleremovebyid" => {
                let mut ranges = Vec::new();
                for a in args {
                    match parse_id_ranges(a) {
                        Ok(mut r) => ranges.append(&mut r),
                        Err(e) => return self.error(location, format!("SecRuleRemoveById: {e}")),
                    }
                }
                for r in &mut self.rules {
                    if ranges
                        .iter()
                        .any(|(a, b)| (*a..=*b).contains(&r.spec.id))
                    {
                        r.removed = true;
                    }
                }
            }
            "secruleremovebytag" => {
                let tag = arg(0);
                for r in &mut self.rules {
                    if r.spec.tags.iter().any(|t| t == tag) {
                        r.removed = true;
                    }
                }
            }
            "secruleremovebymsg" => {
                let msg = arg(0);
                for r in &mut self.rules {
                    if r.spec.message == msg {
                        r.removed = true;
                    }
                }
            }
            "secruleupdatetargetbyid" | "secruleupdatetargetbytag" => {
                if args.len() > 2
                    && !self.unsupported(
                        location,
                        format!("{name} with a replacement target is not supported; write the targets to add or `!TARGET` to remove"),
                    )
                {
                    return;
                }
                let by_id = name.eq_ignore_ascii_case("SecRuleUpdateTargetById");
                let ranges = if by_id {
                    match parse_id_ranges(arg(0)) {
                        Ok(r) => r,
                        Err(e) => return self.error(location, format!("{name}: {e}")),
                    }
                } else {
                    Vec::new()
                };
                let targets = match super::parse::parse_variables(arg(1), location) {
                    Ok(v) => v,
                    Err(e) => return self.error(location, format!("{name}: {}", e.message)),
                };
                let mut texts = Vec::new();
                for v in &targets {
                    match target_text(v) {
                        Ok(t) => texts.push(t),
                        Err(e) => return self.error(location, format!("{name}: {e}")),
                    }
                }
                let mut hit = false;
                for r in &mut self.rules {
                    let selected = if by_id {
                        ranges.iter().any(|(a, b)| (*a..=*b).contains(&r.spec.id))
                    } else {
                        r.spec.tags.iter().any(|t| t == arg(0))
                    };
                    if selected {
                        hit = true;
                        for t in &texts {
                            if !r.spec.targets.contains(t) {
                                r.spec.targets.push(t.clone());
                            }
                        }
                    }
                }
                if !hit {
                    self.error(
                        location,
                        format!(
                            "{name} {}: no rule defined before this line matches",
                            arg(0)
                        ),
                    );
                }
            }
            "secruleengine" => self.note(
                location,
                format!(
                    "SecRuleEngine {}: the mode comes from the plugin configuration (`mode`: block or detect)",
                    arg(0)
                ),
            ),
            "secrequestbodylimit"
            | "secrequestbodynofileslimit"
            | "secrequestbodyinmemorylimit"
            | "secrequestbodylimitaction"
            | "secrequestbodyaccess"
            | "secargumentslimit"
            | "secrequestbodyjsondepthlimit" => self.note(
                location,
                format!("{name}: request body handling comes from the plugin configuration (`request_body`)"),
            ),
            "secresponsebodyaccess"
            | "secresponsebodylimit"
            | "secresponsebodylimitaction"
            | "secresponsebodymimetype" => self.note(
                location,
                format!("{name}: response inspection settings are not configurable yet"),
            ),
            "seccomponentsignature" => self.note(location, format!("component: {}", arg(0))),
            n if n.starts_with("secaudit")
                || n.starts_with("secdebug")
                || n.starts_with("secupload")
                || matches!(
                    n,
                    "sectmpdir"
                        | "secdatadir"
                        | "secpcrematchlimit"
                        | "secpcrematchlimitrecursion"
                        | "seccollectiontimeout"
                        | "secargumentseparator"
                        | "seccookieformat"
                        | "secunicodemapfile"
                        | "secstatusengine"
                        | "secserversignature"
                        | "sectmpsaveuploadedfiles"
                        | "secgeolookupdb"
                ) =>
            {
                self.note(
                    location,
                    format!("{name}: no meaning in a proxy filter (Palisade logs its own verdict line; regexes are linear-time)"),
                )
            }
            _ => {
                self.unsupported(location, format!("unsupported directive {name}"));
            }
        }
    }

    fn rule(&mut self, rule: &SecRule) {
        let location = &rule.location;
        let mut meta = Meta::default();
        let mut head = CondActions::default();
        // SecDefaultAction of the rule's phase is read first, so the rule's
        // own actions override it.
        let phase = match rule
            .action("phase")
            .and_then(|a| a.value.as_deref())
            .map(parse_phase)
            .unwrap_or(Ok(2))
        {
            Ok(p) => p,
            Err(e) => return self.error(location, e),
        };
        let defaults = self.defaults.get(&phase).cloned().unwrap_or_default();
        let mut default_meta = Meta::default();
        let mut default_cond = CondActions::default();
        for a in &defaults {
            if !matches!(a.name.to_ascii_lowercase().as_str(), "phase") {
                if let Err(e) = self.action(a, &mut default_meta, &mut default_cond, location) {
                    return self.error(location, format!("SecDefaultAction: {e}"));
                }
            }
        }
        head.transforms = default_cond.transforms.clone();
        for a in &rule.actions {
            if let Err(e) = self.action(a, &mut meta, &mut head, location) {
                return self.error(location, e);
            }
        }
        let Some(id) = meta.id else {
            return self.error(location, "rule has no `id` action");
        };
        let Some(head_cond) = self.condition(rule, head) else {
            return;
        };
        let mut chained = Vec::new();
        let mut link = rule.chained.as_deref();
        while let Some(next) = link {
            let mut link_meta = Meta::default();
            let mut actions = CondActions {
                transforms: default_cond.transforms.clone(),
                ..CondActions::default()
            };
            for a in &next.actions {
                if let Err(e) = self.action(a, &mut link_meta, &mut actions, &next.location) {
                    return self.error(&next.location, e);
                }
            }
            if link_meta.id.is_some() || link_meta.phase.is_some() {
                return self.error(
                    &next.location,
                    "a chained rule takes no `id` or `phase`; they belong to the chain's first rule",
                );
            }
            if link_meta.disruptive.is_some() || link_meta.skip_after.is_some() {
                return self.error(
                    &next.location,
                    "disruptive actions and `skipAfter` belong to the chain's first rule",
                );
            }
            let Some(cond) = self.condition(next, actions) else {
                return;
            };
            chained.push(cond);
            // `logdata` normally sits on the chain's first rule; one on a
            // link counts when the first rule has none.
            if meta.logdata.is_none() {
                meta.logdata = link_meta.logdata;
            }
            link = next.chained.as_deref();
        }
        let disruptive = match meta.disruptive {
            Some(Disruptive::Block) | None => default_meta.disruptive.unwrap_or(Disruptive::Pass),
            Some(d) => d,
        };
        let action = match disruptive {
            Disruptive::Pass | Disruptive::Block => Action::Pass,
            Disruptive::Deny => Action::Block,
            Disruptive::Allow => Action::Allow,
        };
        let paranoia = meta
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("paranoia-level/"))
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (1..=4).contains(n))
            .unwrap_or(1);
        let category = meta
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("attack-"))
            .unwrap_or("generic")
            .to_string();
        let spec = RuleSpec {
            id: RuleId(id),
            message: meta.message.unwrap_or_default(),
            tags: meta.tags,
            severity: meta.severity.unwrap_or(Severity::Notice),
            paranoia,
            phase: match phase {
                1 => Phase::Headers,
                2 => Phase::Body,
                3 => Phase::ResponseHeaders,
                4 => Phase::ResponseBody,
                _ => Phase::Logging,
            },
            category,
            // CRS keeps its own score in TX variables with `setvar`.
            score: 0,
            action,
            targets: head_cond.targets,
            transforms: head_cond.transforms,
            operator: head_cond.operator,
            negate: head_cond.negate,
            capture: head_cond.capture,
            multi_match: head_cond.multi_match,
            effects: head_cond.effects,
            chained,
            log: meta.log.or(default_meta.log).unwrap_or(true),
            skip_after: meta.skip_after,
            logdata: meta.logdata,
        };
        if let Some(first) = self
            .rules
            .iter()
            .find(|r| r.spec.id == spec.id && !r.removed)
        {
            let first = first.location.clone();
            return self.error(
                location,
                format!("rule id {id} is already defined at {first}"),
            );
        }
        self.rules.push(Compiled {
            spec,
            location: location.clone(),
            removed: false,
        });
    }

    /// Targets and operator of one rule or chain link.
    fn condition(&mut self, rule: &SecRule, actions: CondActions) -> Option<ConditionSpec> {
        let location = &rule.location;
        let mut targets = Vec::new();
        for v in &rule.variables {
            match target_text(v) {
                Ok(t) => targets.push(t),
                Err(e) => {
                    if !self.unsupported(location, e) {
                        return None;
                    }
                }
            }
        }
        if targets.is_empty() && !rule.variables.is_empty() {
            // Every variable was unsupported (lenient): nothing to inspect.
            return None;
        }
        let operator = match operator(&rule.operator, &location.file) {
            Ok(op) => op,
            Err(e) => {
                self.unsupported(location, e);
                return None;
            }
        };
        // Compile here so a bad regex names its file and line rather than
        // failing when the filter loads the artifact.
        if let Err(e) = Operator::compile(&operator) {
            self.error(location, e.to_string());
            return None;
        }
        for effect in &actions.effects {
            if let Err(e) = Effect::compile(effect) {
                self.error(location, e);
                return None;
            }
        }
        Some(ConditionSpec {
            targets,
            transforms: actions.transforms,
            operator,
            negate: rule.operator.negated,
            capture: actions.capture,
            multi_match: actions.multi_match,
            effects: actions.effects,
        })
    }

    /// Folds one action into the rule's metadata or the condition's actions.
    fn action(
        &mut self,
        action: &ActionRef,
        meta: &mut Meta,
        cond: &mut CondActions,
        location: &Location,
    ) -> Result<(), String> {
        let value = action.value.as_deref().unwrap_or("");
        let name = action.name.to_ascii_lowercase();
        match name.as_str() {
            "id" => {
                meta.id = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("id:{value} is not a positive integer"))?,
                )
            }
            "phase" => meta.phase = Some(parse_phase(value)?),
            "msg" => meta.message = Some(value.to_string()),
            "tag" => meta.tags.push(value.to_string()),
            "severity" => meta.severity = Some(parse_severity(value)?),
            "chain" => {}
            "t" => {
                if value.eq_ignore_ascii_case("none") {
                    cond.transforms.clear();
                } else {
                    let t = Transform::from_name(value)
                        .ok_or_else(|| format!("unsupported transformation t:{value}"))?;
                    cond.transforms.push(t);
                }
            }
            "capture" => cond.capture = true,
            "multimatch" => cond.multi_match = true,
            "setvar" => cond.effects.push(parse_setvar(value)?),
            "ctl" => {
                let (n, v) = value
                    .split_once('=')
                    .ok_or_else(|| format!("ctl:{value}: expected `name=value`"))?;
                cond.effects.push(EffectSpec::Ctl {
                    name: n.trim().to_string(),
                    value: v.trim().to_string(),
                });
            }
            "pass" => meta.disruptive = Some(Disruptive::Pass),
            "deny" | "drop" => meta.disruptive = Some(Disruptive::Deny),
            "block" => meta.disruptive = Some(Disruptive::Block),
            "allow" => meta.disruptive = Some(Disruptive::Allow),
            "log" => meta.log = Some(true),
            "nolog" => meta.log = Some(false),
            "skipafter" => meta.skip_after = Some(value.to_string()),
            // Expanded when the rule matches, into the verdict's `data`.
            "logdata" => match Template::parse(value) {
                Ok(_) => meta.logdata = Some(value.to_string()),
                Err(e) => self.note(location, format!("logdata:{value}: {e}; dropped")),
            },
            // Metadata with no effect on matching; kept out of the artifact.
            "ver"
            | "rev"
            | "maturity"
            | "accuracy"
            | "auditlog"
            | "noauditlog"
            | "sanitisematched"
            | "sanitisearg"
            | "sanitiserequestheader"
            | "sanitisematchedbytes" => {}
            // The block status comes from the plugin configuration
            // (`block_status`), one answer for the whole policy.
            "status" => {}
            // Persistent collections (IP, SESSION) do not exist in a
            // stateless filter; CRS v4 only initialises them for plugins.
            "initcol" | "expirevar" | "setuid" | "setsid" => {
                self.note(
                    location,
                    format!("{name}: persistent collections are not kept by a stateless filter; ignored"),
                );
            }
            _ => {
                if !self.unsupported(location, format!("unsupported action `{}`", action.name)) {
                    return Err(format!("unsupported action `{}`", action.name));
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, source: &str) -> Result<(RulesetSpec, Report), Vec<Diagnostic>> {
        // Marker positions count the rules that survived removal.
        let mut kept_before = Vec::with_capacity(self.rules.len() + 1);
        let mut kept = 0u32;
        for r in &self.rules {
            kept_before.push(kept);
            if !r.removed {
                kept += 1;
            }
        }
        kept_before.push(kept);
        let mut markers = Vec::new();
        for (name, index, location) in &self.markers {
            if markers.iter().any(|m: &MarkerSpec| m.name == *name) {
                self.errors.push(Diagnostic {
                    location: location.clone(),
                    message: format!("marker `{name}` is defined twice"),
                });
                continue;
            }
            markers.push(MarkerSpec {
                name: name.clone(),
                position: kept_before[*index],
            });
        }
        for r in self.rules.iter().filter(|r| !r.removed) {
            if let Some(target) = &r.spec.skip_after {
                if !markers.iter().any(|m| m.name == *target) {
                    self.errors.push(Diagnostic {
                        location: r.location.clone(),
                        message: format!("skipAfter:{target}: no SecMarker with that name"),
                    });
                }
            }
        }
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let spec = RulesetSpec {
            source: source.to_string(),
            rules: self
                .rules
                .into_iter()
                .filter(|r| !r.removed)
                .map(|r| r.spec)
                .collect(),
            markers,
            // OWASP CRS reads its paranoia level and threshold from these TX
            // variables and keeps its score in the last one; binding them lets
            // the plugin configuration drive CRS like native rules.
            policy_vars: PolicyVars {
                paranoia: vec![
                    "blocking_paranoia_level".to_string(),
                    "detection_paranoia_level".to_string(),
                ],
                inbound_threshold: vec!["inbound_anomaly_score_threshold".to_string()],
                score: Some("blocking_inbound_anomaly_score".to_string()),
            },
        };
        Ok((spec, self.report))
    }
}

/// `1`..`5`, or ModSecurity's names `request` (2), `response` (4), `logging` (5).
fn parse_phase(value: &str) -> Result<u8, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" => Ok(1),
        "2" | "request" => Ok(2),
        "3" => Ok(3),
        "4" | "response" => Ok(4),
        "5" | "logging" => Ok(5),
        other => Err(format!("phase:{other} is not 1..5")),
    }
}

/// Names or syslog numbers (0 emergency .. 7 debug).
fn parse_severity(value: &str) -> Result<Severity, String> {
    Ok(match value.trim().to_ascii_uppercase().as_str() {
        "EMERGENCY" | "ALERT" | "CRITICAL" | "0" | "1" | "2" => Severity::Critical,
        "ERROR" | "3" => Severity::Error,
        "WARNING" | "4" => Severity::Warning,
        "NOTICE" | "INFO" | "DEBUG" | "5" | "6" | "7" => Severity::Notice,
        other => return Err(format!("severity:{other} is not a severity name or 0..7")),
    })
}

/// `tx.a=1`, `tx.a=+%{tx.b}`, `tx.a=-1`, `!tx.a`, `tx.a` (sets 1).
fn parse_setvar(value: &str) -> Result<EffectSpec, String> {
    let value = value.trim();
    let (delete, rest) = match value.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, value),
    };
    let (name, assigned) = match rest.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v)),
        None => (rest.trim(), None),
    };
    let (collection, var) = name
        .split_once('.')
        .ok_or_else(|| format!("setvar:{value}: expected `tx.name`"))?;
    if !collection.eq_ignore_ascii_case("tx") {
        return Err(format!(
            "setvar:{value}: only the TX collection can be set (a stateless filter keeps no {collection} collection)"
        ));
    }
    if var.is_empty() {
        return Err(format!("setvar:{value}: empty variable name"));
    }
    let (op, assigned) = match (delete, assigned) {
        (true, _) => (SetOp::Delete, String::new()),
        (false, None) => (SetOp::Set, "1".to_string()),
        (false, Some(v)) => match (v.strip_prefix('+'), v.strip_prefix('-')) {
            (Some(n), _) => (SetOp::Add, n.to_string()),
            (_, Some(n)) => (SetOp::Sub, n.to_string()),
            _ => (SetOp::Set, v.to_string()),
        },
    };
    Ok(EffectSpec::SetVar {
        name: var.to_string(),
        op,
        value: assigned,
    })
}

/// A SecLang variable as an engine target string (`args:!password`).
fn target_text(v: &VariableRef) -> Result<String, String> {
    let name = v.collection.to_ascii_lowercase();
    if Collection::from_name(&name).is_none() {
        return Err(format!("unsupported variable {}", v.collection));
    }
    let mut out = String::new();
    if v.count {
        out.push('&');
    }
    out.push_str(&name);
    if let Some(sel) = &v.selector {
        out.push(':');
        if v.exclude {
            out.push('!');
        }
        out.push_str(sel);
    } else if v.exclude {
        return Err(format!("`!{}` needs a `:member` to exclude", v.collection));
    }
    Ok(out)
}

/// A SecLang operator as the engine's spec. `file` locates `@pmFromFile` data.
fn operator(op: &OperatorRef, file: &Path) -> Result<OperatorSpec, String> {
    let arg = op.argument.as_str();
    let has_macro = arg.contains("%{");
    let int = |s: &str| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("@{} {s}: not an integer", op.name))
    };
    let name = op.name.as_str();
    if has_macro {
        // Only comparisons take a per-request argument: a regex or phrase
        // list built per request would defeat compiling ahead of time.
        return match name {
            "eq" | "gt" | "ge" | "lt" | "le" | "streq" | "contains" | "beginsWith" | "endsWith"
            | "within" => Ok(OperatorSpec::Macro {
                name: name.to_string(),
                argument: arg.to_string(),
            }),
            _ => Err(format!("@{name} does not support macros in its argument")),
        };
    }
    Ok(match name {
        "rx" => OperatorSpec::Rx(arg.to_string()),
        "pm" => OperatorSpec::Pm(arg.split_whitespace().map(str::to_string).collect()),
        "pmFromFile" | "pmf" => OperatorSpec::Pm(phrases_from_files(arg, file)?),
        "streq" => OperatorSpec::Streq(arg.to_string()),
        "contains" => OperatorSpec::Contains(arg.to_string()),
        "beginsWith" => OperatorSpec::BeginsWith(arg.to_string()),
        "endsWith" => OperatorSpec::EndsWith(arg.to_string()),
        "within" => OperatorSpec::Within(arg.to_string()),
        "eq" => OperatorSpec::Eq(int(arg)?),
        "gt" => OperatorSpec::Gt(int(arg)?),
        "ge" => OperatorSpec::Ge(int(arg)?),
        "lt" => OperatorSpec::Lt(int(arg)?),
        "le" => OperatorSpec::Le(int(arg)?),
        "validateByteRange" => OperatorSpec::ValidateByteRange(arg.to_string()),
        "validateUrlEncoding" => OperatorSpec::ValidateUrlEncoding,
        "validateUtf8Encoding" => OperatorSpec::ValidateUtf8Encoding,
        "ipMatch" => OperatorSpec::IpMatch(
            arg.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        "detectSQLi" => OperatorSpec::DetectSqli,
        "detectXSS" => OperatorSpec::DetectXss,
        "unconditionalMatch" => OperatorSpec::Unconditional,
        other => return Err(format!("unsupported operator @{other}")),
    })
}

/// `@pmFromFile a.data b.data`: one phrase per line, `#` comments and blank
/// lines skipped; paths relative to the rule file's directory.
fn phrases_from_files(arg: &str, rule_file: &Path) -> Result<Vec<String>, String> {
    let dir = rule_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut phrases = Vec::new();
    for name in arg.split_whitespace() {
        let path: PathBuf = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("@pmFromFile {}: {e}", path.display()))?;
        phrases.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    if phrases.is_empty() {
        return Err(format!("@pmFromFile {arg}: no phrases"));
    }
    Ok(phrases)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn setvar_forms() {
        let sv = |s: &str| parse_setvar(s).unwrap();
        assert_eq!(
            sv("tx.a=+%{tx.b}"),
            EffectSpec::SetVar {
                name: "a".into(),
                op: SetOp::Add,
                value: "%{tx.b}".into()
            }
        );
        assert!(matches!(
            sv("!tx.a"),
            EffectSpec::SetVar {
                op: SetOp::Delete,
                ..
            }
        ));
        assert!(
            matches!(sv("TX.a"), EffectSpec::SetVar { op: SetOp::Set, value, .. } if value == "1")
        );
        assert!(
            matches!(sv("tx.a=-2"), EffectSpec::SetVar { op: SetOp::Sub, value, .. } if value == "2")
        );
        assert!(parse_setvar("ip.a=1").unwrap_err().contains("TX"));
    }

    #[test]
    fn phases_and_severities() {
        assert_eq!(parse_phase("request"), Ok(2));
        assert!(parse_phase("6").is_err());
        assert_eq!(parse_severity("2"), Ok(Severity::Critical));
        assert_eq!(parse_severity("warning"), Ok(Severity::Warning));
    }
}
