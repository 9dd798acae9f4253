//! `palisade explain` as data: each `tests/explain/NAME.{http,curl,har}` is
//! a request (`.http` passed with `--raw`, `.curl`'s text with `--curl`,
//! `.har` with `--har`) explained against the built-in rules by the real
//! binary; `NAME.expect` says what to expect, one check a line:
//!
//! - `args: ...` extra arguments (shell quoting), `exit: N` the status;
//! - `contains: TEXT` / `not: TEXT` on stdout and stderr together;
//! - `json: /pointer = VALUE` on stdout parsed as JSON.
//!
//! `EXPLAIN_CASE=name` runs only matching cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_rules::explain::shell;

fn cases() -> Vec<PathBuf> {
    common::case_files("explain", &["http", "curl", "har"], "EXPLAIN_CASE")
}

fn check(case: &Path) -> Vec<String> {
    let expect_path = case.with_extension("expect");
    let expect = std::fs::read_to_string(&expect_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
    let mut args: Vec<String> = vec!["explain".into(), "--no-color".into()];
    match case.extension().and_then(|x| x.to_str()) {
        Some("http") => args.extend(["--raw".into(), case.display().to_string()]),
        Some("har") => args.extend(["--har".into(), case.display().to_string()]),
        _ => args.extend([
            "--curl".into(),
            std::fs::read_to_string(case).unwrap().trim().to_string(),
        ]),
    }
    let mut exit = 0;
    let mut checks = Vec::new();
    for line in expect.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{}: bad line `{line}`", expect_path.display()));
        match key {
            "args" => args.extend(shell::split(value).unwrap()),
            "exit" => exit = value.parse().unwrap(),
            _ => checks.push((key.to_string(), value.to_string())),
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let mut failures = Vec::new();
    if out.status.code() != Some(exit) {
        failures.push(format!("exit {:?}, want {exit}", out.status.code()));
    }
    for (key, value) in checks {
        match key.as_str() {
            "contains" if !all.contains(&value) => failures.push(format!("missing `{value}`")),
            "not" if all.contains(&value) => failures.push(format!("unexpected `{value}`")),
            "json" => {
                let (pointer, want) = value.split_once(" = ").unwrap();
                let want: serde_json::Value = serde_json::from_str(want).unwrap();
                let got: Option<serde_json::Value> =
                    serde_json::from_str::<serde_json::Value>(&stdout)
                        .ok()
                        .and_then(|v| v.pointer(pointer).cloned());
                if got.as_ref() != Some(&want) {
                    failures.push(format!("{pointer}: got {got:?}, want {want}"));
                }
            }
            "contains" | "not" => {}
            other => panic!("{}: unknown check `{other}`", expect_path.display()),
        }
    }
    if failures.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{name}: {}\n--- output\n{all}",
            failures.join("; ")
        )]
    }
}

#[test]
fn explain_cases() {
    let failures: Vec<String> = cases().iter().flat_map(|c| check(c)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
