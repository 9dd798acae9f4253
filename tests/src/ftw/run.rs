//! Runs loaded test files against a gateway and judges each stage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use regex_automata::meta::Regex;

use super::format::{LoadedFile, Output, Stage};
use super::overrides::{Action, Overrides};
use super::verdicts::{Verdict, VerdictLog};
use super::wire;
use crate::Gateway;

/// How a test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// An override skips it.
    Skipped,
    /// It failed, and an override says it is expected to.
    ExpectedFailure,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TestResult {
    pub file: String,
    pub rule_id: u32,
    pub test_id: u32,
    /// `rule_id-test_id`, what `--include` / `--exclude` match.
    pub title: String,
    pub outcome: Outcome,
    /// Why it failed (also for expected failures).
    pub why: Option<String>,
    /// The override's reason when one applied.
    pub override_reason: Option<String>,
    /// Status and rule ids of the last stage run.
    pub status: Option<u16>,
    pub ids: Vec<u32>,
}

/// Which tests to run: `--include` / `--exclude` regexes over the title.
#[derive(Default)]
pub struct Filter {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
}

impl Filter {
    fn wants(&self, title: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(title))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(title))
    }
}

/// Socket timeout per request: a request the gateway waits on (a body
/// shorter than its Content-Length) must not stall the run for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the marker request's verdict may take to appear.
const MARKER_TIMEOUT: Duration = Duration::from_secs(5);

/// Unique request ids across runners in one process.
fn next_id(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What one stage produced.
struct Observed {
    status: Option<u16>,
    error: Option<String>,
    body: String,
    verdict: Verdict,
}

pub struct Runner<'a> {
    gateway: &'a Gateway,
    log: VerdictLog,
}

