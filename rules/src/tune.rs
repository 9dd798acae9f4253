//! `palisade tune`: proposes exclusions from Palisade's detection log.
//!
//! The filter logs one `palisade-verdict {json}` line per inspected request
//! (see `filter/src/response.rs`). Matches are grouped by rule id and
//! matched variable; a group seen at least `min_count` times becomes an
//! exclusion, scoped to the longest path prefix (whole segments) its
//! requests share, or global when they share only `/`. Proposals are
//! written as plugin-config `exclusions` (what `palisade_engine::config::load`
//! reads) or as SecLang for CRS deployments.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The marker the filter writes before the verdict JSON.
pub const MARKER: &str = "palisade-verdict ";

/// One matched rule in one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub rule_id: u32,
    /// As the verdict names it: `ARGS:q`, `REQUEST_HEADERS:user-agent`, `REQUEST_URI`.
    pub variable: String,
    /// Request path without the query string.
    pub path: String,
}

/// The verdict JSON object in a log line: after the `palisade-verdict `
/// marker when present, else from the first `{` (Envoy's own prefix, a
/// timestamp, a container runtime's wrapping are skipped). `None` for
/// lines that hold no verdict.
pub fn verdict_json(line: &str) -> Option<Value> {
    let text = match line.split_once(MARKER) {
        Some((_, rest)) => rest,
        None => &line[line.find('{')?..],
    };
    // Trailing text after the object (a log shipper's suffix) is tolerated.
    let mut stream = serde_json::Deserializer::from_str(text.trim()).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) if v.get("rules").is_some_and(Value::is_array) => Some(v),
        _ => None,
    }
}

/// Every rule match in the log text.
pub fn hits(log: &str) -> Vec<Hit> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(v) = verdict_json(line) else {
            continue;
        };
        let path = v.get("path").and_then(Value::as_str).unwrap_or("/");
        let path = path.split(['?', '#']).next().unwrap_or("/").to_string();
        for rule in v
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = rule.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let Ok(rule_id) = u32::try_from(id) else {
                continue;
            };
            out.push(Hit {
                rule_id,
                variable: rule
                    .get("variable")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                path: path.clone(),
            });
        }
    }
    out
}

/// One proposed exclusion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub rule_id: u32,
    /// `None`: everywhere.
    pub path_prefix: Option<String>,
    /// Native target (`args:q`); `None` when the variable has no member
    /// name to exclude, so the whole rule is turned off where it applies.
    pub target: Option<String>,
    /// The variable as logged.
    pub variable: String,
    pub count: usize,
    pub paths: usize,
}

