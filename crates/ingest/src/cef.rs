//! ArcSight Common Event Format:
//! `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`,
//! usually behind a syslog header, which is read with the syslog decoder's
//! parser.
//!
//! Escaping follows the CEF specification (rev. 25): in the header `\|` and
//! `\\`; in the extension `\=`, `\\`, `\n` and `\r`. Any other backslash is
//! kept as written. An extension value runs to the next ` key=`, so values
//! may hold spaces.
//!
//! A consequence of the format, not of this parser: since spaces need no
//! escaping but `=` must be escaped in values, an unescaped ` key=` inside a
//! value *is* the start of a new key. A sender that does not escape `=` lets
//! whoever controls a value (a URL, a user agent) add keys. This decoder
//! therefore trusts no key that appears twice: all its values are kept in
//! `cef.extensions.<key>` (as a list) and named in `cef.duplicate_keys`, and
//! it is not mapped to ECS, so an injected `src=` can never become the
//! `source.ip` that a playbook blocks.
//!
//! Every extension is kept under `cef.extensions.<key>`; the standard keys
//! are also mapped to ECS, and custom fields with a label (`cs1` +
//! `cs1Label`, `cn1` + `cn1Label`, …) are also kept under
//! `cef.extensions.<label>` (anything but letters, digits, `_` and `-` in the
//! label becomes `_`; a label never replaces a real key). The event time is `rt` when it is readable,
//! else the syslog header's, else the time of reading.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{NaiveDateTime, SecondsFormat, TimeDelta};
use riposte_model::{Event, FieldValue, Timestamp};

use crate::error::{DecodeError, clip};
use crate::{DecodeCtx, RecordDecoder};

const FORMAT: &str = "cef";

/// The `cef` format's decoder; stateless.
#[derive(Debug)]
pub(crate) struct CefDecoder;

impl RecordDecoder for CefDecoder {
    fn decode(&mut self, text: &str, ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        decode(text, ctx.now).map(Some)
    }
}

fn malformed(reason: String) -> DecodeError {
    DecodeError::Malformed {
        format: FORMAT,
        reason,
    }
}

