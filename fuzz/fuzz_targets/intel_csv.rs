#![no_main]
//! A blocklist through the CSV importer: the first byte picks the preset,
//! the rest is the feed. Every record is accounted for exactly once, at
//! most 100 errors are kept, and every indicator's value is already in its
//! normal form (normalizing it again changes nothing) and indexes.

use libfuzzer_sys::fuzz_target;
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::csv::{CsvFormat, import_csv};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, feed)) = data.split_first() else {
        return;
    };
    let presets = CsvFormat::PRESETS;
    let format = CsvFormat::preset(presets[usize::from(pick) % presets.len()]).unwrap();
    let defaults = FeedDefaults::new("fuzz", chrono::DateTime::UNIX_EPOCH);
    let mut out = Vec::new();
    let report = import_csv(feed, "fuzz.csv", &format, &defaults, &mut |i| {
        out.push(i);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        report.read,
        report.accepted + report.skipped_total() + report.rejected
    );
    assert_eq!(report.indicators, out.len() as u64);
    assert!(report.errors.len() <= 100);
    riposte_fuzz::check_indicators(&out);
});
