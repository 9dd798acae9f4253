//! Splits a request target into path and query and decodes the path.
//! STUB: to be implemented (see signatures).

/// The parts of a request target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UriParts {
    pub path_raw: Vec<u8>,
    pub path_decoded: Vec<u8>,
    pub basename: Vec<u8>,
    pub query: Vec<u8>,
    pub invalid_encoding: bool,
}

/// Parses `/path?query` (also absolute-form `http://host/path?query`).
pub fn parse(uri: &[u8]) -> UriParts {
    let (path, query) = match uri.iter().position(|&b| b == b'?') {
        Some(i) => (&uri[..i], &uri[i + 1..]),
        None => (uri, &[][..]),
    };
    UriParts {
        path_raw: path.to_vec(),
        path_decoded: path.to_vec(),
        basename: Vec::new(),
        query: query.to_vec(),
        invalid_encoding: false,
    }
}
