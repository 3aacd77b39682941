//! Suricata EVE JSON decoder
//! (<https://docs.suricata.io/en/latest/output/eve/eve-json-format.html>).
//!
//! Each line is one JSON object. The common section (timestamp, 5-tuple,
//! flow id, sensor) is normalized to ECS for every event type; `alert`
//! records also get the rule and severity, and the per-type objects (`http`,
//! `dns`, `tls`, `flow`, `fileinfo`, `anomaly`, `ssh`, `smtp`, `email`) are
//! mapped wherever they appear (see [`app`]). The record is deserialized
//! into a borrowing struct that names only the fields used, so strings
//! without escapes are not copied and the rest of the record is skipped, not
//! built. Field values are read as [`Scalar`]s so that a value of the wrong
//! type gives an error naming the field, rather than serde's anonymous one.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

use riposte_model::{CompactString, Event, ToCompactString};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{DecodeError, clip};
use crate::{DecodeCtx, RecordDecoder};

mod app;

/// Event types Suricata 6–8 write to EVE. Any other type is refused (see
/// [`DecodeError::UnsupportedEventType`]); `stats` is known but ignored.
const KNOWN_EVENT_TYPES: &[&str] = &[
    "alert",
    "anomaly",
    "arp",
    "bittorrent_dht",
    "dcerpc",
    "dhcp",
    "dnp3",
    "dns",
    "doh2",
    "drop",
    "enip",
    "fileinfo",
    "flow",
    "frame",
    "ftp",
    "ftp_data",
    "http",
    "http2",
    "ike",
    "ikev2",
    "krb5",
    "ldap",
    "llmnr",
    "mdns",
    "modbus",
    "mqtt",
    "netflow",
    "nfs",
    "pgsql",
    "pop3",
    "quic",
    "rdp",
    "rfb",
    "sip",
    "smb",
    "smtp",
    "snmp",
    "ssh",
    "stats",
    "tftp",
    "tls",
    "websocket",
];

/// The fields of an EVE record Riposte reads; everything else is skipped.
#[derive(Deserialize)]
#[serde(expecting = "a Suricata EVE JSON object")]
struct Record<'a> {
    #[serde(borrow)]
    timestamp: Option<Scalar<'a>>,
    #[serde(borrow)]
    event_type: Option<Scalar<'a>>,
    #[serde(borrow)]
    src_ip: Option<Scalar<'a>>,
    #[serde(borrow)]
    src_port: Option<Scalar<'a>>,
    #[serde(borrow)]
    dest_ip: Option<Scalar<'a>>,
    #[serde(borrow)]
    dest_port: Option<Scalar<'a>>,
    #[serde(borrow)]
    proto: Option<Scalar<'a>>,
    #[serde(borrow)]
    flow_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    in_iface: Option<Scalar<'a>>,
    #[serde(borrow)]
    app_proto: Option<Scalar<'a>>,
    #[serde(borrow)]
    host: Option<Scalar<'a>>,
    #[serde(borrow)]
    community_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    alert: Option<Alert<'a>>,
    #[serde(borrow)]
    http: Option<app::Http<'a>>,
    #[serde(borrow)]
    dns: Option<app::Dns<'a>>,
    #[serde(borrow)]
    tls: Option<app::Tls<'a>>,
    #[serde(borrow)]
    flow: Option<app::Flow<'a>>,
    #[serde(borrow)]
    fileinfo: Option<app::FileInfo<'a>>,
    #[serde(borrow)]
    anomaly: Option<app::Anomaly<'a>>,
    #[serde(borrow)]
    ssh: Option<app::Ssh<'a>>,
    #[serde(borrow)]
    smtp: Option<app::Smtp<'a>>,
    #[serde(borrow)]
    email: Option<app::Email<'a>>,
}

/// The `alert` object of an `alert` record.
#[derive(Deserialize)]
#[serde(expecting = "an EVE alert object")]
struct Alert<'a> {
    #[serde(borrow)]
    action: Option<Scalar<'a>>,
    #[serde(borrow)]
    gid: Option<Scalar<'a>>,
    #[serde(borrow)]
    signature_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    rev: Option<Scalar<'a>>,
    #[serde(borrow)]
    signature: Option<Scalar<'a>>,
    #[serde(borrow)]
    category: Option<Scalar<'a>>,
    #[serde(borrow)]
    severity: Option<Scalar<'a>>,
}

