//! Palisade's WAF engine: everything between "an HTTP request arrived" and
//! "block it / let it pass, and why". It knows nothing about proxy-wasm or Envoy;
//! the `filter` crate adapts host callbacks to [`Request`] and back.
//!
//! Data flows one way: [`Request`] → [`variable`] values → [`transform`] chains →
//! [`operator`]s → rule actions → [`Verdict`].

pub mod body;
mod chains;
pub mod config;
pub mod effect;
pub mod eval;
mod hash;
pub mod macros;
pub mod operator;
pub mod prefilter;
pub mod request;
pub mod rule;
pub mod ruleset;
pub mod transform;
mod tx_vars;
pub mod variable;
pub mod verdict;

pub use eval::{Engine, Policy, Transaction};
pub use request::Request;
pub use rule::{Action, Phase, RuleId, Severity};
pub use ruleset::{RulesetError, RulesetSpec};
pub use verdict::{Decision, RuleMatch, Verdict};
