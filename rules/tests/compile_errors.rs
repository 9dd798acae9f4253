//! Every file in `tests/bad/` must be refused, with an error that names the
//! line (`# expect-line:`) and says what is wrong (`# expect:`): native rule
//! files (`.yaml`) and SecLang files (`.conf`) alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use palisade_rules::{compile_native, compile_seclang};

#[test]
fn bad_rule_files_are_refused_with_located_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let header = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key).map(str::trim))
                .unwrap_or_else(|| panic!("{}: missing `{key}` header", file.display()))
                .to_string()
        };
        let (line, fragment) = (header("# expect-line:"), header("# expect:"));
        let seclang = file.extension().is_some_and(|x| x == "conf");
        let result = if seclang {
            compile_seclang(std::slice::from_ref(file), "test", false).map(|_| ())
        } else {
            compile_native(std::slice::from_ref(file), "test").map(|_| ())
        };
        match result {
            Ok(_) => failures.push(format!("{}: compiled, but must be refused", file.display())),
            Err(errors) => {
                let want_loc = format!("{}:{line}:", file.display());
                if !errors.0.iter().any(|e| {
                    let text = e.to_string();
                    text.starts_with(&want_loc) && text.contains(&fragment)
                }) {
                    failures.push(format!(
                        "{}: want `{want_loc} …{fragment}…`, got:\n{errors}",
                        file.display()
                    ));
                }
            }
        }
    }
    println!(
        "bad rule files: {} passed, {} failed",
        files.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