/// Groups hits by (rule, variable) and proposes an exclusion for each group
/// seen at least `min_count` times, most frequent first.
pub fn propose(hits: &[Hit], min_count: usize) -> Vec<Proposal> {
    let mut groups: BTreeMap<(u32, &str), Vec<&str>> = BTreeMap::new();
    for h in hits {
        groups
            .entry((h.rule_id, h.variable.as_str()))
            .or_default()
            .push(h.path.as_str());
    }
    let mut out: Vec<Proposal> = groups
        .into_iter()
        .filter(|(_, paths)| paths.len() >= min_count.max(1))
        .map(|((rule_id, variable), paths)| {
            let prefix = common_path_prefix(&paths);
            let mut distinct = paths.clone();
            distinct.sort_unstable();
            distinct.dedup();
            Proposal {
                rule_id,
                path_prefix: (prefix != "/").then_some(prefix),
                target: native_target(variable),
                variable: variable.to_string(),
                count: paths.len(),
                paths: distinct.len(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.rule_id.cmp(&b.rule_id))
            .then(a.variable.cmp(&b.variable))
    });
    out
}

/// The longest prefix of whole path segments all paths share: `/api/users/1`
/// and `/api/users/2` give `/api/users/`; one distinct path gives itself.
fn common_path_prefix(paths: &[&str]) -> String {
    let Some(first) = paths.first() else {
        return "/".to_string();
    };
    if paths.iter().all(|p| p == first) {
        return (*first).to_string();
    }
    let mut len = first.len();
    for p in paths {
        len = len.min(
            first
                .bytes()
                .zip(p.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let shared = &first[..len];
    match shared.rfind('/') {
        Some(i) => shared[..=i].to_string(),
        None => "/".to_string(),
    }
}

/// `ARGS:q` → `args:q`. `None` for variables without a member name, counts,
/// and names the target syntax would misread (starting with `/` or `!`).
fn native_target(variable: &str) -> Option<String> {
    let (collection, name) = variable.split_once(':')?;
    if collection.starts_with('&') || name.is_empty() || name.starts_with(['/', '!']) {
        return None;
    }
    let c = palisade_engine::variable::Collection::from_name(collection)?;
    c.is_keyed()
        .then(|| format!("{}:{name}", collection.to_ascii_lowercase()))
}

/// Proposals as the plugin configuration's `exclusions` list (JSON value;
/// the CLI prints it as YAML or JSON).
pub fn exclusions_json(proposals: &[Proposal]) -> Value {
    Value::Array(
        proposals
            .iter()
            .map(|p| {
                let mut e = serde_json::Map::new();
                if let Some(prefix) = &p.path_prefix {
                    e.insert("path_prefix".to_string(), json!(prefix));
                }
                e.insert("rule_ids".to_string(), json!([p.rule_id]));
                if let Some(t) = &p.target {
                    e.insert("targets".to_string(), json!([t]));
                }
                Value::Object(e)
            })
            .collect(),
    )
}

fn describe(p: &Proposal) -> String {
    format!(
        "rule {} matched {} {} time(s) on {} path(s){}",
        p.rule_id,
        if p.variable.is_empty() {
            "(no variable)"
        } else {
            &p.variable
        },
        p.count,
        p.paths,
        if p.target.is_none() {
            "; no member to exclude, so the rule is turned off there"
        } else {
            ""
        }
    )
}

/// YAML to paste under the plugin configuration, one comment per entry
/// with its counts.
pub fn to_yaml(proposals: &[Proposal]) -> String {
    let mut out = String::from("exclusions:\n");
    if proposals.is_empty() {
        return "exclusions: []\n".to_string();
    }
    for p in proposals {
        out.push_str(&format!("  # {}\n", describe(p)));
        let mut first = true;
        let mut field = |text: String| {
            out.push_str(if first { "  - " } else { "    " });
            out.push_str(&text);
            out.push('\n');
            first = false;
        };
        if let Some(prefix) = &p.path_prefix {
            field(format!("path_prefix: {}", yaml_string(prefix)));
        }
        field(format!("rule_ids: [{}]", p.rule_id));
        if let Some(t) = &p.target {
            field(format!("targets: [{}]", yaml_string(t)));
        }
    }
    out
}

/// A double-quoted YAML scalar (JSON string syntax is valid YAML).
fn yaml_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// SecLang: `SecRuleUpdateTargetById` / `SecRuleRemoveById` for global
/// proposals, a `ctl` rule per path-scoped one with ids from `first_id`.
pub fn to_seclang(proposals: &[Proposal], first_id: u32) -> String {
    let mut out = String::new();
    let mut id = first_id;
    for p in proposals {
        out.push_str(&format!("# {}\n", describe(p)));
        let target = p.target.as_ref().map(|t| seclang_target(t));
        match (&p.path_prefix, &target) {
            (None, Some(t)) => {
                out.push_str(&format!("SecRuleUpdateTargetById {} \"!{t}\"\n", p.rule_id));
            }
            (None, None) => out.push_str(&format!("SecRuleRemoveById {}\n", p.rule_id)),
            (Some(prefix), t) => {
                let ctl = match t {
                    Some(t) => format!("ctl:ruleRemoveTargetById={};{t}", p.rule_id),
                    None => format!("ctl:ruleRemoveById={}", p.rule_id),
                };
                out.push_str(&format!(
                    "SecRule REQUEST_FILENAME \"@beginsWith {}\" \"id:{id},phase:1,pass,nolog,{ctl}\"\n",
                    prefix.replace('"', "\\\"")
                ));
                id = id.saturating_add(1);
            }
        }
    }
    out
}

/// `args:q` → `ARGS:q`.
fn seclang_target(native: &str) -> String {
    match native.split_once(':') {
        Some((c, n)) => format!("{}:{n}", c.to_ascii_uppercase()),
        None => native.to_ascii_uppercase(),
    }
}
