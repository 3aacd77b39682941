//! `POST /api/v1/events` bodies read as they stream in: inflated a buffer
//! at a time, split into records on the fly (NDJSON lines, or the elements
//! of a JSON array), and refused at the first record or byte past a limit.
//! What is held is the records themselves, each cut to `max_line_bytes`,
//! plus fixed-size buffers: a body is never held whole, inflated or not
//! (a 64 KiB gzip of 64 MiB of short lines once cost ~2 GB).
//!
//! The network side ([`pump`]) runs on the async executor and forwards the
//! body's chunks through a small channel to the parser ([`read_records`]),
//! which is blocking CPU work and runs off it (`spawn_blocking`).

use std::io::{self, BufReader, Read};

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use riposte_ingest::Line;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::ApiError;

/// The bounds one request is parsed against (the raw body's is the
/// [`pump`]'s).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_records: usize,
    /// The body after inflating (the same as sent when not compressed).
    pub max_inflated_bytes: u64,
    /// Each record is cut to this (a longer one is dead-lettered).
    pub max_line_bytes: usize,
}

/// How the body holds its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One record per line.
    Lines,
    /// One JSON value, or a JSON array of them.
    Json,
}

/// Chunks in flight between the network and the parser: with the raw body
/// limit, this bounds what is buffered ahead of the parser.
const CHANNEL_CHUNKS: usize = 4;
/// The parser's read buffer (inflated bytes).
const READ_BUFFER: usize = 64 << 10;
/// After a refusal, how long the rest of the body is read (and dropped) so
/// that the client, still sending, gets the answer rather than a reset.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// A chunk of the body, or word that the body failed (the pump says why).
type Chunk = Result<Bytes, ()>;

/// A parser's end of the body channel, and what [`pump`] needs to feed it.
pub(crate) fn channel() -> (tokio::sync::mpsc::Sender<Chunk>, ChannelReader) {
    let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
    (
        tx,
        ChannelReader {
            rx,
            chunk: Bytes::new(),
        },
    )
}

/// Forwards the body to the parser until it ends, passes the raw limit
/// (an error), or the parser stops taking it; after a stop, reads and drops
/// what the client still sends, within [`DRAIN_TIME`] and the raw limit.
pub(crate) async fn pump(
    body: Body,
    tx: tokio::sync::mpsc::Sender<Chunk>,
    max_body_bytes: u64,
) -> Result<(), ApiError> {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = tx.closed() => break,
        };
        let chunk = match next {
            None => return Ok(()),
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                let _ = tx.send(Err(())).await;
                return Err(ApiError::BadRequest(format!("reading the body: {e}")));
            }
        };
        read += chunk.len() as u64;
        if read > max_body_bytes {
            let _ = tx.send(Err(())).await;
            return Err(body_too_large(max_body_bytes));
        }
        if tx.send(Ok(chunk)).await.is_err() {
            break;
        }
    }
    // The parser refused the body: it is answered whatever the rest holds.
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len() as u64;
            if read > max_body_bytes {
                break;
            }
        }
    })
    .await;
    Ok(())
}

pub(crate) fn body_too_large(max: u64) -> ApiError {
    ApiError::TooLarge(format!("the body is larger than {max} bytes"))
}

/// The blocking side of the body channel.
#[derive(Debug)]
pub(crate) struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.chunk = chunk,
                // The pump's own error is the answer.
                Some(Err(())) => return Err(refusal(ApiError::BadRequest("body failed".into()))),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// An answer decided below the parser, carried up through `io::Error`
/// (serde_json hands I/O errors back unchanged).
#[derive(Debug)]
struct Refusal(ApiError);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request refused")
    }
}

impl std::error::Error for Refusal {}

fn refusal(e: ApiError) -> io::Error {
    io::Error::other(Refusal(e))
}

/// What an I/O error while parsing means for the client.
fn answer(e: io::Error, gzip: bool) -> ApiError {
    if e.get_ref().is_some_and(|inner| inner.is::<Refusal>()) {
        if let Some(Ok(r)) = e.into_inner().map(|inner| inner.downcast::<Refusal>()) {
            return r.0;
        }
        return ApiError::Internal("lost refusal".into());
    }
    if gzip {
        ApiError::BadRequest(format!("invalid gzip body: {e}"))
    } else {
        ApiError::Internal(format!("reading the body: {e}"))
    }
}

fn too_many(max: usize) -> ApiError {
    ApiError::BadRequest(format!(
        "more than {max} records in one request; the limit is {max}"
    ))
}

