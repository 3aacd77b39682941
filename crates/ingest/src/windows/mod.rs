//! Windows event logs, in the three shapes they reach Riposte:
//!
//! - `windows-json`: one event as JSON, either as the `evtx` crate (and
//!   `evtx_dump`, Chainsaw, Hayabusa) writes it — `{"Event":{"System":…,
//!   "EventData":…}}` with XML attributes under `#attributes` — or as
//!   winlogbeat / Elastic Agent ship it (`{"@timestamp":…,"winlog":{…}}`);
//! - `windows-xml`: one `<Event>` element as Windows' XML view, `wevtutil`
//!   and event forwarding write it ([`xml`]);
//! - `evtx`: the binary log files themselves ([`evtx`]), read through the
//!   `evtx` crate.
//!
//! Every shape is first brought to the `evtx` crate's JSON tree, then one
//! function, [`normalize`], turns that tree into an [`Event`]; so an EVTX
//! file, its `evtx_dump` export and the XML view of the same records give
//! the same fields by construction.
//!
//! # Fields
//!
//! Sigma rules for Windows name fields as Windows does, so every EventData
//! (or UserData) field keeps its native name at the top level of
//! `ev.fields` (`Image`, `CommandLine`, `TargetUserName`, …), and the System
//! section gives `EventID`, `Channel`, `Provider_Name`, `Computer`,
//! `EventRecordID`, `Version`, `Level`, `Task`, `Opcode`, `Keywords`,
//! `ProcessID`, `ThreadID` (from `Execution`) and `SecurityUserID` (from
//! `Security`'s `UserID`), the names Sigma's Windows backends use. A System
//! name wins over an EventData field of the same name, so event data cannot
//! pass itself off as another event id or channel.
//!
//! Values are made comparable across the shapes, which do not agree on
//! types (EVTX stores typed values, XML and winlogbeat only text):
//! - text is trimmed of surrounding white space (older `evtx` releases did
//!   so, and their exports are common);
//! - a value whose text is a canonical decimal integer (no sign but `-`, no
//!   leading zero) is an `Int`, whatever the shape gave — printing it gives
//!   back the same text, so nothing is lost; other numbers (beyond `i64`,
//!   fractions) and booleans are kept as their text;
//! - a GUID is written as Windows renders GUID values, `{lowercase}`, where
//!   `evtx` releases and tools differ (braces, case);
//! - unnamed `<Data>` items are one `Data` list; an empty element is `""`.
//!
//! The event time is the System `TimeCreated` (winlogbeat: `@timestamp`),
//! kept to the microsecond: EVTX stores 100 ns ticks, which most exports cut
//! to microseconds, and an EVTX and its export must give the same event.
//!
//! The dataset is `windows.sysmon` for Sysmon's channel, `windows.security`
//! for `Security`, otherwise `windows.` and the channel in lowercase with
//! every character that is not a letter or digit replaced by `_`
//! (`Microsoft-Windows-PowerShell/Operational` →
//! `windows.microsoft_windows_powershell_operational`); `windows` when the
//! record names no channel. ECS fields are derived from the native ones in
//! [`ecs`].

mod ecs;
pub(crate) mod evtx;
pub(crate) mod xml;

use riposte_model::{Event, FieldValue, Fields, Timestamp};
use serde_json::{Map, Value};

use crate::error::clip;
use crate::json::{flatten_into, json_kind};
use crate::{DecodeCtx, DecodeError, RecordDecoder};

/// Sysmon's channel; its events get the `windows.sysmon` dataset.
pub(crate) const SYSMON_CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";

/// The `windows-json` format's decoder; stateless.
#[derive(Debug)]
pub(crate) struct WindowsJsonDecoder;

impl RecordDecoder for WindowsJsonDecoder {
    fn decode(&mut self, text: &str, _ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        let value: Value = serde_json::from_str(text).map_err(DecodeError::from_json)?;
        decode_json_value(value).map(Some)
    }
}

/// One Windows event as parsed JSON, in either the `evtx` or the winlogbeat
/// shape.
pub(crate) fn decode_json_value(value: Value) -> Result<Event, DecodeError> {
    const FORMAT: &str = "windows-json";
    let Value::Object(mut root) = value else {
        return Err(DecodeError::NotObject(json_kind(&value)));
    };
    if root.contains_key("Event") {
        return normalize(Value::Object(root), FORMAT);
    }
    if root.contains_key("System") {
        // Some exporters write the Event element's content without it.
        let mut wrapped = Map::new();
        wrapped.insert("Event".to_owned(), Value::Object(root));
        return normalize(Value::Object(wrapped), FORMAT);
    }
    match root.remove("winlog") {
        Some(Value::Object(winlog)) => from_winlogbeat(root, winlog),
        Some(other) => Err(DecodeError::Malformed {
            format: FORMAT,
            reason: format!("\"winlog\" must be an object, found {}", json_kind(&other)),
        }),
        None => {
            let keys: Vec<&str> = root.keys().map(String::as_str).take(8).collect();
            Err(DecodeError::Malformed {
                format: FORMAT,
                reason: format!(
                    "expected an evtx-style {{\"Event\":…}} or a winlogbeat-style \
                     {{\"winlog\":…}} object, found the keys {}",
                    clip(&keys.join(", "))
                ),
            })
        }
    }
}

