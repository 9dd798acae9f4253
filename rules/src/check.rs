//! `palisade check`: lints for rule sets that compile but do not do what
//! their author meant: a duplicate id, a rule nothing can reach, a regex
//! whose automaton is huge, a target that never holds data, a transform
//! chain that undoes or repeats itself, a native rule without tests.
//!
//! Every [`Finding`] carries a stable lint code ([`LINTS`]) so CI can
//! filter on it, and renders as human text, JSON or SARIF 2.1.0 (what
//! GitHub code scanning ingests).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use palisade_engine::operator::{rx, OperatorSpec};
use palisade_engine::rule::Phase;
use palisade_engine::ruleset::RuleSpec;
use palisade_engine::transform::Transform;
use palisade_engine::variable::{Collection, TargetItem};
use regex_automata::{dfa, nfa::thompson};
use serde_json::{json, Value};

use crate::seclang::{self, Directive};
use crate::{collect_rule_files, native};

/// How bad a finding is. Any [`Level::Error`] makes `palisade check` fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    /// The name used in every output format (SARIF's `level` values).
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// A lint: its code, short name and what it detects.
pub struct Lint {
    pub code: &'static str,
    pub name: &'static str,
    pub description: &'static str,
}

/// Every lint `palisade check` runs, in code order.
pub const LINTS: &[Lint] = &[
    Lint {
        code: "P000",
        name: "compile-error",
        description: "The file does not parse or compile; nothing else in it was checked.",
    },
    Lint {
        code: "P001",
        name: "duplicate-id",
        description: "Two rules share an id; exclusions and logs cannot tell them apart.",
    },
    Lint {
        code: "P002",
        name: "unreachable-rule",
        description: "The rule never runs: tagged above paranoia level 4, always skipped by an unconditional skipAfter before it, or removed by SecRuleRemoveById/ByTag/ByMsg.",
    },
    Lint {
        code: "P003",
        name: "large-automaton",
        description: "The regex compiles to an NFA or DFA above the configured size (--max-nfa-states, --max-dfa-bytes): slow to load and to search.",
    },
    Lint {
        code: "P004",
        name: "target-never-exists",
        description: "A target never holds data where the rule runs: a response variable in a request phase, a request header Envoy never passes to filters, an unknown or unsupported variable.",
    },
    Lint {
        code: "P005",
        name: "transform-chain",
        description: "The transform chain repeats or undoes itself (lowercase twice, hexEncode then hexDecode, anything after length, anything but hexEncode after sha1), or a t:none discards transforms listed before it.",
    },
    Lint {
        code: "P006",
        name: "missing-tests",
        description: "A native rule has no inline match / no_match tests.",
    },
    Lint {
        code: "P007",
        name: "removal-matches-nothing",
        description: "SecRuleRemoveById names ids no rule defined before it has; it removes nothing.",
    },
    Lint {
        code: "P008",
        name: "unsupported-seclang",
        description: "A SecLang directive, variable, operator or action Palisade does not support was left out.",
    },
];

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// `P001`, see [`LINTS`].
    pub code: &'static str,
    pub level: Level,
    pub rule_id: Option<u32>,
    pub file: Option<PathBuf>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{}[{}]", self.level.name(), self.code)?;
        if let Some(id) = self.rule_id {
            write!(f, " rule {id}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Sizes above which a regex is reported (P003). Both are configuration
/// (`--max-nfa-states`, `--max-dfa-bytes`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// States of the Thompson NFA (byte mode, as the engine compiles it).
    /// Default 10 000: CRS 4's largest regex has 6 268, its 99th percentile 4 471.
    pub max_nfa_states: usize,
    /// Bytes of a fully built unanchored dense DFA; building stops at this
    /// size, so the check itself stays bounded. Off by default: the engine
    /// searches with a lazy DFA that only builds the states a value visits,
    /// and 41 of CRS 4's 318 regexes exceed 2 MiB when fully built (building
    /// them also takes most of a minute).
    pub max_dfa_bytes: Option<usize>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_nfa_states: 10_000,
            max_dfa_bytes: None,
        }
    }
}

/// Request headers no HTTP filter ever sees: Envoy's connection manager
/// removes them before the filter chain runs
/// (`ConnectionManagerUtility::mutateRequestHeaders`).
pub const STRIPPED_HEADERS: &[&str] = &["keep-alive", "proxy-connection", "transfer-encoding"];

/// Request headers the connection manager removes except on HTTP/1.1
/// `Upgrade` (WebSocket) requests.
pub const UPGRADE_ONLY_HEADERS: &[&str] = &["connection", "upgrade"];

