//! Request target parsing: path/query split, percent-decoding, query args.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_engine::request::{query, uri, Request};

fuzz_target!(|data: &[u8]| {
    let parts = uri::parse(data);
    // Decoding never grows the path, and the basename is its last segment.
    assert!(parts.path_decoded.len() <= parts.path_raw.len());
    assert!(parts.path_decoded.ends_with(&parts.basename));
    let args = query::parse(&parts.query);
    for arg in &args {
        assert!(arg.name.len() + arg.value.len() <= parts.query.len());
    }
    let (limited, over) = query::parse_limited(data, 3);
    assert!(limited.len() <= 3);
    assert!(!over || limited.len() == 3);
    for plus in [false, true] {
        let (decoded, invalid) = query::percent_decode(data, plus);
        assert!(decoded.len() <= data.len());
        assert_eq!(invalid, query::has_invalid_escape(data));
    }
    let req = Request::new(&b"GET"[..], data, &b"HTTP/1.1"[..], Vec::new());
    assert_eq!(req.uri_raw, data);
});
