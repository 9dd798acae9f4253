//! The outcome of inspecting a request: the decision and every rule that
//! matched, with enough context to explain it in a log line.

use serde::Serialize;

use crate::rule::{Action, Phase, RuleId, Severity};

/// What to do with the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// No rule asked to block.
    Pass,
    /// The anomaly threshold was reached or a blocking rule matched.
    Block,
    /// Would have been blocked, but the policy is detection-only.
    Detect,
    /// An allow rule matched; inspection stopped.
    Allow,
}

impl Decision {
    /// The lowercase name test files and tools use (`pass`, `block`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Block => "block",
            Decision::Detect => "detect",
            Decision::Allow => "allow",
        }
    }
}

/// One rule that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleMatch {
    pub rule_id: RuleId,
    pub message: String,
    pub severity: Severity,
    pub category: String,
    pub action: Action,
    pub phase: Phase,
    /// Score this match added (0 for `log` rules).
    pub score: u32,
    /// The variable that matched: `ARGS:id`, `REQUEST_HEADERS:user-agent`.
    pub variable: String,
    /// The transformed value around the match, truncated, secrets masked.
    pub excerpt: String,
    /// SecLang `logdata` expanded when the rule matched, at most
    /// [`DATA_LEN`] bytes, control bytes escaped; `[masked]` when the matched
    /// variable is a secret. Absent when the rule has no `logdata`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// The whole outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    /// Inbound anomaly score (sum over categories).
    pub score: u32,
    /// Per-category scores, only categories that scored.
    pub scores: Vec<(String, u32)>,
    pub threshold: u32,
    pub matches: Vec<RuleMatch>,
}

impl Verdict {
    pub fn rule_ids(&self) -> Vec<RuleId> {
        self.matches.iter().map(|m| m.rule_id).collect()
    }

    pub fn is_blocked(&self) -> bool {
        self.decision == Decision::Block
    }
}

/// Longest excerpt kept in a verdict, in bytes of the transformed value.
pub const EXCERPT_LEN: usize = 64;

/// Variable-name fragments whose values are never logged.
const SECRET_NAMES: &[&[u8]] = &[
    b"pass",
    b"pwd",
    b"secret",
    b"token",
    b"auth",
    b"session",
    b"sess",
    b"apikey",
    b"api_key",
    b"api-key",
    b"credential",
    b"cookie",
    b"csrf",
    b"jwt",
    b"otp",
];

/// True when a member with this name holds a secret.
pub fn is_secret_name(name: &[u8]) -> bool {
    let lc = name.to_ascii_lowercase();
    SECRET_NAMES
        .iter()
        .any(|s| lc.windows(s.len()).any(|w| w == *s))
}

/// A printable excerpt of `value` around `span`, at most [`EXCERPT_LEN`] bytes,
/// with control and non-ASCII bytes escaped so a log line stays one line.
pub fn excerpt(value: &[u8], span: Option<(usize, usize)>) -> String {
    // Show a little context before the match so a reader sees where it sits.
    let start = match span {
        Some((s, e)) if s <= e && e <= value.len() => s.saturating_sub(8),
        _ => 0,
    };
    let end = value.len().min(start + EXCERPT_LEN);
    let mut out = String::with_capacity(end - start + 8);
    if start > 0 {
        out.push('…');
    }
    for &b in &value[start..end] {
        match b {
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if end < value.len() {
        out.push('…');
    }
    out
}

/// Longest `data` kept in a verdict, in bytes of the rendered text.
pub const DATA_LEN: usize = 256;

/// What `data` says instead of an expansion that read a secret.
pub const MASKED_DATA: &str = "[masked]";

/// Expanded `logdata` as it goes into a verdict: valid UTF-8 kept, control
/// bytes, DEL and invalid UTF-8 escaped as `\xNN`, cut on a character
/// boundary so the result (with a trailing `…` when cut) is at most
/// [`DATA_LEN`] bytes.
pub fn log_data(expanded: &[u8]) -> String {
    const MORE: &str = "…";
    let mut out = String::with_capacity(expanded.len().min(DATA_LEN));
    let push = |piece: &str, out: &mut String| -> bool {
        if out.len() + piece.len() > DATA_LEN - MORE.len() {
            return false;
        }
        out.push_str(piece);
        true
    };
    let mut buf = [0u8; 4];
    let mut cut = false;
    'all: for chunk in expanded.utf8_chunks() {
        for c in chunk.valid().chars() {
            let piece = if c.is_ascii_control() {
                format!("\\x{:02x}", c as u32)
            } else {
                c.encode_utf8(&mut buf).to_string()
            };
            if !push(&piece, &mut out) {
                cut = true;
                break 'all;
            }
        }
        for b in chunk.invalid() {
            if !push(&format!("\\x{b:02x}"), &mut out) {
                cut = true;
                break 'all;
            }
        }
    }
    if cut {
        out.push_str(MORE);
    }
    out
}

/// The excerpt, or a placeholder when the value is a secret.
pub fn masked_excerpt(name: &[u8], value: &[u8], span: Option<(usize, usize)>) -> String {
    if is_secret_name(name) {
        format!("[masked {} bytes]", value.len())
    } else {
        excerpt(value, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_data_escapes_control_bytes_and_keeps_utf8() {
        assert_eq!(log_data(b"a\x01b\x7f\xffc\xc3\xa9"), "a\\x01b\\x7f\\xffcé");
    }

    #[test]
    fn log_data_is_cut_on_a_char_boundary() {
        let long = "é".repeat(300);
        let d = log_data(long.as_bytes());
        assert!(d.len() <= DATA_LEN);
        assert!(d.ends_with('…'));
        assert!(d.trim_end_matches('…').chars().all(|c| c == 'é'));
        let short = "x".repeat(DATA_LEN - 3);
        assert_eq!(log_data(short.as_bytes()), short);
    }
}
