//! Plugin configuration cases from `config_cases.yaml`, loaded with the real
//! built-in ruleset exactly as the VM does at start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade::config::{self, LogLevel, OverLimit};
use palisade_engine::eval::Mode;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    config: String,
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    expect: Expect,
    error_field: Option<String>,
    error_contains: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    mode: Option<String>,
    paranoia: Option<u8>,
    threshold: Option<u32>,
    body_inspect: Option<bool>,
    body_limit: Option<usize>,
    over_limit: Option<String>,
    log: Option<String>,
    block_status: Option<u32>,
}

#[test]
fn config_cases() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/config_cases.yaml"
    ))
    .unwrap();
    let file: File = serde_yaml_ng::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in &file.cases {
        let got = config::load(case.config.as_bytes(), palisade::BUILTIN_RULESET);
        let problem = match (&got, case.ok) {
            (Ok(s), true) => {
                let e = &case.expect;
                let mut p = Vec::new();
                let mode = match s.policy.mode {
                    Mode::Block => "block",
                    Mode::Detect => "detect",
                    Mode::Off => "off",
                };
                let over = match s.body.over_limit {
                    OverLimit::Block => "block",
                    OverLimit::InspectPartial => "inspect_partial",
                };
                let log = match s.log {
                    LogLevel::Off => "off",
                    LogLevel::Blocked => "blocked",
                    LogLevel::Matched => "matched",
                    LogLevel::All => "all",
                };
                let mut check = |what: &str, have: String, want: Option<String>| {
                    if let Some(w) = want {
                        if have != w {
                            p.push(format!("{what} = {have}, want {w}"));
                        }
                    }
                };
                check("mode", mode.into(), e.mode.clone());
                check(
                    "paranoia",
                    s.policy.paranoia.to_string(),
                    e.paranoia.map(|v| v.to_string()),
                );
                check(
                    "threshold",
                    s.policy.inbound_threshold.to_string(),
                    e.threshold.map(|v| v.to_string()),
                );
                check(
                    "body_inspect",
                    s.body.inspect.to_string(),
                    e.body_inspect.map(|v| v.to_string()),
                );
                check(
                    "body_limit",
                    s.body.limit_bytes.to_string(),
                    e.body_limit.map(|v| v.to_string()),
                );
                check("over_limit", over.into(), e.over_limit.clone());
                check("log", log.into(), e.log.clone());
                check(
                    "block_status",
                    s.block_status.to_string(),
                    e.block_status.map(|v| v.to_string()),
                );
                p.join("; ")
            }
            (Ok(_), false) => "loaded, but it must be refused".to_string(),
            (Err(err), true) => format!("refused: {err}"),
            (Err(err), false) => {
                let mut p = Vec::new();
                if let Some(f) = &case.error_field {
                    if &err.field != f {
                        p.push(format!("error field `{}`, want `{f}`", err.field));
                    }
                }
                let want = case
                    .error_contains
                    .as_deref()
                    .expect("error cases need error_contains");
                if !err.to_string().contains(want) {
                    p.push(format!(
                        "error {:?} does not contain {want:?}",
                        err.to_string()
                    ));
                }
                p.join("; ")
            }
        };
        if !problem.is_empty() {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    println!(
        "config cases: {} passed, {} failed",
        file.cases.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
