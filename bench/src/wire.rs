//! The load generators' side of the wire: requests as bytes, one
//! request/response exchange on a keep-alive connection, and a process's
//! memory from /proc. Shared by the benchmark runner and the soak run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use crate::MixRequest;

/// The request as HTTP/1.1 bytes, with a Content-Length for its body.
pub fn wire_bytes(r: &MixRequest) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\n", r.method, r.path);
    for (n, v) in &r.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !r.body.is_empty() {
        head.push_str(&format!("content-length: {}\r\n", r.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&r.body);
    bytes
}

/// Writes one request and reads its response; returns the status and
/// whether the connection stays open.
pub fn exchange(reader: &mut BufReader<TcpStream>, req: &[u8]) -> std::io::Result<(u16, bool)> {
    reader.get_mut().write_all(req)?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    let mut chunked = false;
    let mut keep = true;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            let v = v.trim();
            if n.eq_ignore_ascii_case("content-length") {
                length = v.parse().unwrap_or(0);
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                // Palisade streams inspected response bodies chunked (it
                // drops Content-Length because a block replaces the body).
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                keep = false;
            }
        }
    }
    if chunked {
        read_chunked(reader)?;
    } else {
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
    }
    Ok((status, keep))
}

/// Reads (and discards) a chunked body up to and including its trailers.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed in a chunked body"));
        }
        let size_text = line.trim_end().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers, then the empty line that ends the message.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk)?;
    }
}

/// Peak (VmHWM) and current (VmRSS) resident memory, in MB.
pub fn rss_mb(pid: u32) -> Result<(f64, f64), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0))
}
