//! The policy configuration: one JSON document that works as Envoy's wasm
//! `configuration` and as Istio's `pluginConfig`. Every field is optional;
//! unknown fields and bad values are refused with an error naming the field
//! and the value, so a typo never silently weakens protection.

use std::fmt;

use crate::body::BodyLimits;
use crate::eval::{Exclusion, Mode, PolicyConfig};
use crate::rule::RuleId;
use crate::variable::TargetItem;
use crate::{Engine, Policy, RulesetSpec};
use base64::Engine as _;
use serde::Deserialize;

/// Largest body the filter will buffer. Envoy's own buffer limit must be set
/// above the configured limit (see envoy-config/), or Envoy answers 413 first.
pub const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024;

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    mode: Option<String>,
    paranoia_level: Option<i64>,
    inbound_anomaly_threshold: Option<i64>,
    #[serde(default)]
    disabled_rules: Vec<u32>,
    #[serde(default)]
    disabled_tags: Vec<String>,
    #[serde(default)]
    exclusions: Vec<RawExclusion>,
    request_body: Option<RawBody>,
    response_body: Option<RawResponseBody>,
    ruleset_base64: Option<String>,
    log: Option<String>,
    block_status: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    path_prefix: Option<String>,
    host: Option<String>,
    #[serde(default)]
    rule_ids: Vec<u32>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawBody {
    inspect: Option<bool>,
    limit_bytes: Option<u64>,
    over_limit: Option<String>,
    max_args: Option<usize>,
    max_depth: Option<usize>,
    max_parts: Option<usize>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawResponseBody {
    inspect: Option<bool>,
    limit_bytes: Option<u64>,
    mime_types: Option<Vec<String>>,
}

/// Response body handling (response-phase rules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseBodySettings {
    pub inspect: bool,
    /// Bytes buffered and inspected; the rest of a longer body streams
    /// through uninspected.
    pub limit_bytes: usize,
    /// Media types (lowercase, no parameters) whose bodies are inspected.
    pub mime_types: Vec<String>,
}

impl ResponseBodySettings {
    /// Is a response with this `Content-Type` value to be inspected? The
    /// media type (before any `;`) is compared case-insensitively.
    pub fn inspects_type(&self, content_type: &[u8]) -> bool {
        let media = content_type
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        self.mime_types
            .iter()
            .any(|m| m.as_bytes().eq_ignore_ascii_case(media))
    }
}

/// Default `response_body.mime_types`.
pub const DEFAULT_RESPONSE_MIME_TYPES: [&str; 4] =
    ["text/plain", "text/html", "text/xml", "application/json"];

/// What to do with a body larger than the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverLimit {
    /// Answer 413 without inspecting.
    Block,
    /// Inspect the first `limit_bytes` and let the rest through.
    InspectPartial,
}

/// Which requests get a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Off,
    /// Blocked and detected requests (default).
    Blocked,
    /// Any request a rule matched, even below the threshold.
    Matched,
    /// Every request, also when no rule matched (regression runners
    /// correlate each request with its verdict).
    All,
}

/// Request body handling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodySettings {
    pub inspect: bool,
    pub limit_bytes: usize,
    pub over_limit: OverLimit,
    pub limits: BodyLimits,
}

/// A validated configuration with its compiled ruleset.
#[derive(Debug)]
pub struct Settings {
    pub engine: Engine,
    pub policy: Policy,
    pub body: BodySettings,
    pub response_body: ResponseBodySettings,
    pub log: LogLevel,
    pub block_status: u32,
}

/// A configuration error: the field and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "field `{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

