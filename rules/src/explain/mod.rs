//! `palisade explain`: why a request is blocked (or not). The request runs
//! through the real engine, whose verdict says what matched; for each match
//! the value is then re-derived with the public transform and operator API
//! to show every transform step and the fragment the operator matched, and
//! `--rule` traces one rule condition by condition, value by value.
//!
//! The per-step display is a re-derivation for people: the verdict stays
//! the source of truth for *whether* a rule matched.

pub mod input;
pub mod render;
pub mod shell;

use palisade_engine::config::{OverLimit, Settings};
use palisade_engine::operator::Operator;
use palisade_engine::request::ResponseData;
use palisade_engine::rule::{Condition, Rule};
use palisade_engine::transform::Transform;
use palisade_engine::variable::Target;
use palisade_engine::{Decision, Phase, Policy, Request, RuleId, RuleMatch, Transaction, Verdict};

pub use input::{HttpRequest, InputError};

/// One value after one transform step (`transform` is `None` for the value
/// as received).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub transform: Option<Transform>,
    pub value: Vec<u8>,
    /// The operator's result on this value, when it ran on it (the last
    /// step; every step under `multiMatch`).
    pub operator_matched: Option<bool>,
}

/// What the operator made of one value, negation applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The operator matched; the span is in the last step's value.
    Match(Option<(usize, usize)>),
    NoMatch,
    /// Negated condition, operator did not match: the condition matches.
    NegatedMatch,
    /// Negated condition, operator matched: the condition does not.
    NegatedNoMatch,
    /// An exclusion of the policy (index in `exclusions`) removes this value.
    Excluded(usize),
}

impl Outcome {
    pub fn matches(&self) -> bool {
        matches!(self, Outcome::Match(_) | Outcome::NegatedMatch)
    }
}

/// One value a condition looked at.
#[derive(Clone, Debug)]
pub struct ValueTrace {
    /// As the verdict names it: `ARGS:q`.
    pub variable: String,
    pub steps: Vec<Step>,
    pub outcome: Outcome,
}

/// A rule match from the verdict, with its value re-derived.
#[derive(Clone, Debug)]
pub struct MatchExplained {
    pub matched: RuleMatch,
    /// Anomaly score after this match (running total).
    pub total: u32,
    /// The matched value, when it comes from the request (not TX).
    pub value: Option<ValueTrace>,
}

/// One condition of a traced rule.
#[derive(Clone, Debug)]
pub struct ConditionTrace {
    pub targets: Vec<String>,
    pub transforms: Vec<Transform>,
    pub operator: &'static str,
    pub negate: bool,
    pub values: Vec<ValueTrace>,
    /// Targets read from the transaction (TX, MATCHED_VAR...), which only
    /// exist while rules run: not re-derived.
    pub dynamic: Vec<String>,
}

/// Why a rule did or did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    NotInRuleset,
    /// The rule's paranoia level is above the policy's.
    ParanoiaAbove {
        rule: u8,
        policy: u8,
    },
    /// Disabled by the configuration's `disabled_rules` / `disabled_tags`.
    Disabled,
    /// Turned off for this request by an exclusion without targets.
    Excluded(usize),
    /// Enabled, but its phase never ran: the headers phase decided first.
    PhaseNotReached,
    Enabled,
}

/// `--rule ID`.
#[derive(Clone, Debug)]
pub struct RuleTrace {
    pub id: RuleId,
    pub message: String,
    pub phase: Option<Phase>,
    pub status: RuleStatus,
    /// In the engine's verdict.
    pub matched: bool,
    pub conditions: Vec<ConditionTrace>,
}

/// Everything `explain` prints.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub request: HttpRequest,
    pub verdict: Verdict,
    pub matches: Vec<MatchExplained>,
    pub rule: Option<RuleTrace>,
    pub notes: Vec<String>,
}

