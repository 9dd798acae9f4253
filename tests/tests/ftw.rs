//! The go-ftw runner against the built-in rules: the fixtures in tests/ftw/
//! through a real Envoy, with exact per-test outcomes (including tests that
//! must fail and overrides), the palisade-ftw binary end to end, and parsing
//! of the whole CRS regression suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use palisade_e2e::ftw::{self, report, Filter, Outcome, Overrides, Runner};
use palisade_e2e::{workspace_root, Gateway};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");
const FTW: &str = env!("CARGO_BIN_EXE_palisade-ftw");

fn fixtures() -> PathBuf {
    workspace_root().join("tests/ftw")
}

fn overrides_path() -> PathBuf {
    workspace_root().join("tests/ftw-overrides.yaml")
}

#[test]
fn fixtures_give_exact_outcomes() {
    let config = ftw::plugin_config(None, None).unwrap();
    let gateway = Gateway::start(UPSTREAM, &config).unwrap();
    let files = ftw::load_all(&[fixtures()]).unwrap();
    let overrides = Overrides::load(&overrides_path()).unwrap();
    let results = Runner::new(&gateway)
        .unwrap()
        .run(&files, &overrides, &Filter::default())
        .unwrap();
    let text = report::text(&results);
    println!("{text}");
    let got: Vec<(String, Outcome)> = results
        .iter()
        .map(|r| (r.title.clone(), r.outcome))
        .collect();
    let want: Vec<(String, Outcome)> = [
        ("100100-1", Outcome::Pass),
        ("100100-2", Outcome::Pass),
        ("100100-3", Outcome::Pass),
        ("100100-4", Outcome::Pass),
        ("107100-1", Outcome::Pass),
        ("107100-2", Outcome::Pass),
        ("107100-3", Outcome::Pass),
        ("107100-4", Outcome::Pass),
        ("999100-1", Outcome::Fail),
        ("999100-2", Outcome::Pass),
        ("999100-3", Outcome::ExpectedFailure),
        ("999100-4", Outcome::Skipped),
        ("999001-1", Outcome::Pass),
        ("999001-2", Outcome::Pass),
    ]
    .into_iter()
    .map(|(t, o)| (t.to_string(), o))
    .collect();
    assert_eq!(got, want, "{text}");

    let fail = &results[8];
    let why = fail.why.as_deref().unwrap();
    assert!(why.contains("status 200, expected one of [403]"), "{why}");
    assert!(why.contains("expected ids [107100] not logged"), "{why}");
    assert_eq!(
        results[10].override_reason.as_deref(),
        Some("Deliberate known failure")
    );
    assert!(text.contains("11 passed, 1 failed (1 skipped by override, 1 expected failures)"));
    // The encoded_request case was correlated with its verdict.
    assert!(results[6].ids.contains(&107100), "{:?}", results[6].ids);
}

#[test]
fn include_and_exclude_select_by_title() {
    let config = ftw::plugin_config(None, None).unwrap();
    let gateway = Gateway::start(UPSTREAM, &config).unwrap();
    let files = ftw::load_all(&[fixtures().join("107100.yaml")]).unwrap();
    let filter = Filter {
        include: Some(ftw::regex("^107100-").unwrap()),
        exclude: Some(ftw::regex("-[34]$").unwrap()),
    };
    let results = Runner::new(&gateway)
        .unwrap()
        .run(&files, &Overrides::default(), &filter)
        .unwrap();
    let titles: Vec<&str> = results.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["107100-1", "107100-2"]);
}

#[test]
fn binary_reports_and_exits_nonzero_on_failure() {
    let dir = std::env::temp_dir().join(format!("palisade-ftw-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    std::fs::write(&config, r#"{"mode": "block"}"#).unwrap();
    let report_path = dir.join("report.json");
    let run = |tests: &str| {
        std::process::Command::new(FTW)
            .arg("--config")
            .arg(&config)
            .arg("--tests")
            .arg(fixtures().join(tests))
            .arg("--overrides")
            .arg(overrides_path())
            .arg("--report")
            .arg(&report_path)
            .output()
            .unwrap()
    };
    let out = run("fail");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["tests"][0]["outcome"], "fail");

    let out = run("107100.yaml");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The whole CRS regression suite parses (and nothing is silently dropped).
#[test]
fn parses_every_crs_regression_test() {
    let dir = workspace_root().join("../shared/crs/tests/regression/tests");
    assert!(
        dir.is_dir(),
        "{} is missing: the CRS checkout is expected at ../shared/crs relative to the workspace root",
        dir.display()
    );
    let files = ftw::load_all(&[dir]).unwrap();
    let tests: usize = files.iter().map(|f| f.file.tests.len()).sum();
    // 5003 test entries in 322 files (PyYAML counts the same; 920539.yaml is empty).
    assert_eq!(tests, 5003);
    assert!(files.iter().all(|f| f.rule_id > 0));
    let stages: usize = files
        .iter()
        .flat_map(|f| &f.file.tests)
        .map(|t| t.stages.len())
        .sum();
    assert!(stages >= tests);
}

#[test]
fn crs_coraza_overrides_parse() {
    let path = workspace_root().join("../shared/crs/tests/regression/coraza-overrides.yaml");
    assert!(path.is_file(), "{} is missing", path.display());
    let overrides = Overrides::load(&path).unwrap();
    assert!(overrides.find(920100, 4).is_some());
    assert!(overrides.find(920100, 1).is_none());
}

#[test]
fn override_without_reason_is_refused() {
    let err = Overrides::parse("test_overrides:\n  - rule_id: 1\n    test_ids: [1]\n").unwrap_err();
    assert!(err.contains("`reason` is required"), "{err}");
}
