//! The normalized event: what every decoder produces and every rule reads.
//!
//! Field names follow the Elastic Common Schema (`source.ip`, `user.name`,
//! `event.category`, …) and are stored flat, keyed by their dotted name, so a
//! rule addresses a field the way an analyst writes it. Native fields a
//! decoder keeps beside ECS (for example Suricata's `alert.signature_id`) use
//! the same dotted form.

use std::fmt;

use compact_str::CompactString;

use serde::{Deserialize, Serialize};

use crate::{EventId, Fields, Timestamp};

/// A field value: a scalar, or a list of scalars for the fields that are
/// lists in their source (Zeek's `vector[string]`, DNS answers, EVE's
/// `rcpt_to`). Nested lists are not produced by any decoder.
///
/// Strings are [`CompactString`]s: up to 24 bytes (an address, a port as
/// text, a user or host name, most domains) live inline without a heap
/// allocation, which is most of what decoders produce (BENCHMARKS.md).
/// Build one with `.into()` from `&str`/`String`; read it with
/// [`FieldValue::as_str`] or a `FieldValue::Str(s)` pattern (`s` derefs to
/// `&str`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(CompactString),
    List(Vec<FieldValue>),
}

impl FieldValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            FieldValue::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Bool(b) => b.fmt(f),
            FieldValue::Int(i) => i.fmt(f),
            FieldValue::Float(x) => x.fmt(f),
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    item.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Str(s.into())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Str(s.into())
    }
}

impl From<&String> for FieldValue {
    fn from(s: &String) -> Self {
        FieldValue::Str(s.as_str().into())
    }
}

impl From<CompactString> for FieldValue {
    fn from(s: CompactString) -> Self {
        FieldValue::Str(s)
    }
}

impl From<i64> for FieldValue {
    fn from(i: i64) -> Self {
        FieldValue::Int(i)
    }
}

impl From<u16> for FieldValue {
    fn from(i: u16) -> Self {
        FieldValue::Int(i.into())
    }
}

impl From<f64> for FieldValue {
    fn from(x: f64) -> Self {
        FieldValue::Float(x)
    }
}

impl From<Vec<FieldValue>> for FieldValue {
    fn from(items: Vec<FieldValue>) -> Self {
        FieldValue::List(items)
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}

/// Where an event came from: the source's name and the byte offset of the
/// record in it. Offsets make replays and exactly-once checks possible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePos {
    pub source: CompactString,
    pub offset: u64,
}

crate::string_enum::string_enum! {
    /// What kind of thing an observable names.
    #[derive(PartialOrd, Ord)]
    ObservableKind("observable kind") {
        Ip = "ip",
        Domain = "domain",
        Url = "url",
        Md5 = "md5",
        Sha1 = "sha1",
        Sha256 = "sha256",
        User = "user",
        Host = "host",
        Process = "process",
        Email = "email",
    }
}

/// A thing worth looking up or acting on, pulled out of an event: an address,
/// a user, a hash. `field` says which ECS field it came from (`source.ip`), so
/// that "the attacker" and "the victim" stay distinguishable.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Observable {
    pub kind: ObservableKind,
    pub value: CompactString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<CompactString>,
}

impl Observable {
    pub fn new(kind: ObservableKind, value: impl Into<CompactString>, field: Option<&str>) -> Self {
        Self {
            kind,
            value: value.into(),
            field: field.map(CompactString::from),
        }
    }
}

/// One normalized event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    /// ECS `@timestamp`: when the event happened, per its source.
    #[serde(rename = "@timestamp")]
    pub timestamp: Timestamp,
    /// ECS `event.dataset`, e.g. `suricata.alert` or `sshd`: the first thing
    /// rules and playbooks filter on. Inline up to 24 bytes, so no
    /// allocation for any in-tree dataset name.
    pub dataset: CompactString,
    #[serde(default)]
    pub fields: Fields,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observables: Vec<Observable>,
    /// ECS `event.original`, when the source kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<SourcePos>,
}