/// The `suricata-eve` format's decoder; stateless.
#[derive(Debug)]
pub(crate) struct EveDecoder;

impl RecordDecoder for EveDecoder {
    fn decode(&mut self, text: &str, _ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        decode(text)
    }
}

/// Decodes one EVE record; `Ok(None)` for records that are not events
/// (`stats`).
pub(crate) fn decode(text: &str) -> Result<Option<Event>, DecodeError> {
    if text.trim_start().starts_with('[') {
        return Err(DecodeError::ArrayNotObject);
    }
    let rec: Record<'_> = serde_json::from_str(text).map_err(DecodeError::from_json)?;

    let event_type = rec
        .event_type
        .as_ref()
        .ok_or(DecodeError::MissingField("event_type"))?
        .str("event_type")?;
    if event_type == "stats" {
        return Ok(None);
    }
    if !KNOWN_EVENT_TYPES.contains(&event_type) {
        return Err(DecodeError::UnsupportedEventType(clip(event_type)));
    }
    let raw_ts = rec
        .timestamp
        .as_ref()
        .ok_or(DecodeError::MissingField("timestamp"))?
        .str("timestamp")?;
    let timestamp = crate::time::parse(raw_ts).ok_or_else(|| DecodeError::InvalidTimestamp {
        value: clip(raw_ts),
        expected: crate::time::EXPECTED,
    })?;

    // Built in place: "suricata." plus any event type up to 15 bytes stays
    // inline, with no heap allocation.
    let mut dataset = CompactString::const_new("suricata.");
    dataset.push_str(event_type);
    let mut ev = Event::new(timestamp, dataset);
    // Room for every field of the usual records (an alert has 22, DNS and
    // HTTP up to ~30), so the field vector is allocated once.
    ev.fields.reserve(32);
    ev.set("event.module", "suricata");
    if event_type == "alert" {
        ev.set("event.kind", "alert");
    } else {
        // Everything else Suricata writes describes traffic it saw.
        ev.set("event.kind", "event");
        ev.set("event.category", "network");
    }

    if let Some(v) = &rec.src_ip {
        ev.set("source.ip", v.ip("src_ip")?);
    }
    if let Some(v) = &rec.dest_ip {
        ev.set("destination.ip", v.ip("dest_ip")?);
    }
    if let Some(v) = &rec.src_port {
        ev.set("source.port", v.port("src_port")?);
    }
    if let Some(v) = &rec.dest_port {
        ev.set("destination.port", v.port("dest_port")?);
    }
    if let Some(v) = &rec.proto {
        // Suricata writes "TCP", "UDP", "IPv6-ICMP", or a number for
        // protocols it has no name for; ECS wants lowercase names.
        let proto = match v {
            Scalar::U64(n) => n.to_compact_string(),
            other => other.str("proto")?.to_ascii_lowercase().into(),
        };
        ev.set("network.transport", proto);
    }
    if let Some(v) = &rec.flow_id {
        let id = v.u64("flow_id", "an unsigned integer")?;
        // Suricata keeps flow ids below 2^63 in practice; a larger one is
        // kept exactly as text rather than wrapped.
        match i64::try_from(id) {
            Ok(id) => ev.set("suricata.eve.flow_id", id),
            Err(_) => ev.set("suricata.eve.flow_id", id.to_compact_string()),
        }
    }
    if let Some(v) = &rec.in_iface {
        ev.set_static("observer.ingress.interface.name", v.str("in_iface")?);
    }
    if let Some(v) = &rec.app_proto {
        ev.set("network.protocol", v.str("app_proto")?.to_ascii_lowercase());
    }
    if let Some(v) = &rec.host {
        ev.set("observer.hostname", v.str("host")?);
    }
    if let Some(v) = &rec.community_id {
        ev.set("network.community_id", v.str("community_id")?);
    }

    if event_type == "alert" {
        let alert = rec
            .alert
            .as_ref()
            .ok_or(DecodeError::MissingField("alert"))?;
        decode_alert(&mut ev, alert)?;
    }
    if let Some(o) = &rec.flow {
        app::apply_flow(&mut ev, o)?;
    }
    if let Some(o) = &rec.http {
        app::apply_http(&mut ev, o)?;
    }
    if let Some(o) = &rec.dns {
        app::apply_dns(&mut ev, o)?;
    }
    if let Some(o) = &rec.tls {
        app::apply_tls(&mut ev, o)?;
    }
    if let Some(o) = &rec.fileinfo {
        app::apply_fileinfo(&mut ev, o)?;
    }
    if let Some(o) = &rec.anomaly {
        app::apply_anomaly(&mut ev, o)?;
    }
    if let Some(o) = &rec.ssh {
        app::apply_ssh(&mut ev, o)?;
    }
    if let Some(o) = &rec.smtp {
        app::apply_smtp(&mut ev, o)?;
    }
    if let Some(o) = &rec.email {
        app::apply_email(&mut ev, o)?;
    }
    crate::observe::add_ecs_observables(&mut ev);
    Ok(Some(ev))
}

