//! Evaluation semantics as data: each file in `tests/eval/` holds a small
//! native ruleset (`ruleset:`) or SecLang text (`seclang:`) and cases of (plugin configuration, request) → expected
//! verdict. The configuration is parsed by the same `config::load` the filter
//! uses, so policies are tested exactly as operators write them.
//!
//! The cases of a file with the same configuration run on one engine and
//! one transaction, reset between them as the filter's pool resets it: a
//! request that sees anything the one before left fails its case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use palisade_engine::{config, Transaction};
use palisade_rules::native::compile_file;
use palisade_rules::seclang;
use palisade_rules::test_request::TestRequest;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    ruleset: Option<serde_yaml_ng::Value>,
    seclang: Option<String>,
    /// What the engine's prefilter must hold once the rules load under
    /// each configuration: for a file testing how it splits them, that the
    /// split happened; for one testing which rules it screens, that only
    /// those the policies run are.
    #[serde(default)]
    prefilter: Vec<Prefilter>,
    cases: Vec<Case>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Prefilter {
    /// The plugin configuration loaded (empty: the defaults).
    #[serde(default)]
    config: String,
    regexes: usize,
    sets: usize,
    literal_chains: usize,
    /// Chains that read the literal automaton's walk of values they leave
    /// as received only (0 unless given).
    #[serde(default)]
    as_received_chains: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    config: String,
    request: TestRequest,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    decision: String,
    /// Matched rule ids, in evaluation order.
    rules: Option<Vec<u32>>,
    /// Rule ids that must be among the matches (others may match too).
    #[serde(default)]
    includes: Vec<u32>,
    /// Rule ids that must not match.
    #[serde(default)]
    excludes: Vec<u32>,
    score: Option<u32>,
    /// Matched variables, in order.
    variables: Option<Vec<String>>,
    /// A fragment each match's excerpt must contain, in order.
    excerpts: Option<Vec<String>>,
    /// A fragment each match's `data` (expanded `logdata`) must contain, in
    /// order; `null` for a match that must have no data.
    datas: Option<Vec<Option<String>>>,
    /// Category scores that must be present.
    #[serde(default)]
    scores: Vec<(String, u32)>,
}

