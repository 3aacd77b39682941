//! Wazuh / OSSEC alerts as the manager writes them to
//! `/var/ossec/logs/alerts/alerts.json`: one JSON alert per line
//! (<https://documentation.wazuh.com/current/user-manual/manager/alert-management.html>).
//!
//! The rule, the agent, the decoded `data`, the MITRE ATT&CK mapping and
//! file-integrity (`syscheck`) details are mapped to ECS; every other field
//! is kept, flattened, under `wazuh.` (`wazuh.rule.firedtimes`,
//! `wazuh.decoder.name`, `wazuh.data.url`, …), so nothing the manager wrote
//! is lost. Alerts are not a hot path, so the record is read into a
//! `serde_json::Value` and flattened once.
//!
//! `user.name` is the account the alert is about: `data.dstuser` (the
//! target: `Failed password for root`, the user sudo switched to), else
//! `data.srcuser` (`Invalid user admin`, the only name such lines have).
//! Both are also kept as `destination.user.name` and `source.user.name`, so
//! the actor of a `sudo` stays visible. Old OSSEC alerts put `srcip`,
//! `srcuser`, … at the top level instead of under `data`; both are read.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use riposte_model::{CompactString, Event, FieldValue, Fields, Timestamp};
use serde_json::Value;

use crate::error::{DecodeError, clip};
use crate::json::{flatten_into, json_kind};
use crate::{DecodeCtx, RecordDecoder};

const FORMAT: &str = "wazuh";

/// What the `timestamp` may look like, for error messages.
const EXPECTED_TIME: &str = "YYYY-MM-DDTHH:MM:SS.mmm±hhmm or YYYY Mon DD HH:MM:SS";

/// The `wazuh` format's decoder; stateless.
#[derive(Debug)]
pub(crate) struct WazuhDecoder;

impl RecordDecoder for WazuhDecoder {
    fn decode(&mut self, text: &str, _ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        decode(text).map(Some)
    }
}

/// Decodes one alert into an event with dataset `wazuh.alerts`.
pub(crate) fn decode(text: &str) -> Result<Event, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(DecodeError::from_json)?;
    let Value::Object(mut object) = value else {
        return Err(DecodeError::NotObject(json_kind(&value)));
    };
    let timestamp = match object.remove("timestamp") {
        None => return Err(DecodeError::MissingField("timestamp")),
        Some(Value::String(s)) => parse_time(&s).ok_or_else(|| DecodeError::InvalidTimestamp {
            value: clip(&s),
            expected: EXPECTED_TIME,
        })?,
        Some(other) => return Err(wrong("timestamp", "a string", &other)),
    };
    match object.get("rule") {
        Some(Value::Object(_)) => {}
        None => {
            return Err(DecodeError::Malformed {
                format: FORMAT,
                reason: "no \"rule\" object (alerts.json records always have one)".to_owned(),
            });
        }
        Some(other) => return Err(wrong("rule", "an object", other)),
    }
    let mut flat = Fields::new();
    flatten_into(&mut flat, "", object);

    let mut ev = Event::new(timestamp, "wazuh.alerts");
    ev.set("event.kind", "alert");
    ev.set("event.module", "wazuh");
    map_rule(&mut ev, &mut flat)?;
    map_agent(&mut ev, &mut flat);
    map_data(&mut ev, &mut flat);
    map_syscheck(&mut ev, &mut flat);
    move_str(&mut ev, &mut flat, "id", "event.id");
    move_str(&mut ev, &mut flat, "full_log", "message");
    move_str(
        &mut ev,
        &mut flat,
        "predecoder.program_name",
        "process.name",
    );

    // Names built in place (inline up to 24 bytes, no `format!` String),
    // merged in one pass (a later name wins, as with `insert`).
    ev.fields.extend(flat.into_iter().map(|(name, value)| {
        let mut full = CompactString::with_capacity("wazuh.".len() + name.len());
        full.push_str("wazuh.");
        full.push_str(&name);
        (full, value)
    }));
    crate::observe::add_ecs_observables(&mut ev);
    Ok(ev)
}

