//! The per-type objects of an EVE record (`http`, `dns`, `tls`, `flow`,
//! `fileinfo`, `anomaly`, `ssh`, `smtp`, `email`) and their mapping to ECS.
//!
//! They are read wherever they appear, not only in records of their own
//! `event_type`: an `alert` on HTTP traffic carries the `http` object, a
//! `fileinfo` record the `http` or `smtp` object of the transfer, and every
//! record of a flow may carry `flow` counters. Like the common section, they
//! deserialize into borrowing structs of [`Scalar`]s, so a value of the wrong
//! type is an error naming the field; the shapes Suricata's versions differ
//! in (DNS v1/v2/v3, an HTTP status as a number or a string) are all
//! accepted.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::SecondsFormat;
use riposte_model::{Event, FieldValue, Timestamp};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Scalar;
use crate::error::DecodeError;

/// The `http` object (<https://docs.suricata.io/en/latest/output/eve/eve-json-format.html#event-type-http>).
#[derive(Deserialize)]
#[serde(expecting = "an EVE http object")]
pub(super) struct Http<'a> {
    #[serde(borrow)]
    hostname: Option<Scalar<'a>>,
    #[serde(borrow)]
    http_port: Option<Scalar<'a>>,
    #[serde(borrow)]
    url: Option<Scalar<'a>>,
    #[serde(borrow)]
    http_user_agent: Option<Scalar<'a>>,
    #[serde(borrow)]
    http_content_type: Option<Scalar<'a>>,
    #[serde(borrow)]
    http_refer: Option<Scalar<'a>>,
    #[serde(borrow)]
    http_method: Option<Scalar<'a>>,
    #[serde(borrow)]
    protocol: Option<Scalar<'a>>,
    #[serde(borrow)]
    status: Option<Scalar<'a>>,
    #[serde(borrow)]
    length: Option<Scalar<'a>>,
    #[serde(borrow)]
    redirect: Option<Scalar<'a>>,
}

/// The `dns` object in all its shapes: v1 (one record per query or answer
/// RR, `rrname`/`rrtype`/`rdata` at the top), v2 (answers as `answers` or
/// `grouped`), v3 (Suricata 8: `request`/`response` with a `queries` array),
/// and the alert forms of Suricata 7 (`query` array, `answer` object).
#[derive(Deserialize)]
#[serde(expecting = "an EVE dns object")]
pub(super) struct Dns<'a> {
    #[serde(borrow)]
    version: Option<Scalar<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Scalar<'a>>,
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
    #[serde(borrow)]
    flags: Option<Scalar<'a>>,
    #[serde(borrow)]
    qr: Option<Scalar<'a>>,
    #[serde(borrow)]
    aa: Option<Scalar<'a>>,
    #[serde(borrow)]
    tc: Option<Scalar<'a>>,
    #[serde(borrow)]
    rd: Option<Scalar<'a>>,
    #[serde(borrow)]
    ra: Option<Scalar<'a>>,
    #[serde(borrow)]
    opcode: Option<Scalar<'a>>,
    #[serde(borrow)]
    rcode: Option<Scalar<'a>>,
    #[serde(borrow)]
    rrname: Option<Scalar<'a>>,
    #[serde(borrow)]
    rrtype: Option<Scalar<'a>>,
    #[serde(borrow)]
    rdata: Option<Scalar<'a>>,
    #[serde(borrow)]
    ttl: Option<Scalar<'a>>,
    #[serde(borrow)]
    queries: Option<Vec<DnsRr<'a>>>,
    #[serde(borrow)]
    answers: Option<Vec<DnsRr<'a>>>,
    #[serde(borrow)]
    grouped: Option<Grouped<'a>>,
    /// Suricata 7 alerts on a DNS request.
    #[serde(borrow)]
    query: Option<Vec<Dns<'a>>>,
    /// Suricata 7 alerts on a DNS response.
    #[serde(borrow)]
    answer: Option<Box<Dns<'a>>>,
}

/// One entry of `queries` or `answers`.
#[derive(Deserialize)]
#[serde(expecting = "an EVE dns query or answer object")]
struct DnsRr<'a> {
    #[serde(borrow)]
    rrname: Option<Scalar<'a>>,
    #[serde(borrow)]
    rrtype: Option<Scalar<'a>>,
    #[serde(borrow)]
    ttl: Option<Scalar<'a>>,
    #[serde(borrow)]
    rdata: Option<Scalar<'a>>,
}

/// The `tls` object.
#[derive(Deserialize)]
#[serde(expecting = "an EVE tls object")]
pub(super) struct Tls<'a> {
    #[serde(borrow)]
    sni: Option<Scalar<'a>>,
    #[serde(borrow)]
    version: Option<Scalar<'a>>,
    #[serde(borrow)]
    subject: Option<Scalar<'a>>,
    #[serde(borrow)]
    issuerdn: Option<Scalar<'a>>,
    #[serde(borrow)]
    serial: Option<Scalar<'a>>,
    #[serde(borrow)]
    fingerprint: Option<Scalar<'a>>,
    #[serde(borrow, alias = "not_before")]
    notbefore: Option<Scalar<'a>>,
    #[serde(borrow, alias = "not_after")]
    notafter: Option<Scalar<'a>>,
    #[serde(borrow)]
    session_resumed: Option<Scalar<'a>>,
    #[serde(borrow)]
    ja3: Option<Fingerprint<'a>>,
    #[serde(borrow)]
    ja3s: Option<Fingerprint<'a>>,
    #[serde(borrow)]
    ja4: Option<Scalar<'a>>,
}

/// `ja3`, `ja3s` and `hassh`: a hash and the string it was computed over.
#[derive(Deserialize)]
#[serde(expecting = "an object with hash and string")]
struct Fingerprint<'a> {
    #[serde(borrow)]
    hash: Option<Scalar<'a>>,
    #[serde(borrow)]
    string: Option<Scalar<'a>>,
}

/// The `flow` object: counters so far (in alerts) or final (in `flow`
/// records).
#[derive(Deserialize)]
#[serde(expecting = "an EVE flow object")]
pub(super) struct Flow<'a> {
    #[serde(borrow)]
    pkts_toserver: Option<Scalar<'a>>,
    #[serde(borrow)]
    pkts_toclient: Option<Scalar<'a>>,
    #[serde(borrow)]
    bytes_toserver: Option<Scalar<'a>>,
    #[serde(borrow)]
    bytes_toclient: Option<Scalar<'a>>,
    #[serde(borrow)]
    start: Option<Scalar<'a>>,
    #[serde(borrow)]
    end: Option<Scalar<'a>>,
    #[serde(borrow)]
    age: Option<Scalar<'a>>,
    #[serde(borrow)]
    state: Option<Scalar<'a>>,
    #[serde(borrow)]
    reason: Option<Scalar<'a>>,
    #[serde(borrow)]
    alerted: Option<Scalar<'a>>,
}

/// The `fileinfo` object.
#[derive(Deserialize)]
#[serde(expecting = "an EVE fileinfo object")]
pub(super) struct FileInfo<'a> {
    #[serde(borrow)]
    filename: Option<Scalar<'a>>,
    #[serde(borrow)]
    magic: Option<Scalar<'a>>,
    #[serde(borrow)]
    md5: Option<Scalar<'a>>,
    #[serde(borrow)]
    sha1: Option<Scalar<'a>>,
    #[serde(borrow)]
    sha256: Option<Scalar<'a>>,
    #[serde(borrow)]
    size: Option<Scalar<'a>>,
    #[serde(borrow)]
    state: Option<Scalar<'a>>,
    #[serde(borrow)]
    stored: Option<Scalar<'a>>,
    #[serde(borrow)]
    gaps: Option<Scalar<'a>>,
    #[serde(borrow)]
    file_id: Option<Scalar<'a>>,
}

