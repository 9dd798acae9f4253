//! One harness for every engine case file under `tests/cases/`:
//! `transforms/*.yaml`, `operators/*.yaml`, `bodies/*.yaml`, `requests/*.yaml`,
//! `policies/*.yaml`.
//! Set `CASES_FILTER=substring` to run only cases whose file or name contains it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use palisade_engine::body::{self, BodyLimits, Processor};
use palisade_engine::operator::{Operator, OperatorSpec};
use palisade_engine::request::{Header, Request};
use palisade_engine::transform::Transform;
use serde::Deserialize;

fn bytes(text: &Option<String>, hex: &Option<String>) -> Vec<u8> {
    match (text, hex) {
        (Some(t), None) => t.as_bytes().to_vec(),
        (None, Some(h)) => decode_hex(h),
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => panic!("give either the text or the _hex form, not both"),
    }
}

fn decode_hex(h: &str) -> Vec<u8> {
    let digits: Vec<u8> = h.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16)
                .expect("bad hex in case file")
        })
        .collect()
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

// ---------- transforms ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransformFile {
    transform: String,
    cases: Vec<TransformCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransformCase {
    name: String,
    input: Option<String>,
    input_hex: Option<String>,
    output: Option<String>,
    output_hex: Option<String>,
}

fn run_transforms(path: &Path, text: &str, out: &mut Outcome) {
    let file: TransformFile = parse(path, text);
    let t = Transform::from_name(&file.transform)
        .unwrap_or_else(|| panic!("{}: unknown transform {}", path.display(), file.transform));
    for case in &file.cases {
        if !out.wanted(path, &case.name) {
            continue;
        }
        let input = bytes(&case.input, &case.input_hex);
        let want = bytes(&case.output, &case.output_hex);
        let got = t.apply(&input);
        out.check(path, &case.name, got.as_ref() == want.as_slice(), || {
            format!(
                "input {} → got {}, want {}",
                show(&input),
                show(&got),
                show(&want)
            )
        });
    }
}

