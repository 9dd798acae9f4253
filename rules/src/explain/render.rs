//! How an [`Explanation`] is shown: text for a terminal (matched fragment
//! between `«»`, or in red when colour is on) and JSON for tools.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Explanation, Outcome, RuleStatus, RuleTrace, Step, ValueTrace};

/// Longest value shown per step, in bytes; longer ones are cut around the match.
const SHOW: usize = 160;
/// Context kept on each side of a matched fragment.
const CONTEXT: usize = 48;

/// Bytes as text: valid UTF-8 kept, control bytes and invalid UTF-8 as `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn shown(value: &[u8]) -> String {
    if value.len() <= SHOW {
        escape(value)
    } else {
        format!("{}… ({} bytes)", escape(&value[..SHOW]), value.len())
    }
}

/// The value with the fragment marked, context cut to [`CONTEXT`] bytes.
fn highlight(value: &[u8], (s, e): (usize, usize), color: bool) -> String {
    let (s, e) = (s.min(value.len()), e.min(value.len()));
    let (s, e) = (s.min(e), e);
    let from = s.saturating_sub(CONTEXT);
    let to = (e + CONTEXT).min(value.len());
    let (open, close) = if color {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("«", "»")
    };
    format!(
        "{}{}{open}{}{close}{}{}",
        if from > 0 { "…" } else { "" },
        escape(&value[from..s]),
        escape(&value[s..e]),
        escape(&value[e..to]),
        if to < value.len() { "…" } else { "" },
    )
}

fn write_steps(out: &mut String, steps: &[Step], indent: &str) {
    let width = steps
        .iter()
        .map(|s| s.transform.map_or(8, |t| t.name().len()))
        .max()
        .unwrap_or(8);
    let mut previous: Option<&[u8]> = None;
    for step in steps {
        let label = step.transform.map_or("received", |t| t.name());
        let text = if previous == Some(step.value.as_slice()) {
            "(unchanged)".to_string()
        } else {
            shown(&step.value)
        };
        let _ = writeln!(out, "{indent}{label:<width$}  {text}");
        previous = Some(&step.value);
    }
}

fn write_outcome(out: &mut String, value: &ValueTrace, indent: &str, color: bool) {
    let last = value.steps.last().map_or(&[][..], |s| s.value.as_slice());
    let text = match &value.outcome {
        Outcome::Match(Some(span)) => format!("match: {}", highlight(last, *span, color)),
        Outcome::Match(None) => "match (the operator reports no fragment)".to_string(),
        Outcome::NoMatch => "no match".to_string(),
        Outcome::NegatedMatch => "match (negated: the operator did not match)".to_string(),
        Outcome::NegatedNoMatch => "no match (negated: the operator matched)".to_string(),
        Outcome::Excluded(i) => format!("not inspected: removed by exclusions[{i}]"),
    };
    let _ = writeln!(out, "{indent}→ {text}");
}

/// The text report.
pub fn human(x: &Explanation, color: bool) -> String {
    let mut out = String::new();
    let v = &x.verdict;
    let decision = serde_json::to_value(v.decision)
        .ok()
        .and_then(|d| d.as_str().map(str::to_uppercase))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "decision: {decision} (score {}, threshold {})",
        v.score, v.threshold
    );
    let _ = writeln!(out, "request:  {} {}", x.request.method, x.request.uri);
    for note in &x.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if x.matches.is_empty() {
        let _ = writeln!(out, "\nno rule matched");
    }
    for (i, m) in x.matches.iter().enumerate() {
        let r = &m.matched;
        let _ = writeln!(
            out,
            "\n{}. rule {} [{}] +{} → {}  {}",
            i + 1,
            r.rule_id,
            phase_name(r.phase),
            r.score,
            m.total,
            r.message
        );
        let _ = writeln!(out, "   variable {}", r.variable);
        match &m.value {
            Some(value) => {
                write_steps(&mut out, &value.steps, "     ");
                write_outcome(&mut out, value, "   ", color);
            }
            None => {
                let _ = writeln!(out, "   value (from the verdict): {}", r.excerpt);
            }
        }
    }
    if let Some(t) = &x.rule {
        out.push('\n');
        trace_human(&mut out, t, color);
    }
    out
}

fn phase_name(p: super::Phase) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn status_text(s: &RuleStatus) -> String {
    match s {
        RuleStatus::NotInRuleset => "not in the ruleset".to_string(),
        RuleStatus::ParanoiaAbove { rule, policy } => {
            format!("disabled: the rule is paranoia level {rule}, the policy runs level {policy}")
        }
        RuleStatus::Disabled => "disabled by disabled_rules / disabled_tags".to_string(),
        RuleStatus::Excluded(i) => format!("turned off for this request by exclusions[{i}]"),
        RuleStatus::PhaseNotReached => {
            "enabled, but not evaluated: the headers phase decided the request first".to_string()
        }
        RuleStatus::Enabled => "enabled".to_string(),
    }
}

