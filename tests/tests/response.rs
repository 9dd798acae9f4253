//! Response inspection through a real Envoy: response-phase rules (SecLang
//! phases 3 and 4) see the upstream's status, headers and body; a body-phase
//! block replaces the body with the JSON notice, and the one verdict line of
//! the transaction lists the response-phase matches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use base64::Engine as _;
use palisade_e2e::{Gateway, Request};
use serde_json::{json, Value};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

/// A small ruleset: a request rule, a response status rule (log only) and
/// a response body rule (deny).
const RULES: &str = r#"
SecRule ARGS "@contains attack" "id:1001,phase:1,deny,msg:'request attack'"
SecRule RESPONSE_STATUS "@streq 500" "id:2001,phase:3,pass,log,msg:'server error'"
SecRule RESPONSE_HEADERS:X-Leak "@streq yes" "id:2002,phase:3,deny,msg:'leaky header'"
SecRule RESPONSE_BODY "@contains SQL syntax" "id:3001,phase:4,deny,msg:'leak'"
"#;

fn ruleset_b64() -> String {
    let directives = palisade_rules::seclang::parse_str(RULES, Path::new("response.conf")).unwrap();
    let (spec, _) =
        palisade_rules::seclang::compile::compile(&directives, "response test", false).unwrap();
    base64::engine::general_purpose::STANDARD.encode(spec.to_artifact())
}

fn gateway(extra: Value) -> Gateway {
    let mut config = json!({"ruleset_base64": ruleset_b64(), "log": "matched"});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    Gateway::start(UPSTREAM, &config).unwrap()
}

/// `POST /reflect` asking the upstream for this response.
fn reflect(id: &str, status: u16, content_type: &str, body: &str) -> Request {
    let spec = json!({"status": status, "headers": {"Content-Type": content_type}, "body": body});
    Request::post("/reflect", "application/json", &spec.to_string()).header("x-request-id", id)
}

fn rule_ids(line: &Value) -> Vec<u64> {
    line["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

const LEAK: &str = "<html>You have an error in your SQL syntax; check the manual</html>";

#[test]
fn response_body_rule_blocks_by_replacing_the_body() {
    let gw = gateway(json!({}));
    let resp = gw
        .send(&reflect("leak-1", 200, "text/html; charset=utf-8", LEAK))
        .unwrap();
    // The status line was already sent: only the body is replaced.
    assert_eq!(resp.status, 200);
    let notice = resp.json().unwrap();
    assert_eq!(notice["blocked"], true, "{}", resp.text());
    assert_eq!(notice["rules"], json!([3001]));
    assert!(!resp.text().contains("SQL syntax"));
    let line = gw.verdict("leak-1").unwrap();
    assert_eq!(line["event"], "blocked", "{line}");
    assert_eq!(rule_ids(&line), vec![3001]);
    assert_eq!(gw.stat("wasmcustom.palisade.responses_blocked").unwrap(), 1);
    // A clean response goes through untouched.
    let resp = gw
        .send(&reflect("clean-1", 200, "text/html", "<p>hello</p>"))
        .unwrap();
    assert_eq!(resp.text(), "<p>hello</p>");
}

#[test]
fn response_headers_rules_see_status_and_headers() {
    let gw = gateway(json!({}));
    // pass,log: logged, response unchanged.
    let resp = gw
        .send(&reflect("status-1", 500, "text/plain", "oops"))
        .unwrap();
    assert_eq!(resp.status, 500);
    assert_eq!(resp.text(), "oops");
    let line = gw.verdict("status-1").unwrap();
    assert_eq!(line["event"], "matched", "{line}");
    assert_eq!(rule_ids(&line), vec![2001]);
    // A deny in the headers phase is still a full local reply.
    let spec = json!({"status": 200, "headers": {"Content-Type": "text/plain", "X-Leak": "yes"}, "body": "secret"});
    let req = Request::post("/reflect", "application/json", &spec.to_string())
        .header("x-request-id", "hdr-1");
    let resp = gw.send(&req).unwrap();
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.json().unwrap()["rules"], json!([2002]));
    assert_eq!(rule_ids(&gw.verdict("hdr-1").unwrap()), vec![2002]);
}

#[test]
fn detect_mode_logs_the_leak_without_altering_the_response() {
    let gw = gateway(json!({"mode": "detect"}));
    let resp = gw
        .send(&reflect("detect-1", 200, "text/html", LEAK))
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), LEAK);
    let line = gw.verdict("detect-1").unwrap();
    assert_eq!(line["event"], "detected", "{line}");
    assert_eq!(rule_ids(&line), vec![3001]);
    assert_eq!(gw.stat("wasmcustom.palisade.responses_blocked").unwrap(), 0);
}

#[test]
fn unlisted_mime_types_are_not_inspected() {
    let gw = gateway(json!({"response_body": {"mime_types": ["text/html"]}}));
    let resp = gw
        .send(&reflect("mime-1", 200, "application/octet-stream", LEAK))
        .unwrap();
    assert_eq!(resp.text(), LEAK);
    let resp = gw.send(&reflect("mime-2", 200, "TEXT/HTML", LEAK)).unwrap();
    assert_eq!(resp.json().unwrap()["rules"], json!([3001]));
    let log = gw.log();
    assert!(!log.contains("\"request_id\":\"mime-1\""), "{log}");
}

#[test]
fn a_body_over_the_limit_is_inspected_in_part() {
    let gw = gateway(json!({"response_body": {"limit_bytes": 1024}}));
    // Leak in the first KiB of a 8 KiB body: caught, nothing else sent.
    let early = format!("{LEAK}{}", "x".repeat(8192));
    let resp = gw
        .send(&reflect("big-1", 200, "text/plain", &early))
        .unwrap();
    assert_eq!(
        resp.json().unwrap()["rules"],
        json!([3001]),
        "{}",
        resp.text()
    );
    // Leak after the limit: not seen, the whole body goes through.
    let late = format!("{}{LEAK}", "x".repeat(8192));
    let resp = gw
        .send(&reflect("big-2", 200, "text/plain", &late))
        .unwrap();
    assert_eq!(resp.text(), late);
}

#[test]
fn a_request_blocked_in_phase_1_skips_response_inspection() {
    let gw = gateway(json!({}));
    let spec = json!({"status": 500, "headers": {"Content-Type": "text/html"}, "body": LEAK});
    let req = Request::post("/reflect?q=attack", "application/json", &spec.to_string())
        .header("x-request-id", "req-1");
    let resp = gw.send(&req).unwrap();
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.json().unwrap()["rules"], json!([1001]));
    let line = gw.verdict("req-1").unwrap();
    assert_eq!(rule_ids(&line), vec![1001]);
    assert_eq!(gw.stat("wasmcustom.palisade.responses_blocked").unwrap(), 0);
    let count = gw.log().matches("\"request_id\":\"req-1\"").count();
    assert_eq!(count, 1, "{}", gw.log());
}

#[test]
fn bad_response_body_settings_are_refused() {
    for (config, field) in [
        (
            json!({"response_body": {"limit_bytes": 0}}),
            "response_body.limit_bytes",
        ),
        (
            json!({"response_body": {"mime_types": ["html"]}}),
            "response_body.mime_types[0]",
        ),
        (
            json!({"response_body": {"inspect": "yes"}}),
            "response_body.inspect",
        ),
    ] {
        let err = palisade_engine::config::load(config.to_string().as_bytes(), &[]).unwrap_err();
        assert_eq!(err.field, field, "{config}: {err}");
    }
}
