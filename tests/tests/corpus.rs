//! The built-in rules against two corpora through one real Envoy: every
//! attack in tests/corpus/attacks.yaml gets 403, every request in
//! tests/corpus/benign.yaml reaches the upstream. All misses and false
//! positives are collected and reported together, with the rules that fired.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_e2e::{load_corpus, Gateway};
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
