//! The built-in rule set compiles, every rule has tests, and every test passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_rules::{builtin_dir, compile_native, inline_tests};

#[test]
fn builtin_rules_compile_and_pass_their_tests() {
    let (spec, files) =
        compile_native(&[builtin_dir()], "builtin").unwrap_or_else(|e| panic!("{e}"));
    assert!(!spec.rules.is_empty(), "the built-in rule set is empty");
    let report = inline_tests::run(&files, std::env::var("RULE_FILTER").ok().as_deref());
    let untested: Vec<String> = report
        .untested
        .iter()
        .map(|(f, l, id)| format!("{}:{l}: rule {id}", f.display()))
        .collect();
    println!(
        "built-in rule tests: {} passed, {} failed",
        report.passed,
        report.failures.len()
    );
    let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "{} inline test(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        untested.is_empty(),
        "rules without tests:\n{}",
        untested.join("\n")
    );
}

#[test]
fn every_builtin_rule_has_both_kinds_of_test() {
    let (_, files) = compile_native(&[builtin_dir()], "builtin").unwrap_or_else(|e| panic!("{e}"));
    for file in &files {
        for (rule, tests) in file.rules.iter().zip(&file.tests) {
            let t = tests
                .as_ref()
                .unwrap_or_else(|| panic!("rule {} has no tests", rule.id));
            assert!(
                !t.matches.is_empty() && !t.no_match.is_empty(),
                "rule {} needs match and no_match tests",
                rule.id
            );
        }
    }
}

#[test]
fn artifact_round_trips() {
    let (spec, _) = compile_native(&[builtin_dir()], "builtin").unwrap_or_else(|e| panic!("{e}"));
    let artifact = spec.to_artifact();
    let back = palisade_engine::RulesetSpec::from_artifact(&artifact).unwrap();
    assert_eq!(back, spec);
    back.compile().unwrap();
}
