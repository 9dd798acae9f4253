//! `palisade check` lints as data: each file in `tests/check/` is a rule
//! file (native `*.yaml` or SecLang `*.conf`) whose first line lists the
//! findings expected, as `CODE@LINE` (or `CODE` when no line applies):
//!
//! ```text
//! # expect: P001@13 P006@3
//! ```
//!
//! `CHECK_CASE=name` runs only the files whose name contains `name`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use palisade_rules::check::{self, Level, Limits};

fn cases() -> Vec<PathBuf> {
    common::case_files("check", &["yaml", "conf"], "CHECK_CASE")
}

fn expected(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let list = first
        .strip_prefix("# expect:")
        .unwrap_or_else(|| panic!("{}: first line must be `# expect: ...`", path.display()));
    let mut codes: Vec<String> = list.split_whitespace().map(str::to_string).collect();
    codes.sort();
    codes
}

#[test]
fn check_cases() {
    let mut failures = Vec::new();
    for path in cases() {
        let findings = if path.extension().is_some_and(|x| x == "conf") {
            check::check(&[], std::slice::from_ref(&path), Limits::default())
        } else {
            check::check(std::slice::from_ref(&path), &[], Limits::default())
        };
        let mut actual: Vec<String> = findings
            .iter()
            .map(|f| match f.line {
                Some(line) => format!("{}@{line}", f.code),
                None => f.code.to_string(),
            })
            .collect();
        actual.sort();
        let want = expected(&path);
        if actual != want {
            let listing: Vec<String> = findings.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "{}:\n  expected {want:?}\n  found    {actual:?}\n    {}",
                path.display(),
                listing.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn builtin_rules_have_no_errors() {
    let findings = check::check(&[palisade_rules::builtin_dir()], &[], Limits::default());
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn sarif_has_the_fields_code_scanning_reads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/duplicate_id.yaml");
    let findings = check::check(&[path], &[], Limits::default());
    let sarif = check::to_sarif(&findings);
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "palisade");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), check::LINTS.len());
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "P001");
    assert_eq!(result["level"], "error");
    assert_eq!(
        rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "P001"
    );
    assert!(result["message"]["text"]
        .as_str()
        .unwrap()
        .contains("200100"));
    let location = &result["locations"][0]["physicalLocation"];
    assert!(location["artifactLocation"]["uri"]
        .as_str()
        .unwrap()
        .ends_with("tests/check/duplicate_id.yaml"));
    assert_eq!(location["region"]["startLine"], 13);
}

#[test]
fn json_is_an_array_of_findings() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/missing_tests.yaml");
    let findings = check::check(&[path], &[], Limits::default());
    let json = check::to_json(&findings);
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["code"], "P006");
    assert_eq!(items[0]["level"], "warning");
    assert_eq!(items[0]["rule_id"], 200200);
    assert_eq!(items[0]["line"], 3);
}

#[test]
fn cli_exit_status_follows_error_findings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check");
    let run = |file: &str, format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["check", "--format", format])
            .arg(dir.join(file))
            .output()
            .unwrap()
    };
    let bad = run("duplicate_id.yaml", "sarif");
    assert!(!bad.status.success());
    let sarif: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "P001");
    // Warnings alone do not fail the run.
    let warned = run("missing_tests.yaml", "human");
    assert!(warned.status.success());
    assert!(String::from_utf8_lossy(&warned.stdout).contains("warning[P006] rule 200200"));
    assert!(run("clean.yaml", "json").status.success());
}
