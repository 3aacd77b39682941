//! Access lines: `[VHOST[:PORT] ]CLIENT IDENT USER [TIME] "REQUEST" STATUS
//! BYTES[ "REFERER" "USER-AGENT"][ anything]`, as nginx's `combined` and
//! Apache's `common`/`combined`/`vhost_combined` write them.
//!
//! # Whose address
//!
//! The client is the first word (the second after a virtual host), which
//! the server writes first. The user (`$remote_user`, `%u`) is the
//! client's text and may hold spaces and brackets, but never a bare `"`
//! (nginx writes `\x22`, Apache `\"`), so the request is the first
//! unescaped quote and the time the last `[…]` before it. Whether a
//! leading word is a virtual host is decided from the first two words
//! only, which the client does not write: an address then a non-address is
//! `CLIENT IDENT`, a non-address then an address is `VHOST CLIENT`. Two
//! addresses (an IP-named virtual host, or an identd answer that is an
//! address) are ambiguous and name no client.

use std::borrow::Cow;
use std::net::IpAddr;

use memchr::{memchr, memchr2, memrchr};
use riposte_model::{Event, Timestamp};

use super::{digits, malformed, month, quote, set_request, utc};
use crate::error::DecodeError;

/// The client, as far as the line says.
enum Client<'a> {
    Ip(IpAddr),
    Domain(&'a str),
    /// Two readings of the first words (see the module documentation).
    Ambiguous,
}

/// Decodes an access line.
pub(super) fn parse(line: &str) -> Result<Event, DecodeError> {
    let b = line.as_bytes();
    let mut q = unescaped_quote(b, 0)
        .ok_or_else(|| malformed(format!("no quoted request in {}", quote(line))))?;
    // Apache writes an empty user as `""`.
    if memchr(b'[', &b[..q]).is_none() && b[q..].starts_with(b"\"\" [") {
        q = unescaped_quote(b, q + 2)
            .ok_or_else(|| malformed(format!("no quoted request in {}", quote(line))))?;
    }
    let prefix = &line[..q];
    let lb = memrchr(b'[', prefix.as_bytes())
        .ok_or_else(|| malformed(format!("no [time] before the request in {}", quote(line))))?;
    let rb = memchr(b']', &prefix.as_bytes()[lb..])
        .map(|i| lb + i)
        .ok_or_else(|| malformed(format!("unclosed [time] in {}", quote(line))))?;
    let time_text = &prefix[lb + 1..rb];
    let timestamp = clf_time(time_text).ok_or_else(|| DecodeError::InvalidTimestamp {
        value: crate::error::clip(time_text),
        expected: "dd/Mmm/yyyy:hh:mm:ss[ ±hhmm]",
    })?;
    // A virtual host may also sit between the time and the request.
    let vhost_after = prefix[rb + 1..].trim_matches(' ');
    if vhost_after.contains(' ') {
        return Err(malformed(format!(
            "unexpected {} between the time and the request",
            quote(vhost_after)
        )));
    }
    let head = prefix[..lb].trim_matches(' ');
    let (vhost, client, user) = split_head(head).ok_or_else(|| {
        malformed(format!(
            "no client address before the time in {}",
            quote(head)
        ))
    })?;

    let (request, end) = quoted(line, q)
        .ok_or_else(|| malformed(format!("unclosed request in {}", quote(&line[q..]))))?;
    let mut rest = line[end..].split(' ').filter(|w| !w.is_empty());
    let status = rest.next().and_then(number_or_dash).ok_or_else(|| {
        malformed(format!(
            "expected a status after the request in {}",
            quote(&line[end..])
        ))
    })?;
    let bytes = rest.next().and_then(number_or_dash).ok_or_else(|| {
        malformed(format!(
            "expected a size after the status in {}",
            quote(&line[end..])
        ))
    })?;
    // `"REFERER" "USER-AGENT"`, when the format has them, right after.
    let after_bytes = line[end..]
        .trim_start_matches(' ')
        .splitn(3, ' ')
        .nth(2)
        .map_or(line.len(), |r| line.len() - r.len());
    let (referrer, user_agent) = match quoted(line, after_bytes) {
        Some((referrer, end)) => {
            let ua = line
                .get(end..)
                .and_then(|r| r.strip_prefix(' '))
                .and_then(|_| quoted(line, end + 1))
                .map(|(ua, _)| ua);
            (Some(referrer), ua)
        }
        None => (None, None),
    };

    let mut ev = Event::new(timestamp, "webserver.access");
    ev.set("event.module", "webserver");
    ev.set("event.kind", "event");
    ev.set("event.category", "web");
    ev.set("event.type", "access");
    match client {
        Client::Ip(ip) => ev.set("source.ip", ip.to_canonical().to_string()),
        Client::Domain(name) => ev.set("source.domain", name.to_ascii_lowercase()),
        Client::Ambiguous => {}
    }
    if let Some(user) = user {
        ev.set("user.name", user);
    }
    if let Some(vhost) = vhost.or(Some(vhost_after).filter(|v| !v.is_empty() && *v != "-")) {
        ev.set("url.domain", strip_port(vhost).to_ascii_lowercase());
    }
    if !request.is_empty() {
        set_request(&mut ev, &request);
        ev.set("message", request.into_owned());
    }
    if let Some(status) = status {
        ev.set_static("http.response.status_code", status);
        ev.set(
            "event.outcome",
            if status >= 400 { "failure" } else { "success" },
        );
    }
    if let Some(bytes) = bytes {
        ev.set("http.response.body.bytes", bytes);
    }
    if let Some(r) = referrer.filter(|r| !r.is_empty() && r != "-") {
        ev.set("http.request.referrer", r.into_owned());
    }
    if let Some(ua) = user_agent.filter(|u| !u.is_empty() && u != "-") {
        ev.set("user_agent.original", ua.into_owned());
    }
    Ok(ev)
}

