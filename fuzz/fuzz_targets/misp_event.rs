#![no_main]
//! The input as a MISP event (JSON) through the MISP importer: every
//! attribute accounted for, indicators in normal form and indexable.

use libfuzzer_sys::fuzz_target;
use riposte_intel::import::misp::import_event;
use riposte_intel::import::{FeedDefaults, ImportReport};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let defaults = FeedDefaults::new("fuzz", chrono::DateTime::UNIX_EPOCH);
    let mut report = ImportReport::new("fuzz");
    let mut out = Vec::new();
    let result = import_event(&doc, "fuzz.json", &defaults, &mut report, &mut |i| {
        out.push(i);
        Ok(())
    });
    if result.is_ok() {
        assert_eq!(
            report.read,
            report.accepted + report.skipped_total() + report.rejected
        );
    }
    riposte_fuzz::check_indicators(&out);
});
