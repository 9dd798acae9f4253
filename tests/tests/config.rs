//! A bad plugin configuration is refused at VM start with a log line naming
//! the field and value, and Envoy does not serve traffic with it: the WAF
//! never runs with a policy other than the one written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_e2e::{tail, Gateway, Launch, Request};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

#[test]
fn invalid_configs_are_refused_naming_the_field() {
    let cases = [
        (r#"{"paranoia_level": 7}"#, "paranoia_level"),
        (r#"{"mode": "monitor"}"#, "mode"),
        (r#"{"request_body": {"limit_bytes": "big"}}"#, "limit_bytes"),
        (r#"{"unknown_knob": true}"#, "unknown_knob"),
        (r#"{"paranoia_level": 1"#, "JSON"),
    ];
    for (config, field) in cases {
        match Gateway::launch(UPSTREAM, config).unwrap() {
            Launch::Exited { code, log } => {
                assert_ne!(code, Some(0), "{config}: Envoy exited 0");
                let line = log
                    .lines()
                    .find(|l| l.contains("palisade: invalid plugin configuration"))
                    .unwrap_or_else(|| {
                        panic!("{config}: no refusal line; log:\n{}", tail(&log, 30))
                    });
                assert!(
                    line.contains(field),
                    "{config}: line does not name {field}: {line}"
                );
                // Envoy 1.40 with failure_policy FAIL_CLOSED and a static
                // bootstrap: the plugin fails to load and start-up is aborted
                // (exit 1) rather than serving 503s.
                assert!(
                    log.contains("Unable to create Wasm plugin palisade"),
                    "{config}: Envoy did not report the plugin failure; log:\n{}",
                    tail(&log, 30)
                );
            }
            Launch::Ready(gw) => {
                // If Envoy stays up, the filter must not let traffic through.
                let resp = gw.send(&Request::get("/")).unwrap();
                panic!(
                    "{config}: Envoy became ready and answered {} ; log:\n{}",
                    resp.status,
                    tail(&gw.log(), 30)
                );
            }
        }
    }
}
