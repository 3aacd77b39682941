//! MISP: a feed folder (`manifest.json`, one `<uuid>.json` per event,
//! `hashes.csv`) and the REST API's `/attributes/restSearch`.
//!
//! Each attribute (top level or inside an object) is one record. Its MISP
//! type decides the indicator kind ([`kinds_of`]); composite types give the
//! part that identifies the threat (`filename|sha256` → the SHA-256,
//! `ip-dst|port` → the address, `domain|ip` → both). Types that are not
//! indicators Riposte matches (`text`, `comment`, `regkey`, `yara`,
//! `ssdeep`, …) are counted as skipped under their type name.
//!
//! `to_ids` is kept: a `to_ids: false` attribute is stored and shown as
//! context, never alerted on. TLP and PAP come from the attribute's tags,
//! else the event's, else the feed's defaults; confidence from a
//! `misp:confidence-level` or `admiralty-scale:source-reliability` tag, else
//! the feed's default.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use riposte_model::{Confidence, Indicator, IndicatorKind, Timestamp};
use serde_json::Value;

use super::{
    FeedDefaults, ImportError, ImportReport, Sink, read_bounded, read_json, sharing_from_tags,
};

/// The largest event file read (PyMISP's biggest test events are ~2 MB;
/// real OSINT events stay well under this).
pub const MAX_EVENT_BYTES: u64 = 256 << 20;

/// The indicator kinds of a MISP attribute type, one per `|` part (`None`
/// for a part that is not matched, like the port of `ip-dst|port`); `None`
/// overall for types that are not indicators.
pub fn kinds_of(misp_type: &str) -> Option<&'static [Option<IndicatorKind>]> {
    use IndicatorKind as K;
    Some(match misp_type {
        "ip-src" | "ip-dst" => &[Some(K::Ip)],
        "ip-src|port" | "ip-dst|port" => &[Some(K::Ip), None],
        "domain" | "hostname" => &[Some(K::Domain)],
        "hostname|port" => &[Some(K::Domain), None],
        "domain|ip" => &[Some(K::Domain), Some(K::Ip)],
        "url" | "uri" | "link" => &[Some(K::Url)],
        "md5" => &[Some(K::Md5)],
        "sha1" => &[Some(K::Sha1)],
        "sha256" => &[Some(K::Sha256)],
        "filename|md5" | "malware-sample" => &[None, Some(K::Md5)],
        "filename|sha1" => &[None, Some(K::Sha1)],
        "filename|sha256" => &[None, Some(K::Sha256)],
        "filename" | "email-attachment" => &[Some(K::Filename)],
        "email" | "email-src" | "email-dst" | "email-reply-to" | "whois-registrant-email" => {
            &[Some(K::Email)]
        }
        "ja3-fingerprint-md5" => &[Some(K::Ja3)],
        "ja3s-fingerprint-md5" => &[Some(K::Ja3s)],
        "user-agent" => &[Some(K::UserAgent)],
        _ => return None,
    })
}

/// Confidence from the MISP confidence-level taxonomy.
fn confidence_from_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<Confidence> {
    let mut best = None;
    for tag in tags {
        let level = match tag.trim() {
            "misp:confidence-level=\"completely-confident\"" => 100,
            "misp:confidence-level=\"usually-confident\"" => 75,
            "misp:confidence-level=\"fairly-confident\"" => 50,
            "misp:confidence-level=\"rarely-confident\"" => 25,
            "misp:confidence-level=\"unconfident\"" => 0,
            _ => continue,
        };
        best = best.max(Some(level));
    }
    best.and_then(|c| Confidence::new(c).ok())
}

fn tag_names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// MISP writes numbers and booleans as JSON values or as strings.
fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn as_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        Value::String(s) => Some(matches!(s.as_str(), "1" | "true" | "True")),
        _ => None,
    }
}

fn unix(v: Option<&Value>) -> Option<Timestamp> {
    as_i64(v).and_then(|s| Utc.timestamp_opt(s, 0).single())
}

fn rfc3339(v: Option<&Value>) -> Option<Timestamp> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// What an event says about all its attributes.
#[derive(Debug, Default)]
struct EventContext {
    uuid: Option<String>,
    info: Option<String>,
    tags: Vec<String>,
}

impl EventContext {
    fn of(event: &Value) -> Self {
        Self {
            uuid: event.get("uuid").and_then(Value::as_str).map(str::to_owned),
            info: event.get("info").and_then(Value::as_str).map(str::to_owned),
            tags: tag_names(event.get("Tag")),
        }
    }
}

