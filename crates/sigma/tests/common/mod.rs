//! Finding the third-party corpora: see `riposte_testkit`.

#[allow(unused_imports)]
pub use riposte_testkit::corpus;
