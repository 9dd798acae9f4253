//! The request model: what a rule can look at, parsed once per request.
//!
//! Everything is bytes: a WAF must inspect what the client actually sent,
//! including invalid UTF-8 and malformed escapes, so nothing here assumes text.

pub mod cookies;
pub mod query;
pub mod uri;

use crate::body::{self, Body, BodyLimits, Processor};

/// One name/value pair: a query or body argument, a cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

impl Arg {
    pub fn new(name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Arg {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A request header as received, its name also kept lowercased so
/// selectors match case-insensitively without lowercasing on every rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: Vec<u8>,
    /// The lowercased name, only where it differs from `name`: Envoy hands
    /// the filter every name lowercased already, and a copy per header was
    /// an allocation per header per request.
    lowercased: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

impl Header {
    pub fn new(name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        let name = name.into();
        let lowercased = name
            .iter()
            .any(u8::is_ascii_uppercase)
            .then(|| name.to_ascii_lowercase());
        Header {
            name,
            lowercased,
            value: value.into(),
        }
    }

    /// The name, ASCII-lowercased.
    pub fn name_lc(&self) -> &[u8] {
        self.lowercased.as_deref().unwrap_or(&self.name)
    }
}

/// Everything known about one request. Headers-phase fields are set by
/// [`Request::new`]; the body is attached later by [`Request::attach_body`].
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: Vec<u8>,
    /// Request target exactly as sent (`/a%20b?x=1`).
    pub uri_raw: Vec<u8>,
    /// `HTTP/1.1`, `HTTP/2`, ...
    pub protocol: Vec<u8>,
    /// Path part of the URI, still percent-encoded.
    pub path_raw: Vec<u8>,
    /// Path after percent-decoding (REQUEST_FILENAME).
    pub path_decoded: Vec<u8>,
    /// Last segment of the decoded path (REQUEST_BASENAME).
    pub basename: Vec<u8>,
    /// Everything after the first `?`, raw.
    pub query_string: Vec<u8>,
    /// Query arguments in order, repeated names kept, names and values decoded.
    pub query_args: Vec<Arg>,
    /// Headers in the order received.
    pub headers: Vec<Header>,
    /// Cookies from every `Cookie` header, in order.
    pub cookies: Vec<Arg>,
    /// Client address as text, if the host told us.
    pub remote_addr: Vec<u8>,
    /// Set when the path or query contained `%` not followed by two hex digits.
    pub uri_invalid_encoding: bool,
    /// Parsed body, once the body phase runs.
    pub body: Option<Body>,
    /// UNIQUE_ID: the host's id for this request (Envoy's `x-request-id`).
    pub unique_id: Vec<u8>,
    /// The upstream's response, once response phases run.
    pub response: Option<ResponseData>,
}

/// What the upstream answered, for response-phase rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseData {
    /// The status code as text (`200`), as RESPONSE_STATUS holds it.
    pub status: Vec<u8>,
    pub protocol: Vec<u8>,
    pub headers: Vec<Header>,
    /// The (possibly truncated) body; empty until the body phase.
    pub body: Vec<u8>,
}

impl Request {
    /// Builds the headers-phase model. Never fails: malformed input becomes
    /// flags and best-effort values a rule can match.
    pub fn new(
        method: impl Into<Vec<u8>>,
        uri: impl Into<Vec<u8>>,
        protocol: impl Into<Vec<u8>>,
        headers: Vec<Header>,
    ) -> Self {
        let uri_raw = uri.into();
        let parts = uri::parse(&uri_raw);
        let query_args = query::parse(&parts.query);
        let cookies = headers
            .iter()
            .filter(|h| h.name_lc() == b"cookie")
            .flat_map(|h| cookies::parse(&h.value))
            .collect();
        Request {
            method: method.into(),
            protocol: protocol.into(),
            path_raw: parts.path_raw,
            path_decoded: parts.path_decoded,
            basename: parts.basename,
            query_string: parts.query,
            uri_invalid_encoding: parts.invalid_encoding,
            query_args,
            headers,
            cookies,
            remote_addr: Vec::new(),
            body: None,
            unique_id: Vec::new(),
            response: None,
            uri_raw,
        }
    }

    /// Values of every header with this (lowercase) name, in order.
    pub fn header_values<'a>(&'a self, name_lc: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name_lc() == name_lc)
            .map(|h| h.value.as_slice())
    }

    /// The `Content-Type` header, if exactly one was sent.
    pub fn content_type(&self) -> Option<&[u8]> {
        self.header_values(b"content-type").next()
    }

    /// Parses and attaches the request body. `truncated` says the body was
    /// cut at the configured limit, so parsers must not flag a missing end.
    pub fn attach_body(&mut self, raw: Vec<u8>, truncated: bool, limits: &BodyLimits) {
        self.attach_body_as(raw, truncated, limits, None);
    }

    /// [`Request::attach_body`] with the parser chosen by the caller
    /// (`ctl:requestBodyProcessor=XML`) rather than by the Content-Type,
    /// which then only supplies parameters (boundary, charset).
    pub fn attach_body_as(
        &mut self,
        raw: Vec<u8>,
        truncated: bool,
        limits: &BodyLimits,
        forced: Option<Processor>,
    ) {
        let content_type = self.content_type().map(<[u8]>::to_vec);
        self.body = Some(body::parse(
            content_type.as_deref(),
            raw,
            truncated,
            limits,
            forced,
        ));
    }

    /// `METHOD URI PROTOCOL`, as on an HTTP/1 request line.
    pub fn request_line(&self) -> Vec<u8> {
        let mut line =
            Vec::with_capacity(self.method.len() + self.uri_raw.len() + self.protocol.len() + 2);
        line.extend_from_slice(&self.method);
        line.push(b' ');
        line.extend_from_slice(&self.uri_raw);
        line.push(b' ');
        line.extend_from_slice(&self.protocol);
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_name_is_copied_lowercased_only_when_it_has_capitals() {
        let plain = Header::new(&b"user-agent"[..], &b"x"[..]);
        assert_eq!(plain.name_lc(), b"user-agent");
        assert!(plain.lowercased.is_none());
        let capitals = Header::new(&b"User-Agent"[..], &b"x"[..]);
        assert_eq!(capitals.name_lc(), b"user-agent");
        assert_eq!(capitals.name, b"User-Agent");
        // Bytes above 0x7F are not letters to ASCII lowercasing.
        let other = Header::new(&b"x-\xC3\x89t\xC3\xA9"[..], &b"x"[..]);
        assert_eq!(other.name_lc(), b"x-\xC3\x89t\xC3\xA9");
    }
}
