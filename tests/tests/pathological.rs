//! Pathological requests through a real Envoy: huge argument counts, a
//! 1 MB header, deep JSON, 10,000 multipart parts, 100 KB runs of `%` and
//! `<`. Each gets a decision (a status and a `palisade-verdict` line, the
//! policy logs every request) within a bounded time, Envoy's memory stays
//! bounded, and where a parser limit (`request_body.max_args`, `max_depth`,
//! `max_parts`) trips, the request is blocked by rule 100540 with the limit
//! named in the verdict (its matched variable).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use palisade_e2e::{tail, wasm_path, workspace_root, Gateway, Request};
use serde_json::{json, Value};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

/// Generous per-request bound (the filter is a release build; Envoy runs
/// one worker; other builds may share the machine).
const DECISION_TIME: Duration = Duration::from_secs(10);

/// Bound on Envoy's resident memory growth over the whole run.
const RSS_GROWTH_KIB: u64 = 512 * 1024;

/// The policy: every request logged, bodies up to 2 MiB buffered (so the
/// parser limits, not the byte limit, are what the big bodies meet).
fn policy() -> Value {
    json!({"log": "all", "request_body": {"limit_bytes": 2 * 1024 * 1024}})
}

/// `gateway.yaml` with Envoy's header limit raised to `kb` and the
/// per-connection buffer to 4 MiB.
fn template(kb: u32) -> PathBuf {
    let text = fs::read_to_string(workspace_root().join("envoy-config/gateway.yaml")).unwrap();
    let text = text
        .replace(
            "stat_prefix: palisade_ingress\n",
            &format!(
                "stat_prefix: palisade_ingress\n                max_request_headers_kb: {kb}\n"
            ),
        )
        .replace(
            "per_connection_buffer_limit_bytes: 2097152",
            "per_connection_buffer_limit_bytes: 4194304",
        );
    assert!(text.contains("max_request_headers_kb"));
    let out = std::env::temp_dir().join(format!(
        "palisade-pathological-{}-{kb}.yaml",
        std::process::id()
    ));
    fs::write(&out, text).unwrap();
    out
}

