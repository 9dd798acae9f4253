//! Shared set-up for the fuzz targets: the built-in ruleset, compiled once
//! per process (compiling it per input would make every run a compile
//! benchmark), and the small input formats the targets share.

use std::sync::OnceLock;

use palisade_engine::body::BodyLimits;
use palisade_engine::config::{self, Settings};
use palisade_rules::{builtin_dir, compile_native};

/// The built-in rules as the filter loads them: a serialized artifact.
pub fn builtin_artifact() -> &'static [u8] {
    static ARTIFACT: OnceLock<Vec<u8>> = OnceLock::new();
    ARTIFACT.get_or_init(|| match compile_native(&[builtin_dir()], "built-in") {
        Ok((spec, _)) => spec.to_artifact(),
        // Not the input's fault: the harness itself is broken.
        Err(e) => panic!("built-in rules do not compile: {e}"),
    })
}

/// Default configuration over the built-in rules.
pub fn builtin_settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| match config::load(b"{}", builtin_artifact()) {
        Ok(s) => s,
        Err(e) => panic!("default configuration refused: {e}"),
    })
}

/// Small positive limits (1..=64), so limit paths are reached with short
/// inputs; the configuration refuses zero, so zero is never produced.
pub fn limits(max_args: u8, max_depth: u8, max_parts: u8) -> BodyLimits {
    BodyLimits {
        max_args: usize::from(max_args % 64) + 1,
        max_depth: usize::from(max_depth % 64) + 1,
        max_parts: usize::from(max_parts % 64) + 1,
    }
}

/// Splits off the first line (without its `\n`); the rest follows it.
pub fn first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
