//! go-ftw test files (OWASP CRS's regression format) run in-process: each
//! stage's request is rebuilt from the bytes go-ftw would send and evaluated
//! by the engine as the filter does ([`crate::explain::explain`]), with no
//! Envoy. Only rule-id expectations (`expect_ids` / `no_expect_ids`, flat or
//! under `log:`) are judged here; a stage that checks only the status, the
//! log line or the response body needs the gateway, and is skipped with that
//! reason (the e2e crate's `palisade-ftw` runs those). Response-phase rules
//! run on the response CRS's albedo backend would send: what a `/reflect`
//! request describes, else an empty 200 ([`reflect`]).
//!
//! [`format`] parses the files (also used by the e2e runner), [`request`]
//! builds the wire bytes, [`reflect`] reads albedo's response spec (also
//! used by the e2e upstream).

pub mod format;
pub mod reflect;
pub mod request;

use std::path::PathBuf;

use palisade_engine::config::Settings;
use palisade_engine::request::{Header, ResponseData};
use palisade_engine::Transaction;

pub use format::{load_all, LoadedFile};

use crate::inline_tests::IdDiff;

/// How a go-ftw test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skipped,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One test's result (its first failing or skipped stage decides).
#[derive(Clone, Debug)]
pub struct TestResult {
    pub file: PathBuf,
    /// `rule_id-test_id`, what `--rule` filters on.
    pub title: String,
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    pub why: Option<String>,
    /// The ids of the stage that decided.
    pub diff: Option<IdDiff>,
}

impl TestResult {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file.display().to_string(),
            "test": self.title,
            "outcome": self.outcome.name(),
            "why": self.why,
            "ids": self.diff.as_ref().map(IdDiff::json),
        })
    }
}

impl std::fmt::Display for TestResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.title)?;
        if let Some(why) = &self.why {
            write!(f, ": {why}")?;
        }
        Ok(())
    }
}

/// Runs every test of `files` whose title contains `filter` against the
/// ruleset and policy in `settings`.
pub fn run(settings: &Settings, files: &[LoadedFile], filter: Option<&str>) -> Vec<TestResult> {
    let mut results = Vec::new();
    // One transaction for the whole run, as the filter pools them: a test
    // that passes alone but fails after another shows a leak.
    let mut tx = Transaction::new();
    for file in files {
        for (n, test) in file.file.tests.iter().enumerate() {
            let test_id = test
                .test_id
                .unwrap_or_else(|| u32::try_from(n + 1).unwrap_or(u32::MAX));
            let title = format!("{}-{test_id}", file.rule_id);
            if filter.is_some_and(|f| !title.contains(f)) {
                continue;
            }
            let mut result = TestResult {
                file: file.path.clone(),
                title,
                outcome: Outcome::Pass,
                why: None,
                diff: None,
            };
            if test.stages.is_empty() {
                result.outcome = Outcome::Skipped;
                result.why = Some("no stages".to_string());
            }
            for (i, stage) in test.stages.iter().enumerate() {
                let (outcome, why, diff) = judge(settings, stage, &mut tx);
                if outcome != Outcome::Pass {
                    result.outcome = outcome;
                    result.why = why.map(|w| {
                        if test.stages.len() > 1 {
                            format!("stage {}: {w}", i + 1)
                        } else {
                            w
                        }
                    });
                    result.diff = diff;
                    break;
                }
                result.diff = diff;
            }
            results.push(result);
        }
    }
    results
}

fn judge(
    settings: &Settings,
    stage: &format::Stage,
    tx: &mut Transaction,
) -> (Outcome, Option<String>, Option<IdDiff>) {
    let out = &stage.output;
    let (expected, forbidden) = (out.expected_ids(), out.forbidden_ids());
    let wants_error = out.expect_error == Some(true);
    if expected.is_empty() && forbidden.is_empty() && !wants_error {
        return (
            Outcome::Skipped,
            Some(
                "no rule-id expectation (status, log and response checks need Envoy: palisade-ftw)"
                    .to_string(),
            ),
            None,
        );
    }
    let request = request::request_bytes(&stage.input, "", "")
        .and_then(|bytes| crate::explain::input::from_raw(&bytes).map_err(|e| e.to_string()));
    let request = match (request, wants_error) {
        (Err(_), true) => return (Outcome::Pass, None, None),
        (Err(e), false) => {
            return (
                Outcome::Fail,
                Some(format!("request cannot be read: {e}")),
                None,
            )
        }
        (Ok(_), true) if expected.is_empty() && forbidden.is_empty() => {
            return (
                Outcome::Skipped,
                Some("expects a connection error, which only a gateway produces".to_string()),
                None,
            )
        }
        (Ok(r), _) => r,
    };
    // Albedo's `/reflect` answers with the response the body describes;
    // any other request gets albedo's plain 200.
    let reflected = if reflect::is_reflect(&request.method, &request.uri) {
        reflect::Reflected::from_request_body(request.body.as_deref().unwrap_or_default())
    } else {
        reflect::Reflected::from_request_body(b"{}")
    };
    let response = ResponseData {
        status: reflected.status.to_string().into_bytes(),
        protocol: b"HTTP/1.1".to_vec(),
        headers: reflected
            .headers
            .into_iter()
            .map(|(n, v)| Header::new(n.to_ascii_lowercase().into_bytes(), v.into_bytes()))
            .collect(),
        body: reflected.body,
    };
    let verdict =
        crate::explain::explain_exchange(settings, &request, Some(response), None, tx).verdict;
    let mut matched: Vec<u32> = verdict.matches.iter().map(|m| m.rule_id.0).collect();
    matched.sort_unstable();
    matched.dedup();
    let diff = IdDiff {
        expected,
        forbidden,
        matched,
    };
    if diff.passed() {
        (Outcome::Pass, None, Some(diff))
    } else {
        (Outcome::Fail, Some(diff.to_string()), Some(diff))
    }
}