/// Runs `http` through the ruleset and policy in `settings` as the filter
/// does (headers phase; body attached, subject to `request_body`; body
/// phase unless already decided) and explains the verdict; `rule` adds a
/// trace of that rule.
pub fn explain(settings: &Settings, http: &HttpRequest, rule: Option<RuleId>) -> Explanation {
    explain_exchange(settings, http, None, rule, &mut Transaction::new())
}

/// [`explain`] with the upstream's response: when the request was not
/// blocked, the response phases run on it as the filter runs them (headers
/// phase; the body, cut to `response_body.limit_bytes`, only when its media
/// type is listed in `response_body.mime_types`). go-ftw's response tests
/// (albedo's `/reflect`) come through here. `tx` is reset first: a run of
/// many exchanges reuses one, as the filter reuses pooled transactions, so
/// a test run also shows that nothing leaks from one request into the
/// next.
pub fn explain_exchange(
    settings: &Settings,
    http: &HttpRequest,
    response: Option<ResponseData>,
    rule: Option<RuleId>,
    tx: &mut Transaction,
) -> Explanation {
    let engine = &settings.engine;
    let mut notes = Vec::new();
    let mut req = crate::test_request::request_head(&http.method, &http.uri, &http.headers);
    // The policy the filter would pick: the first `policies` entry whose
    // host, route and path cover the request, else the top level.
    let policy = settings
        .policy_by_id(settings.select_policy(&req, http.route.as_deref().map(str::as_bytes)));
    if !policy.name.is_empty() {
        notes.push(format!("policy: {} (a `policies` entry)", policy.name));
    }
    tx.reset();
    let decided = engine.evaluate(Phase::Headers, &req, policy, tx);
    let mut body_phase = false;
    if decided {
        notes.push("decided in the headers phase: body-phase rules did not run".to_string());
    } else {
        body_phase = true;
        match &http.body {
            Some(body) if !settings.body.inspect => {
                notes.push(format!(
                    "request_body.inspect is off: the {}-byte body was not inspected",
                    body.len()
                ));
            }
            Some(body) => {
                let limit = settings.body.limit_bytes;
                let mut raw = body.clone();
                let truncated = raw.len() > limit;
                if truncated {
                    raw.truncate(limit);
                    notes.push(match settings.body.over_limit {
                        OverLimit::Block => format!(
                            "the body ({} bytes) is over request_body.limit_bytes ({limit}): the filter answers 413 without inspecting; shown here inspected up to the limit",
                            body.len()
                        ),
                        OverLimit::InspectPartial => format!(
                            "the body ({} bytes) is over request_body.limit_bytes ({limit}): only the first {limit} bytes are inspected",
                            body.len()
                        ),
                    });
                }
                let forced = tx.body_processor(&req);
                req.attach_body_as(raw, truncated, &settings.body.limits, forced);
            }
            None => {}
        }
        engine.evaluate(Phase::Body, &req, policy, tx);
    }
    if let Some(response) = response {
        run_response(settings, policy, &mut req, response, tx, &mut notes);
        // The logging phase (SecLang phase 5, e.g. CRS's 980170 score
        // report) runs once the exchange is over, as in the filter's on_log.
        if engine.runs_phase(policy, Phase::Logging) {
            engine.evaluate(Phase::Logging, &req, policy, tx);
        }
    }
    let verdict = engine.verdict(policy, tx);
    let mut total = 0u32;
    let matches = verdict
        .matches
        .iter()
        .map(|m| {
            total = total.saturating_add(m.score);
            MatchExplained {
                matched: m.clone(),
                total,
                value: engine
                    .rule(m.rule_id)
                    .and_then(|r| rederive(settings, policy, r, &req, &m.variable)),
            }
        })
        .collect();
    if total != verdict.score {
        notes.push(format!(
            "the ruleset keeps its own score (a TX variable): {} reported, {total} from the rules' own scores",
            verdict.score
        ));
    }
    let rule = rule.map(|id| trace(settings, policy, id, &req, &verdict, body_phase));
    Explanation {
        request: http.clone(),
        verdict,
        matches,
        rule,
        notes,
    }
}

