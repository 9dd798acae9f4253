//! `palisade test` as data: each `tests/ruletest/NAME.expect` starts with
//! `# args: ...` (paths relative to `tests/ruletest/`) and `# exit: N`,
//! then the exact expected stdout. `failing.yaml` holds inline tests that
//! fail both ways; `ftw/` is a tiny go-ftw file run against `rules.yaml`.
//!
//! `RULETEST_CASE=name` runs only matching cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_rules::explain::shell;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ruletest")
}

fn cases() -> Vec<PathBuf> {
    common::case_files("ruletest", &["expect"], "RULETEST_CASE")
}

fn palisade(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(dir())
        .arg("test")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn test_command_cases() {
    let mut failures = Vec::new();
    for case in cases() {
        let text = std::fs::read_to_string(&case).unwrap();
        let mut lines = text.lines();
        let header = |line: Option<&str>, key: &str| {
            line.and_then(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{}: expected a `{key}` line", case.display()))
                .to_string()
        };
        let args = shell::split(&header(lines.next(), "# args: ")).unwrap();
        let exit: i32 = header(lines.next(), "# exit: ").parse().unwrap();
        let want: Vec<&str> = lines.collect();
        let run = palisade(&args);
        let stdout = String::from_utf8_lossy(&run.stdout);
        let got: Vec<&str> = stdout.lines().collect();
        if got != want || run.status.code() != Some(exit) {
            failures.push(format!(
                "{} (exit {:?}, want {exit}):\n--- expected\n{}\n--- got\n{}\n--- stderr\n{}",
                case.display(),
                run.status.code(),
                want.join("\n"),
                got.join("\n"),
                String::from_utf8_lossy(&run.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_lists_failures_with_their_ids() {
    let args: Vec<String> = ["rules.yaml", "--ftw", "ftw", "--format", "json"]
        .map(String::from)
        .to_vec();
    let run = palisade(&args);
    assert_eq!(run.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["passed"], 4);
    assert_eq!(json["failed"], 2);
    assert_eq!(json["skipped"], 1);
    let second = &json["ftw"][1];
    assert_eq!(second["test"], "310200-2");
    assert_eq!(second["outcome"], "fail");
    assert_eq!(second["ids"]["missing"], serde_json::json!([310210]));
    assert_eq!(second["ids"]["matched"], serde_json::json!([310200]));
}

#[test]
fn ftw_without_a_ruleset_is_an_error() {
    let run = palisade(&["--ftw".into(), "ftw".into()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--ftw needs a ruleset"));
}
