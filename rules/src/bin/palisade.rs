//! `palisade`: compile, test and lint Palisade rule files, and propose
//! exclusions from the filter's detection log.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use palisade_rules::check::{self, Level, Limits};
use palisade_rules::{compile_native, compile_ruleset, explain, ftw, inline_tests, tune};

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
        /// Summary format (rules per phase and paranoia level, automata
        /// sizes, warnings, compile time).
        #[arg(long, value_enum, default_value_t = ExplainFormat::Human)]
        format: ExplainFormat,
    },
    /// Run the inline `tests:` of rule files and, with `--ftw`, go-ftw test
    /// files (OWASP CRS's `tests/regression/tests/**.yaml` format) against
    /// the ruleset, in-process; exits non-zero on any failure. A failure
    /// shows the rule ids expected and matched, e.g. `expected [942100],
    /// matched []: missing -942100, unexpected +`.
    ///
    /// go-ftw stages are judged on their rule ids (`expect_ids`,
    /// `no_expect_ids`); stages checking only status, log or response need
    /// Envoy (`palisade-ftw`) and are skipped. The ruleset is `--ruleset`, or
    /// the native paths and `--seclang` files compiled; `--config` sets the
    /// policy (CRS's tests assume `"paranoia_level": 4`).
    ///
    /// Examples:
    ///
    ///   palisade test rules/builtin --rule 107
    ///
    ///   palisade test --seclang crs/crs-setup.conf crs/rules/*.conf --config pl4.json --ftw crs/tests/regression/tests/REQUEST-942-APPLICATION-ATTACK-SQLI
    #[command(verbatim_doc_comment)]
    Test {
        /// Native rule files or directories of `*.yaml`: their inline tests run.
        #[arg(required_unless_present = "ftw")]
        paths: Vec<PathBuf>,
        /// go-ftw YAML files or directories (searched recursively).
        #[arg(long, num_args = 1..)]
        ftw: Vec<PathBuf>,
        /// SecLang files added to the ruleset the go-ftw tests run against.
        #[arg(long, num_args = 1..)]
        seclang: Vec<PathBuf>,
        /// Leave out unsupported SecLang (as `compile --allow-unsupported`).
        #[arg(long)]
        allow_unsupported: bool,
        /// A compiled ruleset for the go-ftw tests, instead of rule files.
        #[arg(long, conflicts_with = "seclang")]
        ruleset: Option<PathBuf>,
        /// Plugin configuration JSON for the go-ftw tests (paranoia_level...).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only rules whose id contains this (go-ftw: `RULE-TEST` titles).
        #[arg(long)]
        rule: Option<String>,
        /// Fail when a rule has no tests.
        #[arg(long)]
        require_tests: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExplainFormat::Human)]
        format: ExplainFormat,
    },
    /// Lint rules: duplicate ids, unreachable rules, regexes with huge
    /// automata, targets that never hold data, redundant or self-undoing
    /// transform chains, native rules without tests. Exits non-zero when any
    /// finding is an error. Lint codes are listed in rules/README.md.
    ///
    /// Examples:
    ///
    ///   palisade check rules/builtin my-rules/
    ///
    ///   palisade check --seclang crs/crs-setup.conf crs/rules/*.conf --format sarif > palisade.sarif
    Check {
        /// Native rule files or directories of `*.yaml`.
        paths: Vec<PathBuf>,
        /// SecLang files, compiled in the order given (as `palisade compile`).
        #[arg(long, num_args = 1..)]
        seclang: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        /// Report regexes whose NFA has more states than this (P003).
        #[arg(long, default_value_t = Limits::default().max_nfa_states)]
        max_nfa_states: usize,
        /// Also build each regex's dense DFA and report those above this many
        /// bytes (P003). Off by default: slow on large rule sets.
        #[arg(long)]
        max_dfa_bytes: Option<usize>,
    },
    /// Propose exclusions from Palisade's detection log (`palisade-verdict`
    /// lines in Envoy's log; other lines are skipped). Matches are grouped by
    /// rule id and matched variable, scoped to the path prefix they share.
    ///
    /// Examples:
    ///
    ///   palisade tune envoy.log --min-count 20 > exclusions.yaml
    ///
    ///   kubectl logs deploy/gateway | palisade tune - --format seclang
    Tune {
        /// Log files; `-` reads standard input.
        #[arg(required = true)]
        logfiles: Vec<PathBuf>,
        /// Propose an exclusion only for groups seen at least this often.
        #[arg(long, default_value_t = 5)]
        min_count: usize,
        /// `yaml`: plugin-config `exclusions`; `json`: the same as JSON;
        /// `seclang`: SecRuleUpdateTargetById / ctl rules.
        #[arg(long, value_enum, default_value_t = TuneFormat::Yaml)]
        format: TuneFormat,
        /// First id of the generated SecLang `ctl` rules.
        #[arg(long, default_value_t = 10_000)]
        first_id: u32,
    },
    /// Explain why a request is blocked or passes: the decision and score,
    /// and for each rule that matched (in evaluation order) the variable,
    /// the value after every transform step, the matched fragment and the
    /// running anomaly score. `--rule ID` traces one rule condition by
    /// condition, value by value, also when it did not match.
    ///
    /// The request comes from exactly one of `--raw`, `--curl`, `--har`.
    /// Rules: native paths and/or `--seclang` files (as `palisade compile`),
    /// or `--ruleset` artifact; with none, the built-in rules of this source
    /// tree. `--config` is the plugin configuration (paranoia, threshold,
    /// exclusions, body limits), default when absent.
    ///
    /// Examples:
    ///
    ///   palisade explain --raw req.http
    ///
    ///   palisade explain --curl "curl -X POST -H 'Content-Type: application/json' -d '{\"q\":\"1 or 1=1\"}' 'http://shop/search?id=1'"
    ///
    ///   palisade explain --har export.har --entry 3 --rule 107100
    ///
    ///   palisade explain --seclang crs/crs-setup.conf crs/rules/*.conf --config plugin-config.json --raw req.http --format json
    #[command(verbatim_doc_comment)]
    Explain {
        /// Native rule files or directories of `*.yaml`.
        paths: Vec<PathBuf>,
        /// SecLang files, compiled in the order given (as `palisade compile`).
        #[arg(long, num_args = 1..)]
        seclang: Vec<PathBuf>,
        /// A compiled ruleset artifact (`palisade compile -o`), instead of rule files.
        #[arg(long, conflicts_with_all = ["paths", "seclang"])]
        ruleset: Option<PathBuf>,
        /// Plugin configuration JSON (paranoia_level, exclusions, request_body...).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A raw HTTP/1.1 request: request line, headers, blank line, body.
        #[arg(long, group = "input")]
        raw: Option<PathBuf>,
        /// A curl command line (one argument; `@FILE` reads it from a file).
        /// Understands -X, -H, -d/--data/--data-raw/--data-binary/--data-urlencode
        /// (with @file), -G, -b, -A, -e and the URL; other options are refused.
        #[arg(long, group = "input", allow_hyphen_values = true)]
        curl: Option<String>,
        /// A HAR file (browser devtools export); see `--entry`.
        #[arg(long, group = "input")]
        har: Option<PathBuf>,
        /// Which of the HAR's `log.entries` to explain, from 0.
        #[arg(long, default_value_t = 0, requires = "har")]
        entry: usize,
        /// Trace this rule: each condition, each value, each transform step
        /// and the operator's result; says when the rule is disabled.
        #[arg(long)]
        rule: Option<u32>,
        /// The Envoy route name the request would match, for `policies`
        /// scoped by `routes` (hosts and paths come from the request).
        #[arg(long)]
        route: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExplainFormat::Human)]
        format: ExplainFormat,
        /// No ANSI colour (the default when stdout is not a terminal); the
        /// matched fragment is shown between « ».
        #[arg(long)]
        no_color: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExplainFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Human,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum TuneFormat {
    Yaml,
    Json,
    Seclang,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Compile {
            paths,
            seclang,
            allow_unsupported,
            output,
            format,
        } => compile(&paths, &seclang, allow_unsupported, &output, format),
        Command::Test {
            paths,
            ftw,
            seclang,
            allow_unsupported,
            ruleset,
            config,
            rule,
            require_tests,
            format,
        } => run_test(&TestArgs {
            paths,
            ftw,
            seclang,
            allow_unsupported,
            ruleset,
            config,
            rule,
            require_tests,
            format,
        }),
        Command::Check {
            paths,
            seclang,
            format,
            max_nfa_states,
            max_dfa_bytes,
        } => run_check(
            &paths,
            &seclang,
            format,
            Limits {
                max_nfa_states,
                max_dfa_bytes,
            },
        ),
        Command::Tune {
            logfiles,
            min_count,
            format,
            first_id,
        } => run_tune(&logfiles, min_count, format, first_id),
        Command::Explain {
            paths,
            seclang,
            ruleset,
            config,
            raw,
            curl,
            har,
            entry,
            rule,
            route,
            format,
            no_color,
        } => {
            let input = match (raw, curl, har) {
                (Some(p), _, _) => ExplainInput::Raw(p),
                (_, Some(c), _) => ExplainInput::Curl(c),
                (_, _, Some(p)) => ExplainInput::Har(p, entry),
                _ => {
                    eprintln!("error: give the request with --raw, --curl or --har");
                    return ExitCode::FAILURE;
                }
            };
            run_explain(
                &paths,
                &seclang,
                ruleset.as_deref(),
                config.as_deref(),
                &input,
                rule,
                route,
                format,
                no_color,
            )
        }
    }
}

