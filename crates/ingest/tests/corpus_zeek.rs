//! Zeek's two writers against each other, on brimdata's zed-sample-data
//! (WRCCDC 2018): `zeek-json/X.json.gz` and `zeek-default/X.log.gz` hold the
//! same records, so every log must decode without a dead letter, to the
//! counts in `record_counts.tsv`, and to identical events pairwise in file
//! order (time, dataset, fields, observables).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use flate2::read::GzDecoder;
use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, Format};
use riposte_model::{Event, FieldValue, Observable, ObservableKind};

fn ctx() -> DecodeCtx<'static> {
    DecodeCtx {
        source: "zeek-sample-data",
        now: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
    }
}

/// The events of one gzipped log, decoded line by line with one decoder.
struct Events {
    file: PathBuf,
    lines: std::io::Split<BufReader<GzDecoder<File>>>,
    decoder: Decoder,
    offset: u64,
    ignored: u64,
}

impl Events {
    fn open(file: PathBuf) -> Self {
        let reader = BufReader::new(GzDecoder::new(File::open(&file).unwrap()));
        Self {
            file,
            lines: reader.split(b'\n'),
            decoder: Decoder::new(Format::Zeek, &DecodeOptions::default()),
            offset: 0,
            ignored: 0,
        }
    }
}

impl Iterator for Events {
    type Item = Event;

    /// The next event; a record that fails to decode fails the test, naming
    /// the file, the offset and the reason.
    fn next(&mut self) -> Option<Event> {
        loop {
            let line = self.lines.next()?.unwrap();
            let offset = self.offset;
            self.offset += line.len() as u64 + 1;
            match self.decoder.decode(&line, offset, &ctx()) {
                Ok(Some(ev)) => return Some(ev),
                Ok(None) => self.ignored += 1,
                Err(e) => panic!(
                    "{} at byte {offset}: dead letter: {e}\n{}",
                    self.file.display(),
                    String::from_utf8_lossy(&line)
                ),
            }
        }
    }
}

/// What differs between two events of the same record, or `None`.
fn difference(json: &Event, tsv: &Event) -> Option<String> {
    if json.timestamp == tsv.timestamp
        && json.dataset == tsv.dataset
        && json.fields == tsv.fields
        && json.observables == tsv.observables
    {
        return None;
    }
    let mut out = Vec::new();
    if json.timestamp != tsv.timestamp {
        out.push(format!(
            "timestamp: json {} tsv {}",
            json.timestamp, tsv.timestamp
        ));
    }
    if json.dataset != tsv.dataset {
        out.push(format!(
            "dataset: json {} tsv {}",
            json.dataset, tsv.dataset
        ));
    }
    let names: std::collections::BTreeSet<&str> = json
        .fields
        .keys()
        .chain(tsv.fields.keys())
        .map(|k| k.as_str())
        .collect();
    for name in names {
        let (j, t) = (json.fields.get(name), tsv.fields.get(name));
        if j != t {
            out.push(format!("{name}: json {j:?} tsv {t:?}"));
        }
    }
    if json.observables != tsv.observables {
        out.push(format!(
            "observables: json {:?} tsv {:?}",
            json.observables, tsv.observables
        ));
    }
    (!out.is_empty()).then(|| out.join("\n  "))
}

struct Compared {
    events: u64,
    /// Header lines of the TSV file.
    tsv_ignored: u64,
    /// The first event (from JSON; the TSV one is equal).
    first: Option<Event>,
    /// For each field asked for: events that have it (`name`) and events
    /// per value (`name=value`).
    tally: BTreeMap<String, u64>,
}

/// Decodes both files of `log` in step and compares them; returns the
/// count and a tally of ECS values for the callers' exact checks.
fn compare(root: &Path, log: &str, tally_fields: &[&str]) -> Compared {
    let mut json = Events::open(root.join(format!("zeek-json/{log}.json.gz")));
    let mut tsv = Events::open(root.join(format!("zeek-default/{log}.log.gz")));
    let mut out = Compared {
        events: 0,
        tsv_ignored: 0,
        first: None,
        tally: BTreeMap::new(),
    };
    loop {
        match (json.next(), tsv.next()) {
            (None, None) => break,
            (Some(j), Some(t)) => {
                if let Some(diff) = difference(&j, &t) {
                    panic!(
                        "{log}: record {} differs between JSON and TSV:\n  {diff}\njson: {}\ntsv:  {}",
                        out.events,
                        j.original.as_deref().unwrap_or_default(),
                        t.original.as_deref().unwrap_or_default()
                    );
                }
                for f in tally_fields {
                    if let Some(v) = j.fields.get(f) {
                        *out.tally.entry((*f).to_owned()).or_default() += 1;
                        *out.tally.entry(format!("{f}={v}")).or_default() += 1;
                    }
                }
                if out.first.is_none() {
                    out.first = Some(j);
                }
                out.events += 1;
            }
            (j, _) => panic!(
                "{log}: {} has more events than {} after {}",
                if j.is_some() { "JSON" } else { "TSV" },
                if j.is_some() { "TSV" } else { "JSON" },
                out.events
            ),
        }
    }
    assert_eq!(json.ignored, 0, "{log}: JSON lines ignored");
    out.tsv_ignored = tsv.ignored;
    out
}