fn trace_human(out: &mut String, t: &RuleTrace, color: bool) {
    if t.status == RuleStatus::NotInRuleset {
        let _ = writeln!(out, "rule {}: not in the ruleset", t.id);
        return;
    }
    let _ = writeln!(
        out,
        "rule {} [{}]: {}",
        t.id,
        t.phase.map(phase_name).unwrap_or_default(),
        t.message
    );
    let _ = writeln!(out, "  status: {}", status_text(&t.status));
    let _ = writeln!(
        out,
        "  in the verdict: {}",
        if t.matched {
            "matched"
        } else {
            "did not match"
        }
    );
    for (i, c) in t.conditions.iter().enumerate() {
        let transforms: Vec<&str> = c.transforms.iter().map(|t| t.name()).collect();
        let _ = writeln!(
            out,
            "  condition {}: {}@{} on {} (transforms: {})",
            i + 1,
            if c.negate { "!" } else { "" },
            c.operator,
            c.targets.join(", "),
            if transforms.is_empty() {
                "none".to_string()
            } else {
                transforms.join(", ")
            }
        );
        if c.values.is_empty() && c.dynamic.is_empty() {
            let _ = writeln!(
                out,
                "    no value: the request has nothing these targets select"
            );
        }
        for value in &c.values {
            let _ = writeln!(out, "    {}", value.variable);
            write_steps(out, &value.steps, "      ");
            write_outcome(out, value, "    ", color);
        }
        for d in &c.dynamic {
            let _ = writeln!(
                out,
                "    {d}: read from the transaction while rules run; not re-derived here"
            );
        }
    }
    if !t.matched
        && t.conditions
            .iter()
            .all(|c| c.values.iter().any(|v| v.outcome.matches()))
        && t.status == RuleStatus::Enabled
    {
        let _ = writeln!(
            out,
            "  note: every condition holds on some value here, yet the engine did not report the rule: an earlier rule may have skipped it (skipAfter, ctl) or ended inspection, or it does not log"
        );
    }
}

fn steps_json(steps: &[Step]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|s| {
                json!({
                    "transform": s.transform.map(|t| t.name()),
                    "value": escape(&s.value),
                })
            })
            .collect(),
    )
}

fn value_json(v: &ValueTrace) -> Value {
    let last = v.steps.last().map_or(&[][..], |s| s.value.as_slice());
    let (outcome, fragment) = match &v.outcome {
        Outcome::Match(span) => (
            "match",
            span.map(|(s, e)| {
                let (s, e) = (s.min(last.len()), e.min(last.len()));
                json!({"start": s, "end": e, "text": escape(&last[s.min(e)..e])})
            }),
        ),
        Outcome::NoMatch => ("no_match", None),
        Outcome::NegatedMatch => ("negated_match", None),
        Outcome::NegatedNoMatch => ("negated_no_match", None),
        Outcome::Excluded(_) => ("excluded", None),
    };
    json!({
        "variable": v.variable,
        "steps": steps_json(&v.steps),
        "outcome": outcome,
        "fragment": fragment,
    })
}

/// The JSON report.
pub fn json(x: &Explanation) -> Value {
    let v = &x.verdict;
    let matches: Vec<Value> = x
        .matches
        .iter()
        .map(|m| {
            let r = &m.matched;
            let mut o = json!({
                "rule_id": r.rule_id.0,
                "message": r.message,
                "phase": r.phase,
                "severity": r.severity,
                "variable": r.variable,
                "score": r.score,
                "total": m.total,
                "excerpt": r.excerpt,
            });
            if let (Some(value), Some(obj)) = (&m.value, o.as_object_mut()) {
                if let Value::Object(extra) = value_json(value) {
                    obj.insert("steps".into(), extra["steps"].clone());
                    obj.insert("fragment".into(), extra["fragment"].clone());
                }
            }
            o
        })
        .collect();
    let mut out = json!({
        "decision": v.decision,
        "score": v.score,
        "threshold": v.threshold,
        "scores": v.scores.iter().map(|(c, s)| (c.clone(), json!(s))).collect::<serde_json::Map<_, _>>(),
        "request": {
            "method": x.request.method,
            "uri": x.request.uri,
            "headers": x.request.headers,
            "body_bytes": x.request.body.as_ref().map_or(0, Vec::len),
        },
        "matches": matches,
        "notes": x.notes,
    });
    if let (Some(t), Some(obj)) = (&x.rule, out.as_object_mut()) {
        let status = match &t.status {
            RuleStatus::NotInRuleset => "not_in_ruleset",
            RuleStatus::ParanoiaAbove { .. } => "paranoia_above_policy",
            RuleStatus::Disabled => "disabled",
            RuleStatus::Excluded(_) => "excluded",
            RuleStatus::PhaseNotReached => "phase_not_reached",
            RuleStatus::Enabled => "enabled",
        };
        obj.insert(
            "rule".into(),
            json!({
                "id": t.id.0,
                "message": t.message,
                "phase": t.phase,
                "status": status,
                "status_text": status_text(&t.status),
                "matched": t.matched,
                "conditions": t.conditions.iter().map(|c| json!({
                    "targets": c.targets,
                    "transforms": c.transforms.iter().map(|t| t.name()).collect::<Vec<_>>(),
                    "operator": c.operator,
                    "negate": c.negate,
                    "values": c.values.iter().map(value_json).collect::<Vec<_>>(),
                    "dynamic_targets": c.dynamic,
                })).collect::<Vec<_>>(),
            }),
        );
    }
    out
}
