//! What the engine's integration tests share.

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

#[allow(unused_imports)]
pub use riposte_testkit::corpus;