/// `record_counts.tsv`: log → (JSON records, TSV records).
fn record_counts(root: &Path) -> BTreeMap<String, (u64, u64)> {
    let text = std::fs::read_to_string(root.join("record_counts.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (
                cols[0].to_owned(),
                (cols[1].parse().unwrap(), cols[2].parse().unwrap()),
            )
        })
        .collect()
}

fn check(log: &str, tally_fields: &[&str]) -> Option<Compared> {
    let root = common::corpus("zeek-sample-data")?;
    let counts = record_counts(&root);
    let (json_n, tsv_n) = counts[log];
    assert_eq!(
        json_n, tsv_n,
        "{log}: record_counts.tsv disagrees with itself"
    );
    let started = std::time::Instant::now();
    let got = compare(&root, log, tally_fields);
    assert_eq!(got.events, json_n, "{log}: events");
    // Nine header lines: #separator … #types, and #close.
    assert_eq!(got.tsv_ignored, 9, "{log}: TSV header lines");
    eprintln!(
        "zeek {log}: {} records equal in JSON and TSV ({:.1?})",
        got.events,
        started.elapsed()
    );
    Some(got)
}

/// Logs checked by their own tests below; the rest are checked together.
const OWN_TEST: &[&str] = &["dns", "ssl", "weird", "notice", "ssh", "x509"];

#[test]
fn every_other_log_decodes_the_same_from_json_and_tsv() {
    let Some(root) = common::corpus("zeek-sample-data") else {
        return;
    };
    let counts = record_counts(&root);
    assert_eq!(counts.len(), 32, "logs in record_counts.tsv");
    let mut total = 0;
    for log in counts.keys().filter(|l| !OWN_TEST.contains(&l.as_str())) {
        total += check(log, &[]).unwrap().events;
    }
    let own: u64 = OWN_TEST.iter().map(|l| counts[*l].0).sum();
    assert_eq!(total + own, counts.values().map(|c| c.0).sum::<u64>());
    eprintln!(
        "zeek: {total} records in {} logs",
        counts.len() - OWN_TEST.len()
    );
}

fn s(v: &str) -> FieldValue {
    FieldValue::from(v)
}