/// Turns one attribute into indicators for `sink`, accounting for it in
/// `report`. `location` names it in errors.
fn attribute(
    attr: &Value,
    event: &EventContext,
    defaults: &FeedDefaults,
    location: &str,
    report: &mut ImportReport,
    sink: &mut Sink<'_>,
) -> Result<(), ImportError> {
    report.read += 1;
    let Some(misp_type) = attr.get("type").and_then(Value::as_str) else {
        report.reject(location, "attribute has no type");
        return Ok(());
    };
    if as_bool(attr.get("deleted")) == Some(true) {
        report.skip("deleted attribute");
        return Ok(());
    }
    let Some(kinds) = kinds_of(misp_type) else {
        report.skip(format!("MISP type {misp_type}"));
        return Ok(());
    };
    let Some(value) = attr.get("value").and_then(Value::as_str) else {
        report.reject(
            location,
            format!("{misp_type} attribute has no string value"),
        );
        return Ok(());
    };
    let parts: Vec<&str> = if kinds.len() == 1 {
        vec![value]
    } else {
        value.splitn(kinds.len(), '|').collect()
    };
    if parts.len() != kinds.len() {
        report.reject(
            location,
            format!(
                "{misp_type} value {value:?} does not have {} parts",
                kinds.len()
            ),
        );
        return Ok(());
    }
    let attr_tags = tag_names(attr.get("Tag"));
    let (attr_tlp, attr_pap) = sharing_from_tags(attr_tags.iter().map(String::as_str));
    let (event_tlp, event_pap) = sharing_from_tags(event.tags.iter().map(String::as_str));
    let confidence = confidence_from_tags(attr_tags.iter().map(String::as_str))
        .or_else(|| confidence_from_tags(event.tags.iter().map(String::as_str)));
    let to_ids = as_bool(attr.get("to_ids")).unwrap_or(defaults.to_ids);
    let timestamp = unix(attr.get("timestamp"));
    let mut built = Vec::with_capacity(parts.len());
    for (part, kind) in parts.iter().zip(kinds) {
        let Some(kind) = kind else { continue };
        match defaults.indicator(*kind, part) {
            Ok(mut ind) => {
                ind.to_ids = to_ids;
                ind.tlp = attr_tlp.or(event_tlp).unwrap_or(defaults.tlp);
                ind.pap = attr_pap.or(event_pap).unwrap_or(defaults.pap);
                if let Some(c) = confidence {
                    ind.confidence = c;
                }
                ind.first_seen = rfc3339(attr.get("first_seen")).or(timestamp);
                ind.last_seen = rfc3339(attr.get("last_seen")).or(timestamp);
                let mut tags: Vec<String> = defaults.tags.clone();
                tags.extend(event.tags.iter().cloned());
                tags.extend(attr_tags.iter().cloned());
                tags.sort();
                tags.dedup();
                ind.tags = tags;
                ind.description = event.info.clone();
                ind.reference = event.uuid.clone();
                defaults.expire(&mut ind);
                built.push(ind);
            }
            Err(e) => {
                report.reject(location, format!("MISP type {misp_type}: {e}"));
                return Ok(());
            }
        }
    }
    report.accepted += 1;
    for ind in built {
        report.indicators += 1;
        sink(ind)?;
    }
    Ok(())
}

/// Every attribute of one MISP event (`{"Event": {…}}` or the bare event),
/// top level and inside objects. `name` names the event in errors.
pub fn import_event(
    doc: &Value,
    name: &str,
    defaults: &FeedDefaults,
    report: &mut ImportReport,
    sink: &mut Sink<'_>,
) -> Result<(), ImportError> {
    let event = doc.get("Event").unwrap_or(doc);
    if !event.is_object() {
        return Err(ImportError::Format {
            path: name.to_owned(),
            message: "not a MISP event (no Event object)".into(),
        });
    }
    let ctx = EventContext::of(event);
    let attrs = event.get("Attribute").and_then(Value::as_array);
    for (i, attr) in attrs.into_iter().flatten().enumerate() {
        let uuid = attr.get("uuid").and_then(Value::as_str).unwrap_or("?");
        let loc = format!("{name}: Attribute[{i}] {uuid}");
        attribute(attr, &ctx, defaults, &loc, report, sink)?;
    }
    let objects = event.get("Object").and_then(Value::as_array);
    for (o, object) in objects.into_iter().flatten().enumerate() {
        let attrs = object.get("Attribute").and_then(Value::as_array);
        for (i, attr) in attrs.into_iter().flatten().enumerate() {
            let uuid = attr.get("uuid").and_then(Value::as_str).unwrap_or("?");
            let loc = format!("{name}: Object[{o}].Attribute[{i}] {uuid}");
            attribute(attr, &ctx, defaults, &loc, report, sink)?;
        }
    }
    Ok(())
}

