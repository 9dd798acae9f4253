//! Summaries of a run: `N passed, M failed`, a per-file table, JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::run::{Outcome, TestResult};

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub expected_failures: usize,
}

impl Counts {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a TestResult>) -> Counts {
        let mut c = Counts::default();
        for r in results {
            match r.outcome {
                Outcome::Pass => c.passed += 1,
                Outcome::Fail => c.failed += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::ExpectedFailure => c.expected_failures += 1,
            }
        }
        c
    }

    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed ({} skipped by override, {} expected failures)",
            self.passed, self.failed, self.skipped, self.expected_failures
        )
    }
}

/// Counts per file, in file order of first appearance (sorted by path).
pub fn per_file(results: &[TestResult]) -> BTreeMap<String, Counts> {
    let mut files: BTreeMap<String, Vec<&TestResult>> = BTreeMap::new();
    for r in results {
        files.entry(r.file.clone()).or_default().push(r);
    }
    files
        .into_iter()
        .map(|(f, rs)| (f, Counts::of(rs)))
        .collect()
}

/// The human report: failures with why, overrides with reasons, the
/// per-file table and the summary line last (where a terminal shows it).
pub fn text(results: &[TestResult]) -> String {
    let mut out = String::new();
    for r in results {
        let tag = match r.outcome {
            Outcome::Pass => continue,
            Outcome::Fail => "FAIL",
            Outcome::Skipped => "SKIP",
            Outcome::ExpectedFailure => "XFAIL",
        };
        let _ = write!(out, "{tag:5} {}", r.title);
        if let Some(why) = &r.why {
            let _ = write!(out, ": {why}");
        }
        if let Some(reason) = &r.override_reason {
            let _ = write!(out, " [override: {reason}]");
        }
        out.push('\n');
    }
    let table = per_file(results);
    let width = table.keys().map(String::len).max().unwrap_or(4).max(4);
    let _ = writeln!(out, "\n{:width$}  passed  failed  skipped  xfail", "file");
    for (file, c) in &table {
        let _ = writeln!(
            out,
            "{file:width$}  {:6}  {:6}  {:7}  {:5}",
            c.passed, c.failed, c.skipped, c.expected_failures
        );
    }
    let _ = writeln!(out, "\n{}", Counts::of(results).line());
    out
}

/// The machine report.
pub fn json(results: &[TestResult]) -> serde_json::Value {
    serde_json::json!({
        "summary": Counts::of(results),
        "files": per_file(results),
        "tests": results,
    })
}