/// How a standard extension key maps to ECS.
#[derive(Clone, Copy)]
enum To {
    Str(&'static str),
    Lower(&'static str),
    Ip(&'static str),
    Port(&'static str),
    Int(&'static str),
    Time(&'static str),
}

/// Standard CEF keys (by their short names) and their ECS fields.
const ECS: &[(&str, To)] = &[
    ("src", To::Ip("source.ip")),
    ("dst", To::Ip("destination.ip")),
    ("dvc", To::Ip("observer.ip")),
    ("sourceTranslatedAddress", To::Ip("source.nat.ip")),
    ("destinationTranslatedAddress", To::Ip("destination.nat.ip")),
    ("spt", To::Port("source.port")),
    ("dpt", To::Port("destination.port")),
    ("sourceTranslatedPort", To::Port("source.nat.port")),
    (
        "destinationTranslatedPort",
        To::Port("destination.nat.port"),
    ),
    ("suser", To::Str("source.user.name")),
    ("duser", To::Str("destination.user.name")),
    ("shost", To::Str("source.domain")),
    ("dhost", To::Str("destination.domain")),
    ("smac", To::Str("source.mac")),
    ("dmac", To::Str("destination.mac")),
    ("dvchost", To::Str("observer.hostname")),
    ("request", To::Str("url.original")),
    ("requestMethod", To::Str("http.request.method")),
    ("requestClientApplication", To::Str("user_agent.original")),
    ("act", To::Str("event.action")),
    ("reason", To::Str("event.reason")),
    ("msg", To::Str("message")),
    ("fname", To::Str("file.name")),
    ("filePath", To::Str("file.path")),
    ("fsize", To::Int("file.size")),
    ("proto", To::Lower("network.transport")),
    ("app", To::Lower("network.protocol")),
    ("start", To::Time("event.start")),
    ("end", To::Time("event.end")),
];

/// Decodes one CEF record into an event with dataset `cef`.
pub(crate) fn decode(text: &str, now: Timestamp) -> Result<Event, DecodeError> {
    let first_pipe = text
        .find('|')
        .ok_or_else(|| malformed(format!("no CEF header in {:?}", clip(text))))?;
    let before = &text[..first_pipe];
    // `CEF:` is optional only for a line that starts with the version (a
    // syslog relay that took `CEF:` for the tag and dropped it).
    let (prefix, version) = match before.rfind("CEF:") {
        Some(at) => (&text[..at], before[at + 4..].trim()),
        None => ("", before.trim()),
    };
    if version.is_empty() || version.len() > 3 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!(
            "expected \"CEF:<version>|\", found {:?}",
            clip(before)
        )));
    }
    let syslog = parse_prefix(prefix.trim_end(), now)?;
    let (header, extension) = header_fields(&text[first_pipe + 1..])?;
    let [vendor, product, device_version, signature, name, severity] = header;
    let pairs = extension_pairs(extension)?;

    let mut ev = Event::new(now, "cef");
    ev.set("event.kind", "event");
    ev.set("event.module", "cef");
    if let Ok(v) = version.parse::<i64>() {
        ev.set("cef.version", v);
    }
    ev.set("observer.vendor", vendor.as_str());
    ev.set("observer.product", product.as_str());
    ev.set("observer.version", device_version.as_str());
    ev.set("rule.id", signature.as_str());
    ev.set("rule.name", name.as_str());
    if let Some(level) = severity_level(&severity) {
        ev.set("event.severity", level);
    }
    ev.set("cef.device.vendor", vendor);
    ev.set("cef.device.product", product);
    ev.set("cef.device.version", device_version);
    ev.set_static("cef.device.event_class_id", signature);
    ev.set("cef.name", name);
    ev.set("cef.severity", severity);

    let mut header_time = None;
    if let Some(line) = syslog {
        header_time = line.time;
        if let Some(pri) = line.pri {
            ev.set("log.syslog.priority", i64::from(pri));
            ev.set("log.syslog.facility.code", i64::from(pri / 8));
            ev.set("log.syslog.severity.code", i64::from(pri % 8));
        }
        if let Some(host) = line.host {
            ev.set("host.hostname", host);
        }
        if let Some(app) = line.app {
            ev.set("process.name", app);
        }
        if let Some(pid) = line.pid.and_then(|p| p.parse::<i64>().ok()) {
            ev.set("process.pid", pid);
        }
    }

    // Keys seen more than once are ambiguous (see the module docs).
    let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (key, value) in pairs {
        values.entry(key).or_default().push(value);
    }
    let mut unique: BTreeMap<&str, &str> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for (key, vals) in &values {
        match vals.as_slice() {
            [one] => {
                unique.insert(key, one);
            }
            _ => duplicates.push(FieldValue::from(*key)),
        }
    }
    if !duplicates.is_empty() {
        ev.set("cef.duplicate_keys", duplicates);
    }

    let timestamp = unique
        .get("rt")
        .and_then(|rt| parse_time(rt, now))
        .or(header_time)
        .unwrap_or(now);
    ev.timestamp = timestamp;

    for &(key, to) in ECS {
        if let Some(value) = unique.get(key) {
            map_value(&mut ev, value, to, now);
        }
    }
    if let Some(hash) = unique.get("fileHash") {
        let field = match hash.len() {
            32 => Some("file.hash.md5"),
            40 => Some("file.hash.sha1"),
            64 => Some("file.hash.sha256"),
            _ => None,
        };
        if let Some(field) = field {
            ev.set(field, *hash);
        }
    }
    if let Some(outcome) = unique.get("outcome") {
        let outcome = outcome.trim().to_ascii_lowercase();
        let outcome = match outcome.as_str() {
            "success" | "succeeded" | "/success" => Some("success"),
            "failure" | "failed" | "/failure" => Some("failure"),
            "unknown" => Some("unknown"),
            _ => None,
        };
        if let Some(outcome) = outcome {
            ev.set("event.outcome", outcome);
        }
    }
    let user = unique.get("duser").or_else(|| unique.get("suser"));
    if let Some(user) = user {
        ev.set("user.name", *user);
    }

    for (key, vals) in &values {
        let value = match vals.as_slice() {
            [one] => FieldValue::from(one.as_str()),
            many => FieldValue::List(many.iter().map(|v| v.as_str().into()).collect()),
        };
        ev.fields
            .insert(format!("cef.extensions.{key}").into(), value);
    }
    // Labelled custom fields (`cs1Label=Threat Name cs1=…`) also go under
    // their label; a label never replaces a real key.
    for (key, value) in &unique {
        let Some(label) = unique.get(format!("{key}Label").as_str()) else {
            continue;
        };
        let label = label_name(label);
        if !label.is_empty() {
            ev.fields
                .entry(format!("cef.extensions.{label}").into())
                .or_insert_with(|| FieldValue::from(*value));
        }
    }
    crate::observe::add_ecs_observables(&mut ev);
    Ok(ev)
}

/// What the syslog header before `CEF:` says.
struct Prefix<'a> {
    pri: Option<u8>,
    /// `None` for a bare `<PRI>`.
    time: Option<Timestamp>,
    host: Option<&'a str>,
    app: Option<&'a str>,
    pid: Option<&'a str>,
}

/// The syslog header before `CEF:`, if any: `<PRI>` alone, or a full RFC
/// 3164 / 5424 header.
fn parse_prefix(prefix: &str, now: Timestamp) -> Result<Option<Prefix<'_>>, DecodeError> {
    if prefix.is_empty() {
        return Ok(None);
    }
    let not_syslog = |e: DecodeError| {
        malformed(format!(
            "the text before \"CEF:\" is not a syslog header ({e})"
        ))
    };
    let (pri, rest) = crate::syslog::parse_pri(prefix).map_err(not_syslog)?;
    if rest.trim().is_empty() {
        return Ok(Some(Prefix {
            pri,
            time: None,
            host: None,
            app: None,
            pid: None,
        }));
    }
    let line = crate::syslog::parse(prefix, now).map_err(not_syslog)?;
    Ok(Some(Prefix {
        pri: line.pri,
        time: Some(line.timestamp),
        host: line.host,
        app: line.app,
        pid: line.pid,
    }))
}

/// The six header fields after the version and the extension after them.
/// The last header field may end the line without a `|`.
fn header_fields(s: &str) -> Result<([String; 6], &str), DecodeError> {
    let mut fields: Vec<String> = Vec::with_capacity(6);
    let mut current = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&(_, next @ ('|' | '\\'))) => {
                    current.push(next);
                    chars.next();
                }
                _ => current.push('\\'),
            },
            '|' => {
                fields.push(std::mem::take(&mut current));
                if fields.len() == 6 {
                    return Ok((into_array(fields)?, &s[i + 1..]));
                }
            }
            c => current.push(c),
        }
    }
    fields.push(current);
    if fields.len() == 6 {
        return Ok((into_array(fields)?, ""));
    }
    Err(malformed(format!(
        "the CEF header has {} of its 7 \"|\"-separated fields",
        fields.len() + 1
    )))
}