impl<'a> Runner<'a> {
    /// The gateway must log every request (`"log": "all"`).
    pub fn new(gateway: &'a Gateway) -> Result<Runner<'a>, String> {
        Ok(Runner {
            gateway,
            log: VerdictLog::open(gateway.log_path())?,
        })
    }

    /// Runs every selected test of `files`. `Err` only when the runner
    /// itself cannot work (no verdict lines at all); test failures are results.
    pub fn run(
        &mut self,
        files: &[LoadedFile],
        overrides: &Overrides,
        filter: &Filter,
    ) -> Result<Vec<TestResult>, String> {
        let mut results = Vec::new();
        for loaded in files {
            for (index, test) in loaded.file.tests.iter().enumerate() {
                let test_id = test
                    .test_id
                    .unwrap_or_else(|| u32::try_from(index + 1).unwrap_or(u32::MAX));
                let title = format!("{}-{test_id}", loaded.rule_id);
                if !filter.wants(&title) {
                    continue;
                }
                let ov = overrides.find(loaded.rule_id, test_id);
                let mut result = TestResult {
                    file: loaded.path.display().to_string(),
                    rule_id: loaded.rule_id,
                    test_id,
                    title,
                    outcome: Outcome::Pass,
                    why: None,
                    override_reason: ov.map(|o| o.reason.clone()),
                    status: None,
                    ids: Vec::new(),
                };
                let replaced = match ov.map(|o| &o.action) {
                    Some(Action::Skip) => {
                        result.outcome = Outcome::Skipped;
                        results.push(result);
                        continue;
                    }
                    Some(Action::Output(o)) => Some(o.as_ref()),
                    _ => None,
                };
                let failure = self.run_stages(&test.stages, replaced, &mut result)?;
                let expect_failure = matches!(ov.map(|o| &o.action), Some(Action::ExpectFailure));
                result.outcome = match (failure, expect_failure) {
                    (None, false) => Outcome::Pass,
                    (None, true) => {
                        result.why = Some("passed, but an override expects it to fail".into());
                        Outcome::Fail
                    }
                    (Some(why), expected) => {
                        result.why = Some(why);
                        if expected {
                            Outcome::ExpectedFailure
                        } else {
                            Outcome::Fail
                        }
                    }
                };
                results.push(result);
            }
        }
        Ok(results)
    }

    /// Runs the stages in order; the first failing one ends the test.
    fn run_stages(
        &mut self,
        stages: &[Stage],
        replaced: Option<&Output>,
        result: &mut TestResult,
    ) -> Result<Option<String>, String> {
        let mut cookies = String::new();
        for (i, stage) in stages.iter().enumerate() {
            let expected = replaced.unwrap_or(&stage.output);
            let observed = match self.send(stage, &cookies)? {
                Ok(o) => o,
                Err(e) => return Ok(Some(format!("stage {}: {e}", i + 1))),
            };
            result.status = observed.obs.status;
            result.ids = observed.obs.verdict.ids.clone();
            if stage.input.save_cookie {
                cookies = observed.set_cookies.join("; ");
            }
            if let Err(why) = judge(expected, &observed.obs) {
                return Ok(Some(format!("stage {}: {why}", i + 1)));
            }
        }
        Ok(None)
    }

    /// Sends one stage. Outer `Err`: the runner is broken; inner `Err`: the
    /// stage's input is unusable (bad base64).
    fn send(&mut self, stage: &Stage, cookies: &str) -> Result<Result<Sent, String>, String> {
        let id = next_id("ftw");
        let bytes = match wire::request_bytes(&stage.input, &id, cookies) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let head = bytes.starts_with(b"HEAD ");
        let response = wire::exchange(self.gateway.port, &bytes, REQUEST_TIMEOUT, head);
        let verdict = self.verdict_for(&id)?;
        let (status, error, body, set_cookies) = match response {
            Ok(r) => {
                let set_cookies = r
                    .headers
                    .iter()
                    .filter(|(n, _)| n == "set-cookie")
                    .filter_map(|(_, v)| v.split(';').next().map(str::to_string))
                    .collect();
                let mut text: String = r
                    .headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {v}\r\n"))
                    .collect();
                text.push_str("\r\n");
                text.push_str(&r.text());
                (Some(r.status), None, text, set_cookies)
            }
            Err(e) => (None, Some(e), String::new(), Vec::new()),
        };
        Ok(Ok(Sent {
            set_cookies,
            obs: Observed {
                status,
                error,
                body,
                verdict: verdict.unwrap_or_default(),
            },
        }))
    }

    /// The verdict for `id`. When it is not logged yet, a marker request
    /// follows: Envoy runs one worker here, so once the marker's line is in
    /// the log, a line for `id` would be too. A request Envoy refused itself
    /// (a 400 from the codec) then reads as "no ids" without a long wait.
    fn verdict_for(&mut self, id: &str) -> Result<Option<Verdict>, String> {
        if let Some(v) = self.log.take(id)? {
            return Ok(Some(v));
        }
        let marker = next_id("ftw-marker");
        let bytes = format!(
            "GET /ftw-marker HTTP/1.1\r\nx-request-id: {marker}\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        );
        wire::exchange(self.gateway.port, bytes.as_bytes(), REQUEST_TIMEOUT, false)
            .map_err(|e| format!("the marker request failed: {e}"))?;
        if self.log.wait(&marker, MARKER_TIMEOUT)?.is_none() {
            return Err(
                "no palisade-verdict line for the marker request: the gateway must run with \"log\": \"all\""
                    .to_string(),
            );
        }
        self.log.take(id)
    }
}

/// A stage's observation plus the cookies it set (for `save_cookie`).
struct Sent {
    set_cookies: Vec<String>,
    obs: Observed,
}

/// Compares what a stage produced with what it should have; `Err` says why,
/// with the actual status and ids so a failure reads without a rerun.
fn judge(expected: &Output, seen: &Observed) -> Result<(), String> {
    let mut problems = Vec::new();
    match (expected.expect_error, &seen.error) {
        (Some(true), None) => problems.push("expected a connection error, got a response".into()),
        (Some(true), Some(_)) => return Ok(()),
        (_, Some(e)) => problems.push(format!("no response ({e})")),
        _ => {}
    }
    if let (Some(want), Some(got)) = (&expected.status, seen.status) {
        let want = want.list();
        if !want.contains(&got) {
            problems.push(format!("status {got}, expected one of {want:?}"));
        }
    }
    let ids = &seen.verdict.ids;
    let missing: Vec<u32> = expected
        .expected_ids()
        .into_iter()
        .filter(|i| !ids.contains(i))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("expected ids {missing:?} not logged"));
    }
    let unwanted: Vec<u32> = expected
        .forbidden_ids()
        .into_iter()
        .filter(|i| ids.contains(i))
        .collect();
    if !unwanted.is_empty() {
        problems.push(format!("ids {unwanted:?} logged, expected absent"));
    }
    if expected.isolated {
        let want = expected.expected_ids();
        let extra: Vec<u32> = ids.iter().copied().filter(|i| !want.contains(i)).collect();
        if !extra.is_empty() {
            problems.push(format!("isolated, but also logged {extra:?}"));
        }
    }
    // go-ftw's log regexes were written for ModSecurity's error log: each is
    // tried on the verdict's ModSecurity-style rendering (`[id "..."] [msg
    // "..."] [data "..."] [severity "..."]` per match, see
    // `verdicts::modsec_text`) and on the raw JSON line. `log_contains`
    // passes when either matches; `no_log_contains` fails when either does.
    let (must, must_not) = expected.log_patterns();
    let in_log = |p: &str| -> Result<bool, String> {
        Ok(regex_matches(p, &seen.verdict.modsec)? || regex_matches(p, &seen.verdict.line)?)
    };
    for p in must {
        if !in_log(p)? {
            problems.push(format!("log does not match {p:?}"));
        }
    }
    for p in must_not {
        if in_log(p)? {
            problems.push(format!("log matches {p:?}"));
        }
    }
    if let Some(p) = &expected.response_contains {
        if !regex_matches(p, &seen.body)? {
            problems.push(format!("response does not contain {p:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let status = seen.status.map_or("none".to_string(), |s| s.to_string());
        Err(format!(
            "{} (actual: status {status}, ids {ids:?})",
            problems.join("; ")
        ))
    }
}

fn regex_matches(pattern: &str, text: &str) -> Result<bool, String> {
    super::regex(pattern)
        .map(|r| r.is_match(text))
        .map_err(|e| format!("in the test: {e}"))
}
