//! ECS fields from a Zeek record's normalized native fields.
//!
//! Every log gets `event.module: zeek`, `event.kind` (`alert` for `notice`
//! and `intel`, else `event`), the connection's 5-tuple from `id.*` and
//! `proto`, and `event.id` / `zeek.session_id` from `uid`. Known logs add
//! their own ECS fields; the native `zeek.<path>.*` fields are always kept,
//! so nothing is lost when a mapping is partial.
//!
//! Choices that ECS leaves open:
//! - `ssl`: the first of `cert_chain_fps` is the server's own certificate,
//!   so it becomes `tls.server.hash.sha256` (or `.sha1`, by its length),
//!   and likewise `client_cert_chain_fps` → `tls.client.hash.*`. They join
//!   with `x509`'s `fingerprint` → `file.hash.*` for pivoting.
//! - `x509`: the certificate is described under `file.x509.*` (ECS reuses
//!   the x509 field set there; it has no top-level `x509`), its DNS names
//!   also go to `related.hosts` so they become observables.
//! - `dns`: answers that are addresses go to `dns.resolved_ip` and
//!   `related.ip`, the other answers that are names to `related.hosts`.
//! - `http`: `url.full` is built as `http://<host><uri>` when the URI is a
//!   path (Zeek's http log is cleartext HTTP).

use std::net::IpAddr;

use riposte_model::{Event, FieldValue};

use super::Natives;

pub(super) fn map(ev: &mut Event, path: &str, n: &Natives<'_>) {
    ev.set("event.module", "zeek");
    let kind = if matches!(path, "notice" | "intel") {
        "alert"
    } else {
        "event"
    };
    ev.set("event.kind", kind);
    if let Some(uid) = n.str("uid") {
        ev.set("event.id", uid);
        ev.set("zeek.session_id", uid);
    }
    copy_str(ev, n, "id.orig_h", "source.ip");
    copy_int(ev, n, "id.orig_p", "source.port");
    copy_str(ev, n, "id.resp_h", "destination.ip");
    copy_int(ev, n, "id.resp_p", "destination.port");
    if let Some(proto) = n.str("proto") {
        ev.set("network.transport", proto.to_ascii_lowercase());
    }
    copy_str(ev, n, "community_id", "network.community_id");

    match path {
        "conn" => conn(ev, n),
        "dns" => dns(ev, n),
        "http" => http(ev, n),
        "ssl" => ssl(ev, n),
        "x509" => x509(ev, n),
        "files" => files(ev, n),
        "notice" => notice(ev, n),
        "weird" => {
            copy_str(ev, n, "name", "rule.name");
        }
        "intel" => intel(ev, n),
        "ssh" => {
            ev.set("network.protocol", "ssh");
            if let Some(ok) = n.bool("auth_success") {
                ev.set("event.outcome", if ok { "success" } else { "failure" });
            }
        }
        "smtp" => {
            ev.set("network.protocol", "smtp");
            copy_str(ev, n, "mailfrom", "email.from.address");
            copy_list(ev, n, "rcptto", "email.to.address");
            copy_str(ev, n, "subject", "email.subject");
            copy_str(ev, n, "msg_id", "email.message_id");
            copy_str(ev, n, "user_agent", "user_agent.original");
        }
        "ftp" => {
            ev.set("network.protocol", "ftp");
            copy_str(ev, n, "user", "user.name");
        }
        "ntlm" => {
            copy_str(ev, n, "username", "user.name");
            copy_str(ev, n, "domainname", "user.domain");
        }
        "syslog" => {
            copy_str(ev, n, "message", "message");
            copy_str(ev, n, "facility", "log.syslog.facility.name");
            copy_str(ev, n, "severity", "log.syslog.severity.name");
        }
        "known_hosts" | "known_services" | "known_certs" | "software" => {
            set_list(ev, "related.ip", n.strs("host"));
        }
        _ => {}
    }
}