/// A MISP feed folder: the events `manifest.json` lists, each from
/// `<uuid>.json`. An event the manifest lists but the folder lacks, or one
/// that does not parse, is a rejected record naming the file; the other
/// events are still read. `hashes.csv` is not needed to import (it lets
/// MISP match values without fetching events); [`check_feed_hashes`]
/// cross-checks it.
pub fn import_feed_dir(
    dir: &Path,
    defaults: &FeedDefaults,
    sink: &mut Sink<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::new(&defaults.feed);
    let manifest_path = dir.join("manifest.json");
    let manifest = read_json(&manifest_path, MAX_EVENT_BYTES)?;
    let Some(events) = manifest.as_object() else {
        return Err(ImportError::Format {
            path: manifest_path.display().to_string(),
            message: "manifest is not an object of event UUIDs".into(),
        });
    };
    // Sorted, so that reports and the first errors do not depend on the
    // manifest's key order.
    let uuids: std::collections::BTreeSet<&String> = events.keys().collect();
    for uuid in uuids {
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            report.read += 1;
            report.reject(
                manifest_path.display().to_string(),
                format!("event key {uuid:?} is not a UUID"),
            );
            continue;
        }
        let path = dir.join(format!("{uuid}.json"));
        let doc = read_json(&path, MAX_EVENT_BYTES);
        let result = doc.and_then(|doc| {
            import_event(
                &doc,
                &path.display().to_string(),
                defaults,
                &mut report,
                sink,
            )
        });
        match result {
            Ok(()) => {}
            Err(ImportError::Sink(e)) => return Err(ImportError::Sink(e)),
            Err(e) => {
                report.read += 1;
                report.reject(path.display().to_string(), e.to_string());
            }
        }
    }
    Ok(report)
}

/// The consistency of a feed folder's `hashes.csv` with its events: MISP
/// lists `md5(value),event_uuid` for every attribute value (composite
/// values split at `|`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedCheck {
    pub hash_lines: usize,
    pub values: usize,
    /// Attribute values whose MD5 is not listed for their event: (event
    /// UUID, MISP type, value).
    pub unlisted: Vec<(String, String, String)>,
}

/// Cross-checks `hashes.csv` against the events of a feed folder.
pub fn check_feed_hashes(dir: &Path) -> Result<FeedCheck, ImportError> {
    let path = dir.join("hashes.csv");
    let text = String::from_utf8_lossy(&read_bounded(&path, 1 << 30)?).into_owned();
    let listed: HashSet<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.trim().split_once(','))
        .collect();
    let mut check = FeedCheck {
        hash_lines: listed.len(),
        ..FeedCheck::default()
    };
    let manifest = read_json(&dir.join("manifest.json"), MAX_EVENT_BYTES)?;
    let mut by_event: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for uuid in manifest.as_object().map(|m| m.keys()).into_iter().flatten() {
        let path = dir.join(format!("{uuid}.json"));
        let doc = read_json(&path, MAX_EVENT_BYTES)?;
        let event = doc.get("Event").unwrap_or(&doc);
        let mut values = Vec::new();
        let mut push = |attrs: Option<&Vec<Value>>| {
            for a in attrs.into_iter().flatten() {
                let (Some(t), Some(v)) = (
                    a.get("type").and_then(Value::as_str),
                    a.get("value").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if t.contains('|') || t == "malware-sample" {
                    values.extend(v.split('|').map(|p| (t.to_owned(), p.to_owned())));
                } else {
                    values.push((t.to_owned(), v.to_owned()));
                }
            }
        };
        push(event.get("Attribute").and_then(Value::as_array));
        for o in event
            .get("Object")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            push(o.get("Attribute").and_then(Value::as_array));
        }
        by_event.insert(uuid.clone(), values);
    }
    for (uuid, values) in by_event {
        for (t, v) in values {
            check.values += 1;
            let md5 = md5_hex(v.as_bytes());
            if !listed.contains(&(md5.as_str(), uuid.as_str())) {
                check.unlisted.push((uuid.clone(), t, v));
            }
        }
    }
    Ok(check)
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// Attributes from a `/attributes/restSearch` response:
/// `{"response": {"Attribute": [...]}}`. Each attribute's `Event` (info,
/// uuid) is its context; event tags come with `includeEventTags`.
pub fn import_rest_response(
    doc: &Value,
    name: &str,
    defaults: &FeedDefaults,
    report: &mut ImportReport,
    sink: &mut Sink<'_>,
) -> Result<usize, ImportError> {
    let attrs = doc
        .get("response")
        .and_then(|r| r.get("Attribute"))
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::Format {
            path: name.to_owned(),
            message: "not a restSearch response (no response.Attribute list)".into(),
        })?;
    for (i, attr) in attrs.iter().enumerate() {
        let ctx = attr.get("Event").map(EventContext::of).unwrap_or_default();
        let uuid = attr.get("uuid").and_then(Value::as_str).unwrap_or("?");
        let loc = format!("{name}: Attribute[{i}] {uuid}");
        attribute(attr, &ctx, defaults, &loc, report, sink)?;
    }
    Ok(attrs.len())
}

