//! Palisade as a proxy-wasm HTTP filter. Thin on purpose: configuration is
//! parsed in [`config`], all inspection happens in `palisade-engine`, and the
//! host glue (callbacks, responses, logs, metrics) lives in `host`, compiled
//! only for wasm.

pub use palisade_engine::config;
pub mod response;

#[cfg(target_family = "wasm")]
mod host;

/// The built-in rule set, compiled by `build.rs` from `rules/builtin/`.
pub const BUILTIN_RULESET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin.ruleset"));
