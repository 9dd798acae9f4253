//! What `palisade compile` reports about the ruleset it wrote: rules per
//! phase and paranoia level, operators, the size of the regex automata and of
//! the cross-rule prefilter, warnings and compile time. Sizes come
//! from the compiled [`Engine`], the one the filter builds from the artifact,
//! so they are what a VM holds after `on_configure` (lazy DFA caches grow
//! further while searching).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use palisade_engine::operator::{Operator, OperatorSpec};
use palisade_engine::{Engine, Phase, RuleId, RulesetSpec};

/// Counts and sizes of one compiled ruleset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub rules: usize,
    /// Conditions (first plus chained) over all rules.
    pub conditions: usize,
    /// Rules per phase, in evaluation order.
    pub phases: BTreeMap<Phase, usize>,
    /// Rules per paranoia level.
    pub paranoia: BTreeMap<u8, usize>,
    /// Conditions per operator, by its SecLang name (`rx`, `pm`, `eq`, ...).
    pub operators: BTreeMap<String, usize>,
    /// `rx` conditions and the heap bytes of their automata.
    pub regexes: usize,
    pub regex_bytes: usize,
    /// The largest regex: its rule and bytes.
    pub largest_regex: Option<(RuleId, usize)>,
    /// `pm` phrase automata and their heap bytes.
    pub phrase_bytes: usize,
    /// The prefilter: regex and phrase-list conditions behind it, its regex
    /// sets, the chains its literal automaton scans, bytes.
    pub prefilter_regexes: usize,
    pub prefilter_phrase_lists: usize,
    pub prefilter_literal_chains: usize,
    pub prefilter_as_received_chains: usize,
    pub prefilter_multi_match: usize,
    pub prefilter_sets: usize,
    pub prefilter_bytes: usize,
    /// Size of the artifact written.
    pub artifact_bytes: usize,
    /// The SecLang compiler's notes and warnings, as printed.
    pub messages: Vec<String>,
    pub elapsed: Duration,
}

impl Summary {
    /// Counts `spec`'s rules and measures `engine` (compiled from `spec`).
    pub fn new(spec: &RulesetSpec, engine: &Engine) -> Summary {
        let mut s = Summary {
            rules: spec.rules.len(),
            ..Summary::default()
        };
        for rule in &spec.rules {
            *s.phases.entry(rule.phase).or_default() += 1;
            *s.paranoia.entry(rule.paranoia).or_default() += 1;
            let operators =
                std::iter::once(&rule.operator).chain(rule.chained.iter().map(|c| &c.operator));
            for op in operators {
                // A macro operator counts under its own name (`eq`, `rx`).
                let name = match op {
                    OperatorSpec::Macro { name, .. } => name.clone(),
                    other => other.name().to_string(),
                };
                *s.operators.entry(name).or_default() += 1;
            }
        }
        for rule in engine.rules() {
            for condition in &rule.conditions {
                s.conditions += 1;
                match &condition.operator {
                    Operator::Rx(rx) => {
                        let bytes = rx.memory_usage();
                        s.regexes += 1;
                        s.regex_bytes += bytes;
                        if s.largest_regex.is_none_or(|(_, b)| bytes > b) {
                            s.largest_regex = Some((rule.id, bytes));
                        }
                    }
                    Operator::Pm(pm) => s.phrase_bytes += pm.memory_usage(),
                    _ => {}
                }
            }
        }
        let prefilter = engine.prefilter_stats();
        s.prefilter_regexes = prefilter.regexes;
        s.prefilter_phrase_lists = prefilter.phrase_lists;
        s.prefilter_literal_chains = prefilter.literal_chains;
        s.prefilter_as_received_chains = prefilter.as_received_chains;
        s.prefilter_multi_match = prefilter.multi_match;
        s.prefilter_sets = prefilter.sets;
        s.prefilter_bytes = prefilter.bytes;
        s
    }

    /// The human summary, one aspect a line.
    pub fn human(&self, output: &str) -> String {
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "compiled {} rules ({} conditions) → {output} ({} bytes) in {} ms",
            self.rules,
            self.conditions,
            self.artifact_bytes,
            self.elapsed.as_millis()
        );
        let _ = writeln!(
            out,
            "  phases     {}",
            list(
                self.phases
                    .iter()
                    .map(|(p, n)| format!("{} {n}", name_of(p)))
                    .collect()
            )
        );
        let _ = writeln!(
            out,
            "  paranoia   {}",
            list(
                self.paranoia
                    .iter()
                    .map(|(p, n)| format!("PL{p} {n}"))
                    .collect()
            )
        );
        let _ = writeln!(
            out,
            "  operators  {}",
            list(
                self.operators
                    .iter()
                    .map(|(o, n)| format!("{o} {n}"))
                    .collect()
            )
        );
        let largest = self
            .largest_regex
            .map(|(id, b)| format!("; largest: rule {id}, {b} bytes"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  regexes    {}, automata {} bytes{largest}",
            self.regexes, self.regex_bytes
        );
        if self.operators.contains_key("pm") {
            let _ = writeln!(out, "  phrases    automata {} bytes", self.phrase_bytes);
        }
        let _ = writeln!(
            out,
            "  prefilter  {} of {} regexes and {} of {} phrase lists behind {} regex sets and a literal automaton for {} chains ({} more on values as received) and {} multiMatch conditions' values as received, {} bytes",
            self.prefilter_regexes,
            self.regexes,
            self.prefilter_phrase_lists,
            self.operators.get("pm").copied().unwrap_or(0),
            self.prefilter_sets,
            self.prefilter_literal_chains,
            self.prefilter_as_received_chains,
            self.prefilter_multi_match,
            self.prefilter_bytes
        );
        let count = |prefix: &str| {
            self.messages
                .iter()
                .filter(|m| m.starts_with(prefix))
                .count()
        };
        let _ = writeln!(
            out,
            "  messages   {} warning(s), {} note(s) (listed on stderr)",
            count("warning:"),
            count("note:")
        );
        out
    }

    /// The same as JSON, for CI dashboards.
    pub fn json(&self, output: &str) -> serde_json::Value {
        serde_json::json!({
            "output": output,
            "artifact_bytes": self.artifact_bytes,
            "rules": self.rules,
            "conditions": self.conditions,
            "phases": self.phases.iter().map(|(p, n)| (name_of(p), *n)).collect::<BTreeMap<_, _>>(),
            "paranoia": self.paranoia.iter().map(|(p, n)| (p.to_string(), *n)).collect::<BTreeMap<_, _>>(),
            "operators": self.operators,
            "regexes": {
                "count": self.regexes,
                "bytes": self.regex_bytes,
                "largest": self.largest_regex.map(|(id, b)| serde_json::json!({"rule": id, "bytes": b})),
            },
            "phrases": {"bytes": self.phrase_bytes},
            "prefilter": {
                "regexes": self.prefilter_regexes,
                "phrase_lists": self.prefilter_phrase_lists,
                "literal_chains": self.prefilter_literal_chains,
                "as_received_chains": self.prefilter_as_received_chains,
                "multi_match": self.prefilter_multi_match,
                "sets": self.prefilter_sets,
                "bytes": self.prefilter_bytes,
            },
            "messages": self.messages,
            "elapsed_ms": u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// A serde enum's name (`headers`, `response_body`), as the artifact spells it.
fn name_of(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}
