//! Ingest: turns raw records read from sources into normalized [`Event`]s.
//!
//! The pieces are kept apart so each can be tested without the others:
//! [`read_line_bounded`] and [`FileTail`] produce [`Line`]s whose size is
//! bounded before anything is decoded, and the decoders are pure functions
//! from bytes to events. Nothing here fails as a whole because of one bad
//! record: [`decode_batch`] turns every line into an event, a [`DeadLetter`]
//! with the reason, or an ignored count (STYLE.md §6, §7).
//!
//! Records that are not lines have their own framing: [`JsonValueReader`]
//! cuts pretty-printed JSON exports into records, and [`EvtxReader`] reads
//! Windows' binary EVTX files chunk by chunk into decoded batches.

mod apps;
mod cef;
mod decoder;
mod error;
pub mod fingerprint;
mod framing;
mod json;
mod line;
mod observe;
mod records;
mod sniff;
mod sshd;
mod suricata;
mod syslog;
mod tail;
mod time;
mod wazuh;
mod webserver;
mod windows;
mod zeek;

use std::fmt;
use std::str::FromStr;

use riposte_model::{DeadLetter, Event, Timestamp};
use serde::{Deserialize, Serialize};

pub use decoder::{DecodeOptions, Decoder, RecordDecoder};
pub use error::{DecodeError, UnknownFormat};
pub use framing::JsonValueReader;
pub use json::JsonMapping;
pub use line::{LineRead, read_line_bounded};
pub use observe::add_ecs_observables;
pub use records::RecordReader;
pub use sniff::{SAMPLE_BYTES, sniff};
pub use tail::{FileTail, TailBatch, TailPosition};
pub use windows::evtx::{EvtxReader, read_evtx};

/// The input formats Riposte decodes. A closed enum rather than a registry:
/// adding a format means adding a decoder file and a variant here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Suricata's EVE JSON, one object per line.
    SuricataEve,
    /// RFC 3164 / RFC 5424 syslog lines; sshd, sudo, PAM, Postfix and
    /// Dovecot messages are recognised inside.
    Syslog,
    /// Generic JSON lines, flattened and renamed by the source's mapping.
    Json,
    /// One Windows event as JSON: the `evtx` crate's shape or winlogbeat's.
    /// Pretty-printed exports are framed with [`JsonValueReader`].
    WindowsJson,
    /// One Windows `<Event>` XML element per record.
    WindowsXml,
    /// Binary EVTX files, read with [`read_evtx`] or [`EvtxReader`]; as a
    /// line format every record is a dead letter saying so.
    Evtx,
    /// Wazuh / OSSEC `alerts.json`, one alert per line.
    Wazuh,
    /// ArcSight Common Event Format, with or without a syslog header.
    Cef,
    /// Zeek logs, JSON or TSV (with its `#` header), one stream per log.
    Zeek,
    /// nginx and Apache httpd access and error logs, plain or behind a
    /// syslog header; datasets `webserver.access` and `webserver.error`.
    Webserver,
}

impl Format {
    /// Every format, in the order error messages list them.
    pub const ALL: [Format; 10] = [
        Format::SuricataEve,
        Format::Syslog,
        Format::Json,
        Format::WindowsJson,
        Format::WindowsXml,
        Format::Evtx,
        Format::Wazuh,
        Format::Cef,
        Format::Zeek,
        Format::Webserver,
    ];

    /// The name used in configuration, on the command line and in dead
    /// letters' `format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::SuricataEve => "suricata-eve",
            Format::Syslog => "syslog",
            Format::Json => "json",
            Format::WindowsJson => "windows-json",
            Format::WindowsXml => "windows-xml",
            Format::Evtx => "evtx",
            Format::Wazuh => "wazuh",
            Format::Cef => "cef",
            Format::Zeek => "zeek",
            Format::Webserver => "webserver",
        }
    }

    /// A new record decoder for one stream of this format.
    fn record_decoder(self, options: &DecodeOptions) -> Box<dyn RecordDecoder> {
        match self {
            Format::SuricataEve => Box::new(suricata::EveDecoder),
            Format::Syslog => Box::new(syslog::SyslogDecoder),
            Format::Json => Box::new(json::JsonDecoder::new(options.json_mapping.clone())),
            Format::WindowsJson => Box::new(windows::WindowsJsonDecoder),
            Format::WindowsXml => Box::new(windows::xml::WindowsXmlDecoder),
            Format::Evtx => Box::new(windows::evtx::EvtxLineDecoder),
            Format::Wazuh => Box::new(wazuh::WazuhDecoder),
            Format::Cef => Box::new(cef::CefDecoder),
            Format::Zeek => Box::new(zeek::ZeekDecoder::default()),
            Format::Webserver => Box::new(webserver::WebserverDecoder),
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

impl Line {
    /// A record of `full_len` bytes of which `bytes` were kept: cut (and
    /// to be dead-lettered) when `full_len` is longer.
    pub fn new(offset: u64, bytes: Vec<u8>, full_len: u64) -> Line {
        Line {
            offset,
            truncated_from: (full_len > bytes.len() as u64).then_some(full_len),
            bytes,
        }
    }

    /// A whole record held in memory, keeping at most `max` bytes of it.
    pub fn cut(offset: u64, record: &[u8], max: usize) -> Line {
        Line::new(
            offset,
            record[..record.len().min(max)].to_vec(),
            record.len() as u64,
        )
    }
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
    /// events), Zeek header lines, and blank lines.
    pub ignored: u64,
}

impl DecodedBatch {
    /// Appends another batch's outcome to this one.
    pub fn extend(&mut self, other: DecodedBatch) {
        self.events.extend(other.events);
        self.dead_letters.extend(other.dead_letters);
        self.ignored += other.ignored;
    }
}

/// Decodes a batch of lines of a stateless format with default options; see
/// [`Decoder::decode_batch`]. Streams of stateful formats (Zeek TSV) need
/// one [`Decoder`] kept across batches.
pub fn decode_batch(format: Format, lines: &[Line], ctx: &DecodeCtx<'_>) -> DecodedBatch {
    Decoder::new(format, &DecodeOptions::default()).decode_batch(lines, ctx)
}

/// Decodes one record with default options; see [`Decoder::decode`].
pub fn decode_one(
    format: Format,
    bytes: &[u8],
    offset: u64,
    ctx: &DecodeCtx<'_>,
) -> Result<Option<Event>, DecodeError> {
    Decoder::new(format, &DecodeOptions::default()).decode(bytes, offset, ctx)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Cursor;

    use chrono::{TimeZone, Utc};
    use riposte_model::SourcePos;

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
            "unknown format \"eve\" (valid: suricata-eve, syslog, json, windows-json, windows-xml, evtx, wazuh, cef, zeek, webserver)"
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
            "record of 10485760 bytes exceeds the limit of 1048576 bytes"
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