fn into_array(fields: Vec<String>) -> Result<[String; 6], DecodeError> {
    fields
        .try_into()
        .map_err(|_| malformed("the CEF header has more than 7 fields".to_owned()))
}

/// Keys are letters, digits, `_` and `.` (vendor keys such as `ad.user`).
fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// `key=value key=value …`, values unescaped. A value ends where a space
/// is followed by `key=`.
fn extension_pairs(s: &str) -> Result<Vec<(&str, String)>, DecodeError> {
    let b = s.as_bytes();
    let mut pairs = Vec::new();
    let mut i = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    while i < b.len() {
        let key_start = i;
        while i < b.len() && is_key_byte(b[i]) {
            i += 1;
        }
        if i == key_start || b.get(i) != Some(&b'=') {
            return Err(malformed(format!(
                "the extension must be key=value pairs, found {:?}",
                clip(&s[key_start..])
            )));
        }
        let key = &s[key_start..i];
        i += 1;
        let value_start = i;
        let (mut end, mut next) = (b.len(), b.len());
        let mut j = i;
        while j < b.len() {
            match b[j] {
                b'\\' => {
                    j += if matches!(b.get(j + 1), Some(b'\\' | b'=' | b'n' | b'r')) {
                        2
                    } else {
                        1
                    };
                }
                b' ' => {
                    let mut k = j;
                    while k < b.len() && b[k] == b' ' {
                        k += 1;
                    }
                    let candidate = k;
                    while k < b.len() && is_key_byte(b[k]) {
                        k += 1;
                    }
                    if k > candidate && b.get(k) == Some(&b'=') {
                        (end, next) = (j, candidate);
                        break;
                    }
                    j = candidate;
                }
                _ => j += 1,
            }
        }
        // `j` only stops on ASCII bytes or the end, so both are on char
        // boundaries.
        let raw = s.get(value_start..end.min(b.len())).unwrap_or("");
        pairs.push((key, unescape_extension(raw.trim_end_matches(' '))));
        i = next;
    }
    Ok(pairs)
}

