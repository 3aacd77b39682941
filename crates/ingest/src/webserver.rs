//! The `webserver` format: nginx and Apache httpd access logs (common and
//! combined, with or without a virtual host in front, extra fields after)
//! and error logs, also when they arrive with a syslog header in front.
//!
//! Datasets are `webserver.access` and `webserver.error`: an access line
//! does not say which server wrote it (both write the same common/combined
//! format), so the dataset names the kind of log rather than the server.
//!
//! Times: an access line's `[10/Oct/2000:13:55:36 -0700]` carries its
//! offset and is converted to UTC (a line written without one is taken as
//! UTC). Error logs carry no zone at all (`2024/01/01 12:00:00`, `[Wed Oct
//! 11 14:32:52 2000]`) and are **taken as UTC**; the source's zone is not
//! configurable yet. A syslog-wrapped line without a time of its own (Apache
//! `ErrorLog syslog`) takes the syslog header's.
//!
//! Parsing is by hand with `memchr` over the bytes, one pass per field: this
//! runs for every request a server logs.

mod access;
mod error;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use riposte_model::{Event, Timestamp};

use crate::error::{DecodeError, clip};
use crate::{DecodeCtx, RecordDecoder};

/// The `webserver` format's decoder; stateless.
#[derive(Debug)]
pub(crate) struct WebserverDecoder;

impl RecordDecoder for WebserverDecoder {
    fn decode(&mut self, text: &str, ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        decode(text, ctx.now).map(Some)
    }
}

const FORMAT: &str = "webserver";

fn malformed(reason: String) -> DecodeError {
    DecodeError::Malformed {
        format: FORMAT,
        reason,
    }
}

/// The syslog header of a wrapped line: its fields go onto the event.
#[derive(Debug, Default, Clone, Copy)]
struct Header<'a> {
    timestamp: Option<Timestamp>,
    host: Option<&'a str>,
    app: Option<&'a str>,
    pid: Option<&'a str>,
}

/// How many syslog headers may be stacked (`host nginx[1]: host nginx: …`
/// from a journal export of a forwarded log).
const MAX_HEADERS: usize = 2;

/// Decodes one access or error line, with or without a syslog header.
pub(crate) fn decode(text: &str, now: Timestamp) -> Result<Event, DecodeError> {
    if looks_like_syslog(text)
        && let Ok(line) = crate::syslog::parse(text, now)
    {
        let header = Header {
            timestamp: Some(line.timestamp),
            host: line.host,
            app: line.app,
            pid: line.pid,
        };
        return decode_wrapped(line.message, header, 1).map_err(|e| {
            malformed(format!(
                "the syslog message is not a web server line: {}",
                reason_of(e)
            ))
        });
    }
    decode_wrapped(text, Header::default(), 0)
}

