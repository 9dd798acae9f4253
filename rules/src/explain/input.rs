//! Requests to explain, read from what a security team has at hand: a raw
//! HTTP/1.1 request, a curl command line, or a browser's HAR export.

use std::fmt;
use std::path::Path;

use super::shell;

/// A request as it would reach the filter: method, request target, header
/// list in order, and body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Origin-form target: path plus `?query`.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The Envoy route name the request would match, for `policies`
    /// scoped by route (`palisade explain --route`); not in the request.
    pub route: Option<String>,
}

/// Why a request could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn err(message: impl Into<String>) -> InputError {
    InputError(message.into())
}

impl HttpRequest {
    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// `http://user@host:8080/p?q#f` → (`Some("host:8080")`, `/p?q`); a bare
/// `/p?q` is kept as the target, even when its query holds a URL
/// (`/get?x=file://foo.bar`: CRS's RFI tests).
fn split_url(url: &str) -> (Option<String>, String) {
    let url = url.split('#').next().unwrap_or_default();
    if url.starts_with('/') {
        return (None, url.to_string());
    }
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let target = match &rest[end..] {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    ((!host.is_empty()).then(|| host.to_string()), target)
}

/// Reads a raw HTTP/1.1 request: request line, headers (LF or CRLF, folded
/// lines joined), a blank line, the body. The body is cut at
/// `Content-Length` when given, decoded when `Transfer-Encoding: chunked`,
/// and otherwise loses one trailing newline (the one editors add). An
/// absolute-form target (`GET http://host/p`) becomes `/p` plus a `Host`.
///
/// # Errors
/// An [`InputError`] for a missing or malformed request line or header.
pub fn from_raw(bytes: &[u8]) -> Result<HttpRequest, InputError> {
    let (head, body) = match find(bytes, b"\r\n\r\n") {
        Some(i) => (&bytes[..i], &bytes[i + 4..]),
        None => match find(bytes, b"\n\n") {
            Some(i) => (&bytes[..i], &bytes[i + 2..]),
            None => (bytes, &b""[..]),
        },
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines().skip_while(|l| l.trim().is_empty());
    let request_line = lines.next().ok_or_else(|| err("empty request"))?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(err(format!(
            "line 1: `{request_line}` is not a request line like `GET /path HTTP/1.1`"
        )));
    };
    let mut req = HttpRequest {
        method: method.to_string(),
        ..HttpRequest::default()
    };
    let (host, uri) = split_url(target);
    req.uri = uri;
    for (n, line) in lines.enumerate() {
        if line.starts_with([' ', '\t']) {
            match req.headers.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                None => return Err(err(format!("line {}: folded line with no header", n + 2))),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(err(format!(
                "line {}: `{line}` is not a `Name: value` header",
                n + 2
            )));
        };
        req.headers
            .push((name.trim().to_string(), value.trim().to_string()));
    }
    if let Some(host) = host {
        if !req.has_header("host") {
            req.headers.insert(0, ("Host".to_string(), host));
        }
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| err(format!("Content-Length `{len}` is not a number")))?;
        body[..len.min(body.len())].to_vec()
    } else {
        let b = body.strip_suffix(b"\n").unwrap_or(body);
        b.strip_suffix(b"\r").unwrap_or(b).to_vec()
    };
    req.body = (!body.is_empty()).then_some(body);
    Ok(req)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::new();
    loop {
        let eol = find(data, b"\n").ok_or_else(|| err("chunked body: missing chunk size line"))?;
        let line = String::from_utf8_lossy(&data[..eol]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| err(format!("chunked body: `{size_text}` is not a chunk size")))?;
        data = &data[eol + 1..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data
            .get(..size)
            .ok_or_else(|| err("chunked body: chunk longer than the data"))?;
        out.extend_from_slice(chunk);
        data = &data[size..];
        data = data.strip_prefix(b"\r").unwrap_or(data);
        data = data.strip_prefix(b"\n").unwrap_or(data);
    }
}

/// The curl options `explain` understands, for error messages.
pub const CURL_OPTIONS: &str = "-X/--request, -H/--header, -d/--data, --data-raw, --data-binary, \
--data-ascii, --data-urlencode, -G/--get, -b/--cookie, -A/--user-agent, -e/--referer, --url \
(ignored: --compressed, -s, -S, -k, -L, -i, -v, --http1.1, --http2)";

/// Reads a curl command line (with or without the leading `curl`), quoted
/// as a POSIX shell would read it. Like curl, it sends `Host`,
/// `User-Agent: curl/8.5.0` and `Accept: */*` unless `-H` replaces them
/// (`-H 'Accept:'` removes one), POSTs when given data, and labels data
/// `application/x-www-form-urlencoded` unless a Content-Type is given.
/// `@file` data is read relative to the current directory.
///
/// # Errors
/// An [`InputError`] naming every option it does not understand, a bad
/// quote, a missing URL or option value, or an unreadable `@file`.
pub fn from_curl(command: &str) -> Result<HttpRequest, InputError> {
    let words = shell::split(command).map_err(|e| err(format!("curl command: {e}")))?;
    let mut words = words.into_iter().peekable();
    if words.peek().is_some_and(|w| w == "curl") {
        words.next();
    }
    let mut method = None;
    // An unknown option's value reads as a URL: options are checked first.
    let mut urls: Vec<String> = Vec::new();
    let mut headers: Vec<String> = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    let mut user_agent = None;
    let mut referer = None;
    let mut get = false;
    let mut unknown = Vec::new();
    let takes_value = |name: &str| {
        matches!(
            name,
            "-X" | "--request"
                | "-H"
                | "--header"
                | "-d"
                | "--data"
                | "--data-raw"
                | "--data-binary"
                | "--data-ascii"
                | "--data-urlencode"
                | "-b"
                | "--cookie"
                | "-A"
                | "--user-agent"
                | "-e"
                | "--referer"
                | "--url"
        )
    };
    let ignored = |name: &str| {
        matches!(
            name,
            "--compressed"
                | "-s"
                | "--silent"
                | "-S"
                | "--show-error"
                | "-k"
                | "--insecure"
                | "-L"
                | "--location"
                | "-i"
                | "--include"
                | "-v"
                | "--verbose"
                | "--http1.1"
                | "--http2"
        )
    };
    while let Some(word) = words.next() {
        if !word.starts_with('-') || word == "-" {
            urls.push(word);
            continue;
        }
        // `-XPOST`, `-sSL`: a short option may carry its value or others.
        let mut options: Vec<(String, Option<String>)> = Vec::new();
        if word.starts_with("--") {
            options.push((word, None));
        } else {
            let mut rest = &word[1..];
            while let Some(c) = rest.chars().next() {
                let name = format!("-{c}");
                rest = &rest[c.len_utf8()..];
                if takes_value(&name) {
                    options.push((name, (!rest.is_empty()).then(|| rest.to_string())));
                    break;
                }
                options.push((name, None));
            }
        }
        for (name, attached) in options {
            if ignored(&name) {
                continue;
            }
            if name == "-G" || name == "--get" {
                get = true;
                continue;
            }
            if !takes_value(&name) {
                unknown.push(name);
                continue;
            }
            let value = match attached.or_else(|| words.next()) {
                Some(v) => v,
                None => return Err(err(format!("curl command: `{name}` needs a value"))),
            };
            match name.as_str() {
                "-X" | "--request" => method = Some(value),
                "-H" | "--header" => headers.push(value),
                "-d" | "--data" | "--data-ascii" => data.push(match value.strip_prefix('@') {
                    Some(file) => read_text(file)?.replace(['\r', '\n'], ""),
                    None => value,
                }),
                "--data-binary" => data.push(match value.strip_prefix('@') {
                    Some(file) => read_text(file)?,
                    None => value,
                }),
                "--data-raw" => data.push(value),
                "--data-urlencode" => data.push(data_urlencode(&value)?),
                "-b" | "--cookie" => {
                    if !value.contains('=') {
                        return Err(err(format!(
                            "curl command: `{name} {value}` reads a cookie file; give the cookies as `name=value; ...`"
                        )));
                    }
                    cookies.push(value);
                }
                "-A" | "--user-agent" => user_agent = Some(value),
                "-e" | "--referer" => {
                    referer = Some(value.trim_end_matches(";auto").to_string());
                }
                _ => urls.push(value),
            }
        }
    }
    if !unknown.is_empty() {
        return Err(err(format!(
            "curl command: unsupported option(s) {}; explain understands {CURL_OPTIONS}",
            unknown.join(", ")
        )));
    }
    let url = match urls.as_slice() {
        [url] => url,
        [] => return Err(err("curl command: no URL")),
        [_, more, ..] => {
            return Err(err(format!(
                "curl command: more than one URL (`{more}`); explain reads one request"
            )))
        }
    };
    let (host, mut uri) = split_url(url);
    let body = data.join("&");
    let has_data = !data.is_empty();
    if get && has_data {
        uri.push(if uri.contains('?') { '&' } else { '?' });
        uri.push_str(&body);
    }
    let mut req = HttpRequest {
        method: method.unwrap_or_else(|| if has_data && !get { "POST" } else { "GET" }.to_string()),
        uri,
        headers: Vec::new(),
        body: (has_data && !get).then(|| body.into_bytes()),
        route: None,
    };
    let mut defaults = vec![
        ("Host", host.unwrap_or_default()),
        (
            "User-Agent",
            user_agent.unwrap_or_else(|| "curl/8.5.0".to_string()),
        ),
        ("Accept", "*/*".to_string()),
    ];
    if let Some(r) = referer {
        defaults.push(("Referer", r));
    }
    if !cookies.is_empty() {
        defaults.push(("Cookie", cookies.join("; ")));
    }
    if req.body.is_some() {
        defaults.push((
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        ));
    }
    let mut given: Vec<(String, Option<String>)> = Vec::new();
    for h in &headers {
        if h.starts_with('@') {
            return Err(err(format!(
                "curl command: `-H {h}` reads headers from a file; give them one `-H` each"
            )));
        }
        // `Name: value`; `Name:` removes a default; `Name;` sends it empty.
        if let Some((name, value)) = h.split_once(':') {
            let value = value.trim();
            given.push((
                name.trim().to_string(),
                (!value.is_empty()).then(|| value.to_string()),
            ));
        } else if let Some(name) = h.strip_suffix(';') {
            given.push((name.trim().to_string(), Some(String::new())));
        } else {
            return Err(err(format!("curl command: `-H {h}` is not `Name: value`")));
        }
    }
    for (name, value) in defaults {
        if !given.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) && !value.is_empty() {
            req.headers.push((name.to_string(), value));
        }
    }
    for (name, value) in given {
        if let Some(value) = value {
            req.headers.push((name, value));
        }
    }
    Ok(req)
}

fn read_text(file: &str) -> Result<String, InputError> {
    std::fs::read(Path::new(file))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| err(format!("curl command: cannot read @{file}: {e}")))
}

