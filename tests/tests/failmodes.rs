//! What happens when Palisade itself fails, through a real Envoy 1.40:
//!
//! - a policy that does not load: Palisade logs one line naming the field
//!   and value, and Envoy refuses to start, whatever the `failure_policy`
//!   (a static bootstrap has no previous policy to fall back on);
//! - a trap inside the VM during a request (a panic, made on demand by the
//!   test-only `fault-injection` build of the filter): the trapping request
//!   gets 503 and never reaches the upstream; what follows depends on
//!   `failure_policy`: FAIL_CLOSED answers 503 from then on (the VM is
//!   dead), FAIL_OPEN passes later requests uninspected, FAIL_RELOAD starts
//!   a new VM after a backoff and inspects again.
//!
//! A body over the inspection limit is the third fail mode; it is tested in
//! `modes.rs` (`body_over_the_limit_is_refused_with_413_by_default`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use palisade_e2e::{
    fault_injection_wasm_path, tail, wasm_path, workspace_root, Gateway, Launch, Request, Response,
};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");
const ATTACK: &str = "/?id=1%27%20OR%201=1--";
/// Envoy's count of requests sent to the upstream cluster.
const UPSTREAM_REQUESTS: &str = "cluster.upstream.upstream_rq_total";

/// `envoy-config/gateway.yaml` with another `failure_policy`, written to a
/// temporary file.
fn template(policy: &str) -> PathBuf {
    let path = workspace_root().join("envoy-config/gateway.yaml");
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("failure_policy: FAIL_CLOSED"),
        "{}",
        path.display()
    );
    let text = text.replace(
        "failure_policy: FAIL_CLOSED",
        &format!("failure_policy: {policy}"),
    );
    let out = std::env::temp_dir().join(format!(
        "palisade-failmodes-{}-{policy}.yaml",
        std::process::id()
    ));
    fs::write(&out, text).unwrap();
    out
}

fn start(policy: &str) -> Gateway {
    let wasm = fault_injection_wasm_path().unwrap();
    Gateway::launch_with(&template(policy), &wasm, UPSTREAM, "{}")
        .and_then(Launch::ready)
        .unwrap_or_else(|e| panic!("{policy}: {e}"))
}

/// Sends the request that makes the VM trap; asserts the 503, that the
/// upstream never saw it, and that the panic and the trap are logged.
fn trap(gw: &Gateway, policy: &str) {
    let before = gw.stat(UPSTREAM_REQUESTS).unwrap();
    let resp = gw
        .send(&Request::get("/trap").header("x-palisade-fault", "panic"))
        .unwrap();
    assert_eq!(resp.status, 503, "{policy}: {}", resp.text());
    assert_eq!(
        gw.stat(UPSTREAM_REQUESTS).unwrap(),
        before,
        "{policy}: reached the upstream"
    );
    let panic = gw
        .wait_for_log("palisade: panic: ", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{policy}: panic not logged:\n{}", tail(&gw.log(), 30)));
    assert!(panic.contains("critical"), "{panic}");
    assert!(
        gw.wait_for_log("proxy_on_request_headers failed", Duration::from_secs(5))
            .is_some(),
        "{policy}: Envoy did not log the trap:\n{}",
        tail(&gw.log(), 30)
    );
}

fn reached_upstream(resp: &Response) -> bool {
    resp.status == 200 && resp.text().contains("\"upstream\":\"ok\"")
}

#[test]
fn normal_build_has_no_fault_injection() {
    // The header is an ordinary header for the normal build.
    let gw = Gateway::start(UPSTREAM, &serde_json::json!({})).unwrap();
    assert_ne!(
        wasm_path().unwrap(),
        fault_injection_wasm_path().unwrap(),
        "the fault-injection build must not replace the normal artifact"
    );
    let module = fs::read(wasm_path().unwrap()).unwrap();
    let needle = b"x-palisade-fault";
    assert!(
        !module.windows(needle.len()).any(|w| w == needle),
        "the normal palisade.wasm contains the fault-injection hook"
    );
    let faulty = fs::read(fault_injection_wasm_path().unwrap()).unwrap();
    assert!(faulty.windows(needle.len()).any(|w| w == needle));
    let resp = gw
        .send(&Request::get("/").header("x-palisade-fault", "panic"))
        .unwrap();
    assert!(reached_upstream(&resp), "{} {}", resp.status, resp.text());
    assert!(!gw.log().contains("palisade: panic"), "{}", gw.log());
}

#[test]
fn bad_policy_stops_envoy_whatever_the_failure_policy() {
    for policy in ["FAIL_CLOSED", "FAIL_OPEN", "FAIL_RELOAD"] {
        let launch = Gateway::launch_with(
            &template(policy),
            &wasm_path().unwrap(),
            UPSTREAM,
            r#"{"paranoia_level": 7}"#,
        )
        .unwrap();
        match launch {
            Launch::Exited { code, log } => {
                assert_eq!(code, Some(1), "{policy}:\n{}", tail(&log, 20));
                let lines: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("palisade: invalid plugin configuration"))
                    .collect();
                // One line per VM that ran on_configure; Envoy gives up
                // after the first (the main thread's).
                assert_eq!(lines.len(), 1, "{policy}:\n{}", tail(&log, 20));
                assert!(
                    lines[0].contains("field `paranoia_level`: 7 is not in 1..=4"),
                    "{}",
                    lines[0]
                );
                assert!(
                    log.contains("Unable to create Wasm plugin palisade"),
                    "{log}"
                );
            }
            Launch::Ready(gw) => {
                let resp = gw.send(&Request::get(ATTACK)).unwrap();
                panic!(
                    "{policy}: Envoy served with a bad policy ({}):\n{}",
                    resp.status,
                    tail(&gw.log(), 20)
                );
            }
        }
    }
}

