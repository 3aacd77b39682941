//! Ingest: turns raw records read from sources into normalized [`Event`]s.
//!
//! The pieces are kept apart so each can be tested without the others:
//! [`read_line_bounded`] and [`FileTail`] produce [`Line`]s whose size is
//! bounded before anything is decoded, and the decoders are pure functions
//! from bytes to events. Nothing here fails as a whole because of one bad
//! record: [`decode_batch`] turns every line into an event, a [`DeadLetter`]
//! with the reason, or an ignored count (STYLE.md §6, §7).

mod error;
mod line;
mod sshd;
mod suricata;
mod syslog;
mod tail;
mod time;

use std::fmt;
use std::str::FromStr;

use riposte_model::{DeadLetter, Event, SourcePos, Timestamp};
use serde::{Deserialize, Serialize};

pub use error::{DecodeError, UnknownFormat};
pub use line::{LineRead, read_line_bounded};
pub use tail::{FileTail, TailBatch};

/// The input formats Riposte decodes. A closed enum rather than a registry:
/// adding a format means adding a decoder file and a variant here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Suricata's EVE JSON, one object per line.
    SuricataEve,
    /// RFC 3164 / RFC 5424 syslog lines; sshd messages are recognised inside.
    Syslog,
}

impl Format {
    /// Every format, in the order error messages list them.
    pub const ALL: [Format; 2] = [Format::SuricataEve, Format::Syslog];

    /// The name used in configuration, on the command line and in dead
    /// letters' `format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::SuricataEve => "suricata-eve",
            Format::Syslog => "syslog",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// One raw record read from a source, already cut to the source's line
/// limit so that no decoder ever sees unbounded input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Byte offset of the record's first byte in its source; becomes the
    /// event's [`SourcePos`] and the dead letter's offset.
    pub offset: u64,
    /// The record without its line terminator. When `truncated_from` is set
    /// this is the kept prefix and its length is the limit that was applied.
    pub bytes: Vec<u8>,
    /// The full length when the line was longer than the limit and cut; such
    /// a line is never decoded (half a JSON object would mislead), it becomes
    /// a dead letter.
    pub truncated_from: Option<u64>,
}

/// What a decoder needs besides the bytes.
#[derive(Clone, Copy, Debug)]
pub struct DecodeCtx<'a> {
    /// The source's name (file path, `http`, …), copied into events' origin
    /// and dead letters.
    pub source: &'a str,
    /// "Now", passed in rather than read from the clock so that decoding is
    /// reproducible: RFC 3164 timestamps have no year and get it from here,
    /// and dead letters are stamped with it.
    pub now: Timestamp,
}

/// The result of decoding a batch of lines: every input line is accounted
/// for in exactly one of the three.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedBatch {
    pub events: Vec<Event>,
    pub dead_letters: Vec<DeadLetter>,
    /// Records deliberately skipped: Suricata `stats` records (counters, not
    /// events) and blank lines.
    pub ignored: u64,
}

/// Decodes a batch of lines. It never fails as a whole: a line that cannot be
/// decoded becomes a dead letter carrying the reason, so one bad record never
/// stops the pipeline and nothing is dropped silently.
pub fn decode_batch(format: Format, lines: &[Line], ctx: &DecodeCtx<'_>) -> DecodedBatch {
    let mut out = DecodedBatch {
        events: Vec::with_capacity(lines.len()),
        ..DecodedBatch::default()
    };
    for line in lines {
        let dead = |reason: String, raw_len: u64| {
            DeadLetter::new(
                ctx.now,
                ctx.source,
                Some(line.offset),
                format.as_str(),
                reason,
                &line.bytes,
                raw_len,
            )
        };
        if let Some(full) = line.truncated_from {
            let reason = format!(
                "line of {full} bytes exceeds the limit of {} bytes",
                line.bytes.len()
            );
            out.dead_letters.push(dead(reason, full));
            continue;
        }
        match decode_one(format, &line.bytes, line.offset, ctx) {
            Ok(Some(event)) => out.events.push(event),
            Ok(None) => out.ignored += 1,
            Err(e) => out
                .dead_letters
                .push(dead(e.to_string(), line.bytes.len() as u64)),
        }
    }
    out
}