fn unescape_extension(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('\\') => out.push('\\'),
            Some('=') => out.push('='),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// CEF severity: 0-10, or Unknown/Low/Medium/High/Very-High (taken as the
/// top of their ranges: 3, 6, 8, 10).
fn severity_level(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return (0..=10).contains(&n).then_some(n);
    }
    match s.to_ascii_lowercase().as_str() {
        "low" => Some(3),
        "medium" => Some(6),
        "high" => Some(8),
        "very-high" | "very high" | "veryhigh" => Some(10),
        _ => None,
    }
}

/// A label as a field name part: letters, digits, `_` and `-`; anything
/// else (spaces, dots) becomes `_`.
fn label_name(label: &str) -> String {
    label
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn map_value(ev: &mut Event, value: &str, to: To, now: Timestamp) {
    match to {
        To::Str(field) => {
            if !value.is_empty() {
                ev.set(field, value);
            }
        }
        To::Lower(field) => {
            if !value.is_empty() {
                ev.set(field, value.to_ascii_lowercase());
            }
        }
        To::Ip(field) => {
            if let Ok(ip) = value.trim().parse::<IpAddr>() {
                ev.set(field, ip.to_canonical().to_string());
            }
        }
        To::Port(field) => {
            if let Ok(port) = value.trim().parse::<u16>() {
                ev.set(field, port);
            }
        }
        To::Int(field) => {
            if let Ok(n) = value.trim().parse::<i64>() {
                ev.set(field, n);
            }
        }
        To::Time(field) => {
            if let Some(t) = parse_time(value, now) {
                ev.set(field, t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
            }
        }
    }
}

/// CEF times: epoch milliseconds, `MMM dd yyyy HH:mm:ss[.SSS][ zone]`,
/// `MMM dd HH:mm:ss[.SSS][ zone]` (year inferred as for syslog), or RFC
/// 3339. Zones: UTC, GMT, Z or a numeric offset; a named zone such as
/// `CET` cannot be resolved and makes the time unreadable.
fn parse_time(s: &str, now: Timestamp) -> Option<Timestamp> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n = s.parse::<i64>().ok()?;
        return crate::json::json_time(&FieldValue::Int(n));
    }
    if let Some(t) = crate::time::parse(s) {
        return Some(t);
    }
    let (main, offset) = match s.rsplit_once(' ') {
        Some((main, zone)) if zone.bytes().any(|b| b.is_ascii_alphabetic()) => match zone {
            "UTC" | "GMT" | "Z" => (main, 0),
            _ => return None,
        },
        Some((main, zone)) if zone.starts_with(['+', '-']) => (main, offset_secs(zone)?),
        _ => (s, 0),
    };
    let local = match NaiveDateTime::parse_from_str(main, "%b %d %Y %H:%M:%S%.f") {
        Ok(t) => t.and_utc(),
        Err(_) => match crate::syslog::parse_bsd_timestamp(main, now) {
            Ok((t, "")) => t,
            _ => return None,
        },
    };
    local.checked_sub_signed(TimeDelta::seconds(offset))
}