/// Wazuh's `2024-01-01T12:00:00.123+0000`, or OSSEC 2.x's
/// `2017 Jan 05 14:11:21` (the manager's local time, taken as UTC).
fn parse_time(s: &str) -> Option<Timestamp> {
    crate::time::parse(s).or_else(|| {
        NaiveDateTime::parse_from_str(s, "%Y %b %d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    })
}

fn wrong(field: &'static str, expected: &'static str, found: &Value) -> DecodeError {
    let found = match found {
        Value::String(s) => format!("string {:?}", clip(s)),
        Value::Number(n) => format!("number {n}"),
        Value::Bool(b) => format!("boolean {b}"),
        other => json_kind(other).to_owned(),
    };
    DecodeError::WrongType {
        field,
        expected,
        found,
    }
}

fn wrong_field(field: &'static str, expected: &'static str, found: &FieldValue) -> DecodeError {
    let found = match found {
        FieldValue::Str(s) => format!("string {:?}", clip(s)),
        FieldValue::List(_) => "an array".to_owned(),
        FieldValue::Int(i) => format!("integer {i}"),
        FieldValue::Float(x) => format!("number {x}"),
        FieldValue::Bool(b) => format!("boolean {b}"),
    };
    DecodeError::WrongType {
        field,
        expected,
        found,
    }
}

fn map_rule(ev: &mut Event, flat: &mut Fields) -> Result<(), DecodeError> {
    match flat.remove("rule.level") {
        None => {}
        Some(FieldValue::Int(level)) => ev.set("event.severity", level),
        Some(other) => return Err(wrong_field("rule.level", "an integer", &other)),
    }
    // Wazuh writes the id as a string, OSSEC 2.x as a number.
    match flat.remove("rule.id") {
        None => {}
        Some(FieldValue::Str(id)) => ev.set("rule.id", id),
        Some(FieldValue::Int(id)) => ev.set("rule.id", id.to_string()),
        Some(other) => return Err(wrong_field("rule.id", "a string or an integer", &other)),
    }
    move_str(ev, flat, "rule.description", "rule.name");

    let groups = take_list(flat, "rule.groups");
    let has = |g: &str| groups.iter().any(|v| v.as_str() == Some(g));
    if has("authentication_failed") || has("authentication_failures") || has("invalid_login") {
        ev.set("event.category", "authentication");
        ev.set("event.outcome", "failure");
    } else if has("authentication_success") {
        ev.set("event.category", "authentication");
        ev.set("event.outcome", "success");
    } else if has("syscheck") {
        ev.set("event.category", "file");
    }
    if !groups.is_empty() {
        ev.set("tags", groups);
    }

    let mut mitre = false;
    for (from, to) in [
        ("rule.mitre.id", "threat.technique.id"),
        ("rule.mitre.technique", "threat.technique.name"),
        ("rule.mitre.tactic", "threat.tactic.name"),
    ] {
        let list = take_list(flat, from);
        if !list.is_empty() {
            ev.set(to, list);
            mitre = true;
        }
    }
    if mitre {
        ev.set("threat.framework", "MITRE ATT&CK");
    }
    Ok(())
}

fn map_agent(ev: &mut Event, flat: &mut Fields) {
    move_str(ev, flat, "agent.id", "agent.id");
    if let Some(FieldValue::Str(name)) = flat.remove("agent.name") {
        ev.set("host.name", name.as_str());
        ev.set("agent.name", name);
    }
    // Agents registered from "any" address have `ip: "any"`: kept as is.
    move_ip(ev, flat, "agent.ip", "host.ip");
}

fn map_data(ev: &mut Event, flat: &mut Fields) {
    for prefix in ["data.", ""] {
        let key = |k: &str| format!("{prefix}{k}");
        move_ip(ev, flat, &key("srcip"), "source.ip");
        move_ip(ev, flat, &key("dstip"), "destination.ip");
        move_port(ev, flat, &key("srcport"), "source.port");
        move_port(ev, flat, &key("dstport"), "destination.port");
        move_str(ev, flat, &key("srcuser"), "source.user.name");
        move_str(ev, flat, &key("dstuser"), "destination.user.name");
    }
    move_str(ev, flat, "data.url", "url.original");
    let user = ev
        .get_str("destination.user.name")
        .or_else(|| ev.get_str("source.user.name"))
        .map(str::to_owned);
    if let Some(user) = user {
        ev.set("user.name", user);
    }
}

fn map_syscheck(ev: &mut Event, flat: &mut Fields) {
    move_str(ev, flat, "syscheck.path", "file.path");
    move_str(ev, flat, "syscheck.md5_after", "file.hash.md5");
    move_str(ev, flat, "syscheck.sha1_after", "file.hash.sha1");
    move_str(ev, flat, "syscheck.sha256_after", "file.hash.sha256");
    move_str(ev, flat, "syscheck.uname_after", "file.owner");
    move_str(ev, flat, "syscheck.gname_after", "file.group");
    move_str(ev, flat, "syscheck.event", "event.action");
    // Wazuh writes sizes and inodes as strings of digits.
    if let Some(size) = flat.get("syscheck.size_after").and_then(as_int) {
        flat.remove("syscheck.size_after");
        ev.set("file.size", size);
    }
    if let Some(inode) = flat.get("syscheck.inode_after").and_then(as_int) {
        flat.remove("syscheck.inode_after");
        ev.set("file.inode", inode.to_string());
    }
}

fn as_int(v: &FieldValue) -> Option<i64> {
    match v {
        FieldValue::Int(i) => Some(*i),
        FieldValue::Str(s) => s.parse().ok(),
        _ => None,
    }
}

/// Moves a string field to its ECS name; a value of another type stays
/// under `wazuh.`.
fn move_str(ev: &mut Event, flat: &mut Fields, from: &str, to: &str) {
    if matches!(flat.get(from), Some(FieldValue::Str(_)))
        && let Some(v) = flat.remove(from)
    {
        ev.fields.insert(to.into(), v);
    }
}

/// Moves an IP address in canonical form; anything else (a host name,
/// `any`) stays under `wazuh.`.
fn move_ip(ev: &mut Event, flat: &mut Fields, from: &str, to: &str) {
    let Some(ip) = flat
        .get(from)
        .and_then(FieldValue::as_str)
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
    else {
        return;
    };
    flat.remove(from);
    ev.set(to, ip.to_canonical().to_string());
}

/// Moves a port, written as a number or (by Wazuh's decoders) as text.
fn move_port(ev: &mut Event, flat: &mut Fields, from: &str, to: &str) {
    let Some(port) = flat
        .get(from)
        .and_then(as_int)
        .and_then(|p| u16::try_from(p).ok())
    else {
        return;
    };
    flat.remove(from);
    ev.set(to, port);
}

/// A list field (a lone string counts as a list of one); absent → empty.
fn take_list(flat: &mut Fields, name: &str) -> Vec<FieldValue> {
    match flat.remove(name) {
        Some(FieldValue::List(items)) => items,
        Some(FieldValue::Str(s)) => vec![FieldValue::Str(s)],
        Some(other) => {
            flat.insert(name.into(), other);
            Vec::new()
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use riposte_model::{Observable, ObservableKind};

    use super::*;

    fn s(v: &str) -> FieldValue {
        FieldValue::from(v)
    }

    fn list(items: &[&str]) -> FieldValue {
        FieldValue::List(items.iter().map(|v| s(v)).collect())
    }

    fn fields(ev: &Event) -> Vec<(&str, FieldValue)> {
        ev.fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    }

    /// A file-integrity alert (rule 550), as Wazuh 4 writes it.
    const SYSCHECK: &str = r#"{"timestamp":"2024-01-01T12:00:00.123+0000","rule":{"level":7,"description":"Integrity checksum changed.","id":"550","mitre":{"id":["T1565.001"],"tactic":["Impact"],"technique":["Stored Data Manipulation"]},"firedtimes":1,"mail":false,"groups":["ossec","syscheck","syscheck_entry_modified","syscheck_file"],"pci_dss":["11.5"]},"agent":{"id":"001","name":"web01","ip":"10.0.0.12"},"manager":{"name":"wazuh-manager"},"id":"1704110400.123456","full_log":"File '/etc/passwd' modified\nMode: realtime\nChanged attributes: size,md5,sha1,sha256\nSize changed from '1520' to '1560'\n","syscheck":{"path":"/etc/passwd","mode":"realtime","size_before":"1520","size_after":"1560","perm_after":"rw-r--r--","uid_after":"0","gid_after":"0","md5_before":"0fa8cbd2d3e5d1f5dcd3bd5ab2cfd4b1","md5_after":"5D41402ABC4B2A76B9719D911017C592","sha1_before":"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d","sha1_after":"9f9d51bc70ef21ca5c14f307980a29d8b1b0f6b2","sha256_after":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","uname_after":"root","gname_after":"root","inode_after":"393219","changed_attributes":["size","md5","sha1","sha256"],"event":"modified"},"decoder":{"name":"syscheck_integrity_changed"},"location":"syscheck"}"#;

    /// An sshd brute-force alert (rule 5712) with its decoded data.
    const SSHD: &str = r#"{"timestamp":"2024-01-01T12:00:05.456+0100","rule":{"level":10,"description":"sshd: brute force trying to get access to the system. Non existent user.","id":"5712","mitre":{"id":["T1110"],"tactic":["Credential Access"],"technique":["Brute Force"]},"frequency":8,"firedtimes":1,"mail":false,"groups":["syslog","sshd","authentication_failures"],"gdpr":["IV_35.7.d","IV_32.2"]},"agent":{"id":"002","name":"bastion","ip":"10.0.0.5"},"manager":{"name":"wazuh-manager"},"id":"1704106805.2042","previous_output":"Jan  1 11:00:03 bastion sshd[4242]: Invalid user admin from 203.0.113.7 port 51233","full_log":"Jan  1 11:00:05 bastion sshd[4242]: Invalid user admin from 203.0.113.7 port 51234","predecoder":{"program_name":"sshd","timestamp":"Jan  1 11:00:05","hostname":"bastion"},"decoder":{"parent":"sshd","name":"sshd"},"data":{"srcip":"203.0.113.7","srcport":"51234","srcuser":"admin"},"location":"/var/log/auth.log"}"#;

    #[test]
    fn syscheck_alert_maps_file_and_hashes() {
        let ev = decode(SYSCHECK).unwrap();
        assert_eq!(ev.dataset, "wazuh.alerts");
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap()
                + chrono::TimeDelta::milliseconds(123)
        );
        assert_eq!(
            fields(&ev),
            vec![
                ("agent.id", s("001")),
                ("agent.name", s("web01")),
                ("event.action", s("modified")),
                ("event.category", s("file")),
                ("event.id", s("1704110400.123456")),
                ("event.kind", s("alert")),
                ("event.module", s("wazuh")),
                ("event.severity", FieldValue::Int(7)),
                ("file.group", s("root")),
                ("file.hash.md5", s("5D41402ABC4B2A76B9719D911017C592")),
                (
                    "file.hash.sha1",
                    s("9f9d51bc70ef21ca5c14f307980a29d8b1b0f6b2")
                ),
                (
                    "file.hash.sha256",
                    s("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
                ),
                ("file.inode", s("393219")),
                ("file.owner", s("root")),
                ("file.path", s("/etc/passwd")),
                ("file.size", FieldValue::Int(1560)),
                ("host.ip", s("10.0.0.12")),
                ("host.name", s("web01")),
                (
                    "message",
                    s(
                        "File '/etc/passwd' modified\nMode: realtime\nChanged attributes: size,md5,sha1,sha256\nSize changed from '1520' to '1560'\n"
                    )
                ),
                ("rule.id", s("550")),
                ("rule.name", s("Integrity checksum changed.")),
                (
                    "tags",
                    list(&[
                        "ossec",
                        "syscheck",
                        "syscheck_entry_modified",
                        "syscheck_file"
                    ])
                ),
                ("threat.framework", s("MITRE ATT&CK")),
                ("threat.tactic.name", list(&["Impact"])),
                ("threat.technique.id", list(&["T1565.001"])),
                ("threat.technique.name", list(&["Stored Data Manipulation"])),
                ("wazuh.decoder.name", s("syscheck_integrity_changed")),
                ("wazuh.location", s("syscheck")),
                ("wazuh.manager.name", s("wazuh-manager")),
                ("wazuh.rule.firedtimes", FieldValue::Int(1)),
                ("wazuh.rule.mail", FieldValue::Bool(false)),
                ("wazuh.rule.pci_dss", list(&["11.5"])),
                (
                    "wazuh.syscheck.changed_attributes",
                    list(&["size", "md5", "sha1", "sha256"])
                ),
                ("wazuh.syscheck.gid_after", s("0")),
                (
                    "wazuh.syscheck.md5_before",
                    s("0fa8cbd2d3e5d1f5dcd3bd5ab2cfd4b1")
                ),
                ("wazuh.syscheck.mode", s("realtime")),
                ("wazuh.syscheck.perm_after", s("rw-r--r--")),
                (
                    "wazuh.syscheck.sha1_before",
                    s("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
                ),
                ("wazuh.syscheck.size_before", s("1520")),
                ("wazuh.syscheck.uid_after", s("0")),
            ]
        );
        let mut got = ev.observables.clone();
        got.sort();
        let mut want = vec![
            Observable::new(ObservableKind::Ip, "10.0.0.12", Some("host.ip")),
            Observable::new(
                ObservableKind::Md5,
                "5d41402abc4b2a76b9719d911017c592",
                Some("file.hash.md5"),
            ),
            Observable::new(
                ObservableKind::Sha1,
                "9f9d51bc70ef21ca5c14f307980a29d8b1b0f6b2",
                Some("file.hash.sha1"),
            ),
            Observable::new(
                ObservableKind::Sha256,
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                Some("file.hash.sha256"),
            ),
            Observable::new(ObservableKind::Host, "web01", Some("host.name")),
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn sshd_brute_force_alert_names_the_attacker_and_the_user() {
        let ev = decode(SSHD).unwrap();
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2024, 1, 1, 11, 0, 5).unwrap()
                + chrono::TimeDelta::milliseconds(456)
        );
        assert_eq!(
            fields(&ev),
            vec![
                ("agent.id", s("002")),
                ("agent.name", s("bastion")),
                ("event.category", s("authentication")),
                ("event.id", s("1704106805.2042")),
                ("event.kind", s("alert")),
                ("event.module", s("wazuh")),
                ("event.outcome", s("failure")),
                ("event.severity", FieldValue::Int(10)),
                ("host.ip", s("10.0.0.5")),
                ("host.name", s("bastion")),
                (
                    "message",
                    s(
                        "Jan  1 11:00:05 bastion sshd[4242]: Invalid user admin from 203.0.113.7 port 51234"
                    )
                ),
                ("process.name", s("sshd")),
                ("rule.id", s("5712")),
                (
                    "rule.name",
                    s("sshd: brute force trying to get access to the system. Non existent user.")
                ),
                ("source.ip", s("203.0.113.7")),
                ("source.port", FieldValue::Int(51234)),
                ("source.user.name", s("admin")),
                ("tags", list(&["syslog", "sshd", "authentication_failures"])),
                ("threat.framework", s("MITRE ATT&CK")),
                ("threat.tactic.name", list(&["Credential Access"])),
                ("threat.technique.id", list(&["T1110"])),
                ("threat.technique.name", list(&["Brute Force"])),
                ("user.name", s("admin")),
                ("wazuh.decoder.name", s("sshd")),
                ("wazuh.decoder.parent", s("sshd")),
                ("wazuh.location", s("/var/log/auth.log")),
                ("wazuh.manager.name", s("wazuh-manager")),
                ("wazuh.predecoder.hostname", s("bastion")),
                ("wazuh.predecoder.timestamp", s("Jan  1 11:00:05")),
                (
                    "wazuh.previous_output",
                    s(
                        "Jan  1 11:00:03 bastion sshd[4242]: Invalid user admin from 203.0.113.7 port 51233"
                    )
                ),
                ("wazuh.rule.firedtimes", FieldValue::Int(1)),
                ("wazuh.rule.frequency", FieldValue::Int(8)),
                ("wazuh.rule.gdpr", list(&["IV_35.7.d", "IV_32.2"])),
                ("wazuh.rule.mail", FieldValue::Bool(false)),
            ]
        );
        assert!(ev.observables.contains(&Observable::new(
            ObservableKind::Ip,
            "203.0.113.7",
            Some("source.ip")
        )));
        assert!(ev.observables.contains(&Observable::new(
            ObservableKind::User,
            "admin",
            Some("user.name")
        )));
    }

    #[test]
    fn user_name_prefers_the_target_account() {
        // sudo: srcuser is who ran it, dstuser whom they became.
        let ev = decode(
            r#"{"timestamp":"2017 Jan 05 14:11:21","rule":{"level":3,"description":"Successful sudo to ROOT executed","id":5402,"groups":["syslog","sudo"]},"agent":{"id":"031","name":"CentOS","ip":"192.168.56.4"},"srcuser":"agent","dstuser":"root","full_log":"Jan  5 14:11:12 centos sudo:   agent : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/cat","program_name":"sudo","decoder":{"fts":1792,"parent":"sudo","name":"sudo"},"location":"/var/log/secure"}"#,
        )
        .unwrap();
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2017, 1, 5, 14, 11, 21).unwrap()
        );
        assert_eq!(ev.get_str("rule.id"), Some("5402"));
        assert_eq!(ev.get_str("user.name"), Some("root"));
        assert_eq!(ev.get_str("source.user.name"), Some("agent"));
        assert_eq!(ev.get_str("destination.user.name"), Some("root"));
        assert_eq!(ev.get_str("wazuh.program_name"), Some("sudo"));
        assert_eq!(ev.get("event.category"), None);
        assert_eq!(ev.get("tags"), Some(list(&["syslog", "sudo"])));
    }

    #[test]
    fn values_that_are_not_addresses_or_ports_stay_under_wazuh() {
        let ev = decode(
            r#"{"timestamp":"2024-01-01T12:00:00.000+0000","rule":{"level":5,"id":"31101","groups":"web"},"agent":{"id":"000","name":"mgr","ip":"any"},"data":{"srcip":"scanner.example","srcport":"70000","dstip":"::ffff:192.0.2.1","dstport":443,"url":"/admin.php","protocol":"GET","id":"404"}}"#,
        )
        .unwrap();
        assert_eq!(ev.get_str("wazuh.agent.ip"), Some("any"));
        assert_eq!(ev.get("host.ip"), None);
        assert_eq!(ev.get_str("wazuh.data.srcip"), Some("scanner.example"));
        assert_eq!(ev.get("source.ip"), None);
        assert_eq!(ev.get_str("wazuh.data.srcport"), Some("70000"));
        assert_eq!(ev.get_str("destination.ip"), Some("192.0.2.1"));
        assert_eq!(ev.get("destination.port"), Some(FieldValue::Int(443)));
        assert_eq!(ev.get_str("url.original"), Some("/admin.php"));
        assert_eq!(ev.get_str("wazuh.data.protocol"), Some("GET"));
        assert_eq!(ev.get("tags"), Some(list(&["web"])));
    }

    #[test]
    fn malformed_alerts_are_refused_with_the_reason() {
        let cases = [
            (
                r#"{"timestamp":"2024-01-01T12:00:00.000+0000","rule":{"level":3"#,
                "truncated JSON: EOF while parsing an object at line 1 column 61",
            ),
            (
                "not json",
                "invalid JSON: expected ident at line 1 column 2",
            ),
            (r#"["alert"]"#, "expected a JSON object, found an array"),
            (r#"{"rule":{"level":3}}"#, "missing field \"timestamp\""),
            (
                r#"{"timestamp":"yesterday","rule":{}}"#,
                "invalid timestamp \"yesterday\" (expected YYYY-MM-DDTHH:MM:SS.mmm±hhmm or YYYY Mon DD HH:MM:SS)",
            ),
            (
                r#"{"timestamp":1704110400,"rule":{}}"#,
                "field \"timestamp\" must be a string, found number 1704110400",
            ),
            (
                r#"{"timestamp":"2024-01-01T12:00:00.000+0000","agent":{"id":"001"}}"#,
                "not a wazuh record: no \"rule\" object (alerts.json records always have one)",
            ),
            (
                r#"{"timestamp":"2024-01-01T12:00:00.000+0000","rule":"5712"}"#,
                "field \"rule\" must be an object, found string \"5712\"",
            ),
            (
                r#"{"timestamp":"2024-01-01T12:00:00.000+0000","rule":{"level":"high"}}"#,
                "field \"rule.level\" must be an integer, found string \"high\"",
            ),
            (
                r#"{"timestamp":"2024-01-01T12:00:00.000+0000","rule":{"id":[1]}}"#,
                "field \"rule.id\" must be a string or an integer, found an array",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input).unwrap_err().to_string(), want, "{input}");
        }
    }
}