#[test]
fn fail_closed_trap_answers_503_until_restart() {
    let gw = start("FAIL_CLOSED");
    assert!(reached_upstream(
        &gw.send(&Request::get("/before")).unwrap()
    ));
    trap(&gw, "FAIL_CLOSED");
    // The VM is not reloaded: every later request, clean or not, gets 503
    // and none reaches the upstream. Bounded: 3 rounds over ~2 s.
    let before = gw.stat(UPSTREAM_REQUESTS).unwrap();
    for _ in 0..3 {
        for path in ["/after", ATTACK] {
            let resp = gw.send(&Request::get(path)).unwrap();
            assert_eq!(resp.status, 503, "{path}: {}", resp.text());
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    assert_eq!(gw.stat(UPSTREAM_REQUESTS).unwrap(), before);
    assert_eq!(gw.stat("wasm.palisade.vm_reload_success").unwrap(), 0);
}

#[test]
fn fail_open_trap_then_passes_uninspected() {
    let gw = start("FAIL_OPEN");
    assert_eq!(gw.send(&Request::get(ATTACK)).unwrap().status, 403);
    trap(&gw, "FAIL_OPEN");
    // Later requests skip the dead filter: even the attack passes. This is
    // why the shipped configs say FAIL_CLOSED.
    for path in ["/after", ATTACK] {
        let resp = gw.send(&Request::get(path)).unwrap();
        assert!(
            reached_upstream(&resp),
            "{path}: {} {}",
            resp.status,
            resp.text()
        );
    }
}

#[test]
fn fail_reload_trap_restarts_the_vm_and_inspects_again() {
    let gw = start("FAIL_RELOAD");
    trap(&gw, "FAIL_RELOAD");
    // Envoy starts a new VM on a later request after a backoff (about a
    // second in 1.40); until then requests get 503. Bounded wait: 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = gw.send(&Request::get("/after")).unwrap();
        if reached_upstream(&resp) {
            break;
        }
        assert_eq!(resp.status, 503, "{}", resp.text());
        assert!(
            Instant::now() < deadline,
            "no reload:\n{}",
            tail(&gw.log(), 30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(gw.stat("wasm.palisade.vm_reload_success").unwrap() >= 1);
    // The new VM inspects: the attack is blocked again, with a verdict line.
    let resp = gw.send(&Request::get(ATTACK)).unwrap();
    assert_eq!(resp.status, 403, "{}", resp.text());
    let id = resp.json().unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let verdict = gw.verdict(&id).unwrap();
    assert_eq!(verdict["event"], "blocked");
}
