//! What every data-file harness under `rules/tests/` shares: finding its
//! case files.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// The files in `rules/tests/<dir>` whose extension is one of `exts`,
/// sorted, narrowed to names containing `$<filter_var>` when it is set
/// (e.g. `CHECK_CASE=paranoia`). Panics when nothing is left, so a typo in
/// the filter or an emptied directory never passes as "all cases ran".
pub fn case_files(dir: &str, exts: &[&str], filter_var: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let filter = std::env::var(filter_var).unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| exts.iter().any(|ext| x == *ext))
        })
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no {} cases match `{filter}`",
        dir.display()
    );
    files
}