/// The body, inflated if gzip'd, refused once past the inflated limit.
struct Inflated<R: Read> {
    source: Source<R>,
    produced: u64,
    max: u64,
}

enum Source<R: Read> {
    Plain(R),
    Gzip(Box<flate2::read::MultiGzDecoder<R>>),
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never ask for more than one byte past the limit.
        let room = (self.max + 1 - self.produced.min(self.max + 1)).min(buf.len() as u64) as usize;
        let n = match &mut self.source {
            Source::Plain(r) => r.read(&mut buf[..room])?,
            Source::Gzip(r) => r.read(&mut buf[..room])?,
        };
        self.produced += n as u64;
        if self.produced > self.max {
            return Err(refusal(ApiError::TooLarge(format!(
                "the body inflates to more than {} bytes",
                self.max
            ))));
        }
        Ok(n)
    }
}

/// Parses a body into records, against `limits`. Blocking: reads `body`
/// (a [`ChannelReader`] in the service) and inflates and parses as it goes.
pub(crate) fn read_records(
    body: impl Read,
    gzip: bool,
    framing: Framing,
    limits: &Limits,
) -> Result<Vec<Line>, ApiError> {
    let source = if gzip {
        Source::Gzip(Box::new(flate2::read::MultiGzDecoder::new(body)))
    } else {
        Source::Plain(body)
    };
    let inflated = Inflated {
        source,
        produced: 0,
        max: limits.max_inflated_bytes,
    };
    let mut lines = Vec::new();
    match framing {
        Framing::Lines => split_lines(inflated, limits, &mut lines).map_err(|e| answer(e, gzip))?,
        Framing::Json => json_records(inflated, limits, &mut lines, gzip)?,
    }
    Ok(lines)
}

/// One record per line; offsets are byte offsets in the (inflated) body.
/// A line's first `max_line_bytes` are kept and the rest only counted; a
/// trailing CR is dropped and blank lines are skipped.
fn split_lines(mut body: impl Read, limits: &Limits, lines: &mut Vec<Line>) -> io::Result<()> {
    let max = limits.max_line_bytes;
    let mut buf = vec![0u8; READ_BUFFER];
    let mut line = Partial::default();
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut data = &buf[..n];
        while let Some(i) = memchr::memchr(b'\n', data) {
            line.extend(&data[..i], max);
            let next = line.start + line.len + 1;
            line.finish(lines, limits)?;
            line.start = next;
            data = &data[i + 1..];
        }
        line.extend(data, max);
    }
    line.finish(lines, limits)
}

/// The line being read: where it starts, its length so far, the kept
/// prefix, its last byte and whether it is all whitespace so far.
struct Partial {
    start: u64,
    len: u64,
    kept: Vec<u8>,
    last: u8,
    blank: bool,
}

impl Default for Partial {
    fn default() -> Self {
        Self {
            start: 0,
            len: 0,
            kept: Vec::new(),
            last: 0,
            blank: true,
        }
    }
}

impl Partial {
    fn extend(&mut self, bytes: &[u8], max: usize) {
        let Some(&last) = bytes.last() else {
            return;
        };
        self.len += bytes.len() as u64;
        self.last = last;
        let room = max.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.blank = self.blank && bytes.iter().all(u8::is_ascii_whitespace);
    }

    /// Ends the line: a record unless blank; resets for the next one.
    fn finish(&mut self, lines: &mut Vec<Line>, limits: &Limits) -> io::Result<()> {
        if !self.blank {
            if lines.len() == limits.max_records {
                return Err(refusal(too_many(limits.max_records)));
            }
            let full = self.len - u64::from(self.last == b'\r');
            let kept = &self.kept[..self.kept.len().min(full as usize)];
            lines.push(Line::new(self.start, kept.to_vec(), full));
        }
        self.len = 0;
        self.kept.clear();
        self.last = 0;
        self.blank = true;
        Ok(())
    }
}

/// A JSON body: one record, or an array of records; strings are records of
/// line formats, anything else is a record's compact JSON text. Offsets
/// number the records. serde_json reads the body as a stream and hands
/// each array element over as it is parsed; elements are written straight
/// into their record's (cut) text, never built as `Value`s.
fn json_records(
    body: impl Read,
    limits: &Limits,
    lines: &mut Vec<Line>,
    gzip: bool,
) -> Result<(), ApiError> {
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(READ_BUFFER, body));
    let mut sink = Sink {
        lines,
        limits,
        scratch: Vec::new(),
        refused: None,
    };
    let parsed =
        de::Deserializer::deserialize_any(&mut de, BodyVisitor(&mut sink)).and_then(|()| de.end());
    match parsed {
        Ok(()) => Ok(()),
        Err(_) if sink.refused.is_some() => Err(sink.refused.take().unwrap_or_else(|| too_many(0))),
        Err(e) if e.is_io() => Err(answer(io::Error::from(e), gzip)),
        Err(e) => Err(ApiError::BadRequest(format!("invalid JSON body: {e}"))),
    }
}

