//! `evtx`: Windows' binary event log files, read through the `evtx` crate.
//!
//! An EVTX file is a 4 KiB header and 64 KiB chunks of records, not lines,
//! so it has its own reader, [`EvtxReader`], which hands out decoded
//! batches chunk by chunk: memory stays bounded by one chunk's records
//! whatever the file's size. Every record is rendered by the `evtx` crate
//! to its JSON tree and normalized by the same code as `windows-json`
//! ([`super::normalize`]), so an EVTX file and its `evtx_dump` export give
//! the same events.
//!
//! Damage is contained: a chunk whose header cannot be read, a record that
//! cannot be read or rendered, or a record that is not a Windows event
//! becomes a dead letter and the reader goes on with the next record or
//! chunk. A panic inside the `evtx` crate on a hostile chunk is caught and
//! dead-letters that chunk.
//!
//! # Offsets
//!
//! Offsets are byte offsets in the file, as for every other source: an
//! event's `origin` and a record's dead letter carry the offset of the
//! record's header (`**\0\0`), a chunk's dead letter the offset of the
//! chunk (4096 + 65536 × its number). A dead letter's reason names the
//! record by the id in its record header (`record 42: …`), which is the
//! event's `EventRecordID` unless the log was re-exported. An event's
//! `original` is the record as the `evtx` crate's compact JSON.
//!
//! Chunks are read in record order, as Windows reads a log that has wrapped
//! around: from the chunk holding the oldest records to the end of the
//! file, then from its start.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use ::evtx::err::EvtxError;
use ::evtx::{EvtxChunk, EvtxChunkHeader, EvtxFileHeader, ParserSettings};
use riposte_model::{DeadLetter, Event, SourcePos};
use serde_json::Value;

use crate::{DecodeCtx, DecodeError, DecodedBatch, RecordDecoder};

const FORMAT: &str = "evtx";
const FILE_HEADER_SIZE: u64 = 4096;
const CHUNK_SIZE: usize = 65536;
const CHUNK_HEADER_SIZE: usize = 512;
const RECORD_HEADER_SIZE: u64 = 24;
const RECORD_MAGIC: &[u8] = b"\x2a\x2a\x00\x00";
/// The longest error chain kept in a dead letter's reason.
const REASON_MAX: usize = 400;

/// What one chunk yielded, before it is turned into events.
enum Item {
    Record {
        offset: u64,
        tree: Value,
    },
    Failed {
        offset: u64,
        reason: String,
        raw: Vec<u8>,
        raw_len: u64,
    },
}

/// Reads an EVTX file chunk by chunk; see the module documentation.
pub struct EvtxReader<R = File> {
    data: R,
    settings: Arc<ParserSettings>,
    /// Chunk numbers still to read, in record order.
    chunks: VecDeque<u64>,
    /// Bytes past the last whole chunk: a file cut short. Reported once, at
    /// the end.
    trailing: Option<(u64, u64)>,
    pending: VecDeque<Item>,
}

impl<R> std::fmt::Debug for EvtxReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvtxReader")
            .field("chunks_left", &self.chunks.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl EvtxReader<File> {
    /// Opens an EVTX file. Fails when the file cannot be read or does not
    /// start with an EVTX file header.
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::new(File::open(path)?)
    }
}

impl EvtxReader<io::Cursor<Vec<u8>>> {
    /// Reads an EVTX file held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> io::Result<Self> {
        Self::new(io::Cursor::new(bytes))
    }
}

