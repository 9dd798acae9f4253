//! The SecLang parser, then its compiler (lenient and strict) and the
//! engine's ruleset compile, on arbitrary text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use palisade_rules::seclang::{compile::compile, parse_str};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `Include` and the `*FromFile` operators read the file system (an
    // `Include /dev/zero` never ends); they are configuration the operator
    // writes, not attacker input, so the fuzzer stays off the disk.
    let lower = text.to_ascii_lowercase();
    if lower.contains("include") || lower.contains("fromfile") {
        return;
    }
    let Ok(directives) = parse_str(text, Path::new("fuzz.conf")) else {
        return;
    };
    for lenient in [true, false] {
        if let Ok((spec, _)) = compile(&directives, "fuzz", lenient) {
            let _ = spec.compile();
        }
    }
});
