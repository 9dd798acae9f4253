//! Palisade's rule languages and compiler.
//!
//! Rule files (native YAML, see `rules/README.md`) are parsed and validated
//! here, natively, with errors that name file, line and field; the result is
//! one [`RulesetSpec`] written as an artifact the filter loads. Inline rule
//! tests are run by [`inline_tests`].

pub mod check;
pub mod explain;
pub mod ftw;
pub mod inline_tests;
pub mod native;
pub mod seclang;
pub mod summary;
pub mod test_request;
pub mod tune;

use std::fmt;
use std::path::{Path, PathBuf};

use palisade_engine::{Engine, RulesetSpec};

pub use native::{CompiledFile, RuleTests};

/// The built-in rule set's directory, for tools running from the source tree.
pub fn builtin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin")
}

/// A compile error, located in a rule file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// `rules[3].operator`, `targets`, ...
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CompileError {}

/// Every compile error found, not just the first: fixing a file should take one run.
#[derive(Clone, Debug, Default)]
pub struct CompileErrors(pub Vec<CompileError>);

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "error: {e}")?;
        }
        write!(f, "{} error(s)", self.0.len())
    }
}

impl std::error::Error for CompileErrors {}

/// Rule files given as files or directories (`*.yaml` / `*.yml` inside,
/// sorted by name so ids and order are stable).
///
/// # Errors
/// A [`CompileError`] for a path that cannot be read.
pub fn collect_rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CompileError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| io_error(path, &e))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn io_error(path: &Path, e: &std::io::Error) -> CompileError {
    CompileError {
        file: path.to_path_buf(),
        line: None,
        field: None,
        message: e.to_string(),
    }
}

/// Compiles native rule files into one ruleset, checking the whole set
/// (duplicate ids, every operator and target) the way the filter will load it.
///
/// # Errors
/// Every error found, each naming file, line and field.
pub fn compile_native(
    paths: &[PathBuf],
    source: &str,
) -> Result<(RulesetSpec, Vec<CompiledFile>), CompileErrors> {
    let files = collect_rule_files(paths).map_err(|e| CompileErrors(vec![e]))?;
    let mut errors = Vec::new();
    let mut compiled = Vec::new();
    for file in &files {
        match std::fs::read_to_string(file) {
            Ok(text) => match native::compile_file(file, &text) {
                Ok(c) => compiled.push(c),
                Err(mut es) => errors.append(&mut es),
            },
            Err(e) => errors.push(io_error(file, &e)),
        }
    }
    let mut seen: std::collections::HashMap<u32, (PathBuf, usize)> =
        std::collections::HashMap::new();
    for file in &compiled {
        for (rule, loc) in file.rules.iter().zip(&file.lines) {
            if let Some((first_file, first_line)) = seen.get(&rule.id.0) {
                errors.push(CompileError {
                    file: file.path.clone(),
                    line: Some(*loc),
                    field: Some("id".to_string()),
                    message: format!(
                        "rule id {} is already used at {}:{first_line}",
                        rule.id,
                        first_file.display()
                    ),
                });
            } else {
                seen.insert(rule.id.0, (file.path.clone(), *loc));
            }
        }
    }
    if !errors.is_empty() {
        return Err(CompileErrors(errors));
    }
    let spec = RulesetSpec {
        source: source.to_string(),
        rules: compiled
            .iter()
            .flat_map(|f| f.rules.iter().cloned())
            .collect(),
        ..RulesetSpec::default()
    };
    Ok((spec, compiled))
}

/// Compiles SecLang files (e.g. `crs-setup.conf` then CRS's `rules/*.conf`,
/// in that order) into one ruleset. `lenient` turns unsupported directives,
/// variables, operators and actions into warnings (the report lists them).
///
/// # Errors
/// Every error found, each naming file and line.
pub fn compile_seclang(
    paths: &[PathBuf],
    source: &str,
    lenient: bool,
) -> Result<(RulesetSpec, seclang::compile::Report), CompileErrors> {
    let located = |file: PathBuf, line: usize, message: String| CompileError {
        file,
        line: (line > 0).then_some(line),
        field: None,
        message,
    };
    let directives = seclang::parse_files(paths)
        .map_err(|e| CompileErrors(vec![located(e.location.file, e.location.line, e.message)]))?;
    let (spec, report) = seclang::compile::compile(&directives, source, lenient).map_err(|es| {
        CompileErrors(
            es.into_iter()
                .map(|d| located(d.location.file, d.location.line, d.message))
                .collect(),
        )
    })?;
    // Compile once as the filter will, so anything the engine refuses is
    // reported now rather than at VM start.
    spec.compile().map_err(|e| {
        CompileErrors(vec![CompileError {
            file: paths.first().cloned().unwrap_or_default(),
            line: None,
            field: None,
            message: e.to_string(),
        }])
    })?;
    Ok((spec, report))
}

/// Compiles native rule files, then SecLang files, into one ruleset as
/// `palisade compile` writes it (SecLang markers renumbered after the
/// native rules). Returns the SecLang report's notes and warnings as text.
///
/// # Errors
/// Every compile error found, or the engine's refusal of the whole set.
pub fn compile_ruleset(
    native: &[PathBuf],
    seclang: &[PathBuf],
    lenient: bool,
) -> Result<(RulesetSpec, Vec<String>), CompileErrors> {
    compile_ruleset_engine(native, seclang, lenient, &|_| {})
        .map(|(spec, _, messages)| (spec, messages))
}

/// [`compile_ruleset`], also returning the engine compiled from the set (as
/// the filter builds it, for sizes and statistics). `stage` is called with
/// what starts next (`native rules`, `SecLang rules`, `automata`), for a
/// progress display.
///
/// # Errors
/// As [`compile_ruleset`].
pub fn compile_ruleset_engine(
    native: &[PathBuf],
    seclang: &[PathBuf],
    lenient: bool,
    stage: &dyn Fn(&str),
) -> Result<(RulesetSpec, Engine, Vec<String>), CompileErrors> {
    let source = native
        .iter()
        .chain(seclang)
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut spec = RulesetSpec {
        source: source.clone(),
        ..Default::default()
    };
    let mut messages = Vec::new();
    if !native.is_empty() {
        stage("native rules");
        spec.rules = compile_native(native, &source)?.0.rules;
    }
    if !seclang.is_empty() {
        stage("SecLang rules");
        let (s, report) = compile_seclang(seclang, &source, lenient)?;
        messages.extend(report.notes.iter().map(|n| format!("note: {n}")));
        messages.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
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
    stage("automata");
    let engine = spec.compile().map_err(|e| {
        CompileErrors(vec![CompileError {
            file: native
                .iter()
                .chain(seclang)
                .next()
                .cloned()
                .unwrap_or_default(),
            line: None,
            field: None,
            message: e.to_string(),
        }])
    })?;
    Ok((spec, engine, messages))
}
