//! Error lines: nginx's `2024/01/01 12:00:00 [error] 123#0: *1 MESSAGE,
//! client: ADDR, server: NAME[, request: "…"][, host: "…"]…` and Apache's
//! `[Wed Oct 11 14:32:52.123456 2000] [module:level] [pid N:tid M] [client
//! ADDR:PORT] MESSAGE` (2.4) or `[Wed Oct 11 14:32:52 2000] [level] [client
//! ADDR] MESSAGE` (2.2).
//!
//! # Whose address
//!
//! Apache writes `[client …]` (or `[remote …]`) in a fixed place before the
//! message, so only that place is read.
//!
//! nginx appends `, client: ADDR, server: NAME` and the request's context
//! *after* the message, and both the message (a user name, a file path) and
//! the context (request line, `Host`, `Referer`) can hold the client's
//! text, so an imitation can stand on either side. Every `, client: ADDR,
//! server: NAME` followed by nothing or by one of nginx's context keys is a
//! candidate; **only a line with exactly one names the client**. A fake
//! one can make the line ambiguous, never make itself the only one.

use std::net::IpAddr;

use memchr::memmem;
use riposte_model::{Event, Timestamp};

use super::{digits, malformed, month, quote, set_request, utc};
use crate::error::DecodeError;

const NGINX_LEVELS: [&str; 8] = [
    "debug", "info", "notice", "warn", "error", "crit", "alert", "emerg",
];

/// What nginx may write after `, server: NAME`.
const NGINX_CONTEXT: [&str; 8] = [
    ", request: \"",
    ", subrequest: \"",
    ", upstream: \"",
    ", upstream: ",
    ", host: \"",
    ", referrer: \"",
    ", login: \"",
    ", bytes from/to client:",
];

/// More `, client: ` than any real line has: ambiguous, and linear work.
const MAX_CANDIDATES: usize = 16;

fn new_event(timestamp: Timestamp) -> Event {
    let mut ev = Event::new(timestamp, "webserver.error");
    ev.set("event.module", "webserver");
    ev.set("event.kind", "event");
    ev.set("event.category", "web");
    ev.set("event.type", "error");
    ev
}

/// An nginx error line.
pub(super) fn nginx(line: &str) -> Result<Event, DecodeError> {
    let b = line.as_bytes();
    let bad = || malformed(format!("not an nginx error line: {}", quote(line)));
    // `YYYY/MM/DD HH:MM:SS [`
    if b.len() < 21
        || b[4] != b'/'
        || b[7] != b'/'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b' '
    {
        return Err(bad());
    }
    let (y, mo, d) = (digits(b, 0, 4), digits(b, 5, 2), digits(b, 8, 2));
    let (h, mi, s) = (digits(b, 11, 2), digits(b, 14, 2), digits(b, 17, 2));
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (y, mo, d, h, mi, s) else {
        return Err(bad());
    };
    let timestamp =
        utc((y, mo, d), (h, mi, s, 0), 0).ok_or_else(|| DecodeError::InvalidTimestamp {
            value: crate::error::clip(&line[..19]),
            expected: "YYYY/MM/DD hh:mm:ss",
        })?;
    let rest = line[20..].strip_prefix('[').ok_or_else(bad)?;
    let (level, rest) = rest.split_once("] ").ok_or_else(bad)?;
    if !NGINX_LEVELS.contains(&level) {
        return Err(malformed(format!(
            "unknown nginx log level {}",
            quote(level)
        )));
    }
    // `PID#TID: [*CONN ]MESSAGE`
    let (ids, message) = rest.split_once(": ").ok_or_else(bad)?;
    let (pid, tid) = ids.split_once('#').ok_or_else(bad)?;
    let (Ok(pid), Ok(tid)) = (pid.parse::<i64>(), tid.parse::<i64>()) else {
        return Err(bad());
    };
    let message = match message.strip_prefix('*').and_then(|m| m.split_once(' ')) {
        Some((conn, m)) if conn.bytes().all(|c| c.is_ascii_digit()) => m,
        _ => message,
    };

    let mut ev = new_event(timestamp);
    ev.set("log.level", level);
    ev.set("process.pid", pid);
    ev.set("process.thread.id", tid);
    ev.set("message", message);
    if let Some(c) = nginx_client(message) {
        ev.set("source.ip", c.ip.to_canonical().to_string());
        if let Some(request) = c.request {
            set_request(&mut ev, request);
        }
    }
    Ok(ev)
}

