//! Exports read back: the CIRCL corpus feed's indicators written as a STIX
//! bundle and as a MISP feed folder, re-imported by Riposte's own
//! importers, give the same indicators (kind, value, fitness for
//! detection, TLP); the Zeek and Suricata lines are checked exactly.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use riposte_intel::export::{self, MispFeedWriter, StixBundleWriter};
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::misp::{collect, import_feed_dir};
use riposte_intel::import::stix::import_bundle_file;
use riposte_model::{Indicator, IndicatorKind, Tlp};

type Key = (IndicatorKind, String, bool, Tlp);

fn keys(v: &[Indicator]) -> BTreeSet<Key> {
    v.iter()
        .map(|i| (i.kind, i.value.to_string(), i.to_ids, i.tlp))
        .collect()
}

fn corpus_indicators() -> Option<Vec<Indicator>> {
    let dir = riposte_testkit::corpus("misp/feed")?;
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    let mut out = Vec::new();
    import_feed_dir(
        &dir,
        &FeedDefaults::new("circl", now),
        &mut collect(&mut out),
    )
    .unwrap();
    // As the store holds them: one per (kind, value), merged.
    let mut merged: std::collections::BTreeMap<(IndicatorKind, String), Indicator> =
        Default::default();
    for i in out {
        match merged.get_mut(&(i.kind, i.value.to_string())) {
            Some(m) => m.merge(&i),
            None => {
                merged.insert((i.kind, i.value.to_string()), i);
            }
        }
    }
    Some(merged.into_values().collect())
}

#[test]
fn stix_and_misp_exports_read_back_to_the_same_indicators() {
    let Some(indicators) = corpus_indicators() else {
        return;
    };
    assert_eq!(indicators.len(), 773);
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let bundle = dir.path().join("bundle.json");
    let mut w = StixBundleWriter::new(std::fs::File::create(&bundle).unwrap(), now).unwrap();
    for i in &indicators {
        w.add(i, now).unwrap();
    }
    w.finish().unwrap();
    let mut back = Vec::new();
    let report = import_bundle_file(
        &bundle,
        &FeedDefaults::new("circl", now),
        &mut collect(&mut back),
    )
    .unwrap();
    assert_eq!(
        (report.read, report.accepted, report.rejected),
        (773, 773, 0)
    );
    assert_eq!(keys(&back), keys(&indicators));

    let feed = dir.path().join("feed");
    let mut w = MispFeedWriter::default();
    for i in &indicators {
        w.add(i);
    }
    assert_eq!(w.finish(&feed, now).unwrap(), 1);
    let mut back = Vec::new();
    let report = import_feed_dir(
        &feed,
        &FeedDefaults::new("circl", now),
        &mut collect(&mut back),
    )
    .unwrap();
    assert_eq!(
        (report.read, report.accepted, report.rejected),
        (773, 773, 0)
    );
    // A MISP event has one TLP: the strictest of its attributes'.
    let relabel = |v: &[Indicator]| -> BTreeSet<(IndicatorKind, String, bool)> {
        v.iter()
            .map(|i| (i.kind, i.value.to_string(), i.to_ids))
            .collect()
    };
    assert_eq!(relabel(&back), relabel(&indicators));
    let check = riposte_intel::import::misp::check_feed_hashes(&feed).unwrap();
    // hashes.csv lines are distinct (md5, event) pairs: two values are
    // listed under two kinds each.
    let values: BTreeSet<&str> = indicators.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(values.len(), 771);
    assert_eq!(
        (check.hash_lines, check.values, check.unlisted.len()),
        (771, 773, 0)
    );
}

#[test]
fn zeek_and_suricata_lines() {
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    let d = FeedDefaults::new("bl", now);
    let mut url = d
        .indicator(IndicatorKind::Url, "HTTP://Evil.Example:80/gate.php")
        .unwrap();
    url.description = Some("C2\tpanel".into());
    let net = d.indicator(IndicatorKind::Cidr, "198.51.100.0/24").unwrap();
    let ja3 = d.indicator(IndicatorKind::Ja3, &"ab".repeat(16)).unwrap();
    let dom = d.indicator(IndicatorKind::Domain, "evil.example").unwrap();
    let mut out = Vec::new();
    export::zeek_header(&mut out).unwrap();
    assert!(export::zeek(&mut out, &url).unwrap());
    assert!(export::zeek(&mut out, &net).unwrap());
    assert!(!export::zeek(&mut out, &ja3).unwrap());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n\
         evil.example/gate.php\tIntel::URL\tbl\tC2 panel\t-\n\
         198.51.100.0/24\tIntel::SUBNET\tbl\t-\t-\n"
    );
    let mut out = Vec::new();
    export::suricata_categories(&mut out, 1, "bl").unwrap();
    assert!(export::suricata_iprep(&mut out, &net, 1).unwrap());
    assert!(!export::suricata_iprep(&mut out, &dom, 1).unwrap());
    export::suricata_dataset(&mut out, &dom).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "1,bl,Riposte threat intel (bl)\n198.51.100.0/24,1,63\nZXZpbC5leGFtcGxl\n"
    );
}
