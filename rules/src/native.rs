//! The native rule format: YAML written for security teams (see
//! `rules/README.md`). Parsing is strict: unknown fields, unknown transforms,
//! regexes that do not compile and targets that do not exist are errors that
//! name file, line and field, because a rule silently doing nothing is the
//! worst failure a WAF rule can have.

use std::path::{Path, PathBuf};

use palisade_engine::operator::OperatorSpec;
use palisade_engine::rule::{Action, Phase, RuleId, Severity};
use palisade_engine::ruleset::{compile_targets, RuleSpec};
use palisade_engine::transform::Transform;
use palisade_engine::{RulesetError, RulesetSpec};
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::test_request::TestRequest;
use crate::CompileError;

/// A rule file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    rules: Vec<NativeRule>,
}

/// One rule as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeRule {
    id: u32,
    message: String,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    score: Option<u32>,
    #[serde(default)]
    paranoia: Option<u8>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    phase: Option<Phase>,
    #[serde(default)]
    action: Option<Action>,
    targets: Vec<String>,
    #[serde(default)]
    transforms: Vec<String>,
    operator: Value,
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    tests: Option<RuleTests>,
}

/// A rule's inline tests.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTests {
    /// Requests the rule must match.
    #[serde(rename = "match", default)]
    pub matches: Vec<TestRequest>,
    /// Requests the rule must not match.
    #[serde(default)]
    pub no_match: Vec<TestRequest>,
}

/// A compiled rule file: rules in file order, with their tests and lines.
#[derive(Clone, Debug)]
pub struct CompiledFile {
    pub path: PathBuf,
    pub rules: Vec<RuleSpec>,
    /// Line of each rule's `id:`.
    pub lines: Vec<usize>,
    pub tests: Vec<Option<RuleTests>>,
}

