//! Framing records that are not one per line.
//!
//! [`JsonValueReader`] cuts a stream of JSON objects written one after the
//! other — pretty-printed (`evtx_dump`, `jq .`, PowerShell's
//! `ConvertTo-Json`), NDJSON, or the items of a top-level JSON array — into
//! [`Line`]s, so that they go through the same bounded, dead-lettering path
//! as line formats.

use std::io::{self, BufRead};

use crate::Line;
use crate::line::read_line_bounded;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Splits a byte stream of JSON objects into records.
///
/// - A record is one top-level object, from its `{` to the matching `}`;
///   braces and brackets inside strings (with `\` escapes) do not count.
///   Its offset is the offset of its `{`.
/// - White space between objects is skipped, and so are `[`, `,` and `]`,
///   so the items of a top-level array (`[{…},{…}]`) are records too. A UTF-8
///   byte order mark at the very start is skipped.
/// - Anything else between objects is garbage: it becomes a record of its
///   own, up to the end of its line, so that it is dead-lettered with its
///   offset instead of being dropped.
/// - An object longer than `max_record_bytes` is returned cut to that
///   length with `truncated_from` set to its full length (it becomes a dead
///   letter); the reader reads on to its end without keeping the rest, and
///   the next record starts after it.
/// - An object still open when a `{` starts a line is taken as cut short:
///   it ends before that line, which starts the next record. Pretty-printers
///   indent nested objects, so a `{` in the first column is a new record;
///   without this, one damaged record would swallow the ones after it.
/// - An object still open at the end of the input is returned as it is,
///   and fails to decode as truncated JSON. This reader is for whole files,
///   not for files still being written.
#[derive(Debug)]
pub struct JsonValueReader<R> {
    reader: R,
    max_record_bytes: usize,
    /// Offset of the next byte to read.
    offset: u64,
    /// Whether the last byte read was a `\n` (or nothing was read).
    at_line_start: bool,
}

impl<R: BufRead> JsonValueReader<R> {
    /// A reader at the start of `reader`.
    pub fn new(reader: R, max_record_bytes: usize) -> Self {
        Self::with_offset(reader, max_record_bytes, 0)
    }

    /// A reader whose input starts `offset` bytes into its source, as when
    /// resuming at a checkpoint; records' offsets count from the source's
    /// start.
    pub fn with_offset(reader: R, max_record_bytes: usize, offset: u64) -> Self {
        Self {
            reader,
            max_record_bytes,
            offset,
            at_line_start: true,
        }
    }

    /// The offset just after the last record returned: where to resume.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads up to `max_records` records (at least one); empty at the end of
    /// the input.
    pub fn read_batch(&mut self, max_records: usize) -> io::Result<Vec<Line>> {
        let mut out = Vec::new();
        while out.len() < max_records.max(1) {
            match self.read_record()? {
                Some(line) => out.push(line),
                None => break,
            }
        }
        Ok(out)
    }

    fn read_record(&mut self) -> io::Result<Option<Line>> {
        let Some(first) = self.skip_separators()? else {
            return Ok(None);
        };
        if first == b'{' {
            self.read_object().map(Some)
        } else {
            self.read_garbage().map(Some)
        }
    }

    /// Skips white space and array punctuation; the next byte, if any.
    fn skip_separators(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buf = fill_buf(&mut self.reader)?;
            if buf.is_empty() {
                return Ok(None);
            }
            if self.offset == 0 && buf.starts_with(BOM) {
                self.reader.consume(BOM.len());
                self.offset += BOM.len() as u64;
                continue;
            }
            let skip = buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'[' | b',' | b']'));
            let n = skip.unwrap_or(buf.len());
            if n > 0 {
                self.at_line_start = buf[n - 1] == b'\n';
            }
            let next = skip.map(|i| buf[i]);
            self.reader.consume(n);
            self.offset += n as u64;
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// One object, starting at the `{` the reader is on.
    fn read_object(&mut self) -> io::Result<Line> {
        let start = self.offset;
        let mut bytes = Vec::new();
        let mut len = 0u64;
        let mut depth = 0u64;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let buf = fill_buf(&mut self.reader)?;
            if buf.is_empty() {
                break;
            }
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                let line_start = self.at_line_start;
                self.at_line_start = b == b'\n';
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' if depth > 0 && line_start => {
                        // A new record in the first column: this one was cut.
                        self.at_line_start = true;
                        end = Some(i);
                        break;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let take = end.unwrap_or(buf.len());
            let room = self.max_record_bytes.saturating_sub(bytes.len());
            bytes.extend_from_slice(&buf[..take.min(room)]);
            len += take as u64;
            self.reader.consume(take);
            self.offset += take as u64;
            if end.is_some() {
                break;
            }
        }
        Ok(Line::new(start, bytes, len))
    }

    /// Bytes that are not an object, up to the end of their line.
    fn read_garbage(&mut self) -> io::Result<Line> {
        let start = self.offset;
        let mut bytes = Vec::new();
        let read = read_line_bounded(&mut self.reader, &mut bytes, self.max_record_bytes)?;
        self.offset += read.consumed;
        self.at_line_start = read.terminated;
        Ok(Line::new(start, bytes, read.len))
    }
}

