//! Compiles the built-in rule set (rules/builtin/*.yaml) into the ruleset
//! artifact embedded in palisade.wasm, natively at build time, so the VM only
//! loads a validated artifact and a broken rule fails the build, not Envoy.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let builtin = manifest.join("../rules/builtin");
    println!("cargo:rerun-if-changed={}", builtin.display());
    if let Ok(entries) = std::fs::read_dir(&builtin) {
        for entry in entries.flatten() {
            println!("cargo:rerun-if-changed={}", entry.path().display());
        }
    }
    let (spec, _) = match palisade_rules::compile_native(&[builtin], "palisade built-in rules") {
        Ok(compiled) => compiled,
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(1);
        }
    };
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("builtin.ruleset");
    if let Err(e) = std::fs::write(&out, spec.to_artifact()) {
        eprintln!("cannot write {}: {e}", out.display());
        std::process::exit(1);
    }
}
