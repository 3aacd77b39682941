//! Cutting a complete input (a file, stdin, a decompressed archive) into
//! records the way its format frames them, for one-shot ingestion.

use std::io::{self, BufRead};

use crate::line::read_line_bounded;
use crate::{Format, Line};

/// Reads the records of a complete input in batches. Line formats are cut
/// at `\n` (a last line without one is still a record, since the input is
/// complete); offsets are byte offsets in the (decompressed) input.
pub struct RecordReader {
    reader: Box<dyn BufRead + Send>,
    offset: u64,
}

impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl RecordReader {
    pub fn new(reader: Box<dyn BufRead + Send>, _format: Format) -> Self {
        Self { reader, offset: 0 }
    }

    /// Up to `max_records` records, each cut to `max_bytes` (see
    /// [`Line::truncated_from`]); empty at the end of the input.
    pub fn read_batch(&mut self, max_records: usize, max_bytes: usize) -> io::Result<Vec<Line>> {
        let mut lines = Vec::new();
        while lines.len() < max_records {
            let mut bytes = Vec::new();
            let read = read_line_bounded(&mut self.reader, &mut bytes, max_bytes)?;
            if read.consumed == 0 {
                break;
            }
            let offset = self.offset;
            self.offset += read.consumed;
            lines.push(Line {
                offset,
                truncated_from: (read.len > bytes.len() as u64).then_some(read.len),
                bytes,
            });
        }
        Ok(lines)
    }
}
