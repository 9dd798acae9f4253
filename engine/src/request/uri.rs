//! Splits a request target into path and query and decodes the path, as
//! REQUEST_FILENAME / REQUEST_BASENAME / QUERY_STRING need them.

use super::query::{has_invalid_escape, percent_decode};

/// The parts of a request target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UriParts {
    /// Path as sent, still percent-encoded.
    pub path_raw: Vec<u8>,
    /// Path with `%XX` decoded (`+` stays `+` in paths).
    pub path_decoded: Vec<u8>,
    /// Last segment of the decoded path.
    pub basename: Vec<u8>,
    /// Everything after the first `?`, without a `#fragment`.
    pub query: Vec<u8>,
    /// A `%` not followed by two hex digits in path or query.
    pub invalid_encoding: bool,
}

/// Parses `/path?query#fragment`, and absolute-form `http://host/path?query`.
pub fn parse(uri: &[u8]) -> UriParts {
    let uri = match uri.iter().position(|&b| b == b'#') {
        Some(i) => &uri[..i],
        None => uri,
    };
    let (path, query) = match uri.iter().position(|&b| b == b'?') {
        Some(i) => (&uri[..i], &uri[i + 1..]),
        None => (uri, &[][..]),
    };
    let path = strip_scheme_and_authority(path);
    let (decoded, invalid_path) = percent_decode(path, false);
    let decoded = decoded.into_owned();
    // `\` separates too, as in ModSecurity: on a Windows server
    // `/uploads\shell.asp` names `shell.asp`.
    let basename = match decoded.iter().rposition(|&b| b == b'/' || b == b'\\') {
        Some(i) => decoded[i + 1..].to_vec(),
        None => decoded.clone(),
    };
    UriParts {
        path_raw: path.to_vec(),
        path_decoded: decoded,
        basename,
        query: query.to_vec(),
        invalid_encoding: invalid_path || has_invalid_escape(query),
    }
}

/// `http://host:80/a/b` → `/a/b`; `http://host` → `/`. Origin-form is returned as is.
fn strip_scheme_and_authority(path: &[u8]) -> &[u8] {
    // Up to 8 bytes: `http://` alone is 7 (a fixed 8-byte slice missed it).
    let lower = path[..path.len().min(8)].to_ascii_lowercase();
    let scheme_len = if lower.starts_with(b"http://") {
        7
    } else if lower.starts_with(b"https://") {
        8
    } else {
        return path;
    };
    let rest = &path[scheme_len..];
    match rest.iter().position(|&b| b == b'/') {
        Some(i) => &rest[i..],
        None => b"/",
    }
}
