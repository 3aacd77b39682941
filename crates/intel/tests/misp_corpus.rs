//! The MISP feed folder built from CIRCL OSINT events (`misp/feed`), with
//! its ground truth `misp/feed_indicators.tsv` (966 attributes): every
//! `to_ids=true` attribute of a type Riposte matches is matched by an event
//! carrying its value in the ECS field for that kind; `to_ids=false` ones
//! are stored and found, but never as fit for detection (unless the same
//! value is also listed with `to_ids=true`, which the merge rule keeps).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use riposte_intel::IntelIndex;
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::misp::{check_feed_hashes, collect, import_feed_dir, kinds_of};
use riposte_model::{Event, Indicator, IndicatorKind};

fn field_for(kind: IndicatorKind) -> &'static str {
    use IndicatorKind as K;
    match kind {
        K::Ip | K::Cidr => "destination.ip",
        K::Domain => "dns.question.name",
        K::Url => "url.original",
        K::Md5 => "file.hash.md5",
        K::Sha1 => "file.hash.sha1",
        K::Sha256 => "file.hash.sha256",
        K::Email => "email.from.address",
        K::Filename => "file.name",
        K::Ja3 => "tls.client.ja3",
        K::Ja3s => "tls.server.ja3s",
        K::UserAgent => "user_agent.original",
    }
}

/// The feed's indicators, duplicates merged per (kind, value) as the store
/// merges them within one import.
pub fn load() -> Option<(Vec<Indicator>, riposte_intel::import::ImportReport)> {
    let dir = riposte_testkit::corpus("misp/feed")?;
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    let mut out = Vec::new();
    let report = import_feed_dir(
        &dir,
        &FeedDefaults::new("circl", now),
        &mut collect(&mut out),
    )
    .unwrap();
    let mut merged: BTreeMap<(IndicatorKind, String), Indicator> = BTreeMap::new();
    for i in out {
        match merged.get_mut(&(i.kind, i.value.to_string())) {
            Some(m) => m.merge(&i),
            None => {
                merged.insert((i.kind, i.value.to_string()), i);
            }
        }
    }
    Some((merged.into_values().collect(), report))
}

#[test]
fn every_to_ids_attribute_is_matched_and_context_only_ones_never_alert() {
    let Some((indicators, report)) = load() else {
        return;
    };
    let tsv = std::fs::read_to_string(riposte_testkit::corpus("misp/feed_indicators.tsv").unwrap())
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    let mut index = IntelIndex::new();
    for i in &indicators {
        index.insert(i).unwrap();
    }
    let (mut alerted, mut context_only, mut also_to_ids) = (0, 0, 0);
    let listed_to_ids: std::collections::HashSet<&str> = tsv
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c.len() > 6 && c[5] == "True")
        .flat_map(|c| c[6].split('|'))
        .collect();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (misp_type, to_ids, value) = (cols[4], cols[5] == "True", cols[6]);
        let Some(kinds) = kinds_of(misp_type) else {
            if to_ids {
                *unsupported.entry(misp_type.to_owned()).or_default() += 1;
            }
            continue;
        };
        let mut ev = Event::new(now, "test");
        let parts: Vec<&str> = if kinds.len() == 1 {
            vec![value]
        } else {
            value.splitn(kinds.len(), '|').collect()
        };
        let mut wanted = Vec::new();
        for (part, kind) in parts.iter().zip(kinds.iter()) {
            if let Some(kind) = kind {
                ev.set(field_for(*kind), *part);
                wanted.push(*kind);
            }
        }
        riposte_ingest::add_ecs_observables(&mut ev);
        let mut hits = Vec::new();
        index.match_event(&ev, now, &mut hits);
        let found = wanted.iter().all(|k| hits.iter().any(|h| h.kind == *k));
        let fit = hits.iter().any(|h| h.context.to_ids);
        match (to_ids, found, fit) {
            (true, true, true) => alerted += 1,
            (false, true, false) => context_only += 1,
            // The same value is also an attribute with to_ids=true: the
            // merge keeps it fit for detection.
            (false, true, true) if value.split('|').any(|p| listed_to_ids.contains(p)) => {
                also_to_ids += 1
            }
            _ => failures.push(format!(
                "{misp_type} to_ids={to_ids} {value:?}: found={found} fit={fit} hits={hits:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "MISP feed: {alerted} to_ids attributes matched and fit for detection, {context_only} context-only found and never fit, {also_to_ids} context-only values also listed with to_ids, unsupported to_ids types {unsupported:?}; import report {report:?}"
    );
    assert_eq!((alerted, context_only, also_to_ids), (662, 153, 2));
    // Attributes of types Riposte does not match are counted, not dropped.
    assert_eq!(
        unsupported,
        BTreeMap::from([
            ("imphash".to_owned(), 1),
            ("pehash".to_owned(), 1),
            ("regkey|value".to_owned(), 1),
            ("ssdeep".to_owned(), 3),
            ("yara".to_owned(), 1)
        ])
    );
    assert_eq!(
        (
            report.read,
            report.accepted,
            report.indicators,
            report.rejected
        ),
        (966, 817, 817, 0)
    );
    assert_eq!(report.skipped_total(), 149);
    assert_eq!(report.skipped["MISP type text"], 62);
}

#[test]
fn hashes_csv_agrees_with_the_events() {
    let Some(dir) = riposte_testkit::corpus("misp/feed") else {
        return;
    };
    let check = check_feed_hashes(&dir).unwrap();
    // PyMISP's to_feed hashes datetime values in its own text form, not the
    // one the event file shows: those are the only values not listed.
    let not_datetime: Vec<_> = check
        .unlisted
        .iter()
        .filter(|(_, t, _)| t != "datetime")
        .collect();
    assert!(not_datetime.is_empty(), "{not_datetime:?}");
    assert_eq!(
        (check.hash_lines, check.values, check.unlisted.len()),
        (910, 1067, 19)
    );
}
