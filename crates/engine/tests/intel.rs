//! Threat intel end to end in the pipeline: feeds imported into the store
//! and the shared index, Suricata events decoded and committed, and the
//! alerts and sightings that come out.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, RwLock};

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};
use riposte_intel::IntelIndex;
use riposte_intel::feed::{FeedConfig, FeedFormat, Location, run_feed};
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::csv::CsvFormat;
use riposte_model::{Clock, Confidence, IndicatorKind, ManualClock, Severity};

fn feed(name: &str, path: &std::path::Path, now: chrono::DateTime<Utc>) -> FeedConfig {
    FeedConfig {
        name: name.into(),
        format: FeedFormat::Csv(CsvFormat::preset("plain").unwrap()),
        location: Location::Path(path.to_path_buf()),
        key: None,
        interval: std::time::Duration::from_secs(3600),
        snapshot: true,
        max_age: None,
        defaults: FeedDefaults::new(name, now),
        max_bytes: 1 << 20,
        sightings: None,
    }
}

const EVE: &str = r#"{"timestamp":"2026-03-14T09:00:00.000000+0000","event_type":"dns","src_ip":"10.0.0.5","src_port":53000,"dest_ip":"192.0.2.53","dest_port":53,"proto":"UDP","dns":{"type":"query","id":1,"rrname":"a.evil.example","rrtype":"A","tx_id":0}}
{"timestamp":"2026-03-14T09:00:01.000000+0000","event_type":"flow","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"198.51.100.7","dest_port":443,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60,"start":"2026-03-14T09:00:01.000000+0000","end":"2026-03-14T09:00:02.000000+0000","age":1,"state":"closed","reason":"timeout"}}
{"timestamp":"2026-03-14T09:00:02.000000+0000","event_type":"flow","src_ip":"10.0.0.5","src_port":40001,"dest_ip":"203.0.113.9","dest_port":80,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60,"start":"2026-03-14T09:00:02.000000+0000","end":"2026-03-14T09:00:03.000000+0000","age":1,"state":"closed","reason":"timeout"}}
{"timestamp":"2026-03-14T09:00:03.000000+0000","event_type":"flow","src_ip":"10.0.0.5","src_port":40002,"dest_ip":"198.51.100.8","dest_port":443,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60,"start":"2026-03-14T09:00:03.000000+0000","end":"2026-03-14T09:00:04.000000+0000","age":1,"state":"closed","reason":"timeout"}}"#;

