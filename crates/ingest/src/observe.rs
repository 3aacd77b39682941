//! Observables from ECS fields, shared by every decoder: a decoder sets the
//! ECS fields it knows, then calls [`add_ecs_observables`], so that "which
//! fields name an address, a domain, a hash" is decided in one place.
//!
//! Values are checked before they become observables: an "IP" that does not
//! parse, a "domain" with spaces or a "hash" of the wrong length is left in
//! its field but not offered to enrichment or response.

use std::net::IpAddr;
use std::sync::LazyLock;

use riposte_model::{CompactString, Event, FieldValue, ObservableKind, ToCompactString};

/// ECS field → the kind of observable its values are.
const ECS_OBSERVABLES: &[(&str, ObservableKind)] = &[
    ("source.ip", ObservableKind::Ip),
    ("destination.ip", ObservableKind::Ip),
    ("client.ip", ObservableKind::Ip),
    ("server.ip", ObservableKind::Ip),
    ("host.ip", ObservableKind::Ip),
    ("related.ip", ObservableKind::Ip),
    ("dns.question.name", ObservableKind::Domain),
    ("url.domain", ObservableKind::Domain),
    ("tls.client.server_name", ObservableKind::Domain),
    ("destination.domain", ObservableKind::Domain),
    ("source.domain", ObservableKind::Domain),
    ("server.domain", ObservableKind::Domain),
    ("client.domain", ObservableKind::Domain),
    ("related.hosts", ObservableKind::Domain),
    ("url.full", ObservableKind::Url),
    ("url.original", ObservableKind::Url),
    ("file.hash.md5", ObservableKind::Md5),
    ("file.hash.sha1", ObservableKind::Sha1),
    ("file.hash.sha256", ObservableKind::Sha256),
    ("process.hash.md5", ObservableKind::Md5),
    ("process.hash.sha1", ObservableKind::Sha1),
    ("process.hash.sha256", ObservableKind::Sha256),
    ("tls.server.hash.sha1", ObservableKind::Sha1),
    ("tls.server.hash.sha256", ObservableKind::Sha256),
    ("related.hash", ObservableKind::Sha256),
    ("user.name", ObservableKind::User),
    ("user.target.name", ObservableKind::User),
    ("source.user.name", ObservableKind::User),
    ("destination.user.name", ObservableKind::User),
    ("related.user", ObservableKind::User),
    ("host.name", ObservableKind::Host),
    ("host.hostname", ObservableKind::Host),
    ("process.executable", ObservableKind::Process),
    ("process.parent.executable", ObservableKind::Process),
    ("email.from.address", ObservableKind::Email),
    ("email.to.address", ObservableKind::Email),
    ("source.user.email", ObservableKind::Email),
];

/// [`ECS_OBSERVABLES`] sorted by field name, each with its position in the
/// table, so that one ordered walk over an event's fields finds them all.
static BY_NAME: LazyLock<Vec<(&'static str, ObservableKind, usize)>> = LazyLock::new(|| {
    let mut v: Vec<_> = ECS_OBSERVABLES
        .iter()
        .enumerate()
        .map(|(rank, &(name, kind))| (name, kind, rank))
        .collect();
    v.sort_unstable_by_key(|&(name, _, _)| name);
    v
});

/// Adds an observable for every valid value of the ECS fields above that
/// the event has, in the table's order. Idempotent.
///
/// Fields and the table are both sorted by name, so they are merged in one
/// pass rather than looking each of the table's names up in the map.
pub fn add_ecs_observables(ev: &mut Event) {
    let mut found = Vec::new();
    let mut table = BY_NAME.iter().peekable();
    for (name, value) in &ev.fields {
        let name = name.as_str();
        while table.next_if(|&&(t, _, _)| t < name).is_some() {}
        let Some(&&(field, kind, rank)) = table.peek() else {
            break;
        };
        if field != name {
            continue;
        }
        match value {
            FieldValue::Str(s) => push_valid(&mut found, rank, kind, s, field),
            FieldValue::List(items) => {
                for item in items {
                    if let FieldValue::Str(s) = item {
                        push_valid(&mut found, rank, kind, s, field);
                    }
                }
            }
            _ => {}
        }
    }
    // Stable: a list's items keep their order.
    found.sort_by_key(|&(rank, ..)| rank);
    ev.observables.reserve(found.len());
    for (_, kind, value, field) in found {
        ev.add_observable(kind, value, field);
    }
}

