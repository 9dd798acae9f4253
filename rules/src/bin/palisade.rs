//! `palisade`: compile and test Palisade rule files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use palisade_rules::{compile_native, inline_tests};

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
    Compile {
        /// Rule files or directories of `*.yaml`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
        Command::Compile { paths, output } => {
            let source = paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ");
            match compile_native(&paths, &source) {
                Ok((spec, _)) => {
                    let artifact = spec.to_artifact();
                    if let Err(e) = std::fs::write(&output, &artifact) {
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
                Err(errors) => {
                    eprintln!("{errors}");
                    ExitCode::FAILURE
                }
            }
        }
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