impl<R: Read + Seek> EvtxReader<R> {
    /// Reads the file header and the chunk headers' record ranges, to know
    /// where the oldest records are. Fails when the input is not EVTX.
    pub fn new(mut data: R) -> io::Result<Self> {
        let len = data.seek(SeekFrom::End(0))?;
        data.seek(SeekFrom::Start(0))?;
        EvtxFileHeader::from_stream(&mut data).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an EVTX file: {}", error_chain(&e)),
            )
        })?;
        let body = len.saturating_sub(FILE_HEADER_SIZE);
        let whole = body / CHUNK_SIZE as u64;
        let rest = body % CHUNK_SIZE as u64;
        let trailing = (rest > 0).then(|| (chunk_offset(whole), rest));
        // A last chunk cut short is read as far as it goes, when at least
        // its header is there.
        let count = whole + u64::from(rest >= CHUNK_HEADER_SIZE as u64);

        // The chunk with the lowest first record id holds the oldest records.
        let mut oldest = (u64::MAX, 0);
        let mut header = [0u8; CHUNK_HEADER_SIZE];
        for n in 0..count {
            data.seek(SeekFrom::Start(chunk_offset(n)))?;
            data.read_exact(&mut header)?;
            if let Ok(h) = EvtxChunkHeader::from_bytes(&header)
                && h.first_event_record_id <= h.last_event_record_id
                && h.first_event_record_id < oldest.0
            {
                oldest = (h.first_event_record_id, n);
            }
        }
        let chunks = (oldest.1..count).chain(0..oldest.1).collect();
        let settings = ParserSettings::new()
            .indent(false)
            .separate_json_attributes(false);
        Ok(Self {
            data,
            settings: Arc::new(settings),
            chunks,
            trailing,
            pending: VecDeque::new(),
        })
    }

    /// Decodes up to `max` records (at least one), reading chunks as
    /// needed. `Ok(None)` at the end of the file. Damaged records and chunks
    /// are in the batch's dead letters; only an I/O error fails the call.
    pub fn next_batch(
        &mut self,
        max: usize,
        ctx: &DecodeCtx<'_>,
    ) -> io::Result<Option<DecodedBatch>> {
        let max = max.max(1);
        let mut out = DecodedBatch::default();
        let mut taken = 0;
        while taken < max {
            let Some(item) = self.next_item()? else {
                break;
            };
            taken += 1;
            match item {
                Item::Record { offset, tree } => {
                    let original = tree.to_string();
                    match super::normalize(tree, FORMAT) {
                        Ok(mut ev) => {
                            ev.original = Some(original);
                            ev.origin = Some(SourcePos {
                                source: ctx.source.into(),
                                offset,
                            });
                            out.events.push(ev);
                        }
                        Err(e) => out.dead_letters.push(DeadLetter::new(
                            ctx.now,
                            ctx.source,
                            Some(offset),
                            FORMAT,
                            e.to_string(),
                            original.as_bytes(),
                            original.len() as u64,
                        )),
                    }
                }
                Item::Failed {
                    offset,
                    reason,
                    raw,
                    raw_len,
                } => out.dead_letters.push(DeadLetter::new(
                    ctx.now,
                    ctx.source,
                    Some(offset),
                    FORMAT,
                    reason,
                    &raw,
                    raw_len,
                )),
            }
        }
        Ok((taken > 0).then_some(out))
    }

    fn next_item(&mut self) -> io::Result<Option<Item>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            let Some(n) = self.chunks.pop_front() else {
                return Ok(self.trailing.take().map(|(offset, len)| Item::Failed {
                    offset,
                    reason: format!(
                        "the file is cut short: it ends {len} bytes into its last chunk \
                         (of {CHUNK_SIZE}); records past the cut are lost"
                    ),
                    raw: Vec::new(),
                    raw_len: len,
                }));
            };
            let mut data = Vec::with_capacity(CHUNK_SIZE);
            self.data.seek(SeekFrom::Start(chunk_offset(n)))?;
            (&mut self.data)
                .take(CHUNK_SIZE as u64)
                .read_to_end(&mut data)?;
            // The cut-short last chunk: zeroes read as free space.
            data.resize(CHUNK_SIZE, 0);
            // Windows leaves unused chunks zeroed.
            if data.iter().all(|&b| b == 0) {
                continue;
            }
            let settings = Arc::clone(&self.settings);
            let pending = &mut self.pending;
            let read = catch_unwind(AssertUnwindSafe(|| read_chunk(n, data, settings, pending)));
            if read.is_err() {
                self.pending.push_back(Item::Failed {
                    offset: chunk_offset(n),
                    reason: format!(
                        "chunk {n}: the evtx parser panicked on it; its remaining records are lost"
                    ),
                    raw: Vec::new(),
                    raw_len: CHUNK_SIZE as u64,
                });
            }
        }
    }
}

/// Reads a whole EVTX file into one batch; see [`EvtxReader`] for files too
/// large to hold decoded at once.
pub fn read_evtx(path: &Path, ctx: &DecodeCtx<'_>) -> io::Result<DecodedBatch> {
    let mut reader = EvtxReader::open(path)?;
    let mut out = DecodedBatch::default();
    while let Some(batch) = reader.next_batch(1024, ctx)? {
        out.extend(batch);
    }
    Ok(out)
}

fn chunk_offset(n: u64) -> u64 {
    FILE_HEADER_SIZE + n * CHUNK_SIZE as u64
}