fn push_valid(
    out: &mut Vec<(usize, ObservableKind, CompactString, &'static str)>,
    rank: usize,
    kind: ObservableKind,
    value: &str,
    field: &'static str,
) {
    let value = value.trim();
    let ok = match kind {
        ObservableKind::Ip => {
            return match value.parse::<IpAddr>() {
                // Rust's IPv4 parser accepts only the canonical dotted
                // quad (no leading zeros), so the text is already canonical.
                Ok(IpAddr::V4(_)) => out.push((rank, kind, value.into(), field)),
                Ok(ip) => out.push((rank, kind, ip.to_compact_string(), field)),
                Err(_) => {}
            };
        }
        ObservableKind::Domain => is_domain(value),
        ObservableKind::Md5 => is_hex(value, 32),
        ObservableKind::Sha1 => is_hex(value, 40),
        ObservableKind::Sha256 => is_hex(value, 64),
        ObservableKind::Url => value.contains("://") && !value.contains(char::is_whitespace),
        ObservableKind::Email => value
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && is_domain(d)),
        ObservableKind::User | ObservableKind::Host | ObservableKind::Process => {
            !value.is_empty() && value != "-" && !value.contains(['\n', '\r', '\0'])
        }
    };
    if ok {
        let value = match kind {
            // Hashes and domains compare case-insensitively everywhere.
            ObservableKind::Md5
            | ObservableKind::Sha1
            | ObservableKind::Sha256
            | ObservableKind::Domain => value.to_ascii_lowercase().into(),
            _ => value.into(),
        };
        out.push((rank, kind, value, field));
    }
}

/// A DNS name: dot-separated labels of letters, digits, `-` and `_`, at
/// least two labels, not an IP address.
pub(crate) fn is_domain(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.len() > 253 || s.parse::<IpAddr>().is_ok() {
        return false;
    }
    let mut labels = 0;
    for label in s.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use riposte_model::Observable;

    use super::*;

    #[test]
    fn valid_values_become_observables_and_invalid_ones_do_not() {
        let mut ev = Event::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(), "t");
        ev.set("source.ip", "2001:DB8::1");
        ev.set("destination.ip", "not-an-ip");
        ev.set("dns.question.name", "Evil.Example.");
        ev.set("url.domain", "has space.example");
        ev.set("file.hash.sha256", "AB".repeat(32));
        ev.set("file.hash.md5", "abc");
        ev.set("user.name", "-");
        ev.set(
            "related.ip",
            vec![FieldValue::from("192.0.2.1"), FieldValue::Int(1)],
        );
        ev.set("email.from.address", "a@b.example");
        add_ecs_observables(&mut ev);
        add_ecs_observables(&mut ev);
        let mut got = ev.observables.clone();
        got.sort();
        let mut want = vec![
            Observable::new(ObservableKind::Ip, "2001:db8::1", Some("source.ip")),
            Observable::new(ObservableKind::Ip, "192.0.2.1", Some("related.ip")),
            Observable::new(
                ObservableKind::Domain,
                "evil.example.",
                Some("dns.question.name"),
            ),
            Observable::new(
                ObservableKind::Sha256,
                "ab".repeat(32),
                Some("file.hash.sha256"),
            ),
            Observable::new(
                ObservableKind::Email,
                "a@b.example",
                Some("email.from.address"),
            ),
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn observables_follow_the_table_order_whatever_the_field_names() {
        let mut ev = Event::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(), "t");
        ev.set("user.name", "alice");
        ev.set("destination.ip", "192.0.2.9");
        ev.set("source.ip", "192.0.2.1");
        ev.set("zzz", "x");
        ev.set("host.ip", "0192.0.2.1");
        ev.set(
            "related.ip",
            vec![FieldValue::from("192.0.2.3"), FieldValue::from("192.0.2.2")],
        );
        add_ecs_observables(&mut ev);
        let got: Vec<(&str, &str)> = ev
            .observables
            .iter()
            .map(|o| (o.field.as_deref().unwrap(), o.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("source.ip", "192.0.2.1"),
                ("destination.ip", "192.0.2.9"),
                ("related.ip", "192.0.2.3"),
                ("related.ip", "192.0.2.2"),
                ("user.name", "alice"),
            ]
        );
    }
}
