//! The urlencoded body parser. Input: three knob bytes (truncated flag and
//! limits, see `Knobs`), then the body.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use palisade_engine::body::{self, Processor};
use palisade_fuzz::limits;

#[derive(Arbitrary)]
struct Knobs {
    truncated: bool,
    max_args: u8,
    max_depth: u8,
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(k) = Knobs::arbitrary(&mut u) else {
        return;
    };
    let raw = u.take_rest().to_vec();
    let limits = limits(k.max_args, k.max_depth, 64);
    let body = body::parse(
        Some(b"application/x-www-form-urlencoded"),
        raw,
        k.truncated,
        &limits,
        None,
    );
    assert_eq!(body.processor, Processor::UrlEncoded);
    assert!(body.args.len() <= limits.max_args);
});
