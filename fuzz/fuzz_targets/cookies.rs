//! `Cookie` header parsing, alone and through `Request::new`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_engine::request::{cookies, Header, Request};

fuzz_target!(|data: &[u8]| {
    let parsed = cookies::parse(data);
    for c in &parsed {
        assert!(!c.name.is_empty() || !c.value.is_empty() || data.contains(&b'='));
        assert!(c.name.len() + c.value.len() <= data.len());
    }
    let req = Request::new(
        &b"GET"[..],
        &b"/"[..],
        &b"HTTP/1.1"[..],
        vec![Header::new(&b"Cookie"[..], data)],
    );
    assert_eq!(req.cookies, parsed);
});
