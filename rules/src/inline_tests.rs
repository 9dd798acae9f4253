//! Runs the `tests:` of rule files: each rule alone, at paranoia level 4, on
//! each `match` request (must match) and `no_match` request (must not).
//! One harness serves `cargo test`, `palisade test` and security teams' CI.

use std::path::PathBuf;

use palisade_engine::body::BodyLimits;
use palisade_engine::eval::PolicyConfig;
use palisade_engine::{RulesetSpec, Transaction};

use crate::native::CompiledFile;

/// Rule ids a test expected to match, expected not to match, and matched.
/// Shared by inline tests and go-ftw files ([`crate::ftw`]). Displays as
/// `expected [942100], matched [942100, 949110]: missing -, unexpected +949110`
/// (`not expected [...]` is shown when the test forbids ids).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdDiff {
    pub expected: Vec<u32>,
    pub forbidden: Vec<u32>,
    pub matched: Vec<u32>,
}

impl IdDiff {
    /// Expected ids that did not match.
    pub fn missing(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .expected
            .iter()
            .filter(|id| !self.matched.contains(id))
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Forbidden ids that matched.
    pub fn unexpected(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .forbidden
            .iter()
            .filter(|id| self.matched.contains(id))
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn passed(&self) -> bool {
        self.missing().is_empty() && self.unexpected().is_empty()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "expected": self.expected,
            "not_expected": self.forbidden,
            "matched": self.matched,
            "missing": self.missing(),
            "unexpected": self.unexpected(),
        })
    }
}

impl std::fmt::Display for IdDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |ids: &[u32]| {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            format!("[{}]", ids.join(", "))
        };
        let signed = |sign: &str, ids: Vec<u32>| {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            format!("{sign}{}", ids.join(&format!(" {sign}")))
        };
        write!(f, "expected {}", list(&self.expected))?;
        if !self.forbidden.is_empty() {
            write!(f, ", not expected {}", list(&self.forbidden))?;
        }
        write!(
            f,
            ", matched {}: missing {}, unexpected {}",
            list(&self.matched),
            signed("-", self.missing()),
            signed("+", self.unexpected())
        )
    }
}

/// One failed expectation.
#[derive(Clone, Debug)]
pub struct Failure {
    pub file: PathBuf,
    pub line: usize,
    pub rule_id: u32,
    pub message: String,
    /// The ids, when the failure is a wrong match (not a bad request).
    pub diff: Option<IdDiff>,
}

impl Failure {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file.display().to_string(),
            "line": self.line,
            "rule_id": self.rule_id,
            "message": self.message,
            "ids": self.diff.as_ref().map(IdDiff::json),
        })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: rule {}: {}",
            self.file.display(),
            self.line,
            self.rule_id,
            self.message
        )
    }
}

/// Totals of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failures: Vec<Failure>,
    /// Rules without any test.
    pub untested: Vec<(PathBuf, usize, u32)>,
}

/// Runs every inline test in the compiled files. `filter` keeps only rules
/// whose id contains it as text.
pub fn run(files: &[CompiledFile], filter: Option<&str>) -> Report {
    let mut report = Report::default();
    let limits = BodyLimits::default();
    for file in files {
        for ((rule, line), tests) in file.rules.iter().zip(&file.lines).zip(&file.tests) {
            if filter.is_some_and(|f| !rule.id.to_string().contains(f)) {
                continue;
            }
            let fail = |message: String| Failure {
                file: file.path.clone(),
                line: *line,
                rule_id: rule.id.0,
                message,
                diff: None,
            };
            let Some(tests) = tests
                .as_ref()
                .filter(|t| !t.matches.is_empty() || !t.no_match.is_empty())
            else {
                report.untested.push((file.path.clone(), *line, rule.id.0));
                continue;
            };
            let spec = RulesetSpec {
                source: String::new(),
                rules: vec![rule.clone()],
                ..RulesetSpec::default()
            };
            let engine = match spec.compile() {
                Ok(e) => e,
                Err(e) => {
                    report.failures.push(fail(e.to_string()));
                    continue;
                }
            };
            let policy = engine.policy(PolicyConfig {
                paranoia: 4,
                ..PolicyConfig::default()
            });
            let cases = tests
                .matches
                .iter()
                .map(|t| (t, true))
                .chain(tests.no_match.iter().map(|t| (t, false)));
            // One transaction for the rule's cases, as the filter reuses
            // pooled ones: a no-match case after a match shows a leak.
            let mut tx = Transaction::new();
            for (case, want) in cases {
                let req = match case.to_request(&limits) {
                    Ok(r) => r,
                    Err(e) => {
                        report.failures.push(fail(e));
                        continue;
                    }
                };
                let verdict = engine.inspect_with(&req, &policy, &mut tx);
                let hit = verdict.matches.iter().find(|m| m.rule_id == rule.id);
                if hit.is_some() == want {
                    report.passed += 1;
                } else {
                    let what = if want {
                        "should match but did not"
                    } else {
                        "should not match but did"
                    };
                    let detail = hit
                        .map(|m| format!(" ({} = {:?})", m.variable, m.excerpt))
                        .unwrap_or_default();
                    let mut matched: Vec<u32> =
                        verdict.matches.iter().map(|m| m.rule_id.0).collect();
                    matched.sort_unstable();
                    matched.dedup();
                    let diff = IdDiff {
                        expected: if want { vec![rule.id.0] } else { Vec::new() },
                        forbidden: if want { Vec::new() } else { vec![rule.id.0] },
                        matched,
                    };
                    let mut failure = fail(format!(
                        "{what}: {} {}{}: {diff}{detail}",
                        case.method(),
                        case.uri(),
                        case.body
                            .as_ref()
                            .map(|b| format!(" body {b:?}"))
                            .unwrap_or_default()
                    ));
                    failure.diff = Some(diff);
                    report.failures.push(failure);
                }
            }
        }
    }
    report
}
