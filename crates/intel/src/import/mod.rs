//! Feed importers. Each reads one format and hands every indicator it finds
//! to a sink, one at a time, so a feed of any size is read in bounded
//! memory; each record that is not an indicator is counted, by reason, and a
//! broken one is also kept (the first [`MAX_ERRORS`]) with where it is.

pub mod csv;
pub mod misp;
pub mod stix;

use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::TimeDelta;
use riposte_model::{Confidence, Indicator, IndicatorKind, Pap, Timestamp, Tlp};
use serde::Serialize;

use crate::normalize;

/// Broken records kept in a report with their location; the rest are only
/// counted.
pub const MAX_ERRORS: usize = 100;

/// One broken record: where (file and line, event and attribute, object id)
/// and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// What one import read and what became of it. Every record read is
/// accounted for: `read == indicators_from_records + skipped + rejected`
/// where one record may give several indicators (a `domain|ip` attribute,
/// an OR of STIX comparisons) — so the report counts records, not rows out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub feed: String,
    /// Records read (CSV lines that are not comments, MISP attributes, STIX
    /// objects).
    pub read: u64,
    /// Records that gave at least one indicator.
    pub accepted: u64,
    /// Indicators handed to the sink.
    pub indicators: u64,
    /// Records that are not indicators by design, per reason ("MISP type
    /// text", "STIX object malware", "deleted attribute").
    pub skipped: BTreeMap<String, u64>,
    /// Broken records: counted here, the first [`MAX_ERRORS`] in `errors`.
    pub rejected: u64,
    pub errors: Vec<RowError>,
}

impl ImportReport {
    pub fn new(feed: &str) -> Self {
        Self {
            feed: feed.to_owned(),
            ..Self::default()
        }
    }

    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    pub fn reject(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.rejected += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(RowError {
                location: location.into(),
                message: message.into(),
            });
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Adds another report's counts (several files of one feed).
    pub fn absorb(&mut self, other: ImportReport) {
        self.read += other.read;
        self.accepted += other.accepted;
        self.indicators += other.indicators;
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
        self.rejected += other.rejected;
        for e in other.errors {
            if self.errors.len() < MAX_ERRORS {
                self.errors.push(e);
            }
        }
    }
}

/// Why an import stopped before the end (a bad record never stops it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{0}")]
    Sink(String),
    #[error("{0}")]
    Fetch(String),
}

/// Where indicators go: the store writer, an in-memory index, a test's Vec.
pub type Sink<'a> = dyn FnMut(Indicator) -> Result<(), ImportError> + 'a;

/// What a feed's configuration says about indicators its records do not
/// describe themselves.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedDefaults {
    pub feed: String,
    pub confidence: Confidence,
    pub tlp: Tlp,
    pub pap: Pap,
    pub to_ids: bool,
    /// Domain indicators also match subdomains.
    pub subdomains: bool,
    /// Indicators expire this long after they were last seen (or, without a
    /// last-seen time, after the import).
    pub valid_for: Option<TimeDelta>,
    pub tags: Vec<String>,
    /// When the import runs: the "last seen" of records without a time.
    pub now: Timestamp,
}

impl FeedDefaults {
    pub fn new(feed: &str, now: Timestamp) -> Self {
        Self {
            feed: feed.to_owned(),
            confidence: Confidence::new(50).unwrap_or(Confidence::MAX),
            tlp: Tlp::Clear,
            pap: Pap::Clear,
            to_ids: true,
            subdomains: false,
            valid_for: None,
            tags: Vec::new(),
            now,
        }
    }

    /// A normalized indicator with these defaults, or why the value is bad.
    pub fn indicator(
        &self,
        kind: IndicatorKind,
        raw: &str,
    ) -> Result<Indicator, normalize::BadValue> {
        let (kind, value) = normalize::normalize(kind, raw)?;
        let mut ind = Indicator::new(kind, value, &self.feed);
        ind.confidence = self.confidence;
        ind.tlp = self.tlp;
        ind.pap = self.pap;
        ind.to_ids = self.to_ids;
        ind.subdomains = self.subdomains && kind == IndicatorKind::Domain;
        ind.tags = self.tags.clone();
        Ok(ind)
    }

    /// Sets `valid_until` from the policy when the record gave none.
    pub fn expire(&self, ind: &mut Indicator) {
        if ind.valid_until.is_none()
            && let Some(d) = self.valid_for
        {
            ind.valid_until = Some(ind.last_seen.unwrap_or(self.now) + d);
        }
    }
}

