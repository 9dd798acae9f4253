//! `palisade compile`'s summary as data: each `tests/compile/NAME.expect`
//! starts with `# args: ...` (rule paths relative to `tests/compile/`; the
//! harness adds `-o`), then the expected stdout, then optionally a
//! `--- stderr` line and the expected stderr. Sizes and times vary with
//! dependency versions and machines, so every number before `bytes` or
//! `ms` is compared as `#`, and the output path as `OUT`.
//!
//! `COMPILE_CASE=name` runs only matching cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_rules::explain::shell;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile")
}

fn cases() -> Vec<PathBuf> {
    common::case_files("compile", &["expect"], "COMPILE_CASE")
}

/// Numbers before `bytes` / `ms` become `#`; `out` becomes `OUT`.
fn normalize(text: &str, out: &str) -> String {
    let text = text.replace(out, "OUT");
    let mut lines = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let mut kept = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let unit = words.get(i + 1).is_some_and(|next| {
                let next = next.trim_end_matches([';', ')', ',']);
                next == "bytes" || next == "ms"
            });
            let digits = w.trim_start_matches('(');
            if unit && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                kept.push(w.replace(digits, "#"));
            } else {
                kept.push((*w).to_string());
            }
        }
        lines.push(kept.join(" "));
    }
    lines.join("\n")
}

#[test]
fn compile_summaries() {
    let tmp = std::env::temp_dir().join(format!("palisade-compile-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut failures = Vec::new();
    for case in cases() {
        let text = std::fs::read_to_string(&case).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        let args = shell::split(
            first
                .strip_prefix("# args: ")
                .unwrap_or_else(|| panic!("{}: first line must be `# args: ...`", case.display())),
        )
        .unwrap();
        let (want_out, want_err) = match rest.split_once("--- stderr\n") {
            Some((o, e)) => (o, e),
            None => (rest, ""),
        };
        let out = tmp
            .join(case.file_stem().unwrap())
            .with_extension("ruleset");
        let run = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .current_dir(dir())
            .arg("compile")
            .args(&args)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let out = out.display().to_string();
        let got_out = normalize(&String::from_utf8_lossy(&run.stdout), &out);
        let got_err = normalize(&String::from_utf8_lossy(&run.stderr), &out);
        if !run.status.success()
            || got_out.trim_end() != want_out.trim_end()
            || got_err.trim_end() != want_err.trim_end()
        {
            failures.push(format!(
                "{} ({}):\n--- expected stdout\n{want_out}--- got\n{got_out}\n--- expected stderr\n{want_err}--- got\n{got_err}",
                case.display(),
                run.status
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_summary_counts_rules_and_warnings() {
    let out = std::env::temp_dir().join(format!(
        "palisade-compile-{}.json.ruleset",
        std::process::id()
    ));
    let run = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(dir())
        .args([
            "compile",
            "small.yaml",
            "--seclang",
            "small.conf",
            "--allow-unsupported",
        ])
        .args(["--format", "json", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success());
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let written = std::fs::metadata(&out).unwrap().len();
    let _ = std::fs::remove_file(&out);
    assert_eq!(json["artifact_bytes"].as_u64().unwrap(), written);
    assert_eq!(json["rules"], 8);
    assert_eq!(json["phases"]["headers"], 2);
    assert_eq!(json["paranoia"]["2"], 2);
    assert_eq!(json["regexes"]["count"], 6);
    assert!(json["regexes"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(json["prefilter"]["regexes"], 5);
    assert_eq!(json["prefilter"]["phrase_lists"], 0);
    assert_eq!(json["prefilter"]["sets"], 1);
    assert_eq!(
        json["messages"][0],
        "warning: small.conf:4: unsupported operator @rbl"
    );
}
