//! go-ftw stage inputs as the bytes a client puts on the wire.
//!
//! go-ftw sends requests exactly as written (odd methods, versions, header
//! order, raw `encoded_request` bytes); the e2e runner writes these bytes on
//! a socket, `palisade test --ftw` reads them back as the filter would see
//! the request.

use base64::Engine as _;

use super::format::Input;

/// The request bytes for `input`, with `extra` (whole header lines, each
/// ending in CRLF; may be empty) right after the request line. `cookies` are
/// those saved by earlier stages (`save_cookie`).
///
/// # Errors
/// When `encoded_request` is not base64.
pub fn request_bytes(input: &Input, extra: &str, cookies: &str) -> Result<Vec<u8>, String> {
    if let Some(encoded) = &input.encoded_request {
        // Files wrap long base64 over several lines.
        let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| format!("encoded_request is not base64: {e}"))?;
        return Ok(inject_after_request_line(&raw, extra.as_bytes()));
    }
    let method = input.method.as_deref().unwrap_or("GET");
    let uri = input.uri.as_deref().unwrap_or("/");
    let version = input.version.as_deref().unwrap_or("HTTP/1.1");
    let mut head = if version.is_empty() {
        format!("{method} {uri}\r\n")
    } else {
        format!("{method} {uri} {version}\r\n")
    };
    head.push_str(extra);
    let has = |name: &str| {
        input
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    for (name, value) in &input.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !cookies.is_empty() && !has("cookie") {
        head.push_str(&format!("Cookie: {cookies}\r\n"));
    }
    let body = expand_repeat(&input.data.as_ref().map(|d| d.bytes()).unwrap_or_default());
    // go-ftw's autocomplete_headers (default on): a Content-Length for the
    // data, or `Content-Length: 0` when the method may carry a body, and
    // Connection: close, unless the file gives its own.
    if input.autocomplete_headers.unwrap_or(true) {
        if !has("content-length")
            && !has("transfer-encoding")
            && (!body.is_empty() || method_may_have_body(method))
        {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if !has("connection") {
            head.push_str("Connection: close\r\n");
        }
    }
    head.push_str("\r\n");
    Ok([head.into_bytes(), body].concat())
}

/// go-ftw's `methodsWithBodyRegex`, `^POST|PUT|PATCH|DELETE$`, alternation
/// precedence included: starts with POST, contains PUT or PATCH, or ends with
/// DELETE.
fn method_may_have_body(method: &str) -> bool {
    method.starts_with("POST")
        || method.contains("PUT")
        || method.contains("PATCH")
        || method.ends_with("DELETE")
}

/// `raw` with `extra` inserted after its first line (unchanged when it has
/// no line break: such a request cannot be correlated, and reports no ids).
fn inject_after_request_line(raw: &[u8], extra: &[u8]) -> Vec<u8> {
    match raw.iter().position(|&b| b == b'\n') {
        Some(i) => [&raw[..=i], extra, &raw[i + 1..]].concat(),
        None => raw.to_vec(),
    }
}

/// go-ftw renders `data` as a Go template; CRS's files use one function,
/// `{{ "1" | repeat 64200 }}`, to build large bodies. Only that form is
/// expanded: anything else between `{{` and `}}` is payload (template
/// injection tests send `{{constructor.constructor(...)}}`) and stays as is.
fn expand_repeat(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = find(rest, b"{{") {
        let Some(len) = find(&rest[start..], b"}}") else {
            break;
        };
        let inner = String::from_utf8_lossy(&rest[start + 2..start + len]);
        out.extend_from_slice(&rest[..start]);
        match parse_repeat(&inner) {
            Some((text, n)) => {
                out.extend(text.as_bytes().iter().copied().cycle().take(text.len() * n))
            }
            None => out.extend_from_slice(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// ` "1" | repeat 64200 ` → ("1", 64200).
fn parse_repeat(inner: &str) -> Option<(String, usize)> {
    let (quoted, call) = inner.split_once('|')?;
    let text = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
    let n = call.trim().strip_prefix("repeat")?.trim().parse().ok()?;
    Some((text.to_string(), n))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::format::Data;
    use super::*;

    #[test]
    fn id_goes_after_the_request_line_and_autocomplete_adds_length() {
        let input = Input {
            method: Some("POST".into()),
            uri: Some("/x".into()),
            version: Some("HTTP/1.0".into()),
            headers: vec![("Host".into(), "localhost".into())],
            data: Some(Data::Text("a=b".into())),
            ..Input::default()
        };
        let bytes = request_bytes(&input, "x-request-id: ftw-1\r\n", "").unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "POST /x HTTP/1.0\r\nx-request-id: ftw-1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b"
        );
    }

    #[test]
    fn autocomplete_gives_an_empty_post_a_zero_length() {
        let input = Input {
            method: Some("POST".into()),
            headers: vec![("Host".into(), "localhost".into())],
            ..Input::default()
        };
        let bytes = request_bytes(&input, "x-request-id: ftw-3\r\n", "").unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "POST / HTTP/1.1\r\nx-request-id: ftw-3\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let get = Input {
            headers: vec![("Host".into(), "localhost".into())],
            ..Input::default()
        };
        let bytes = request_bytes(&get, "", "").unwrap();
        assert!(!String::from_utf8(bytes).unwrap().contains("Content-Length"));
    }

    #[test]
    fn encoded_request_is_sent_raw_with_the_id() {
        let input = Input {
            encoded_request: Some("R0VUIC8g\nSFRUUC8xLjENCkhvc3Q6IGENCg0K".into()),
            autocomplete_headers: Some(false),
            ..Input::default()
        };
        let bytes = request_bytes(&input, "x-request-id: ftw-2\r\n", "").unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "GET / HTTP/1.1\r\nx-request-id: ftw-2\r\nHost: a\r\n\r\n"
        );
    }

    #[test]
    fn repeat_templates_expand_and_other_braces_stay() {
        assert_eq!(
            super::expand_repeat(b"a{{ \"xy\" | repeat 3 }}b"),
            b"axyxyxyb"
        );
        assert_eq!(
            super::expand_repeat(b"{{constructor.constructor('alert(1)')()}}"),
            b"{{constructor.constructor('alert(1)')()}}"
        );
        assert_eq!(super::expand_repeat(b"{{ open"), b"{{ open");
    }
}
