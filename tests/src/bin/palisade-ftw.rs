//! go-ftw compatible regression runner: starts a gateway (test upstream,
//! Envoy, palisade.wasm with `"log": "all"`), runs go-ftw YAML tests
//! through it, prints failures, a per-file table and `N passed, M failed`,
//! writes a JSON report, and exits 1 when a test failed that no override
//! covers.
//!
//! palisade-ftw (--ruleset FILE.ruleset | --config CONFIG.json)... --tests DIR_OR_FILE...
//!   [--overrides FILE] [--include REGEX] [--exclude REGEX] [--report OUT.json]
//!   [--min-pass-percent P]
//!
//! `--min-pass-percent 99` exits 0 when at least 99% of the tests that ran
//! passed (overridden tests count as run, expected failures not as passes),
//! still listing every failure: the
//! full CRS suite's target.
//!
//! For CRS, run the ruleset in detect mode (a config with `"mode": "detect"`)
//! as CRS's README asks, so one early block does not hide later rules.

use std::fs;
use std::path::PathBuf;

use palisade_e2e::ftw::{self, report, Filter, Outcome, Overrides, Runner};
use palisade_e2e::Gateway;
use regex_automata::meta::Regex;

const USAGE: &str =
    "usage: palisade-ftw (--ruleset FILE | --config FILE)... --tests DIR_OR_FILE... \
[--overrides FILE] [--include REGEX] [--exclude REGEX] [--report OUT.json] [--min-pass-percent P]";

#[derive(Default)]
struct Args {
    ruleset: Option<PathBuf>,
    config: Option<PathBuf>,
    tests: Vec<PathBuf>,
    overrides: Option<PathBuf>,
    include: Option<String>,
    exclude: Option<String>,
    report: Option<PathBuf>,
    min_pass_percent: Option<f64>,
}

fn main() {
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("palisade-ftw: {e}");
            std::process::exit(2);
        }
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1).peekable();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--ruleset" => args.ruleset = Some(value()?.into()),
            "--config" => args.config = Some(value()?.into()),
            "--overrides" => args.overrides = Some(value()?.into()),
            "--include" => args.include = Some(value()?),
            "--exclude" => args.exclude = Some(value()?),
            "--report" => args.report = Some(value()?.into()),
            "--min-pass-percent" => {
                let v = value()?;
                let p: f64 = v
                    .parse()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or(format!("--min-pass-percent {v}: not a percentage (0..100)"))?;
                args.min_pass_percent = Some(p);
            }
            "--tests" => {
                args.tests.push(value()?.into());
                // Several paths may follow one --tests.
                while let Some(next) = it.next_if(|a| !a.starts_with("--")) {
                    args.tests.push(next.into());
                }
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.tests.is_empty() {
        return Err(format!("--tests is required\n{USAGE}"));
    }
    if args.ruleset.is_none() && args.config.is_none() {
        return Err(format!("give --ruleset and/or --config\n{USAGE}"));
    }
    Ok(args)
}

fn regex(flag: &str, pattern: Option<&str>) -> Result<Option<Regex>, String> {
    pattern
        .map(|p| ftw::regex(p).map_err(|e| format!("{flag}: {e}")))
        .transpose()
}

/// The test upstream sits next to this binary (same cargo target dir).
fn upstream_bin() -> Result<String, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let path = me.with_file_name("palisade-upstream");
    if path.exists() {
        Ok(path.to_string_lossy().into_owned())
    } else {
        Err(format!(
            "{} missing: build it with `cargo build -p palisade-e2e --bins`",
            path.display()
        ))
    }
}

fn run() -> Result<bool, String> {
    let args = parse_args()?;
    let base = args
        .config
        .as_ref()
        .map(|p| {
            let text = fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", p.display()))
        })
        .transpose()?;
    let ruleset = args
        .ruleset
        .as_ref()
        .map(|p| fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())))
        .transpose()?;
    let config = ftw::plugin_config(base, ruleset.as_deref())?;
    let overrides = match &args.overrides {
        Some(p) => Overrides::load(p)?,
        None => Overrides::default(),
    };
    let filter = Filter {
        include: regex("--include", args.include.as_deref())?,
        exclude: regex("--exclude", args.exclude.as_deref())?,
    };
    let files = ftw::load_all(&args.tests)?;
    let total: usize = files.iter().map(|f| f.file.tests.len()).sum();
    eprintln!(
        "palisade-ftw: {} files, {total} tests; starting the gateway",
        files.len()
    );

    let gateway = Gateway::start(&upstream_bin()?, &config)?;
    let started = proc_status_kib(gateway.envoy_pid());
    let results = Runner::new(&gateway)?.run(&files, &overrides, &filter)?;
    let after = proc_status_kib(gateway.envoy_pid());

    print!("{}", report::text(&results));
    // Envoy's memory with this ruleset loaded (one wasm VM per worker plus
    // the main thread's): compare with a run on another ruleset to see the
    // ruleset's share.
    if let (Some((rss, _)), Some((rss_end, hwm))) = (started, after) {
        println!(
            "envoy memory: RSS {} MiB after start, {} MiB after the run, peak {} MiB",
            rss / 1024,
            rss_end / 1024,
            hwm / 1024
        );
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report::json(&results))
            .map_err(|e| format!("encoding the report: {e}"))?;
        fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let failed = results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .count();
    // Expected failures are not passes: the rate counts real passes only.
    let passed = results
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    let ran = results
        .iter()
        .filter(|r| r.outcome != Outcome::Skipped)
        .count();
    match args.min_pass_percent {
        None => Ok(failed == 0),
        Some(min) => {
            let percent = if ran == 0 {
                0.0
            } else {
                100.0 * passed as f64 / ran as f64
            };
            println!("pass rate {percent:.2}% (required {min}%)");
            Ok(percent >= min)
        }
    }
}

/// (VmRSS, VmHWM) of a process in KiB, from /proc.
fn proc_status_kib(pid: u32) -> Option<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
