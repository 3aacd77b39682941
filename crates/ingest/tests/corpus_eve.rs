//! Suricata EVE samples from the CrowdSec hub's tests
//! (`../shared/corpora/crowdsec-hub/.tests`, read in place): every line must
//! decode (no dead letter), `stats` must be ignored, and the ECS fields must
//! agree with the raw record and with CrowdSec's own parser assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use riposte_ingest::{DecodeCtx, DecodedBatch, Format, Line, decode_batch};
use riposte_model::{Event, FieldValue};
use serde_json::Value;

/// The tests whose `log_type` is `suricata-evelogs` in `tests_index.tsv`.
const TESTS: [&str; 2] = [
    "suricata-eve-detect/suricata-eve-detect.log",
    "suricata-logs-evelog/suricata-logs-evelog.log",
];

fn lines(text: &str) -> Vec<Line> {
    let mut offset = 0u64;
    text.split_inclusive('\n')
        .map(|raw| {
            let line = Line {
                offset,
                bytes: raw.strip_suffix('\n').unwrap_or(raw).as_bytes().to_vec(),
                truncated_from: None,
            };
            offset += raw.len() as u64;
            line
        })
        .collect()
}

fn ctx() -> DecodeCtx<'static> {
    DecodeCtx {
        source: "crowdsec-hub",
        now: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
    }
}

/// A raw JSON scalar as the decoder stores it.
fn as_field(v: &Value) -> FieldValue {
    match v {
        Value::String(s) => FieldValue::from(s.as_str()),
        Value::Number(n) => FieldValue::Int(n.as_i64().unwrap()),
        Value::Bool(b) => FieldValue::Bool(*b),
        other => panic!("unexpected {other}"),
    }
}

/// Checks each (raw JSON pointer → ECS field) pair present in the raw
/// record; returns how many were checked.
fn check_against_raw(raw: &Value, ev: &Event) -> usize {
    let pairs: &[(&str, &str)] = &[
        ("/src_ip", "source.ip"),
        ("/dest_ip", "destination.ip"),
        ("/src_port", "source.port"),
        ("/dest_port", "destination.port"),
        ("/flow_id", "suricata.eve.flow_id"),
        ("/in_iface", "observer.ingress.interface.name"),
        ("/community_id", "network.community_id"),
        ("/alert/signature", "rule.name"),
        ("/alert/category", "rule.category"),
        ("/alert/severity", "event.severity"),
        ("/alert/action", "event.action"),
        ("/http/hostname", "url.domain"),
        ("/http/url", "url.original"),
        ("/http/http_method", "http.request.method"),
        ("/http/http_user_agent", "user_agent.original"),
        ("/http/http_content_type", "http.response.mime_type"),
        ("/http/status", "http.response.status_code"),
        ("/http/length", "http.response.body.bytes"),
        ("/flow/pkts_toserver", "source.packets"),
        ("/flow/pkts_toclient", "destination.packets"),
        ("/flow/bytes_toserver", "source.bytes"),
        ("/flow/bytes_toclient", "destination.bytes"),
        ("/flow/age", "suricata.eve.flow.age"),
        ("/flow/state", "suricata.eve.flow.state"),
        ("/flow/reason", "suricata.eve.flow.reason"),
        ("/flow/alerted", "suricata.eve.flow.alerted"),
    ];
    let mut checked = 0;
    for (pointer, field) in pairs {
        if let Some(v) = raw.pointer(pointer) {
            assert_eq!(ev.get(field), Some(as_field(v)), "{field} of {raw}");
            checked += 1;
        }
    }
    if let Some(sid) = raw.pointer("/alert/signature_id") {
        assert_eq!(ev.get_str("rule.id"), Some(sid.to_string().as_str()));
        checked += 1;
    }
    if let Some(Value::String(url)) = raw.pointer("/http/url") {
        let path = url.split('?').next().unwrap();
        assert_eq!(ev.get_str("url.path"), Some(path));
        checked += 1;
    }
    if let Some(Value::String(p)) = raw.pointer("/http/protocol") {
        assert_eq!(ev.get_str("http.version"), p.strip_prefix("HTTP/"));
        checked += 1;
    }
    for (pointer, field) in [("/flow/start", "event.start"), ("/flow/end", "event.end")] {
        if let Some(Value::String(t)) = raw.pointer(pointer) {
            let want = chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z").unwrap();
            let got = chrono::DateTime::parse_from_rfc3339(ev.get_str(field).unwrap()).unwrap();
            assert_eq!(got, want, "{field} of {raw}");
            checked += 1;
        }
    }
    checked
}

