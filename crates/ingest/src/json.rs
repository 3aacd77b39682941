//! Generic JSON lines, for sources without a dedicated decoder: each line is
//! one JSON object, flattened to dotted names (`{"a":{"b":1}}` → `a.b`), then
//! renamed to ECS by the user's [`JsonMapping`].

use riposte_model::{CompactString, Event, FieldValue, Fields, Timestamp};
use serde_json::{Map, Value};

use crate::error::clip;
use crate::{DecodeCtx, DecodeError, RecordDecoder};

mod flat;

/// How a source's JSON maps to ECS, from the `mapping` of a `json` source in
/// the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonMapping {
    /// The events' `event.dataset`.
    pub dataset: String,
    /// The flattened path of the event time. `None` tries `@timestamp`,
    /// `timestamp`, `time` and `ts` in that order and falls back to the time
    /// of reading; a configured path that is missing is an error.
    pub timestamp: Option<String>,
    /// `(ECS name, flattened source path)` pairs. A mapped source field is
    /// renamed; unmapped fields keep their flattened names.
    pub fields: Vec<(String, String)>,
}

impl Default for JsonMapping {
    fn default() -> Self {
        Self {
            dataset: "json".to_owned(),
            timestamp: None,
            fields: Vec::new(),
        }
    }
}

/// The `json` format's decoder.
#[derive(Debug)]
pub(crate) struct JsonDecoder {
    mapping: JsonMapping,
}

impl JsonDecoder {
    pub(crate) fn new(mapping: Option<JsonMapping>) -> Self {
        Self {
            mapping: mapping.unwrap_or_default(),
        }
    }
}

const DEFAULT_TIME_FIELDS: [&str; 4] = ["@timestamp", "timestamp", "time", "ts"];

impl RecordDecoder for JsonDecoder {
    fn decode(&mut self, text: &str, ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        // Straight from the text when possible; the `Value` route for the
        // rest (errors, repeated keys), with the same result (`flat.rs`).
        let mut flat = match flat::flatten_str(text) {
            Some(pairs) => Fields::from_iter(pairs),
            None => {
                let value: Value = serde_json::from_str(text).map_err(DecodeError::from_json)?;
                let Value::Object(object) = value else {
                    return Err(DecodeError::NotObject(json_kind(&value)));
                };
                let mut flat = Fields::new();
                flatten_into(&mut flat, "", object);
                flat
            }
        };

        let timestamp = match &self.mapping.timestamp {
            Some(path) => {
                let v = flat
                    .remove(path.as_str())
                    .ok_or_else(|| DecodeError::MissingField(leak_free(path)))?;
                json_time(&v).ok_or_else(|| DecodeError::InvalidTimestamp {
                    value: clip(&v.to_string()),
                    expected: "RFC 3339 text or epoch seconds",
                })?
            }
            None => DEFAULT_TIME_FIELDS
                .iter()
                .find_map(|name| {
                    let t = json_time(flat.get(name)?)?;
                    flat.remove(name);
                    Some(t)
                })
                .unwrap_or(ctx.now),
        };

        let mut ev = Event::new(timestamp, self.mapping.dataset.as_str());
        // The flattened map becomes the event's fields as it is (no second
        // round of inserts): every mapped source is taken out first, then
        // put back under its ECS name, so a mapped name wins over an
        // unmapped one of the same name and a later mapping over an earlier.
        let mut mapped = Vec::with_capacity(self.mapping.fields.len());
        for (ecs, source) in &self.mapping.fields {
            if let Some(v) = flat.remove(source.as_str()) {
                mapped.push((ecs, v));
            }
        }
        for (ecs, v) in mapped {
            flat.insert(ecs.as_str().into(), v);
        }
        ev.fields = flat;
        crate::observe::add_ecs_observables(&mut ev);
        Ok(Some(ev))
    }
}

/// Field names in errors are `&'static str` for the fixed decoders; a
/// configured path is named through the generic message instead.
fn leak_free(_path: &str) -> &'static str {
    "timestamp (as configured in the mapping)"
}

/// Flattens a JSON object into dotted names. Arrays of scalars become lists;
/// arrays holding objects or arrays are kept as their JSON text, since a
/// flat list cannot say which item a nested field came from. `null` is
/// dropped.
///
/// Names are built as [`CompactString`]s in place: one that fits in 24
/// bytes costs no allocation (a `format!` first would allocate a `String`
/// for every nested field and copy it).
///
/// The pairs are collected first and sorted into `out` once: objects come
/// in document order, and inserting 30–40 names one by one into the sorted
/// field vector would shift it for nearly every name.
pub(crate) fn flatten_into(out: &mut Fields, prefix: &str, object: Map<String, Value>) {
    let mut pairs = Vec::with_capacity(object.len());
    flatten_pairs(&mut pairs, prefix, object);
    out.extend(pairs);
}

fn flatten_pairs(
    out: &mut Vec<(CompactString, FieldValue)>,
    prefix: &str,
    object: Map<String, Value>,
) {
    for (key, value) in object {
        let name = if prefix.is_empty() {
            CompactString::from(key)
        } else {
            let mut name = CompactString::with_capacity(prefix.len() + 1 + key.len());
            name.push_str(prefix);
            name.push('.');
            name.push_str(&key);
            name
        };
        match value {
            Value::Object(inner) => flatten_pairs(out, &name, inner),
            Value::Array(items) => {
                if items
                    .iter()
                    .all(|i| !matches!(i, Value::Array(_) | Value::Object(_)))
                {
                    let list = items.into_iter().filter_map(scalar).collect();
                    out.push((name, FieldValue::List(list)));
                } else {
                    out.push((name, FieldValue::from(Value::Array(items).to_string())));
                }
            }
            other => {
                if let Some(v) = scalar(other) {
                    out.push((name, v));
                }
            }
        }
    }
}