/// Turns an event in the `evtx` crate's JSON shape (`{"Event":{…}}`) into an
/// [`Event`]; see the module documentation for the fields. `format` names
/// the input format in errors.
pub(crate) fn normalize(value: Value, format: &'static str) -> Result<Event, DecodeError> {
    let malformed = |reason: String| DecodeError::Malformed { format, reason };
    let Value::Object(mut root) = value else {
        return Err(malformed(format!(
            "expected an object, found {}",
            json_kind(&value)
        )));
    };
    let Some(Value::Object(mut event)) = root.remove("Event") else {
        return Err(malformed("\"Event\" must be an object".to_owned()));
    };
    let Some(Value::Object(mut system)) = event.remove("System") else {
        return Err(malformed("no \"System\" object in \"Event\"".to_owned()));
    };

    let event_id = match system.remove("EventID") {
        Some(v) => match native(text_of(v)) {
            FieldValue::Int(id) => id,
            other => {
                return Err(DecodeError::WrongType {
                    field: "EventID",
                    expected: "an integer",
                    found: clip(&other.to_string()),
                });
            }
        },
        None => return Err(DecodeError::MissingField("Event.System.EventID")),
    };
    let timestamp = match attribute(&mut system, "TimeCreated", "SystemTime") {
        Some(FieldValue::Str(s)) => {
            parse_time(&s).ok_or_else(|| DecodeError::InvalidTimestamp {
                value: clip(&s),
                expected: crate::time::EXPECTED,
            })?
        }
        Some(other) => {
            return Err(DecodeError::InvalidTimestamp {
                value: clip(&other.to_string()),
                expected: crate::time::EXPECTED,
            });
        }
        None => {
            return Err(DecodeError::MissingField(
                "Event.System.TimeCreated.SystemTime",
            ));
        }
    };

    // Event data first: the System fields below are inserted over it.
    let mut fields = Fields::new();
    match event.remove("EventData") {
        Some(Value::Object(data)) => event_data_into(&mut fields, data),
        Some(Value::Null) | None => {}
        Some(other) => {
            // `<EventData>text</EventData>`: rare, but it is the event's data.
            fields.insert("EventData".into(), native(text_of(other)));
        }
    }
    if let Some(Value::Object(user_data)) = event.remove("UserData") {
        // UserData holds one provider-defined element whose children are
        // the fields (`<UserData><LogFileCleared><SubjectUserName>…`).
        for (name, element) in user_data {
            match element {
                Value::Object(children) => {
                    for (child, v) in children {
                        if child != "#attributes" {
                            native_into(&mut fields, child, v);
                        }
                    }
                }
                other if name != "#attributes" => native_into(&mut fields, name, other),
                _ => {}
            }
        }
    }
    if let Some(message) = event
        .remove("RenderingInfo")
        .and_then(|mut r| r.get_mut("Message").map(Value::take))
    {
        match native(text_of(message)) {
            FieldValue::Str(s) if s.is_empty() => {}
            v => {
                fields.insert("message".into(), v);
            }
        }
    }

    fields.insert("EventID".into(), FieldValue::Int(event_id));
    if let Some(v) = attribute(&mut system, "Provider", "Name") {
        fields.insert("Provider_Name".into(), v);
    }
    for name in [
        "Channel",
        "Computer",
        "EventRecordID",
        "Version",
        "Level",
        "Task",
        "Opcode",
        "Keywords",
    ] {
        if let Some(v) = system.remove(name).and_then(system_value) {
            fields.insert(name.into(), v);
        }
    }
    for name in ["ProcessID", "ThreadID"] {
        if let Some(v) = attribute(&mut system, "Execution", name) {
            fields.insert(name.into(), v);
        }
    }
    if let Some(v) = attribute(&mut system, "Security", "UserID") {
        fields.insert("SecurityUserID".into(), v);
    }

    let dataset = match fields.get("Channel") {
        Some(FieldValue::Str(channel)) => dataset_of(channel),
        _ => "windows".to_owned(),
    };
    let mut ev = Event::new(timestamp, dataset);
    ev.fields = fields;
    ecs::add_ecs(&mut ev);
    crate::observe::add_ecs_observables(&mut ev);
    Ok(ev)
}

