//! End to end through the public API: files on disk → `FileTail` →
//! `decode_batch` → events, dead letters and ignored counts.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use riposte_ingest::{DecodeCtx, DecodedBatch, FileTail, Format, Line, decode_batch};
use riposte_model::{FieldValue, Observable, ObservableKind, SourcePos};

const MAX_LINE: usize = 64 * 1024;

/// Reads a whole file as one-shot ingestion does, in small batches.
fn ingest_file(path: &Path, format: Format, ctx: &DecodeCtx<'_>) -> (DecodedBatch, u64) {
    let mut tail = FileTail::open(path, 0).unwrap();
    let mut all = DecodedBatch::default();
    loop {
        let batch = tail.read_batch_flush(3, MAX_LINE).unwrap();
        if batch.lines.is_empty() {
            return (all, batch.end_offset);
        }
        let out = decode_batch(format, &batch.lines, ctx);
        all.events.extend(out.events);
        all.dead_letters.extend(out.dead_letters);
        all.ignored += out.ignored;
    }
}

fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    path
}

#[test]
fn decodes_a_small_eve_file() {
    let eve = [
        r#"{"timestamp":"2026-03-14T09:26:50.000100+0000","flow_id":77,"in_iface":"eth0","event_type":"flow","src_ip":"203.0.113.7","src_port":52211,"dest_ip":"198.51.100.10","dest_port":22,"proto":"TCP","app_proto":"ssh","flow":{"pkts_toserver":12,"bytes_toserver":2048,"state":"closed"}}"#,
        r#"{"timestamp":"2026-03-14T09:26:53.123456+0000","flow_id":77,"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.7","src_port":52211,"dest_ip":"198.51.100.10","dest_port":22,"proto":"TCP","host":"ids-1","alert":{"action":"blocked","gid":1,"signature_id":2001219,"rev":20,"signature":"ET SCAN Potential SSH Scan","category":"Attempted Information Leak","severity":2},"app_proto":"ssh"}"#,
        r#"{"timestamp":"2026-03-14T09:26:54.000000+0000","event_type":"stats","stats":{"uptime":120,"capture":{"kernel_packets":10}}}"#,
        r#"{"timestamp":"2026-03-14T09:26:55.000000+0000","event_type":"dns","src_ip":"10.0.0.5","src_port":5353,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","dns":{"type":"query","rrname":"example.org","rrtype":"A"}}"#,
        r#"{"timestamp":"2026-03-14T09:26:56.000000+0000","event_type":"alert","src_ip":"203.0.113.7","#,
        r#"{"timestamp":"2026-03-14T09:26:57.000000+0000","event_type":"telepathy"}"#,
        "",
        r#"{"timestamp":"2026-03-14T09:26:58.000000+0000","event_type":"anomaly","src_ip":"not-an-ip"}"#,
    ]
    .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "eve.json", &eve);
    let ctx = DecodeCtx {
        source: "eve.json",
        now: Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap(),
    };
    let (out, end) = ingest_file(&path, Format::SuricataEve, &ctx);
    assert_eq!(end, eve.len() as u64);

    let datasets: Vec<&str> = out.events.iter().map(|e| e.dataset.as_str()).collect();
    assert_eq!(
        datasets,
        ["suricata.flow", "suricata.alert", "suricata.dns"]
    );
    assert_eq!(out.ignored, 2, "stats and the empty line");

    let reasons: Vec<(u64, &str)> = out
        .dead_letters
        .iter()
        .map(|d| (d.offset.unwrap(), d.reason.as_str()))
        .collect();
    let offset_of = |needle: &str| eve.find(needle).unwrap() as u64;
    assert_eq!(
        reasons,
        [
            (
                offset_of(r#"{"timestamp":"2026-03-14T09:26:56"#),
                "truncated JSON: EOF while parsing a value at line 1 column 91"
            ),
            (
                offset_of(r#"{"timestamp":"2026-03-14T09:26:57"#),
                "unsupported suricata event_type \"telepathy\""
            ),
            (
                offset_of(r#"{"timestamp":"2026-03-14T09:26:58"#),
                "field \"src_ip\" is not an IP address: \"not-an-ip\""
            ),
        ]
    );

    let alert = &out.events[1];
    assert_eq!(
        alert.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap()
            + chrono::TimeDelta::microseconds(123_456)
    );
    assert_eq!(alert.get_str("rule.id"), Some("2001219"));
    assert_eq!(alert.get_str("event.action"), Some("blocked"));
    assert_eq!(alert.get("event.severity"), Some(FieldValue::Int(2)));
    assert_eq!(alert.get_str("observer.hostname"), Some("ids-1"));
    assert_eq!(
        alert.origin,
        Some(SourcePos {
            source: "eve.json".into(),
            offset: offset_of(r#"{"timestamp":"2026-03-14T09:26:53"#)
        })
    );
    assert_eq!(alert.original.as_deref(), eve.lines().nth(1));
    assert_eq!(
        alert.observables,
        [
            Observable::new(ObservableKind::Ip, "203.0.113.7", Some("source.ip")),
            Observable::new(ObservableKind::Ip, "198.51.100.10", Some("destination.ip")),
        ]
    );
}

#[test]
fn decodes_a_small_auth_log() {
    let log = "\
Dec 31 23:58:01 bastion sshd[901]: Invalid user admin from 203.0.113.7 port 4242\r
Dec 31 23:58:02 bastion sshd[901]: Failed password for invalid user admin from 203.0.113.7 port 4242 ssh2
Dec 31 23:58:04 bastion sshd[901]: Connection closed by invalid user admin 203.0.113.7 port 4242 [preauth]
Dec 31 23:59:10 bastion sshd[905]: Failed password for root from 203.0.113.7 port 4250 ssh2
Dec 31 23:59:12 bastion sshd[905]: error: maximum authentication attempts exceeded for root from 203.0.113.7 port 4250 ssh2 [preauth]
Jan  1 00:01:00 bastion sshd[910]: Accepted publickey for alice from 198.51.100.4 port 50000 ssh2: ED25519 SHA256:AAAAC3NzaC1lZDI1NTE5
Jan  1 00:01:00 bastion sshd[910]: pam_unix(sshd:session): session opened for user alice(uid=1000) by alice(uid=0)
Jan  1 00:02:00 bastion CRON[920]: pam_unix(cron:session): session closed for user root
this is not syslog
Jan  1 00:03:00 bastion sshd-session[930]: Received disconnect from 198.51.100.4 port 50000:11: disconnected by user";
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "auth.log", log);
    let ctx = DecodeCtx {
        source: "/var/log/auth.log",
        now: Utc.with_ymd_and_hms(2027, 1, 1, 0, 10, 0).unwrap(),
    };
    let (out, _) = ingest_file(&path, Format::Syslog, &ctx);
    assert_eq!(out.ignored, 0);
    assert_eq!(out.dead_letters.len(), 1);
    assert_eq!(
        out.dead_letters[0].reason,
        "not a syslog line: expected \"<PRI>\" or a timestamp at the start, found \"this is not syslog\""
    );

    /// dataset, event.action, event.outcome, user.name, source.ip
    type Summary<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let summary: Vec<Summary<'_>> = out
        .events
        .iter()
        .map(|e| {
            (
                e.dataset.as_str(),
                e.get_str("event.action"),
                e.get_str("event.outcome"),
                e.get_str("user.name"),
                e.get_str("source.ip"),
            )
        })
        .collect();
    let ip7 = Some("203.0.113.7");
    assert_eq!(
        summary,
        [
            (
                "sshd",
                Some("ssh_invalid_user"),
                Some("failure"),
                Some("admin"),
                ip7
            ),
            (
                "sshd",
                Some("ssh_login"),
                Some("failure"),
                Some("admin"),
                ip7
            ),
            (
                "sshd",
                Some("ssh_connection_closed"),
                Some("unknown"),
                Some("admin"),
                ip7
            ),
            (
                "sshd",
                Some("ssh_login"),
                Some("failure"),
                Some("root"),
                ip7
            ),
            (
                "sshd",
                Some("ssh_max_auth_attempts"),
                Some("unknown"),
                Some("root"),
                ip7
            ),
            (
                "sshd",
                Some("ssh_login"),
                Some("success"),
                Some("alice"),
                Some("198.51.100.4")
            ),
            // PAM's session lines: inside sshd's dataset when sshd
            // logged them, dataset `pam` from any other program.
            (
                "sshd",
                Some("pam_session_opened"),
                Some("success"),
                Some("alice"),
                None
            ),
            (
                "pam",
                Some("pam_session_closed"),
                Some("success"),
                Some("root"),
                None
            ),
            (
                "sshd",
                Some("ssh_disconnect_received"),
                Some("unknown"),
                None,
                Some("198.51.100.4")
            ),
        ]
    );
    // Lines from before midnight belong to the year that just ended.
    assert_eq!(
        out.events[0].timestamp,
        Utc.with_ymd_and_hms(2026, 12, 31, 23, 58, 1).unwrap()
    );
    assert_eq!(
        out.events[5].timestamp,
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 1, 0).unwrap()
    );
    // The CR of a CRLF line is not part of the record.
    assert_eq!(
        out.events[0].original.as_deref(),
        Some("Dec 31 23:58:01 bastion sshd[901]: Invalid user admin from 203.0.113.7 port 4242")
    );
}

/// Lines whose fail2ban reading we deliberately do not share, by message
/// text, with the address we name instead.
///
/// fail2ban reads `test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port
/// 55555 ssh2` as user `test` from 127.0.0.1 plus an injected auth-info
/// suffix. OpenSSH appends `: INFO` only after publickey, hostbased and
/// gssapi logins, never after a password, so that `ssh2:` is part of the
/// username the client sent and sshd's own address is the last one. Naming
/// 127.0.0.1 would let any client choose the address that gets banned (see
/// `sshd::tests::username_injection_does_not_move_the_address`).
const DIFFERENT_READING: &[(&str, &str)] = &[(
    "Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
    "10.10.1.2",
)];

/// fail2ban's sshd samples (`../shared/corpora/fail2ban`, GPL, read in place):
/// for every line where fail2ban expects a failure from an IP address, the
/// decoder must either name that same address or none — never another one,
/// since a wrong address becomes a ban on an innocent host — except for the
/// lines in [`DIFFERENT_READING`]. It must name it for nearly all lines that
/// contain it; the samples fail2ban marks as injection attempts may come out
/// without an address (the decoder gives none when a line is ambiguous) and
/// do not count towards that ratio. Where fail2ban names the user,
/// `user.name` must agree.
#[test]
fn fail2ban_sshd_samples_never_name_the_wrong_address() {
    let Some(corpus) = common::corpus("fail2ban/expected.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(&corpus).unwrap();
    let ctx = DecodeCtx {
        source: "fail2ban/logs/sshd",
        // The harness's clock, 2005-08-14T10:00:00Z.
        now: Utc.timestamp_opt(1_124_013_600, 0).unwrap(),
    };
    let (mut checked, mut named, mut injections_unnamed, mut different) = (0, 0, 0, 0);
    for record in text.lines() {
        let record: serde_json::Value = serde_json::from_str(record).unwrap();
        if record["file"] != "sshd" || record["expected"]["match"] != true {
            continue;
        }
        let Some(host) = record["expected"]["host"].as_str() else {
            continue;
        };
        let Ok(want) = host.parse::<IpAddr>() else {
            continue;
        };
        let line = record["line"].as_str().unwrap();
        // fail2ban takes some addresses from earlier lines of the same
        // connection; a single-line decoder can only name those it sees.
        if !line.contains(host) {
            continue;
        }
        let event = riposte_ingest::decode_one(Format::Syslog, line.as_bytes(), 0, &ctx)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .unwrap();
        if let Some((_, ours)) = DIFFERENT_READING.iter().find(|(m, _)| line.ends_with(m)) {
            assert_eq!(event.get_str("source.ip"), Some(*ours), "{line}");
            different += 1;
            continue;
        }
        checked += 1;
        if let (Some(want), Some(got)) = (
            record["expected"]["user"].as_str(),
            event.get_str("user.name"),
        ) {
            assert_eq!(got, want, "{line}");
        }
        let injection = record["expected"]["desc"]
            .as_str()
            .is_some_and(|d| d.to_ascii_lowercase().contains("inject"));
        if let Some(got) = event.get_str("source.ip") {
            assert_eq!(got, want.to_canonical().to_string(), "{line}");
            named += 1;
        } else if injection {
            eprintln!("no source.ip (injection sample): {line}");
            injections_unnamed += 1;
        } else {
            eprintln!("no source.ip: {line}");
        }
    }
    eprintln!(
        "source.ip named for {named} of {checked} lines, \
         {injections_unnamed} injection samples without one, {different} read differently"
    );
    assert_eq!(
        different,
        DIFFERENT_READING.len(),
        "a deviation went unused"
    );
    assert!(checked >= 90, "only {checked} sample lines found");
    let counted = checked - injections_unnamed;
    assert!(
        named * 100 >= counted * 95,
        "source.ip named for only {named} of {counted} failure lines"
    );
}

/// One CrowdSec assertion `results[stage][parser][N].Evt.<what>[key] == "value"`.
struct CrowdsecAssertion {
    line: usize,
    /// `Parsed`, `Meta` or `Unmarshaled.unifi`.
    what: &'static str,
    key: String,
    value: String,
}

fn crowdsec_assertions(text: &str) -> Vec<CrowdsecAssertion> {
    const PARSERS: [(&str, &[(&str, &str)]); 2] = [
        (
            "results[\"s00-raw\"][\"crowdsecurity/cef-logs\"][",
            &[(".Evt.Parsed[\"", "Parsed")],
        ),
        (
            "results[\"s01-parse\"][\"crowdsecurity/unifi-cef\"][",
            &[
                (".Evt.Meta[\"", "Meta"),
                (".Evt.Unmarshaled[\"unifi\"][\"", "Unmarshaled.unifi"),
            ],
        ),
    ];
    let mut out = Vec::new();
    for line in text.lines() {
        for (prefix, kinds) in PARSERS {
            let Some(rest) = line.strip_prefix(prefix) else {
                continue;
            };
            let (index, rest) = rest.split_once(']').unwrap();
            for (marker, what) in kinds {
                if let Some(rest) = rest.strip_prefix(marker) {
                    let (key, value) = rest.split_once("\"] == ").unwrap();
                    out.push(CrowdsecAssertion {
                        line: index.parse().unwrap(),
                        what,
                        key: key.to_owned(),
                        value: value.trim_matches('"').to_owned(),
                    });
                }
            }
        }
    }
    out
}

/// The CEF samples of the CrowdSec hub's `unifi-cef` test
/// (`../shared/corpora/crowdsec-hub/.tests/unifi-cef`, read in place): every
/// line must decode, and the header, the extension's key/value pairs and the
/// ECS fields must agree with CrowdSec's own parser assertions.
#[test]
fn crowdsec_unifi_cef_samples_agree_with_crowdsec() {
    let Some(dir) = common::corpus("crowdsec-hub/.tests/unifi-cef") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("cef-logs.log")).unwrap();
    let mut offset = 0u64;
    let lines: Vec<Line> = text
        .split_inclusive('\n')
        .map(|raw| {
            let line = Line {
                offset,
                bytes: raw.trim_end_matches('\n').as_bytes().to_vec(),
                truncated_from: None,
            };
            offset += raw.len() as u64;
            line
        })
        .collect();
    let now = Utc.with_ymd_and_hms(2025, 11, 1, 0, 0, 0).unwrap();
    let ctx = DecodeCtx {
        source: "cef-logs.log",
        now,
    };
    let out = decode_batch(Format::Cef, &lines, &ctx);
    for dl in &out.dead_letters {
        eprintln!("dead letter at {:?}: {}", dl.offset, dl.reason);
    }
    assert_eq!(
        (
            lines.len(),
            out.events.len(),
            out.ignored,
            out.dead_letters.len()
        ),
        (3, 3, 0, 0)
    );

    let mut checked = [0usize; 3];
    for a in crowdsec_assertions(&std::fs::read_to_string(dir.join("parser.assert")).unwrap()) {
        let ev = &out.events[a.line];
        let field = match (a.what, a.key.as_str()) {
            ("Parsed", "cef_device_vendor") => "cef.device.vendor".to_owned(),
            ("Parsed", "cef_device_product") => "cef.device.product".to_owned(),
            ("Parsed", "cef_device_version") => "cef.device.version".to_owned(),
            ("Parsed", "cef_signature_id") => "cef.device.event_class_id".to_owned(),
            ("Parsed", "cef_event_name") => "cef.name".to_owned(),
            ("Parsed", "cef_severity") => "cef.severity".to_owned(),
            ("Parsed", "cef_version") => "cef.version".to_owned(),
            ("Parsed", "hostname") => "host.hostname".to_owned(),
            ("Meta", "source_ip") => "source.ip".to_owned(),
            ("Meta", "destination_ip") => "destination.ip".to_owned(),
            ("Meta", "source_port") => "source.port".to_owned(),
            ("Meta", "destination_port") => "destination.port".to_owned(),
            ("Meta", "action") => "event.action".to_owned(),
            ("Meta", "message") => "message".to_owned(),
            ("Meta", "event_severity") => "event.severity".to_owned(),
            ("Meta", "event_signature_id") => "rule.id".to_owned(),
            ("Meta", "vendor") => "observer.vendor".to_owned(),
            ("Meta", "product") => "observer.product".to_owned(),
            ("Meta", "device_version") => "observer.version".to_owned(),
            ("Unmarshaled.unifi", key) => format!("cef.extensions.{key}"),
            _ => continue,
        };
        assert_eq!(
            ev.get(&field).map(|v| v.to_string()).as_deref(),
            Some(a.value.as_str()),
            "line {}: {field} ({} {})",
            a.line,
            a.what,
            a.key
        );
        checked[match a.what {
            "Parsed" => 0,
            "Meta" => 1,
            _ => 2,
        }] += 1;
    }
    eprintln!(
        "checked against CrowdSec: {} header fields, {} ECS fields, {} extension pairs",
        checked[0], checked[1], checked[2]
    );
    assert_eq!(checked, [22, 27, 65]);

    // The syslog-wrapped line takes its time from the header; the others
    // have neither `rt` nor a header and take the time of reading.
    assert_eq!(out.events[0].timestamp, now);
    assert_eq!(
        out.events[2].timestamp,
        Utc.with_ymd_and_hms(2025, 10, 26, 20, 1, 31).unwrap()
    );
}