fn bad(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses and validates a configuration, loading `builtin` unless the
/// configuration carries its own ruleset. Empty input means all defaults.
///
/// # Errors
/// A [`ConfigError`] naming the first bad field and value, or the ruleset error.
pub fn load(json: &[u8], builtin: &[u8]) -> Result<Settings, ConfigError> {
    let trimmed = json
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace)
        .collect::<Vec<_>>();
    let raw: RawConfig = if trimmed.is_empty() {
        RawConfig::default()
    } else {
        // serde_path_to_error turns serde's "invalid type: string, expected
        // u64" into an error at `request_body.limit_bytes`, so a wrong type
        // is reported against its field like every other bad value.
        let mut de = serde_json::Deserializer::from_slice(json);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                bad("", format!("not valid configuration JSON: {inner}"))
            } else if field == "." {
                bad("", format!("not a valid configuration: {inner}"))
            } else {
                bad(field, inner.to_string())
            }
        })?
    };

    let mode = match raw.mode.as_deref() {
        None | Some("block") => Mode::Block,
        Some("detect") => Mode::Detect,
        Some(other) => return Err(bad("mode", format!("`{other}` is not `block` or `detect`"))),
    };
    let paranoia = match raw.paranoia_level {
        None => 1,
        Some(p @ 1..=4) => p as u8,
        Some(p) => {
            return Err(bad(
                "paranoia_level",
                format!("{p} is not a paranoia level (1..4)"),
            ))
        }
    };
    let inbound_threshold = match raw.inbound_anomaly_threshold {
        None => 5,
        Some(t @ 1..=100_000) => t as u32,
        Some(t) => {
            return Err(bad(
                "inbound_anomaly_threshold",
                format!("{t} is not in 1..100000"),
            ))
        }
    };
    let block_status = match raw.block_status {
        None => 403,
        Some(s @ 400..=599) => s as u32,
        Some(s) => {
            return Err(bad(
                "block_status",
                format!("{s} is not a 4xx or 5xx status"),
            ))
        }
    };
    let log = match raw.log.as_deref() {
        None | Some("blocked") => LogLevel::Blocked,
        Some("off") => LogLevel::Off,
        Some("matched") => LogLevel::Matched,
        Some("all") => LogLevel::All,
        Some(other) => {
            return Err(bad(
                "log",
                format!("`{other}` is not `off`, `blocked`, `matched` or `all`"),
            ))
        }
    };
    let body = body_settings(raw.request_body.unwrap_or_default())?;
    let response_body = response_body_settings(raw.response_body.unwrap_or_default())?;
    let exclusions = raw
        .exclusions
        .into_iter()
        .enumerate()
        .map(|(i, e)| exclusion(i, e))
        .collect::<Result<Vec<_>, _>>()?;

    let (artifact, field) = match &raw.ruleset_base64 {
        Some(b64) => (
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| bad("ruleset_base64", format!("not valid base64: {e}")))?,
            "ruleset_base64",
        ),
        None => (builtin.to_vec(), "built-in ruleset"),
    };
    let engine = RulesetSpec::from_artifact(&artifact)
        .and_then(|spec| spec.compile())
        .map_err(|e| bad(field, e.to_string()))?;

    let known: std::collections::HashSet<RuleId> = engine.rules().iter().map(|r| r.id).collect();
    if let Some(id) = raw
        .disabled_rules
        .iter()
        .find(|id| !known.contains(&RuleId(**id)))
    {
        return Err(bad(
            "disabled_rules",
            format!("rule {id} is not in the ruleset"),
        ));
    }
    let policy = engine.policy(PolicyConfig {
        mode,
        paranoia,
        inbound_threshold,
        disabled_rules: raw.disabled_rules.into_iter().map(RuleId).collect(),
        disabled_tags: raw.disabled_tags,
        exclusions,
    });
    Ok(Settings {
        engine,
        policy,
        body,
        response_body,
        log,
        block_status,
    })
}

