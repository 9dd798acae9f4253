//! `palisade tune` as data: each `tests/tune/NAME.log` is a detection log
//! (its first line may be `# min-count: N`); `NAME.yaml` and `NAME.conf`
//! hold the expected native and SecLang proposals. `BLESS=1` rewrites them;
//! `TUNE_CASE=name` runs only matching logs. Every proposed native
//! exclusion list is also loaded by `config::load`, as the filter would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use palisade_engine::config;
use palisade_rules::tune;

fn logs() -> Vec<PathBuf> {
    common::case_files("tune", &["log"], "TUNE_CASE")
}

fn builtin_artifact() -> Vec<u8> {
    let (spec, _) =
        palisade_rules::compile_native(&[palisade_rules::builtin_dir()], "test").unwrap();
    spec.to_artifact()
}

fn compare(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    if want != actual {
        failures.push(format!(
            "{}: output differs (BLESS=1 to accept)\n--- expected\n{want}--- actual\n{actual}",
            path.display()
        ));
    }
}

#[test]
fn tune_cases() {
    let builtin = builtin_artifact();
    let mut failures = Vec::new();
    for log in logs() {
        let text = std::fs::read_to_string(&log).unwrap();
        let min_count = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# min-count:"))
            .map_or(5, |n| n.trim().parse().unwrap());
        let proposals = tune::propose(&tune::hits(&text), min_count);
        let yaml = tune::to_yaml(&proposals);
        compare(&log.with_extension("yaml"), &yaml, &mut failures);
        compare(
            &log.with_extension("conf"),
            &tune::to_seclang(&proposals, 10_000),
            &mut failures,
        );

        // The YAML is the plugin configuration's own shape: load it.
        let value: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let json = serde_json::to_vec(&value).unwrap();
        if let Err(e) = config::load(&json, &builtin) {
            failures.push(format!(
                "{}: config::load refused the proposal: {e}",
                log.display()
            ));
        }
        assert_eq!(
            value,
            serde_json::json!({"exclusions": tune::exclusions_json(&proposals)})
        );

        // The SecLang compiles (strictly) after rules with the ids it names.
        let mut ids: Vec<u32> = proposals.iter().map(|p| p.rule_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut conf: String = ids
            .iter()
            .map(|id| format!("SecRule ARGS \"@contains x\" \"id:{id},phase:2,pass,t:none\"\n"))
            .collect();
        conf.push_str(&tune::to_seclang(&proposals, 10_000));
        let directives = palisade_rules::seclang::parse_str(&conf, &log).unwrap();
        if let Err(es) = palisade_rules::seclang::compile::compile(&directives, "test", false) {
            let messages: Vec<String> = es.iter().map(|d| d.message.clone()).collect();
            failures.push(format!("{}: SecLang refused: {messages:?}", log.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn finds_the_verdict_in_any_log_line() {
    let json = r#"{"event":"matched","path":"/","rules":[{"id":1,"variable":"ARGS:a"}]}"#;
    for line in [
        format!("palisade-verdict {json}"),
        format!("[2026-01-01 00:00:00.000][1][info][wasm] wasm log: palisade-verdict {json}"),
        format!("2026-01-01T00:00:00Z stderr F {json}"),
        json.to_string(),
        format!("{json} trailing"),
    ] {
        assert!(tune::verdict_json(&line).is_some(), "{line}");
    }
    for line in [
        "",
        "starting main dispatch loop",
        "{not json",
        r#"{"event":"blocked"}"#,
    ] {
        assert!(tune::verdict_json(line).is_none(), "{line}");
    }
}

#[test]
fn min_count_filters_and_scopes_by_path() {
    let hit = |path: &str| tune::Hit {
        rule_id: 7,
        variable: "ARGS:q".to_string(),
        path: path.to_string(),
    };
    let hits = [hit("/a/b/1"), hit("/a/b/2"), hit("/a/c")];
    assert!(tune::propose(&hits, 4).is_empty());
    let p = tune::propose(&hits, 3);
    assert_eq!(p[0].path_prefix.as_deref(), Some("/a/"));
    assert_eq!(p[0].target.as_deref(), Some("args:q"));
    assert_eq!((p[0].count, p[0].paths), (3, 3));
    let p = tune::propose(&hits[..2], 1);
    assert_eq!(p[0].path_prefix.as_deref(), Some("/a/b/"));
}