/// curl's `--data-urlencode` forms: `content`, `=content`, `name=content`,
/// `@file`, `name@file`.
fn data_urlencode(value: &str) -> Result<String, InputError> {
    let eq = value.find('=');
    let at = value.find('@');
    Ok(match (eq, at) {
        (Some(i), _) if at.is_none_or(|a| i < a) => {
            let (name, content) = (&value[..i], &value[i + 1..]);
            if name.is_empty() {
                percent_encode(content)
            } else {
                format!("{name}={}", percent_encode(content))
            }
        }
        (_, Some(i)) => {
            let (name, file) = (&value[..i], &value[i + 1..]);
            let content = percent_encode(&read_text(file)?);
            if name.is_empty() {
                content
            } else {
                format!("{name}={content}")
            }
        }
        _ => percent_encode(value),
    })
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads entry `entry` (0-based) of a HAR file's `log.entries`: its
/// request's method, URL, headers, cookies and `postData` (`text`, else
/// `params` form-encoded). HTTP/2 pseudo-headers are dropped, `:authority`
/// becoming `Host` when there is none; `cookies` become a `Cookie` header
/// when the headers carry none.
///
/// # Errors
/// An [`InputError`] for invalid JSON, an entry out of range (naming how
/// many there are) or a request without method or URL.
pub fn from_har(text: &str, entry: usize) -> Result<HttpRequest, InputError> {
    let har: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("HAR: not valid JSON: {e}")))?;
    let entries = har
        .pointer("/log/entries")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| err("HAR: no `log.entries` array"))?;
    let request = entries
        .get(entry)
        .and_then(|e| e.get("request"))
        .ok_or_else(|| {
            err(format!(
                "HAR: no request at entry {entry} (the file has {} entries, numbered from 0)",
                entries.len()
            ))
        })?;
    let field = |name: &str| request.get(name).and_then(serde_json::Value::as_str);
    let method = field("method").ok_or_else(|| err(format!("HAR: entry {entry} has no method")))?;
    let url = field("url").ok_or_else(|| err(format!("HAR: entry {entry} has no url")))?;
    let pairs = |name: &str| -> Vec<(String, String)> {
        request
            .get(name)
            .and_then(serde_json::Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|p| {
                        Some((
                            p.get("name")?.as_str()?.to_string(),
                            p.get("value")
                                .and_then(|v| v.as_str())
                                .unwrap_or("")
                                .to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (host, uri) = split_url(url);
    let mut req = HttpRequest {
        method: method.to_string(),
        uri,
        headers: Vec::new(),
        body: None,
        route: None,
    };
    let mut authority = None;
    for (name, value) in pairs("headers") {
        if name.eq_ignore_ascii_case(":authority") {
            authority = Some(value);
        } else if !name.starts_with(':') {
            req.headers.push((name, value));
        }
    }
    if !req.has_header("host") {
        if let Some(h) = authority.or(host) {
            req.headers.insert(0, ("Host".to_string(), h));
        }
    }
    let cookies = pairs("cookies");
    if !cookies.is_empty() && !req.has_header("cookie") {
        let line = cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        req.headers.push(("Cookie".to_string(), line));
    }
    if let Some(post) = request.get("postData") {
        let text = post.get("text").and_then(serde_json::Value::as_str);
        let body = match text {
            Some(t) => t.to_string(),
            None => {
                let params = post
                    .get("params")
                    .and_then(serde_json::Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|p| {
                                let name = p.get("name")?.as_str()?;
                                let value = p.get("value").and_then(|v| v.as_str()).unwrap_or("");
                                Some(format!(
                                    "{}={}",
                                    percent_encode(name),
                                    percent_encode(value)
                                ))
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                params.join("&")
            }
        };
        if let Some(mime) = post.get("mimeType").and_then(serde_json::Value::as_str) {
            if !mime.is_empty() && !req.has_header("content-type") {
                req.headers
                    .push(("Content-Type".to_string(), mime.to_string()));
            }
        }
        req.body = (!body.is_empty()).then(|| body.into_bytes());
    }
    Ok(req)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("https://u@h:8080?x=1#f"),
            (Some("h:8080".to_string()), "/?x=1".to_string())
        );
        assert_eq!(split_url("/a?b"), (None, "/a?b".to_string()));
        assert_eq!(
            split_url("/get?x=file://foo.bar"),
            (None, "/get?x=file://foo.bar".to_string())
        );
    }

    #[test]
    fn curl_defaults_and_data() {
        let r = from_curl("curl -sS -H 'Accept:' -d a=1 -d b=2 http://h/p").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.body.as_deref(), Some(&b"a=1&b=2"[..]));
        assert!(!r.has_header("accept"));
        assert!(r.has_header("content-type"));
        let g = from_curl("curl -G --data-urlencode 'q=a b' h/s").unwrap();
        assert_eq!((g.method.as_str(), g.uri.as_str()), ("GET", "/s?q=a%20b"));
    }

    #[test]
    fn raw_chunked() {
        let r =
            from_raw(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!(r.body.as_deref(), Some(&b"abc"[..]));
    }
}
