//! What Riposte's tests share (a dev-dependency only).
//!
//! The third-party corpora live in `../shared/corpora` beside the
//! repository, or wherever `RIPOSTE_CORPORA` points; they are read in place,
//! never copied into the repository (several are GPL or DRL licensed).

use std::path::{Path, PathBuf};

/// The corpus path `rel`, or `None` (with a note on stderr) when the corpora
/// are not there. With `RIPOSTE_REQUIRE_CORPORA=1`, as `.ci/run` sets, a
/// missing corpus fails the test instead of skipping it.
pub fn corpus(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("RIPOSTE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"));
    let path = root.join(rel);
    if path.exists() {
        return Some(path);
    }
    assert_ne!(
        std::env::var("RIPOSTE_REQUIRE_CORPORA").as_deref(),
        Ok("1"),
        "corpus {} is missing and RIPOSTE_REQUIRE_CORPORA=1",
        path.display()
    );
    eprintln!("skipped: corpus {} not found", path.display());
    None
}

#[cfg(feature = "identity")]
pub mod identity;
mod smtp;

pub use smtp::{ReceivedMail, SmtpSink};