/// Renders every record of chunk `n` into `out`.
fn read_chunk(n: u64, data: Vec<u8>, settings: Arc<ParserSettings>, out: &mut VecDeque<Item>) {
    let base = chunk_offset(n);
    let chunk_failed = |what: &str, e: &dyn std::error::Error, data: &[u8]| Item::Failed {
        offset: base,
        reason: cut(format!("chunk {n}: {what}: {}", error_chain(e))),
        raw: data.get(..CHUNK_HEADER_SIZE).unwrap_or(data).to_vec(),
        raw_len: CHUNK_SIZE as u64,
    };
    let header = match EvtxChunkHeader::from_bytes(&data) {
        Ok(h) => h,
        Err(e) => {
            out.push_back(chunk_failed("unreadable chunk header", &e, &data));
            return;
        }
    };
    let mut chunk = match EvtxChunk::new(&data, &header, settings) {
        Ok(c) => c,
        Err(e) => {
            out.push_back(chunk_failed("unreadable chunk", &e, &data));
            return;
        }
    };
    for record in chunk.iter() {
        let item = match record {
            Ok(record) => {
                let id = record.event_record_id;
                let start = record.binxml_offset.saturating_sub(RECORD_HEADER_SIZE);
                match record.into_json_value() {
                    Ok(r) => Item::Record {
                        offset: base + start,
                        tree: r.data,
                    },
                    Err(e) => record_failed(base, &data, Some(start), id, &e),
                }
            }
            Err(e) => match &e {
                EvtxError::FailedToReadRecordAt { offset, .. } => {
                    let offset = *offset;
                    let raw = data
                        .get(usize::try_from(offset).unwrap_or(usize::MAX)..)
                        .unwrap_or(&[]);
                    let raw = &raw[..raw.len().min(DeadLetter::MAX_RAW)];
                    Item::Failed {
                        offset: base + offset,
                        reason: cut(format!(
                            "chunk {n}: unreadable record at chunk offset {offset}: {}",
                            error_chain(&e)
                        )),
                        raw: raw.to_vec(),
                        raw_len: raw.len() as u64,
                    }
                }
                EvtxError::FailedToParseRecord { record_id, .. } => {
                    record_failed(base, &data, None, *record_id, &e)
                }
                _ => Item::Failed {
                    offset: base,
                    reason: cut(format!("chunk {n}: {}", error_chain(&e))),
                    raw: Vec::new(),
                    raw_len: 0,
                },
            },
        };
        out.push_back(item);
    }
}

/// The dead letter of record `id`, which could be read but not rendered.
/// Its offset in the chunk is `start` when known, else found by its header
/// (magic and id); the raw bytes are the record's.
fn record_failed(base: u64, chunk: &[u8], start: Option<u64>, id: u64, e: &EvtxError) -> Item {
    let start = start
        .and_then(|s| usize::try_from(s).ok())
        .or_else(|| find_record(chunk, id));
    let raw = start
        .and_then(|s| {
            let size = chunk.get(s + 4..s + 8)?;
            let size = u32::from_le_bytes(size.try_into().ok()?) as usize;
            chunk.get(s..s.saturating_add(size).min(chunk.len()))
        })
        .unwrap_or(&[]);
    Item::Failed {
        offset: base + start.unwrap_or(0) as u64,
        reason: cut(format!("record {id}: {}", error_chain(e))),
        raw: raw[..raw.len().min(DeadLetter::MAX_RAW)].to_vec(),
        raw_len: raw.len() as u64,
    }
}

/// Where in the chunk the record with this id starts.
fn find_record(chunk: &[u8], id: u64) -> Option<usize> {
    let id = id.to_le_bytes();
    memchr::memmem::find_iter(chunk, RECORD_MAGIC)
        .find(|&at| chunk.get(at + 8..at + 16) == Some(&id[..]))
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Cuts a reason to [`REASON_MAX`] bytes on a character boundary.
fn cut(mut s: String) -> String {
    if s.len() > REASON_MAX {
        let mut end = REASON_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// The `evtx` format's line decoder, for a line-based source configured
/// with `evtx` by mistake: every record is refused with the reason.
#[derive(Debug)]
pub(crate) struct EvtxLineDecoder;

impl RecordDecoder for EvtxLineDecoder {
    fn decode(&mut self, _text: &str, _ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        Err(not_lines())
    }
}

/// Why a line of a source configured with `evtx` is refused. [`crate::Decoder`]
/// gives it before looking at the bytes, which are binary.
pub(crate) fn not_lines() -> DecodeError {
    DecodeError::Malformed {
        format: FORMAT,
        reason: "evtx is a binary file format, not lines: read .evtx files with read_evtx \
                 or EvtxReader, or use windows-json or windows-xml for exported events"
            .to_owned(),
    }
}
