//! The test upstream behind the gateway: a small HTTP/1.1 server on
//! 127.0.0.1 that answers every request 200 with a JSON echo of what reached
//! it (method, path, body size), so a test can tell "passed through Palisade"
//! from "answered by Palisade". Std only, a thread per connection, keep-alive.
//!
//! It also plays CRS's "albedo" backend for the go-ftw regression runner:
//! `POST /reflect` with a JSON body `{"status": 201, "headers": {"a": "b"},
//! "body": "text", "encodedBody": "base64"}` (all optional) is answered with
//! exactly that response, so response-phase rules can be tested. Every other
//! request keeps the JSON echo (a 200, which is all albedo promises).
//!
//! `--port N` (0 picks a free port; the chosen address is printed as
//! `listening on 127.0.0.1:PORT`), `--max-seconds S` (exits by itself, so a
//! test that dies never leaves it running; default one hour).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use palisade_rules::ftw::reflect::{is_reflect, Reflected};

/// Requests larger than this are refused: the gateway's own limits are far
/// below, so anything bigger is a bug in a test.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

fn main() {
    if let Err(e) = run() {
        eprintln!("palisade-upstream: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut port: u16 = 0;
    let mut max_seconds: u64 = 3600;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => port = value.parse().map_err(|e| format!("--port {value}: {e}"))?,
            "--max-seconds" => {
                max_seconds = value
                    .parse()
                    .map_err(|e| format!("--max-seconds {value}: {e}"))?
            }
            other => return Err(format!("unknown flag {other} (use --port, --max-seconds)")),
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {addr}");
    io::stdout().flush().map_err(|e| e.to_string())?;

    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(max_seconds));
        std::process::exit(0);
    });

    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || {
                    // A connection error ends that connection only.
                    let _ = serve(stream);
                });
            }
            Err(e) => eprintln!("palisade-upstream: accept: {e}"),
        }
    }
    Ok(())
}

/// Serves requests on one connection until the peer closes it.
fn serve(stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();

        let mut content_length = 0usize;
        let mut chunked = false;
        let mut close = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => content_length = value.parse().unwrap_or(0),
                    "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }

        let request_body = if chunked {
            read_chunked(&mut reader)?
        } else {
            if content_length > MAX_BODY_BYTES {
                return Err(io::Error::other("body too large"));
            }
            let mut body = vec![0u8; content_length];
            reader.read_exact(&mut body)?;
            body
        };

        let reflect = is_reflect(&method, &path);
        let response = if reflect {
            reflect_response(&request_body, close)
        } else {
            let body = serde_json::json!({
                "upstream": "ok",
                "method": method,
                "path": path,
                "body_bytes": request_body.len(),
            })
            .to_string();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
                body.len(),
                if close { "connection: close\r\n" } else { "" },
            );
            [head.into_bytes(), body.into_bytes()].concat()
        };
        // One write per response: `write!` straight to the socket issues a
        // write per piece, and Nagle + delayed ACK then hold each response
        // for 40 ms (the benchmark saw exactly that).
        writer.write_all(&response)?;
        if close {
            return Ok(());
        }
    }
}

/// Albedo's `/reflect`: the response described by the JSON request body
/// (read by [`Reflected`], shared with `palisade test --ftw`).
fn reflect_response(request_body: &[u8], close: bool) -> Vec<u8> {
    let r = Reflected::from_request_body(request_body);
    let mut head = format!("HTTP/1.1 {} Reflected\r\n", r.status);
    let mut has_length = false;
    for (name, value) in &r.headers {
        has_length |= name.eq_ignore_ascii_case("content-length");
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_length {
        head.push_str(&format!("content-length: {}\r\n", r.body.len()));
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    [head.into_bytes(), r.body].concat()
}

/// Reads a chunked body, returning the decoded bytes.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut total = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {size_hex:?}")))?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(total);
                }
            }
        }
        if total.len() + size > MAX_BODY_BYTES {
            return Err(io::Error::other("body too large"));
        }
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk)?;
        total.extend_from_slice(&chunk[..size]);
    }
}