/// Parses and validates one file.
///
/// # Errors
/// Every problem found in the file.
pub fn compile_file(path: &Path, text: &str) -> Result<CompiledFile, Vec<CompileError>> {
    let err = |line: Option<usize>, field: Option<String>, message: String| CompileError {
        file: path.to_path_buf(),
        line,
        field,
        message,
    };
    let file: RuleFile = serde_yaml_ng::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        vec![err(line, None, e.to_string())]
    })?;
    let id_lines = rule_id_lines(text);
    let mut errors = Vec::new();
    let mut out = CompiledFile {
        path: path.to_path_buf(),
        rules: Vec::new(),
        lines: Vec::new(),
        tests: Vec::new(),
    };
    for (index, rule) in file.rules.into_iter().enumerate() {
        let start = id_lines.get(index).copied();
        let locate = |field: &str| {
            field_line(text, start, id_lines.get(index + 1).copied(), field).or(start)
        };
        let rule_err = |field: &str, message: String| {
            err(
                locate(field),
                Some(format!("rules[{index}] (id {}).{field}", rule.id)),
                message,
            )
        };
        match build_rule(&rule, file.category.as_deref(), &file.tags) {
            Ok(spec) => {
                // Compile it the way the filter will, to surface regex and
                // target errors here rather than at VM start.
                let single = RulesetSpec {
                    source: String::new(),
                    rules: vec![spec.clone()],
                    ..RulesetSpec::default()
                };
                match single.compile() {
                    Ok(_) => {
                        out.rules.push(spec);
                        out.lines.push(start.unwrap_or(0));
                        out.tests.push(rule.tests);
                    }
                    Err(RulesetError::Rule { field, message, .. }) => {
                        errors.push(rule_err(field, message))
                    }
                    Err(e) => errors.push(rule_err("id", e.to_string())),
                }
            }
            Err((field, message)) => errors.push(rule_err(field, message)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Turns a written rule into an artifact rule, applying file defaults.
fn build_rule(
    rule: &NativeRule,
    file_category: Option<&str>,
    file_tags: &[String],
) -> Result<RuleSpec, (&'static str, String)> {
    if rule.id == 0 {
        return Err(("id", "must be a positive integer".to_string()));
    }
    if rule.message.trim().is_empty() {
        return Err(("message", "must not be empty".to_string()));
    }
    let paranoia = rule.paranoia.unwrap_or(1);
    if !(1..=4).contains(&paranoia) {
        return Err((
            "paranoia",
            format!("{paranoia} is not a paranoia level (1..4)"),
        ));
    }
    let transforms = rule
        .transforms
        .iter()
        .map(|name| {
            Transform::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Transform::ALL.iter().map(|t| t.name()).collect();
                (
                    "transforms",
                    format!("unknown transform `{name}` (known: {})", known.join(", ")),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let targets = compile_targets(&rule.targets).map_err(|m| ("targets", m))?;
    let phase = rule.phase.unwrap_or_else(|| {
        if targets.iter().any(|t| t.collection.needs_body()) {
            Phase::Body
        } else {
            Phase::Headers
        }
    });
    if phase == Phase::Headers {
        if let Some(t) = targets.iter().find(|t| t.collection.needs_body()) {
            return Err((
                "phase",
                format!(
                    "`headers` rules cannot read `{}`, which needs the body",
                    t.collection.name()
                ),
            ));
        }
    }
    let severity = rule.severity.unwrap_or(Severity::Critical);
    let mut tags: Vec<String> = file_tags.to_vec();
    for t in &rule.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    Ok(RuleSpec {
        id: RuleId(rule.id),
        message: rule.message.clone(),
        tags,
        severity,
        paranoia,
        phase,
        category: rule
            .category
            .clone()
            .or(file_category.map(str::to_string))
            .unwrap_or_else(|| "generic".to_string()),
        score: rule.score.unwrap_or(severity.default_score()),
        action: rule.action.unwrap_or_default(),
        targets: rule.targets.clone(),
        transforms,
        operator: operator(&rule.operator).map_err(|m| ("operator", m))?,
        negate: rule.negate,
        capture: false,
        multi_match: false,
        effects: Vec::new(),
        chained: Vec::new(),
        log: true,
        skip_after: None,
        logdata: None,
    })
}

/// `operator: {rx: "..."}` → [`OperatorSpec`].
fn operator(value: &Value) -> Result<OperatorSpec, String> {
    let Value::Mapping(map) = value else {
        return Err("must be a map with one key, e.g. `{rx: \"...\"}`".to_string());
    };
    if map.len() != 1 {
        return Err(format!("must have exactly one key, found {}", map.len()));
    }
    let Some((Value::String(name), arg)) = map.iter().next() else {
        return Err("the operator name must be a string".to_string());
    };
    let text = || -> Result<String, String> {
        match arg {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(format!("`{name}` takes a string")),
        }
    };
    let list = || -> Result<Vec<String>, String> {
        match arg {
            Value::Sequence(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(format!("`{name}` takes a list of strings")),
                })
                .collect(),
            Value::String(s) => Ok(s.split_whitespace().map(str::to_string).collect()),
            _ => Err(format!("`{name}` takes a list of strings")),
        }
    };
    let number = || -> Result<i64, String> {
        match arg {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| format!("`{name}` takes an integer, got {n}")),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("`{name}` takes an integer, got `{s}`")),
            _ => Err(format!("`{name}` takes an integer")),
        }
    };
    let flag = || -> Result<(), String> {
        match arg {
            Value::Bool(true) | Value::Null => Ok(()),
            _ => Err(format!("`{name}` takes no argument; write `{name}: true`")),
        }
    };
    Ok(match name.as_str() {
        "rx" => OperatorSpec::Rx(text()?),
        "pm" => OperatorSpec::Pm(list()?),
        "streq" => OperatorSpec::Streq(text()?),
        "contains" => OperatorSpec::Contains(text()?),
        "begins_with" => OperatorSpec::BeginsWith(text()?),
        "ends_with" => OperatorSpec::EndsWith(text()?),
        "within" => OperatorSpec::Within(text()?),
        "eq" => OperatorSpec::Eq(number()?),
        "gt" => OperatorSpec::Gt(number()?),
        "ge" => OperatorSpec::Ge(number()?),
        "lt" => OperatorSpec::Lt(number()?),
        "le" => OperatorSpec::Le(number()?),
        "validate_byte_range" => OperatorSpec::ValidateByteRange(text()?),
        "validate_url_encoding" => flag().map(|()| OperatorSpec::ValidateUrlEncoding)?,
        "validate_utf8_encoding" => flag().map(|()| OperatorSpec::ValidateUtf8Encoding)?,
        "ip_match" => OperatorSpec::IpMatch(list()?),
        "detect_sqli" => flag().map(|()| OperatorSpec::DetectSqli)?,
        "detect_xss" => flag().map(|()| OperatorSpec::DetectXss)?,
        "unconditional" => flag().map(|()| OperatorSpec::Unconditional)?,
        other => {
            return Err(format!(
                "unknown operator `{other}` (known: rx, pm, streq, contains, begins_with, ends_with, within, eq, gt, ge, lt, le, validate_byte_range, validate_url_encoding, validate_utf8_encoding, ip_match, detect_sqli, detect_xss, unconditional)"
            ))
        }
    })
}

/// 1-based lines of each rule's `id:` key, in file order.
fn rule_id_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            let t = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
            // Rules sit in the `rules:` list, indented; the file-level keys do not.
            t.starts_with("id:") && (l.starts_with(' ') || l.starts_with('-'))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// The line of `field:` inside the rule that starts at `start`.
fn field_line(text: &str, start: Option<usize>, end: Option<usize>, field: &str) -> Option<usize> {
    let start = start?;
    let key = format!("{field}:");
    text.lines()
        .enumerate()
        .skip(start - 1)
        .take_while(|(i, _)| end.is_none_or(|e| i + 1 < e))
        .find(|(_, l)| {
            let t = l.trim_start();
            t.strip_prefix("- ")
                .map(str::trim_start)
                .unwrap_or(t)
                .starts_with(&key)
        })
        .map(|(i, _)| i + 1)
}