/// A winlogbeat / Elastic Agent document: its `winlog` section is brought
/// to the `evtx` shape and normalized like any other event, so the native
/// fields are the same as the EVTX record's; the rest of the document
/// (`agent.*`, `winlog.task`, `message`, …) is kept under its own flattened
/// names where the normalization did not set the name already.
fn from_winlogbeat(
    mut doc: Map<String, Value>,
    mut winlog: Map<String, Value>,
) -> Result<Event, DecodeError> {
    let mut system = Map::new();
    for (from, to) in [
        ("event_id", "EventID"),
        ("channel", "Channel"),
        ("computer_name", "Computer"),
        ("record_id", "EventRecordID"),
        ("version", "Version"),
    ] {
        if let Some(v) = winlog.get(from) {
            system.insert(to.to_owned(), v.clone());
        }
    }

    let mut provider = Map::new();
    for (from, to) in [("provider_name", "Name"), ("provider_guid", "Guid")] {
        if let Some(v) = winlog.get(from) {
            provider.insert(to.to_owned(), v.clone());
        }
    }
    system.insert("Provider".to_owned(), with_attributes(provider));
    let mut execution = Map::new();
    if let Some(pid) = pointer(&winlog, "/process/pid") {
        execution.insert("ProcessID".to_owned(), pid.clone());
    }
    if let Some(tid) = pointer(&winlog, "/process/thread/id") {
        execution.insert("ThreadID".to_owned(), tid.clone());
    }
    system.insert("Execution".to_owned(), with_attributes(execution));
    if let Some(sid) = pointer(&winlog, "/user/identifier") {
        let mut security = Map::new();
        security.insert("UserID".to_owned(), sid.clone());
        system.insert("Security".to_owned(), with_attributes(security));
    }
    if let Some(t) = doc.remove("@timestamp") {
        let mut created = Map::new();
        created.insert("SystemTime".to_owned(), t);
        system.insert("TimeCreated".to_owned(), with_attributes(created));
    }

    let mut event = Map::new();
    event.insert("System".to_owned(), Value::Object(system));
    if let Some(data) = winlog.remove("event_data") {
        event.insert("EventData".to_owned(), data);
    }
    if let Some(Value::Object(mut data)) = winlog.remove("user_data") {
        // winlogbeat names UserData's element in `xml_name`.
        let element = match data.remove("xml_name") {
            Some(Value::String(name)) => name,
            _ => "UserData".to_owned(),
        };
        let mut user_data = Map::new();
        user_data.insert(element, Value::Object(data));
        event.insert("UserData".to_owned(), Value::Object(user_data));
    }
    let mut root = Map::new();
    root.insert("Event".to_owned(), Value::Object(event));
    let mut ev = normalize(Value::Object(root), "windows-json")?;

    doc.insert("winlog".to_owned(), Value::Object(winlog));
    let mut rest = Fields::new();
    flatten_into(&mut rest, "", doc);
    // Only names the normalized fields lack, added in one sorted merge
    // rather than one mid-vector insert each.
    let missing: Vec<_> = rest
        .into_iter()
        .filter(|(name, _)| !ev.fields.contains_key(name))
        .collect();
    ev.fields.extend(missing);
    crate::observe::add_ecs_observables(&mut ev);
    Ok(ev)
}

/// `serde_json`'s JSON pointer, on a map.
fn pointer<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let (first, rest) = path.strip_prefix('/')?.split_once('/')?;
    map.get(first)?.pointer(&format!("/{rest}"))
}

fn with_attributes(attributes: Map<String, Value>) -> Value {
    let mut element = Map::new();
    element.insert("#attributes".to_owned(), Value::Object(attributes));
    Value::Object(element)
}

/// The dataset of a channel; see the module documentation.
pub(crate) fn dataset_of(channel: &str) -> String {
    match channel {
        SYSMON_CHANNEL => "windows.sysmon".to_owned(),
        "Security" => "windows.security".to_owned(),
        _ => {
            let mut out = String::with_capacity(8 + channel.len());
            out.push_str("windows.");
            out.extend(channel.chars().map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            }));
            out
        }
    }
}

/// `TimeCreated`'s time, cut to the microsecond (see the module docs).
fn parse_time(s: &str) -> Option<Timestamp> {
    let t = crate::time::parse(s)?;
    let micros = t.timestamp_subsec_micros();
    chrono::DateTime::from_timestamp(t.timestamp(), micros * 1000)
}