#[tokio::test]
async fn feed_indicators_raise_alerts_with_context_and_every_hit_is_a_sighting() {
    let dir = tempfile::tempdir().unwrap();
    let import_time = Utc.with_ymd_and_hms(2026, 3, 14, 8, 0, 0).unwrap();
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let index = Arc::new(RwLock::new(IntelIndex::new()));

    // A blocklist fit for detection (subdomains, confidence 90, TLP:AMBER),
    // one for context only, and one whose indicators lapse before the events.
    std::fs::write(
        dir.path().join("bl.txt"),
        "# blocklist\n198.51.100.0/24\nevil.example\nnot a value\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("ctx.txt"), "203.0.113.9\n").unwrap();
    std::fs::write(dir.path().join("old.txt"), "198.51.100.8\n192.0.2.53\n").unwrap();
    let mut bl = feed("bl", &dir.path().join("bl.txt"), import_time);
    bl.defaults.subdomains = true;
    bl.defaults.confidence = Confidence::new(90).unwrap();
    bl.defaults.tlp = riposte_model::Tlp::Amber;
    let mut ctx = feed("ctx", &dir.path().join("ctx.txt"), import_time);
    ctx.defaults.to_ids = false;
    let mut old = feed("old", &dir.path().join("old.txt"), import_time);
    old.defaults.valid_for = Some(TimeDelta::minutes(30));
    for f in [&bl, &ctx, &old] {
        let r = run_feed(f, &store, Some(&index), import_time, None)
            .await
            .unwrap();
        assert_eq!(r.import.rejected, u64::from(f.name == "bl"), "{}", f.name);
    }
    assert_eq!(index.read().unwrap().len(), 5);

    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 5, 0).unwrap(),
    ));
    let mut engine = common::bare_engine(store.clone(), clock.clone()).with_intel(index.clone());
    let lines: Vec<Line> = EVE
        .lines()
        .enumerate()
        .map(|(i, l)| Line {
            offset: i as u64,
            bytes: l.as_bytes().to_vec(),
            truncated_from: None,
        })
        .collect();
    let batch = decode_batch(
        Format::SuricataEve,
        &lines,
        &DecodeCtx {
            source: "eve",
            now: clock.now(),
        },
    );
    assert_eq!(batch.events.len(), 4);
    let report = engine.commit_batch(batch, None).await.unwrap();

    let got: Vec<(String, String, String, Severity)> = report
        .alerts
        .iter()
        .map(|a| {
            (
                a.rule_id.clone(),
                a.group["intel.indicator"].clone(),
                a.summary.clone(),
                a.severity,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "intel.match".into(),
                "evil.example".into(),
                "dns.question.name a.evil.example matches domain indicator evil.example from bl (confidence 90, TLP:AMBER)".into(),
                Severity::High
            ),
            (
                "intel.match".into(),
                "198.51.100.0/24".into(),
                "destination.ip 198.51.100.7 matches cidr indicator 198.51.100.0/24 from bl (confidence 90, TLP:AMBER)".into(),
                Severity::High
            ),
            (
                "intel.match".into(),
                "198.51.100.0/24".into(),
                "destination.ip 198.51.100.8 matches cidr indicator 198.51.100.0/24 from bl (confidence 90, TLP:AMBER)".into(),
                Severity::High
            ),
        ]
    );
    assert_eq!(report.alerts[1].group["destination.ip"], "198.51.100.7");
    assert_eq!(report.alerts[1].rule.tags, ["tlp:amber"]);
    assert_eq!(store.list_alerts(10).await.unwrap().len(), 3);

    // Every hit is a sighting, context-only ones included; the lapsed
    // indicators of `old` are not hits.
    let sightings: Vec<(IndicatorKind, String, String, u64)> = store
        .list_sightings(10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.kind, s.value.to_string(), s.field.to_string(), s.count))
        .collect();
    assert_eq!(
        sightings,
        [
            (
                IndicatorKind::Cidr,
                "198.51.100.0/24".into(),
                "destination.ip".into(),
                2
            ),
            (
                IndicatorKind::Ip,
                "203.0.113.9".into(),
                "destination.ip".into(),
                1
            ),
            (
                IndicatorKind::Domain,
                "evil.example".into(),
                "dns.question.name".into(),
                1
            ),
        ]
    );

    // The next import of `bl` no longer lists the network: it ages out of
    // the store and the index, and the same event no longer alerts.
    std::fs::write(dir.path().join("bl.txt"), "evil.example\n").unwrap();
    let r = run_feed(
        &bl,
        &store,
        Some(&index),
        import_time + TimeDelta::hours(2),
        None,
    )
    .await
    .unwrap();
    assert_eq!((r.import.indicators, r.aged_out), (1, 1));
    let one: Vec<Line> = lines[1..2].to_vec();
    let batch = decode_batch(
        Format::SuricataEve,
        &one,
        &DecodeCtx {
            source: "eve",
            now: clock.now(),
        },
    );
    assert!(
        engine
            .commit_batch(batch, None)
            .await
            .unwrap()
            .alerts
            .is_empty()
    );
}