/// A JSON scalar as a field value; `null` (and containers) give `None`.
pub(crate) fn scalar(value: Value) -> Option<FieldValue> {
    match value {
        Value::Bool(b) => Some(FieldValue::Bool(b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => FieldValue::Int(i),
            None => match n.as_u64() {
                Some(u) => FieldValue::from(u.to_string()),
                None => FieldValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        }),
        Value::String(s) => Some(FieldValue::from(s)),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A time as RFC 3339-like text, or as epoch seconds (integer or
/// fractional); epoch values above 10^11 are taken as milliseconds.
pub(crate) fn json_time(v: &FieldValue) -> Option<Timestamp> {
    match v {
        FieldValue::Str(s) => {
            crate::time::parse(s).or_else(|| s.parse::<f64>().ok().and_then(epoch))
        }
        FieldValue::Int(i) => epoch(*i as f64),
        FieldValue::Float(x) => epoch(*x),
        FieldValue::Bool(_) | FieldValue::List(_) => None,
    }
}

fn epoch(x: f64) -> Option<Timestamp> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let secs = if x > 1e11 { x / 1000.0 } else { x };
    let whole = secs.trunc();
    // Microsecond precision: what every sensor here writes, and what keeps
    // f64 rounding from inventing nanoseconds.
    let micros = ((secs - whole) * 1e6).round() as i64;
    chrono::DateTime::from_timestamp(whole as i64, 0)
        .map(|t| t + chrono::TimeDelta::microseconds(micros))
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use riposte_model::{Observable, ObservableKind};

    use super::*;

    fn ctx() -> DecodeCtx<'static> {
        DecodeCtx {
            source: "t",
            now: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn mapping_renames_flattened_fields_and_reads_the_configured_time() {
        let mut d = JsonDecoder::new(Some(JsonMapping {
            dataset: "fw".into(),
            timestamp: Some("meta.when".into()),
            fields: vec![
                ("source.ip".into(), "net.src".into()),
                ("user.name".into(), "who".into()),
            ],
        }));
        let ev = d
            .decode(
                r#"{"meta":{"when":1773480413.25},"net":{"src":"203.0.113.7","ports":[22,80]},"who":"root","n":null,"deep":[{"a":1}]}"#,
                &ctx(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(ev.dataset, "fw");
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap()
                + chrono::TimeDelta::milliseconds(250)
        );
        assert_eq!(ev.get_str("source.ip"), Some("203.0.113.7"));
        assert_eq!(ev.get_str("user.name"), Some("root"));
        assert_eq!(ev.fields.get("net.src"), None);
        assert_eq!(
            ev.fields.get("net.ports"),
            Some(&FieldValue::List(vec![
                FieldValue::Int(22),
                FieldValue::Int(80)
            ]))
        );
        assert_eq!(ev.get_str("deep"), Some(r#"[{"a":1}]"#));
        assert!(!ev.fields.contains_key("n"));
        assert!(!ev.fields.contains_key("meta.when"));
        assert!(ev.observables.contains(&Observable::new(
            ObservableKind::Ip,
            "203.0.113.7",
            Some("source.ip")
        )));
    }

    #[test]
    fn a_mapped_name_wins_over_an_unmapped_field_of_that_name_and_sources_are_read_before_renaming()
    {
        // `user.name` exists unmapped and is also the target of `who`;
        // `user.name` is itself the source of `user.original`, which must
        // see the record's value, not the renamed one.
        let mut d = JsonDecoder::new(Some(JsonMapping {
            dataset: "app".into(),
            timestamp: None,
            fields: vec![
                ("user.name".into(), "who".into()),
                ("user.original".into(), "user.name".into()),
            ],
        }));
        let ev = d
            .decode(
                r#"{"ts":"2026-03-14T09:26:53Z","who":"root","user":{"name":"svc"},"x":1}"#,
                &ctx(),
            )
            .unwrap()
            .unwrap();
        let fields: Vec<(&str, String)> = ev
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect();
        assert_eq!(
            fields,
            [
                ("user.name", "root".to_owned()),
                ("user.original", "svc".to_owned()),
                ("x", "1".to_owned()),
            ]
        );
    }

    #[test]
    fn default_time_fields_then_now_and_errors_name_the_problem() {
        let mut d = JsonDecoder::new(None);
        let ev = d
            .decode(r#"{"ts":"2026-03-14T09:00:00Z","x":1}"#, &ctx())
            .unwrap()
            .unwrap();
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
        );
        assert_eq!(ev.dataset, "json");
        let ev = d.decode(r#"{"x":1}"#, &ctx()).unwrap().unwrap();
        assert_eq!(ev.timestamp, ctx().now);
        assert_eq!(
            d.decode("[1]", &ctx()).unwrap_err().to_string(),
            "expected a JSON object, found an array"
        );
        let mut strict = JsonDecoder::new(Some(JsonMapping {
            timestamp: Some("when".into()),
            ..JsonMapping::default()
        }));
        assert_eq!(
            strict
                .decode(r#"{"when":"yesterday"}"#, &ctx())
                .unwrap_err()
                .to_string(),
            "invalid timestamp \"yesterday\" (expected RFC 3339 text or epoch seconds)"
        );
        assert_eq!(
            strict.decode(r#"{"x":1}"#, &ctx()).unwrap_err().to_string(),
            "missing field \"timestamp (as configured in the mapping)\""
        );
    }
}