/// Where parsed records go.
struct Sink<'a> {
    lines: &'a mut Vec<Line>,
    limits: &'a Limits,
    /// A record's JSON text as it is written; copied out at its size.
    scratch: Vec<u8>,
    /// Set when the parse stopped on a limit (the answer to give).
    refused: Option<ApiError>,
}

impl Sink<'_> {
    fn push_text(&mut self, text: &str) {
        let offset = self.lines.len() as u64;
        self.lines.push(Line::cut(
            offset,
            text.as_bytes(),
            self.limits.max_line_bytes,
        ));
    }

    fn writer(&mut self) -> Capped<'_> {
        self.scratch.clear();
        Capped {
            max: self.limits.max_line_bytes,
            buf: &mut self.scratch,
            len: 0,
        }
    }

    fn push_written(&mut self, len: u64) {
        let offset = self.lines.len() as u64;
        self.lines
            .push(Line::new(offset, self.scratch.to_vec(), len));
    }
}

/// Keeps the first `max` bytes written and counts them all.
struct Capped<'a> {
    buf: &'a mut Vec<u8>,
    max: usize,
    len: u64,
}

impl io::Write for Capped<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = self.max.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.len += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Capped<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        let _ = io::Write::write(self, bytes);
    }

    fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T) {
        // Writing into memory cannot fail, and strings and finite numbers
        // always serialize.
        let _ = serde_json::to_writer(&mut *self, value);
    }
}

/// The whole body: an array's elements are records, streamed one by one;
/// any other value is one record.
struct BodyVisitor<'s, 'a>(&'s mut Sink<'a>);

/// One record: a string's text, or any other value's compact JSON.
struct RecordVisitor<'s, 'a>(&'s mut Sink<'a>);

/// One array element, as a record.
struct RecordSeed<'s, 'a>(&'s mut Sink<'a>);

/// The element past the limit: refused before a byte of it is parsed.
struct TooMany<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(RecordVisitor(self.0))
    }
}

impl<'de> DeserializeSeed<'de> for TooMany<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        self.0.refused = Some(too_many(self.0.limits.max_records));
        Err(de::Error::custom("too many records"))
    }
}

/// The visitor methods of a scalar record: its compact JSON.
macro_rules! scalar_records {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<(), E> {
            let mut w = self.0.writer();
            w.json(&v);
            let len = w.len;
            self.0.push_written(len);
            Ok(())
        }
    )*};
}

impl<'de> Visitor<'de> for RecordVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a record")
    }

    scalar_records!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64)
    );

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        let mut w = self.0.writer();
        w.raw(b"null");
        let len = w.len;
        self.0.push_written(len);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_text(v);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let mut w = self.0.writer();
        Compact::seq(&mut w, seq)?;
        let len = w.len;
        self.0.push_written(len);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let mut w = self.0.writer();
        Compact::map(&mut w, map)?;
        let len = w.len;
        self.0.push_written(len);
        Ok(())
    }
}

/// Forwards every visit but an array's to [`RecordVisitor`].
macro_rules! forward_to_record {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<(), E> {
            RecordVisitor(self.0).$method(v)
        }
    )*};
}

impl<'de> Visitor<'de> for BodyVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a record or an array of records")
    }

    forward_to_record!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str)
    );

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        RecordVisitor(self.0).visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        RecordVisitor(self.0).visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.0.lines.len() == self.0.limits.max_records {
                // `TooMany` fails if there is one more element.
                return seq.next_element_seed(TooMany(self.0)).map(|_| ());
            }
            if seq.next_element_seed(RecordSeed(self.0))?.is_none() {
                return Ok(());
            }
        }
    }
}

/// Writes any value as compact JSON (what `serde_json::to_string` of its
/// `Value` gives, keys in the order sent), preceded by `sep`.
struct Compact<'w, 'b> {
    w: &'w mut Capped<'b>,
    sep: Option<u8>,
}

