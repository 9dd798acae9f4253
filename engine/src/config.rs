//! The policy configuration: one JSON document that works as Envoy's wasm
//! `configuration` and as Istio's `pluginConfig`. Every field is optional;
//! unknown fields and bad values are refused with an error naming the field
//! and the value, so a typo never silently weakens protection.

use std::fmt;

use crate::body::BodyLimits;
use crate::eval::{
    Exclusion, HostPattern, Mode, PolicyConfig, PolicyId, PolicyScope, ScopedPolicy,
};
use crate::request::Request;
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
    #[serde(default)]
    policies: Vec<RawPolicy>,
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

/// One `policies` entry: a scope and what differs from the top level.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Option<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    routes: Vec<String>,
    path_prefix: Option<String>,
    mode: Option<String>,
    paranoia_level: Option<i64>,
    inbound_anomaly_threshold: Option<i64>,
    #[serde(default)]
    disabled_rules: Vec<u32>,
    #[serde(default)]
    disabled_tags: Vec<String>,
    #[serde(default)]
    exclusions: Vec<RawExclusion>,
}

/// Most `policies` entries a configuration may hold (each costs a flag per
/// rule, and requests try them in order).
pub const MAX_POLICIES: usize = 256;

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
    /// The top-level policy: requests no `policies` entry covers.
    pub policy: Policy,
    /// `policies`, each complete (top-level values filled in).
    pub policies: Vec<ScopedPolicy>,
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

impl Settings {
    /// The policy for a request: the first `policies` entry covering it,
    /// else the top level. `route` is the Envoy route name, when known.
    pub fn select_policy(&self, req: &Request, route: Option<&[u8]>) -> PolicyId {
        self.policies
            .iter()
            .position(|s| s.scope.covers(req, route))
            .and_then(|i| u16::try_from(i + 1).ok())
            .map_or(PolicyId::TOP, PolicyId)
    }

    /// The policy an id from [`Settings::select_policy`] names (the top
    /// level for an unknown id).
    pub fn policy_by_id(&self, id: PolicyId) -> &Policy {
        match usize::from(id.0).checked_sub(1) {
            Some(i) => self.policies.get(i).map_or(&self.policy, |s| &s.policy),
            None => &self.policy,
        }
    }

    /// Every policy, the top level first.
    pub fn all_policies(&self) -> impl Iterator<Item = &Policy> {
        std::iter::once(&self.policy).chain(self.policies.iter().map(|s| &s.policy))
    }

    /// Does any policy scope name routes? If not, the route name need not
    /// be read.
    pub fn reads_route(&self) -> bool {
        self.policies.iter().any(|s| !s.scope.routes.is_empty())
    }
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

    let mode = mode("mode", raw.mode.as_deref())?.unwrap_or(Mode::Block);
    let paranoia = paranoia("paranoia_level", raw.paranoia_level)?.unwrap_or(1);
    let inbound_threshold =
        threshold("inbound_anomaly_threshold", raw.inbound_anomaly_threshold)?.unwrap_or(5);
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
        .map(|(i, e)| exclusion(&format!("exclusions[{i}]"), e))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.policies.len() > MAX_POLICIES {
        return Err(bad(
            "policies",
            format!(
                "{} entries; at most {MAX_POLICIES} are allowed",
                raw.policies.len()
            ),
        ));
    }

    let (artifact, field) = match &raw.ruleset_base64 {
        Some(b64) => (
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| bad("ruleset_base64", format!("not valid base64: {e}")))?,
            "ruleset_base64",
        ),
        None => (builtin.to_vec(), "built-in ruleset"),
    };
    let spec = RulesetSpec::from_artifact(&artifact).map_err(|e| bad(field, e.to_string()))?;

    let known: std::collections::HashSet<RuleId> = spec.rules.iter().map(|r| r.id).collect();
    check_rules("disabled_rules", &raw.disabled_rules, &known)?;
    let top = PolicyConfig {
        name: String::new(),
        mode,
        paranoia,
        inbound_threshold,
        disabled_rules: raw.disabled_rules.into_iter().map(RuleId).collect(),
        disabled_tags: raw.disabled_tags,
        exclusions,
    };
    let scoped = raw
        .policies
        .into_iter()
        .enumerate()
        .map(|(i, p)| scoped_policy(i, p, &top, &known))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    // Every policy is known before the engine is built, so its prefilter
    // screens only the rules one of them runs.
    let configs: Vec<&PolicyConfig> = std::iter::once(&top)
        .chain(scoped.iter().map(|(_, config)| config))
        .collect();
    let engine = spec
        .compile_for(&configs)
        .map_err(|e| bad(field, e.to_string()))?;
    let policies = scoped
        .into_iter()
        .map(|(scope, config)| ScopedPolicy {
            scope,
            policy: engine.policy(config),
        })
        .collect();
    let policy = engine.policy(top);
    Ok(Settings {
        engine,
        policy,
        policies,
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

fn mode(field: &str, raw: Option<&str>) -> Result<Option<Mode>, ConfigError> {
    match raw {
        None => Ok(None),
        Some("block") => Ok(Some(Mode::Block)),
        Some("detect") => Ok(Some(Mode::Detect)),
        Some("off") => Ok(Some(Mode::Off)),
        Some(other) => Err(bad(
            field,
            format!("`{other}` is not `block`, `detect` or `off`"),
        )),
    }
}

fn paranoia(field: &str, raw: Option<i64>) -> Result<Option<u8>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(p @ 1..=4) => Ok(Some(p as u8)),
        Some(p) => Err(bad(field, format!("{p} is not in 1..=4"))),
    }
}