/// The response phases of [`explain_exchange`], in the filter's order.
fn run_response(
    settings: &Settings,
    policy: &Policy,
    req: &mut Request,
    mut response: ResponseData,
    tx: &mut Transaction,
    notes: &mut Vec<String>,
) {
    let engine = &settings.engine;
    if engine.verdict(policy, tx).decision == Decision::Block {
        notes.push("blocked before the response: response phases did not run".to_string());
        return;
    }
    if !engine.inspects_response(policy) {
        return;
    }
    let body = std::mem::take(&mut response.body);
    let content_type = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(b"content-type"))
        .map(|h| h.value.clone());
    req.response = Some(response);
    let decided = engine.evaluate(Phase::ResponseHeaders, req, policy, tx);
    if decided
        && matches!(
            engine.verdict(policy, tx).decision,
            Decision::Block | Decision::Allow
        )
    {
        return;
    }
    let rb = &settings.response_body;
    let inspect_body = rb.inspect
        && engine.inspects_response_body(policy)
        && content_type.is_some_and(|ct| rb.inspects_type(&ct));
    if inspect_body {
        if let Some(r) = req.response.as_mut() {
            r.body = body;
            r.body.truncate(rb.limit_bytes);
        }
    } else if !body.is_empty() {
        notes.push(
            "the response body was not inspected (response_body settings or its media type)"
                .to_string(),
        );
    }
    engine.evaluate(Phase::ResponseBody, req, policy, tx);
}

/// The value named `variable` that made `rule` match: the first condition
/// value with that name on which the condition holds.
fn rederive(
    settings: &Settings,
    policy: &Policy,
    rule: &Rule,
    req: &Request,
    variable: &str,
) -> Option<ValueTrace> {
    let mut named = None;
    for condition in &rule.conditions {
        for value in condition_values(settings, policy, rule, condition, req).0 {
            if value.variable != variable {
                continue;
            }
            if value.outcome.matches() {
                return Some(value);
            }
            named.get_or_insert(value);
        }
    }
    named
}

fn trace(
    settings: &Settings,
    policy: &Policy,
    id: RuleId,
    req: &Request,
    verdict: &Verdict,
    body_phase: bool,
) -> RuleTrace {
    let engine = &settings.engine;
    let matched = verdict.matches.iter().any(|m| m.rule_id == id);
    let Some(rule) = engine.rule(id) else {
        return RuleTrace {
            id,
            message: String::new(),
            phase: None,
            status: RuleStatus::NotInRuleset,
            matched,
            conditions: Vec::new(),
        };
    };
    let off = policy
        .exclusions
        .iter()
        .position(|e| e.targets.is_empty() && e.applies_to_request(req) && e.applies_to_rule(rule));
    let status = if rule.paranoia > policy.paranoia {
        RuleStatus::ParanoiaAbove {
            rule: rule.paranoia,
            policy: policy.paranoia,
        }
    } else if engine.is_enabled(policy, id) != Some(true) {
        RuleStatus::Disabled
    } else if let Some(i) = off {
        RuleStatus::Excluded(i)
    } else if rule.phase != Phase::Headers && !body_phase {
        RuleStatus::PhaseNotReached
    } else {
        RuleStatus::Enabled
    };
    let conditions = rule
        .conditions
        .iter()
        .map(|c| {
            let (values, dynamic) = condition_values(settings, policy, rule, c, req);
            ConditionTrace {
                targets: c.targets.iter().map(ToString::to_string).collect(),
                transforms: engine.chain(c.chain).to_vec(),
                operator: operator_name(&c.operator),
                negate: c.negate,
                values,
                dynamic,
            }
        })
        .collect();
    RuleTrace {
        id,
        message: rule.message.source().to_string(),
        phase: Some(rule.phase),
        status,
        matched,
        conditions,
    }
}

