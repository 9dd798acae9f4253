//! `config::load` on arbitrary bytes (mostly JSON, thanks to the seeds)
//! with the built-in ruleset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_engine::config;
use palisade_fuzz::builtin_artifact;

fuzz_target!(|data: &[u8]| {
    let _ = config::load(data, builtin_artifact());
});