// ---------- operators ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorFile {
    #[serde(default)]
    operator: Option<OperatorSpec>,
    #[serde(default)]
    cases: Vec<OperatorCase>,
    #[serde(default)]
    compile_errors: Vec<CompileErrorCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorCase {
    name: String,
    #[serde(default)]
    operator: Option<OperatorSpec>,
    input: Option<String>,
    input_hex: Option<String>,
    #[serde(rename = "match")]
    matches: bool,
    /// Expected matched byte range, when the operator reports one.
    #[serde(default)]
    span: Option<(usize, usize)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompileErrorCase {
    name: String,
    operator: OperatorSpec,
    error_contains: String,
}

fn run_operators(path: &Path, text: &str, out: &mut Outcome) {
    let file: OperatorFile = parse(path, text);
    for case in &file.cases {
        if !out.wanted(path, &case.name) {
            continue;
        }
        let spec = case
            .operator
            .as_ref()
            .or(file.operator.as_ref())
            .expect("case without operator");
        let op = match Operator::compile(spec) {
            Ok(op) => op,
            Err(e) => {
                out.check(path, &case.name, false, || format!("does not compile: {e}"));
                continue;
            }
        };
        let input = bytes(&case.input, &case.input_hex);
        let got = op.evaluate(&input);
        let ok = got.is_some() == case.matches
            && match (case.span, &got) {
                (Some(want), Some(m)) => m.span == Some(want),
                _ => true,
            };
        out.check(path, &case.name, ok, || {
            format!(
                "@{} on {} → {:?}, want match={} span={:?}",
                spec.name(),
                show(&input),
                got,
                case.matches,
                case.span
            )
        });
    }
    for case in &file.compile_errors {
        if !out.wanted(path, &case.name) {
            continue;
        }
        let got = Operator::compile(&case.operator);
        let ok = matches!(&got, Err(e) if e.to_string().contains(&case.error_contains));
        out.check(path, &case.name, ok, || {
            format!(
                "want error containing {:?}, got {:?}",
                case.error_contains,
                got.map(|_| "Ok").map_err(|e| e.to_string())
            )
        });
    }
}

// ---------- bodies ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyFile {
    cases: Vec<BodyCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyCase {
    name: String,
    #[serde(default)]
    content_type: Option<String>,
    body: Option<String>,
    body_hex: Option<String>,
    /// Turn every `\n` of `body` into `\r\n` (multipart is CRLF on the wire).
    #[serde(default)]
    crlf: bool,
    #[serde(default)]
    truncated: bool,
    #[serde(default)]
    limits: Option<LimitsCase>,
    /// Force a processor by name (`ctl:requestBodyProcessor`): the body is
    /// attached through `Request::attach_body_as`, `content_type` becoming
    /// the request's Content-Type header.
    #[serde(default)]
    force_processor: Option<String>,
    expect: BodyExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsCase {
    max_args: Option<usize>,
    max_depth: Option<usize>,
    max_parts: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyExpect {
    processor: Option<String>,
    /// Exact argument list, in order.
    args: Option<Vec<(String, String)>>,
    /// Exact (field name, file name) list, in order.
    files: Option<Vec<(String, String)>>,
    /// Exact set of flags, by variable name.
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    error: bool,
    /// The error message contains this (implies `error: true`).
    error_contains: Option<String>,
    /// Exact list of XML text nodes, in order.
    xml_text: Option<Vec<String>>,
    /// Exact list of XML attribute values, in order.
    xml_attrs: Option<Vec<String>>,
    /// Exact list of (name, value) multipart part headers, in order.
    part_headers: Option<Vec<(String, String)>>,
}

fn run_bodies(path: &Path, text: &str, out: &mut Outcome) {
    let file: BodyFile = parse(path, text);
    for case in &file.cases {
        if !out.wanted(path, &case.name) {
            continue;
        }
        let mut raw = bytes(&case.body, &case.body_hex);
        if case.crlf {
            raw = String::from_utf8_lossy(&raw)
                .replace('\n', "\r\n")
                .into_bytes();
        }
        let mut limits = BodyLimits::default();
        if let Some(l) = &case.limits {
            limits.max_args = l.max_args.unwrap_or(limits.max_args);
            limits.max_depth = l.max_depth.unwrap_or(limits.max_depth);
            limits.max_parts = l.max_parts.unwrap_or(limits.max_parts);
        }
        let got = match &case.force_processor {
            None => body::parse(
                case.content_type.as_deref().map(str::as_bytes),
                raw,
                case.truncated,
                &limits,
                None,
            ),
            Some(name) => {
                let forced = Processor::from_name(name)
                    .unwrap_or_else(|| panic!("{}: unknown processor {name}", path.display()));
                let headers = case
                    .content_type
                    .iter()
                    .map(|ct| Header::new(&b"Content-Type"[..], ct.as_bytes()))
                    .collect();
                let mut req = Request::new(&b"POST"[..], &b"/"[..], &b"HTTP/1.1"[..], headers);
                req.attach_body_as(raw, case.truncated, &limits, Some(forced));
                req.body.expect("attach_body_as attaches a body")
            }
        };
        let lossy = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let mut problems = Vec::new();
        if let Some(p) = &case.expect.processor {
            if got.processor.name() != p {
                problems.push(format!("processor {:?}, want {p:?}", got.processor.name()));
            }
        }
        if let Some(want) = &case.expect.args {
            let have: Vec<(String, String)> = got
                .args
                .iter()
                .map(|a| (lossy(&a.name), lossy(&a.value)))
                .collect();
            if &have != want {
                problems.push(format!("args {have:?}, want {want:?}"));
            }
        }
        if let Some(want) = &case.expect.files {
            let have: Vec<(String, String)> = got
                .files
                .iter()
                .map(|f| (lossy(&f.field_name), lossy(&f.filename)))
                .collect();
            if &have != want {
                problems.push(format!("files {have:?}, want {want:?}"));
            }
        }
        for (what, want, have) in [
            ("xml_text", &case.expect.xml_text, &got.xml_text),
            ("xml_attrs", &case.expect.xml_attrs, &got.xml_attrs),
        ] {
            if let Some(want) = want {
                let have: Vec<String> = have.iter().map(|v| lossy(v)).collect();
                if &have != want {
                    problems.push(format!("{what} {have:?}, want {want:?}"));
                }
            }
        }
        if let Some(want) = &case.expect.error_contains {
            if !got
                .error
                .as_deref()
                .is_some_and(|e| e.contains(want.as_str()))
            {
                problems.push(format!(
                    "error {:?}, want one containing {want:?}",
                    got.error
                ));
            }
        }
        if let Some(want) = &case.expect.part_headers {
            let have: Vec<(String, String)> = got
                .part_headers
                .iter()
                .map(|h| (lossy(h.name_lc()), lossy(&h.value)))
                .collect();
            if &have != want {
                problems.push(format!("part_headers {have:?}, want {want:?}"));
            }
        }
        let mut have_flags: Vec<&str> = got.flags.iter().map(|f| f.variable_name()).collect();
        have_flags.sort_unstable();
        have_flags.dedup();
        let mut want_flags: Vec<&str> = case.expect.flags.iter().map(String::as_str).collect();
        want_flags.sort_unstable();
        if have_flags != want_flags {
            problems.push(format!("flags {have_flags:?}, want {want_flags:?}"));
        }
        let want_error = case.expect.error || case.expect.error_contains.is_some();
        if got.error.is_some() != want_error {
            problems.push(format!("error {:?}, want error={want_error}", got.error));
        }
        out.check(path, &case.name, problems.is_empty(), || {
            problems.join("; ")
        });
    }
}

// ---------- request line, query, cookies ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    cases: Vec<RequestCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestCase {
    name: String,
    #[serde(default = "get")]
    method: String,
    uri: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    expect: RequestExpect,
}

fn get() -> String {
    "GET".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestExpect {
    path_raw: Option<String>,
    path_decoded: Option<String>,
    basename: Option<String>,
    query_string: Option<String>,
    query_args: Option<Vec<(String, String)>>,
    cookies: Option<Vec<(String, String)>>,
    uri_invalid_encoding: Option<bool>,
}

fn run_requests(path: &Path, text: &str, out: &mut Outcome) {
    let file: RequestFile = parse(path, text);
    for case in &file.cases {
        if !out.wanted(path, &case.name) {
            continue;
        }
        let headers = case
            .headers
            .iter()
            .map(|(n, v)| Header::new(n.as_bytes(), v.as_bytes()))
            .collect();
        let req = Request::new(
            case.method.as_bytes(),
            case.uri.as_bytes(),
            &b"HTTP/1.1"[..],
            headers,
        );
        let lossy = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let pairs = |args: &[palisade_engine::request::Arg]| -> Vec<(String, String)> {
            args.iter()
                .map(|a| (lossy(&a.name), lossy(&a.value)))
                .collect()
        };
        let e = &case.expect;
        let mut problems = Vec::new();
        let mut cmp = |what: &str, have: String, want: &Option<String>| {
            if let Some(w) = want {
                if &have != w {
                    problems.push(format!("{what} {have:?}, want {w:?}"));
                }
            }
        };
        cmp("path_raw", lossy(&req.path_raw), &e.path_raw);
        cmp("path_decoded", lossy(&req.path_decoded), &e.path_decoded);
        cmp("basename", lossy(&req.basename), &e.basename);
        cmp("query_string", lossy(&req.query_string), &e.query_string);
        if let Some(w) = &e.query_args {
            let have = pairs(&req.query_args);
            if &have != w {
                problems.push(format!("query_args {have:?}, want {w:?}"));
            }
        }
        if let Some(w) = &e.cookies {
            let have = pairs(&req.cookies);
            if &have != w {
                problems.push(format!("cookies {have:?}, want {w:?}"));
            }
        }
        if let Some(w) = e.uri_invalid_encoding {
            if req.uri_invalid_encoding != w {
                problems.push(format!(
                    "uri_invalid_encoding {}, want {w}",
                    req.uri_invalid_encoding
                ));
            }
        }
        out.check(path, &case.name, problems.is_empty(), || {
            problems.join("; ")
        });
    }
}

// ---------- policies ----------

/// A small ruleset, a plugin configuration with `policies`, and requests:
/// which policy each request gets and what that policy decides.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    ruleset: palisade_engine::RulesetSpec,
    /// The plugin configuration, as YAML (loaded as its JSON form).
    config: serde_json::Value,
    #[serde(default)]
    cases: Vec<PolicyCase>,
    /// Configurations that must be refused, with the field named.
    #[serde(default)]
    errors: Vec<PolicyError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyCase {
    name: String,
    uri: String,
    host: String,
    /// The Envoy route name the host reports, if any.
    route: Option<String>,
    expect: PolicyExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyExpect {
    /// The selected policy's name (empty: the top level).
    policy: String,
    decision: String,
    /// Rule ids in the verdict, in order.
    rules: Vec<u32>,
    /// Transaction variables after the headers phase.
    #[serde(default)]
    tx: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyError {
    name: String,
    config: serde_json::Value,
    field: String,
    contains: String,
}

fn run_policies(path: &Path, text: &str, out: &mut Outcome) {
    use palisade_engine::config;
    use palisade_engine::eval::Transaction;
    use palisade_engine::Phase;
    let file: PolicyFile = parse(path, text);
    let artifact = file.ruleset.to_artifact();
    let settings = config::load(file.config.to_string().as_bytes(), &artifact)
        .unwrap_or_else(|e| panic!("{}: config refused: {e}", path.display()));
    for case in &file.cases {
        if !out.wanted(path, &case.name) {
            continue;
        }
        let req = Request::new(
            &b"GET"[..],
            case.uri.as_bytes(),
            &b"HTTP/1.1"[..],
            vec![Header::new(&b"host"[..], case.host.as_bytes())],
        );
        let id = settings.select_policy(&req, case.route.as_deref().map(str::as_bytes));
        let policy = settings.policy_by_id(id);
        let mut tx = Transaction::new();
        let engine = &settings.engine;
        let mut problems = Vec::new();
        if !engine.evaluate(Phase::Headers, &req, policy, &mut tx) {
            for (name, want) in &case.expect.tx {
                let have = tx.var(name.as_bytes()).map(String::from_utf8_lossy);
                if have.as_deref() != Some(want.as_str()) {
                    problems.push(format!("TX:{name} = {have:?}, want {want:?}"));
                }
            }
            engine.evaluate(Phase::Body, &req, policy, &mut tx);
        }
        let verdict = engine.verdict(policy, &tx);
        if policy.name != case.expect.policy {
            problems.push(format!(
                "policy {:?}, want {:?}",
                policy.name, case.expect.policy
            ));
        }
        let decision = verdict.decision.name();
        if decision != case.expect.decision {
            problems.push(format!(
                "decision {decision}, want {}",
                case.expect.decision
            ));
        }
        let rules: Vec<u32> = verdict.matches.iter().map(|m| m.rule_id.0).collect();
        if rules != case.expect.rules {
            problems.push(format!("rules {rules:?}, want {:?}", case.expect.rules));
        }
        out.check(path, &case.name, problems.is_empty(), || {
            problems.join("; ")
        });
    }
    for case in &file.errors {
        if !out.wanted(path, &case.name) {
            continue;
        }
        let got = config::load(case.config.to_string().as_bytes(), &artifact);
        let problem = match got {
            Ok(_) => "loaded, but it must be refused".to_string(),
            Err(e) if e.field != case.field => {
                format!("field `{}`, want `{}`", e.field, case.field)
            }
            Err(e) if !e.to_string().contains(&case.contains) => {
                format!("{:?} does not contain {:?}", e.to_string(), case.contains)
            }
            Err(_) => String::new(),
        };
        out.check(path, &case.name, problem.is_empty(), || problem);
    }
}

// ---------- the harness ----------

fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> T {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Default)]
struct Outcome {
    filter: Option<String>,
    passed: usize,
    failures: Vec<String>,
}

impl Outcome {
    fn wanted(&self, path: &Path, name: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| {
            path.to_string_lossy().contains(f.as_str()) || name.contains(f.as_str())
        })
    }

    fn check(&mut self, path: &Path, name: &str, ok: bool, why: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failures
                .push(format!("{} :: {name}: {}", path.display(), why()));
        }
    }
}

fn case_files(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    files
}

fn run_kind(kind: &str, runner: fn(&Path, &str, &mut Outcome)) {
    let mut out = Outcome {
        filter: std::env::var("CASES_FILTER").ok(),
        ..Outcome::default()
    };
    let files = case_files(kind);
    assert!(!files.is_empty(), "no case files under tests/cases/{kind}");
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        runner(path, &text, &mut out);
    }
    println!(
        "{kind}: {} passed, {} failed",
        out.passed,
        out.failures.len()
    );
    assert!(
        out.failures.is_empty(),
        "{} {kind} case(s) failed:\n{}",
        out.failures.len(),
        out.failures.join("\n")
    );
    assert!(
        out.passed > 0 || out.filter.is_some(),
        "no {kind} cases ran"
    );
}

#[test]
fn transforms() {
    run_kind("transforms", run_transforms);
}

#[test]
fn every_transform_has_a_case_file() {
    let files: Vec<String> = case_files("transforms")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for t in Transform::ALL {
        let decl = format!("transform: {}", t.name());
        assert!(
            files.iter().any(|f| f.lines().any(|l| l.trim() == decl)),
            "no case file declares `{decl}`"
        );
    }
}

#[test]
fn operators() {
    run_kind("operators", run_operators);
}

#[test]
fn bodies() {
    run_kind("bodies", run_bodies);
}

#[test]
fn policies() {
    run_kind("policies", run_policies);
}

#[test]
fn requests() {
    run_kind("requests", run_requests);
}
