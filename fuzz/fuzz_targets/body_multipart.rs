//! The multipart parser. Input: three knob bytes (truncated flag and
//! limits), then the boundary parameter up to the first `\n` (raw, so
//! quotes, spaces and a second `; boundary=` reach the parameter parsing),
//! then the body.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use palisade_engine::body::{self, Processor};
use palisade_fuzz::{first_line, limits};

#[derive(Arbitrary)]
struct Knobs {
    truncated: bool,
    max_args: u8,
    max_parts: u8,
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(k) = Knobs::arbitrary(&mut u) else {
        return;
    };
    let (boundary, raw) = first_line(u.take_rest());
    let mut content_type = b"multipart/form-data; boundary=".to_vec();
    content_type.extend_from_slice(boundary);
    let limits = limits(k.max_args, 64, k.max_parts);
    let body = body::parse(
        Some(&content_type),
        raw.to_vec(),
        k.truncated,
        &limits,
        None,
    );
    assert_eq!(body.processor, Processor::Multipart);
    assert!(body.files.len() <= limits.max_parts);
});
