//! Reading lines with a hard size limit.
//!
//! `BufRead::read_until` would buffer a 10 GB line whole; a log file is
//! attacker-influenced input (a long User-Agent, a long username), so the
//! reader keeps at most `max` bytes of a line and only counts the rest.

use std::io::{self, BufRead};

/// What [`read_line_bounded`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRead {
    /// Bytes taken from the reader, terminator included: adding it to the
    /// line's offset gives the next line's offset. `0` means end of input.
    pub consumed: u64,
    /// Length of the whole line without its terminator, including any part
    /// that was not kept. Greater than the kept length means truncated.
    pub len: u64,
    /// Whether a `\n` ended the line. `false` means the input ended first: a
    /// tailer must not treat such a line as complete, because the writer may
    /// still be in the middle of it.
    pub terminated: bool,
}

/// Reads one line into `buf` (cleared first), keeping at most `max` bytes.
///
/// The rest of an over-long line is read and discarded chunk by chunk through
/// `fill_buf`/`consume`, so memory stays bounded by `max` plus the reader's
/// buffer whatever the line's length. A trailing `\n` or `\r\n` is stripped;
/// a lone `\r` at the end of unterminated input is kept, since its `\n` may
/// still be on its way.
pub fn read_line_bounded<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineRead> {
    buf.clear();
    // One byte more than the limit, so that a `\r` before the `\n` can be
    // dropped without losing a content byte.
    let keep = max.saturating_add(1);
    let mut consumed = 0u64;
    let mut content_len = 0u64;
    let mut last_byte = None;
    let terminated = loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break false;
        }
        let (content, found) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        if let Some(&b) = content.last() {
            last_byte = Some(b);
        }
        let room = keep.saturating_sub(buf.len());
        buf.extend_from_slice(&content[..content.len().min(room)]);
        content_len += content.len() as u64;
        let used = content.len() + usize::from(found);
        reader.consume(used);
        consumed += used as u64;
        if found {
            break true;
        }
    };
    let len = if terminated && last_byte == Some(b'\r') {
        content_len - 1
    } else {
        content_len
    };
    // `len.min(max)` fits in usize because `max` does.
    buf.truncate(len.min(max as u64) as usize);
    Ok(LineRead {
        consumed,
        len,
        terminated,
    })
}

/// The next line of `reader`, which starts at `offset`, as a [`Line`] cut to
/// `max` bytes, with what [`read_line_bounded`] saw; `None` at the end of
/// the input.
pub(crate) fn read_record<R: BufRead + ?Sized>(
    reader: &mut R,
    offset: u64,
    max: usize,
) -> io::Result<Option<(crate::Line, LineRead)>> {
    let mut bytes = Vec::new();
    let read = read_line_bounded(reader, &mut bytes, max)?;
    if read.consumed == 0 {
        return Ok(None);
    }
    Ok(Some((crate::Line::new(offset, bytes, read.len), read)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::{BufReader, Cursor};

    use super::*;

    /// Reads every line with a tiny reader buffer, so lines span many chunks.
    fn read_all(input: &[u8], max: usize) -> Vec<(Vec<u8>, LineRead)> {
        let mut reader = BufReader::with_capacity(3, Cursor::new(input.to_vec()));
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let r = read_line_bounded(&mut reader, &mut buf, max).unwrap();
            if r.consumed == 0 {
                return out;
            }
            out.push((buf, r));
        }
    }

    fn lr(consumed: u64, len: u64, terminated: bool) -> LineRead {
        LineRead {
            consumed,
            len,
            terminated,
        }
    }

    #[test]
    fn strips_lf_and_crlf_and_reports_unterminated_tail() {
        let got = read_all(b"one\r\ntwo\n\nlast", 100);
        assert_eq!(
            got,
            vec![
                (b"one".to_vec(), lr(5, 3, true)),
                (b"two".to_vec(), lr(4, 3, true)),
                (b"".to_vec(), lr(1, 0, true)),
                (b"last".to_vec(), lr(4, 4, false)),
            ]
        );
    }

    #[test]
    fn over_long_line_is_cut_counted_and_the_next_line_intact() {
        let got = read_all(b"abcdefgh\r\nxy\n", 4);
        assert_eq!(
            got,
            vec![
                (b"abcd".to_vec(), lr(10, 8, true)),
                (b"xy".to_vec(), lr(3, 2, true)),
            ]
        );
    }

    #[test]
    fn line_of_exactly_max_is_not_truncated_even_with_crlf() {
        let got = read_all(b"abcd\r\nabcd\nabcde\n", 4);
        assert_eq!(
            got,
            vec![
                (b"abcd".to_vec(), lr(6, 4, true)),
                (b"abcd".to_vec(), lr(5, 4, true)),
                (b"abcd".to_vec(), lr(6, 5, true)),
            ]
        );
    }

    #[test]
    fn lone_cr_at_unterminated_end_is_kept() {
        assert_eq!(
            read_all(b"ab\r", 10),
            vec![(b"ab\r".to_vec(), lr(3, 3, false))]
        );
    }

    #[test]
    fn buffer_of_a_huge_line_stays_bounded() {
        let mut input = vec![b'z'; 5 * 1024 * 1024];
        input.push(b'\n');
        let mut reader = BufReader::new(Cursor::new(input));
        let mut buf = Vec::new();
        let r = read_line_bounded(&mut reader, &mut buf, 1000).unwrap();
        assert_eq!(r, lr(5 * 1024 * 1024 + 1, 5 * 1024 * 1024, true));
        assert_eq!(buf.len(), 1000);
        assert!(buf.capacity() < 64 * 1024, "capacity {}", buf.capacity());
    }
}
