//! Policy knobs through a real Envoy: detection-only mode, and what happens
//! to a request body past the inspection limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use palisade_e2e::{Gateway, Request};
use serde_json::json;

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");
const ATTACK: &str = "/?id=1%27%20OR%201=1--";

#[test]
fn detect_mode_passes_the_attack_and_logs_it() {
    let gw = Gateway::start(UPSTREAM, &json!({"mode": "detect"})).unwrap();
    let resp = gw.send(&Request::get(ATTACK)).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let line = gw
        .wait_for_log("palisade-verdict", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no verdict line; log:\n{}", gw.log()));
    assert!(line.contains("\"event\":\"detected\""), "{line}");
    assert!(line.contains("107100"), "{line}");
    assert_eq!(gw.stat("wasmcustom.palisade.requests_detected").unwrap(), 1);
    assert_eq!(gw.stat("wasmcustom.palisade.requests_blocked").unwrap(), 0);
}

/// A form body: `padding` bytes of harmless data, then an attack argument.
fn body_with_attack_after(padding: usize) -> String {
    format!("a={}&id=1%27%20OR%201%3D1--", "x".repeat(padding))
}

#[test]
fn body_over_the_limit_is_refused_with_413_by_default() {
    let gw = Gateway::start(UPSTREAM, &json!({"request_body": {"limit_bytes": 1024}})).unwrap();
    let big = Request::post(
        "/form",
        "application/x-www-form-urlencoded",
        &"a=1&".repeat(1000),
    );
    let resp = gw.send(&big).unwrap();
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert_eq!(gw.stat("wasmcustom.palisade.body_limit_hits").unwrap(), 1);
    // Under the limit, the same kind of body passes.
    let small = Request::post("/form", "application/x-www-form-urlencoded", "a=1&b=2");
    assert_eq!(gw.send(&small).unwrap().status, 200);
}

#[test]
fn inspect_partial_inspects_the_first_bytes_and_passes_the_rest() {
    let gw = Gateway::start(
        UPSTREAM,
        &json!({"request_body": {"limit_bytes": 1024, "over_limit": "inspect_partial"}}),
    )
    .unwrap();
    // Attack inside the first KiB of a 4 KiB body: caught.
    let early = format!("id=1%27%20OR%201%3D1--&pad={}", "x".repeat(4096));
    let resp = gw
        .send(&Request::post(
            "/form",
            "application/x-www-form-urlencoded",
            &early,
        ))
        .unwrap();
    assert_eq!(resp.status, 403, "{}", resp.text());
    // A clean oversized body goes through whole.
    let clean = format!("pad={}", "x".repeat(4096));
    let resp = gw
        .send(&Request::post(
            "/form",
            "application/x-www-form-urlencoded",
            &clean,
        ))
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json().unwrap()["body_bytes"], clean.len());
}

#[test]
fn body_inspection_off_lets_body_attacks_through_but_not_query_attacks() {
    let gw = Gateway::start(UPSTREAM, &json!({"request_body": {"inspect": false}})).unwrap();
    let body = body_with_attack_after(10);
    let resp = gw
        .send(&Request::post(
            "/form",
            "application/x-www-form-urlencoded",
            &body,
        ))
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(gw.send(&Request::get(ATTACK)).unwrap().status, 403);
}

#[test]
fn body_attacks_are_blocked_when_inspected() {
    let gw = Gateway::start(UPSTREAM, &json!({})).unwrap();
    let body = body_with_attack_after(10);
    let resp = gw
        .send(&Request::post(
            "/form",
            "application/x-www-form-urlencoded",
            &body,
        ))
        .unwrap();
    assert_eq!(resp.status, 403, "{}", resp.text());
}
