//! The native YAML rule parser and compiler on arbitrary text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use palisade_rules::native::compile_file;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = compile_file(Path::new("fuzz.yaml"), text);
});