fn threshold(field: &str, raw: Option<i64>) -> Result<Option<u32>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(t @ 1..=100_000) => Ok(Some(t as u32)),
        Some(t) => Err(bad(field, format!("{t} is not in 1..=100000"))),
    }
}

fn check_rules(
    field: &str,
    ids: &[u32],
    known: &std::collections::HashSet<RuleId>,
) -> Result<(), ConfigError> {
    match ids.iter().find(|id| !known.contains(&RuleId(**id))) {
        Some(id) => Err(bad(field, format!("rule {id} is not in the ruleset"))),
        None => Ok(()),
    }
}

/// One `policies` entry, validated: its scope, and the top-level policy
/// with the entry's values over it (scalars replace, lists add).
fn scoped_policy(
    index: usize,
    raw: RawPolicy,
    top: &PolicyConfig,
    known: &std::collections::HashSet<RuleId>,
) -> Result<(PolicyScope, PolicyConfig), ConfigError> {
    let at = format!("policies[{index}]");
    let field = |name: &str| format!("{at}.{name}");
    if raw.hosts.is_empty() && raw.routes.is_empty() && raw.path_prefix.is_none() {
        return Err(bad(
            at.as_str(),
            "covers every request: give `hosts`, `routes` or `path_prefix` (the top-level fields are the policy for everything else)",
        ));
    }
    let mut hosts = Vec::with_capacity(raw.hosts.len());
    for (i, h) in raw.hosts.iter().enumerate() {
        hosts.push(host_pattern(h).map_err(|m| bad(field(&format!("hosts[{i}]")), m))?);
    }
    let mut routes = Vec::with_capacity(raw.routes.len());
    for (i, r) in raw.routes.iter().enumerate() {
        if r.is_empty() {
            return Err(bad(
                field(&format!("routes[{i}]")),
                "a route name is not empty",
            ));
        }
        routes.push(r.clone().into_bytes());
    }
    if let Some(p) = &raw.path_prefix {
        if !p.starts_with('/') {
            return Err(bad(
                field("path_prefix"),
                format!("`{p}` must start with `/`"),
            ));
        }
    }
    check_rules(&field("disabled_rules"), &raw.disabled_rules, known)?;
    let mut config = top.clone();
    config.name = raw.name.unwrap_or_else(|| at.clone());
    if let Some(m) = mode(&field("mode"), raw.mode.as_deref())? {
        config.mode = m;
    }
    if let Some(p) = paranoia(&field("paranoia_level"), raw.paranoia_level)? {
        config.paranoia = p;
    }
    if let Some(t) = threshold(
        &field("inbound_anomaly_threshold"),
        raw.inbound_anomaly_threshold,
    )? {
        config.inbound_threshold = t;
    }
    config
        .disabled_rules
        .extend(raw.disabled_rules.into_iter().map(RuleId));
    config.disabled_tags.extend(raw.disabled_tags);
    for (i, e) in raw.exclusions.into_iter().enumerate() {
        config
            .exclusions
            .push(exclusion(&format!("{at}.exclusions[{i}]"), e)?);
    }
    let scope = PolicyScope {
        hosts,
        routes,
        path_prefix: raw.path_prefix.map(String::into_bytes),
    };
    Ok((scope, config))
}

/// `api.example.com` or `*.example.com`, any case, no port.
fn host_pattern(text: &str) -> Result<HostPattern, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (name, wildcard) = match lower.strip_prefix("*.") {
        Some(rest) => (rest, true),
        None => (lower.as_str(), false),
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Err(format!(
            "`{text}` is not a host name like `api.example.com` or `*.example.com` (no port, `*` only as the first label)"
        ));
    }
    Ok(if wildcard {
        HostPattern::Subdomains(format!(".{name}").into_bytes())
    } else {
        HostPattern::Exact(name.as_bytes().to_vec())
    })
}

fn exclusion(at: &str, raw: RawExclusion) -> Result<Exclusion, ConfigError> {
    let field = |name: &str| format!("{at}.{name}");
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
