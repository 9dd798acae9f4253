//! What the client and the logs see: block response bodies and the one JSON
//! log line per blocked or detected request. Plain functions over engine
//! types, so they are tested natively.

use palisade_engine::Verdict;
use serde_json::{json, Map, Value};

/// Body of the block response: small, JSON, with the id support can grep for.
pub fn block_body(request_id: &str, verdict: &Verdict) -> String {
    let rules: Vec<u32> = verdict.rule_ids().iter().map(|r| r.0).collect();
    json!({"blocked": true, "request_id": request_id, "rules": rules}).to_string()
}

/// Body of the 413 answer for a body over the limit.
pub fn over_limit_body(request_id: &str, limit: usize) -> String {
    json!({"blocked": true, "request_id": request_id, "reason": "request body exceeds limit", "limit_bytes": limit})
        .to_string()
}

/// Request identity for log lines.
pub struct LogContext<'a> {
    pub request_id: &'a str,
    pub method: &'a [u8],
    pub path: &'a [u8],
    pub authority: &'a [u8],
    /// The scoped policy that applied (`policies[i].name`); empty for the
    /// top level, and then left out of the line.
    pub policy: &'a str,
}

/// The JSON log line (without the `palisade-verdict ` marker).
pub fn verdict_line(event: &str, ctx: &LogContext<'_>, verdict: &Verdict) -> String {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let scores: Map<String, Value> = verdict
        .scores
        .iter()
        .map(|(c, s)| (c.clone(), json!(s)))
        .collect();
    let rules: Vec<Value> = verdict
        .matches
        .iter()
        .map(|m| {
            let mut rule = json!({
                "id": m.rule_id.0,
                "message": m.message,
                "severity": m.severity.name(),
                "category": m.category,
                "variable": m.variable,
                "excerpt": m.excerpt,
                "score": m.score,
            });
            // SecLang `logdata`, expanded when the rule matched.
            if let (Some(data), Some(obj)) = (&m.data, rule.as_object_mut()) {
                obj.insert("data".to_string(), json!(data));
            }
            rule
        })
        .collect();
    let mut line = json!({
        "event": event,
        "request_id": ctx.request_id,
        "method": lossy(ctx.method),
        "path": lossy(ctx.path),
        "authority": lossy(ctx.authority),
        "score": verdict.score,
        "threshold": verdict.threshold,
        "scores": scores,
        "rules": rules,
    });
    if let (false, Some(obj)) = (ctx.policy.is_empty(), line.as_object_mut()) {
        obj.insert("policy".to_string(), json!(ctx.policy));
    }
    line.to_string()
}
