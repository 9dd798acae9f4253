//! The main job, end to end: an ordinary request reaches the upstream, an
//! attack gets Palisade's JSON 403, a verdict line is logged and the metrics
//! count both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_e2e::{Gateway, Request};
use serde_json::json;
use std::time::{Duration, Instant};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

#[test]
fn blocks_attacks_passes_traffic_logs_and_counts() {
    let gw = Gateway::start(UPSTREAM, &json!({})).unwrap();

    // Ordinary traffic is answered by the upstream.
    let ok = gw.send(&Request::get("/search?q=fish+%26+chips")).unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json().unwrap()["upstream"], "ok");
    let post = gw
        .send(&Request::post(
            "/api/orders",
            "application/json",
            r#"{"item":"book","qty":2}"#,
        ))
        .unwrap();
    assert_eq!(post.status, 200, "{}", post.text());
    assert_eq!(post.json().unwrap()["body_bytes"], 23);

    // The README's example attack.
    let blocked = gw.send(&Request::get("/?id=1%27%20OR%201=1--")).unwrap();
    assert_eq!(blocked.status, 403, "{}", blocked.text());
    assert_eq!(blocked.header("content-type"), Some("application/json"));
    let body = blocked.json().unwrap();
    assert_eq!(body["blocked"], true);
    let rules: Vec<u64> = body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap())
        .collect();
    assert!(rules.contains(&107100), "rules {rules:?}");
    let request_id = body["request_id"].as_str().unwrap();
    assert!(!request_id.is_empty());

    // One verdict line for that request, with rule ids, scores, variables.
    let verdict = gw
        .verdict(request_id)
        .unwrap_or_else(|| panic!("no verdict line; log:\n{}", gw.log()));
    assert_eq!(verdict["event"], "blocked");
    let first = &verdict["rules"][0];
    assert!(first["id"].is_u64() && first["score"].is_u64(), "{verdict}");
    assert!(
        first["variable"].as_str().unwrap().starts_with("ARGS"),
        "{verdict}"
    );
    assert!(verdict["score"].as_u64().unwrap() >= 5, "{verdict}");

    // Envoy exposes proxy-wasm metrics with the `wasmcustom.` prefix.
    assert_eq!(
        gw.stat("wasmcustom.palisade.requests_inspected").unwrap(),
        3
    );
    assert_eq!(gw.stat("wasmcustom.palisade.requests_blocked").unwrap(), 1);
    assert_eq!(gw.stat("wasmcustom.palisade.rule.107100.hits").unwrap(), 1);
    // The VM's linear memory, for soak runs: at least the loaded ruleset.
    let vm = gw.stat("wasmcustom.palisade.vm_memory_bytes").unwrap();
    assert!((1 << 20..1 << 30).contains(&vm), "vm_memory_bytes {vm}");
    // Palisade's time per request, for one stream in eight, the first
    // included: of the three above, the first. It is recorded when the
    // stream ends, which may come just after the client has the response.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (sum, count) = loop {
        let totals = gw.histogram_totals("palisade.filter_time_us").unwrap();
        if totals.1 >= 1 || Instant::now() > deadline {
            break totals;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(count, 1, "filter_time_us count");
    assert!(sum > 0.0 && sum < 1e6, "filter_time_us sum {sum}");
}
