//! What the engine's integration tests share.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use riposte_detect::RuleSet;
use riposte_engine::Engine;
use riposte_model::Clock;
use riposte_respond::{Responder, ResponderConfig};
use riposte_store::Store;

/// An engine with no rules, playbooks or enforcers over `store`: what a
/// source test needs to see its events committed.
#[allow(dead_code)]
pub fn bare_engine(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Engine {
    let responder = Arc::new(Responder::new(ResponderConfig::default(), Vec::new()));
    Engine::new(
        store,
        Arc::new(RuleSet::default()),
        Vec::new(),
        responder,
        clock,
    )
}

/// The corpus path `rel` (../shared/corpora or RIPOSTE_CORPORA), or `None`
/// when absent; with RIPOSTE_REQUIRE_CORPORA=1 a missing corpus fails.
#[allow(dead_code)]
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
        "corpus {} is missing",
        path.display()
    );
    eprintln!("skipped: corpus {} not found", path.display());
    None
}