enum ExplainInput {
    Raw(PathBuf),
    Curl(String),
    Har(PathBuf, usize),
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[allow(clippy::too_many_arguments)]
fn run_explain(
    native: &[PathBuf],
    seclang: &[PathBuf],
    ruleset: Option<&std::path::Path>,
    config: Option<&std::path::Path>,
    input: &ExplainInput,
    rule: Option<u32>,
    route: Option<String>,
    format: ExplainFormat,
    no_color: bool,
) -> ExitCode {
    let request = match input {
        ExplainInput::Raw(p) => {
            read(p).and_then(|b| explain::input::from_raw(&b).map_err(|e| e.to_string()))
        }
        ExplainInput::Curl(c) => match c.strip_prefix('@') {
            Some(file) => {
                read(std::path::Path::new(file)).map(|b| String::from_utf8_lossy(&b).into_owned())
            }
            None => Ok(c.clone()),
        }
        .and_then(|c| explain::input::from_curl(&c).map_err(|e| e.to_string())),
        ExplainInput::Har(p, n) => read(p).and_then(|b| {
            explain::input::from_har(&String::from_utf8_lossy(&b), *n).map_err(|e| e.to_string())
        }),
    };
    let mut request = match request {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    request.route = route;
    let artifact = match ruleset {
        Some(path) => match read(path) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => {
            let builtin = [palisade_rules::builtin_dir()];
            let native = if native.is_empty() && seclang.is_empty() {
                &builtin[..]
            } else {
                native
            };
            match compile_ruleset(native, seclang, false) {
                Ok((spec, _)) => spec.to_artifact(),
                Err(errors) => {
                    eprintln!("{errors}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let config_json = match config.map(read).transpose() {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = match palisade_engine::config::load(&config_json, &artifact) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let explanation = explain::explain(&settings, &request, rule.map(palisade_engine::RuleId));
    match format {
        ExplainFormat::Human => {
            use std::io::IsTerminal;
            let color = !no_color
                && std::env::var_os("NO_COLOR").is_none()
                && std::io::stdout().is_terminal();
            print!("{}", explain::render::human(&explanation, color));
        }
        ExplainFormat::Json => println!("{:#}", explain::render::json(&explanation)),
    }
    match &explanation.rule {
        Some(t) if t.status == explain::RuleStatus::NotInRuleset => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    }
}

struct TestArgs {
    paths: Vec<PathBuf>,
    ftw: Vec<PathBuf>,
    seclang: Vec<PathBuf>,
    allow_unsupported: bool,
    ruleset: Option<PathBuf>,
    config: Option<PathBuf>,
    rule: Option<String>,
    require_tests: bool,
    format: ExplainFormat,
}

fn run_test(args: &TestArgs) -> ExitCode {
    let inline = if args.paths.is_empty() {
        inline_tests::Report::default()
    } else {
        match compile_native(&args.paths, "") {
            Ok((_, files)) => inline_tests::run(&files, args.rule.as_deref()),
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::FAILURE;
            }
        }
    };
    let ftw = if args.ftw.is_empty() {
        Vec::new()
    } else {
        match ftw_results(args) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let untested_fail = if args.require_tests {
        inline.untested.len()
    } else {
        0
    };
    let count = |o: ftw::Outcome| ftw.iter().filter(|r| r.outcome == o).count();
    let passed = inline.passed + count(ftw::Outcome::Pass);
    let failed = inline.failures.len() + untested_fail + count(ftw::Outcome::Fail);
    let skipped = count(ftw::Outcome::Skipped);
    match args.format {
        ExplainFormat::Human => {
            for f in &inline.failures {
                println!("FAIL {f}");
            }
            for (file, line, id) in &inline.untested {
                println!(
                    "{} {}:{line}: rule {id} has no tests",
                    if args.require_tests { "FAIL" } else { "warn" },
                    file.display()
                );
            }
            for r in &ftw {
                match r.outcome {
                    ftw::Outcome::Fail => println!("FAIL {r}"),
                    ftw::Outcome::Skipped => println!("skip {r}"),
                    ftw::Outcome::Pass => {}
                }
            }
            if skipped > 0 {
                println!("{passed} passed, {failed} failed, {skipped} skipped");
            } else {
                println!("{passed} passed, {failed} failed");
            }
        }
        ExplainFormat::Json => println!(
            "{:#}",
            serde_json::json!({
                "passed": passed,
                "failed": failed,
                "skipped": skipped,
                "failures": inline.failures.iter().map(inline_tests::Failure::json).collect::<Vec<_>>(),
                "untested": inline.untested.iter().map(|(f, l, id)| serde_json::json!({
                    "file": f.display().to_string(), "line": l, "rule_id": id,
                })).collect::<Vec<_>>(),
                "ftw": ftw.iter().map(ftw::TestResult::json).collect::<Vec<_>>(),
            })
        ),
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Loads the go-ftw files, builds the ruleset and policy, runs the tests.
fn ftw_results(args: &TestArgs) -> Result<Vec<ftw::TestResult>, String> {
    let files = ftw::load_all(&args.ftw)?;
    let artifact = match &args.ruleset {
        Some(path) => read(path)?,
        None if args.paths.is_empty() && args.seclang.is_empty() => {
            return Err("--ftw needs a ruleset: native paths, --seclang or --ruleset".into())
        }
        None => {
            let (spec, messages) =
                compile_ruleset(&args.paths, &args.seclang, args.allow_unsupported)
                    .map_err(|e| e.to_string())?;
            for m in messages.iter().filter(|m| m.starts_with("warning")) {
                eprintln!("{m}");
            }
            spec.to_artifact()
        }
    };
    let config = args.config.as_deref().map(read).transpose()?;
    let settings = palisade_engine::config::load(&config.unwrap_or_default(), &artifact)
        .map_err(|e| format!("configuration: {e}"))?;
    Ok(ftw::run(&settings, &files, args.rule.as_deref()))
}

fn run_check(
    native: &[PathBuf],
    seclang: &[PathBuf],
    format: CheckFormat,
    limits: Limits,
) -> ExitCode {
    if native.is_empty() && seclang.is_empty() {
        eprintln!("error: give native rule paths, `--seclang` files, or both");
        return ExitCode::FAILURE;
    }
    let findings = check::check(native, seclang, limits);
    match format {
        CheckFormat::Human => {
            for f in &findings {
                println!("{f}");
            }
            let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
            println!(
                "{} error(s), {} warning(s), {} note(s)",
                count(Level::Error),
                count(Level::Warning),
                count(Level::Note)
            );
        }
        CheckFormat::Json => println!("{:#}", check::to_json(&findings)),
        CheckFormat::Sarif => println!("{:#}", check::to_sarif(&findings)),
    }
    if findings.iter().any(|f| f.level == Level::Error) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn run_tune(logfiles: &[PathBuf], min_count: usize, format: TuneFormat, first_id: u32) -> ExitCode {
    let mut hits = Vec::new();
    for path in logfiles {
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        match text {
            Ok(t) => hits.extend(tune::hits(&t)),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let proposals = tune::propose(&hits, min_count);
    eprintln!(
        "{} rule match(es) read, {} exclusion(s) proposed (--min-count {min_count})",
        hits.len(),
        proposals.len()
    );
    match format {
        TuneFormat::Yaml => print!("{}", tune::to_yaml(&proposals)),
        TuneFormat::Json => println!(
            "{:#}",
            serde_json::json!({"exclusions": tune::exclusions_json(&proposals)})
        ),
        TuneFormat::Seclang => print!("{}", tune::to_seclang(&proposals, first_id)),
    }
    ExitCode::SUCCESS
}

fn compile(
    native: &[PathBuf],
    seclang: &[PathBuf],
    allow_unsupported: bool,
    output: &std::path::Path,
    format: ExplainFormat,
) -> ExitCode {
    if native.is_empty() && seclang.is_empty() {
        eprintln!("error: give native rule paths, `--seclang` files, or both");
        return ExitCode::FAILURE;
    }
    let started = std::time::Instant::now();
    let progress = Progress::start();
    let compiled =
        palisade_rules::compile_ruleset_engine(native, seclang, allow_unsupported, &|stage| {
            progress.stage(stage)
        });
    progress.finish();
    let (spec, engine, messages) = match compiled {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    for m in &messages {
        eprintln!("{m}");
    }
    let artifact = spec.to_artifact();
    if let Err(e) = std::fs::write(output, &artifact) {
        eprintln!("error: cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    let mut summary = palisade_rules::summary::Summary::new(&spec, &engine);
    summary.artifact_bytes = artifact.len();
    summary.messages = messages;
    summary.elapsed = started.elapsed();
    let output = output.display().to_string();
    match format {
        ExplainFormat::Human => print!("{}", summary.human(&output)),
        ExplainFormat::Json => println!("{:#}", summary.json(&output)),
    }
    ExitCode::SUCCESS
}

/// A one-line spinner on stderr (stage and elapsed time) while a compile
/// runs, only when stderr is a terminal: logs and pipes get nothing. A
/// thread and `\r`, not a progress-bar crate: the compiler reports stages,
/// not fractions, so there is no bar to draw.
struct Progress {
    stage: std::sync::Arc<std::sync::Mutex<String>>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start() -> Progress {
        use std::io::{IsTerminal, Write};
        let stage = std::sync::Arc::new(std::sync::Mutex::new(String::from("reading")));
        if !std::io::stderr().is_terminal() {
            return Progress {
                stage,
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let shown = std::sync::Arc::clone(&stage);
        let thread = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let frames = ['|', '/', '-', '\\'];
            let mut n = 0;
            // Wait a little first: quick compiles print nothing.
            let tick = std::time::Duration::from_millis(150);
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                let stage = shown.lock().map(|s| s.clone()).unwrap_or_default();
                eprint!(
                    "\r\x1b[2K{} compiling: {stage} ({:.1} s)",
                    frames[n % frames.len()],
                    started.elapsed().as_secs_f32()
                );
                let _ = std::io::stderr().flush();
                n += 1;
            }
            if n > 0 {
                eprint!("\r\x1b[2K");
            }
        });
        Progress {
            stage,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn stage(&self, name: &str) {
        if let Ok(mut s) = self.stage.lock() {
            *s = name.to_string();
        }
    }

    fn finish(mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
