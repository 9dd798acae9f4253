//! A go-ftw compatible runner for OWASP CRS's regression tests (and any
//! file in that format): each stage's request goes over a raw socket to a
//! [`Gateway`](crate::Gateway) started with `"log": "all"`, and the rule ids
//! come from the `palisade-verdict` line carrying the request's id.
//!
//! [`format`] parses test files, [`overrides`] go-ftw overrides files,
//! [`wire`] builds and sends requests, [`verdicts`] follows Envoy's log,
//! [`run`] judges stages and [`report`] summarises.

pub mod overrides;
pub mod report;
pub mod run;
pub mod verdicts;
pub mod wire;

pub use format::{load_all, LoadedFile};
pub use overrides::Overrides;
/// The file format lives in `palisade-rules` (`palisade test --ftw` reads
/// the same files in-process).
pub use palisade_rules::ftw::format;
pub use run::{Filter, Outcome, Runner, TestResult};

/// Compiles a regex from a test, override or flag. The workspace builds
/// regex-automata without Unicode tables, so classes like `\d` and `.` are
/// byte-oriented (ASCII), which is what go-ftw's patterns over log lines mean.
pub fn regex(pattern: &str) -> Result<regex_automata::meta::Regex, String> {
    let syntax = regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false);
    regex_automata::meta::Regex::builder()
        .syntax(syntax)
        .build(pattern)
        .map_err(|e| format!("bad regex {pattern:?}: {e}"))
}

/// The plugin configuration for a run: `base` (a config file's JSON, or
/// `{}`) with logging forced to `all` and, when given, the ruleset.
pub fn plugin_config(
    base: Option<serde_json::Value>,
    ruleset: Option<&[u8]>,
) -> Result<serde_json::Value, String> {
    use base64::Engine as _;
    let mut config = base.unwrap_or_else(|| serde_json::json!({}));
    let obj = config
        .as_object_mut()
        .ok_or("the configuration must be a JSON object")?;
    obj.insert("log".into(), "all".into());
    if let Some(bytes) = ruleset {
        obj.insert(
            "ruleset_base64".into(),
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        );
    }
    Ok(config)
}
