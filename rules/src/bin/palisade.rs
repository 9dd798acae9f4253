//! `palisade`: compile and test Palisade rule files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use palisade_rules::{compile_native, compile_seclang, inline_tests};

#[derive(Parser)]
#[command(
    name = "palisade",
    version,
    about = "Compile and test Palisade WAF rules"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile native YAML rule files into a ruleset artifact the filter loads.
    ///
    /// Example: palisade compile rules/builtin my-rules/ -o my.ruleset
    ///
    /// SecLang (ModSecurity / OWASP CRS) files are compiled with `--seclang`,
    /// in the order given; put `crs-setup.conf` first and your exclusion
    /// files where CRS documents them (before or after its rules):
    ///
    ///   palisade compile --seclang crs/crs-setup.conf crs/rules/*.conf -o crs.ruleset
    Compile {
        /// Native rule files or directories of `*.yaml`.
        paths: Vec<PathBuf>,
        /// SecLang files (`Include` is followed), compiled after the native rules.
        #[arg(long, num_args = 1..)]
        seclang: Vec<PathBuf>,
        /// Report unsupported SecLang directives, variables, operators and
        /// actions as warnings and leave out what they apply to, instead of failing.
        #[arg(long)]
        allow_unsupported: bool,
        /// Where to write the artifact.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Run the inline `tests:` of rule files; exits non-zero on any failure.
    ///
    /// Example: palisade test rules/builtin --rule 107
    Test {
        /// Rule files or directories of `*.yaml`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Only rules whose id contains this.
        #[arg(long)]
        rule: Option<String>,
        /// Fail when a rule has no tests.
        #[arg(long)]
        require_tests: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Compile {
            paths,
            seclang,
            allow_unsupported,
            output,
        } => compile(&paths, &seclang, allow_unsupported, &output),
        Command::Test {
            paths,
            rule,
            require_tests,
        } => {
            let files = match compile_native(&paths, "") {
                Ok((_, files)) => files,
                Err(errors) => {
                    eprintln!("{errors}");
                    return ExitCode::FAILURE;
                }
            };
            let report = inline_tests::run(&files, rule.as_deref());
            for f in &report.failures {
                println!("FAIL {f}");
            }
            for (file, line, id) in &report.untested {
                println!(
                    "{} {}:{line}: rule {id} has no tests",
                    if require_tests { "FAIL" } else { "warn" },
                    file.display()
                );
            }
            let failed = report.failures.len()
                + if require_tests {
                    report.untested.len()
                } else {
                    0
                };
            println!("{} passed, {} failed", report.passed, failed);
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn compile(
    native: &[PathBuf],
    seclang: &[PathBuf],
    allow_unsupported: bool,
    output: &std::path::Path,
) -> ExitCode {
    if native.is_empty() && seclang.is_empty() {
        eprintln!("error: give native rule paths, `--seclang` files, or both");
        return ExitCode::FAILURE;
    }
    let source = native
        .iter()
        .chain(seclang)
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut spec = palisade_engine::RulesetSpec {
        source: source.clone(),
        ..Default::default()
    };
    if !native.is_empty() {
        match compile_native(native, &source) {
            Ok((s, _)) => spec.rules = s.rules,
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !seclang.is_empty() {
        match compile_seclang(seclang, &source, allow_unsupported) {
            Ok((s, report)) => {
                for note in &report.notes {
                    eprintln!("note: {note}");
                }
                for warning in &report.warnings {
                    eprintln!("warning: {warning}");
                }
                // Markers count positions from the start of the rule list.
                let offset = u32::try_from(spec.rules.len()).unwrap_or(u32::MAX);
                spec.markers = s
                    .markers
                    .into_iter()
                    .map(|mut m| {
                        m.position = m.position.saturating_add(offset);
                        m
                    })
                    .collect();
                spec.rules.extend(s.rules);
                spec.policy_vars = s.policy_vars;
            }
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = spec.compile() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let artifact = spec.to_artifact();
    if let Err(e) = std::fs::write(output, &artifact) {
        eprintln!("error: cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{} rules → {} ({} bytes)",
        spec.rules.len(),
        output.display(),
        artifact.len()
    );
    ExitCode::SUCCESS
}