/// CrowdSec's parser assertions `…[N].Evt.Meta["key"] == "value"` of the
/// `crowdsecurity/suricata-evelogs` parser, by line index.
fn crowdsec_meta(assertions: &str) -> BTreeMap<usize, Vec<(String, String)>> {
    const PREFIX: &str = "results[\"s01-parse\"][\"crowdsecurity/suricata-evelogs\"][";
    let mut out: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    for line in assertions.lines() {
        let Some(rest) = line.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((index, rest)) = rest.split_once("].Evt.Meta[\"") else {
            continue;
        };
        let (key, value) = rest.split_once("\"] == ").unwrap();
        out.entry(index.parse().unwrap())
            .or_default()
            .push((key.to_owned(), value.trim_matches('"').to_owned()));
    }
    out
}

#[test]
fn crowdsec_suricata_eve_samples_decode_without_dead_letters() {
    let mut totals = DecodedBatch::default();
    let mut checked = 0;
    let mut meta_checked = 0;
    let mut per_test = Vec::new();
    for test in TESTS {
        let Some(path) = common::corpus(&format!("crowdsec-hub/.tests/{test}")) else {
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = lines(&text);
        let out = decode_batch(Format::SuricataEve, &lines, &ctx());
        for dl in &out.dead_letters {
            eprintln!("{test}: dead letter at {:?}: {}", dl.offset, dl.reason);
        }
        let mut types: BTreeMap<String, usize> = BTreeMap::new();
        for ev in &out.events {
            *types.entry(ev.dataset.to_string()).or_default() += 1;
        }
        eprintln!(
            "{test}: {} lines → {} events {types:?}, {} ignored, {} dead letters",
            lines.len(),
            out.events.len(),
            out.ignored,
            out.dead_letters.len()
        );
        per_test.push((
            test,
            lines.len(),
            out.events.len(),
            out.ignored,
            out.dead_letters.len(),
        ));

        // Every event against its raw line; stats lines are the ignored ones.
        let mut events = out.events.iter();
        let mut by_line = BTreeMap::new();
        for (index, line) in lines.iter().enumerate() {
            let raw: Value = serde_json::from_slice(&line.bytes).unwrap();
            if raw["event_type"] == "stats" {
                continue;
            }
            let ev = events.next().unwrap();
            assert_eq!(ev.origin.as_ref().unwrap().offset, line.offset);
            assert_eq!(
                ev.dataset,
                format!("suricata.{}", raw["event_type"].as_str().unwrap())
            );
            checked += check_against_raw(&raw, ev);
            by_line.insert(index, ev);
        }
        assert!(events.next().is_none());

        // CrowdSec's own reading of the same lines, where it has one.
        let assertions = path.with_file_name("parser.assert");
        if let Ok(assertions) = std::fs::read_to_string(assertions) {
            for (index, pairs) in crowdsec_meta(&assertions) {
                let ev = by_line[&index];
                for (key, want) in pairs {
                    let field = match key.as_str() {
                        "source_ip" => "source.ip",
                        "suricata_alert_signature_id" => "rule.id",
                        "suricata_flow_id" => "suricata.eve.flow_id",
                        "suricata_rule_severity" => "event.severity",
                        _ => continue,
                    };
                    assert_eq!(
                        ev.get(field).map(|v| v.to_string()).as_deref(),
                        Some(want.as_str()),
                        "{test} line {index}: {field}"
                    );
                    meta_checked += 1;
                }
            }
        }
        totals.extend(out);
    }
    eprintln!(
        "{checked} ECS fields checked against the raw records, {meta_checked} against CrowdSec's assertions"
    );
    assert_eq!(
        per_test,
        [
            ("suricata-eve-detect/suricata-eve-detect.log", 4, 4, 0, 0),
            ("suricata-logs-evelog/suricata-logs-evelog.log", 8, 6, 2, 0),
        ]
    );
    assert!(totals.dead_letters.is_empty());
    let alerts = totals
        .events
        .iter()
        .filter(|e| e.dataset == "suricata.alert")
        .count();
    assert_eq!(alerts, 8);
    assert_eq!(totals.events.len() - alerts, 2, "two flow records");
    assert_eq!(
        meta_checked, 16,
        "4 keys × 4 alert lines of suricata-logs-evelog"
    );
    assert_eq!(checked, CHECKED);
}

/// Field checks the samples allow (see the test's stderr for the count).
const CHECKED: usize = 179;