impl Event {
    pub fn new(timestamp: Timestamp, dataset: impl Into<CompactString>) -> Self {
        Self {
            id: EventId::new(),
            timestamp,
            dataset: dataset.into(),
            fields: Fields::new(),
            observables: Vec::new(),
            original: None,
            origin: None,
        }
    }

    /// Sets a field; `None` values are skipped so decoders can pass options.
    pub fn set(&mut self, name: &str, value: impl Into<FieldValue>) {
        self.fields.insert(name.into(), value.into());
    }

    /// [`Event::set`] for a name known at compile time: a name longer than
    /// the 24 bytes a [`CompactString`] holds inline
    /// (`observer.ingress.interface.name`) is kept as a `&'static str`
    /// instead of being copied to the heap for every event.
    pub fn set_static(&mut self, name: &'static str, value: impl Into<FieldValue>) {
        self.fields
            .insert(CompactString::const_new(name), value.into());
    }

    /// Reads a field by its dotted name. `event.dataset` and `@timestamp`
    /// are answered from the struct so rules can treat them like any field.
    pub fn get(&self, name: &str) -> Option<FieldValue> {
        match name {
            "event.dataset" => Some(FieldValue::Str(self.dataset.clone())),
            "@timestamp" => Some(self.timestamp.to_rfc3339().into()),
            _ => self.fields.get(name).cloned(),
        }
    }

    /// Borrowing variant of [`Event::get`] for string fields on hot paths.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match name {
            "event.dataset" => Some(&self.dataset),
            _ => self.fields.get(name).and_then(FieldValue::as_str),
        }
    }

    /// The event as nested JSON (`{"source": {"ip": …}}`), the shape
    /// templates address with `event.source.ip`. A name that is both a value
    /// and a prefix (`a` and `a.b`) keeps the value; the deeper one is
    /// reachable only by its flat name in `fields`.
    pub fn to_nested_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        let mut root = Map::new();
        root.insert(
            "@timestamp".into(),
            Value::String(self.timestamp.to_rfc3339()),
        );
        let dataset = ("event.dataset", FieldValue::Str(self.dataset.clone()));
        for (name, value) in self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .chain(std::iter::once(dataset))
        {
            let mut node = &mut root;
            let mut parts = name.split('.').peekable();
            while let Some(part) = parts.next() {
                if parts.peek().is_none() {
                    node.entry(part.to_owned())
                        .or_insert_with(|| serde_json::to_value(&value).unwrap_or(Value::Null));
                    break;
                }
                let child = node
                    .entry(part.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                match child {
                    Value::Object(map) => node = map,
                    _ => break,
                }
            }
        }
        Value::Object(root)
    }

    pub fn add_observable(
        &mut self,
        kind: ObservableKind,
        value: impl Into<CompactString>,
        field: &str,
    ) {
        let obs = Observable::new(kind, value, Some(field));
        if !self.observables.contains(&obs) {
            self.observables.push(obs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn event_roundtrips_through_json_with_ecs_names() {
        let mut e = Event::new(
            Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap(),
            "sshd",
        );
        e.set("source.ip", "203.0.113.7");
        e.set("source.port", 52211i64);
        e.add_observable(ObservableKind::Ip, "203.0.113.7", "source.ip");
        e.add_observable(ObservableKind::Ip, "203.0.113.7", "source.ip");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["@timestamp"], "2026-03-14T09:26:53Z");
        assert_eq!(json["fields"]["source.ip"], "203.0.113.7");
        assert_eq!(json["fields"]["source.port"], 52211);
        assert_eq!(e.observables.len(), 1);
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.get_str("event.dataset"), Some("sshd"));
        let nested = e.to_nested_json();
        assert_eq!(nested["source"]["ip"], "203.0.113.7");
        assert_eq!(nested["source"]["port"], 52211);
        assert_eq!(nested["event"]["dataset"], "sshd");
    }
}