/// Reads lines of at most `max` bytes; a longer line is returned as `Err`
/// with its length and skipped whole, without holding it in memory.
pub(crate) struct BoundedLines<R> {
    reader: R,
    max: usize,
    buf: Vec<u8>,
    pub(crate) line_no: u64,
}

pub(crate) enum Line<'a> {
    Text(&'a str),
    TooLong(usize),
    NotUtf8,
}

impl<R: BufRead> BoundedLines<R> {
    pub(crate) fn new(reader: R, max: usize) -> Self {
        Self {
            reader,
            max,
            buf: Vec::new(),
            line_no: 0,
        }
    }

    /// The next line and its 1-based number.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let limit = (self.max + 1) as u64;
        let n = std::io::Read::take(&mut self.reader, limit).read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if self.buf.last() != Some(&b'\n') && self.buf.len() > self.max {
            // Skip the rest of the line in bounded chunks.
            let mut total = self.buf.len();
            loop {
                let available = self.reader.fill_buf()?;
                if available.is_empty() {
                    break;
                }
                match memchr_newline(available) {
                    Some(i) => {
                        total += i + 1;
                        self.reader.consume(i + 1);
                        break;
                    }
                    None => {
                        let len = available.len();
                        total += len;
                        self.reader.consume(len);
                    }
                }
            }
            return Ok(Some((self.line_no, Line::TooLong(total))));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let line = match std::str::from_utf8(&self.buf) {
            Ok(s) => Line::Text(s),
            Err(_) => Line::NotUtf8,
        };
        Ok(Some((self.line_no, line)))
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Reads a whole file of at most `max` bytes (a MISP event, a STIX
/// bundle): the size is checked before anything is read.
pub(crate) fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, ImportError> {
    let io = |source| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > max {
        return Err(ImportError::Format {
            path: path.display().to_string(),
            message: format!("{len} bytes is over the {max}-byte limit for one document"),
        });
    }
    let mut buf = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut buf).map_err(io)?;
    if buf.len() as u64 > max {
        return Err(ImportError::Format {
            path: path.display().to_string(),
            message: format!("grew over the {max}-byte limit while being read"),
        });
    }
    Ok(buf)
}

/// A JSON document of at most `max` bytes ([`read_bounded`]), parsed.
pub(crate) fn read_json(
    path: &std::path::Path,
    max: u64,
) -> Result<serde_json::Value, ImportError> {
    serde_json::from_slice(&read_bounded(path, max)?).map_err(|source| ImportError::Json {
        path: path.display().to_string(),
        source,
    })
}

/// TLP and PAP from MISP-style tags (`tlp:amber`, `PAP:RED`); `white` is
/// TLP 1.0's `clear`. The strictest wins when several are given.
pub(crate) fn sharing_from_tags<'a>(
    tags: impl IntoIterator<Item = &'a str>,
) -> (Option<Tlp>, Option<Pap>) {
    let (mut tlp, mut pap) = (None::<Tlp>, None::<Pap>);
    for tag in tags {
        let lower = tag.trim().to_ascii_lowercase();
        if let Some(level) = lower.strip_prefix("tlp:") {
            let level = if level == "white" { "clear" } else { level };
            if let Ok(t) = level.parse::<Tlp>() {
                tlp = Some(tlp.map_or(t, |old| old.max(t)));
            }
        } else if let Some(level) = lower.strip_prefix("pap:") {
            let level = if level == "white" { "clear" } else { level };
            if let Ok(p) = level.parse::<Pap>() {
                pap = Some(pap.map_or(p, |old| old.max(p)));
            }
        }
    }
    (tlp, pap)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_reported_with_their_length_and_skipped() {
        let text = format!("short\n{}\nnext\r\nlast", "x".repeat(10_000));
        let mut lines =
            BoundedLines::new(std::io::BufReader::with_capacity(64, text.as_bytes()), 100);
        let mut got = Vec::new();
        while let Some((_, line)) = lines.next_line().unwrap() {
            got.push(match line {
                Line::Text(s) => s.to_owned(),
                Line::TooLong(n) => format!("too long: {n}"),
                Line::NotUtf8 => "not utf-8".to_owned(),
            });
        }
        assert_eq!(got, ["short", "too long: 10001", "next", "last"]);
        assert_eq!(lines.line_no, 4);
    }

    #[test]
    fn sharing_tags_take_the_strictest() {
        assert_eq!(
            sharing_from_tags(["tlp:white", "TLP:AMBER", "PAP:GREEN", "other"]),
            (Some(Tlp::Amber), Some(Pap::Green))
        );
        assert_eq!(sharing_from_tags(["tlp:unknown"]), (None, None));
    }
}