impl Compact<'_, '_> {
    fn seq<'de, A: SeqAccess<'de>>(w: &mut Capped<'_>, mut seq: A) -> Result<(), A::Error> {
        w.raw(b"[");
        let mut sep = None;
        while seq
            .next_element_seed(Compact { w: &mut *w, sep })?
            .is_some()
        {
            sep = Some(b',');
        }
        w.raw(b"]");
        Ok(())
    }

    fn map<'de, A: MapAccess<'de>>(w: &mut Capped<'_>, mut map: A) -> Result<(), A::Error> {
        w.raw(b"{");
        let mut sep = None;
        while map.next_key_seed(Key { w: &mut *w, sep })?.is_some() {
            w.raw(b":");
            map.next_value_seed(Compact {
                w: &mut *w,
                sep: None,
            })?;
            sep = Some(b',');
        }
        w.raw(b"}");
        Ok(())
    }

    fn sep(&mut self) {
        if let Some(sep) = self.sep {
            self.w.raw(&[sep]);
        }
    }
}

impl<'de> DeserializeSeed<'de> for Compact<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! compact_scalars {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(mut self, v: $ty) -> Result<(), E> {
            self.sep();
            self.w.json(&v);
            Ok(())
        }
    )*};
}

impl<'de> Visitor<'de> for Compact<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    compact_scalars!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str)
    );

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.sep();
        self.w.raw(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, seq: A) -> Result<(), A::Error> {
        self.sep();
        Compact::seq(self.w, seq)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        self.sep();
        Compact::map(self.w, map)
    }
}

/// An object's key, preceded by `sep`.
struct Key<'w, 'b> {
    w: &'w mut Capped<'b>,
    sep: Option<u8>,
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if let Some(sep) = self.sep {
            self.w.raw(&[sep]);
        }
        self.w.json(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_records: 3,
        max_inflated_bytes: 1 << 10,
        max_line_bytes: 8,
    };

    fn json(body: &str) -> Result<Vec<(u64, String, Option<u64>)>, String> {
        read_records(body.as_bytes(), false, Framing::Json, &LIMITS)
            .map(|lines| {
                lines
                    .into_iter()
                    .map(|l| {
                        let text = String::from_utf8(l.bytes).unwrap_or_default();
                        (l.offset, text, l.truncated_from)
                    })
                    .collect()
            })
            .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn json_records_are_strings_or_compact_json_cut_at_the_limit() {
        assert_eq!(
            json(r#"[ "ab" , {"x" : [1, 2.0]}, null ]"#),
            Ok(vec![
                (0, "ab".into(), None),
                (1, r#"{"x":[1,"#.into(), Some(13)),
                (2, "null".into(), None),
            ])
        );
        assert_eq!(json("-0"), Ok(vec![(0, "-0.0".into(), None)]));
        assert_eq!(json(r#""\u00e9""#), Ok(vec![(0, "é".into(), None)]));
        assert_eq!(json("[]"), Ok(vec![]));
        assert_eq!(json("[1,2,3]").map(|l| l.len()), Ok(3));
    }

    #[test]
    fn json_errors_name_the_limit_or_the_syntax() {
        assert_eq!(
            json("[1,2,3,4"),
            Err(r#"BadRequest("more than 3 records in one request; the limit is 3")"#.into())
        );
        assert_eq!(
            json("[1,2,3,]"),
            Err(r#"BadRequest("invalid JSON body: trailing comma at line 1 column 8")"#.into())
        );
        assert_eq!(
            json("[1] x"),
            Err(
                r#"BadRequest("invalid JSON body: trailing characters at line 1 column 5")"#.into()
            )
        );
        assert_eq!(
            json(""),
            Err(
                r#"BadRequest("invalid JSON body: EOF while parsing a value at line 1 column 0")"#
                    .into()
            )
        );
        let deep = "[".repeat(200);
        assert_eq!(
            json(&format!("[{deep}")),
            Err(
                r#"BadRequest("invalid JSON body: recursion limit exceeded at line 1 column 128")"#
                    .into()
            )
        );
    }

    #[test]
    fn inflated_bytes_past_the_limit_are_refused() {
        let body = vec![b' '; 1025];
        let e = read_records(&body[..], false, Framing::Lines, &LIMITS).map(|_| ());
        assert_eq!(
            format!("{e:?}"),
            r#"Err(TooLarge("the body inflates to more than 1024 bytes"))"#
        );
        let ok = read_records(&body[..1024], false, Framing::Lines, &LIMITS).map(|l| l.len());
        assert_eq!(format!("{ok:?}"), "Ok(0)");
    }
}
