//! Hot reconfiguration of the edge gateway (`envoy-config/edge-dynamic.yaml`):
//! Palisade's plugin configuration comes from a file watched by ECDS. Swapping
//! the file (write + rename) changes the policy without restarting Envoy and
//! without closing an open keep-alive connection; a bad policy is refused
//! with Palisade's log line and the previous one keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use palisade_e2e::{
    json_string, render, self_signed_cert, tail, wasm_path, workspace_root, Gateway, Launch,
    LaunchOptions, Request, Response,
};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

/// `<script>alert(1)</script>`, URL-encoded.
const ATTACK: &str = "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";

/// ECDS subscription stats for the filter config named `palisade` on an HTTP
/// filter chain: files accepted and files rejected. (`config_reload` is not
/// one per accepted file in Envoy 1.40: it counted 3 for 2 updates.)
const UPDATES: &str = "extension_config_discovery.http_filter.palisade.update_success";
const REJECTED: &str = "extension_config_discovery.http_filter.palisade.update_rejected";

/// Writes the ECDS file for `plugin_config` the way Envoy's watcher needs:
/// a temporary file in the same directory renamed over the watched path.
fn write_ecds(path: &Path, version: &str, plugin_config: &str) {
    let template =
        std::fs::read_to_string(workspace_root().join("envoy-config/palisade-ecds.yaml")).unwrap();
    let text = render(
        &template,
        &[
            ("VERSION", json_string(version)),
            ("PLUGIN_CONFIG", json_string(plugin_config)),
            (
                "WASM_PATH",
                json_string(&wasm_path().unwrap().to_string_lossy()),
            ),
        ],
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// One TLS connection kept open across requests (openssl s_client as the
/// TLS layer, HTTP/1.1 keep-alive on top).
struct KeepAlive {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl KeepAlive {
    fn open(port: u16) -> KeepAlive {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-alpn", "http/1.1"])
            .args(["-servername", "localhost", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        KeepAlive {
            child,
            stdin,
            stdout,
        }
    }

    fn get(&mut self, path: &str) -> Response {
        let req = Request::get(path).header("connection", "keep-alive");
        self.stdin.write_all(&req.to_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let resp = Response::read(&mut self.stdout, false).unwrap();
        assert_ne!(resp.header("connection"), Some("close"), "{resp:?}");
        resp
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded) until stat `name` reaches `value`.
fn wait_stat(gw: &Gateway, name: &str, value: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.stat(name).unwrap() < value {
        assert!(
            Instant::now() < deadline,
            "{name} never reached {value}; log:\n{}",
            tail(&gw.log(), 30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for Envoy to reject an ECDS update whose policy has a bad
/// `paranoia_level`, and for Palisade's line naming the field.
fn expect_refusal(gw: &Gateway) {
    wait_stat(gw, REJECTED, 1);
    let line = gw
        .wait_for_log(
            "palisade: invalid plugin configuration",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("no refusal line; log:\n{}", tail(&gw.log(), 30)));
    assert!(line.contains("paranoia_level"), "{line}");
}

/// An edge gateway whose Palisade policy comes from an ECDS file, first
/// holding `first_policy`. Returns the run's directory, the ECDS file and
/// the gateway.
fn start(name: &str, first_policy: &str) -> (PathBuf, PathBuf, Gateway) {
    let dir = std::env::temp_dir().join(format!("palisade-{name}-{}", std::process::id()));
    let ecds_dir = dir.join("ecds");
    std::fs::create_dir_all(&ecds_dir).unwrap();
    self_signed_cert(&dir).unwrap();
    let ecds = ecds_dir.join("palisade.yaml");
    write_ecds(&ecds, "1", first_policy);

    let path = |p: &Path| json_string(&p.to_string_lossy());
    let options = LaunchOptions {
        values: vec![
            ("CERT_PATH".into(), path(&dir.join("cert.pem"))),
            ("KEY_PATH".into(), path(&dir.join("key.pem"))),
            ("ACCESS_LOG_PATH".into(), path(&dir.join("access.log"))),
            ("ECDS_PATH".into(), path(&ecds)),
            ("ECDS_DIR".into(), path(&ecds_dir)),
        ],
        args: Vec::new(),
    };
    let gw = Gateway::launch_with_options(
        &workspace_root().join("envoy-config/edge-dynamic.yaml"),
        &wasm_path().unwrap(),
        UPSTREAM,
        "unused: the policy is in the ECDS file",
        &options,
    )
    .and_then(Launch::ready)
    .unwrap();
    (dir, ecds, gw)
}

#[test]
fn ecds_file_swap_changes_policy_on_an_open_connection_and_bad_config_keeps_old() {
    let (dir, ecds, gw) = start("reload", r#"{"mode": "block"}"#);
    wait_stat(&gw, UPDATES, 1);

    // Block mode from the first file.
    let mut conn = KeepAlive::open(gw.port);
    assert_eq!(conn.get("/").status, 200);
    let r = conn.get(ATTACK);
    assert_eq!(r.status, 403, "{}", r.text());

    // Swap to detect mode; the same connection sees the new policy.
    write_ecds(&ecds, "2", r#"{"mode": "detect", "log": "matched"}"#);
    wait_stat(&gw, UPDATES, 2);
    gw.wait_for_log("mode Detect", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no reload line; log:\n{}", tail(&gw.log(), 30)));
    let r = conn.get(ATTACK);
    assert_eq!(r.status, 200, "detect mode still blocked: {}", r.text());
    gw.wait_for_log("\"event\":\"detected\"", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no detected verdict; log:\n{}", tail(&gw.log(), 30)));

    // A bad policy: refused with Palisade's line, detect mode keeps serving.
    write_ecds(&ecds, "3", r#"{"mode": "detect", "paranoia_level": 7}"#);
    expect_refusal(&gw);
    // Envoy 1.40 rejects the whole ECDS update (the previous filter config
    // stays in place) and says why.
    gw.wait_for_log(
        "Filesystem config update rejected: Unable to create Wasm plugin palisade",
        Duration::from_secs(10),
    )
    .unwrap_or_else(|| panic!("no rejection line; log:\n{}", tail(&gw.log(), 30)));
    assert_eq!(gw.stat(UPDATES).unwrap(), 2);
    let r = conn.get(ATTACK);
    assert_eq!(r.status, 200, "old policy lost: {}", r.text());
    let mut other = KeepAlive::open(gw.port);
    assert_eq!(other.get(ATTACK).status, 200, "new connection");
    assert_eq!(other.get("/").status, 200);

    // A good policy after the bad one applies again.
    write_ecds(&ecds, "4", r#"{"mode": "block"}"#);
    wait_stat(&gw, UPDATES, 3);
    assert_eq!(conn.get(ATTACK).status, 403);

    // All of it on the two connections opened above: none was dropped.
    assert_eq!(
        gw.stat("http.palisade_edge.downstream_cx_total").unwrap(),
        2
    );
    drop(conn);
    drop(other);
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_first_policy_lets_nothing_through_uninspected_until_a_good_one_arrives() {
    let (dir, ecds, gw) = start("first-bad", r#"{"paranoia_level": 7}"#);
    expect_refusal(&gw);
    // No filter configuration yet: Envoy answers 500 itself (no
    // default_config in edge-dynamic.yaml), so nothing reaches the upstream
    // uninspected. Fail closed.
    let mut conn = KeepAlive::open(gw.port);
    assert_eq!(conn.get(ATTACK).status, 500);
    assert_eq!(conn.get("/").status, 500);
    assert_eq!(gw.stat("cluster.upstream.upstream_rq_total").unwrap(), 0);

    // The first good file makes the listener serve, with the WAF.
    write_ecds(&ecds, "2", r#"{"mode": "block"}"#);
    wait_stat(&gw, UPDATES, 1);
    let mut conn = KeepAlive::open(gw.port);
    assert_eq!(conn.get("/").status, 200);
    assert_eq!(conn.get(ATTACK).status, 403);
    drop(conn);
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}
