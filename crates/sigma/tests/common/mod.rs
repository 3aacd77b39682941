//! Finding the third-party corpora (../shared/corpora, or RIPOSTE_CORPORA).
//! They are read in place, never copied into the repository.

use std::path::{Path, PathBuf};

/// The corpus path `rel`, or `None` (with a note on stderr) when the corpora
/// are not there. With `RIPOSTE_REQUIRE_CORPORA=1`, as `.ci/run` sets, a
/// missing corpus fails the test instead of skipping it.
#[allow(dead_code)]
pub fn corpus(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("RIPOSTE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"));
    let path = root.join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("RIPOSTE_REQUIRE_CORPORA").as_deref() == Ok("1") {
        panic!(
            "corpus {} is missing and RIPOSTE_REQUIRE_CORPORA=1",
            path.display()
        );
    }
    eprintln!("skipped: corpus {} not found", path.display());
    None
}