fn response_body_settings(raw: RawResponseBody) -> Result<ResponseBodySettings, ConfigError> {
    let limit = raw.limit_bytes.unwrap_or(512 * 1024);
    if limit == 0 || limit > MAX_BODY_LIMIT {
        return Err(bad(
            "response_body.limit_bytes",
            format!("{limit} is not in 1..{MAX_BODY_LIMIT}"),
        ));
    }
    let mime_types = match raw.mime_types {
        None => DEFAULT_RESPONSE_MIME_TYPES
            .iter()
            .map(|m| (*m).to_string())
            .collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, m) in list.iter().enumerate() {
                let t = m.trim();
                let valid = match t.split_once('/') {
                    Some((ty, sub)) => {
                        let token = |s: &str| {
                            !s.is_empty()
                                && s.bytes().all(|b| {
                                    b.is_ascii_alphanumeric() || b"!#$&-^_.+*".contains(&b)
                                })
                        };
                        token(ty) && token(sub)
                    }
                    None => false,
                };
                if !valid {
                    return Err(bad(
                        format!("response_body.mime_types[{i}]"),
                        format!("`{m}` is not a media type like `text/html` (no parameters)"),
                    ));
                }
                out.push(t.to_ascii_lowercase());
            }
            out
        }
    };
    Ok(ResponseBodySettings {
        inspect: raw.inspect.unwrap_or(true),
        limit_bytes: usize::try_from(limit).unwrap_or(usize::MAX),
        mime_types,
    })
}

fn body_settings(raw: RawBody) -> Result<BodySettings, ConfigError> {
    let defaults = BodyLimits::default();
    let limit = raw.limit_bytes.unwrap_or(128 * 1024);
    if limit == 0 || limit > MAX_BODY_LIMIT {
        return Err(bad(
            "request_body.limit_bytes",
            format!("{limit} is not in 1..{MAX_BODY_LIMIT}"),
        ));
    }
    let over_limit = match raw.over_limit.as_deref() {
        None | Some("block") => OverLimit::Block,
        Some("inspect_partial") => OverLimit::InspectPartial,
        Some(other) => {
            return Err(bad(
                "request_body.over_limit",
                format!("`{other}` is not `block` or `inspect_partial`"),
            ))
        }
    };
    let positive = |field: &str, v: Option<usize>, default: usize| match v {
        None => Ok(default),
        Some(0) => Err(bad(
            format!("request_body.{field}"),
            "0 is not allowed; it must be at least 1",
        )),
        Some(n) => Ok(n),
    };
    Ok(BodySettings {
        inspect: raw.inspect.unwrap_or(true),
        // Bounded by MAX_BODY_LIMIT above, so it fits any usize.
        limit_bytes: usize::try_from(limit).unwrap_or(usize::MAX),
        over_limit,
        limits: BodyLimits {
            max_args: positive("max_args", raw.max_args, defaults.max_args)?,
            max_depth: positive("max_depth", raw.max_depth, defaults.max_depth)?,
            max_parts: positive("max_parts", raw.max_parts, defaults.max_parts)?,
        },
    })
}

fn exclusion(index: usize, raw: RawExclusion) -> Result<Exclusion, ConfigError> {
    let field = |name: &str| format!("exclusions[{index}].{name}");
    if let Some(p) = &raw.path_prefix {
        if !p.starts_with('/') {
            return Err(bad(
                field("path_prefix"),
                format!("`{p}` must start with `/`"),
            ));
        }
    }
    let mut targets = Vec::new();
    for text in &raw.targets {
        match TargetItem::parse(text) {
            Ok(TargetItem::Include(t)) if !t.count => targets.push((t.collection, t.selector)),
            Ok(_) => {
                return Err(bad(
                    field("targets"),
                    format!("`{text}`: write the target to remove, without `!` or `&`"),
                ))
            }
            Err(e) => return Err(bad(field("targets"), format!("`{text}`: {e}"))),
        }
    }
    Ok(Exclusion {
        path_prefix: raw.path_prefix.map(String::into_bytes),
        host: raw.host.map(|h| h.to_ascii_lowercase().into_bytes()),
        rule_ids: raw.rule_ids.into_iter().map(RuleId).collect(),
        id_ranges: Vec::new(),
        tags: raw.tags,
        targets,
    })
}
