//! Syslog decoder: RFC 3164 (the BSD format of `/var/log/auth.log`), the
//! same with an RFC 3339 timestamp (rsyslog's high-precision file format,
//! the default on recent Debian and Ubuntu), and RFC 5424.
//!
//! The header becomes ECS `host.hostname`, `process.name`, `process.pid`,
//! `log.syslog.*` and `message`; messages from sshd are further decoded by
//! [`crate::sshd`], those of sudo, PAM, su, Postfix and Dovecot by
//! [`crate::apps`]. Parsing is by hand over the bytes: the formats are
//! positional and a regex per line would cost more than the whole parse.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use riposte_model::{Event, ObservableKind, Timestamp};

use crate::error::{DecodeError, clip};
use crate::{DecodeCtx, RecordDecoder};

/// Programs whose messages [`crate::sshd`] understands. `sshd-session` and
/// `sshd-auth` are the per-connection binaries of OpenSSH 9.8 and later.
const SSHD_PROGRAMS: [&str; 3] = ["sshd", "sshd-session", "sshd-auth"];

/// Longest `TAG[PID]:` accepted; longer first words are message text.
const MAX_TAG: usize = 128;

pub(crate) const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// RFC 5424 structured data as (`SD-ID.PARAM-NAME`, value), unescaped.
type StructuredData = Vec<(String, String)>;

/// A parsed syslog line, borrowing from the input. The CEF decoder reads
/// the syslog header in front of `CEF:` with the same parser.
#[derive(Debug, PartialEq)]
pub(crate) struct SyslogLine<'a> {
    pub(crate) pri: Option<u8>,
    pub(crate) timestamp: Timestamp,
    pub(crate) host: Option<&'a str>,
    pub(crate) app: Option<&'a str>,
    pub(crate) pid: Option<&'a str>,
    /// RFC 5424 only.
    pub(crate) msgid: Option<&'a str>,
    pub(crate) structured_data: StructuredData,
    pub(crate) rfc5424: bool,
    pub(crate) message: &'a str,
}

/// The `syslog` format's decoder; stateless.
#[derive(Debug)]
pub(crate) struct SyslogDecoder;

impl RecordDecoder for SyslogDecoder {
    fn decode(&mut self, text: &str, ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        decode(text, ctx.now).map(Some)
    }
}

/// Decodes one syslog line into an event with dataset `syslog`, `sshd` when
/// the program is sshd, or the dataset of an application [`crate::apps`]
/// recognises (`sudo`, `pam`, `postfix`, `dovecot`).
pub(crate) fn decode(text: &str, now: Timestamp) -> Result<Event, DecodeError> {
    let line = parse(text, now)?;
    let is_sshd = line.app.is_some_and(|app| SSHD_PROGRAMS.contains(&app));
    let mut ev = Event::new(line.timestamp, if is_sshd { "sshd" } else { "syslog" });
    // A plain line has 5–8 fields, sshd and the other applications up to
    // ~16: one allocation for the field vector in either case.
    ev.fields.reserve(16);

    if let Some(pri) = line.pri {
        ev.set("log.syslog.priority", i64::from(pri));
        ev.set("log.syslog.facility.code", i64::from(pri / 8));
        ev.set("log.syslog.severity.code", i64::from(pri % 8));
    }
    if line.rfc5424 {
        ev.set("log.syslog.version", "1");
    }
    if let Some(host) = line.host {
        ev.set("host.hostname", host);
        ev.add_observable(ObservableKind::Host, host, "host.hostname");
    }
    if let Some(app) = line.app {
        ev.set("process.name", app);
    }
    // ECS `process.pid` is a number; a non-numeric PROCID (RFC 5424 allows
    // any printable text) is dropped rather than failing the line.
    if let Some(pid) = line.pid.and_then(|p| p.parse::<i64>().ok()) {
        ev.set("process.pid", pid);
    }
    if let Some(msgid) = line.msgid {
        ev.set("log.syslog.msgid", msgid);
    }
    for (key, value) in line.structured_data {
        ev.set(&format!("log.syslog.structured_data.{key}"), value);
    }
    ev.set("message", line.message);

    if is_sshd {
        crate::sshd::apply(&mut ev, line.message);
        if !ev.fields.contains_key("event.action") {
            // PAM's own lines from inside sshd that sshd.rs leaves alone
            // (the pre-0.99 `(pam_unix)` form, sessions); failures among
            // them accompany sshd's own `Failed …` line, so they do not
            // count as failures again.
            crate::apps::pam::apply_accompanying(&mut ev, line.message);
        }
    } else if let Some(dataset) = crate::apps::apply(&mut ev, line.app, line.message) {
        ev.dataset = dataset.into();
    }
    Ok(ev)
}