#[test]
fn evaluation_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let filter = std::env::var("CASES_FILTER").ok();
    let (mut passed, mut failures) = (0, Vec::new());
    for path in &paths {
        let file: File = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let artifact = artifact(path, &file);
        for want in &file.prefilter {
            let settings = config::load(want.config.as_bytes(), &artifact).unwrap();
            let stats = settings.engine.prefilter_stats();
            let have = Prefilter {
                config: want.config.clone(),
                regexes: stats.regexes,
                sets: stats.sets,
                literal_chains: stats.literal_chains,
                as_received_chains: stats.as_received_chains,
            };
            if &have != want {
                failures.push(format!(
                    "{}: prefilter {have:?}, want {want:?}",
                    path.display()
                ));
            }
        }
        let mut engines = HashMap::new();
        for case in &file.cases {
            if filter
                .as_ref()
                .is_some_and(|f| !case.name.contains(f.as_str()))
            {
                continue;
            }
            let (settings, tx) = engines.entry(case.config.as_str()).or_insert_with(|| {
                let settings =
                    config::load(case.config.as_bytes(), &artifact).unwrap_or_else(|e| {
                        panic!("{} :: {}: config refused: {e}", path.display(), case.name)
                    });
                (settings, Transaction::new())
            });
            let req = case.request.to_request(&settings.body.limits).unwrap();
            // The policy the filter would pick (no route name here).
            let policy = settings.policy_by_id(settings.select_policy(&req, None));
            let v = settings.engine.inspect_with(&req, policy, tx);
            let mut problems = Vec::new();
            let decision = v.decision.name();
            if decision != case.expect.decision {
                problems.push(format!(
                    "decision {decision}, want {}",
                    case.expect.decision
                ));
            }
            let ids: Vec<u32> = v.matches.iter().map(|m| m.rule_id.0).collect();
            if let Some(want) = &case.expect.rules {
                if &ids != want {
                    problems.push(format!("rules {ids:?}, want {want:?}"));
                }
            }
            let missing: Vec<&u32> = case
                .expect
                .includes
                .iter()
                .filter(|id| !ids.contains(id))
                .collect();
            if !missing.is_empty() {
                problems.push(format!("rules {ids:?} lack {missing:?}"));
            }
            let unwanted: Vec<&u32> = case
                .expect
                .excludes
                .iter()
                .filter(|id| ids.contains(id))
                .collect();
            if !unwanted.is_empty() {
                problems.push(format!("rules {ids:?} include {unwanted:?}"));
            }
            if let Some(want) = case.expect.score {
                if v.score != want {
                    problems.push(format!("score {}, want {want}", v.score));
                }
            }
            let vars: Vec<String> = v.matches.iter().map(|m| m.variable.clone()).collect();
            if let Some(want) = &case.expect.variables {
                if &vars != want {
                    problems.push(format!("variables {vars:?}, want {want:?}"));
                }
            }
            if let Some(want) = &case.expect.excerpts {
                let have: Vec<&str> = v.matches.iter().map(|m| m.excerpt.as_str()).collect();
                if have.len() != want.len()
                    || !have.iter().zip(want).all(|(h, w)| h.contains(w.as_str()))
                {
                    problems.push(format!("excerpts {have:?}, want fragments {want:?}"));
                }
            }
            if let Some(want) = &case.expect.datas {
                let have: Vec<Option<&str>> = v.matches.iter().map(|m| m.data.as_deref()).collect();
                let fits = |h: &Option<&str>, w: &Option<String>| match (h, w) {
                    (Some(h), Some(w)) => h.contains(w.as_str()),
                    (None, None) => true,
                    _ => false,
                };
                if have.len() != want.len() || !have.iter().zip(want).all(|(h, w)| fits(h, w)) {
                    problems.push(format!("datas {have:?}, want fragments {want:?}"));
                }
            }
            if let Some(long) = v
                .matches
                .iter()
                .filter_map(|m| m.data.as_deref())
                .find(|d| d.len() > palisade_engine::verdict::DATA_LEN)
            {
                problems.push(format!("data longer than DATA_LEN: {long:?}"));
            }
            for (cat, score) in &case.expect.scores {
                if !v.scores.iter().any(|(c, s)| c == cat && s == score) {
                    problems.push(format!("scores {:?}, want {cat}={score}", v.scores));
                }
            }
            if problems.is_empty() {
                passed += 1;
            } else {
                failures.push(format!(
                    "{} :: {}: {}",
                    path.display(),
                    case.name,
                    problems.join("; ")
                ));
            }
        }
    }
    println!(
        "evaluation cases: {passed} passed, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 0 || filter.is_some(), "no evaluation cases ran");
}

/// The file's rules compiled the way `palisade compile` does.
fn artifact(path: &Path, file: &File) -> Vec<u8> {
    let spec = match (&file.ruleset, &file.seclang) {
        (Some(ruleset), None) => {
            let text = serde_yaml_ng::to_string(ruleset).unwrap();
            let compiled = compile_file(path, &text).unwrap_or_else(|e| {
                panic!(
                    "{}: {}",
                    path.display(),
                    e.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            palisade_engine::RulesetSpec {
                source: "eval test".into(),
                rules: compiled.rules,
                ..Default::default()
            }
        }
        (None, Some(text)) => {
            let directives = seclang::parse_str(text, path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seclang::compile::compile(&directives, "eval test", false)
                .unwrap_or_else(|es| {
                    panic!(
                        "{}: {}",
                        path.display(),
                        es.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n")
                    )
                })
                .0
        }
        _ => panic!(
            "{}: give exactly one of `ruleset` and `seclang`",
            path.display()
        ),
    };
    spec.to_artifact()
}

/// A policy bound after a configuration loaded, enabling rules none of its
/// policies runs, runs those rules unscreened (the prefilter gave them no
/// id) with the verdicts they would have had screened.
#[test]
fn a_policy_bound_later_runs_rules_the_prefilter_left_out() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval/prefilter_policies.yaml");
    let file: File = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let settings = config::load(b"", &artifact(&path, &file)).unwrap();
    assert_eq!(settings.engine.prefilter_stats().regexes, 5);
    let later = settings.engine.policy(palisade_engine::eval::PolicyConfig {
        paranoia: 2,
        ..Default::default()
    });
    let case = &file.cases[1];
    assert_eq!(case.config, r#"{"paranoia_level": 2}"#);
    let req = case.request.to_request(&settings.body.limits).unwrap();
    let v = settings
        .engine
        .inspect_with(&req, &later, &mut Transaction::new());
    let ids: Vec<u32> = v.matches.iter().map(|m| m.rule_id.0).collect();
    assert_eq!(Some(&ids), case.expect.rules.as_ref());
}
