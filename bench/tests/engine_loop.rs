//! `palisade-engine-loop` (the engine timed alone, natively or in V8 via
//! bench/v8.sh) runs every mix through a compiled ruleset and reports a
//! median, and refuses a missing ruleset or a bad configuration by name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use palisade_rules::{builtin_dir, compile_native};

/// The built-in rules compiled to a file of this test's own (`tag`): the
/// tests run in parallel.
fn built_in_ruleset(tag: &str) -> PathBuf {
    let (spec, _) = compile_native(&[builtin_dir()], "built-in").expect("built-in rules compile");
    let path = std::env::temp_dir().join(format!(
        "palisade-engine-loop-{}-{tag}.ruleset",
        std::process::id()
    ));
    std::fs::write(&path, spec.to_artifact()).unwrap();
    path
}

fn engine_loop(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade-engine-loop"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_mix_runs_and_reports_a_median() {
    let ruleset = built_in_ruleset("mixes");
    let path = ruleset.to_str().unwrap();
    for mix in ["get", "json4k", "multipart64k", "args50", "attacks"] {
        let (ok, stdout, stderr) = engine_loop(&[
            "--ruleset",
            path,
            "--mix",
            mix,
            "--requests",
            "10",
            "--rounds",
            "3",
        ]);
        assert!(ok, "{mix}: {stderr}");
        assert!(
            stdout.contains("median") && stdout.contains("µs per request"),
            "{mix}: {stdout}"
        );
    }
    std::fs::remove_file(ruleset).unwrap();
}

#[test]
fn a_missing_ruleset_or_bad_configuration_is_refused_by_name() {
    let (ok, _, stderr) = engine_loop(&["--ruleset", "/nonexistent/palisade.ruleset"]);
    assert!(!ok && stderr.contains("--ruleset"), "{stderr}");
    let ruleset = built_in_ruleset("refused");
    let (ok, _, stderr) = engine_loop(&[
        "--ruleset",
        ruleset.to_str().unwrap(),
        "--config",
        r#"{"paranoia_level": 9}"#,
    ]);
    std::fs::remove_file(ruleset).unwrap();
    assert!(!ok && stderr.contains("paranoia_level"), "{stderr}");
}
