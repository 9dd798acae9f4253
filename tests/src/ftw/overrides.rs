//! go-ftw overrides files (`test_overrides:`), as CRS keeps per engine
//! (coraza-overrides.yaml). An entry selects tests by `rule_id` (a number or
//! a regex over the id) and `test_ids` (a list) or `test_id` (a number or a
//! regex), and either replaces the expected `output`, marks the test
//! `expect_failure`, or — with neither — skips it. Every entry must say why
//! (`reason`): an override without one hides a regression silently.

use std::fs;
use std::path::Path;

use regex_automata::meta::Regex;
use serde::Deserialize;

use super::format::Output;

#[derive(Debug, Deserialize)]
struct RawFile {
    #[serde(default)]
    test_overrides: Vec<RawOverride>,
}

#[derive(Debug, Deserialize)]
struct RawOverride {
    rule_id: Option<serde_yaml_ng::Value>,
    test_id: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    test_ids: Vec<u32>,
    reason: Option<String>,
    #[serde(default)]
    expect_failure: bool,
    output: Option<Output>,
}

/// What an override does to the tests it selects.
#[derive(Clone, Debug)]
pub enum Action {
    /// Run with this output instead of the file's (every stage).
    Output(Box<Output>),
    /// Run; a failure is expected and not counted, a pass is reported.
    ExpectFailure,
    /// Do not run.
    Skip,
}

#[derive(Debug)]
pub struct Override {
    rule: Option<Regex>,
    test: Option<Regex>,
    test_ids: Vec<u32>,
    pub reason: String,
    pub action: Action,
}

impl Override {
    pub fn applies(&self, rule_id: u32, test_id: u32) -> bool {
        let rule_ok = self
            .rule
            .as_ref()
            .is_none_or(|r| r.is_match(&rule_id.to_string()));
        let test_ok = self.test_ids.contains(&test_id)
            || (self.test_ids.is_empty()
                && self
                    .test
                    .as_ref()
                    .is_none_or(|r| r.is_match(&test_id.to_string())));
        rule_ok && test_ok
    }
}

/// The overrides of one file, first match wins.
#[derive(Debug, Default)]
pub struct Overrides(pub Vec<Override>);

impl Overrides {
    pub fn load(path: &Path) -> Result<Overrides, String> {
        let text =
            fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Overrides, String> {
        let raw: RawFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        raw.test_overrides
            .into_iter()
            .enumerate()
            .map(|(i, o)| convert(o).map_err(|e| format!("test_overrides[{i}]: {e}")))
            .collect::<Result<_, _>>()
            .map(Overrides)
    }

    pub fn find(&self, rule_id: u32, test_id: u32) -> Option<&Override> {
        self.0.iter().find(|o| o.applies(rule_id, test_id))
    }
}

fn convert(raw: RawOverride) -> Result<Override, String> {
    let reason = raw
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or("`reason` is required")?;
    let action = match (raw.output, raw.expect_failure) {
        (Some(_), true) => return Err("`output` and `expect_failure` exclude each other".into()),
        (Some(o), false) => Action::Output(Box::new(o)),
        (None, true) => Action::ExpectFailure,
        (None, false) => Action::Skip,
    };
    Ok(Override {
        rule: raw
            .rule_id
            .as_ref()
            .map(|v| anchored(v, "rule_id"))
            .transpose()?,
        test: raw
            .test_id
            .as_ref()
            .map(|v| anchored(v, "test_id"))
            .transpose()?,
        test_ids: raw.test_ids,
        reason,
        action,
    })
}

/// A number matches itself; a string is a regex over the whole id.
fn anchored(v: &serde_yaml_ng::Value, field: &str) -> Result<Regex, String> {
    let pattern = match v {
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => {
            return Err(format!(
                "`{field}`: {other:?} is neither a number nor a regex"
            ))
        }
    };
    super::regex(&format!("^(?:{pattern})$")).map_err(|e| format!("`{field}`: {e}"))
}
