//! The TLS edge gateway (`envoy-config/edge.yaml`): HTTPS over HTTP/1.1 and
//! HTTP/2 reaches the upstream, an attack gets Palisade's 403 over both, the
//! JSON access log records the block, and admin is bound to loopback only.
//! A throwaway self-signed certificate is made per run with openssl; curl
//! (built with nghttp2) is the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use palisade_e2e::{
    json_string, self_signed_cert, wasm_path, workspace_root, Gateway, LaunchOptions,
};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

/// `<script>alert(1)</script>`, URL-encoded.
const ATTACK: &str = "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";

/// A fresh directory with a self-signed certificate (`cert.pem`, `key.pem`).
/// Removed by the caller.
fn make_cert() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-edge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    self_signed_cert(&dir).unwrap();
    dir
}

/// What curl saw: status, negotiated HTTP version, body.
struct CurlResponse {
    status: u16,
    version: String,
    body: String,
}

/// One HTTPS GET with curl, verifying the test certificate.
fn curl(port: u16, cert_dir: &Path, http: &str, path: &str) -> CurlResponse {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", http, "--cacert"])
        .arg(cert_dir.join("cert.pem"))
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["-w", "\n%{http_code} %{http_version}"])
        .arg(format!("https://localhost:{port}{path}"))
        .output()
        .expect("curl must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl {http} {path}: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, trailer) = stdout.rsplit_once('\n').unwrap();
    let (status, version) = trailer.split_once(' ').unwrap();
    CurlResponse {
        status: status.parse().unwrap(),
        version: version.to_string(),
        body: body.to_string(),
    }
}

/// Local addresses (hex `ADDR:PORT`, as in /proc/net/tcp) listening on `port`.
fn listening_addresses(port: u16) -> Vec<String> {
    let suffix = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    // State 0A is LISTEN.
                    (cols.len() > 3 && cols[1].ends_with(&suffix) && cols[3] == "0A")
                        .then(|| cols[1].to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The access log entry whose `request_id` is `id` (bounded wait: Envoy
/// flushes the file every 100 ms in this test).
fn access_entry(path: &Path, id: &str) -> Option<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let entry: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("access log line is not JSON ({e}): {line}"));
            if entry["request_id"] == id {
                return Some(entry);
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tls_edge_serves_h1_and_h2_blocks_attacks_and_logs_json() {
    let certs = make_cert();
    let access_log = certs.join("access.log");
    let options = LaunchOptions {
        values: vec![
            (
                "CERT_PATH".into(),
                json_string(&certs.join("cert.pem").to_string_lossy()),
            ),
            (
                "KEY_PATH".into(),
                json_string(&certs.join("key.pem").to_string_lossy()),
            ),
            (
                "ACCESS_LOG_PATH".into(),
                json_string(&access_log.to_string_lossy()),
            ),
        ],
        args: vec!["--file-flush-interval-msec".into(), "100".into()],
    };
    let launch = Gateway::launch_with_options(
        &workspace_root().join("envoy-config/edge.yaml"),
        &wasm_path().unwrap(),
        UPSTREAM,
        "{}",
        &options,
    )
    .unwrap();
    let gw = launch.ready().unwrap();

    // Ordinary HTTPS traffic over both protocols reaches the upstream.
    let h1 = curl(gw.port, &certs, "--http1.1", "/search?q=fish");
    assert_eq!(
        (h1.status, h1.version.as_str()),
        (200, "1.1"),
        "{}",
        h1.body
    );
    assert!(h1.body.contains("\"upstream\":\"ok\""), "{}", h1.body);
    let h2 = curl(gw.port, &certs, "--http2", "/search?q=fish");
    assert_eq!((h2.status, h2.version.as_str()), (200, "2"), "{}", h2.body);
    assert!(h2.body.contains("\"upstream\":\"ok\""), "{}", h2.body);

    // The attack gets Palisade's JSON 403 over both.
    let mut ids = Vec::new();
    for http in ["--http1.1", "--http2"] {
        let r = curl(gw.port, &certs, http, ATTACK);
        assert_eq!(r.status, 403, "{http}: {}", r.body);
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["blocked"], true, "{http}: {body}");
        ids.push((http, body["request_id"].as_str().unwrap().to_string()));
    }

    // One JSON access log entry per block, with the status, Palisade's
    // local reply (no upstream host) and the negotiated protocol.
    for (http, id) in &ids {
        let entry = access_entry(&access_log, id).unwrap_or_else(|| {
            panic!(
                "{http}: no access log entry for {id}:\n{}",
                std::fs::read_to_string(&access_log).unwrap_or_default()
            )
        });
        assert_eq!(entry["status"], 403, "{entry}");
        assert_eq!(entry["upstream"], serde_json::Value::Null, "{entry}");
        assert_eq!(entry["content_type"], "application/json", "{entry}");
        assert_ne!(entry["details"], "via_upstream", "{entry}");
        let protocol = if *http == "--http2" {
            "HTTP/2"
        } else {
            "HTTP/1.1"
        };
        assert_eq!(entry["protocol"], protocol, "{entry}");
        assert!(
            entry["tls"].as_str().unwrap_or("").starts_with("TLSv1."),
            "{entry}"
        );
        assert_eq!(entry["path"], ATTACK, "{entry}");
        // And Palisade's own verdict line for the same request.
        let verdict = gw
            .verdict(id)
            .unwrap_or_else(|| panic!("no verdict for {id}"));
        assert_eq!(verdict["event"], "blocked", "{verdict}");
    }
    // The passed requests were logged as answered by the upstream.
    let text = std::fs::read_to_string(&access_log).unwrap();
    let passed = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["status"] == 200 && e["details"] == "via_upstream")
        .count();
    assert_eq!(passed, 2, "{text}");

    // Admin (and the listener) are bound to 127.0.0.1 only.
    for port in [gw.admin_port, gw.port] {
        let addrs = listening_addresses(port);
        assert!(!addrs.is_empty(), "nothing listens on {port}");
        for a in &addrs {
            assert!(a.starts_with("0100007F:"), "port {port} bound to {a}");
        }
    }

    drop(gw);
    let _ = std::fs::remove_dir_all(&certs);
}