fn not_syslog(what: impl Into<String>) -> DecodeError {
    DecodeError::NotSyslog(what.into())
}

/// Whether `line` has a syslog header (for format detection; the time it
/// carries is not needed, so any "now" will do).
pub(crate) fn looks_like_syslog(line: &str) -> bool {
    parse(line, chrono::DateTime::UNIX_EPOCH).is_ok()
}

pub(crate) fn parse(text: &str, now: Timestamp) -> Result<SyslogLine<'_>, DecodeError> {
    let (pri, rest) = parse_pri(text)?;
    if pri.is_some()
        && let Some(rest) = rest.strip_prefix("1 ")
    {
        return parse_5424(pri, rest, now);
    }
    parse_3164(pri, rest, now)
}

/// `<PRI>`: 1-3 digits, 0-191 (facility 0-23 × 8 + severity 0-7).
pub(crate) fn parse_pri(text: &str) -> Result<(Option<u8>, &str), DecodeError> {
    let Some(rest) = text.strip_prefix('<') else {
        return Ok((None, text));
    };
    let bad = || not_syslog(format!("invalid priority {:?}", clip(text)));
    let end = rest
        .bytes()
        .take(4)
        .position(|b| b == b'>')
        .ok_or_else(bad)?;
    let digits = &rest[..end];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let pri: u8 = digits.parse().map_err(|_| bad())?;
    if pri > 191 {
        return Err(not_syslog(format!(
            "priority {pri} is out of range 0-191 in {:?}",
            clip(text)
        )));
    }
    Ok((Some(pri), &rest[end + 1..]))
}

/// RFC 3164: `TIMESTAMP HOSTNAME TAG[PID]: MSG`, the timestamp either BSD
/// (`Mar 14 09:26:53`), RFC 3339 (also with a space for the `T`, as
/// Dovecot's own log files write it) or daemontools' TAI64N
/// (`@400000004c91b044077a9e94`). A first word that looks like a tag is
/// taken as the tag of a line without a hostname (some local loggers).
///
/// A line with no timestamp at all is accepted only in the shape
/// `journalctl -o cat`-style exporters and fail2ban's journal tests write,
/// `[HOST ]TAG[PID]: MSG` with a numeric PID; it gets `now`, the receiver's
/// time, as an RFC 5424 line with a nil timestamp does.
fn parse_3164(pri: Option<u8>, rest: &str, now: Timestamp) -> Result<SyslogLine<'_>, DecodeError> {
    let first = rest.as_bytes().first();
    let (timestamp, rest) = if first == Some(&b'@') {
        parse_tai64n(rest)?
    } else if first.is_some_and(u8::is_ascii_digit) {
        let (token, after) = split_iso_timestamp(rest);
        let ts = crate::time::parse(token).ok_or_else(|| DecodeError::InvalidTimestamp {
            value: clip(token),
            expected: crate::time::EXPECTED,
        })?;
        (ts, after)
    } else {
        match parse_bsd_timestamp(rest, now) {
            Ok(found) => found,
            Err(e) => return headerless(pri, rest, now).ok_or(e),
        }
    };
    let rest = rest.trim_start_matches(' ');

    let (first, after_first) = rest.split_once(' ').unwrap_or((rest, ""));
    let (host, tagged) = if first.ends_with(':') || first.contains('[') {
        (None, rest)
    } else {
        (Some(first).filter(|h| !h.is_empty()), after_first)
    };
    let (app, pid, message) = parse_tag(tagged);
    Ok(SyslogLine {
        pri,
        timestamp,
        host,
        app,
        pid,
        msgid: None,
        structured_data: Vec::new(),
        rfc5424: false,
        message,
    })
}

/// The RFC 3339 token at the start of `s` and the text after its space;
/// `2013-08-11 03:56:40` (a space for the `T`) is one token.
fn split_iso_timestamp(s: &str) -> (&str, &str) {
    let b = s.as_bytes();
    if b.len() > 13 && b[10] == b' ' && b[4] == b'-' && b[11].is_ascii_digit() && b[13] == b':' {
        let end = s[11..].find(' ').map_or(s.len(), |i| i + 11);
        return (&s[..end], s.get(end + 1..).unwrap_or(""));
    }
    s.split_once(' ').unwrap_or((s, ""))
}