/// Reads a whole MISP event file (`riposte intel import --format misp-event`).
pub fn import_event_file(
    path: &Path,
    defaults: &FeedDefaults,
    sink: &mut Sink<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::new(&defaults.feed);
    let doc = read_json(path, MAX_EVENT_BYTES)?;
    import_event(
        &doc,
        &path.display().to_string(),
        defaults,
        &mut report,
        sink,
    )?;
    Ok(report)
}

/// Collects indicators into a Vec (tests, small imports).
pub fn collect(into: &mut Vec<Indicator>) -> impl FnMut(Indicator) -> Result<(), ImportError> + '_ {
    move |i| {
        into.push(i);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use riposte_model::{Pap, Tlp};

    fn defaults() -> FeedDefaults {
        FeedDefaults::new("misp", Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap())
    }

    #[test]
    fn attributes_become_indicators_with_the_event_context() {
        let doc = serde_json::json!({"Event": {
            "uuid": "e1", "info": "Evil campaign",
            "Tag": [{"name": "tlp:green"}, {"name": "misp:confidence-level=\"usually-confident\""}],
            "Attribute": [
                {"type": "ip-dst|port", "value": "198.51.100.7|443", "to_ids": true, "uuid": "a1", "timestamp": "1510922092"},
                {"type": "filename|sha256", "value": "x.exe|" , "to_ids": true, "uuid": "a2"},
                {"type": "domain|ip", "value": "Evil.Example|203.0.113.9", "to_ids": "0", "uuid": "a3",
                 "Tag": [{"name": "tlp:red"}, {"name": "PAP:AMBER"}]},
                {"type": "text", "value": "hello", "uuid": "a4"},
                {"type": "md5", "value": "abc", "to_ids": true, "uuid": "a5"},
                {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e", "deleted": true, "uuid": "a6"}
            ],
            "Object": [{"Attribute": [{"type": "sha1", "value": "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "to_ids": true, "uuid": "o1"}]}]
        }});
        let mut out = Vec::new();
        let mut report = ImportReport::new("misp");
        import_event(
            &doc,
            "e1.json",
            &defaults(),
            &mut report,
            &mut collect(&mut out),
        )
        .unwrap();
        let got: Vec<(String, String, bool, Tlp, Pap, u8)> = out
            .iter()
            .map(|i| {
                (
                    i.kind.to_string(),
                    i.value.to_string(),
                    i.to_ids,
                    i.tlp,
                    i.pap,
                    i.confidence.get(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "ip".into(),
                    "198.51.100.7".into(),
                    true,
                    Tlp::Green,
                    Pap::Clear,
                    75
                ),
                (
                    "domain".into(),
                    "evil.example".into(),
                    false,
                    Tlp::Red,
                    Pap::Amber,
                    75
                ),
                (
                    "ip".into(),
                    "203.0.113.9".into(),
                    false,
                    Tlp::Red,
                    Pap::Amber,
                    75
                ),
                (
                    "sha1".into(),
                    "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
                    true,
                    Tlp::Green,
                    Pap::Clear,
                    75
                ),
            ]
        );
        assert_eq!(out[0].description.as_deref(), Some("Evil campaign"));
        assert_eq!(out[0].reference.as_deref(), Some("e1"));
        assert_eq!(out[0].first_seen, Utc.timestamp_opt(1510922092, 0).single());
        assert_eq!(report.read, 7);
        assert_eq!(report.accepted, 3);
        assert_eq!(report.indicators, 4);
        assert_eq!(report.rejected, 2);
        assert_eq!(
            report
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "e1.json: Attribute[1] a2: MISP type filename|sha256: sha256 \"\": empty",
                "e1.json: Attribute[4] a5: MISP type md5: md5 \"abc\": not 32 hex digits",
            ]
        );
        assert_eq!(
            report.skipped,
            BTreeMap::from([
                ("MISP type text".into(), 1),
                ("deleted attribute".into(), 1)
            ])
        );
    }
}
