//! The built-in rules against the corpora through a real Envoy: every
//! attack in tests/corpus/attacks.yaml gets 403, every request in
//! tests/corpus/benign.yaml reaches the upstream, and every case of
//! tests/corpus/evasions.yaml gets what it expects (documented known misses
//! are reported, and fail the run once they are caught). All misses and
//! false positives are collected and reported together.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_e2e::{load_corpus, load_evasions, Expect, Gateway, Response};
use serde_json::json;

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

#[test]
fn attacks_are_blocked_and_ordinary_traffic_passes() {
    let attacks = load_corpus("attacks.yaml").unwrap();
    let benign = load_corpus("benign.yaml").unwrap();
    assert!(attacks.len() >= 40, "attack corpus too small");
    assert!(benign.len() >= 300, "benign corpus too small");

    let gw = Gateway::start(UPSTREAM, &json!({})).unwrap();
    let mut problems = Vec::new();

    for req in &attacks {
        match gw.send(req) {
            Ok(resp) if resp.status == 403 => {}
            Ok(resp) => problems.push(format!(
                "missed attack {:?}: {} {} got {}",
                req.name, req.method, req.path, resp.status
            )),
            Err(e) => problems.push(format!("attack {:?}: {e}", req.name)),
        }
    }
    for req in &benign {
        match gw.send(req) {
            Ok(resp) if resp.status == 200 && resp.text().contains("\"upstream\":\"ok\"") => {}
            // HEAD answers carry no body.
            Ok(resp) if resp.status == 200 && req.method == "HEAD" => {}
            Ok(resp) => problems.push(format!(
                "false positive {:?}: {} {} got {} {}",
                req.name,
                req.method,
                req.path,
                resp.status,
                resp.text()
            )),
            Err(e) => problems.push(format!("benign {:?}: {e}", req.name)),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} requests wrong:\n{}",
        problems.len(),
        attacks.len() + benign.len(),
        problems.join("\n")
    );
}

fn reached_upstream(resp: &Response, method: &str) -> bool {
    resp.status == 200 && (method == "HEAD" || resp.text().contains("\"upstream\":\"ok\""))
}

#[test]
fn evasions_are_blocked_and_look_alikes_pass() {
    let cases = load_evasions("evasions.yaml").unwrap();
    assert!(cases.len() >= 40, "evasion corpus too small");
    assert!(cases.iter().any(|c| c.expect == Expect::Pass));
    let gw = Gateway::start(UPSTREAM, &json!({"log": "matched"})).unwrap();
    let mut problems = Vec::new();
    let mut known = Vec::new();
    for case in &cases {
        let req = case.request();
        let got = match gw.send(&req) {
            Ok(resp) if resp.status == 403 => Expect::Block,
            Ok(resp) if reached_upstream(&resp, &req.method) => Expect::Pass,
            Ok(resp) => {
                problems.push(format!(
                    "{:?}: neither blocked nor passed: {} {}",
                    case.name,
                    resp.status,
                    resp.text()
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!("{:?}: {e}", case.name));
                continue;
            }
        };
        match (&case.known_miss, got == case.expect) {
            (None, true) => {}
            (None, false) => problems.push(format!(
                "{:?} ({}): expected {:?}, got {:?}: {} {}",
                case.name, case.why, case.expect, got, req.method, req.path
            )),
            (Some(reason), false) => known.push(format!("{:?}: {reason}", case.name)),
            (Some(_), true) => problems.push(format!(
                "{:?} is marked known_miss but now gets {:?}: remove the marker",
                case.name, got
            )),
        }
    }
    if !known.is_empty() {
        eprintln!(
            "{} documented known misses in evasions.yaml:\n{}",
            known.len(),
            known.join("\n")
        );
    }
    assert!(
        problems.is_empty(),
        "{} of {} evasion cases wrong:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}