#[test]
fn dns_decodes_the_same_and_maps_to_ecs() {
    let Some(got) = check("dns", &["dns.question.type", "network.transport"]) else {
        return;
    };
    assert_eq!(got.events, 53_615);
    // The counts below were taken from the TSV file with awk.
    assert_eq!(got.tally["network.transport=udp"], 53_609);
    assert_eq!(got.tally["network.transport=tcp"], 6);
    assert_eq!(got.tally["dns.question.type=A"], 35_525);
    assert_eq!(got.tally["dns.question.type=AAAA"], 12_597);
    assert_eq!(got.tally["dns.question.type=NBSTAT"], 3_834);
    assert_eq!(got.tally["dns.question.type=PTR"], 1_358);
    assert_eq!(got.tally["dns.question.type=SRV"], 180);
    // The first record, exactly.
    let ev = got.first.unwrap();
    assert_eq!(ev.dataset, "zeek.dns");
    assert_eq!(
        ev.timestamp,
        Utc.with_ymd_and_hms(2018, 3, 24, 17, 15, 20).unwrap()
            + chrono::TimeDelta::microseconds(865_716)
    );
    let want: Vec<(&str, FieldValue)> = vec![
        ("destination.ip", s("10.0.0.100")),
        ("destination.port", FieldValue::Int(53)),
        (
            "dns.answers.data",
            FieldValue::List(vec![s("ise.wrccdc.cpp.edu"), s("134.71.3.16")]),
        ),
        ("dns.header_flags", FieldValue::List(vec![s("RD"), s("RA")])),
        ("dns.id", s("36329")),
        ("dns.question.class", s("C_INTERNET")),
        ("dns.question.name", s("ise.wrccdc.org")),
        ("dns.question.type", s("A")),
        ("dns.resolved_ip", FieldValue::List(vec![s("134.71.3.16")])),
        ("dns.response_code", s("NOERROR")),
        ("event.category", s("network")),
        ("event.id", s("CqKst53mF3det3eDV9")),
        ("event.kind", s("event")),
        ("event.module", s("zeek")),
        ("network.protocol", s("dns")),
        ("network.transport", s("udp")),
        (
            "related.hosts",
            FieldValue::List(vec![s("ise.wrccdc.cpp.edu")]),
        ),
        ("related.ip", FieldValue::List(vec![s("134.71.3.16")])),
        ("source.ip", s("10.47.1.100")),
        ("source.port", FieldValue::Int(41772)),
        ("zeek.dns.AA", FieldValue::Bool(false)),
        ("zeek.dns.RA", FieldValue::Bool(true)),
        ("zeek.dns.RD", FieldValue::Bool(true)),
        ("zeek.dns.TC", FieldValue::Bool(false)),
        (
            "zeek.dns.TTLs",
            FieldValue::List(vec![FieldValue::Float(2230.0), FieldValue::Float(41830.0)]),
        ),
        ("zeek.dns.Z", FieldValue::Int(0)),
        (
            "zeek.dns.answers",
            FieldValue::List(vec![s("ise.wrccdc.cpp.edu"), s("134.71.3.16")]),
        ),
        ("zeek.dns.id.orig_h", s("10.47.1.100")),
        ("zeek.dns.id.orig_p", FieldValue::Int(41772)),
        ("zeek.dns.id.resp_h", s("10.0.0.100")),
        ("zeek.dns.id.resp_p", FieldValue::Int(53)),
        ("zeek.dns.proto", s("udp")),
        ("zeek.dns.qclass", FieldValue::Int(1)),
        ("zeek.dns.qclass_name", s("C_INTERNET")),
        ("zeek.dns.qtype", FieldValue::Int(1)),
        ("zeek.dns.qtype_name", s("A")),
        ("zeek.dns.query", s("ise.wrccdc.org")),
        ("zeek.dns.rcode", FieldValue::Int(0)),
        ("zeek.dns.rcode_name", s("NOERROR")),
        ("zeek.dns.rejected", FieldValue::Bool(false)),
        ("zeek.dns.rtt", FieldValue::Float(0.00087)),
        ("zeek.dns.trans_id", FieldValue::Int(36329)),
        ("zeek.dns.uid", s("CqKst53mF3det3eDV9")),
        ("zeek.session_id", s("CqKst53mF3det3eDV9")),
    ];
    let fields: Vec<(&str, FieldValue)> = ev
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(fields, want);
    assert_eq!(
        ev.observables,
        vec![
            Observable::new(ObservableKind::Ip, "10.47.1.100", Some("source.ip")),
            Observable::new(ObservableKind::Ip, "10.0.0.100", Some("destination.ip")),
            Observable::new(ObservableKind::Ip, "134.71.3.16", Some("related.ip")),
            Observable::new(
                ObservableKind::Domain,
                "ise.wrccdc.org",
                Some("dns.question.name")
            ),
            Observable::new(
                ObservableKind::Domain,
                "ise.wrccdc.cpp.edu",
                Some("related.hosts")
            ),
        ]
    );
}

#[test]
fn ssl_decodes_the_same_and_maps_to_ecs() {
    let Some(got) = check(
        "ssl",
        &[
            "tls.version",
            "tls.server.hash.sha256",
            "tls.client.server_name",
        ],
    ) else {
        return;
    };
    assert_eq!(got.events, 49_474);
    // From the TSV file with awk: the `version` column, and the rows with a
    // certificate chain and with a server name. `TLSv13-draft23` (30) has no
    // ECS version.
    assert_eq!(got.tally["tls.version"], 18_411);
    assert_eq!(got.tally["tls.version=1.0"], 5_096);
    assert_eq!(got.tally["tls.version=1.1"], 408);
    assert_eq!(got.tally["tls.version=1.2"], 12_087);
    assert_eq!(got.tally["tls.version=2.0"], 1);
    assert_eq!(got.tally["tls.version=3.0"], 819);
    assert_eq!(got.tally["tls.server.hash.sha256"], 9_975);
    assert_eq!(got.tally["tls.client.server_name"], 15_070);
    let ev = got.first.unwrap();
    assert_eq!(ev.get_str("tls.version"), Some("1.0"));
    assert_eq!(ev.get_str("tls.version_protocol"), Some("tls"));
    assert_eq!(
        ev.get_str("tls.cipher"),
        Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")
    );
    assert_eq!(
        ev.get_str("tls.server.hash.sha256"),
        Some("b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe")
    );
    assert_eq!(
        ev.get_str("zeek.ssl.validation_status"),
        Some("unable to get local issuer certificate")
    );
    assert_eq!(
        ev.get("zeek.ssl.client_cert_chain_fps"),
        Some(FieldValue::List(vec![]))
    );
    assert_eq!(ev.get("zeek.ssl.server_name"), None);
}

