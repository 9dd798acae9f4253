//! What a matched rule does besides scoring and deciding: set transaction
//! variables (`setvar`) and change how the rest of the request is inspected
//! (`ctl`). These carry OWASP CRS's logic: its anomaly scores, paranoia
//! levels and exclusion packages are all written with them.

use serde::{Deserialize, Serialize};

use crate::body::Processor;
use crate::eval::Exclusion;
use crate::macros::Template;
use crate::rule::RuleId;
use crate::variable::TargetItem;

/// How `setvar` changes a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetOp {
    /// `tx.a=value`
    Set,
    /// `tx.a=+5`: numeric add (missing or non-numeric counts as 0).
    Add,
    /// `tx.a=-5`
    Sub,
    /// `!tx.a`
    Delete,
}

/// An effect as stored in the ruleset artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EffectSpec {
    /// `name` is the transaction variable without `tx.`; both it and
    /// `value` may hold macros.
    SetVar {
        name: String,
        op: SetOp,
        #[serde(default)]
        value: String,
    },
    /// `ctl:name=value`.
    Ctl { name: String, value: String },
}

/// How the rest of the transaction is inspected (`ctl:ruleEngine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineSetting {
    On,
    Off,
    DetectionOnly,
}

/// A compiled `ctl`.
#[derive(Clone, Debug)]
pub enum Ctl {
    /// `ruleRemoveById`, `ruleRemoveByTag`, `ruleRemoveTargetById`,
    /// `ruleRemoveTargetByTag`: an exclusion for the rest of this request,
    /// the same mechanism as configured exclusions.
    Exclude(Exclusion),
    RuleEngine(EngineSetting),
    /// `requestBodyProcessor`: parse the body with this parser, whatever
    /// its Content-Type says. Only meaningful before the body phase.
    BodyProcessor(Processor),
    /// `forceRequestBodyVariable=On`: a body whose Content-Type names no
    /// parser is still parsed, as URL-encoded form data, so its arguments are
    /// inspected (OWASP CRS turns this on for exactly those requests; an
    /// attacker gains nothing by leaving the Content-Type out).
    ForceBodyParsing,
    /// Accepted for compatibility, with nothing to do in a proxy:
    /// `auditEngine`, `auditLogParts` (Palisade logs its own verdict line).
    Ignored,
}

/// A compiled effect.
#[derive(Clone, Debug)]
pub enum Effect {
    SetVar {
        name: Template,
        op: SetOp,
        value: Template,
    },
    Ctl(Ctl),
}

impl Effect {
    /// Compiles a stored effect.
    ///
    /// # Errors
    /// A message naming the bad macro, ctl name or value.
    pub fn compile(spec: &EffectSpec) -> Result<Effect, String> {
        match spec {
            EffectSpec::SetVar { name, op, value } => Ok(Effect::SetVar {
                name: Template::parse(name)?,
                op: *op,
                value: Template::parse(value)?,
            }),
            EffectSpec::Ctl { name, value } => Ok(Effect::Ctl(compile_ctl(name, value)?)),
        }
    }
}

fn compile_ctl(name: &str, value: &str) -> Result<Ctl, String> {
    let value = value.trim();
    let bad = |why: &str| format!("ctl:{name}={value}: {why}");
    match name.to_ascii_lowercase().as_str() {
        "ruleremovebyid" => Ok(Ctl::Exclude(Exclusion {
            id_ranges: parse_id_ranges(value).map_err(|e| bad(&e))?,
            ..Exclusion::default()
        })),
        "ruleremovebytag" => Ok(Ctl::Exclude(Exclusion {
            tags: vec![value.to_string()],
            ..Exclusion::default()
        })),
        "ruleremovetargetbyid" | "ruleremovetargetbytag" => {
            let (rules, target) = value
                .split_once(';')
                .ok_or_else(|| bad("expected `RULES;TARGET`"))?;
            let target = match TargetItem::parse(target).map_err(|e| bad(&e))? {
                TargetItem::Include(t) if !t.count => (t.collection, t.selector),
                _ => return Err(bad("write the target to remove, without `!` or `&`")),
            };
            let mut exclusion = Exclusion {
                targets: vec![target],
                ..Exclusion::default()
            };
            if name.eq_ignore_ascii_case("ruleRemoveTargetById") {
                exclusion.id_ranges = parse_id_ranges(rules).map_err(|e| bad(&e))?;
            } else {
                exclusion.tags = vec![rules.trim().to_string()];
            }
            Ok(Ctl::Exclude(exclusion))
        }
        "ruleengine" => match value.to_ascii_lowercase().as_str() {
            "on" => Ok(Ctl::RuleEngine(EngineSetting::On)),
            "off" => Ok(Ctl::RuleEngine(EngineSetting::Off)),
            "detectiononly" => Ok(Ctl::RuleEngine(EngineSetting::DetectionOnly)),
            _ => Err(bad("expected On, Off or DetectionOnly")),
        },
        "requestbodyprocessor" => Processor::from_name(value)
            .map(Ctl::BodyProcessor)
            .ok_or_else(|| bad("expected URLENCODED, JSON, MULTIPART or XML")),
        "forcerequestbodyvariable" => match value.to_ascii_lowercase().as_str() {
            "on" => Ok(Ctl::ForceBodyParsing),
            "off" => Ok(Ctl::Ignored),
            _ => Err(bad("expected On or Off")),
        },
        "auditengine" | "auditlogparts" | "requestbodyaccess" => Ok(Ctl::Ignored),
        _ => Err(bad("unsupported ctl")),
    }
}

/// `920100`, `920100-920200`, `1,5-7` (SecLang id lists).
///
/// # Errors
/// The part that is not an id or an ascending range.
pub fn parse_id_ranges(text: &str) -> Result<Vec<(RuleId, RuleId)>, String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let id = |s: &str| {
                s.trim()
                    .parse::<u32>()
                    .map(RuleId)
                    .map_err(|_| format!("`{part}` is not a rule id or range"))
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (id(a)?, id(b)?);
                    if a > b {
                        return Err(format!("`{part}`: range runs backwards"));
                    }
                    Ok((a, b))
                }
                None => {
                    let a = id(part)?;
                    Ok((a, a))
                }
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn id_ranges() {
        assert_eq!(
            parse_id_ranges("1, 5-7").unwrap(),
            vec![(RuleId(1), RuleId(1)), (RuleId(5), RuleId(7))]
        );
        assert!(parse_id_ranges("7-5").is_err());
        assert!(parse_id_ranges("x").is_err());
    }

    #[test]
    fn ctl_forms() {
        assert!(matches!(
            compile_ctl("ruleRemoveTargetById", "942100;ARGS:password").unwrap(),
            Ctl::Exclude(e) if e.targets.len() == 1 && e.id_ranges == vec![(RuleId(942100), RuleId(942100))]
        ));
        assert!(matches!(
            compile_ctl("ruleEngine", "DetectionOnly").unwrap(),
            Ctl::RuleEngine(EngineSetting::DetectionOnly)
        ));
        assert!(compile_ctl("ruleEngine", "maybe").is_err());
        assert!(compile_ctl("debugLogLevel", "9")
            .unwrap_err()
            .contains("unsupported"));
    }
}