fn conn(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "network");
    if let Some(service) = n.str("service") {
        // `ssl,http` when several analyzers saw the connection: the first.
        let first = service.split(',').next().unwrap_or(service);
        ev.set("network.protocol", first.to_ascii_lowercase());
    }
    // ECS wants nanoseconds.
    if let Some(ns) = n
        .float("duration")
        .and_then(super::value::micros)
        .and_then(|m| m.checked_mul(1000))
    {
        ev.set("event.duration", ns);
    }
    let sum = |a: Option<i64>, b: Option<i64>| a?.checked_add(b?);
    let (ob, rb) = (n.int("orig_bytes"), n.int("resp_bytes"));
    set_int(ev, "source.bytes", ob);
    set_int(ev, "destination.bytes", rb);
    set_int(ev, "network.bytes", sum(ob, rb));
    let (op, rp) = (n.int("orig_pkts"), n.int("resp_pkts"));
    set_int(ev, "source.packets", op);
    set_int(ev, "destination.packets", rp);
    set_int(ev, "network.packets", sum(op, rp));
    let direction = match (n.bool("local_orig"), n.bool("local_resp")) {
        (Some(true), Some(true)) => Some("internal"),
        (Some(true), Some(false)) => Some("outbound"),
        (Some(false), Some(true)) => Some("inbound"),
        (Some(false), Some(false)) => Some("external"),
        _ => None,
    };
    if let Some(d) = direction {
        ev.set("network.direction", d);
    }
}

fn dns(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "network");
    ev.set("network.protocol", "dns");
    copy_str(ev, n, "query", "dns.question.name");
    copy_str(ev, n, "qtype_name", "dns.question.type");
    copy_str(ev, n, "qclass_name", "dns.question.class");
    copy_str(ev, n, "rcode_name", "dns.response_code");
    if let Some(id) = n.int("trans_id") {
        ev.set("dns.id", id.to_string());
    }
    let flags: Vec<FieldValue> = ["AA", "TC", "RD", "RA"]
        .into_iter()
        .filter(|f| n.bool(f) == Some(true))
        .map(FieldValue::from)
        .collect();
    if !flags.is_empty() {
        ev.set("dns.header_flags", flags);
    }
    let answers = n.strs("answers");
    if !answers.is_empty() {
        set_list(ev, "dns.answers.data", answers.clone());
        let (ips, names): (Vec<&str>, Vec<&str>) = answers
            .into_iter()
            .partition(|a| a.parse::<IpAddr>().is_ok());
        set_list(ev, "dns.resolved_ip", ips.clone());
        set_list(ev, "related.ip", ips);
        set_list(
            ev,
            "related.hosts",
            names
                .into_iter()
                .filter(|a| crate::observe::is_domain(a))
                .collect(),
        );
    }
}

fn http(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "web");
    ev.set("network.protocol", "http");
    let host = n.str("host");
    if let Some(host) = host {
        ev.set("url.domain", host_without_port(host));
    }
    if let Some(uri) = n.str("uri") {
        ev.set("url.original", uri);
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        if path.starts_with('/') {
            ev.set("url.path", path);
        }
        if let Some(q) = query {
            ev.set("url.query", q);
        }
        if uri.starts_with("http://") || uri.starts_with("https://") {
            ev.set("url.full", uri);
        } else if let Some(host) = host
            && uri.starts_with('/')
        {
            ev.set("url.full", format!("http://{host}{uri}"));
        }
    }
    copy_str(ev, n, "method", "http.request.method");
    copy_int(ev, n, "status_code", "http.response.status_code");
    copy_str(ev, n, "version", "http.version");
    copy_str(ev, n, "referrer", "http.request.referrer");
    copy_str(ev, n, "user_agent", "user_agent.original");
    copy_str(ev, n, "username", "user.name");
    copy_int(ev, n, "request_body_len", "http.request.body.bytes");
    copy_int(ev, n, "response_body_len", "http.response.body.bytes");
    if let Some(m) = n.strs("orig_mime_types").first() {
        ev.set("http.request.mime_type", *m);
    }
    if let Some(m) = n.strs("resp_mime_types").first() {
        ev.set("http.response.mime_type", *m);
    }
}

/// `example.org` from `example.org:8080`; an IPv6 literal keeps its colons.
fn host_without_port(host: &str) -> &str {
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner);
    }
    match host.rsplit_once(':') {
        Some((h, port))
            if !h.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => host,
    }
}