/// Decodes one record, for callers that hold a single record rather than a
/// file (the HTTP API's `POST /api/v1/events`). `Ok(None)` means the record
/// was deliberately ignored (see [`DecodedBatch::ignored`]).
///
/// The event keeps the raw record as `original` (ECS `event.original`) so an
/// analyst can always see what the decoder saw; its size is already bounded
/// by the source's line limit.
pub fn decode_one(
    format: Format,
    bytes: &[u8],
    offset: u64,
    ctx: &DecodeCtx<'_>,
) -> Result<Option<Event>, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
        at: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let event = match format {
        Format::SuricataEve => suricata::decode(text)?,
        Format::Syslog => Some(syslog::decode(text, ctx.now)?),
    };
    Ok(event.map(|mut event| {
        event.original = Some(text.to_owned());
        event.origin = Some(SourcePos {
            source: ctx.source.to_owned(),
            offset,
        });
        event
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Cursor;

    use chrono::{TimeZone, Utc};

    use super::*;

    fn ctx() -> DecodeCtx<'static> {
        DecodeCtx {
            source: "test.log",
            now: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
        }
    }

    fn line(offset: u64, s: &[u8]) -> Line {
        Line {
            offset,
            bytes: s.to_vec(),
            truncated_from: None,
        }
    }

    #[test]
    fn format_names_roundtrip_and_unknown_lists_valid_names() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.as_str())
            );
        }
        assert_eq!(
            "eve".parse::<Format>().unwrap_err().to_string(),
            "unknown format \"eve\" (valid: suricata-eve, syslog)"
        );
    }

    #[test]
    fn non_utf8_line_becomes_dead_letter_naming_the_byte() {
        let lines = [line(40, b"Mar 14 09:26:53 host sshd[1]: caf\xe9 ok")];
        let out = decode_batch(Format::Syslog, &lines, &ctx());
        assert!(out.events.is_empty());
        assert_eq!(out.dead_letters.len(), 1);
        let dl = &out.dead_letters[0];
        assert_eq!(dl.reason, "invalid UTF-8 at byte 33");
        assert_eq!(dl.offset, Some(40));
        assert_eq!(dl.format, "syslog");
        assert_eq!(dl.source, "test.log");
        assert_eq!(dl.raw, lines[0].bytes);
        assert_eq!(dl.raw_len, lines[0].bytes.len() as u64);
        assert_eq!(dl.received_at, ctx().now);
    }

    #[test]
    fn ten_megabyte_line_is_one_dead_letter_and_the_next_line_decodes() {
        const LIMIT: usize = 1024 * 1024;
        let mut input = vec![b'x'; 10 * 1024 * 1024];
        input.push(b'\n');
        let next = b"Mar 14 09:26:53 host sshd[7]: Invalid user admin from 203.0.113.7 port 4242\n";
        input.extend_from_slice(next);

        let mut reader = Cursor::new(input);
        let mut lines = Vec::new();
        let mut offset = 0;
        loop {
            let mut buf = Vec::new();
            let read = read_line_bounded(&mut reader, &mut buf, LIMIT).unwrap();
            if read.consumed == 0 {
                break;
            }
            let truncated_from = (read.len > buf.len() as u64).then_some(read.len);
            lines.push(Line {
                offset,
                bytes: buf,
                truncated_from,
            });
            offset += read.consumed;
        }
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].bytes.len(), LIMIT);

        let out = decode_batch(Format::Syslog, &lines, &ctx());
        assert_eq!(out.dead_letters.len(), 1);
        let dl = &out.dead_letters[0];
        assert_eq!(dl.raw_len, 10_485_760);
        assert_eq!(dl.raw.len(), DeadLetter::MAX_RAW);
        assert_eq!(
            dl.reason,
            "line of 10485760 bytes exceeds the limit of 1048576 bytes"
        );
        assert_eq!(dl.offset, Some(0));

        assert_eq!(out.events.len(), 1);
        let ev = &out.events[0];
        assert_eq!(ev.get_str("event.action"), Some("ssh_invalid_user"));
        assert_eq!(ev.get_str("source.ip"), Some("203.0.113.7"));
        assert_eq!(
            ev.origin,
            Some(SourcePos {
                source: "test.log".into(),
                offset: 10_485_761
            })
        );
    }

    #[test]
    fn truncated_json_becomes_dead_letter_with_serde_message() {
        let raw = br#"{"timestamp":"2026-03-14T09:26:53.123456+0000","event_type":"alert""#;
        let out = decode_batch(Format::SuricataEve, &[line(0, raw)], &ctx());
        assert!(out.events.is_empty());
        assert_eq!(
            out.dead_letters[0].reason,
            "truncated JSON: EOF while parsing an object at line 1 column 67"
        );
        assert_eq!(out.dead_letters[0].format, "suricata-eve");
    }

    #[test]
    fn stats_is_ignored_and_unknown_event_type_is_dead_lettered() {
        let lines = [
            line(
                0,
                br#"{"timestamp":"2026-03-14T09:26:53.000000+0000","event_type":"stats","stats":{"uptime":5}}"#,
            ),
            line(
                100,
                br#"{"timestamp":"2026-03-14T09:26:53.000000+0000","event_type":"foo"}"#,
            ),
            line(
                200,
                br#"{"timestamp":"2026-03-14T09:26:53.000000+0000","event_type":"dns","src_ip":"10.0.0.1"}"#,
            ),
            line(300, b"   "),
        ];
        let out = decode_batch(Format::SuricataEve, &lines, &ctx());
        assert_eq!(out.ignored, 2, "stats and the blank line");
        assert_eq!(out.dead_letters.len(), 1);
        assert_eq!(
            out.dead_letters[0].reason,
            "unsupported suricata event_type \"foo\""
        );
        assert_eq!(out.dead_letters[0].offset, Some(100));
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].dataset, "suricata.dns");
    }

    #[test]
    fn decode_one_sets_origin_and_original() {
        let raw = "<38>Mar 14 09:26:53 web1 cron[99]: job done";
        let ev = decode_one(Format::Syslog, raw.as_bytes(), 7, &ctx())
            .unwrap()
            .unwrap();
        assert_eq!(ev.original.as_deref(), Some(raw));
        assert_eq!(
            ev.origin,
            Some(SourcePos {
                source: "test.log".into(),
                offset: 7
            })
        );
        assert_eq!(ev.dataset, "syslog");
    }
}
