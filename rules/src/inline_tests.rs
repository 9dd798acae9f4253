//! Runs the `tests:` of rule files: each rule alone, at paranoia level 4, on
//! each `match` request (must match) and `no_match` request (must not).
//! One harness serves `cargo test`, `palisade test` and security teams' CI.

use std::path::PathBuf;

use palisade_engine::body::BodyLimits;
use palisade_engine::eval::PolicyConfig;
use palisade_engine::RulesetSpec;

use crate::native::CompiledFile;

/// One failed expectation.
#[derive(Clone, Debug)]
pub struct Failure {
    pub file: PathBuf,
    pub line: usize,
    pub rule_id: u32,
    pub message: String,
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
            for (case, want) in cases {
                let req = match case.to_request(&limits) {
                    Ok(r) => r,
                    Err(e) => {
                        report.failures.push(fail(e));
                        continue;
                    }
                };
                let verdict = engine.inspect(&req, &policy);
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
                    report.failures.push(fail(format!(
                        "{what}: {} {}{}{detail}",
                        case.method(),
                        case.uri(),
                        case.body
                            .as_ref()
                            .map(|b| format!(" body {b:?}"))
                            .unwrap_or_default()
                    )));
                }
            }
        }
    }
    report
}