/// docs/intel.md's configuration example loads, every feed as documented
/// (the MISP key's variable is unset here, which is the one problem).
#[test]
fn the_documented_feeds_load() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/intel.md"))
        .unwrap();
    let start = page.find("```yaml\n").unwrap() + "```yaml\n".len();
    let block = &page[start..start + page[start..].find("```").unwrap()];
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(block).unwrap();
    // The same page without the MISP key's variable: every feed loads.
    let mut keyless = doc.clone();
    keyless["intel"]["feeds"][1]
        .as_mapping_mut()
        .unwrap()
        .remove("key_env");
    let mut p = riposte_model::Problems::new();
    let all = riposte_intel::config::parse(
        keyless.get("intel"),
        "intel.md",
        &|x| std::path::Path::new("/srv").join(x),
        &mut p,
    );
    assert!(p.0.is_empty(), "{:?}", p.0);
    assert_eq!(all[1].name, "misp");
    assert_eq!(
        all[1].sightings,
        Some(riposte_intel::sightings::SightingPush {
            url: "https://misp.example.org".into(),
            interval: std::time::Duration::from_secs(300),
            source: "riposte".into(),
            batch: 500,
        })
    );
    assert!(
        all.iter()
            .filter(|f| f.name != "misp")
            .all(|f| f.sightings.is_none())
    );
    let mut p = riposte_model::Problems::new();
    let feeds = riposte_intel::config::parse(
        doc.get("intel"),
        "intel.md",
        &|x| std::path::Path::new("/srv").join(x),
        &mut p,
    );
    let problems: Vec<String> = p.0.iter().map(ToString::to_string).collect();
    if std::env::var_os("MISP_KEY").is_none() {
        assert_eq!(
            problems,
            ["intel.md: intel.feeds[misp].key_env: environment variable MISP_KEY is not set"]
        );
    } else {
        assert!(problems.is_empty(), "{problems:?}");
    }
    let names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
    let expected: &[&str] = if std::env::var_os("MISP_KEY").is_none() {
        &["circl-osint", "feodo", "partner-domains", "cti"]
    } else {
        &["circl-osint", "misp", "feodo", "partner-domains", "cti"]
    };
    assert_eq!(names, expected);
    let partner = feeds.iter().find(|f| f.name == "partner-domains").unwrap();
    assert_eq!(
        partner.location,
        Location::Path("/srv/feeds/partner.csv".into())
    );
    assert!(partner.defaults.subdomains);
    assert_eq!(partner.defaults.valid_for, Some(TimeDelta::days(14)));
    let FeedFormat::Csv(csv) = &partner.format else {
        panic!()
    };
    assert_eq!(
        (csv.delimiter, csv.header, csv.value, csv.description),
        (b';', true, 1, Some(2))
    );
    assert!(feeds[0].snapshot);
}

/// Hits on a feed that pushes sightings to MISP are queued in the batch's
/// transaction, one per (indicator, event source) with the batch's count
/// and last time; other feeds' hits are not.
#[tokio::test]
async fn hits_on_a_pushing_feed_are_queued_for_misp_with_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let import_time = Utc.with_ymd_and_hms(2026, 3, 14, 8, 0, 0).unwrap();
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let index = Arc::new(RwLock::new(IntelIndex::new()));
    std::fs::write(dir.path().join("bl.txt"), "198.51.100.0/24\nevil.example\n").unwrap();
    std::fs::write(dir.path().join("ctx.txt"), "203.0.113.9\n198.51.100.7\n").unwrap();
    let mut bl = feed("bl", &dir.path().join("bl.txt"), import_time);
    bl.defaults.subdomains = true;
    let ctx = feed("ctx", &dir.path().join("ctx.txt"), import_time);
    for f in [&bl, &ctx] {
        run_feed(f, &store, Some(&index), import_time, None)
            .await
            .unwrap();
    }
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 5, 0).unwrap(),
    ));
    let mut engine = common::bare_engine(store.clone(), clock.clone())
        .with_intel(index.clone())
        .with_sighting_push(["bl".to_owned()].into());
    let lines: Vec<Line> = EVE
        .lines()
        .enumerate()
        .map(|(i, l)| Line {
            offset: i as u64,
            bytes: l.as_bytes().to_vec(),
            truncated_from: None,
        })
        .collect();
    let batch = decode_batch(
        Format::SuricataEve,
        &lines,
        &DecodeCtx {
            source: "eve",
            now: clock.now(),
        },
    );
    engine.commit_batch(batch, None).await.unwrap();
    let mut got: Vec<(String, IndicatorKind, String, String, String, u64)> = store
        .queued_sightings("bl", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|q| {
            (
                q.feed,
                q.kind,
                q.value,
                q.source,
                q.seen_at.to_rfc3339(),
                q.count,
            )
        })
        .collect();
    got.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        got,
        [
            (
                "bl".into(),
                IndicatorKind::Cidr,
                "198.51.100.0/24".into(),
                "eve".into(),
                "2026-03-14T09:00:03+00:00".into(),
                2
            ),
            (
                "bl".into(),
                IndicatorKind::Domain,
                "evil.example".into(),
                "eve".into(),
                "2026-03-14T09:00:00+00:00".into(),
                1
            ),
        ]
    );
    assert_eq!(
        store.sighting_queue_counts().await.unwrap(),
        [("bl".to_owned(), 2)]
    );
}