fn fill_buf<R: BufRead>(reader: &mut R) -> io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    reader.fill_buf()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::{BufReader, Cursor};

    use super::*;

    /// Every record, read through a 3-byte buffer so records span reads.
    fn records(input: &[u8], max: usize) -> Vec<(u64, String, Option<u64>)> {
        let reader = BufReader::with_capacity(3, Cursor::new(input.to_vec()));
        let mut r = JsonValueReader::new(reader, max);
        let mut out = Vec::new();
        loop {
            let batch = r.read_batch(2).unwrap();
            if batch.is_empty() {
                break;
            }
            for line in batch {
                out.push((
                    line.offset,
                    String::from_utf8(line.bytes).unwrap(),
                    line.truncated_from,
                ));
            }
        }
        assert_eq!(r.offset(), input.len() as u64);
        out
    }

    fn rec(offset: u64, s: &str) -> (u64, String, Option<u64>) {
        (offset, s.to_owned(), None)
    }

    #[test]
    fn pretty_printed_objects_and_ndjson_split_at_their_braces() {
        let input = "{\n  \"a\": {\n    \"b\": [1, {\"c\": 2}]\n  }\n}\n{\n  \"d\": 3\n}\n{\"e\":4}\n{\"f\":5}";
        assert_eq!(
            records(input.as_bytes(), 1000),
            vec![
                rec(0, "{\n  \"a\": {\n    \"b\": [1, {\"c\": 2}]\n  }\n}"),
                rec(40, "{\n  \"d\": 3\n}"),
                rec(53, "{\"e\":4}"),
                rec(61, "{\"f\":5}"),
            ]
        );
    }

    #[test]
    fn braces_and_quotes_inside_strings_do_not_count() {
        let input = r#"{"s":"}{ \" \\","t":"x\\"}{"u":"]["}"#;
        assert_eq!(
            records(input.as_bytes(), 1000),
            vec![
                rec(0, r#"{"s":"}{ \" \\","t":"x\\"}"#),
                rec(26, r#"{"u":"]["}"#),
            ]
        );
    }

    #[test]
    fn garbage_between_objects_is_its_own_record_to_the_end_of_its_line() {
        let input = "{\"a\":1}\nnot json here\r\n  oops {\"b\":2}\n{\"c\":3}\n";
        assert_eq!(
            records(input.as_bytes(), 1000),
            vec![
                rec(0, "{\"a\":1}"),
                rec(8, "not json here"),
                rec(25, "oops {\"b\":2}"),
                rec(38, "{\"c\":3}"),
            ]
        );
    }

    #[test]
    fn an_object_over_the_limit_is_cut_and_the_next_one_is_intact() {
        let big = format!("{{\"x\":\"{}\"}}", "y".repeat(100));
        let input = format!("{big}\n{{\"z\":1}}\n");
        assert_eq!(
            records(input.as_bytes(), 10),
            vec![
                (0, big[..10].to_owned(), Some(big.len() as u64)),
                rec(big.len() as u64 + 1, "{\"z\":1}"),
            ]
        );
    }

    #[test]
    fn array_items_bom_and_a_truncated_tail() {
        let input = "\u{feff}[\n  {\"a\":1},\n  {\"b\":[2]}\n]\n{\"c\":";
        assert_eq!(
            records(input.as_bytes(), 1000),
            vec![
                rec(7, "{\"a\":1}"),
                rec(18, "{\"b\":[2]}"),
                rec(30, "{\"c\":"),
            ]
        );
    }

    #[test]
    fn an_object_cut_short_ends_where_a_new_one_starts_a_line() {
        let input = "{\n  \"a\": {\n    \"b\": 1\n{\n  \"c\": 2\n}\n";
        assert_eq!(
            records(input.as_bytes(), 1000),
            vec![
                rec(0, "{\n  \"a\": {\n    \"b\": 1\n"),
                rec(22, "{\n  \"c\": 2\n}"),
            ]
        );
    }

    #[test]
    fn empty_and_blank_input_give_no_record() {
        assert!(records(b"", 10).is_empty());
        assert!(records(b" \n\r\n\t", 10).is_empty());
    }
}