/// The TAI64 label of 1970-01-01 00:00:00 UTC as daemontools writes it:
/// 2^62 plus the 10 seconds TAI was ahead of UTC then (libtai's
/// `tai_unix`). Leap seconds since are not counted, as `tai64nlocal` does
/// not count them either.
const TAI64_UNIX_EPOCH: u64 = (1 << 62) + 10;

/// daemontools' `@` + 16 hex digits of TAI64 seconds + 8 of nanoseconds,
/// then a space or the end of the line.
fn parse_tai64n(s: &str) -> Result<(Timestamp, &str), DecodeError> {
    let invalid = || DecodeError::InvalidTimestamp {
        value: clip(s.split(' ').next().unwrap_or(s)),
        expected: "@ and 24 hex digits (TAI64N)",
    };
    let hex = s.get(1..25).ok_or_else(invalid)?;
    let rest = &s[25..];
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(invalid());
    }
    let label = u64::from_str_radix(&hex[..16], 16).map_err(|_| invalid())?;
    let nanos = u32::from_str_radix(&hex[16..], 16).map_err(|_| invalid())?;
    let secs = label
        .checked_sub(TAI64_UNIX_EPOCH)
        .and_then(|s| i64::try_from(s).ok())
        .ok_or_else(invalid)?;
    let ts = chrono::DateTime::from_timestamp(secs, nanos).ok_or_else(invalid)?;
    Ok((ts, rest))
}

/// `[HOST ]TAG[PID]: MSG` without a timestamp (see [`parse_3164`]).
fn headerless(pri: Option<u8>, s: &str, now: Timestamp) -> Option<SyslogLine<'_>> {
    let (first, after) = s.split_once(' ')?;
    let (host, tagged) = if first.ends_with(':') {
        (None, s)
    } else {
        if !is_hostname_like(first) {
            return None;
        }
        (Some(first), after)
    };
    let (app, pid, message) = parse_tag(tagged);
    let pid = pid.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    // A tag is required: without one this is a line of text, not syslog.
    let app = Some(app?);
    Some(SyslogLine {
        pri,
        timestamp: now,
        host,
        app,
        pid: Some(pid),
        msgid: None,
        structured_data: Vec::new(),
        rfc5424: false,
        message,
    })
}

/// Characters of host names and addresses, as a syslog HOSTNAME field
/// holds them.
pub(crate) fn is_hostname_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'))
}

/// `TAG[PID]: MSG` or `TAG: MSG`; anything else is all message.
fn parse_tag(s: &str) -> (Option<&str>, Option<&str>, &str) {
    let (token, rest) = s.split_once(' ').unwrap_or((s, ""));
    let Some(tag) = token.strip_suffix(':').filter(|t| t.len() <= MAX_TAG) else {
        return (None, None, s);
    };
    if let Some(inner) = tag.strip_suffix(']')
        && let Some(open) = inner.find('[')
    {
        let name = &inner[..open];
        return (
            Some(name).filter(|n| !n.is_empty()),
            Some(&inner[open + 1..]),
            rest,
        );
    }
    (Some(tag).filter(|t| !t.is_empty()), None, rest)
}