fn start(kb: u32) -> Gateway {
    let launch = Gateway::launch_with(
        &template(kb),
        &wasm_path().unwrap(),
        UPSTREAM,
        &policy().to_string(),
    )
    .unwrap();
    launch.ready().unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

const PASS: (u16, &str) = (200, "passed");
const BLOCK: (u16, &str) = (403, "blocked");

/// Sends `req` with request id `id`; asserts the status and a verdict line
/// with the event (`matched` counts as `passed`: rules fired below the
/// threshold), both within [`DECISION_TIME`]; returns the verdict.
fn decide(gw: &Gateway, id: &str, req: Request, (status, event): (u16, &str)) -> Value {
    let req = req.header("x-request-id", id);
    let started = Instant::now();
    let resp = gw.send(&req).unwrap_or_else(|e| panic!("{id}: {e}"));
    let verdict = gw
        .verdict(id)
        .unwrap_or_else(|| panic!("{id}: no verdict line:\n{}", tail(&gw.log(), 10)));
    let took = started.elapsed();
    assert!(took < DECISION_TIME, "{id}: decision took {took:?}");
    assert_eq!(resp.status, status, "{id}: {}", resp.text());
    let got = match verdict["event"].as_str() {
        Some("matched") => "passed",
        Some(other) => other,
        None => "",
    };
    assert_eq!(
        got,
        event,
        "{id}: {}",
        tail(&verdict.to_string(), 1)
            .chars()
            .rev()
            .take(600)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
    let ids: Vec<&Value> = verdict["rules"]
        .as_array()
        .map(|r| r.iter().map(|m| &m["id"]).collect())
        .unwrap_or_default();
    eprintln!("{id}: {status} {event} in {took:?}, rules {ids:?}");
    verdict
}

/// The verdict blocked on rule 100540 and names `limit` in its variable.
fn assert_limit(id: &str, verdict: &Value, limit: &str) {
    let rules = verdict["rules"].as_array().unwrap();
    let hit = rules
        .iter()
        .find(|r| r["id"] == 100540)
        .unwrap_or_else(|| panic!("{id}: rule 100540 did not fire: {verdict}"));
    let variable = hit["variable"].as_str().unwrap().to_ascii_lowercase();
    assert!(
        variable.contains(limit),
        "{id}: {variable} does not name {limit}"
    );
}

fn form(body: &str) -> Request {
    Request::post("/form", "application/x-www-form-urlencoded", body)
}

#[test]
fn pathological_requests_get_bounded_decisions() {
    let gw = start(2048);
    let rss_before = rss_kib(gw.envoy_pid());

    // 10,000 query arguments (40 KB): the query has no argument limit
    // (Envoy's header limit bounds it), so all are inspected, the last too.
    let many = "a=1&".repeat(10_000);
    decide(&gw, "query-args", Request::get(&format!("/?{many}")), PASS);
    decide(
        &gw,
        "query-args-attack",
        Request::get(&format!("/?{many}id=1%27%20OR%201=1--")),
        BLOCK,
    );

    // 10,000 urlencoded body arguments: past max_args (1000).
    let v = decide(&gw, "body-args", form(&many), BLOCK);
    assert_limit("body-args", &v, "args_limit");

    // A 1 MB header value (Envoy's limit raised to 2 MB for this).
    let big = "a".repeat(1024 * 1024);
    decide(
        &gw,
        "header-1mb",
        Request::get("/").header("x-big", &big),
        PASS,
    );

    // 100-level nested JSON: past max_depth (64).
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let v = decide(
        &gw,
        "json-depth",
        Request::post("/api", "application/json", &deep),
        BLOCK,
    );
    assert_limit("json-depth", &v, "depth_limit");
    // 64 levels is within the limit.
    let ok = format!("{}1{}", "[".repeat(64), "]".repeat(64));
    decide(
        &gw,
        "json-depth-64",
        Request::post("/api", "application/json", &ok),
        PASS,
    );

    // A multipart body with 10,000 parts: past max_parts (1000).
    let mut parts = String::new();
    for i in 0..10_000 {
        parts.push_str(&format!(
            "--b\r\ncontent-disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"
        ));
    }
    parts.push_str("--b--\r\n");
    let v = decide(
        &gw,
        "multipart-parts",
        Request::post("/upload", "multipart/form-data; boundary=b", &parts),
        BLOCK,
    );
    assert_limit("multipart-parts", &v, "file_limit");

    // 100 KB runs of `%` and `<`, in the query and in a body: not valid
    // percent-encoding, markup-like, and neither an attack.
    let percent = "%".repeat(100 * 1024);
    let angle = "<".repeat(100 * 1024);
    for (name, run) in [("percent", &percent), ("angle", &angle)] {
        let query = Request::get(&format!("/?q={run}"));
        decide(&gw, &format!("{name}-query"), query, PASS);
        decide(
            &gw,
            &format!("{name}-body"),
            form(&format!("q={run}")),
            PASS,
        );
    }

    let rss_after = rss_kib(gw.envoy_pid());
    eprintln!("Envoy RSS: {rss_before} KiB before, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + RSS_GROWTH_KIB,
        "Envoy RSS grew from {rss_before} to {rss_after} KiB"
    );
}

#[test]
fn one_megabyte_header_meets_envoys_431_by_default() {
    // Envoy's default max_request_headers_kb (60) answers 431 before any
    // filter runs: no verdict line, the upstream never sees it.
    let gw = Gateway::start(UPSTREAM, &policy()).unwrap();
    let big = "a".repeat(1024 * 1024);
    let resp = gw
        .send(
            &Request::get("/")
                .header("x-big", &big)
                .header("x-request-id", "h431"),
        )
        .unwrap();
    assert_eq!(resp.status, 431, "{}", resp.text());
    assert!(
        gw.verdict("h431").is_none(),
        "Palisade saw it:\n{}",
        tail(&gw.log(), 5)
    );
}
