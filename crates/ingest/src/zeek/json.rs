//! Zeek's JSON writer: one object per line, flat dotted names
//! (`"id.orig_h"`). Without `#types` the type of a value is read from the
//! value itself; the few `time` fields other than `ts` are known by name,
//! so that a writer using epoch numbers (`JSON::TS_EPOCH`, Zeek's default)
//! and one using ISO 8601 text give the same fields.

use riposte_model::{FieldValue, Timestamp};
use serde_json::{Map, Value};

use super::{Native, malformed, value};
use crate::DecodeError;
use crate::error::clip;
use crate::json::json_kind;

/// `time` fields of Zeek's standard logs besides `ts`.
const TIME_FIELDS: &[&str] = &[
    "certificate.not_valid_after",
    "certificate.not_valid_before",
    "compile_ts",
    "from",
    "nextUpdate",
    "org_time",
    "rec_time",
    "ref_time",
    "revoketime",
    "thisUpdate",
    "till",
    "times.accessed",
    "times.changed",
    "times.created",
    "times.modified",
    "up_since",
    "xmt_time",
];

/// One decoded JSON record, before the path is known for sure.
pub(super) struct JsonRecord {
    /// `_path`, when the writer added it (the JSON streaming package does).
    pub path: Option<String>,
    pub ts: Option<Timestamp>,
    /// Native names and normalized values.
    pub fields: Vec<(String, FieldValue)>,
}

pub(super) fn parse(text: &str) -> Result<JsonRecord, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|e| match DecodeError::from_json(e) {
        // Valid JSON of another shape cannot reach here (the line starts
        // with `{`), but keep the message free of "EVE".
        DecodeError::NotEveRecord(e) => malformed(e.to_string()),
        other => other,
    })?;
    let Value::Object(object) = value else {
        return Err(DecodeError::NotObject(json_kind(&value)));
    };
    let mut rec = JsonRecord {
        path: None,
        ts: None,
        fields: Vec::with_capacity(object.len()),
    };
    for (key, v) in object {
        match key.as_str() {
            "_path" => match v {
                Value::String(s) => rec.path = Some(s),
                other => {
                    return Err(DecodeError::WrongType {
                        field: "_path",
                        expected: "a string",
                        found: describe(&other),
                    });
                }
            },
            // When the line was written: no TSV counterpart, and no use
            // beside `ts`.
            "_write_ts" => {}
            "ts" => rec.ts = ts(&v)?,
            _ => flatten(&mut rec.fields, key, v),
        }
    }
    Ok(rec)
}

/// `ts` as the event time: ISO 8601 text or epoch seconds, kept to the
/// microsecond. `null` is no time.
fn ts(v: &Value) -> Result<Option<Timestamp>, DecodeError> {
    let t = match v {
        Value::Null => return Ok(None),
        Value::String(s) => crate::time::parse(s).map(value::to_micros),
        Value::Number(n) => n.as_f64().map(epoch_secs).and_then(value::timestamp),
        _ => None,
    };
    t.map(Some).ok_or_else(|| DecodeError::InvalidTimestamp {
        value: clip(&v.to_string()),
        expected: "ISO 8601 text or epoch seconds",
    })
}

/// Epoch seconds from a JSON time: Zeek writes seconds (`JSON::TS_EPOCH`)
/// or, with `JSON::TS_MILLIS`, whole milliseconds, told apart by size
/// (10^11 seconds is the year 5138).
fn epoch_secs(x: f64) -> f64 {
    if x.abs() > 1e11 { x / 1000.0 } else { x }
}

fn flatten(out: &mut Vec<(String, FieldValue)>, name: String, v: Value) {
    match v {
        Value::Null => {}
        Value::Object(inner) => flatten_object(out, &name, inner),
        Value::Array(items) => {
            if items
                .iter()
                .any(|i| matches!(i, Value::Array(_) | Value::Object(_)))
            {
                // Zeek writes no such thing; keep it readable rather than
                // guess which item a nested field came from.
                out.push((name, FieldValue::from(Value::Array(items).to_string())));
            } else {
                let time = is_time(&name);
                let mut list: Vec<FieldValue> =
                    items.into_iter().filter_map(|i| scalar(i, time)).collect();
                // Zeek's TSV writer writes a set holding only the empty
                // string as it writes an empty set, `(empty)`; both read as
                // an empty list.
                if let [FieldValue::Str(only)] = list.as_slice()
                    && only.is_empty()
                {
                    list.clear();
                }
                out.push((name, FieldValue::List(list)));
            }
        }
        other => {
            if let Some(v) = scalar(other, is_time(&name)) {
                out.push((name, v));
            }
        }
    }
}

/// A nested object, as other tools write Zeek records (`"id":{"orig_h":…}`):
/// flattened to the dotted names Zeek itself writes.
fn flatten_object(out: &mut Vec<(String, FieldValue)>, prefix: &str, object: Map<String, Value>) {
    for (key, v) in object {
        flatten(out, format!("{prefix}.{key}"), v);
    }
}

fn is_time(name: &str) -> bool {
    TIME_FIELDS.contains(&name)
}

/// A JSON scalar in the normalized representation; `null` is no value.
fn scalar(v: Value, time: bool) -> Option<FieldValue> {
    Some(match v {
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
        Value::Bool(b) => FieldValue::Bool(b),
        Value::Number(n) => {
            if time {
                value::time_field(epoch_secs(n.as_f64()?))
            } else if let Some(i) = n.as_i64() {
                FieldValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                FieldValue::from(u.to_string())
            } else {
                value::float_field(n.as_f64()?)
            }
        }
        Value::String(s) => {
            if time && let Some(t) = crate::time::parse(&s) {
                FieldValue::from(value::render_time(value::to_micros(t)))
            } else {
                FieldValue::from(s)
            }
        }
    })
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("string {:?}", clip(s)),
        Value::Number(n) => format!("number {n}"),
        other => json_kind(other).to_owned(),
    }
}

/// Moves the record's fields under `zeek.<path>.`.
pub(super) fn into_natives(fields: Vec<(String, FieldValue)>, prefix: &str) -> Vec<Native> {
    fields
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| Native {
            full: super::concat(prefix, &name),
            value,
        })
        .collect()
}
