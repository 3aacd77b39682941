//! The per-source decoder: a [`Format`]'s record decoder plus whatever state
//! the format carries from one record to the next (Zeek's `#fields` header,
//! the user's JSON field mapping).

use std::fmt;

use riposte_model::{DeadLetter, Event, SourcePos};

use crate::{DecodeCtx, DecodeError, DecodedBatch, Format, Line};

/// Decodes one record of one format. Implementations are pure apart from
/// their own state: no I/O, no clock (the time comes in `ctx`).
pub trait RecordDecoder: Send + fmt::Debug {
    /// Decodes one record. `text` is valid UTF-8 and not blank. `Ok(None)`
    /// means the record was deliberately skipped (counters, headers); it is
    /// counted as ignored, never dropped silently.
    fn decode(&mut self, text: &str, ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError>;
}

/// Options some formats need besides the bytes, from the source's
/// configuration.
#[derive(Clone, Debug, Default)]
pub struct DecodeOptions {
    /// The field mapping of the generic `json` format: ECS name ← source
    /// field path. Without one, generic JSON is flattened to dotted names.
    pub json_mapping: Option<crate::json::JsonMapping>,
}

/// Decodes the records of one stream (a file, a connection, a subject).
/// Keep one per stream: stateful formats such as Zeek TSV read their header
/// from the stream itself.
#[derive(Debug)]
pub struct Decoder {
    format: Format,
    inner: Box<dyn RecordDecoder>,
}

impl Decoder {
    pub fn new(format: Format, options: &DecodeOptions) -> Self {
        Self {
            format,
            inner: format.record_decoder(options),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Decodes one record, for callers that hold a single record rather
    /// than a file. `Ok(None)` means the record was deliberately ignored
    /// (see [`DecodedBatch::ignored`]).
    ///
    /// The event keeps the raw record as `original` (ECS `event.original`)
    /// so an analyst can always see what the decoder saw; its size is
    /// already bounded by the source's record limit.
    pub fn decode(
        &mut self,
        bytes: &[u8],
        offset: u64,
        ctx: &DecodeCtx<'_>,
    ) -> Result<Option<Event>, DecodeError> {
        if self.format == Format::Evtx {
            return Err(crate::windows::evtx::not_lines());
        }
        let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
            at: e.valid_up_to(),
        })?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            return Ok(None);
        }
        let event = self.inner.decode(text, ctx)?;
        Ok(event.map(|mut event| {
            event.original = Some(text.to_owned());
            event.origin = Some(SourcePos {
                source: ctx.source.into(),
                offset,
            });
            event
        }))
    }

    /// Decodes a batch of records. It never fails as a whole: a record that
    /// cannot be decoded becomes a dead letter carrying the reason, so one
    /// bad record never stops the pipeline and nothing is dropped silently.
    pub fn decode_batch(&mut self, lines: &[Line], ctx: &DecodeCtx<'_>) -> DecodedBatch {
        let mut out = DecodedBatch {
            events: Vec::with_capacity(lines.len()),
            ..DecodedBatch::default()
        };
        let format = self.format.as_str();
        for line in lines {
            let dead = |reason: String, raw_len: u64| {
                DeadLetter::new(
                    ctx.now,
                    ctx.source,
                    Some(line.offset),
                    format,
                    reason,
                    &line.bytes,
                    raw_len,
                )
            };
            if let Some(full) = line.truncated_from {
                let reason = format!(
                    "record of {full} bytes exceeds the limit of {} bytes",
                    line.bytes.len()
                );
                out.dead_letters.push(dead(reason, full));
                continue;
            }
            match self.decode(&line.bytes, line.offset, ctx) {
                Ok(Some(event)) => out.events.push(event),
                Ok(None) => out.ignored += 1,
                Err(e) => {
                    let reason = e.to_string();
                    out.dead_letters.push(dead(reason, line.bytes.len() as u64));
                }
            }
        }
        out
    }
}
