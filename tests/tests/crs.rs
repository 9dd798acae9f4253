//! OWASP CRS v4 in Palisade, proven by CRS's own regression tests through a
//! real Envoy: CRS (test data at ../shared/crs, or $PALISADE_CRS) compiled
//! with `palisade_rules::compile_seclang` at paranoia level 4, detection
//! only, with CRS's test settings and the Envoy overrides.
//!
//! This is the fast subset the default test command runs: every tenth test
//! file of the suite (a few hundred tests across every rule family), all of
//! which must pass. The full suite, gated at 99%, is
//! `scripts/crs-regression.sh` (CI runs it too).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use palisade_e2e::ftw::{self, report, Filter, Outcome, Overrides, Runner};
use palisade_e2e::{workspace_root, Gateway};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

fn crs_dir() -> PathBuf {
    let dir = std::env::var_os("PALISADE_CRS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/crs"));
    assert!(
        dir.join("rules").is_dir() && dir.join("tests/regression/tests").is_dir(),
        "no CRS checkout at {} (set PALISADE_CRS to one with rules/ and tests/regression/tests/)",
        dir.display()
    );
    dir
}

fn sorted(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn compile_crs(crs: &Path) -> Vec<u8> {
    let mut paths = vec![
        crs.join("crs-setup.conf.example"),
        workspace_root().join("tests/crs/crs-test-settings.conf"),
    ];
    paths.extend(sorted(&crs.join("rules"), "conf"));
    let (spec, _) = palisade_rules::compile_seclang(&paths, "OWASP CRS", false)
        .unwrap_or_else(|e| panic!("CRS does not compile: {e}"));
    spec.to_artifact()
}

#[test]
fn crs_regression_fast_subset_passes_through_envoy() {
    let crs = crs_dir();
    let artifact = compile_crs(&crs);
    let config = ftw::plugin_config(
        Some(serde_json::json!({"mode": "detect", "paranoia_level": 4})),
        Some(&artifact),
    )
    .unwrap();
    let gateway = Gateway::start(UPSTREAM, &config).unwrap();
    let subset: Vec<PathBuf> = sorted(&crs.join("tests/regression/tests"), "yaml")
        .into_iter()
        .step_by(10)
        .collect();
    let files = ftw::load_all(&subset).unwrap();
    let overrides = Overrides::load(&workspace_root().join("tests/crs/overrides.yaml")).unwrap();
    let results = Runner::new(&gateway)
        .unwrap()
        .run(&files, &overrides, &Filter::default())
        .unwrap();
    let text = report::text(&results);
    println!("{text}");
    let ran = results
        .iter()
        .filter(|r| r.outcome != Outcome::Skipped)
        .count();
    assert!(
        ran >= 300,
        "the subset should be a few hundred tests, ran {ran}"
    );
    assert!(
        results.iter().all(|r| r.outcome != Outcome::Fail),
        "CRS regression subset failures:\n{text}"
    );
}