fn ssl(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "network");
    ev.set("network.protocol", "tls");
    if let Some(v) = n.str("version") {
        let known = match v {
            "TLSv10" => Some(("tls", "1.0")),
            "TLSv11" => Some(("tls", "1.1")),
            "TLSv12" => Some(("tls", "1.2")),
            "TLSv13" => Some(("tls", "1.3")),
            "SSLv2" => Some(("ssl", "2.0")),
            "SSLv3" => Some(("ssl", "3.0")),
            "DTLSv10" => Some(("dtls", "1.0")),
            "DTLSv12" => Some(("dtls", "1.2")),
            "DTLSv13" => Some(("dtls", "1.3")),
            _ => None,
        };
        if let Some((protocol, version)) = known {
            ev.set("tls.version_protocol", protocol);
            ev.set("tls.version", version);
        }
    }
    copy_str(ev, n, "cipher", "tls.cipher");
    copy_str(ev, n, "curve", "tls.curve");
    copy_str(ev, n, "server_name", "tls.client.server_name");
    copy_str(ev, n, "next_protocol", "tls.next_protocol");
    copy_bool(ev, n, "resumed", "tls.resumed");
    copy_bool(ev, n, "established", "tls.established");
    copy_str(ev, n, "subject", "tls.server.subject");
    copy_str(ev, n, "issuer", "tls.server.issuer");
    copy_str(ev, n, "client_subject", "tls.client.subject");
    copy_str(ev, n, "client_issuer", "tls.client.issuer");
    copy_str(ev, n, "ja3", "tls.client.ja3");
    copy_str(ev, n, "ja3s", "tls.server.ja3s");
    if let Some(fp) = n.strs("cert_chain_fps").first() {
        set_hash(ev, "tls.server.hash", fp);
    }
    if let Some(fp) = n.strs("client_cert_chain_fps").first() {
        set_hash(ev, "tls.client.hash", fp);
    }
}

/// A certificate fingerprint or file hash under `prefix.<algorithm>`,
/// named by its length; anything else is left to the native field.
fn set_hash(ev: &mut Event, prefix: &str, hash: &str) {
    let algorithm = match hash.len() {
        32 => "md5",
        40 => "sha1",
        64 => "sha256",
        _ => return,
    };
    if hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        ev.set(&format!("{prefix}.{algorithm}"), hash);
    }
}

fn x509(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "network");
    if let Some(fp) = n.str("fingerprint") {
        set_hash(ev, "file.hash", fp);
    }
    if let Some(v) = n.int("certificate.version") {
        ev.set("file.x509.version_number", v.to_string());
    }
    copy_str(ev, n, "certificate.serial", "file.x509.serial_number");
    for (zeek, ecs) in [
        ("certificate.subject", "file.x509.subject"),
        ("certificate.issuer", "file.x509.issuer"),
    ] {
        if let Some(dn) = n.str(zeek) {
            ev.set(&format!("{ecs}.distinguished_name"), dn);
            set_list(ev, &format!("{ecs}.common_name"), common_names(dn));
        }
    }
    copy_str(
        ev,
        n,
        "certificate.not_valid_before",
        "file.x509.not_before",
    );
    copy_str(ev, n, "certificate.not_valid_after", "file.x509.not_after");
    copy_str(
        ev,
        n,
        "certificate.key_alg",
        "file.x509.public_key_algorithm",
    );
    copy_str(
        ev,
        n,
        "certificate.sig_alg",
        "file.x509.signature_algorithm",
    );
    copy_int(ev, n, "certificate.key_length", "file.x509.public_key_size");
    copy_str(ev, n, "certificate.curve", "file.x509.public_key_curve");
    if let Some(e) = n
        .str("certificate.exponent")
        .and_then(|e| e.parse::<i64>().ok())
    {
        ev.set_static("file.x509.public_key_exponent", e);
    }
    let mut alt = Vec::new();
    for san in ["san.dns", "san.uri", "san.email", "san.ip"] {
        alt.extend(n.strs(san));
    }
    set_list(ev, "file.x509.alternative_names", alt);
    let names = n.strs("san.dns");
    set_list(
        ev,
        "related.hosts",
        names
            .into_iter()
            .filter(|d| crate::observe::is_domain(d))
            .collect(),
    );
    set_list(ev, "related.ip", n.strs("san.ip"));
}

