#![no_main]

use chrono::{TimeDelta, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use riposte_detect::{CorrelationEngine, parse_correlation};
use riposte_model::Event;

// The Sigma correlation parser on arbitrary YAML: never panics; every
// problem names the file; a correlation that parses runs over a few base-rule
// matches and a flush without panicking, its hits in time order.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
        return;
    };
    let corr = match parse_correlation("fuzz.yml", &doc) {
        Ok(c) => c,
        Err(problems) => {
            for p in problems.0.iter() {
                assert!(p.to_string().starts_with("fuzz.yml"));
            }
            return;
        }
    };
    let rules = corr.rules.clone();
    let group_by = corr.group_by.clone();
    let mut engine = CorrelationEngine::new(vec![corr], 8);
    let t0 = Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap();
    for i in 0..24i64 {
        let mut ev = Event::new(t0 + TimeDelta::seconds(i * 37), "fuzz");
        for (k, field) in group_by.iter().enumerate() {
            ev.set(field, format!("v{}", (i + k as i64) % 3));
        }
        let rule = &rules[(i as usize) % rules.len().max(1)];
        for hit in engine.feed(rule, None, &ev) {
            assert!(hit.first_seen <= hit.last_seen);
            assert!(hit.evidence.len() <= riposte_detect::MAX_EVIDENCE);
        }
    }
    let _ = engine.flush(t0 + TimeDelta::days(3650));
});