#[test]
fn weird_decodes_the_same_and_maps_to_ecs() {
    let Some(got) = check("weird", &["rule.name"]) else {
        return;
    };
    assert_eq!(got.events, 24_202);
    assert_eq!(
        got.tally["rule.name"], 24_202,
        "every weird has a rule.name"
    );
    assert_eq!(got.tally["rule.name=bad_HTTP_request"], 11_821);
    assert_eq!(
        got.tally["rule.name=line_terminated_with_single_CR"],
        11_738
    );
    assert_eq!(got.tally["rule.name=unknown_HTTP_method"], 155);
    let ev = got.first.unwrap();
    assert_eq!(
        ev.get_str("rule.name"),
        Some("TCP_ack_underflow_or_misorder")
    );
    assert_eq!(ev.get("zeek.weird.notice"), Some(FieldValue::Bool(false)));
}

#[test]
fn notice_is_207_invalid_server_cert_alerts() {
    let Some(got) = check("notice", &["rule.name", "event.kind"]) else {
        return;
    };
    assert_eq!(got.tally["rule.name=SSL::Invalid_Server_Cert"], 207);
    assert_eq!(got.tally["event.kind=alert"], 207);
    let ev = got.first.unwrap();
    assert_eq!(
        ev.get_str("message"),
        Some("SSL certificate validation failed with (unable to get local issuer certificate)")
    );
    assert_eq!(
        ev.get("zeek.notice.email_dest"),
        Some(FieldValue::List(vec![]))
    );
    assert_eq!(
        ev.get("zeek.notice.suppress_for"),
        Some(FieldValue::Float(3600.0))
    );
    assert_eq!(
        ev.get("zeek.notice.actions"),
        Some(FieldValue::List(vec![s("Notice::ACTION_LOG")]))
    );
}

#[test]
fn ssh_has_22_sessions_with_outcomes() {
    let Some(got) = check("ssh", &["event.outcome"]) else {
        return;
    };
    assert_eq!(got.events, 22);
    // auth_success is T in 5 sessions, F in 2, unset in 15.
    assert_eq!(got.tally["event.outcome=success"], 5);
    assert_eq!(got.tally["event.outcome=failure"], 2);
    assert_eq!(got.tally["event.outcome"], 7);
    let ev = got.first.unwrap();
    assert_eq!(
        ev.get("zeek.ssh.auth_success"),
        Some(FieldValue::Bool(true))
    );
    assert_eq!(ev.get_str("event.outcome"), Some("success"));
    assert_eq!(ev.get("zeek.ssh.auth_attempts"), Some(FieldValue::Int(1)));
}

#[test]
fn x509_decodes_the_same_and_maps_to_ecs() {
    let Some(got) = check("x509", &[]) else {
        return;
    };
    assert_eq!(got.events, 348);
    let ev = got.first.unwrap();
    assert_eq!(
        ev.get_str("file.hash.sha256"),
        Some("b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe")
    );
    assert_eq!(
        ev.get_str("file.x509.not_before"),
        Some("2011-09-10T12:15:02.000000Z")
    );
    assert_eq!(
        ev.get_str("file.x509.not_after"),
        Some("2023-03-11T12:15:02.000000Z")
    );
    assert_eq!(
        ev.get("file.x509.subject.common_name"),
        Some(FieldValue::List(vec![s("localhost.localdomain")]))
    );
    assert_eq!(
        ev.get("file.x509.public_key_exponent"),
        Some(FieldValue::Int(65537))
    );
    assert_eq!(
        ev.get_str("zeek.x509.certificate.subject"),
        Some(
            r"unstructuredName=1315656901\,564d7761726520496e632e,CN=localhost.localdomain,emailAddress=ssl-certificates@vmware.com,OU=VMware ESX Server Default Certificate,O=VMware\, Inc,L=Palo Alto,ST=California,C=US"
        )
    );
}