/// The client nginx named, and the request line after it.
struct NginxClient<'a> {
    ip: IpAddr,
    request: Option<&'a str>,
}

/// The one candidate `, client: ADDR, server: NAME…` (see the module
/// documentation), or `None`.
fn nginx_client(message: &str) -> Option<NginxClient<'_>> {
    let keys: Vec<usize> = memmem::find_iter(message.as_bytes(), b", client: ")
        .take(MAX_CANDIDATES + 1)
        .collect();
    if keys.len() > MAX_CANDIDATES {
        return None;
    }
    let mut found = keys.into_iter().filter_map(|at| {
        let after = &message[at + ", client: ".len()..];
        let end = after.find(", ").unwrap_or(after.len());
        let ip = after[..end].parse::<IpAddr>().ok()?;
        let tail = &after[end..];
        if tail.is_empty() {
            return Some(NginxClient { ip, request: None });
        }
        let server = tail.strip_prefix(", server: ")?;
        let name_end = server.find(", ").unwrap_or(server.len());
        if server[..name_end].contains(' ') {
            return None;
        }
        let context = &server[name_end..];
        if !(context.is_empty() || NGINX_CONTEXT.iter().any(|k| context.starts_with(k))) {
            return None;
        }
        let request = context
            .strip_prefix(", request: \"")
            .and_then(|r| request_value(r));
        Some(NginxClient { ip, request })
    });
    match (found.next(), found.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// The request line of `…", request: "` up to the quote that ends it:
/// the first `"` followed by `, ` and a context key, or ending the line.
fn request_value(r: &str) -> Option<&str> {
    for (i, _) in r.match_indices('"').take(MAX_CANDIDATES) {
        let after = &r[i + 1..];
        if after.is_empty() || NGINX_CONTEXT[1..].iter().any(|k| after.starts_with(k)) {
            return Some(&r[..i]);
        }
    }
    None
}

/// An Apache error line; `fallback` is the syslog header's time for a line
/// written through `ErrorLog syslog`, which has none of its own.
pub(super) fn apache(line: &str, fallback: Option<Timestamp>) -> Result<Event, DecodeError> {
    let bad = || malformed(format!("not an Apache error line: {}", quote(line)));
    let mut rest = line;
    let mut timestamp = None;
    if let Some((group, after)) = group(rest) {
        if let Some(ts) = apache_time(group) {
            timestamp = Some(ts);
            rest = after;
        } else if fallback.is_none() {
            return Err(DecodeError::InvalidTimestamp {
                value: crate::error::clip(group),
                expected: "Www Mmm dd hh:mm:ss[.frac] yyyy",
            });
        }
    }
    let timestamp = timestamp.or(fallback).ok_or_else(bad)?;
    // `[module:level]`, `[:level]` or `[level]`
    let (level_group, after) = group(rest).ok_or_else(bad)?;
    let (module, level) = level_group.rsplit_once(':').unwrap_or(("", level_group));
    if !is_apache_level(level) || module.contains(' ') {
        return Err(malformed(format!(
            "unknown Apache log level {}",
            quote(level_group)
        )));
    }
    rest = after;
    let mut ev = new_event(timestamp);
    ev.set("log.level", level);
    if !module.is_empty() {
        ev.set("log.logger", module);
    }
    // `[pid N]` or `[pid N:tid M]`
    if let Some((pid_group, after)) = group(rest)
        && let Some(ids) = pid_group.strip_prefix("pid ")
    {
        let (pid, tid) = ids
            .split_once(":tid ")
            .map_or((ids, None), |(p, t)| (p, Some(t)));
        if let Ok(pid) = pid.parse::<i64>() {
            ev.set("process.pid", pid);
        }
        if let Some(tid) = tid.and_then(|t| t.parse::<i64>().ok()) {
            ev.set("process.thread.id", tid);
        }
        rest = after;
    }
    // `[client ADDR[:PORT]]`, `[remote …]`; IPv6 with a port is bracketed.
    for key in ["[client ", "[remote "] {
        if let Some(value) = rest.strip_prefix(key)
            && let Some((addr, port, after)) = client_value(value)
        {
            match addr.parse::<IpAddr>() {
                Ok(ip) => ev.set("source.ip", ip.to_canonical().to_string()),
                Err(_) if crate::observe::is_domain(addr) => {
                    ev.set("source.domain", addr.to_ascii_lowercase());
                }
                Err(_) => {}
            }
            if let Some(port) = port {
                ev.set("source.port", port);
            }
            rest = after;
            break;
        }
    }
    let message = rest;
    if let Some((code, _)) = message.split_once(": ")
        && code.len() == 7
        && code.starts_with("AH")
        && code[2..].bytes().all(|b| b.is_ascii_digit())
    {
        ev.set("error.code", code);
    }
    ev.set("message", message);
    Ok(ev)
}

/// `[CONTENT] ` at the start of `s` (or `[CONTENT]` ending it): the
/// content and the text after the space.
fn group(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('[')?;
    let close = memchr::memchr(b']', inner.as_bytes())?;
    let after = &inner[close + 1..];
    let after = after.strip_prefix(' ').unwrap_or(after);
    Some((&inner[..close], after))
}

/// The value of `[client VALUE] `: `1.2.3.4:5678`, `[2001:db8::1]:5678`,
/// `2001:db8::1` (2.2, no port), or a host name.
fn client_value(v: &str) -> Option<(&str, Option<u16>, &str)> {
    if let Some(v6) = v.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        let after = after.strip_prefix(':')?;
        let digits_end = after.find(']')?;
        let port = after[..digits_end].parse().ok();
        let rest = &after[digits_end + 1..];
        return Some((addr, port, rest.strip_prefix(' ').unwrap_or(rest)));
    }
    let close = v.find(']')?;
    let value = &v[..close];
    let rest = &v[close + 1..];
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    if value.parse::<IpAddr>().is_ok() {
        return Some((value, None, rest));
    }
    match value.rsplit_once(':') {
        Some((addr, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some((addr, port.parse().ok(), rest))
        }
        _ => Some((value, None, rest)),
    }
}

fn is_apache_level(level: &str) -> bool {
    matches!(
        level,
        "emerg" | "alert" | "crit" | "error" | "warn" | "notice" | "info" | "debug"
    ) || level
        .strip_prefix("trace")
        .is_some_and(|n| matches!(n, "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8"))
}

/// `Www Mmm dd hh:mm:ss[.frac] yyyy`, the day zero- or space-padded.
fn apache_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 24 || b[3] != b' ' || b[7] != b' ' {
        return None;
    }
    let mon = month(&b[4..7])?;
    let day = if b[8] == b' ' {
        digits(b, 9, 1)?
    } else {
        digits(b, 8, 2)?
    };
    if b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, min, sec) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let mut i = 19;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        (nanos, i) = crate::time::parse_fraction(b, i + 1)?;
    }
    if b.get(i) != Some(&b' ') || b.len() != i + 5 {
        return None;
    }
    let year = digits(b, i + 1, 4)?;
    utc((year, mon, day), (hour, min, sec, nanos), 0)
}