/// The reason inside a [`DecodeError::Malformed`], to nest it in another.
fn reason_of(e: DecodeError) -> String {
    match e {
        DecodeError::Malformed { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Decodes `text`, which `depth` syslog headers have been stripped from;
/// when it is not a web server line, tries stripping a timestamp-less
/// header (`host nginx[123]: …`, as journal exports write it).
fn decode_wrapped(text: &str, header: Header<'_>, depth: usize) -> Result<Event, DecodeError> {
    let text = text.trim_start_matches(' ');
    match decode_line(text, header) {
        Ok(ev) => Ok(ev),
        Err(e) => {
            if depth < MAX_HEADERS
                && let Some((inner, stripped)) = strip_bare_header(text)
            {
                let header = Header {
                    timestamp: header.timestamp,
                    host: header.host.or(stripped.host),
                    app: header.app.or(stripped.app),
                    pid: header.pid.or(stripped.pid),
                };
                return decode_wrapped(inner, header, depth + 1).map_err(|_| e);
            }
            Err(e)
        }
    }
}

/// `<PRI>`, `Mmm dd ` or `YYYY-MM-DD`: a syslog header, which no access or
/// error line starts with (nginx's error time is `YYYY/MM/DD`).
fn looks_like_syslog(text: &str) -> bool {
    let b = text.as_bytes();
    match b.first() {
        Some(b'<') => b.get(1).is_some_and(u8::is_ascii_digit),
        Some(c) if c.is_ascii_digit() => b.len() > 10 && b[4] == b'-' && b[7] == b'-',
        Some(_) => {
            b.len() > 5
                && b[3] == b' '
                && crate::syslog::MONTHS
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&b[..3]))
                && (b[4].is_ascii_digit() || (b[4] == b' ' && b[5].is_ascii_digit()))
        }
        None => false,
    }
}

/// `HOST TAG[PID]: `, `HOST TAG: ` or `TAG[PID]: ` without a timestamp:
/// the text after it and the header's fields.
fn strip_bare_header(text: &str) -> Option<(&str, Header<'_>)> {
    let (first, rest) = text.split_once(' ')?;
    let (host, tag, inner) = if let Some(tag) = first.strip_suffix(':') {
        (None, tag, rest)
    } else {
        if !crate::syslog::is_hostname_like(first) {
            return None;
        }
        let (word, inner) = rest.split_once(' ')?;
        (Some(first), word.strip_suffix(':')?, inner)
    };
    let (app, pid) = match tag.split_once('[') {
        Some((app, pid)) => (app, Some(pid.strip_suffix(']')?)),
        None => (tag, None),
    };
    let app_ok = !app.is_empty()
        && app
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    let pid_ok = pid.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (app_ok && pid_ok).then_some((
        inner,
        Header {
            timestamp: None,
            host,
            app: Some(app),
            pid,
        },
    ))
}

/// Decodes one line without a header: `[` starts an Apache error line,
/// `YYYY/` an nginx error line, anything else is an access line.
fn decode_line(text: &str, header: Header<'_>) -> Result<Event, DecodeError> {
    let b = text.as_bytes();
    let mut ev = match b.first() {
        Some(b'[') => error::apache(text, header.timestamp)?,
        Some(c) if c.is_ascii_digit() && b.get(4) == Some(&b'/') => error::nginx(text)?,
        _ => access::parse(text)?,
    };
    if let Some(host) = header.host {
        ev.set("host.hostname", host);
    }
    if let Some(app) = header.app {
        ev.set("process.name", app);
    }
    // The line's own `[pid N]` names the process that wrote it; the
    // header's is the logger's.
    if let Some(pid) = header.pid.and_then(|p| p.parse::<i64>().ok())
        && !ev.fields.contains_key("process.pid")
    {
        ev.set("process.pid", pid);
    }
    crate::observe::add_ecs_observables(&mut ev);
    Ok(ev)
}

/// The request line's parts: `METHOD TARGET HTTP/x.y`, `METHOD TARGET`
/// (HTTP/0.9), or garbage (a TLS handshake sent to a plain port), which
/// sets nothing.
fn set_request(ev: &mut Event, request: &str) {
    let Some((method, rest)) = request.split_once(' ') else {
        return;
    };
    if method.is_empty()
        || method.len() > 32
        || !method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
    {
        return;
    }
    let (target, version) = match rest.rsplit_once(' ') {
        Some((target, proto)) if proto.starts_with("HTTP/") => (target, Some(&proto[5..])),
        _ => (rest, None),
    };
    ev.set("http.request.method", method);
    if let Some(version) = version.filter(|v| !v.is_empty()) {
        ev.set("http.version", version);
    }
    if target.is_empty() {
        return;
    }
    ev.set("url.original", target);
    // Origin form `/p?q`, or absolute form `http://host/p?q` (proxies).
    let path_and_query = if target.starts_with('/') {
        Some(target)
    } else if let Some((_, after)) = target.split_once("://") {
        after.find('/').map(|i| &after[i..])
    } else {
        None
    };
    if let Some(pq) = path_and_query {
        let pq = pq.split('#').next().unwrap_or(pq);
        match pq.split_once('?') {
            Some((path, query)) => {
                ev.set("url.path", path);
                if !query.is_empty() {
                    ev.set("url.query", query);
                }
            }
            None => ev.set("url.path", pq),
        }
    }
}

/// `len` ASCII digits at `at`.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    b.get(at..at + len)?.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// A three-letter English month name, 1-12.
fn month(b: &[u8]) -> Option<u32> {
    let name = b.get(..3)?;
    crate::syslog::MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// A UTC timestamp from parts already read; `None` for a date or time
/// that does not exist. `offset_secs` is the local zone's offset east.
fn utc(
    (year, month, day): (u32, u32, u32),
    (hour, min, sec, nanos): (u32, u32, u32, u32),
    offset_secs: i64,
) -> Option<Timestamp> {
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, min, sec, nanos)?;
    let local = NaiveDateTime::new(date, time);
    Some(
        local
            .checked_sub_signed(TimeDelta::seconds(offset_secs))?
            .and_utc(),
    )
}

/// Quotes hostile input for a reason.
fn quote(s: &str) -> String {
    format!("{:?}", clip(s))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