fn decode_alert(ev: &mut Event, alert: &Alert<'_>) -> Result<(), DecodeError> {
    ev.set("event.category", "intrusion_detection");
    if let Some(v) = &alert.signature_id {
        let sid = v.i64("alert.signature_id")?;
        ev.set("rule.id", sid.to_compact_string());
        ev.set_static("suricata.eve.alert.signature_id", sid);
    }
    if let Some(v) = &alert.signature {
        ev.set("rule.name", v.str("alert.signature")?);
    }
    if let Some(v) = &alert.category {
        ev.set("rule.category", v.str("alert.category")?);
    }
    if let Some(v) = &alert.gid {
        ev.set("suricata.eve.alert.gid", v.i64("alert.gid")?);
    }
    if let Some(v) = &alert.rev {
        ev.set("suricata.eve.alert.rev", v.i64("alert.rev")?);
    }
    if let Some(v) = &alert.severity {
        let severity = v.i64("alert.severity")?;
        ev.set_static("suricata.eve.alert.severity", severity);
        ev.set("event.severity", severity);
    }
    if let Some(v) = &alert.action {
        ev.set("event.action", v.str("alert.action")?);
    }
    Ok(())
}

/// Any JSON value, kept only as far as the decoder needs: scalars by value
/// (strings borrowed when unescaped), arrays and objects skipped.
#[derive(Debug, PartialEq)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Scalar<'_> {
    fn wrong(&self, field: &'static str, expected: &'static str) -> DecodeError {
        DecodeError::WrongType {
            field,
            expected,
            found: self.describe(),
        }
    }

    /// The value as error messages show it: `integer 5`, `string "x"`.
    fn describe(&self) -> String {
        match self {
            Scalar::Null => "null".to_owned(),
            Scalar::Bool(b) => format!("boolean {b}"),
            Scalar::U64(n) => format!("integer {n}"),
            Scalar::I64(n) => format!("integer {n}"),
            Scalar::F64(x) => format!("number {x}"),
            Scalar::Str(s) => format!("string {:?}", clip(s)),
            Scalar::Array => "an array".to_owned(),
            Scalar::Object => "an object".to_owned(),
        }
    }

    fn str(&self, field: &'static str) -> Result<&str, DecodeError> {
        match self {
            Scalar::Str(s) => Ok(s),
            other => Err(other.wrong(field, "a string")),
        }
    }

    fn u64(&self, field: &'static str, expected: &'static str) -> Result<u64, DecodeError> {
        match self {
            Scalar::U64(n) => Ok(*n),
            other => Err(other.wrong(field, expected)),
        }
    }

    fn i64(&self, field: &'static str) -> Result<i64, DecodeError> {
        match self {
            Scalar::I64(n) => Ok(*n),
            Scalar::U64(n) => i64::try_from(*n).map_err(|_| self.wrong(field, "an integer")),
            other => Err(other.wrong(field, "an integer")),
        }
    }

    fn port(&self, field: &'static str) -> Result<i64, DecodeError> {
        const EXPECTED: &str = "a port number 0-65535";
        let n = self.u64(field, EXPECTED)?;
        u16::try_from(n)
            .map(i64::from)
            .map_err(|_| self.wrong(field, EXPECTED))
    }

    /// The address in canonical text form (IPv4-mapped IPv6 as IPv4), so that
    /// the same host always yields the same observable and decision value.
    fn ip(&self, field: &'static str) -> Result<CompactString, DecodeError> {
        let s = self.str(field)?;
        s.parse::<IpAddr>()
            .map(|ip| match ip {
                // Rust's IPv4 parser accepts only the canonical dotted quad
                // (no leading zeros), so the text is kept as it is.
                IpAddr::V4(_) => CompactString::from(s),
                v6 => v6.to_canonical().to_compact_string(),
            })
            .map_err(|_| DecodeError::InvalidIp {
                field,
                value: clip(s),
            })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::I64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::U64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::F64(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Scalar::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use riposte_model::{FieldValue, Observable, ObservableKind};

    use super::*;

    fn decode_ok(text: &str) -> Event {
        decode(text).unwrap().unwrap()
    }

    fn err(text: &str) -> String {
        decode(text).unwrap_err().to_string()
    }

    fn s(v: &str) -> FieldValue {
        FieldValue::from(v)
    }

    const ALERT: &str = r#"{"timestamp":"2026-03-14T09:26:53.123456+0000","flow_id":1234567890123456,"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.7","src_port":52211,"dest_ip":"198.51.100.10","dest_port":22,"proto":"TCP","pkt_src":"wire/pcap","host":"sensor-1","metadata":{"flowbits":["a","b"]},"alert":{"action":"allowed","gid":1,"signature_id":2001219,"rev":20,"signature":"ET SCAN Potential SSH Scan","category":"Attempted Information Leak","severity":2,"metadata":{"created_at":["2010_07_30"]}},"app_proto":"ssh","direction":"to_server","flow":{"pkts_toserver":1,"start":"2026-03-14T09:26:53.000000+0000"}}"#;

    #[test]
    fn alert_maps_common_and_alert_fields_to_ecs() {
        let ev = decode_ok(ALERT);
        assert_eq!(ev.dataset, "suricata.alert");
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap()
                + chrono::TimeDelta::microseconds(123_456)
        );
        let want: Vec<(&str, FieldValue)> = vec![
            ("destination.ip", s("198.51.100.10")),
            ("destination.port", FieldValue::Int(22)),
            ("event.action", s("allowed")),
            ("event.category", s("intrusion_detection")),
            ("event.kind", s("alert")),
            ("event.module", s("suricata")),
            ("event.severity", FieldValue::Int(2)),
            ("event.start", s("2026-03-14T09:26:53Z")),
            ("network.protocol", s("ssh")),
            ("network.transport", s("tcp")),
            ("observer.hostname", s("sensor-1")),
            ("observer.ingress.interface.name", s("eth0")),
            ("rule.category", s("Attempted Information Leak")),
            ("rule.id", s("2001219")),
            ("rule.name", s("ET SCAN Potential SSH Scan")),
            ("source.ip", s("203.0.113.7")),
            ("source.packets", FieldValue::Int(1)),
            ("source.port", FieldValue::Int(52211)),
            ("suricata.eve.alert.gid", FieldValue::Int(1)),
            ("suricata.eve.alert.rev", FieldValue::Int(20)),
            ("suricata.eve.alert.severity", FieldValue::Int(2)),
            ("suricata.eve.alert.signature_id", FieldValue::Int(2001219)),
            ("suricata.eve.flow_id", FieldValue::Int(1234567890123456)),
        ];
        let got: Vec<(&str, FieldValue)> = ev
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            ev.observables,
            vec![
                Observable::new(ObservableKind::Ip, "203.0.113.7", Some("source.ip")),
                Observable::new(ObservableKind::Ip, "198.51.100.10", Some("destination.ip")),
            ]
        );
    }

    #[test]
    fn blocked_action_and_escaped_strings() {
        let ev = decode_ok(
            r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"alert","src_ip":"2001:db8::1","alert":{"action":"blocked","signature":"quote \" and \u00e9","signature_id":1}}"#,
        );
        assert_eq!(ev.get_str("event.action"), Some("blocked"));
        assert_eq!(ev.get_str("rule.name"), Some("quote \" and é"));
        assert_eq!(ev.get_str("source.ip"), Some("2001:db8::1"));
    }

    #[test]
    fn other_event_types_get_common_fields_and_the_network_category() {
        let ev = decode_ok(
            r#"{"timestamp":"2026-03-14T09:26:54.000001+0100","flow_id":42,"event_type":"flow","src_ip":"10.0.0.1","src_port":5353,"dest_ip":"::ffff:10.0.0.2","dest_port":53,"proto":"UDP","app_proto":"dns","flow":{"pkts_toserver":2}}"#,
        );
        assert_eq!(ev.dataset, "suricata.flow");
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2026, 3, 14, 8, 26, 54).unwrap()
                + chrono::TimeDelta::microseconds(1)
        );
        assert_eq!(ev.get_str("event.kind"), Some("event"));
        assert_eq!(ev.get_str("event.category"), Some("network"));
        assert_eq!(ev.get("rule.id"), None);
        assert_eq!(ev.get_str("network.transport"), Some("udp"));
        assert_eq!(ev.get_str("network.protocol"), Some("dns"));
        assert_eq!(ev.get_str("destination.ip"), Some("10.0.0.2"));
        assert_eq!(ev.get("suricata.eve.flow_id"), Some(FieldValue::Int(42)));
        assert_eq!(ev.get("source.packets"), Some(FieldValue::Int(2)));
        assert_eq!(ev.fields.len(), 11);
    }

    #[test]
    fn stats_is_not_an_event() {
        assert!(
            decode(r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"stats","stats":{}}"#)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn errors_name_the_field_and_quote_the_value() {
        let cases = [
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z"}"#,
                "missing field \"event_type\"",
            ),
            (r#"{"event_type":"dns"}"#, "missing field \"timestamp\""),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":7}"#,
                "field \"event_type\" must be a string, found integer 7",
            ),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"foo"}"#,
                "unsupported suricata event_type \"foo\"",
            ),
            (
                r#"{"timestamp":"yesterday","event_type":"dns"}"#,
                "invalid timestamp \"yesterday\" (expected YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM])",
            ),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"dns","src_ip":"999.1.1.1"}"#,
                "field \"src_ip\" is not an IP address: \"999.1.1.1\"",
            ),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"dns","dest_port":70000}"#,
                "field \"dest_port\" must be a port number 0-65535, found integer 70000",
            ),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"dns","src_port":"80"}"#,
                "field \"src_port\" must be a port number 0-65535, found string \"80\"",
            ),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"alert"}"#,
                "missing field \"alert\"",
            ),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z","event_type":"alert","alert":"x"}"#,
                "not an EVE record: invalid type: string \"x\", expected an EVE alert object at line 1 column 68",
            ),
            (
                "[1,2]",
                "not an EVE record: expected a JSON object, found an array",
            ),
            (
                r#""alert""#,
                "not an EVE record: invalid type: string \"alert\", expected a Suricata EVE JSON object at line 1 column 7",
            ),
            (
                "not json",
                "invalid JSON: expected ident at line 1 column 2",
            ),
            (
                r#"{"timestamp":"2026-03-14T09:26:53Z"} x"#,
                "invalid JSON: trailing characters at line 1 column 38",
            ),
            (
                r#"{"timestamp":"2026"#,
                "truncated JSON: EOF while parsing a string at line 1 column 18",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(err(input), want, "{input}");
        }
    }

    #[test]
    fn a_long_string_of_the_wrong_type_is_quoted_cut_short() {
        // Found by fuzzing: serde quoted the whole string, so a 1 MiB line
        // gave a 1 MiB reason.
        let text = format!(
            r#"{{"timestamp":"2026-03-14T09:26:53Z","event_type":"alert","alert":"{}"}}"#,
            "A".repeat(5000)
        );
        assert_eq!(
            err(&text),
            format!(
                "not an EVE record: invalid type: string \"{}…{}\", \
                 expected an EVE alert object at line 1 column 5067",
                "A".repeat(42),
                "A".repeat(43)
            )
        );
    }

    #[test]
    fn every_known_type_but_stats_decodes() {
        for t in KNOWN_EVENT_TYPES
            .iter()
            .filter(|t| **t != "stats" && **t != "alert")
        {
            let ev = decode_ok(&format!(
                r#"{{"timestamp":"2026-03-14T09:26:53Z","event_type":"{t}"}}"#
            ));
            assert_eq!(ev.dataset, format!("suricata.{t}"));
        }
    }
}