/// `VHOST CLIENT IDENT USER…` or `CLIENT IDENT USER…` (see the module
/// documentation): the virtual host, the client and the user (`None` for
/// `-`).
fn split_head(head: &str) -> Option<(Option<&str>, Client<'_>, Option<&str>)> {
    let (w0, r0) = head.split_once(' ')?;
    let (w1, r1) = r0.split_once(' ').unwrap_or((r0, ""));
    let ip = |w: &str| w.parse::<IpAddr>().ok();
    let (vhost, client, user_text) = match (ip(w0), ip(w1)) {
        (Some(a), None) => (None, Client::Ip(a), r1),
        (None, Some(a)) => (Some(w0), Client::Ip(a), after_word(r1)),
        (Some(_), Some(_)) => (None, Client::Ambiguous, after_word(r1)),
        (None, None) if w1 == "-" && is_name(w0) => (None, Client::Domain(w0), r1),
        (None, None) if is_name(w0) && is_name(w1) && r1.split(' ').next() == Some("-") => {
            (Some(w0), Client::Domain(w1), after_word(r1))
        }
        (None, None) => return None,
    };
    let user = user_text.trim_matches(' ');
    // `-` for none (twice in some formats), `""` for Apache's empty user.
    let user =
        (!user.split(' ').all(|w| w.is_empty() || w == "-") && user != "\"\"").then_some(user);
    Some((vhost, client, user))
}

fn after_word(s: &str) -> &str {
    s.split_once(' ').map_or("", |(_, rest)| rest)
}

/// A host name (or `name:port` virtual host).
fn is_name(s: &str) -> bool {
    crate::syslog::is_hostname_like(s) && s.bytes().any(|b| b.is_ascii_alphabetic())
}

fn strip_port(vhost: &str) -> &str {
    match vhost.rsplit_once(':') {
        Some((host, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !host.contains(':') =>
        {
            host
        }
        _ => vhost,
    }
}

/// A status or size: digits, or `-` for none.
fn number_or_dash(w: &str) -> Option<Option<i64>> {
    if w == "-" {
        return Some(None);
    }
    if w.is_empty() || w.len() > 18 || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok().map(Some)
}

/// The first `"` at or after `from` that is not escaped with `\`.
fn unescaped_quote(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let at = i + memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[at] == b'"' {
            return Some(at);
        }
        i = at + 2;
    }
}

/// The quoted string starting at byte `open` (which must be `"`),
/// unescaped (`\"` → `"`, `\\` → `\`; other escapes such as nginx's `\x22`
/// are kept as written), and the index after its closing quote.
fn quoted(line: &str, open: usize) -> Option<(Cow<'_, str>, usize)> {
    let b = line.as_bytes();
    if b.get(open) != Some(&b'"') {
        return None;
    }
    let close = unescaped_quote(b, open + 1)?;
    let raw = &line[open + 1..close];
    if memchr(b'\\', raw.as_bytes()).is_none() {
        return Some((Cow::Borrowed(raw), close + 1));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('"' | '\\')) => out.push(e),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Some((Cow::Owned(out), close + 1))
}

/// `dd/Mmm/yyyy:hh:mm:ss[.frac][ ±hhmm]`, spaces allowed before the
/// offset and after everything; no offset is UTC.
pub(super) fn clf_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[14] != b':'
        || b[17] != b':'
    {
        return None;
    }
    let day = digits(b, 0, 2)?;
    let mon = month(&b[3..6])?;
    let year = digits(b, 7, 4)?;
    let (hour, min, sec) = (digits(b, 12, 2)?, digits(b, 15, 2)?, digits(b, 18, 2)?);
    let mut i = 20;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        (nanos, i) = crate::time::parse_fraction(b, i + 1)?;
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut offset = 0i64;
    if let Some(&sign @ (b'+' | b'-')) = b.get(i) {
        let hh = digits(b, i + 1, 2)?;
        let mut j = i + 3;
        if b.get(j) == Some(&b':') {
            j += 1;
        }
        let mm = digits(b, j, 2)?;
        if hh > 23 || mm > 59 {
            return None;
        }
        offset = i64::from(hh * 3600 + mm * 60);
        if sign == b'-' {
            offset = -offset;
        }
        i = j + 2;
    }
    if !b[i.min(b.len())..].iter().all(|&c| c == b' ') {
        return None;
    }
    utc((year, mon, day), (hour, min, sec, nanos), offset)
}