/// The `CN=` values of a distinguished name as Zeek writes it
/// (`CN=a,O=Example\, Inc`: commas inside values are escaped).
fn common_names(dn: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => {
                out.extend(dn.get(start..i).and_then(|rdn| rdn.strip_prefix("CN=")));
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    out.extend(dn.get(start..).and_then(|rdn| rdn.strip_prefix("CN=")));
    out.retain(|cn| !cn.is_empty());
    out
}

fn files(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "file");
    for alg in ["md5", "sha1", "sha256"] {
        if let Some(h) = n.str(alg) {
            ev.set(&format!("file.hash.{alg}"), h);
        }
    }
    copy_str(ev, n, "mime_type", "file.mime_type");
    copy_str(ev, n, "filename", "file.name");
    set_int(
        ev,
        "file.size",
        n.int("total_bytes").or_else(|| n.int("seen_bytes")),
    );
    let mut hosts = n.strs("tx_hosts");
    hosts.extend(n.strs("rx_hosts"));
    set_list(ev, "related.ip", hosts);
}

fn notice(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "intrusion_detection");
    copy_str(ev, n, "note", "rule.name");
    copy_str(ev, n, "msg", "message");
    if !ev.fields.contains_key("source.ip") {
        copy_str(ev, n, "src", "source.ip");
    }
    if !ev.fields.contains_key("destination.ip") {
        copy_str(ev, n, "dst", "destination.ip");
    }
    if !ev.fields.contains_key("destination.port") {
        copy_int(ev, n, "p", "destination.port");
    }
}

fn intel(ev: &mut Event, n: &Natives<'_>) {
    ev.set("event.category", "threat");
    ev.set("event.type", "indicator");
    set_list(ev, "threat.indicator.provider", n.strs("sources"));
    let Some(indicator) = n.str("seen.indicator") else {
        return;
    };
    let kind = n.str("seen.indicator_type").unwrap_or_default();
    let ecs_type = match kind {
        "Intel::ADDR" => {
            ev.set("threat.indicator.ip", indicator);
            set_list(ev, "related.ip", vec![indicator]);
            Some(if indicator.contains(':') {
                "ipv6-addr"
            } else {
                "ipv4-addr"
            })
        }
        "Intel::DOMAIN" => {
            ev.set_static("threat.indicator.url.domain", indicator);
            set_list(ev, "related.hosts", vec![indicator]);
            Some("domain-name")
        }
        "Intel::URL" => {
            ev.set_static("threat.indicator.url.original", indicator);
            Some("url")
        }
        "Intel::EMAIL" => {
            ev.set_static("threat.indicator.email.address", indicator);
            Some("email-addr")
        }
        "Intel::FILE_HASH" => {
            set_hash(ev, "threat.indicator.file.hash", indicator);
            Some("file")
        }
        "Intel::FILE_NAME" => {
            ev.set_static("threat.indicator.file.name", indicator);
            Some("file")
        }
        "Intel::CERT_HASH" => Some("x509-certificate"),
        "Intel::USER_NAME" => Some("user-account"),
        "Intel::SOFTWARE" => Some("software"),
        _ => None,
    };
    if let Some(t) = ecs_type {
        ev.set("threat.indicator.type", t);
    }
}

fn copy_str(ev: &mut Event, n: &Natives<'_>, zeek: &str, ecs: &str) {
    if let Some(s) = n.str(zeek) {
        ev.set(ecs, s);
    }
}

fn copy_int(ev: &mut Event, n: &Natives<'_>, zeek: &str, ecs: &str) {
    set_int(ev, ecs, n.int(zeek));
}

fn copy_bool(ev: &mut Event, n: &Natives<'_>, zeek: &str, ecs: &str) {
    if let Some(b) = n.bool(zeek) {
        ev.set(ecs, b);
    }
}

fn copy_list(ev: &mut Event, n: &Natives<'_>, zeek: &str, ecs: &str) {
    set_list(ev, ecs, n.strs(zeek));
}

fn set_int(ev: &mut Event, ecs: &str, v: Option<i64>) {
    if let Some(v) = v {
        ev.set(ecs, v);
    }
}

/// Adds strings to a list field, keeping what it has and skipping
/// repeats; nothing is set for no strings.
fn set_list(ev: &mut Event, ecs: &str, items: Vec<&str>) {
    if items.is_empty() {
        return;
    }
    let mut list = match ev.fields.remove(ecs) {
        Some(FieldValue::List(l)) => l,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    for item in items {
        if !list.iter().any(|v| v.as_str() == Some(item)) {
            list.push(FieldValue::from(item));
        }
    }
    ev.set(ecs, list);
}