/// The `anomaly` object.
#[derive(Deserialize)]
#[serde(expecting = "an EVE anomaly object")]
pub(super) struct Anomaly<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Scalar<'a>>,
    #[serde(borrow)]
    event: Option<Scalar<'a>>,
    #[serde(borrow)]
    layer: Option<Scalar<'a>>,
    #[serde(borrow)]
    code: Option<Scalar<'a>>,
}

/// The `ssh` object.
#[derive(Deserialize)]
#[serde(expecting = "an EVE ssh object")]
pub(super) struct Ssh<'a> {
    #[serde(borrow)]
    client: Option<SshSide<'a>>,
    #[serde(borrow)]
    server: Option<SshSide<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an EVE ssh client or server object")]
struct SshSide<'a> {
    #[serde(borrow)]
    proto_version: Option<Scalar<'a>>,
    #[serde(borrow)]
    software_version: Option<Scalar<'a>>,
    #[serde(borrow)]
    hassh: Option<Fingerprint<'a>>,
}

/// The `smtp` object: the SMTP envelope.
#[derive(Deserialize)]
#[serde(expecting = "an EVE smtp object")]
pub(super) struct Smtp<'a> {
    #[serde(borrow)]
    helo: Option<Scalar<'a>>,
    #[serde(borrow)]
    mail_from: Option<Scalar<'a>>,
    #[serde(borrow)]
    rcpt_to: Option<List<'a>>,
}

/// The `email` object: the message's headers and attachments.
#[derive(Deserialize)]
#[serde(expecting = "an EVE email object")]
pub(super) struct Email<'a> {
    #[serde(borrow)]
    status: Option<Scalar<'a>>,
    #[serde(borrow)]
    from: Option<Scalar<'a>>,
    #[serde(borrow)]
    to: Option<List<'a>>,
    #[serde(borrow)]
    cc: Option<List<'a>>,
    #[serde(borrow)]
    subject: Option<Scalar<'a>>,
    #[serde(borrow)]
    message_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    x_mailer: Option<Scalar<'a>>,
    #[serde(borrow)]
    attachment: Option<List<'a>>,
}

// ---------------------------------------------------------------------------
// Mapping to ECS.

pub(super) fn apply_http(ev: &mut Event, h: &Http<'_>) -> Result<(), DecodeError> {
    set_str(ev, "url.domain", &h.hostname, "http.hostname")?;
    if let Some(v) = present(&h.http_port) {
        ev.set("url.port", v.port("http.http_port")?);
    }
    if let Some(url) = opt_str(&h.url, "http.url")? {
        ev.set("url.original", url);
        let (path, query) = split_url(url);
        if !path.is_empty() {
            ev.set("url.path", path);
        }
        if let Some(query) = query {
            ev.set("url.query", query);
        }
    }
    set_str(
        ev,
        "http.request.method",
        &h.http_method,
        "http.http_method",
    )?;
    set_str(
        ev,
        "user_agent.original",
        &h.http_user_agent,
        "http.http_user_agent",
    )?;
    set_str(
        ev,
        "http.request.referrer",
        &h.http_refer,
        "http.http_refer",
    )?;
    set_str(
        ev,
        "http.response.mime_type",
        &h.http_content_type,
        "http.http_content_type",
    )?;
    set_str(
        ev,
        "suricata.eve.http.redirect",
        &h.redirect,
        "http.redirect",
    )?;
    if let Some(v) = opt_i64(&h.length, "http.length")? {
        ev.set("http.response.body.bytes", v);
    }
    if let Some(protocol) = opt_str(&h.protocol, "http.protocol")? {
        // ECS wants the bare version ("1.1"), Suricata writes "HTTP/1.1".
        let version = protocol
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("HTTP/"))
            .map_or(protocol, |_| &protocol[5..]);
        ev.set("http.version", version);
    }
    match present(&h.status) {
        None => {}
        // Suricata writes the status as a number when it is one and as the
        // raw text otherwise (and older versions always as text).
        Some(Scalar::Str(s)) => match s.parse::<u16>() {
            Ok(code) => ev.set_static("http.response.status_code", i64::from(code)),
            Err(_) => ev.set("suricata.eve.http.status", s.as_ref()),
        },
        Some(v) => ev.set_static("http.response.status_code", v.i64("http.status")?),
    }
    Ok(())
}