/// A rule with where it came from.
struct Located<'a> {
    spec: &'a RuleSpec,
    file: Option<PathBuf>,
    line: Option<usize>,
}

/// Lints native rule files (or directories of them) and SecLang files
/// (parsed and compiled in the order given, like `palisade compile`).
/// Findings are sorted by file, line and code.
pub fn check(native_paths: &[PathBuf], seclang_paths: &[PathBuf], limits: Limits) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut native_files = Vec::new();
    match collect_rule_files(native_paths) {
        Ok(files) => {
            for file in files {
                match std::fs::read_to_string(&file) {
                    Ok(text) => match native::compile_file(&file, &text) {
                        Ok(c) => native_files.push(c),
                        Err(es) => out.extend(
                            es.into_iter()
                                .map(|e| compile_error(e.file, e.line, e.message)),
                        ),
                    },
                    Err(e) => out.push(compile_error(file, None, e.to_string())),
                }
            }
        }
        Err(e) => out.push(compile_error(e.file, e.line, e.message)),
    }
    let mut rules: Vec<Located<'_>> = Vec::new();
    for file in &native_files {
        for (i, spec) in file.rules.iter().enumerate() {
            let line = file.lines.get(i).copied();
            rules.push(Located {
                spec,
                file: Some(file.path.clone()),
                line,
            });
            let tested = file
                .tests
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|t| !t.matches.is_empty() || !t.no_match.is_empty());
            if !tested {
                out.push(finding(
                    "P006",
                    Level::Warning,
                    spec.id.0,
                    Some(&file.path),
                    line,
                    "no inline `tests:`; add `match` and `no_match` requests".to_string(),
                ));
            }
        }
    }
    let seclang_spec = if seclang_paths.is_empty() {
        None
    } else {
        check_seclang(seclang_paths, &mut out)
    };
    if let Some((spec, locations)) = &seclang_spec {
        for r in &spec.rules {
            let loc = locations.get(&r.id.0);
            rules.push(Located {
                spec: r,
                file: loc.map(|l| l.file.clone()),
                line: loc.map(|l| l.line),
            });
        }
        unreachable_by_skip(spec, locations, &mut out);
    }
    duplicates(&rules, &mut out);
    for rule in &rules {
        rule_lints(rule, limits, &mut out);
    }
    out.sort_by(|a, b| {
        (&a.file, a.line, a.code, a.rule_id).cmp(&(&b.file, b.line, b.code, b.rule_id))
    });
    out
}

fn finding(
    code: &'static str,
    level: Level,
    rule_id: u32,
    file: Option<&Path>,
    line: Option<usize>,
    message: String,
) -> Finding {
    Finding {
        code,
        level,
        rule_id: Some(rule_id),
        file: file.map(Path::to_path_buf),
        line,
        message,
    }
}

fn compile_error(file: PathBuf, line: Option<usize>, message: String) -> Finding {
    Finding {
        code: "P000",
        level: Level::Error,
        rule_id: None,
        file: Some(file),
        line,
        message,
    }
}

