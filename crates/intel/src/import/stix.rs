//! STIX 2.1 bundles: every `indicator` with a STIX pattern that amounts to
//! a list of atomic values ([`crate::stix::atoms`]) gives one indicator per
//! value. Other objects (malware, relationships, reports, …) are counted as
//! skipped by type; an indicator whose pattern does not parse is rejected
//! with the parser's message; one whose pattern is valid but not a list of
//! values (an AND across properties, a qualifier) is skipped with the
//! reason, since it cannot be matched value by value.
//!
//! TLP comes from `object_marking_refs`: the standard TLP 1.0 and 2.0
//! marking-definition ids, or a `tlp` marking definition in the bundle.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use riposte_model::{Confidence, Tlp};
use serde_json::Value;

use super::{FeedDefaults, ImportError, ImportReport, Sink, read_json};
use crate::stix::{atoms, pattern};

/// The largest bundle read whole.
pub const MAX_BUNDLE_BYTES: u64 = 512 << 20;

/// The marking-definition ids STIX publishes for TLP (1.0 and 2.0).
pub fn standard_tlp(id: &str) -> Option<Tlp> {
    Some(match id {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Tlp::Clear,
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Tlp::Green,
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Tlp::Amber,
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Tlp::Red,
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487" => Tlp::Clear,
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" => Tlp::Green,
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" => Tlp::Amber,
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" => Tlp::AmberStrict,
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" => Tlp::Red,
        _ => return None,
    })
}

/// The id STIX 2.1 publishes for each TLP 2.0 level (the exporter's).
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

fn time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Imports the indicators of one bundle (`{"type": "bundle", "objects": […]}`).
pub fn import_bundle(
    doc: &Value,
    name: &str,
    defaults: &FeedDefaults,
    report: &mut ImportReport,
    sink: &mut Sink<'_>,
) -> Result<(), ImportError> {
    // A bundle, a list of objects, or one object on its own.
    let single;
    let objects: &Vec<Value> = match (doc.get("objects").and_then(Value::as_array), doc) {
        (Some(list), _) => list,
        (None, Value::Array(list)) => list,
        (None, Value::Object(o)) if o.get("type").is_some_and(Value::is_string) => {
            single = vec![doc.clone()];
            &single
        }
        _ => {
            return Err(ImportError::Format {
                path: name.to_owned(),
                message: "not a STIX bundle, object or list of objects".into(),
            });
        }
    };
    // TLP markings defined in the bundle itself.
    let mut markings: HashMap<&str, Tlp> = HashMap::new();
    for o in objects {
        if o.get("type").and_then(Value::as_str) != Some("marking-definition") {
            continue;
        }
        let level = o
            .get("definition")
            .and_then(|d| d.get("tlp"))
            .or_else(|| {
                o.get("extensions")
                    .and_then(Value::as_object)
                    .and_then(|e| e.values().find_map(|x| x.get("tlp_2_0")))
            })
            .and_then(Value::as_str);
        if let (Some(id), Some(level)) = (o.get("id").and_then(Value::as_str), level) {
            let level = if level.eq_ignore_ascii_case("white") {
                "clear"
            } else {
                level
            };
            if let Ok(t) = level.parse::<Tlp>() {
                markings.insert(id, t);
            }
        }
    }
    for (i, o) in objects.iter().enumerate() {
        report.read += 1;
        let kind = o.get("type").and_then(Value::as_str).unwrap_or("(no type)");
        if kind != "indicator" {
            report.skip(format!("STIX object {kind}"));
            continue;
        }
        let id = o.get("id").and_then(Value::as_str).unwrap_or("?");
        let loc = format!("{name}: objects[{i}] {id}");
        if o.get("revoked").and_then(Value::as_bool) == Some(true) {
            report.skip("revoked indicator");
            continue;
        }
        let pattern_type = o
            .get("pattern_type")
            .and_then(Value::as_str)
            .unwrap_or("stix");
        if pattern_type != "stix" {
            report.skip(format!("pattern type {pattern_type}"));
            continue;
        }
        let Some(text) = o.get("pattern").and_then(Value::as_str) else {
            report.reject(&loc, "indicator has no pattern");
            continue;
        };
        let parsed = match pattern::parse(text) {
            Ok(p) => p,
            Err(e) => {
                report.reject(&loc, e.to_string());
                continue;
            }
        };
        let values = match atoms(&parsed) {
            Ok(v) => v,
            Err(why) => {
                report.skip(format!("pattern is not a list of values: {why}"));
                continue;
            }
        };
        let tlp = o
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|m| standard_tlp(m).or_else(|| markings.get(m).copied()))
            .max();
        let confidence = o
            .get("confidence")
            .and_then(Value::as_u64)
            .and_then(|c| u8::try_from(c).ok())
            .and_then(|c| Confidence::new(c).ok());
        let mut tags: Vec<String> = defaults.tags.clone();
        for key in ["indicator_types", "labels"] {
            tags.extend(
                o.get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
        }
        for kc in o
            .get("kill_chain_phases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(phase) = kc.get("phase_name").and_then(Value::as_str) {
                tags.push(format!("kill-chain:{phase}"));
            }
        }
        tags.sort();
        tags.dedup();
        let description = o
            .get("name")
            .or_else(|| o.get("description"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut built = Vec::with_capacity(values.len());
        let mut bad = None;
        for (kind, value) in values {
            match defaults.indicator(kind, &value) {
                Ok(mut ind) => {
                    ind.tlp = tlp.unwrap_or(defaults.tlp);
                    if let Some(c) = confidence {
                        ind.confidence = c;
                    }
                    ind.first_seen = time(o.get("valid_from"));
                    ind.last_seen = time(o.get("modified")).or(ind.first_seen);
                    ind.valid_until = time(o.get("valid_until"));
                    ind.tags = tags.clone();
                    ind.description = description.clone();
                    ind.reference = Some(id.to_owned());
                    // Riposte's own exports say which are fit for detection.
                    if let Some(b) = o.get("x_riposte_to_ids").and_then(Value::as_bool) {
                        ind.to_ids = b;
                    }
                    defaults.expire(&mut ind);
                    built.push(ind);
                }
                Err(e) => {
                    bad = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(why) = bad {
            report.reject(&loc, why);
            continue;
        }
        report.accepted += 1;
        for ind in built {
            report.indicators += 1;
            sink(ind)?;
        }
    }
    Ok(())
}

/// Reads a bundle file.
pub fn import_bundle_file(
    path: &Path,
    defaults: &FeedDefaults,
    sink: &mut Sink<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::new(&defaults.feed);
    let doc = read_json(path, MAX_BUNDLE_BYTES)?;
    import_bundle(
        &doc,
        &path.display().to_string(),
        defaults,
        &mut report,
        sink,
    )?;
    Ok(report)
}