/// `/a/b?x=1` → (`/a/b`, `x=1`); an absolute URI (a proxy request) loses
/// its scheme and authority first.
fn split_url(url: &str) -> (&str, Option<&str>) {
    let mut rest = url;
    if let Some(at) = url.find("://") {
        let after = &url[at + 3..];
        rest = after.find(['/', '?']).map_or("", |p| &after[p..]);
    }
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

pub(super) fn apply_dns(ev: &mut Event, dns: &Dns<'_>) -> Result<(), DecodeError> {
    // Suricata 7 alerts wrap the record: one level, no further.
    if let Some(first) = dns.query.as_deref().and_then(<[Dns<'_>]>::first) {
        apply_dns_message(ev, first)?;
    }
    if let Some(answer) = &dns.answer {
        apply_dns_message(ev, answer)?;
    }
    apply_dns_message(ev, dns)
}

fn apply_dns_message(ev: &mut Event, dns: &Dns<'_>) -> Result<(), DecodeError> {
    if let Some(kind) = opt_str(&dns.kind, "dns.type")? {
        match kind {
            "query" | "request" => ev.set("dns.type", "query"),
            "answer" | "response" => ev.set("dns.type", "answer"),
            other => ev.set("suricata.eve.dns.type", other),
        }
    }
    if let Some(v) = opt_i64(&dns.version, "dns.version")? {
        ev.set("suricata.eve.dns.version", v);
    }
    if let Some(v) = opt_i64(&dns.id, "dns.id")? {
        // ECS keeps the id as a keyword.
        ev.set("dns.id", v.to_string());
    }
    set_str(ev, "suricata.eve.dns.flags", &dns.flags, "dns.flags")?;
    if let Some(v) = opt_i64(&dns.opcode, "dns.opcode")? {
        ev.set("suricata.eve.dns.opcode", v);
    }
    set_str(ev, "dns.response_code", &dns.rcode, "dns.rcode")?;
    let mut flags = Vec::new();
    for (v, field, name) in [
        (&dns.aa, "dns.aa", "AA"),
        (&dns.tc, "dns.tc", "TC"),
        (&dns.rd, "dns.rd", "RD"),
        (&dns.ra, "dns.ra", "RA"),
    ] {
        if opt_bool(v, field)? == Some(true) {
            flags.push(FieldValue::from(name));
        }
    }
    if opt_bool(&dns.qr, "dns.qr")? == Some(true) {
        flags.insert(0, FieldValue::from("QR"));
    }
    if !flags.is_empty() {
        ev.set("dns.header_flags", flags);
    }

    // The question: v3 lists it in `queries`, v1 and v2 put it at the top.
    if let Some(q) = dns.queries.as_deref().and_then(<[DnsRr<'_>]>::first) {
        set_str(ev, "dns.question.name", &q.rrname, "dns.queries.rrname")?;
        set_str(ev, "dns.question.type", &q.rrtype, "dns.queries.rrtype")?;
    } else {
        set_str(ev, "dns.question.name", &dns.rrname, "dns.rrname")?;
        set_str(ev, "dns.question.type", &dns.rrtype, "dns.rrtype")?;
    }

    let mut answers = Answers::default();
    if let Some(list) = &dns.answers {
        for rr in list {
            answers.push(
                opt_str(&rr.rrname, "dns.answers.rrname")?,
                opt_str(&rr.rrtype, "dns.answers.rrtype")?,
                opt_i64(&rr.ttl, "dns.answers.ttl")?,
                present(&rr.rdata).and_then(text),
            );
        }
    } else if let Some(grouped) = &dns.grouped {
        for (rrtype, values) in &grouped.0 {
            for value in &values.0 {
                answers.push(None, Some(rrtype), None, text(value));
            }
        }
    } else if present(&dns.rdata).is_some() {
        // v1: one answer RR per record, described at the top.
        answers.push(
            opt_str(&dns.rrname, "dns.rrname")?,
            opt_str(&dns.rrtype, "dns.rrtype")?,
            opt_i64(&dns.ttl, "dns.ttl")?,
            present(&dns.rdata).and_then(text),
        );
    }
    answers.set(ev);
    Ok(())
}

/// `dns.answers.*` as parallel lists. Answers without textual data (SOA
/// and SRV objects in v2/v3) have a name and type but no `data` entry.
#[derive(Default)]
struct Answers {
    name: Vec<FieldValue>,
    kind: Vec<FieldValue>,
    ttl: Vec<FieldValue>,
    data: Vec<FieldValue>,
    resolved_ip: Vec<FieldValue>,
}

impl Answers {
    fn push(
        &mut self,
        name: Option<&str>,
        kind: Option<&str>,
        ttl: Option<i64>,
        data: Option<&str>,
    ) {
        if let Some(name) = name {
            self.name.push(name.into());
        }
        if let Some(kind) = kind {
            self.kind.push(kind.into());
        }
        if let Some(ttl) = ttl {
            self.ttl.push(ttl.into());
        }
        if let Some(data) = data {
            self.data.push(data.into());
            if matches!(kind, Some("A" | "AAAA"))
                && let Ok(ip) = data.parse::<std::net::IpAddr>()
            {
                self.resolved_ip.push(ip.to_canonical().to_string().into());
            }
        }
    }

    fn set(self, ev: &mut Event) {
        for (name, list) in [
            ("dns.answers.name", self.name),
            ("dns.answers.type", self.kind),
            ("dns.answers.ttl", self.ttl),
            ("dns.answers.data", self.data),
            ("dns.resolved_ip", self.resolved_ip),
        ] {
            if !list.is_empty() {
                ev.set(name, list);
            }
        }
    }
}

pub(super) fn apply_tls(ev: &mut Event, tls: &Tls<'_>) -> Result<(), DecodeError> {
    set_str(ev, "tls.client.server_name", &tls.sni, "tls.sni")?;
    if let Some(version) = opt_str(&tls.version, "tls.version")? {
        match tls_version(version) {
            Some((protocol, number)) => {
                ev.set("tls.version_protocol", protocol);
                ev.set("tls.version", number);
            }
            None => ev.set("suricata.eve.tls.version", version),
        }
    }
    set_str(
        ev,
        "tls.server.x509.subject.distinguished_name",
        &tls.subject,
        "tls.subject",
    )?;
    set_str(
        ev,
        "tls.server.x509.issuer.distinguished_name",
        &tls.issuerdn,
        "tls.issuerdn",
    )?;
    if let Some(serial) = opt_str(&tls.serial, "tls.serial")? {
        ev.set_static("tls.server.x509.serial_number", serial.replace(':', ""));
    }
    if let Some(fp) = opt_str(&tls.fingerprint, "tls.fingerprint")? {
        ev.set(
            "tls.server.hash.sha1",
            fp.replace(':', "").to_ascii_lowercase(),
        );
    }
    set_str(ev, "tls.server.not_before", &tls.notbefore, "tls.notbefore")?;
    set_str(ev, "tls.server.not_after", &tls.notafter, "tls.notafter")?;
    if let Some(b) = opt_bool(&tls.session_resumed, "tls.session_resumed")? {
        ev.set("tls.resumed", b);
    }
    if let Some(ja3) = &tls.ja3 {
        set_str(ev, "tls.client.ja3", &ja3.hash, "tls.ja3.hash")?;
        set_str(
            ev,
            "suricata.eve.tls.ja3.string",
            &ja3.string,
            "tls.ja3.string",
        )?;
    }
    if let Some(ja3s) = &tls.ja3s {
        set_str(ev, "tls.server.ja3s", &ja3s.hash, "tls.ja3s.hash")?;
        set_str(
            ev,
            "suricata.eve.tls.ja3s.string",
            &ja3s.string,
            "tls.ja3s.string",
        )?;
    }
    set_str(ev, "suricata.eve.tls.ja4", &tls.ja4, "tls.ja4")?;
    Ok(())
}

/// Suricata's `TLS 1.2` / `SSLv3` as ECS `(version_protocol, version)`.
fn tls_version(v: &str) -> Option<(&'static str, String)> {
    if let Some(n) = v.strip_prefix("TLS ").or_else(|| v.strip_prefix("TLSv")) {
        return is_version_number(n).then(|| ("tls", n.to_owned()));
    }
    let n = v.strip_prefix("SSLv").or_else(|| v.strip_prefix("SSL "))?;
    if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() {
        return Some(("ssl", format!("{n}.0")));
    }
    is_version_number(n).then(|| ("ssl", n.to_owned()))
}

fn is_version_number(s: &str) -> bool {
    s.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

pub(super) fn apply_flow(ev: &mut Event, flow: &Flow<'_>) -> Result<(), DecodeError> {
    let pkts_ts = opt_i64(&flow.pkts_toserver, "flow.pkts_toserver")?;
    let pkts_tc = opt_i64(&flow.pkts_toclient, "flow.pkts_toclient")?;
    let bytes_ts = opt_i64(&flow.bytes_toserver, "flow.bytes_toserver")?;
    let bytes_tc = opt_i64(&flow.bytes_toclient, "flow.bytes_toclient")?;
    for (name, v) in [
        ("source.packets", pkts_ts),
        ("destination.packets", pkts_tc),
        ("source.bytes", bytes_ts),
        ("destination.bytes", bytes_tc),
    ] {
        if let Some(v) = v {
            ev.set(name, v);
        }
    }
    if let (Some(a), Some(b)) = (pkts_ts, pkts_tc)
        && let Some(sum) = a.checked_add(b)
    {
        ev.set("network.packets", sum);
    }
    if let (Some(a), Some(b)) = (bytes_ts, bytes_tc)
        && let Some(sum) = a.checked_add(b)
    {
        ev.set("network.bytes", sum);
    }
    let start = opt_time(&flow.start, "flow.start")?;
    let end = opt_time(&flow.end, "flow.end")?;
    if let Some(t) = start {
        ev.set("event.start", rfc3339(t));
    }
    if let Some(t) = end {
        ev.set("event.end", rfc3339(t));
    }
    if let (Some(start), Some(end)) = (start, end)
        && let Some(nanos) = (end - start).num_nanoseconds()
        && nanos >= 0
    {
        ev.set("event.duration", nanos);
    }
    if let Some(v) = opt_i64(&flow.age, "flow.age")? {
        ev.set("suricata.eve.flow.age", v);
    }
    set_str(ev, "suricata.eve.flow.state", &flow.state, "flow.state")?;
    set_str(ev, "suricata.eve.flow.reason", &flow.reason, "flow.reason")?;
    if let Some(b) = opt_bool(&flow.alerted, "flow.alerted")? {
        ev.set_static("suricata.eve.flow.alerted", b);
    }
    Ok(())
}

pub(super) fn apply_fileinfo(ev: &mut Event, f: &FileInfo<'_>) -> Result<(), DecodeError> {
    if let Some(name) = opt_str(&f.filename, "fileinfo.filename")? {
        // Suricata's filename is a URI path for HTTP, a share path for SMB,
        // the attachment's name for SMTP: ECS splits name and path.
        match name.rfind(['/', '\\']) {
            Some(i) if i + 1 < name.len() => {
                ev.set("file.name", &name[i + 1..]);
                ev.set("file.path", name);
            }
            Some(_) => ev.set("file.path", name),
            None => ev.set("file.name", name),
        }
    }
    set_str(ev, "file.hash.md5", &f.md5, "fileinfo.md5")?;
    set_str(ev, "file.hash.sha1", &f.sha1, "fileinfo.sha1")?;
    set_str(ev, "file.hash.sha256", &f.sha256, "fileinfo.sha256")?;
    if let Some(v) = opt_i64(&f.size, "fileinfo.size")? {
        ev.set("file.size", v);
    }
    // libmagic's description ("PE32 executable …"), not a MIME type.
    set_str(
        ev,
        "suricata.eve.fileinfo.magic",
        &f.magic,
        "fileinfo.magic",
    )?;
    set_str(
        ev,
        "suricata.eve.fileinfo.state",
        &f.state,
        "fileinfo.state",
    )?;
    if let Some(b) = opt_bool(&f.stored, "fileinfo.stored")? {
        ev.set_static("suricata.eve.fileinfo.stored", b);
    }
    if let Some(b) = opt_bool(&f.gaps, "fileinfo.gaps")? {
        ev.set_static("suricata.eve.fileinfo.gaps", b);
    }
    if let Some(v) = opt_i64(&f.file_id, "fileinfo.file_id")? {
        ev.set_static("suricata.eve.fileinfo.file_id", v);
    }
    Ok(())
}

pub(super) fn apply_anomaly(ev: &mut Event, a: &Anomaly<'_>) -> Result<(), DecodeError> {
    set_str(ev, "suricata.eve.anomaly.type", &a.kind, "anomaly.type")?;
    set_str(ev, "suricata.eve.anomaly.event", &a.event, "anomaly.event")?;
    set_str(ev, "suricata.eve.anomaly.layer", &a.layer, "anomaly.layer")?;
    if let Some(v) = opt_i64(&a.code, "anomaly.code")? {
        ev.set_static("suricata.eve.anomaly.code", v);
    }
    Ok(())
}

pub(super) fn apply_ssh(ev: &mut Event, ssh: &Ssh<'_>) -> Result<(), DecodeError> {
    for (side, names) in [
        (
            &ssh.client,
            [
                "suricata.eve.ssh.client.proto_version",
                "suricata.eve.ssh.client.software_version",
                "suricata.eve.ssh.client.hassh.hash",
            ],
        ),
        (
            &ssh.server,
            [
                "suricata.eve.ssh.server.proto_version",
                "suricata.eve.ssh.server.software_version",
                "suricata.eve.ssh.server.hassh.hash",
            ],
        ),
    ] {
        let Some(side) = side else { continue };
        set_str(ev, names[0], &side.proto_version, "ssh.proto_version")?;
        set_str(ev, names[1], &side.software_version, "ssh.software_version")?;
        if let Some(h) = &side.hassh {
            set_str(ev, names[2], &h.hash, "ssh.hassh.hash")?;
        }
    }
    Ok(())
}

/// The envelope gives `email.from.address` and `email.to.address`; the
/// message headers of the `email` object only fill them when there is no
/// envelope, and are kept as written under `suricata.eve.email.*`.
pub(super) fn apply_smtp(ev: &mut Event, smtp: &Smtp<'_>) -> Result<(), DecodeError> {
    set_str(ev, "suricata.eve.smtp.helo", &smtp.helo, "smtp.helo")?;
    if let Some(from) = opt_str(&smtp.mail_from, "smtp.mail_from")?
        && let Some(addr) = mail_address(from)
    {
        ev.set("email.from.address", addr);
    }
    if let Some(rcpt) = &smtp.rcpt_to {
        let to = addresses(rcpt, "smtp.rcpt_to")?;
        if !to.is_empty() {
            ev.set("email.to.address", to);
        }
    }
    Ok(())
}

pub(super) fn apply_email(ev: &mut Event, email: &Email<'_>) -> Result<(), DecodeError> {
    set_str(
        ev,
        "suricata.eve.email.status",
        &email.status,
        "email.status",
    )?;
    set_str(ev, "email.subject", &email.subject, "email.subject")?;
    set_str(
        ev,
        "email.message_id",
        &email.message_id,
        "email.message_id",
    )?;
    set_str(ev, "email.x_mailer", &email.x_mailer, "email.x_mailer")?;
    if let Some(from) = opt_str(&email.from, "email.from")? {
        ev.set("suricata.eve.email.from", from);
        if !ev.fields.contains_key("email.from.address")
            && let Some(addr) = mail_address(from)
        {
            ev.set("email.from.address", addr);
        }
    }
    if let Some(to) = &email.to {
        ev.set("suricata.eve.email.to", to.strings("email.to")?);
        let addrs = addresses(to, "email.to")?;
        if !ev.fields.contains_key("email.to.address") && !addrs.is_empty() {
            ev.set("email.to.address", addrs);
        }
    }
    if let Some(cc) = &email.cc {
        let addrs = addresses(cc, "email.cc")?;
        if !addrs.is_empty() {
            ev.set("email.cc.address", addrs);
        }
    }
    if let Some(att) = &email.attachment {
        let names = att.strings("email.attachment")?;
        if !names.is_empty() {
            ev.set_static("email.attachments.file.name", names);
        }
    }
    Ok(())
}

/// The address of `"Name" <a@b>`, `<a@b>` or `a@b`; `None` for the null
/// sender `<>`.
fn mail_address(s: &str) -> Option<&str> {
    let s = s.trim();
    let addr = match s.rfind('<') {
        Some(open) => {
            let inner = &s[open + 1..];
            inner.find('>').map_or(inner, |close| &inner[..close])
        }
        None => s,
    };
    let addr = addr.trim();
    (!addr.is_empty()).then_some(addr)
}

fn addresses(list: &List<'_>, field: &'static str) -> Result<Vec<FieldValue>, DecodeError> {
    let mut out = Vec::with_capacity(list.0.len());
    for item in &list.0 {
        match item {
            Scalar::Null => {}
            Scalar::Str(s) => {
                if let Some(addr) = mail_address(s) {
                    out.push(addr.into());
                }
            }
            other => return Err(other.wrong(field, "a list of strings")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Reading optional scalars. `null` counts as absent.

/// Textual answer data; SOA, SRV and other structured data have none.
fn text<'s>(v: &'s Scalar<'_>) -> Option<&'s str> {
    match v {
        Scalar::Str(s) => Some(s),
        _ => None,
    }
}

fn present<'s, 'a>(v: &'s Option<Scalar<'a>>) -> Option<&'s Scalar<'a>> {
    v.as_ref().filter(|s| !matches!(s, Scalar::Null))
}

fn opt_str<'s>(
    v: &'s Option<Scalar<'_>>,
    field: &'static str,
) -> Result<Option<&'s str>, DecodeError> {
    present(v).map(|s| s.str(field)).transpose()
}

fn opt_i64(v: &Option<Scalar<'_>>, field: &'static str) -> Result<Option<i64>, DecodeError> {
    present(v).map(|s| s.i64(field)).transpose()
}

fn opt_bool(v: &Option<Scalar<'_>>, field: &'static str) -> Result<Option<bool>, DecodeError> {
    present(v)
        .map(|s| match s {
            Scalar::Bool(b) => Ok(*b),
            other => Err(other.wrong(field, "a boolean")),
        })
        .transpose()
}

fn opt_time(v: &Option<Scalar<'_>>, field: &'static str) -> Result<Option<Timestamp>, DecodeError> {
    let Some(v) = present(v) else {
        return Ok(None);
    };
    crate::time::parse(v.str(field)?)
        .map(Some)
        .ok_or_else(|| v.wrong(field, "a timestamp"))
}

fn set_str(
    ev: &mut Event,
    name: &str,
    v: &Option<Scalar<'_>>,
    field: &'static str,
) -> Result<(), DecodeError> {
    if let Some(s) = opt_str(v, field)? {
        ev.set(name, s);
    }
    Ok(())
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

// ---------------------------------------------------------------------------
// Lists and maps of scalars.

/// A JSON array of scalars (a lone scalar is taken as a list of one).
/// Nested arrays and objects are kept as [`Scalar::Array`] /
/// [`Scalar::Object`] markers so that a list of the wrong shape is an error
/// naming the field, not a silent gap.
pub(super) struct List<'a>(Vec<Scalar<'a>>);

impl List<'_> {
    /// The strings of the list; `null` items are skipped.
    fn strings(&self, field: &'static str) -> Result<Vec<FieldValue>, DecodeError> {
        let mut out = Vec::with_capacity(self.0.len());
        for item in &self.0 {
            match item {
                Scalar::Null => {}
                Scalar::Str(s) => out.push(s.as_ref().into()),
                other => return Err(other.wrong(field, "a list of strings")),
            }
        }
        Ok(out)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for List<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ListVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ListVisitor<'a> {
    type Value = List<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Scalar<'a>>()? {
            items.push(item);
        }
        Ok(List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(List(vec![Scalar::Object]))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(List(vec![Scalar::Bool(v)]))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(List(vec![Scalar::I64(v)]))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(List(vec![Scalar::U64(v)]))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(List(vec![Scalar::F64(v)]))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(List(vec![Scalar::Str(Cow::Borrowed(v))]))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(List(vec![Scalar::Str(Cow::Owned(v.to_owned()))]))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(List(Vec::new()))
    }
}

/// DNS v2/v3 `grouped` answers: record type → list of data. Non-string data
/// (SOA, SRV objects) are skipped when the answers are flattened.
pub(super) struct Grouped<'a>(Vec<(Cow<'a, str>, List<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Grouped<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(GroupedVisitor(PhantomData))
    }
}

struct GroupedVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for GroupedVisitor<'a> {
    type Value = Grouped<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an EVE dns grouped object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<Scalar<'a>>()? {
            let Scalar::Str(key) = key else {
                return Err(de::Error::custom("dns.grouped keys must be strings"));
            };
            out.push((key, map.next_value::<List<'a>>()?));
        }
        Ok(Grouped(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use riposte_model::{Observable, ObservableKind};

    use super::*;
    use crate::suricata::decode;

    /// The fields every fixture below gets from [`record`]'s common section.
    const COMMON: [&str; 9] = [
        "destination.ip",
        "destination.port",
        "event.category",
        "event.kind",
        "event.module",
        "network.transport",
        "source.ip",
        "source.port",
        "suricata.eve.flow_id",
    ];

    /// A one-line EVE record of `event_type` with the common section and
    /// `body` (the per-type objects, as JSON members).
    fn record(event_type: &str, body: &str) -> String {
        format!(
            r#"{{"timestamp":"2026-03-14T09:30:00.000000+0000","flow_id":11,"in_iface":"eth0","event_type":"{event_type}","src_ip":"192.0.2.10","src_port":51000,"dest_ip":"198.51.100.80","dest_port":80,"proto":"TCP","tx_id":0,{body}}}"#
        )
    }

    fn decode_ok(text: &str) -> Event {
        decode(text).unwrap().unwrap()
    }

    /// The event's fields beyond the common section (and the interface).
    fn specific(ev: &Event) -> Vec<(&str, FieldValue)> {
        ev.fields
            .iter()
            .filter(|(k, _)| {
                !COMMON.contains(&k.as_str()) && k.as_str() != "observer.ingress.interface.name"
            })
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    }

    fn s(v: &str) -> FieldValue {
        FieldValue::from(v)
    }

    fn i(v: i64) -> FieldValue {
        FieldValue::Int(v)
    }

    fn list(items: &[&str]) -> FieldValue {
        FieldValue::List(items.iter().map(|v| s(v)).collect())
    }

    fn obs(kind: ObservableKind, value: &str, field: &str) -> Observable {
        Observable::new(kind, value, Some(field))
    }

    #[test]
    fn http_record_maps_to_url_http_and_user_agent() {
        let ev = decode_ok(&record(
            "http",
            r#""http":{"hostname":"www.example.com","http_port":8080,"url":"/download/setup.exe?id=7&x=%20","http_user_agent":"curl/8.5.0","http_content_type":"application/octet-stream","http_refer":"http://ref.example.org/","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":53248,"redirect":"/elsewhere","request_headers":[{"name":"Host","value":"x"}]}"#,
        ));
        assert_eq!(ev.dataset, "suricata.http");
        for name in COMMON {
            assert!(ev.fields.contains_key(name), "{name}");
        }
        assert_eq!(ev.get_str("event.category"), Some("network"));
        assert_eq!(
            specific(&ev),
            vec![
                ("http.request.method", s("GET")),
                ("http.request.referrer", s("http://ref.example.org/")),
                ("http.response.body.bytes", i(53248)),
                ("http.response.mime_type", s("application/octet-stream")),
                ("http.response.status_code", i(200)),
                ("http.version", s("1.1")),
                ("suricata.eve.http.redirect", s("/elsewhere")),
                ("url.domain", s("www.example.com")),
                ("url.original", s("/download/setup.exe?id=7&x=%20")),
                ("url.path", s("/download/setup.exe")),
                ("url.port", i(8080)),
                ("url.query", s("id=7&x=%20")),
                ("user_agent.original", s("curl/8.5.0")),
            ]
        );
        assert_eq!(
            ev.observables,
            vec![
                obs(ObservableKind::Ip, "192.0.2.10", "source.ip"),
                obs(ObservableKind::Ip, "198.51.100.80", "destination.ip"),
                obs(ObservableKind::Domain, "www.example.com", "url.domain"),
            ]
        );
    }

    #[test]
    fn http_status_as_text_and_absolute_urls() {
        let ev = decode_ok(&record(
            "http",
            r#""http":{"hostname":"proxy.example","url":"http://a.example:3128/p/q?z=1","status":"404","protocol":"HTTP/1.0"}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("http.response.status_code", i(404)),
                ("http.version", s("1.0")),
                ("url.domain", s("proxy.example")),
                ("url.original", s("http://a.example:3128/p/q?z=1")),
                ("url.path", s("/p/q")),
                ("url.query", s("z=1")),
            ]
        );
        assert!(ev.observables.contains(&obs(
            ObservableKind::Url,
            "http://a.example:3128/p/q?z=1",
            "url.original"
        )));

        let ev = decode_ok(&record(
            "http",
            r#""http":{"url":"http://b.example","status":"junk","protocol":"HTTP/2"}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("http.version", s("2")),
                ("suricata.eve.http.status", s("junk")),
                ("url.original", s("http://b.example")),
            ]
        );
    }

    #[test]
    fn dns_v1_query_and_answer() {
        let ev = decode_ok(&record(
            "dns",
            r#""dns":{"type":"query","id":16000,"rrname":"Twitter.com","rrtype":"A","tx_id":0}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("dns.id", s("16000")),
                ("dns.question.name", s("Twitter.com")),
                ("dns.question.type", s("A")),
                ("dns.type", s("query")),
            ]
        );
        assert!(ev.observables.contains(&obs(
            ObservableKind::Domain,
            "twitter.com",
            "dns.question.name"
        )));

        let ev = decode_ok(&record(
            "dns",
            r#""dns":{"type":"answer","id":16000,"flags":"8180","qr":true,"rd":true,"ra":true,"aa":false,"rcode":"NOERROR","rrname":"twitter.com","rrtype":"A","ttl":8,"rdata":"199.16.156.6"}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("dns.answers.data", list(&["199.16.156.6"])),
                ("dns.answers.name", list(&["twitter.com"])),
                ("dns.answers.ttl", FieldValue::List(vec![i(8)])),
                ("dns.answers.type", list(&["A"])),
                ("dns.header_flags", list(&["QR", "RD", "RA"])),
                ("dns.id", s("16000")),
                ("dns.question.name", s("twitter.com")),
                ("dns.question.type", s("A")),
                ("dns.resolved_ip", list(&["199.16.156.6"])),
                ("dns.response_code", s("NOERROR")),
                ("dns.type", s("answer")),
                ("suricata.eve.dns.flags", s("8180")),
            ]
        );
    }

    #[test]
    fn dns_v2_detailed_and_grouped_answers() {
        let ev = decode_ok(&record(
            "dns",
            r#""dns":{"version":2,"type":"answer","id":45444,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rrname":"www.suricata-ids.org","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.suricata-ids.org","rrtype":"CNAME","ttl":3324,"rdata":"suricata-ids.org"},{"rrname":"suricata-ids.org","rrtype":"A","ttl":10,"rdata":"192.0.78.24"},{"rrname":"suricata-ids.org","rrtype":"SOA","ttl":10,"soa":{"mname":"ns1"}}]}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                (
                    "dns.answers.data",
                    list(&["suricata-ids.org", "192.0.78.24"])
                ),
                (
                    "dns.answers.name",
                    list(&[
                        "www.suricata-ids.org",
                        "suricata-ids.org",
                        "suricata-ids.org"
                    ])
                ),
                (
                    "dns.answers.ttl",
                    FieldValue::List(vec![i(3324), i(10), i(10)])
                ),
                ("dns.answers.type", list(&["CNAME", "A", "SOA"])),
                ("dns.header_flags", list(&["QR", "RD", "RA"])),
                ("dns.id", s("45444")),
                ("dns.question.name", s("www.suricata-ids.org")),
                ("dns.question.type", s("A")),
                ("dns.resolved_ip", list(&["192.0.78.24"])),
                ("dns.response_code", s("NOERROR")),
                ("dns.type", s("answer")),
                ("suricata.eve.dns.flags", s("8180")),
                ("suricata.eve.dns.opcode", i(0)),
                ("suricata.eve.dns.version", i(2)),
            ]
        );

        let ev = decode_ok(&record(
            "dns",
            r#""dns":{"version":2,"type":"answer","id":18523,"rcode":"NXDOMAIN","grouped":{"A":["192.0.78.24","192.0.78.25"],"CNAME":["suricata-ids.org"],"SOA":[{"mname":"ns1"}]}}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                (
                    "dns.answers.data",
                    list(&["192.0.78.24", "192.0.78.25", "suricata-ids.org"])
                ),
                ("dns.answers.type", list(&["A", "A", "CNAME", "SOA"])),
                ("dns.id", s("18523")),
                ("dns.resolved_ip", list(&["192.0.78.24", "192.0.78.25"])),
                ("dns.response_code", s("NXDOMAIN")),
                ("dns.type", s("answer")),
                ("suricata.eve.dns.version", i(2)),
            ]
        );
    }

    #[test]
    fn dns_v3_request_and_response() {
        let ev = decode_ok(&record(
            "dns",
            r#""dns":{"version":3,"type":"request","tx_id":0,"id":0,"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.suricata.io","rrtype":"A"}]}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("dns.header_flags", list(&["RD"])),
                ("dns.id", s("0")),
                ("dns.question.name", s("www.suricata.io")),
                ("dns.question.type", s("A")),
                ("dns.response_code", s("NOERROR")),
                ("dns.type", s("query")),
                ("suricata.eve.dns.flags", s("100")),
                ("suricata.eve.dns.opcode", i(0)),
                ("suricata.eve.dns.version", i(3)),
            ]
        );
        let ev = decode_ok(&record(
            "dns",
            r#""dns":{"version":3,"type":"response","id":0,"qr":true,"rcode":"NOERROR","queries":[{"rrname":"www.suricata.io","rrtype":"AAAA"}],"answers":[{"rrname":"www.suricata.io","rrtype":"AAAA","ttl":597,"rdata":"2001:db8:0:0::1"}]}"#,
        ));
        assert_eq!(ev.get_str("dns.type"), Some("answer"));
        assert_eq!(ev.get_str("dns.question.type"), Some("AAAA"));
        assert_eq!(ev.get("dns.resolved_ip"), Some(list(&["2001:db8::1"])));
        assert_eq!(ev.get("dns.answers.data"), Some(list(&["2001:db8:0:0::1"])));
    }

    #[test]
    fn alerts_carry_their_app_layer_objects() {
        // Suricata 7 alert on a DNS request, then on a DNS response.
        let ev = decode_ok(&record(
            "alert",
            r#""alert":{"signature_id":1,"signature":"x"},"dns":{"query":[{"type":"query","id":7,"rrname":"evil.example","rrtype":"TXT","tx_id":0,"opcode":0}]}"#,
        ));
        assert_eq!(ev.get_str("dns.question.name"), Some("evil.example"));
        assert_eq!(ev.get_str("dns.question.type"), Some("TXT"));
        assert_eq!(ev.get_str("dns.type"), Some("query"));
        assert_eq!(ev.get_str("dns.id"), Some("7"));
        assert_eq!(ev.get_str("event.kind"), Some("alert"));
        assert_eq!(ev.get_str("event.category"), Some("intrusion_detection"));
        assert!(ev.observables.contains(&obs(
            ObservableKind::Domain,
            "evil.example",
            "dns.question.name"
        )));
        let ev = decode_ok(&record(
            "alert",
            r#""alert":{"signature_id":1},"dns":{"answer":{"version":2,"type":"answer","id":7,"rcode":"NOERROR","rrname":"evil.example","rrtype":"A","answers":[{"rrname":"evil.example","rrtype":"A","ttl":5,"rdata":"203.0.113.9"}]}}"#,
        ));
        assert_eq!(ev.get_str("dns.type"), Some("answer"));
        assert_eq!(ev.get_str("dns.question.name"), Some("evil.example"));
        assert_eq!(ev.get("dns.resolved_ip"), Some(list(&["203.0.113.9"])));

        // An alert with http and tls objects in the same record.
        let ev = decode_ok(&record(
            "alert",
            r#""alert":{"signature_id":2,"signature":"y","severity":1},"http":{"hostname":"c2.example","url":"/gate.php","http_method":"POST","status":403},"tls":{"sni":"c2.example","version":"TLS 1.3"}"#,
        ));
        assert_eq!(ev.get_str("url.domain"), Some("c2.example"));
        assert_eq!(ev.get_str("url.path"), Some("/gate.php"));
        assert_eq!(ev.get_str("http.request.method"), Some("POST"));
        assert_eq!(ev.get("http.response.status_code"), Some(i(403)));
        assert_eq!(ev.get_str("tls.client.server_name"), Some("c2.example"));
        assert_eq!(ev.get_str("tls.version"), Some("1.3"));
        assert_eq!(ev.get_str("rule.id"), Some("2"));
        assert_eq!(
            ev.observables,
            vec![
                obs(ObservableKind::Ip, "192.0.2.10", "source.ip"),
                obs(ObservableKind::Ip, "198.51.100.80", "destination.ip"),
                obs(ObservableKind::Domain, "c2.example", "url.domain"),
                obs(
                    ObservableKind::Domain,
                    "c2.example",
                    "tls.client.server_name"
                ),
            ]
        );
    }

    #[test]
    fn tls_record_maps_certificate_and_fingerprints() {
        let ev = decode_ok(&record(
            "tls",
            r#""tls":{"subject":"C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.google.com","issuerdn":"C=US, O=Google Inc, CN=Google Internet Authority G2","serial":"0C:00:99:B7:D7:54:C9:F6:77:26:31:7E:BA:EA:7C:1C","fingerprint":"8F:51:12:06:a0:cc:4e:cd:e8:a3:8b:38:f8:87:59:e5:af:95:ca:cd","sni":"calendar.google.com","version":"TLS 1.2","notbefore":"2017-01-04T10:48:43","notafter":"2017-03-29T10:18:00","ja3":{"hash":"e7d705a3286e19ea42f587b344ee6865","string":"771,49195-49199,0-23,29-23,0"},"ja3s":{"hash":"ec74a5c51106f0419184d0dd08fb05bc","string":"771,49199,65281-0"},"ja4":"t13d1516h2_8daaf6152771_e5627efa2ab1"}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                (
                    "suricata.eve.tls.ja3.string",
                    s("771,49195-49199,0-23,29-23,0")
                ),
                ("suricata.eve.tls.ja3s.string", s("771,49199,65281-0")),
                (
                    "suricata.eve.tls.ja4",
                    s("t13d1516h2_8daaf6152771_e5627efa2ab1")
                ),
                ("tls.client.ja3", s("e7d705a3286e19ea42f587b344ee6865")),
                ("tls.client.server_name", s("calendar.google.com")),
                (
                    "tls.server.hash.sha1",
                    s("8f511206a0cc4ecde8a38b38f88759e5af95cacd")
                ),
                ("tls.server.ja3s", s("ec74a5c51106f0419184d0dd08fb05bc")),
                ("tls.server.not_after", s("2017-03-29T10:18:00")),
                ("tls.server.not_before", s("2017-01-04T10:48:43")),
                (
                    "tls.server.x509.issuer.distinguished_name",
                    s("C=US, O=Google Inc, CN=Google Internet Authority G2")
                ),
                (
                    "tls.server.x509.serial_number",
                    s("0C0099B7D754C9F67726317EBAEA7C1C")
                ),
                (
                    "tls.server.x509.subject.distinguished_name",
                    s("C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.google.com")
                ),
                ("tls.version", s("1.2")),
                ("tls.version_protocol", s("tls")),
            ]
        );
        assert!(ev.observables.contains(&obs(
            ObservableKind::Sha1,
            "8f511206a0cc4ecde8a38b38f88759e5af95cacd",
            "tls.server.hash.sha1"
        )));

        let ev = decode_ok(&record(
            "tls",
            r#""tls":{"session_resumed":true,"version":"UNDETERMINED"}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("suricata.eve.tls.version", s("UNDETERMINED")),
                ("tls.resumed", FieldValue::Bool(true)),
            ]
        );
    }

    #[test]
    fn tls_versions() {
        let cases = [
            ("TLS 1.3", Some(("tls", "1.3"))),
            ("TLSv1.0", Some(("tls", "1.0"))),
            ("SSLv3", Some(("ssl", "3.0"))),
            ("SSLv2", Some(("ssl", "2.0"))),
            ("TLS 1.", None),
            ("TLS x.y", None),
            ("0x7f1c", None),
            ("", None),
        ];
        for (input, want) in cases {
            let got = tls_version(input);
            assert_eq!(
                got.as_ref().map(|(p, v)| (*p, v.as_str())),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn flow_record_maps_counters_times_and_state() {
        let ev = decode_ok(&record(
            "flow",
            r#""app_proto":"failed","flow":{"pkts_toserver":2,"pkts_toclient":1,"bytes_toserver":108,"bytes_toclient":54,"start":"2022-07-11T05:48:21.714860+0000","end":"2022-07-11T05:48:21.733121+0000","age":0,"state":"closed","reason":"timeout","alerted":false},"tcp":{"tcp_flags":"16","syn":true}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("destination.bytes", i(54)),
                ("destination.packets", i(1)),
                ("event.duration", i(18_261_000)),
                ("event.end", s("2022-07-11T05:48:21.733121Z")),
                ("event.start", s("2022-07-11T05:48:21.714860Z")),
                ("network.bytes", i(162)),
                ("network.packets", i(3)),
                ("network.protocol", s("failed")),
                ("source.bytes", i(108)),
                ("source.packets", i(2)),
                ("suricata.eve.flow.age", i(0)),
                ("suricata.eve.flow.alerted", FieldValue::Bool(false)),
                ("suricata.eve.flow.reason", s("timeout")),
                ("suricata.eve.flow.state", s("closed")),
            ]
        );
        // An end before the start (clock steps) gives no duration; counters
        // whose sum overflows give no sum.
        let ev = decode_ok(&record(
            "flow",
            r#""flow":{"pkts_toserver":9223372036854775807,"pkts_toclient":1,"start":"2022-07-12T05:48:21-0000","end":"2022-07-11T05:48:21+0000"}"#,
        ));
        assert_eq!(ev.get("event.duration"), None);
        assert_eq!(ev.get("network.packets"), None);
        assert_eq!(ev.get("source.packets"), Some(i(i64::MAX)));
        assert_eq!(ev.get_str("event.start"), Some("2022-07-12T05:48:21Z"));
    }

    #[test]
    fn fileinfo_record_maps_file_and_its_http_transfer() {
        let ev = decode_ok(&record(
            "fileinfo",
            r#""http":{"hostname":"dl.example.net","url":"/files/invoice.pdf.exe","http_method":"GET","status":200},"app_proto":"http","fileinfo":{"filename":"/files/invoice.pdf.exe","sid":[],"gaps":false,"state":"CLOSED","md5":"44D88612FEA8A8F36DE82E1278ABB02F","sha1":"3395856ce81f2b7382dee72602f798b642f14140","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","stored":true,"file_id":3,"size":68,"tx_id":0,"magic":"PE32 executable (GUI) Intel 80386, for MS Windows"}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("file.hash.md5", s("44D88612FEA8A8F36DE82E1278ABB02F")),
                (
                    "file.hash.sha1",
                    s("3395856ce81f2b7382dee72602f798b642f14140")
                ),
                (
                    "file.hash.sha256",
                    s("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
                ),
                ("file.name", s("invoice.pdf.exe")),
                ("file.path", s("/files/invoice.pdf.exe")),
                ("file.size", i(68)),
                ("http.request.method", s("GET")),
                ("http.response.status_code", i(200)),
                ("network.protocol", s("http")),
                ("suricata.eve.fileinfo.file_id", i(3)),
                ("suricata.eve.fileinfo.gaps", FieldValue::Bool(false)),
                (
                    "suricata.eve.fileinfo.magic",
                    s("PE32 executable (GUI) Intel 80386, for MS Windows")
                ),
                ("suricata.eve.fileinfo.state", s("CLOSED")),
                ("suricata.eve.fileinfo.stored", FieldValue::Bool(true)),
                ("url.domain", s("dl.example.net")),
                ("url.original", s("/files/invoice.pdf.exe")),
                ("url.path", s("/files/invoice.pdf.exe")),
            ]
        );
        let hashes: Vec<&Observable> = ev
            .observables
            .iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    ObservableKind::Md5 | ObservableKind::Sha1 | ObservableKind::Sha256
                )
            })
            .collect();
        assert_eq!(
            hashes,
            [
                &obs(
                    ObservableKind::Md5,
                    "44d88612fea8a8f36de82e1278abb02f",
                    "file.hash.md5"
                ),
                &obs(
                    ObservableKind::Sha1,
                    "3395856ce81f2b7382dee72602f798b642f14140",
                    "file.hash.sha1"
                ),
                &obs(
                    ObservableKind::Sha256,
                    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
                    "file.hash.sha256"
                ),
            ]
        );
        // A bare name has no path; an SMB path splits on backslashes.
        let ev = decode_ok(&record(
            "fileinfo",
            r#""fileinfo":{"filename":"report.docx"}"#,
        ));
        assert_eq!(specific(&ev), vec![("file.name", s("report.docx"))]);
        let ev = decode_ok(&record(
            "fileinfo",
            r#""fileinfo":{"filename":"share\\dir\\a.exe"}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("file.name", s("a.exe")),
                ("file.path", s("share\\dir\\a.exe"))
            ]
        );
    }

    #[test]
    fn anomaly_records() {
        let ev = decode_ok(&record(
            "anomaly",
            r#""app_proto":"tls","anomaly":{"type":"applayer","event":"INVALID_RECORD_TYPE","layer":"proto_parser"}"#,
        ));
        assert_eq!(ev.dataset, "suricata.anomaly");
        assert_eq!(ev.get_str("event.kind"), Some("event"));
        assert_eq!(ev.get_str("event.category"), Some("network"));
        assert_eq!(
            specific(&ev),
            vec![
                ("network.protocol", s("tls")),
                ("suricata.eve.anomaly.event", s("INVALID_RECORD_TYPE")),
                ("suricata.eve.anomaly.layer", s("proto_parser")),
                ("suricata.eve.anomaly.type", s("applayer")),
            ]
        );
        let ev = decode_ok(&record(
            "anomaly",
            r#""anomaly":{"type":"unknown","event":"x","code":42}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("suricata.eve.anomaly.code", i(42)),
                ("suricata.eve.anomaly.event", s("x")),
                ("suricata.eve.anomaly.type", s("unknown")),
            ]
        );
    }

    #[test]
    fn ssh_record_keeps_versions_and_hassh() {
        let ev = decode_ok(&record(
            "ssh",
            r#""ssh":{"client":{"proto_version":"2.0","software_version":"libssh2_1.9.0","hassh":{"hash":"ec7378c1a92f5a8dde7e8b7a1ddf33d1","string":"curve25519-sha256"}},"server":{"proto_version":"2.0","software_version":"OpenSSH_9.6p1"}}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                (
                    "suricata.eve.ssh.client.hassh.hash",
                    s("ec7378c1a92f5a8dde7e8b7a1ddf33d1")
                ),
                ("suricata.eve.ssh.client.proto_version", s("2.0")),
                (
                    "suricata.eve.ssh.client.software_version",
                    s("libssh2_1.9.0")
                ),
                ("suricata.eve.ssh.server.proto_version", s("2.0")),
                (
                    "suricata.eve.ssh.server.software_version",
                    s("OpenSSH_9.6p1")
                ),
            ]
        );
    }

    #[test]
    fn smtp_envelope_and_email_headers() {
        let ev = decode_ok(&record(
            "smtp",
            r#""smtp":{"helo":"mail.attacker.example","mail_from":"<billing@attacker.example>","rcpt_to":["<alice@corp.example>","<bob@corp.example>"]},"email":{"status":"PARSE_DONE","from":"\"Billing\" <invoices@lookalike.example>","to":["Alice <alice@corp.example>"],"cc":["<carol@corp.example>"],"subject":"Invoice 2026-03","message_id":"<123@attacker.example>","x_mailer":"PHPMailer 6.0","attachment":["invoice.pdf.exe"]}"#,
        ));
        assert_eq!(
            specific(&ev),
            vec![
                ("email.attachments.file.name", list(&["invoice.pdf.exe"])),
                ("email.cc.address", list(&["carol@corp.example"])),
                ("email.from.address", s("billing@attacker.example")),
                ("email.message_id", s("<123@attacker.example>")),
                ("email.subject", s("Invoice 2026-03")),
                (
                    "email.to.address",
                    list(&["alice@corp.example", "bob@corp.example"])
                ),
                ("email.x_mailer", s("PHPMailer 6.0")),
                (
                    "suricata.eve.email.from",
                    s("\"Billing\" <invoices@lookalike.example>")
                ),
                ("suricata.eve.email.status", s("PARSE_DONE")),
                (
                    "suricata.eve.email.to",
                    list(&["Alice <alice@corp.example>"])
                ),
                ("suricata.eve.smtp.helo", s("mail.attacker.example")),
            ]
        );
        let emails: Vec<&str> = ev
            .observables
            .iter()
            .filter(|o| o.kind == ObservableKind::Email)
            .map(|o| o.value.as_str())
            .collect();
        assert_eq!(
            emails,
            [
                "billing@attacker.example",
                "alice@corp.example",
                "bob@corp.example"
            ]
        );

        // Without an envelope, the headers give the addresses; the null
        // sender gives none.
        let ev = decode_ok(&record(
            "smtp",
            r#""smtp":{"mail_from":"<>"},"email":{"from":"x@sender.example","to":["<y@rcpt.example>"]}"#,
        ));
        assert_eq!(ev.get_str("email.from.address"), Some("x@sender.example"));
        assert_eq!(ev.get("email.to.address"), Some(list(&["y@rcpt.example"])));
    }

    #[test]
    fn mail_addresses() {
        assert_eq!(mail_address("<a@b.example>"), Some("a@b.example"));
        assert_eq!(mail_address("\"A <x>\" <a@b.example>"), Some("a@b.example"));
        assert_eq!(mail_address(" a@b.example "), Some("a@b.example"));
        assert_eq!(mail_address("<a@b.example"), Some("a@b.example"));
        assert_eq!(mail_address("<>"), None);
        assert_eq!(mail_address(""), None);
    }

    #[test]
    fn wrong_types_in_app_objects_name_the_field() {
        let cases = [
            (
                r#""http":{"status":true}"#,
                "field \"http.status\" must be an integer, found boolean true",
            ),
            (
                r#""http":{"http_port":"80"}"#,
                "field \"http.http_port\" must be a port number 0-65535, found string \"80\"",
            ),
            (
                r#""dns":{"rd":"yes"}"#,
                "field \"dns.rd\" must be a boolean, found string \"yes\"",
            ),
            (
                r#""flow":{"start":"yesterday"}"#,
                "field \"flow.start\" must be a timestamp, found string \"yesterday\"",
            ),
            (
                r#""flow":{"bytes_toserver":-1.5}"#,
                "field \"flow.bytes_toserver\" must be an integer, found number -1.5",
            ),
            (
                r#""smtp":{"rcpt_to":["<a@b.example>",1]}"#,
                "field \"smtp.rcpt_to\" must be a list of strings, found integer 1",
            ),
            (
                r#""tls":{"sni":["a"]}"#,
                "field \"tls.sni\" must be a string, found an array",
            ),
        ];
        for (body, want) in cases {
            let text = record("dns", body);
            assert_eq!(decode(&text).unwrap_err().to_string(), want, "{body}");
        }
        let err = decode(&record("http", r#""http":"x""#))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "not an EVE record: invalid type: string \"x\", expected an EVE http object"
            ),
            "{err}"
        );
        let err = decode(&record("dns", r#""dns":{"answers":{"a":1}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("not an EVE record: invalid type: map, expected a sequence"),
            "{err}"
        );
        // null counts as absent.
        let ev = decode_ok(&record("http", r#""http":{"hostname":null,"status":null}"#));
        assert_eq!(specific(&ev), vec![]);
    }
}