/// Every request value a condition's targets select, each traced through
/// the chain and the operator; and the targets read from the transaction.
fn condition_values(
    settings: &Settings,
    policy: &Policy,
    rule: &Rule,
    condition: &Condition,
    req: &Request,
) -> (Vec<ValueTrace>, Vec<String>) {
    let chain = settings.engine.chain(condition.chain);
    let exclusions: Vec<(usize, _)> = policy
        .exclusions
        .iter()
        .enumerate()
        .filter(|(_, e)| e.applies_to_request(req) && e.applies_to_rule(rule))
        .collect();
    let mut values = Vec::new();
    let mut dynamic = Vec::new();
    for target in &condition.targets {
        if target.collection.is_dynamic() {
            dynamic.push(target.to_string());
            continue;
        }
        let instances = target.collection.instances(req);
        let selected = instances.iter().filter(|i| target.selects(&i.name));
        if target.count {
            let count = selected.count().to_string().into_bytes();
            values.push(run(condition, chain, target, b"", &count, None));
            continue;
        }
        for inst in selected {
            let excluded = exclusions
                .iter()
                .find(|(_, e)| e.removes(target, &inst.name))
                .map(|(i, _)| *i);
            values.push(run(
                condition,
                chain,
                target,
                &inst.name,
                &inst.value,
                excluded,
            ));
        }
    }
    (values, dynamic)
}

/// Traces one value through the chain and the operator, as
/// `match_condition` in the engine does (including `multiMatch`).
fn run(
    condition: &Condition,
    chain: &[Transform],
    target: &Target,
    name: &[u8],
    value: &[u8],
    excluded: Option<usize>,
) -> ValueTrace {
    let mut steps = vec![Step {
        transform: None,
        value: value.to_vec(),
        operator_matched: None,
    }];
    for t in chain {
        let next = t.apply(&steps[steps.len() - 1].value).into_owned();
        steps.push(Step {
            transform: Some(*t),
            value: next,
            operator_matched: None,
        });
    }
    let variable = target.describe(name);
    if let Some(i) = excluded {
        return ValueTrace {
            variable,
            steps,
            outcome: Outcome::Excluded(i),
        };
    }
    let last = steps.len() - 1;
    let mut found = None;
    for (i, step) in steps.iter_mut().enumerate() {
        // multiMatch runs the operator on the value as received and after
        // each step that changed it; otherwise only on the last value.
        if i != last && !condition.multi_match {
            continue;
        }
        let m = condition.operator.evaluate(&step.value);
        step.operator_matched = Some(m.is_some());
        if let Some(m) = m {
            found = Some((i, m.span));
            break;
        }
    }
    if let Some((i, _)) = found {
        // The fragment is shown in the last value: cut the steps there.
        steps.truncate(i + 1);
    }
    let outcome = match (found, condition.negate) {
        (Some((_, span)), false) => Outcome::Match(span),
        (None, false) => Outcome::NoMatch,
        (None, true) => Outcome::NegatedMatch,
        (Some(_), true) => Outcome::NegatedNoMatch,
    };
    ValueTrace {
        variable,
        steps,
        outcome,
    }
}

/// The ModSecurity name of a compiled operator.
pub fn operator_name(op: &Operator) -> &'static str {
    match op {
        Operator::Rx(_) => "rx",
        Operator::Pm(_) => "pm",
        Operator::Streq(_) => "streq",
        Operator::Contains(_) => "contains",
        Operator::BeginsWith(_) => "beginsWith",
        Operator::EndsWith(_) => "endsWith",
        Operator::Within(_) => "within",
        Operator::Numeric(..) => "numeric comparison",
        Operator::ValidateByteRange(_) => "validateByteRange",
        Operator::ValidateUrlEncoding => "validateUrlEncoding",
        Operator::ValidateUtf8Encoding => "validateUtf8Encoding",
        Operator::IpMatch(_) => "ipMatch",
        Operator::DetectSqli => "detectSQLi",
        Operator::DetectXss => "detectXSS",
        Operator::Unconditional => "unconditionalMatch",
        Operator::Macro(_) => "comparison with a macro argument",
    }
}
