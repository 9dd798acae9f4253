//! Engine micro-benchmarks (native, criterion): time per request for the
//! same mixes the Envoy runner sends, and bytes per second for transforms and
//! operators. Run with `cargo bench -p palisade-bench --bench engine`; see
//! bench/README.md for figures and how to compare commits.
//!
//! Rulesets: the built-in rules always; OWASP CRS at paranoia 1 and 4 when
//! a CRS checkout is at `../shared/crs` or `$PALISADE_CRS` (benchmark data,
//! never part of the repository).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_bench::{inspect, Mix};
use palisade_engine::config::{self, Settings};
use palisade_engine::operator::{Operator, OperatorSpec};
use palisade_engine::transform::Transform;
use palisade_engine::Transaction;
use palisade_rules::{builtin_dir, compile_native, compile_seclang};

fn builtin_artifact() -> Vec<u8> {
    match compile_native(&[builtin_dir()], "built-in") {
        Ok((spec, _)) => spec.to_artifact(),
        Err(e) => {
            eprintln!("built-in rules do not compile: {e}");
            std::process::exit(1);
        }
    }
}

/// The CRS checkout to benchmark, if there is one.
fn crs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PALISADE_CRS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs"));
    dir.join("rules").is_dir().then_some(dir)
}

fn crs_artifact(dir: &Path) -> Option<Vec<u8>> {
    let mut paths = vec![dir.join("crs-setup.conf.example")];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    rules.sort();
    paths.extend(rules);
    match compile_seclang(&paths, "crs", false) {
        Ok((spec, _)) => Some(spec.to_artifact()),
        Err(e) => {
            eprintln!(
                "CRS at {} does not compile, skipping it: {e}",
                dir.display()
            );
            None
        }
    }
}

fn load(config: &str, artifact: &[u8]) -> Settings {
    match config::load(config.as_bytes(), artifact) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration refused: {e}");
            std::process::exit(1);
        }
    }
}

fn rulesets() -> Vec<(&'static str, Settings)> {
    let builtin = builtin_artifact();
    let mut out = vec![("builtin", load("{}", &builtin))];
    if let Some(crs) = crs_dir().and_then(|d| crs_artifact(&d)) {
        out.push(("crs-pl1", load(r#"{"paranoia_level": 1}"#, &crs)));
        out.push(("crs-pl4", load(r#"{"paranoia_level": 4}"#, &crs)));
    } else {
        eprintln!("no CRS checkout (set PALISADE_CRS): CRS benchmarks skipped");
    }
    for (name, settings) in &out {
        let p = settings.engine.prefilter_stats();
        eprintln!(
            "{name}: {} rules; prefilter covers {} regexes and {} phrase lists with {} regex sets and a literal automaton for {} chains ({} more on values as received) and {} multiMatch conditions' values as received, {} KiB",
            settings.engine.rules().len(),
            p.regexes,
            p.phrase_lists,
            p.sets,
            p.literal_chains,
            p.as_received_chains,
            p.multi_match,
            p.bytes / 1024
        );
    }
    out
}

fn requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    group.measurement_time(Duration::from_secs(3));
    for (name, settings) in rulesets() {
        for mix in Mix::ALL {
            let reqs = mix.requests();
            let bytes: usize = reqs.iter().map(|r| r.body.len() + r.path.len()).sum();
            group.throughput(Throughput::Bytes((bytes / reqs.len()) as u64));
            group.bench_with_input(BenchmarkId::new(name, mix.name()), &reqs, |b, reqs| {
                let mut i = 0;
                let mut tx = Transaction::new();
                b.iter(|| {
                    i = (i + 1) % reqs.len();
                    black_box(inspect(&settings, &reqs[i], &mut tx))
                })
            });
        }
    }
    group.finish();
}

/// 4 KB of mixed text: encodings, markup, SQL-ish words and plain prose.
fn sample_input() -> Vec<u8> {
    let unit = b"name=J%C3%BCrgen+O%27Brien&q=select+the+best+%3Cb%3Eoffer%3C%2Fb%3E \
&#60;script&#62; /a/./b/../c \\x41\\u0042 /* note */ plain words here; ";
    unit.iter().copied().cycle().take(4096).collect()
}

fn transforms(c: &mut Criterion) {
    let input = sample_input();
    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for t in Transform::ALL {
        group.bench_function(t.name(), |b| {
            b.iter(|| black_box(t.apply(black_box(&input))))
        });
    }
    group.finish();
}

fn operators(c: &mut Criterion) {
    let input = sample_input();
    let specs = [
        (
            "rx",
            OperatorSpec::Rx(r"(?i)\b(?:union\s+all\s+select|sleep\s*\(\s*\d)".to_string()),
        ),
        (
            "pm",
            OperatorSpec::Pm(
                ["/etc/passwd", "cmd.exe", "<?php", "javascript:", "onerror="]
                    .map(str::to_string)
                    .to_vec(),
            ),
        ),
        ("detectSQLi", OperatorSpec::DetectSqli),
        ("detectXSS", OperatorSpec::DetectXss),
        (
            "validateByteRange",
            OperatorSpec::ValidateByteRange("1-255".to_string()),
        ),
    ];
    let mut group = c.benchmark_group("operator");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for (name, spec) in specs {
        let Ok(op) = Operator::compile(&spec) else {
            eprintln!("operator {name} does not compile");
            continue;
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(op.evaluate(black_box(&input))))
        });
    }
    group.finish();
}

fn ruleset_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("ruleset-load");
    group.sample_size(10);
    let builtin = builtin_artifact();
    group.bench_function("builtin", |b| b.iter(|| black_box(load("{}", &builtin))));
    if let Some(crs) = crs_dir().and_then(|d| crs_artifact(&d)) {
        group.bench_function("crs", |b| b.iter(|| black_box(load("{}", &crs))));
    }
    group.finish();
}

criterion_group!(benches, requests, transforms, operators, ruleset_load);
criterion_main!(benches);