/// `Mmm dd hh:mm:ss[.frac]`, the day space-padded (`Mar  4`) or not
/// (`Mar 4`), followed by a space or the end of the line.
///
/// The timestamp is taken as UTC: RFC 3164 carries no zone, and the source's
/// zone is not configurable yet. The year is not in the line either; see
/// [`infer_year`].
pub(crate) fn parse_bsd_timestamp(
    s: &str,
    now: Timestamp,
) -> Result<(Timestamp, &str), DecodeError> {
    let b = s.as_bytes();
    let not_a_line = || {
        not_syslog(format!(
            "expected \"<PRI>\" or a timestamp at the start, found {:?}",
            clip(s)
        ))
    };
    let month = b
        .get(..3)
        .and_then(|m| MONTHS.iter().position(|name| name.eq_ignore_ascii_case(m)))
        .ok_or_else(not_a_line)?;
    if b.get(3) != Some(&b' ') {
        return Err(not_a_line());
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_start = i;
    while i < b.len() && i - day_start < 2 && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == day_start || b.get(i) != Some(&b' ') {
        return Err(not_a_line());
    }
    let day: u32 = s[day_start..i].parse().map_err(|_| not_a_line())?;
    i += 1;
    let time = b.get(i..i + 8).ok_or_else(not_a_line)?;
    let num = |at: usize| -> Option<u32> {
        let (h, l) = (time[at], time[at + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
    };
    if time[2] != b':' || time[5] != b':' {
        return Err(not_a_line());
    }
    let (hour, min, sec) = match (num(0), num(3), num(6)) {
        (Some(h), Some(m), Some(s)) => (h, m, s),
        _ => return Err(not_a_line()),
    };
    i += 8;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        (nanos, i) = crate::time::parse_fraction(b, i + 1).ok_or_else(not_a_line)?;
    }
    if i < b.len() && b[i] != b' ' {
        return Err(not_a_line());
    }
    let invalid = || DecodeError::InvalidTimestamp {
        value: clip(&s[..i]),
        expected: "Mmm dd hh:mm:ss",
    };
    let time = NaiveTime::from_hms_nano_opt(hour, min, sec, nanos).ok_or_else(invalid)?;
    let ts = infer_year(month as u32 + 1, day, time, now).ok_or_else(invalid)?;
    Ok((ts, &s[i..]))
}

/// Gives an RFC 3164 timestamp, which has no year, the year that makes it
/// the most recent such moment not in the future.
///
/// It takes `now`'s year unless that puts the timestamp more than one day
/// after `now`, in which case the previous year: at New Year a line stamped
/// `Dec 31 23:59:59` read at 00:10 on 1 January belongs to the year that just
/// ended. One day of slack absorbs senders whose clocks run ahead or sit in
/// zones east of UTC. `Feb 29` goes back to the last leap year. `None` for a
/// day that exists in no year (`Feb 30`).
fn infer_year(month: u32, day: u32, time: NaiveTime, now: Timestamp) -> Option<Timestamp> {
    let limit = now + TimeDelta::days(1);
    // Leap years are at most 8 years apart (around 2100).
    (0..=8).find_map(|back| {
        let date = NaiveDate::from_ymd_opt(now.year() - back, month, day)?;
        let ts = NaiveDateTime::new(date, time).and_utc();
        (ts <= limit).then_some(ts)
    })
}

/// RFC 5424: `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`, after
/// `<PRI>1 `. NILVALUE (`-`) fields are absent; a nil timestamp is replaced
/// by `now` (the receiver's time is the best left).
fn parse_5424(pri: Option<u8>, rest: &str, now: Timestamp) -> Result<SyslogLine<'_>, DecodeError> {
    let mut fields = rest.splitn(6, ' ');
    let mut next = |name: &str| {
        fields
            .next()
            .ok_or_else(|| not_syslog(format!("RFC 5424 header ends before {name}")))
    };
    let ts = next("TIMESTAMP")?;
    let host = next("HOSTNAME")?;
    let app = next("APP-NAME")?;
    let pid = next("PROCID")?;
    let msgid = next("MSGID")?;
    let sd_and_msg = next("STRUCTURED-DATA")?;

    let timestamp = if ts == "-" {
        now
    } else {
        crate::time::parse(ts).ok_or_else(|| DecodeError::InvalidTimestamp {
            value: clip(ts),
            expected: crate::time::EXPECTED,
        })?
    };
    let nil = |s: &'_ str| -> bool { s == "-" || s.is_empty() };
    let (structured_data, message) = parse_structured_data(sd_and_msg)?;
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    Ok(SyslogLine {
        pri,
        timestamp,
        host: (!nil(host)).then_some(host),
        app: (!nil(app)).then_some(app),
        pid: (!nil(pid)).then_some(pid),
        msgid: (!nil(msgid)).then_some(msgid),
        structured_data,
        rfc5424: true,
        message,
    })
}

/// `-` or `[id name="value" …]…`, then an optional ` MSG`. Values may escape
/// `"`, `\` and `]` with a backslash.
fn parse_structured_data(s: &str) -> Result<(StructuredData, &str), DecodeError> {
    let malformed = |at: &str| {
        not_syslog(format!(
            "malformed RFC 5424 structured data at {:?}",
            clip(at)
        ))
    };
    let mut out = Vec::new();
    let mut rest = if let Some(r) = s.strip_prefix('-') {
        r
    } else if s.starts_with('[') {
        let mut rest = s;
        while let Some(element) = rest.strip_prefix('[') {
            let id_end = element.find([' ', ']']).ok_or_else(|| malformed(rest))?;
            let id = &element[..id_end];
            if id.is_empty() || id.contains(['=', '"']) {
                return Err(malformed(rest));
            }
            let mut p = &element[id_end..];
            loop {
                if let Some(after) = p.strip_prefix(']') {
                    p = after;
                    break;
                }
                let param = p.strip_prefix(' ').ok_or_else(|| malformed(p))?;
                let (name, value_and_rest) = param.split_once("=\"").ok_or_else(|| malformed(p))?;
                if name.is_empty() || name.contains([' ', ']', '"']) {
                    return Err(malformed(p));
                }
                let (value, after) = sd_value(value_and_rest).ok_or_else(|| malformed(p))?;
                out.push((format!("{id}.{name}"), value));
                p = after;
            }
            rest = p;
        }
        rest
    } else {
        return Err(malformed(s));
    };
    if !rest.is_empty() {
        rest = rest.strip_prefix(' ').ok_or_else(|| malformed(rest))?;
    }
    Ok((out, rest))
}

/// A PARAM-VALUE up to its closing quote, unescaped; returns it and the text
/// after the quote.
fn sd_value(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\' | ']'))) => value.push(e),
                // RFC 5424 §6.3.3: other backslashes are kept as they are.
                Some((_, e)) => {
                    value.push('\\');
                    value.push(e);
                }
                None => return None,
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use riposte_model::{FieldValue, Observable};

    use super::*;

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn fields(ev: &Event) -> Vec<(&str, String)> {
        ev.fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect()
    }

    #[test]
    fn rfc3164_with_pri_host_tag_and_pid() {
        let ev = decode(
            "<38>Mar 14 09:26:53 web1 cron[4711]: (root) CMD (true)",
            now(),
        )
        .unwrap();
        assert_eq!(ev.dataset, "syslog");
        assert_eq!(ev.timestamp, utc(2026, 3, 14, 9, 26, 53));
        assert_eq!(
            fields(&ev),
            vec![
                ("host.hostname", "web1".into()),
                ("log.syslog.facility.code", "4".into()),
                ("log.syslog.priority", "38".into()),
                ("log.syslog.severity.code", "6".into()),
                ("message", "(root) CMD (true)".into()),
                ("process.name", "cron".into()),
                ("process.pid", "4711".into()),
            ]
        );
        assert_eq!(ev.get("process.pid"), Some(FieldValue::Int(4711)));
        assert_eq!(
            ev.observables,
            vec![Observable::new(
                ObservableKind::Host,
                "web1",
                Some("host.hostname")
            )]
        );
    }

    #[test]
    fn rfc3164_day_padding_variants_and_fraction() {
        for (line, day) in [
            ("Mar  4 09:26:53 h kernel: x", 4),
            ("Mar 4 09:26:53 h kernel: x", 4),
            ("Mar 04 09:26:53 h kernel: x", 4),
            ("mar 14 09:26:53 h kernel: x", 14),
        ] {
            let ev = decode(line, now()).unwrap();
            assert_eq!(ev.timestamp, utc(2026, 3, day, 9, 26, 53), "{line}");
            assert_eq!(ev.get_str("process.name"), Some("kernel"));
            assert_eq!(ev.get("process.pid"), None);
            assert_eq!(ev.get_str("message"), Some("x"));
        }
        let ev = decode("Mar 14 09:26:53.250 h app: x", now()).unwrap();
        assert_eq!(
            ev.timestamp,
            utc(2026, 3, 14, 9, 26, 53) + TimeDelta::milliseconds(250)
        );
    }

    #[test]
    fn rfc3164_without_tag_or_without_host() {
        let ev = decode("Mar 14 09:26:53 h last message repeated 3 times", now()).unwrap();
        assert_eq!(ev.get_str("host.hostname"), Some("h"));
        assert_eq!(ev.get("process.name"), None);
        assert_eq!(ev.get_str("message"), Some("last message repeated 3 times"));

        let ev = decode("Mar 14 09:26:53 sshd[12]: hello", now()).unwrap();
        assert_eq!(ev.get("host.hostname"), None);
        assert_eq!(ev.get_str("process.name"), Some("sshd"));
        assert_eq!(ev.get_str("message"), Some("hello"));
        assert!(ev.observables.is_empty());
    }

    #[test]
    fn rfc3164_year_inference_across_new_year() {
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 10, 0).unwrap();
        let ev = decode("Dec 31 23:59:59 h app: x", now).unwrap();
        assert_eq!(ev.timestamp, utc(2026, 12, 31, 23, 59, 59));
        let ev = decode("Jan  1 00:09:00 h app: x", now).unwrap();
        assert_eq!(ev.timestamp, utc(2027, 1, 1, 0, 9, 0));
        // Up to a day ahead of now is kept in now's year (sender clock skew).
        let ev = decode("Jan  1 23:00:00 h app: x", now).unwrap();
        assert_eq!(ev.timestamp, utc(2027, 1, 1, 23, 0, 0));
        let ev = decode("Jan  2 00:10:01 h app: x", now).unwrap();
        assert_eq!(ev.timestamp, utc(2026, 1, 2, 0, 10, 1));
    }

    #[test]
    fn rfc3164_feb_29_goes_back_to_a_leap_year_and_feb_30_is_refused() {
        let now = Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap();
        let ev = decode("Feb 29 10:00:00 h app: x", now).unwrap();
        assert_eq!(ev.timestamp, utc(2024, 2, 29, 10, 0, 0));
        assert_eq!(
            decode("Feb 30 10:00:00 h app: x", now)
                .unwrap_err()
                .to_string(),
            "invalid timestamp \"Feb 30 10:00:00\" (expected Mmm dd hh:mm:ss)"
        );
    }

    #[test]
    fn rsyslog_high_precision_timestamp() {
        let ev = decode(
            "2026-03-14T10:26:53.321974+01:00 host sshd[2716]: Connection closed by 192.0.2.112 port 22",
            now(),
        )
        .unwrap();
        assert_eq!(
            ev.timestamp,
            utc(2026, 3, 14, 9, 26, 53) + TimeDelta::microseconds(321_974)
        );
        assert_eq!(ev.dataset, "sshd");
        assert_eq!(ev.get("process.pid"), Some(FieldValue::Int(2716)));
    }

    #[test]
    fn rfc5424_full_header_with_structured_data() {
        let ev = decode(
            r#"<165>1 2026-03-14T09:26:53.003Z mymachine.example.com evntslog 8710 ID47 [exampleSDID@32473 iut="3" eventSource="Appl\"ic\]ation"][meta seq="1"] BOMAn application event"#
                .replace("BOM", "\u{feff}")
                .as_str(),
            now(),
        )
        .unwrap();
        assert_eq!(ev.dataset, "syslog");
        assert_eq!(
            ev.timestamp,
            utc(2026, 3, 14, 9, 26, 53) + TimeDelta::milliseconds(3)
        );
        assert_eq!(
            fields(&ev),
            vec![
                ("host.hostname", "mymachine.example.com".into()),
                ("log.syslog.facility.code", "20".into()),
                ("log.syslog.msgid", "ID47".into()),
                ("log.syslog.priority", "165".into()),
                ("log.syslog.severity.code", "5".into()),
                (
                    "log.syslog.structured_data.exampleSDID@32473.eventSource",
                    "Appl\"ic]ation".into()
                ),
                (
                    "log.syslog.structured_data.exampleSDID@32473.iut",
                    "3".into()
                ),
                ("log.syslog.structured_data.meta.seq", "1".into()),
                ("log.syslog.version", "1".into()),
                ("message", "An application event".into()),
                ("process.name", "evntslog".into()),
                ("process.pid", "8710".into()),
            ]
        );
    }

    #[test]
    fn rfc5424_nil_values() {
        let ev = decode("<13>1 - - - - - -", now()).unwrap();
        assert_eq!(ev.timestamp, now());
        assert_eq!(
            fields(&ev),
            vec![
                ("log.syslog.facility.code", "1".into()),
                ("log.syslog.priority", "13".into()),
                ("log.syslog.severity.code", "5".into()),
                ("log.syslog.version", "1".into()),
                ("message", "".into()),
            ]
        );
        let ev = decode(
            "<38>1 2026-03-14T09:26:53Z h sshd 77 - - Failed password for root from 203.0.113.7 port 52211 ssh2",
            now(),
        )
        .unwrap();
        assert_eq!(ev.dataset, "sshd");
        assert_eq!(ev.get_str("event.outcome"), Some("failure"));
    }

    #[test]
    fn tai64n_iso_with_space_and_headerless_lines() {
        // daemontools: label 2^62 + 10 + Unix seconds, then nanoseconds.
        let ev = decode(
            "@400000004c91b04e077a9e94 imap-login: Info: Aborted login (auth failed, 1 attempts): user=<m>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2",
            now(),
        )
        .unwrap();
        assert_eq!(
            ev.timestamp,
            utc(2010, 9, 16, 5, 51, 0) + TimeDelta::nanoseconds(0x077a_9e94)
        );
        assert_eq!(ev.dataset, "dovecot");
        assert_eq!(ev.get_str("process.name"), Some("imap-login"));
        assert_eq!(ev.get_str("source.ip"), Some("192.0.2.1"));

        let ev = decode(
            "2013-08-11 03:56:40 auth-worker(default): Info: pam(u,192.0.2.3): unknown user",
            now(),
        )
        .unwrap();
        assert_eq!(ev.timestamp, utc(2013, 8, 11, 3, 56, 40));
        assert_eq!(ev.get_str("process.name"), Some("auth-worker(default)"));
        assert_eq!(ev.get_str("event.action"), Some("dovecot_unknown_user"));

        // No timestamp at all: only `[HOST ]TAG[PID]: `, stamped `now`.
        let ev = decode("srv sshd[13709]: Invalid user ftp from 192.0.2.1", now()).unwrap();
        assert_eq!(ev.timestamp, now());
        assert_eq!(ev.get_str("host.hostname"), Some("srv"));
        assert_eq!(ev.get_str("source.ip"), Some("192.0.2.1"));
        let ev = decode("sshd[1]: Connection closed by 192.0.2.9 port 22", now()).unwrap();
        assert_eq!(ev.get("host.hostname"), None);
        assert_eq!(ev.dataset, "sshd");
        for not_syslog in [
            "srv sshd: no pid",
            "srv sshd[x1]: bad pid",
            "two words sshd[1]: x",
            "@4000 short",
            "@40000000zzzzzzzz077a9e94 x",
        ] {
            assert!(decode(not_syslog, now()).is_err(), "{not_syslog}");
        }
    }

    /// (dataset, event.action, event.outcome, user.name, source.ip)
    fn summary(
        line: &str,
    ) -> (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) {
        let ev = decode(line, now()).unwrap();
        let get = |k: &str| ev.get_str(k).map(str::to_owned);
        (
            ev.dataset.to_string(),
            get("event.action"),
            get("event.outcome"),
            get("user.name"),
            get("source.ip"),
        )
    }

    #[test]
    fn application_lines_get_their_dataset() {
        let s = |v: &str| Some(v.to_owned());
        for (line, want) in [
            (
                "Mar 14 09:00:00 h sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
                ("sudo", s("sudo_command"), s("success"), s("alice"), None),
            ),
            (
                "Mar 14 09:00:00 h sudo[77]: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
                (
                    "sudo",
                    s("pam_auth_failure"),
                    s("failure"),
                    s("alice"),
                    None,
                ),
            ),
            (
                "Mar 14 09:00:00 h vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=bob rhost=192.0.2.5",
                (
                    "pam",
                    s("pam_auth_failure"),
                    s("failure"),
                    s("bob"),
                    s("192.0.2.5"),
                ),
            ),
            (
                "Mar 14 09:00:00 h su[9]: FAILED SU (to root) alice on pts/0",
                ("pam", s("su_failure"), s("failure"), s("alice"), None),
            ),
            (
                "Mar 14 09:00:00 h postfix/smtpd[1]: warning: unknown[192.0.2.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
                (
                    "postfix",
                    s("smtp_sasl_auth_failure"),
                    s("failure"),
                    None,
                    s("192.0.2.6"),
                ),
            ),
            (
                "Mar 14 09:00:00 h postfix/smtpd[1]: something postfix says",
                ("postfix", None, None, None, None),
            ),
            (
                "Mar 14 09:00:00 h auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=u rhost=192.0.2.7",
                (
                    "dovecot",
                    s("pam_auth_failure"),
                    s("failure"),
                    s("u"),
                    s("192.0.2.7"),
                ),
            ),
            (
                "Mar 14 09:00:00 h dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=192.0.2.8, lip=10.0.0.1",
                (
                    "dovecot",
                    s("imap_auth_failure"),
                    s("failure"),
                    s("x"),
                    s("192.0.2.8"),
                ),
            ),
            (
                "Mar 14 09:00:00 h auth: something else",
                ("syslog", None, None, None, None),
            ),
            // sshd's pre-0.99 PAM line: read by the PAM decoder, but its
            // failure accompanies sshd's own and is not counted again.
            (
                "Mar 14 09:00:00 h sshd[5]: (pam_unix) authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=root",
                (
                    "sshd",
                    s("pam_auth_failure"),
                    s("unknown"),
                    s("root"),
                    s("192.0.2.9"),
                ),
            ),
        ] {
            let want = (want.0.to_owned(), want.1, want.2, want.3, want.4);
            assert_eq!(summary(line), want, "{line}");
        }
        // Observables come from the ECS fields.
        let ev = decode(
            "Mar 14 09:00:00 h postfix/smtpd[1]: warning: unknown[192.0.2.6]: SASL LOGIN authentication failed: x, sasl_username=bob",
            now(),
        )
        .unwrap();
        let mut kinds: Vec<(String, String)> = ev
            .observables
            .iter()
            .map(|o| (o.kind.to_string(), o.value.to_string()))
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                ("host".to_owned(), "h".to_owned()),
                ("ip".into(), "192.0.2.6".into()),
                ("user".into(), "bob".into()),
            ]
        );
    }

    /// User names that imitate the daemons' address fields, through the
    /// whole syslog decoder: the address is the daemon's or none.
    #[test]
    fn hostile_user_names_in_application_lines() {
        for (line, ip) in [
            (
                "Mar 14 09:00:00 h vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x from 6.6.6.6 rhost=6.6.6.6 rhost=192.0.2.1",
                Some("192.0.2.1"),
            ),
            (
                "Mar 14 09:00:00 h dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<rip=6.6.6.6, x>, method=PLAIN, rip=192.0.2.2, lip=10.0.0.1",
                Some("192.0.2.2"),
            ),
            (
                "Mar 14 09:00:00 h dovecot: auth: sql(x,6.6.6.6): unknown user,192.0.2.3,<s>): unknown user",
                None,
            ),
            (
                "Mar 14 09:00:00 h postfix/smtpd[1]: warning: unknown[192.0.2.4]: SASL PLAIN authentication failed: , sasl_username=a from unknown[6.6.6.6]",
                Some("192.0.2.4"),
            ),
        ] {
            assert_eq!(summary(line).4.as_deref(), ip, "{line}");
        }
    }

    #[test]
    fn not_syslog_errors_quote_the_input() {
        let cases = [
            (
                "hello world",
                "not a syslog line: expected \"<PRI>\" or a timestamp at the start, found \"hello world\"",
            ),
            (
                "<999>Mar 14 09:26:53 h a: x",
                "not a syslog line: invalid priority \"<999>Mar 14 09:26:53 h a: x\"",
            ),
            (
                "<192>Mar 14 09:26:53 h a: x",
                "not a syslog line: priority 192 is out of range 0-191 in \"<192>Mar 14 09:26:53 h a: x\"",
            ),
            (
                "<x>Mar 14 09:26:53 h a: x",
                "not a syslog line: invalid priority \"<x>Mar 14 09:26:53 h a: x\"",
            ),
            (
                "Mar 14 9:26:53 h a: x",
                "not a syslog line: expected \"<PRI>\" or a timestamp at the start, found \"Mar 14 9:26:53 h a: x\"",
            ),
            (
                "Mar 14 25:26:53 h a: x",
                "invalid timestamp \"Mar 14 25:26:53\" (expected Mmm dd hh:mm:ss)",
            ),
            (
                "<13>1 2026-03-14T09:26:53Z h",
                "not a syslog line: RFC 5424 header ends before APP-NAME",
            ),
            (
                "<13>1 2026-03-14T09:26:53Z h a p m [x y=\"1\"",
                "not a syslog line: malformed RFC 5424 structured data at \"\"",
            ),
            (
                "<13>1 2026-03-14T09:26:53Z h a p m junk",
                "not a syslog line: malformed RFC 5424 structured data at \"junk\"",
            ),
            (
                "<13>1 bad h a p m -",
                "invalid timestamp \"bad\" (expected YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM])",
            ),
            (
                "2026-03-14X09 h a: x",
                "invalid timestamp \"2026-03-14X09\" (expected YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM])",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode(input, now()).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
    }
}
