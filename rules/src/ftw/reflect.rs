//! CRS's "albedo" test backend, as data: go-ftw's response-phase tests send
//! `POST /reflect` with a JSON body `{"status": 201, "headers": {"a": "b"},
//! "body": "text", "encodedBody": "base64"}` (all optional) and expect the
//! backend to answer with exactly that response. The e2e upstream serves it
//! on the wire; `palisade test --ftw` hands it to the response phases
//! in-process. One reading of the spec for both, so they cannot disagree.

use base64::Engine as _;

/// The response a `/reflect` request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reflected {
    pub status: u16,
    /// As given, in order, plus a sniffed `content-type` when the spec has
    /// none and the body is not empty (albedo is Go's net/http, which does
    /// the same).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Does this request ask albedo for a reflected response?
pub fn is_reflect(method: &str, target: &str) -> bool {
    method == "POST" && target.split('?').next() == Some("/reflect")
}

impl Reflected {
    /// Reads the spec from a `/reflect` request body. A body that is not a
    /// JSON object, or a bad `encodedBody`, gives a 400 saying why, as a
    /// backend would.
    pub fn from_request_body(request_body: &[u8]) -> Reflected {
        let spec = match serde_json::from_slice::<serde_json::Value>(request_body) {
            Ok(v) if v.is_object() => v,
            Ok(_) | Err(_) => {
                serde_json::json!({"status": 400, "body": "reflect: body is not a JSON object"})
            }
        };
        let status = spec["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(200);
        let body = match spec["encodedBody"].as_str() {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap_or_else(|e| format!("reflect: bad encodedBody: {e}").into_bytes()),
            None => spec["body"].as_str().unwrap_or("").as_bytes().to_vec(),
        };
        let mut headers: Vec<(String, String)> = spec["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(name, value)| {
                        let value = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_string);
                        (name.clone(), value)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let has_type = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if !has_type && !body.is_empty() {
            headers.push((
                "content-type".to_string(),
                sniff_content_type(&body).to_string(),
            ));
        }
        Reflected {
            status,
            headers,
            body,
        }
    }
}

/// A small part of Go's `http.DetectContentType`: HTML by its leading tag,
/// text when the first 512 bytes hold no control bytes, else octet-stream.
/// It decides whether response-body rules see the body (by media type), so
/// it must agree with what albedo would have sent.
pub fn sniff_content_type(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !b" \t\r\n\x0c".contains(b))
        .unwrap_or(body.len());
    let lead = body[start..body.len().min(start + 16)].to_ascii_lowercase();
    let html = [
        &b"<!doctype html"[..],
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ]
    .iter()
    .any(|tag| lead.starts_with(tag) && matches!(lead.get(tag.len()), Some(b' ' | b'>')));
    if html {
        "text/html; charset=utf-8"
    } else if body
        .iter()
        .take(512)
        .all(|&b| b >= 0x20 || b"\t\n\r\x0c\x1b".contains(&b))
    {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spec_fields_and_defaults() {
        let r = Reflected::from_request_body(
            br#"{"status": 201, "headers": {"x-a": "b"}, "body": "<html>hi</html>"}"#,
        );
        assert_eq!(r.status, 201);
        assert_eq!(
            r.headers,
            vec![
                ("x-a".to_string(), "b".to_string()),
                (
                    "content-type".to_string(),
                    "text/html; charset=utf-8".to_string()
                )
            ]
        );
        let r = Reflected::from_request_body(br#"{"encodedBody": "AAEC"}"#);
        assert_eq!((r.status, r.body.as_slice()), (200, &[0u8, 1, 2][..]));
        assert_eq!(r.headers[0].1, "application/octet-stream");
        let r = Reflected::from_request_body(b"not json");
        assert_eq!(r.status, 400);
        assert!(is_reflect("POST", "/reflect?x=1"));
        assert!(!is_reflect("GET", "/reflect"));
    }
}
