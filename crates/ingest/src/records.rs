//! Cutting a complete input (a file, stdin, a decompressed archive) into
//! records the way its format frames them, for one-shot ingestion.

use std::io::{self, BufRead};

use crate::framing::JsonValueReader;
use crate::line::read_record;
use crate::{Format, Line};

/// Reads the records of a complete input in batches: `\n`-separated lines
/// for line formats (a last line without `\n` is still a record, since the
/// input is complete), and whole JSON values for `windows-json`, whose
/// exports are pretty-printed across lines. Offsets are byte offsets in the
/// (decompressed) input. EVTX is not record-framed text: read it with
/// [`crate::EvtxReader`].
pub struct RecordReader {
    framing: Framing,
    max_bytes: usize,
}

enum Framing {
    Lines {
        reader: Box<dyn BufRead + Send>,
        offset: u64,
    },
    JsonValues(JsonValueReader<Box<dyn BufRead + Send>>),
}

impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl RecordReader {
    /// Records longer than `max_bytes` are cut (see
    /// [`Line::truncated_from`]) and become dead letters.
    pub fn new(reader: Box<dyn BufRead + Send>, format: Format, max_bytes: usize) -> Self {
        let framing = match format {
            Format::WindowsJson => Framing::JsonValues(JsonValueReader::new(reader, max_bytes)),
            _ => Framing::Lines { reader, offset: 0 },
        };
        Self { framing, max_bytes }
    }

    /// Up to `max_records` records; empty at the end of the input.
    pub fn read_batch(&mut self, max_records: usize) -> io::Result<Vec<Line>> {
        let (reader, offset) = match &mut self.framing {
            Framing::JsonValues(r) => return r.read_batch(max_records),
            Framing::Lines { reader, offset } => (reader, offset),
        };
        let mut lines = Vec::new();
        while lines.len() < max_records {
            let Some((line, read)) = read_record(reader, *offset, self.max_bytes)? else {
                break;
            };
            *offset += read.consumed;
            lines.push(line);
        }
        Ok(lines)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn reader(bytes: &'static [u8]) -> Box<dyn BufRead + Send> {
        Box::new(Cursor::new(bytes))
    }

    #[test]
    fn lines_keep_offsets_and_the_unterminated_last_line() {
        let mut r = RecordReader::new(reader(b"ab\n\ncdefgh\nij"), Format::Syslog, 4);
        let got = r.read_batch(10).unwrap();
        let summary: Vec<(u64, &[u8], Option<u64>)> = got
            .iter()
            .map(|l| (l.offset, l.bytes.as_slice(), l.truncated_from))
            .collect();
        assert_eq!(
            summary,
            [
                (0, &b"ab"[..], None),
                (3, b"", None),
                (4, b"cdef", Some(6)),
                (11, b"ij", None)
            ]
        );
        assert!(r.read_batch(10).unwrap().is_empty());
    }

    #[test]
    fn windows_json_is_framed_by_value_across_lines() {
        let mut r = RecordReader::new(
            reader(b"{\n  \"a\": 1\n}\n{\"b\": \"}\"}\n"),
            Format::WindowsJson,
            1024,
        );
        let got = r.read_batch(10).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].offset, got[0].bytes.as_slice()),
            (0, &b"{\n  \"a\": 1\n}"[..])
        );
        assert_eq!(
            (got[1].offset, got[1].bytes.as_slice()),
            (13, &b"{\"b\": \"}\"}"[..])
        );
    }
}