/// An attribute of a System element (`<Execution ProcessID="4"/>` is
/// `{"Execution":{"#attributes":{"ProcessID":4}}}`), removed from it.
fn attribute(system: &mut Map<String, Value>, element: &str, name: &str) -> Option<FieldValue> {
    let v = system
        .get_mut(element)?
        .get_mut("#attributes")?
        .get_mut(name)?
        .take();
    system_value(v)
}

/// A System value: `null` and empty text are absent.
fn system_value(v: Value) -> Option<FieldValue> {
    match native(text_of(v)) {
        FieldValue::Str(s) if s.is_empty() => None,
        v => Some(v),
    }
}

/// EventData's fields: named `<Data>` are keys already; the unnamed ones are
/// collected under `Data` (`{"Data":{"#text":[…]}}`, or a lone value).
fn event_data_into(out: &mut Fields, data: Map<String, Value>) {
    for (name, v) in data {
        match name.as_str() {
            "#attributes" => {}
            "Data" => {
                let items = match v {
                    Value::Object(mut o) => match o.remove("#text") {
                        Some(Value::Array(items)) => items,
                        Some(one) => vec![one],
                        None => Vec::new(),
                    },
                    Value::Array(items) => items,
                    one => vec![one],
                };
                let list = items.into_iter().map(|i| native(text_of(i))).collect();
                out.insert(name.into(), FieldValue::List(list));
            }
            _ => native_into(out, name, v),
        }
    }
}

/// One native field. An element with text and attributes is its text, its
/// attributes go to `name.attribute`; nested elements (in UserData) go to
/// `name.child`; a repeated element is a list.
fn native_into(out: &mut Fields, name: String, v: Value) {
    match v {
        Value::Object(mut o) => {
            if let Some(Value::Object(attributes)) = o.remove("#attributes") {
                for (attr, av) in attributes {
                    if attr != "xmlns" {
                        out.insert(format!("{name}.{attr}").into(), native(text_of(av)));
                    }
                }
            }
            if let Some(text) = o.remove("#text") {
                out.insert(name.as_str().into(), native(text_of(text)));
            }
            for (child, cv) in o {
                native_into(out, format!("{name}.{child}"), cv);
            }
        }
        Value::Array(items) => {
            let list = items.into_iter().map(|i| native(text_of(i))).collect();
            out.insert(name.into(), FieldValue::List(list));
        }
        scalar => {
            out.insert(name.into(), native(scalar));
        }
    }
}

/// The text of an element: itself when a scalar, its `#text` when an object
/// with attributes; other containers as their JSON text.
fn text_of(v: Value) -> Value {
    match v {
        Value::Object(mut o) => match o.remove("#text") {
            Some(Value::Array(items)) => Value::String(
                items
                    .into_iter()
                    .map(|i| native(text_of(i)).to_string())
                    .collect::<Vec<_>>()
                    .join(""),
            ),
            Some(text) => text,
            None if o.keys().all(|k| k == "#attributes") => Value::Null,
            None => Value::String(Value::Object(o).to_string()),
        },
        Value::Array(items) => Value::String(Value::Array(items).to_string()),
        scalar => scalar,
    }
}

/// A scalar as a field value, made the same whichever shape it came from;
/// see the module documentation. `null` is empty text.
pub(crate) fn native(v: Value) -> FieldValue {
    match v {
        Value::Null => FieldValue::from(String::new()),
        Value::Bool(b) => FieldValue::from(b.to_string()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::Int(i),
            None => FieldValue::from(n.to_string()),
        },
        Value::String(s) => native_text(s),
        container => FieldValue::from(container.to_string()),
    }
}

/// Text as a field value: trimmed; an integer when canonical decimal; a
/// GUID as `{lowercase}`.
pub(crate) fn native_text(s: String) -> FieldValue {
    let t = s.trim();
    if let Some(i) = canonical_int(t) {
        return FieldValue::Int(i);
    }
    if let Some(guid) = canonical_guid(t) {
        return FieldValue::from(guid);
    }
    if t.len() == s.len() {
        FieldValue::from(s)
    } else {
        FieldValue::from(t.to_owned())
    }
}

/// The integer `s` spells, when printing it gives `s` back: digits with an
/// optional `-`, no leading zero, no `-0`, within `i64`.
fn canonical_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty()
        || digits.len() > 19
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || s == "-0"
    {
        return None;
    }
    s.parse().ok()
}

/// `s` as `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` in lowercase, when it is a
/// GUID with or without braces.
fn canonical_guid(s: &str) -> Option<String> {
    let inner = match s.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None => s,
    };
    let b = inner.as_bytes();
    let shape_ok = b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    shape_ok.then(|| format!("{{{}}}", inner.to_ascii_lowercase()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