/// `+01:00`, `-0500` or `+01` as seconds east of UTC.
fn offset_secs(zone: &str) -> Option<i64> {
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone.get(1..)?.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (
            digits.get(..2)?.parse::<i64>().ok()?,
            digits.get(2..)?.parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use riposte_model::{Observable, ObservableKind};

    use super::*;

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap()
    }

    fn ok(text: &str) -> Event {
        decode(text, now()).unwrap()
    }

    fn err(text: &str) -> String {
        decode(text, now()).unwrap_err().to_string()
    }

    fn s(v: &str) -> FieldValue {
        FieldValue::from(v)
    }

    fn i(v: i64) -> FieldValue {
        FieldValue::Int(v)
    }

    fn fields(ev: &Event) -> Vec<(&str, FieldValue)> {
        ev.fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    }

    #[test]
    fn syslog_wrapped_record_maps_header_and_standard_keys() {
        let ev = ok(concat!(
            r"<134>Feb 14 19:04:54 fw01 CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|",
            r"src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=80 suser=alice duser=bob act=blocked outcome=Success ",
            r"proto=TCP app=HTTP request=http://evil.example/a b?c\=d requestMethod=GET ",
            r"msg=Detected a threat.\nNo action needed. cs1Label=Threat Name cs1=Eicar Test ",
            r"fileHash=44D88612FEA8A8F36DE82E1278ABB02F fname=eicar.com shost=ws1.corp.example dvchost=fw01.corp.example ",
            r"rt=Feb 14 2026 19:04:53.123 UTC"
        ));
        assert_eq!(ev.dataset, "cef");
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2026, 2, 14, 19, 4, 53).unwrap() + TimeDelta::milliseconds(123)
        );
        assert_eq!(
            fields(&ev),
            vec![
                ("cef.device.event_class_id", s("100")),
                ("cef.device.product", s("threatmanager")),
                ("cef.device.vendor", s("Security")),
                ("cef.device.version", s("1.0")),
                ("cef.extensions.Threat_Name", s("Eicar Test")),
                ("cef.extensions.act", s("blocked")),
                ("cef.extensions.app", s("HTTP")),
                ("cef.extensions.cs1", s("Eicar Test")),
                ("cef.extensions.cs1Label", s("Threat Name")),
                ("cef.extensions.dpt", s("80")),
                ("cef.extensions.dst", s("2.1.2.2")),
                ("cef.extensions.duser", s("bob")),
                ("cef.extensions.dvchost", s("fw01.corp.example")),
                (
                    "cef.extensions.fileHash",
                    s("44D88612FEA8A8F36DE82E1278ABB02F")
                ),
                ("cef.extensions.fname", s("eicar.com")),
                (
                    "cef.extensions.msg",
                    s("Detected a threat.\nNo action needed.")
                ),
                ("cef.extensions.outcome", s("Success")),
                ("cef.extensions.proto", s("TCP")),
                ("cef.extensions.request", s("http://evil.example/a b?c=d")),
                ("cef.extensions.requestMethod", s("GET")),
                ("cef.extensions.rt", s("Feb 14 2026 19:04:53.123 UTC")),
                ("cef.extensions.shost", s("ws1.corp.example")),
                ("cef.extensions.spt", s("1232")),
                ("cef.extensions.src", s("10.0.0.1")),
                ("cef.extensions.suser", s("alice")),
                ("cef.name", s("worm successfully stopped")),
                ("cef.severity", s("10")),
                ("cef.version", i(0)),
                ("destination.ip", s("2.1.2.2")),
                ("destination.port", i(80)),
                ("destination.user.name", s("bob")),
                ("event.action", s("blocked")),
                ("event.kind", s("event")),
                ("event.module", s("cef")),
                ("event.outcome", s("success")),
                ("event.severity", i(10)),
                ("file.hash.md5", s("44D88612FEA8A8F36DE82E1278ABB02F")),
                ("file.name", s("eicar.com")),
                ("host.hostname", s("fw01")),
                ("http.request.method", s("GET")),
                ("log.syslog.facility.code", i(16)),
                ("log.syslog.priority", i(134)),
                ("log.syslog.severity.code", i(6)),
                ("message", s("Detected a threat.\nNo action needed.")),
                ("network.protocol", s("http")),
                ("network.transport", s("tcp")),
                ("observer.hostname", s("fw01.corp.example")),
                ("observer.product", s("threatmanager")),
                ("observer.vendor", s("Security")),
                ("observer.version", s("1.0")),
                ("rule.id", s("100")),
                ("rule.name", s("worm successfully stopped")),
                ("source.domain", s("ws1.corp.example")),
                ("source.ip", s("10.0.0.1")),
                ("source.port", i(1232)),
                ("source.user.name", s("alice")),
                ("url.original", s("http://evil.example/a b?c=d")),
                ("user.name", s("bob")),
            ]
        );
        let mut got = ev.observables.clone();
        got.sort();
        let mut want = vec![
            Observable::new(ObservableKind::Ip, "10.0.0.1", Some("source.ip")),
            Observable::new(ObservableKind::Ip, "2.1.2.2", Some("destination.ip")),
            Observable::new(
                ObservableKind::Domain,
                "ws1.corp.example",
                Some("source.domain"),
            ),
            Observable::new(
                ObservableKind::Md5,
                "44d88612fea8a8f36de82e1278abb02f",
                Some("file.hash.md5"),
            ),
            Observable::new(ObservableKind::User, "bob", Some("user.name")),
            Observable::new(ObservableKind::User, "alice", Some("source.user.name")),
            Observable::new(ObservableKind::User, "bob", Some("destination.user.name")),
            Observable::new(ObservableKind::Host, "fw01", Some("host.hostname")),
        ];
        want.sort();
        // The URL has a space, so it is no URL observable.
        assert_eq!(got, want);
    }

    #[test]
    fn header_escapes_and_named_severity() {
        let ev = ok(r"CEF:1|Ven\|dor|Prod\\uct|1.0|sig\|1|Name with \| pipe and \n|Very-High|");
        assert_eq!(ev.get_str("cef.device.vendor"), Some("Ven|dor"));
        assert_eq!(ev.get_str("cef.device.product"), Some(r"Prod\uct"));
        assert_eq!(ev.get_str("rule.id"), Some("sig|1"));
        assert_eq!(ev.get_str("rule.name"), Some(r"Name with | pipe and \n"));
        assert_eq!(ev.get("event.severity"), Some(i(10)));
        assert_eq!(ev.get("cef.version"), Some(i(1)));
        assert_eq!(ev.timestamp, now(), "no rt and no syslog header");
        assert!(
            !ev.fields.keys().any(|k| k.starts_with("cef.extensions.")),
            "empty extension"
        );
        // The last header field may end the line.
        let ev = ok("CEF:0|V|P|1|s|n|Medium");
        assert_eq!(ev.get("event.severity"), Some(i(6)));
        assert_eq!(ev.get_str("cef.severity"), Some("Medium"));
    }

    #[test]
    fn severities() {
        for (input, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            (" 10 ", Some(10)),
            ("11", None),
            ("-1", None),
            ("Low", Some(3)),
            ("medium", Some(6)),
            ("HIGH", Some(8)),
            ("Very-High", Some(10)),
            ("Unknown", None),
            ("", None),
        ] {
            assert_eq!(severity_level(input), want, "{input:?}");
        }
    }

    #[test]
    fn extension_escapes_and_spacing() {
        let ev =
            ok(r"CEF:0|V|P|1|s|n|5|cs1=a\=b\\c\nd\re\x\|y  cs2=two words   cn1=3 msg=café über");
        assert_eq!(
            ev.get_str("cef.extensions.cs1"),
            Some("a=b\\c\nd\re\\x\\|y")
        );
        assert_eq!(ev.get_str("cef.extensions.cs2"), Some("two words"));
        assert_eq!(ev.get_str("cef.extensions.cn1"), Some("3"));
        assert_eq!(ev.get_str("message"), Some("café über"));
        // An escaped backslash before a space does not hide the next key.
        let ev = ok(r"CEF:0|V|P|1|s|n|5|filePath=C:\\dir\\ src=192.0.2.7");
        assert_eq!(ev.get_str("file.path"), Some(r"C:\dir\"));
        assert_eq!(ev.get_str("source.ip"), Some("192.0.2.7"));
        // A backslash before a space is literal: the space still separates.
        let ev = ok(r"CEF:0|V|P|1|s|n|5|msg=odd\ src=192.0.2.8");
        assert_eq!(ev.get_str("message"), Some(r"odd\"));
        assert_eq!(ev.get_str("source.ip"), Some("192.0.2.8"));
        // `=` in a value without a space before a key-like word stays.
        let ev = ok("CEF:0|V|P|1|s|n|5|request=https://x.example/?a=b&c=d dpt=443");
        assert_eq!(
            ev.get_str("url.original"),
            Some("https://x.example/?a=b&c=d")
        );
        assert_eq!(ev.get("destination.port"), Some(i(443)));
    }

    /// CEF requires `=` in values to be escaped and nothing else: an
    /// unescaped ` key=` inside a value starts a new key. This is the
    /// format's, not the parser's, and the tests pin what follows from it.
    #[test]
    fn hostile_extension_values() {
        // Escaped, as CEF requires: the injection stays inside the value.
        let ev = ok(r"CEF:0|V|P|1|s|n|5|src=10.0.0.1 request=/login?u\=x src\=6.6.6.6");
        assert_eq!(ev.get_str("source.ip"), Some("10.0.0.1"));
        assert_eq!(ev.get_str("url.original"), Some("/login?u=x src=6.6.6.6"));
        assert_eq!(ev.get("cef.duplicate_keys"), None);

        // Unescaped after the real key: `src` is ambiguous, so neither value
        // becomes source.ip or an observable; both are kept.
        let ev = ok("CEF:0|V|P|1|s|n|5|src=10.0.0.1 request=/login?u=x src=6.6.6.6");
        assert_eq!(ev.get("source.ip"), None);
        assert_eq!(ev.get_str("url.original"), Some("/login?u=x"));
        assert_eq!(
            ev.get("cef.extensions.src"),
            Some(FieldValue::List(vec![s("10.0.0.1"), s("6.6.6.6")]))
        );
        assert_eq!(
            ev.get("cef.duplicate_keys"),
            Some(FieldValue::List(vec![s("src")]))
        );
        assert!(!ev.observables.iter().any(|o| o.kind == ObservableKind::Ip));

        // Unescaped with no real `src`: indistinguishable from a sender's
        // own key, so it is read as one. Inherent to CEF.
        let ev = ok("CEF:0|V|P|1|s|n|5|msg=hello src=6.6.6.6");
        assert_eq!(ev.get_str("message"), Some("hello"));
        assert_eq!(ev.get_str("source.ip"), Some("6.6.6.6"));

        // Values that are not what their key says stay raw only.
        let ev = ok("CEF:0|V|P|1|s|n|5|src=not-an-ip spt=99999 dpt=-1 fsize=big fileHash=xyz");
        for field in [
            "source.ip",
            "source.port",
            "destination.port",
            "file.size",
            "file.hash.md5",
        ] {
            assert_eq!(ev.get(field), None, "{field}");
        }
        assert_eq!(ev.get_str("cef.extensions.spt"), Some("99999"));
        // A label never replaces a real key.
        let ev = ok("CEF:0|V|P|1|s|n|5|src=192.0.2.1 cs2Label=src cs2=evil");
        assert_eq!(ev.get_str("cef.extensions.src"), Some("192.0.2.1"));
    }

    #[test]
    fn event_time_from_rt_then_syslog_header_then_now() {
        let base = "CEF:0|V|P|1|s|n|5|rt=";
        let t = |s: &str| ok(&format!("{base}{s}")).timestamp;
        let want = Utc.with_ymd_and_hms(2026, 2, 14, 19, 4, 53).unwrap();
        assert_eq!(t("1771095893123"), want + TimeDelta::milliseconds(123));
        assert_eq!(t("1771095893"), want);
        assert_eq!(t("Feb 14 2026 19:04:53"), want);
        assert_eq!(t("Feb 14 2026 20:04:53 +01:00"), want);
        assert_eq!(t("Feb 14 2026 14:04:53 -0500"), want);
        assert_eq!(t("Feb 14 2026 19:04:53 GMT"), want);
        assert_eq!(t("Feb 14 19:04:53"), want, "year from now");
        assert_eq!(
            t("Feb 14 19:04:53.250 UTC"),
            want + TimeDelta::milliseconds(250)
        );
        assert_eq!(t("2026-02-14T19:04:53Z"), want);
        // Unreadable (a named zone cannot be resolved): the syslog header.
        let ev = ok("Feb 14 19:05:00 fw CEF:0|V|P|1|s|n|5|rt=Feb 14 2026 19:04:53 CET");
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2026, 2, 14, 19, 5, 0).unwrap()
        );
        assert_eq!(ev.get_str("host.hostname"), Some("fw"));
        // Nothing: the time of reading.
        assert_eq!(t("yesterday"), now());
        assert_eq!(t("99999999999999999999999"), now());
        assert_eq!(ok("<13>CEF:0|V|P|1|s|n|5|").timestamp, now());
        // start and end become ECS times.
        let ev = ok("CEF:0|V|P|1|s|n|5|start=1771095893000 end=Feb 14 2026 19:05:00");
        assert_eq!(ev.get_str("event.start"), Some("2026-02-14T19:04:53Z"));
        assert_eq!(ev.get_str("event.end"), Some("2026-02-14T19:05:00Z"));
    }

    #[test]
    fn syslog_headers_and_the_bare_form() {
        let ev =
            ok("<134>1 2026-03-14T09:00:00.000Z fw01 CEF - - - CEF:0|V|P|1|s|n|5|src=192.0.2.1");
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
        );
        assert_eq!(ev.get_str("host.hostname"), Some("fw01"));
        assert_eq!(ev.get_str("process.name"), Some("CEF"));
        assert_eq!(ev.get_str("source.ip"), Some("192.0.2.1"));
        let ev = ok("Mar 14 09:00:00 fw02 ids[77]: CEF:0|V|P|1|s|n|5|");
        assert_eq!(ev.get_str("host.hostname"), Some("fw02"));
        assert_eq!(ev.get_str("process.name"), Some("ids"));
        assert_eq!(ev.get("process.pid"), Some(i(77)));
        // A relay that took `CEF:` for the tag and dropped it.
        let ev = ok("0|Ubiquiti|UniFi Network|9.4.19|201|Threat|7|src=10.0.0.100");
        assert_eq!(ev.get_str("observer.vendor"), Some("Ubiquiti"));
        assert_eq!(ev.get("event.severity"), Some(i(7)));
        assert_eq!(ev.get("log.syslog.priority"), None);
    }

    #[test]
    fn malformed_records_say_why() {
        let cases = [
            (
                "hello world",
                "not a cef record: no CEF header in \"hello world\"",
            ),
            (
                "CEF:x|a|b",
                "not a cef record: expected \"CEF:<version>|\", found \"CEF:x\"",
            ),
            (
                "a|b|c|d|e|f|g|",
                "not a cef record: expected \"CEF:<version>|\", found \"a\"",
            ),
            (
                "CEF:0|a|b|c",
                "not a cef record: the CEF header has 4 of its 7 \"|\"-separated fields",
            ),
            (
                "CEF:0|a|b|c|d|e|5|=oops",
                "not a cef record: the extension must be key=value pairs, found \"=oops\"",
            ),
            (
                "CEF:0|a|b|c|d|e|5|just text",
                "not a cef record: the extension must be key=value pairs, found \"just text\"",
            ),
            (
                "garbage CEF:0|a|b|c|d|e|5|",
                "not a cef record: the text before \"CEF:\" is not a syslog header (not a syslog line: expected \"<PRI>\" or a timestamp at the start, found \"garbage\")",
            ),
            (
                "<999>CEF:0|a|b|c|d|e|5|",
                "not a cef record: the text before \"CEF:\" is not a syslog header (not a syslog line: invalid priority \"<999>\")",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(err(input), want, "{input}");
        }
    }
}