/// Parses and compiles SecLang leniently, reporting what was dropped,
/// removed rules and removals that match nothing. Returns the compiled
/// spec and where each rule id was defined.
fn check_seclang(
    paths: &[PathBuf],
    out: &mut Vec<Finding>,
) -> Option<(
    palisade_engine::RulesetSpec,
    HashMap<u32, seclang::Location>,
)> {
    let directives = match seclang::parse_files(paths) {
        Ok(d) => d,
        Err(e) => {
            out.push(compile_error(
                e.location.file,
                line_of(e.location.line),
                e.message,
            ));
            return None;
        }
    };
    let (spec, report) = match seclang::compile::compile(&directives, "check", true) {
        Ok(r) => r,
        Err(es) => {
            out.extend(es.into_iter().map(|d| {
                let mut f = compile_error(d.location.file, line_of(d.location.line), d.message);
                // The compiler stops at a duplicate id; keep the lint's code.
                if f.message.contains("is already defined at") {
                    f.code = "P001";
                }
                f
            }));
            return None;
        }
    };
    // Rules left out for an unsupported feature are reported as such, not as removed.
    let dropped: std::collections::HashSet<(PathBuf, usize)> = report
        .warnings
        .iter()
        .map(|w| (w.location.file.clone(), w.location.line))
        .collect();
    for w in report.warnings {
        let level_code = if w.message.contains("variable") {
            ("P004", "target left out: ")
        } else {
            ("P008", "")
        };
        out.push(Finding {
            code: level_code.0,
            level: Level::Warning,
            rule_id: None,
            file: Some(w.location.file),
            line: line_of(w.location.line),
            message: format!("{}{}", level_code.1, w.message),
        });
    }
    let mut locations: HashMap<u32, seclang::Location> = HashMap::new();
    let mut defined: Vec<u32> = Vec::new();
    for d in &directives {
        match d {
            Directive::Rule(r) => {
                if let Some(id) = r.id().and_then(|s| s.trim().parse::<u32>().ok()) {
                    locations.entry(id).or_insert_with(|| r.location.clone());
                    defined.push(id);
                }
                none_not_first(r, out);
            }
            Directive::Other {
                location,
                name,
                args,
            } if name.eq_ignore_ascii_case("SecRuleRemoveById") => {
                for arg in args {
                    for part in arg.split([',', ' ']).filter(|p| !p.is_empty()) {
                        let Some((lo, hi)) = id_range(part) else {
                            continue;
                        };
                        if !defined.iter().any(|id| (lo..=hi).contains(id)) {
                            out.push(Finding {
                                code: "P007",
                                level: Level::Warning,
                                rule_id: (lo == hi).then_some(lo),
                                file: Some(location.file.clone()),
                                line: line_of(location.line),
                                message: format!(
                                    "SecRuleRemoveById {part}: no rule with that id is defined before this line, so nothing is removed (put it after the rules it removes)"
                                ),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let kept: std::collections::HashSet<u32> = spec.rules.iter().map(|r| r.id.0).collect();
    for id in defined.iter().filter(|id| !kept.contains(id)) {
        let loc = locations.get(id);
        if loc.is_some_and(|l| dropped.contains(&(l.file.clone(), l.line))) {
            continue;
        }
        out.push(finding(
            "P002",
            Level::Note,
            *id,
            loc.map(|l| l.file.as_path()),
            loc.and_then(|l| line_of(l.line)),
            "removed by a SecRuleRemoveById / ByTag / ByMsg directive; it never runs".to_string(),
        ));
    }
    Some((spec, locations))
}

fn line_of(line: usize) -> Option<usize> {
    (line > 0).then_some(line)
}

/// `942100` or `942100-942199`.
fn id_range(text: &str) -> Option<(u32, u32)> {
    match text.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let id = text.trim().parse().ok()?;
            Some((id, id))
        }
    }
}

/// `t:lowercase,t:none`: the `none` discards what came before it.
fn none_not_first(rule: &seclang::SecRule, out: &mut Vec<Finding>) {
    let mut link = Some(rule);
    while let Some(r) = link {
        let mut seen_transform = false;
        for a in &r.actions {
            if !a.name.eq_ignore_ascii_case("t") {
                continue;
            }
            let none = a
                .value
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("none"));
            if none && seen_transform {
                out.push(Finding {
                    code: "P005",
                    level: Level::Warning,
                    rule_id: rule.id().and_then(|s| s.trim().parse().ok()),
                    file: Some(r.location.file.clone()),
                    line: line_of(r.location.line),
                    message: "`t:none` after other transforms discards them; put `t:none` first"
                        .to_string(),
                });
            }
            seen_transform |= !none;
        }
        link = r.chained.as_deref();
    }
}

/// Rules between an unconditional `skipAfter` rule and its marker, in the
/// same phase, never run.
fn unreachable_by_skip(
    spec: &palisade_engine::RulesetSpec,
    locations: &HashMap<u32, seclang::Location>,
    out: &mut Vec<Finding>,
) {
    for (i, skipper) in spec.rules.iter().enumerate() {
        let Some(marker) = &skipper.skip_after else {
            continue;
        };
        let always = matches!(skipper.operator, OperatorSpec::Unconditional)
            && !skipper.negate
            && skipper.chained.is_empty()
            && skipper.paranoia == 1;
        if !always {
            continue;
        }
        let Some(m) = spec.markers.iter().find(|m| m.name == *marker) else {
            continue;
        };
        let end = usize::try_from(m.position)
            .unwrap_or(usize::MAX)
            .min(spec.rules.len());
        for skipped in spec.rules.get(i + 1..end).unwrap_or_default() {
            if skipped.phase != skipper.phase {
                continue;
            }
            let loc = locations.get(&skipped.id.0);
            out.push(finding(
                "P002",
                Level::Warning,
                skipped.id.0,
                loc.map(|l| l.file.as_path()),
                loc.and_then(|l| line_of(l.line)),
                format!(
                    "never runs: rule {} before it always skips to marker `{marker}`",
                    skipper.id
                ),
            ));
        }
    }
}

fn duplicates(rules: &[Located<'_>], out: &mut Vec<Finding>) {
    let mut first: HashMap<u32, &Located<'_>> = HashMap::new();
    for rule in rules {
        let id = rule.spec.id.0;
        match first.get(&id) {
            Some(earlier) => {
                let at = match (&earlier.file, earlier.line) {
                    (Some(f), Some(l)) => format!("{}:{l}", f.display()),
                    (Some(f), None) => f.display().to_string(),
                    _ => "an earlier rule".to_string(),
                };
                out.push(finding(
                    "P001",
                    Level::Error,
                    id,
                    rule.file.as_deref(),
                    rule.line,
                    format!("id {id} is already used at {at}"),
                ));
            }
            None => {
                first.insert(id, rule);
            }
        }
    }
}

/// The lints that look at one rule: paranoia, regex size, targets, transforms.
fn rule_lints(rule: &Located<'_>, limits: Limits, out: &mut Vec<Finding>) {
    let spec = rule.spec;
    let mut push = |code: &'static str, level: Level, message: String| {
        out.push(finding(
            code,
            level,
            spec.id.0,
            rule.file.as_deref(),
            rule.line,
            message,
        ));
    };
    if let Some(level) = spec
        .tags
        .iter()
        .find_map(|t| t.strip_prefix("paranoia-level/"))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 4)
    {
        push(
            "P002",
            Level::Warning,
            format!("tagged paranoia-level/{level}, above the highest policy level (4): meant never to run, yet Palisade runs it at level 1"),
        );
    }
    let conditions = std::iter::once((&spec.targets, &spec.transforms, &spec.operator)).chain(
        spec.chained
            .iter()
            .map(|c| (&c.targets, &c.transforms, &c.operator)),
    );
    for (targets, transforms, operator) in conditions {
        if let OperatorSpec::Rx(pattern) = operator {
            if let Some(message) = automaton_size(pattern, limits) {
                push("P003", Level::Warning, message);
            }
        }
        for target in targets {
            if let Some((level, message)) = target_problem(target, spec.phase) {
                push("P004", level, message);
            }
        }
        for message in transform_problems(transforms) {
            push("P005", Level::Warning, message);
        }
    }
}

/// Why the regex is too large, if it is.
fn automaton_size(pattern: &str, limits: Limits) -> Option<String> {
    let text = rx::byte_mode_pattern(pattern);
    let nfa = thompson::Compiler::new()
        .syntax(rx::syntax_config())
        .configure(thompson::Config::new().utf8(false))
        .build(&text)
        .ok()?;
    let states = nfa.states().len();
    if states > limits.max_nfa_states {
        return Some(format!(
            "regex compiles to an NFA of {states} states (limit {}); split it or use `pm` for word lists",
            limits.max_nfa_states
        ));
    }
    let max_dfa_bytes = limits.max_dfa_bytes?;
    let built = dfa::dense::Builder::new()
        .syntax(rx::syntax_config())
        .thompson(thompson::Config::new().utf8(false))
        .configure(
            dfa::dense::Config::new()
                .start_kind(dfa::StartKind::Unanchored)
                .dfa_size_limit(Some(max_dfa_bytes))
                .determinize_size_limit(Some(max_dfa_bytes)),
        )
        .build(&text);
    match built {
        Ok(_) => None,
        Err(e) => Some(format!(
            "regex does not fit a dense DFA of {max_dfa_bytes} bytes ({e}); searches that visit many states will refill the lazy DFA's cache"
        )),
    }
}

fn is_response(c: Collection) -> bool {
    matches!(
        c,
        Collection::ResponseStatus
            | Collection::ResponseProtocol
            | Collection::ResponseHeaders
            | Collection::ResponseHeadersNames
            | Collection::ResponseBody
            | Collection::ResponseContentType
    )
}

/// A target that never holds data in `phase`.
fn target_problem(text: &str, phase: Phase) -> Option<(Level, String)> {
    let collection = match TargetItem::parse(text) {
        Ok(TargetItem::Include(t)) => t.collection,
        Ok(TargetItem::Exclude(..)) => return None,
        Err(e) => return Some((Level::Error, format!("target `{text}`: {e}"))),
    };
    if is_response(collection) && matches!(phase, Phase::Headers | Phase::Body) {
        return Some((
            Level::Error,
            format!(
                "target `{text}` is a response variable, empty in the request phase `{}` (phase {})",
                match phase {
                    Phase::Headers => "headers",
                    _ => "body",
                },
                phase.number()
            ),
        ));
    }
    if matches!(
        collection,
        Collection::RequestHeaders | Collection::RequestHeadersNames
    ) {
        let selector = text.trim().trim_start_matches('&').split_once(':')?.1;
        let name = selector.to_ascii_lowercase();
        if name.starts_with(':') {
            return Some((
                Level::Warning,
                format!("target `{text}`: the filter passes no pseudo-headers except `:authority`, as `host`"),
            ));
        }
        if STRIPPED_HEADERS.contains(&name.as_str()) {
            return Some((
                Level::Warning,
                format!("target `{text}`: Envoy's connection manager removes `{name}` before any filter runs"),
            ));
        }
        if UPGRADE_ONLY_HEADERS.contains(&name.as_str()) {
            return Some((
                Level::Note,
                format!("target `{text}`: Envoy removes `{name}` before filters run except on HTTP/1.1 Upgrade (WebSocket) requests"),
            ));
        }
    }
    None
}

/// Transforms that give the same result applied twice.
const IDEMPOTENT: &[Transform] = &[
    Transform::Lowercase,
    Transform::RemoveNulls,
    Transform::RemoveWhitespace,
    Transform::CompressWhitespace,
    Transform::Trim,
    Transform::NormalizePath,
    Transform::NormalizePathWin,
];

/// What is redundant or self-undoing in a chain; see [`LINTS`] (P005) and
/// the README for the list.
pub fn transform_problems(chain: &[Transform]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, pair) in chain.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        let (an, bn) = (a.name(), b.name());
        let message = if a == b && IDEMPOTENT.contains(&a) {
            format!("`{an}` twice in a row: the second does nothing")
        } else if a == Transform::Length || (a == Transform::Sha1 && b != Transform::HexEncode) {
            format!("`{bn}` after `{an}` works on the {an} result, not the value")
        } else if a == Transform::HexEncode && b == Transform::HexDecode {
            "`hexEncode` then `hexDecode` gives back the value: drop both".to_string()
        } else if a == Transform::RemoveWhitespace
            && matches!(b, Transform::CompressWhitespace | Transform::Trim)
        {
            format!("`{bn}` after `removeWhitespace` does nothing: no whitespace is left")
        } else if a == Transform::CompressWhitespace && b == Transform::RemoveWhitespace {
            "`compressWhitespace` before `removeWhitespace` does nothing: drop it".to_string()
        } else if a == Transform::CmdLine && b == Transform::Lowercase {
            "`lowercase` after `cmdLine` does nothing: cmdLine lowercases".to_string()
        } else {
            continue;
        };
        out.push(format!("transforms[{}]: {message}", i + 1));
    }
    out
}

/// Findings as a JSON array of `{code, level, rule_id, file, line, message}`.
pub fn to_json(findings: &[Finding]) -> Value {
    Value::Array(
        findings
            .iter()
            .map(|f| {
                json!({
                    "code": f.code,
                    "level": f.level.name(),
                    "rule_id": f.rule_id,
                    "file": f.file.as_ref().map(|p| p.display().to_string()),
                    "line": f.line,
                    "message": f.message,
                })
            })
            .collect(),
    )
}

/// Findings as a SARIF 2.1.0 log with one run, for GitHub code scanning.
/// File paths are written as given (relative paths resolve against the
/// repository root when `palisade check` runs there).
pub fn to_sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = LINTS
        .iter()
        .map(|l| {
            json!({
                "id": l.code,
                "name": l.name,
                "shortDescription": {"text": l.description},
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let text = match f.rule_id {
                Some(id) => format!("rule {id}: {}", f.message),
                None => f.message.clone(),
            };
            let mut result = json!({
                "ruleId": f.code,
                "ruleIndex": LINTS.iter().position(|l| l.code == f.code),
                "level": f.level.name(),
                "message": {"text": text},
            });
            if let (Some(file), Some(obj)) = (&f.file, result.as_object_mut()) {
                let mut physical = json!({
                    "artifactLocation": {"uri": file.display().to_string().replace('\\', "/")},
                });
                if let (Some(line), Some(p)) = (f.line, physical.as_object_mut()) {
                    p.insert("region".to_string(), json!({"startLine": line}));
                }
                obj.insert(
                    "locations".to_string(),
                    json!([{"physicalLocation": physical}]),
                );
            }
            result
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "palisade",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
