//! Stage inputs as bytes on the wire, and the raw exchange with the gateway.
//!
//! go-ftw sends requests exactly as written (odd methods, versions, header
//! order, raw `encoded_request` bytes), so the runner writes them on a raw
//! socket. The only addition is `x-request-id: <id>` right after the request
//! line: Palisade's verdict log line carries it, which is how a response is
//! matched to the rule ids it triggered.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::format::Input;
use crate::Response;
use palisade_rules::ftw::request;

/// The request bytes for `input`, tagged with `request_id`. `cookies` are
/// those saved by earlier stages (`save_cookie`).
pub fn request_bytes(input: &Input, request_id: &str, cookies: &str) -> Result<Vec<u8>, String> {
    request::request_bytes(input, &format!("x-request-id: {request_id}\r\n"), cookies)
}

/// Sends `bytes` to 127.0.0.1:`port` and reads one response. `Err` when the
/// connection fails or closes without a response.
pub fn exchange(
    port: u16,
    bytes: &[u8],
    timeout: Duration,
    head: bool,
) -> Result<Response, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    // The gateway may answer and close before reading everything; the
    // response (or its absence) decides, not the write.
    let _ = stream.write_all(bytes);
    // A read timeout shows as EAGAIN; name the limit so it reads as one.
    Response::read(&mut BufReader::new(stream), head)
        .map_err(|e| format!("{e}; socket timeout {timeout:?}"))
}
