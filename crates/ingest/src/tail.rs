//! Following a growing log file across restarts and rotations.
//!
//! [`FileTail`] hands out complete lines with their byte offsets. The caller
//! checkpoints [`TailBatch::end_offset`] after the batch is stored, and
//! reopens with it after a restart, so a line is neither lost nor read twice.
//!
//! Rotation is noticed between reads, when the open file has nothing new:
//! - copytruncate (the file is copied, then cut to zero): the file is now
//!   shorter than the offset, so reading restarts at 0. Lines written to the
//!   old content after the last read and before the cut are only in the copy;
//!   if the writer refills the file beyond the old offset before the next
//!   check, the cut cannot be seen from the file alone. Both are limits of
//!   copytruncate itself.
//! - rename and recreate: the path names a new inode. The old file is read
//!   to its end (including a last line without `\n`, since nobody will finish
//!   it) before switching to the new one from offset 0. A writer that keeps
//!   writing to the old file after the switch loses those lines to us.
//!
//! Rotation while Riposte is stopped is recognised on restart through the
//! checkpoint's [`FileIdentity`]: [`FileTail::resume`] looks for the file the
//! checkpoint belongs to at the path and among its rotated siblings
//! (`app.log.1`, `app.log.2.gz`, `app.log-20260314`, …), finishes it from the
//! checkpointed offset (decompressing a `.gz`), reads the siblings rotated
//! after it, and then follows the live file from its start.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::Line;
use crate::fingerprint::{self, FileIdentity, HEAD_MAX};
use crate::line::read_record;

/// Reader buffer size: large enough that a typical batch costs few syscalls.
const READ_BUFFER: usize = 64 * 1024;

/// Lines read by one [`FileTail::read_batch`] call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TailBatch {
    /// Complete lines, in file order, all from the same file.
    pub lines: Vec<Line>,
    /// The offset just after the last line returned (the current offset when
    /// none was): what to checkpoint once the lines are safely processed.
    pub end_offset: u64,
    /// The identity of the file the lines came from, to checkpoint with
    /// `end_offset` (see [`FileTail::resume`]).
    pub identity: Option<String>,
}

/// Where a followed file was left: a checkpoint as [`FileTail::resume`]
/// takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TailPosition {
    pub offset: u64,
    /// A [`FileIdentity`] in its text form; `None` for checkpoints written
    /// before identities existed, which are applied to the live file.
    pub identity: Option<String>,
}

/// A rotated file being read to its end before the live file.
struct Drain {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    offset: u64,
    identity: FileIdentity,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl Drain {
    fn open(path: PathBuf, skip: u64) -> io::Result<Drain> {
        let identity = fingerprint::identify(&path)?;
        let mut reader = fingerprint::open_content(&path)?;
        let skipped = io::copy(&mut (&mut reader).take(skip), &mut io::sink())?;
        if skipped < skip {
            tracing::warn!(
                path = %path.display(),
                checkpoint = skip,
                len = skipped,
                "rotated file is shorter than its checkpoint; nothing left to read in it"
            );
        }
        Ok(Drain {
            path,
            reader,
            offset: skipped,
            identity,
        })
    }
}

/// Which file an open handle is, to notice the path pointing elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A file being followed like `tail -F`, with line and size limits applied
/// before any line reaches a decoder.
#[derive(Debug)]
pub struct FileTail {
    path: PathBuf,
    reader: BufReader<File>,
    id: FileId,
    /// Offset of the next unread byte in the current file; always at a line
    /// start.
    offset: u64,
    rotated: u64,
    /// The live file's identity; its head is re-hashed while the file is
    /// shorter than [`HEAD_MAX`].
    identity: FileIdentity,
    /// A rotated file being finished before the live file.
    draining: Option<Drain>,
    /// Rotated files to read, oldest first, after `draining`.
    queued: VecDeque<PathBuf>,
}

enum Rotation {
    None,
    Truncated { len: u64 },
    Replaced,
}

impl FileTail {
    /// Opens `path` and positions it at `start_offset`, normally the last
    /// checkpoint. A checkpoint beyond the end of the file means the file was
    /// truncated or replaced while Riposte was not running; reading then
    /// starts at 0 (with a warning) rather than waiting for the file to grow
    /// back past a position that no longer means anything.
    pub fn open(path: &Path, start_offset: u64) -> io::Result<FileTail> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let offset = if start_offset > meta.len() {
            tracing::warn!(
                path = %path.display(),
                checkpoint = start_offset,
                len = meta.len(),
                "checkpoint is past the end of the file; it was truncated or replaced, reading from the start"
            );
            0
        } else {
            start_offset
        };
        let identity = fingerprint::identify_open(&file)?;
        let mut reader = BufReader::with_capacity(READ_BUFFER, file);
        reader.seek(SeekFrom::Start(offset))?;
        Ok(FileTail {
            path: path.to_owned(),
            reader,
            id: FileId::of(&meta),
            offset,
            rotated: 0,
            identity,
            draining: None,
            queued: VecDeque::new(),
        })
    }

    /// Opens `path` where a checkpoint left it, recognising rotation that
    /// happened meanwhile by the checkpoint's identity:
    /// - the live file is the checkpointed one: resume at the offset;
    /// - a rotated sibling is (renamed, copied, or gzipped): finish it from
    ///   the offset, then read the siblings rotated after it, oldest first,
    ///   then the live file from its start;
    /// - none is (rotated away and deleted): the live file from its start,
    ///   with a warning, since lines may have been lost outside Riposte.
    ///
    /// With no checkpoint (a source's first start), `read_rotated` makes the
    /// rotated siblings be read first, oldest first and decompressed, so the
    /// history already on disk is ingested before the live file.
    pub fn resume(
        path: &Path,
        position: Option<&TailPosition>,
        read_rotated: bool,
    ) -> io::Result<FileTail> {
        let Some(position) = position else {
            let mut tail = FileTail::open(path, 0)?;
            if read_rotated {
                tail.queued = rotated_siblings(path)?.into();
            }
            return Ok(tail);
        };
        let Some(id) = position
            .identity
            .as_deref()
            .and_then(|s| s.parse::<FileIdentity>().ok())
        else {
            return FileTail::open(path, position.offset);
        };
        let live_len = fs::metadata(path)?.len();
        if live_len >= position.offset && fingerprint::same_content(path, &id)? {
            return FileTail::open(path, position.offset);
        }
        let mut tail = FileTail::open(path, 0)?;
        let siblings = rotated_siblings(path)?;
        let matching = |same_inode: bool| {
            siblings.iter().position(|s| {
                let inode_ok = !same_inode
                    || fs::metadata(s).is_ok_and(|m| m.ino() == id.ino && m.dev() == id.dev);
                inode_ok && fingerprint::same_content(s, &id).unwrap_or(false)
            })
        };
        match matching(true).or_else(|| matching(false)) {
            Some(i) => {
                tracing::info!(
                    path = %path.display(),
                    rotated = %siblings[i].display(),
                    offset = position.offset,
                    "the checkpointed file was rotated while stopped; finishing it first"
                );
                tail.draining = Some(Drain::open(siblings[i].clone(), position.offset)?);
                tail.queued = siblings[i + 1..].iter().cloned().collect();
            }
            None => tracing::warn!(
                path = %path.display(),
                checkpoint = position.offset,
                "the checkpointed file is neither at the path nor among its rotated siblings; \
                 reading the current file from the start (lines written before may be lost)"
            ),
        }
        Ok(tail)
    }

    /// Reads up to `max_lines` complete lines, each cut to `max_line_bytes`
    /// (see [`Line::truncated_from`]). A last line without `\n` is left for a
    /// later call, since the writer may be in the middle of it.
    pub fn read_batch(&mut self, max_lines: usize, max_line_bytes: usize) -> io::Result<TailBatch> {
        self.read(max_lines, max_line_bytes, false)
    }

    /// Like [`FileTail::read_batch`], but also returns a last line without
    /// `\n`: for one-shot ingestion of a file that is complete.
    pub fn read_batch_flush(
        &mut self,
        max_lines: usize,
        max_line_bytes: usize,
    ) -> io::Result<TailBatch> {
        self.read(max_lines, max_line_bytes, true)
    }

    /// Offset of the next unread byte in the current file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many rotations (truncations or replacements) have been followed;
    /// a change tells the caller that offsets now refer to a new file.
    pub fn rotated_count(&self) -> u64 {
        self.rotated
    }

    /// The inode of the file being read, so a checkpoint can record which
    /// file its offset belongs to.
    pub fn inode(&self) -> u64 {
        self.id.ino
    }

    /// The path being followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(
        &mut self,
        max_lines: usize,
        max_line_bytes: usize,
        flush: bool,
    ) -> io::Result<TailBatch> {
        let mut lines = Vec::new();
        if max_lines == 0 {
            return Ok(self.batch(lines));
        }
        if let Some(batch) = self.read_rotated(max_lines, max_line_bytes)? {
            return Ok(batch);
        }
        self.read_lines(&mut lines, max_lines, max_line_bytes, flush)?;
        if !lines.is_empty() {
            return Ok(self.batch(lines));
        }
        match self.check_rotation()? {
            Rotation::None => {}
            Rotation::Truncated { len } => {
                tracing::warn!(
                    path = %self.path.display(),
                    offset = self.offset,
                    len,
                    "file shrank below the read offset (copytruncate?); reading from the start"
                );
                self.reader.seek(SeekFrom::Start(0))?;
                self.offset = 0;
                self.rotated += 1;
                self.identity = fingerprint::identify_open(self.reader.get_ref())?;
                self.read_lines(&mut lines, max_lines, max_line_bytes, flush)?;
            }
            Rotation::Replaced => {
                // Finish the old file first: its unterminated last line will
                // never be completed now.
                self.read_lines(&mut lines, max_lines, max_line_bytes, true)?;
                if !lines.is_empty() {
                    return Ok(self.batch(lines));
                }
                let file = match File::open(&self.path) {
                    Ok(file) => file,
                    // Renamed away again before we opened it: retry later.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(self.batch(lines)),
                    Err(e) => return Err(e),
                };
                let meta = file.metadata()?;
                tracing::info!(
                    path = %self.path.display(),
                    old_inode = self.id.ino,
                    new_inode = meta.ino(),
                    "file was replaced (rotated); reading the new file from the start"
                );
                self.identity = fingerprint::identify_open(&file)?;
                self.reader = BufReader::with_capacity(READ_BUFFER, file);
                self.id = FileId::of(&meta);
                self.offset = 0;
                self.rotated += 1;
                self.read_lines(&mut lines, max_lines, max_line_bytes, flush)?;
            }
        }
        Ok(self.batch(lines))
    }

    /// Reads from the rotated files still to finish, moving to the next
    /// when one ends; `None` once they are all read.
    fn read_rotated(
        &mut self,
        max_lines: usize,
        max_line_bytes: usize,
    ) -> io::Result<Option<TailBatch>> {
        loop {
            let Some(drain) = &mut self.draining else {
                match self.queued.pop_front() {
                    Some(next) => {
                        self.draining = Some(Drain::open(next, 0)?);
                        continue;
                    }
                    None => return Ok(None),
                }
            };
            let mut lines = Vec::new();
            while lines.len() < max_lines {
                let Some((line, read)) =
                    read_record(&mut drain.reader, drain.offset, max_line_bytes)?
                else {
                    break;
                };
                drain.offset += read.consumed;
                lines.push(line);
            }
            if !lines.is_empty() {
                return Ok(Some(TailBatch {
                    lines,
                    end_offset: drain.offset,
                    identity: Some(drain.identity.to_string()),
                }));
            }
            tracing::info!(path = %drain.path.display(), "finished reading rotated file");
            self.draining = None;
            self.rotated += 1;
        }
    }

    fn batch(&mut self, lines: Vec<Line>) -> TailBatch {
        if self.identity.head_len < HEAD_MAX
            && let Ok(id) = fingerprint::identify_open(self.reader.get_ref())
        {
            self.identity = id;
        }
        TailBatch {
            lines,
            end_offset: self.offset,
            identity: Some(self.identity.to_string()),
        }
    }

    /// Appends lines from the current position until `max_lines` or the end
    /// of the file. An unterminated last line is returned only when `flush`;
    /// otherwise the reader is moved back to its start.
    fn read_lines(
        &mut self,
        lines: &mut Vec<Line>,
        max_lines: usize,
        max_line_bytes: usize,
        flush: bool,
    ) -> io::Result<()> {
        while lines.len() < max_lines {
            let Some((line, read)) = read_record(&mut self.reader, self.offset, max_line_bytes)?
            else {
                break;
            };
            if !read.terminated && !flush {
                self.reader.seek(SeekFrom::Start(self.offset))?;
                break;
            }
            self.offset += read.consumed;
            lines.push(line);
        }
        Ok(())
    }

    fn check_rotation(&self) -> io::Result<Rotation> {
        let len = self.reader.get_ref().metadata()?.len();
        if len < self.offset {
            return Ok(Rotation::Truncated { len });
        }
        match fs::metadata(&self.path) {
            Ok(meta) if FileId::of(&meta) != self.id => Ok(Rotation::Replaced),
            Ok(_) => Ok(Rotation::None),
            // Renamed away and not recreated yet: keep the old file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Rotation::None),
            Err(e) => Err(e),
        }
    }
}

/// The rotated siblings of `path` in its directory (`app.log.1`,
/// `app.log.2.gz`, `app.log-20260314`, …), oldest first: by modification
/// time, then by rotation number (higher is older), then by name.
fn rotated_siblings(path: &Path) -> io::Result<Vec<PathBuf>> {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(base) else {
            continue;
        };
        if !(rest.starts_with('.') || rest.starts_with('-')) || !entry.file_type()?.is_file() {
            continue;
        }
        let mtime = entry.metadata()?.modified()?;
        let number: u64 = rest
            .trim_start_matches(['.', '-'])
            .trim_end_matches(".gz")
            .parse()
            .unwrap_or(0);
        found.push((mtime, std::cmp::Reverse(number), entry.path()));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write;

    use super::*;

    fn append(path: &Path, data: &str) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(data.as_bytes()).unwrap();
    }

    fn texts(batch: &TailBatch) -> Vec<String> {
        batch
            .lines
            .iter()
            .map(|l| String::from_utf8(l.bytes.clone()).unwrap())
            .collect()
    }

    /// Reads until a batch comes back empty, collecting every line.
    fn drain(tail: &mut FileTail) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let batch = tail.read_batch(2, 1024).unwrap();
            if batch.lines.is_empty() {
                return out;
            }
            out.extend(texts(&batch));
        }
    }

    #[test]
    fn partial_line_is_returned_only_once_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "first\nsec");
        let mut tail = FileTail::open(&path, 0).unwrap();

        let batch = tail.read_batch(10, 1024).unwrap();
        assert_eq!(texts(&batch), ["first"]);
        assert_eq!(batch.end_offset, 6);
        assert_eq!(
            tail.read_batch(10, 1024).unwrap(),
            TailBatch {
                lines: vec![],
                end_offset: 6,
                identity: Some(fingerprint::identify(&path).unwrap().to_string()),
            }
        );

        append(&path, "ond\nthi");
        let batch = tail.read_batch(10, 1024).unwrap();
        assert_eq!(
            batch.lines,
            vec![Line {
                offset: 6,
                bytes: b"second".to_vec(),
                truncated_from: None
            }]
        );
        assert_eq!(batch.end_offset, 13);

        let batch = tail.read_batch_flush(10, 1024).unwrap();
        assert_eq!(texts(&batch), ["thi"]);
        assert_eq!(batch.end_offset, 16);
    }

    #[test]
    fn resumes_from_checkpoint_and_restarts_when_checkpoint_is_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "a\nb\nc\n");
        let mut tail = FileTail::open(&path, 2).unwrap();
        assert_eq!(drain(&mut tail), ["b", "c"]);
        assert_eq!(tail.offset(), 6);

        let mut tail = FileTail::open(&path, 600).unwrap();
        assert_eq!(tail.offset(), 0);
        assert_eq!(drain(&mut tail), ["a", "b", "c"]);
    }

    #[test]
    fn batch_size_and_line_limit_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "0123456789\nok\n");
        let mut tail = FileTail::open(&path, 0).unwrap();
        let batch = tail.read_batch(1, 4).unwrap();
        assert_eq!(
            batch.lines,
            vec![Line {
                offset: 0,
                bytes: b"0123".to_vec(),
                truncated_from: Some(10)
            }]
        );
        assert_eq!(batch.end_offset, 11);
        assert_eq!(texts(&tail.read_batch(1, 4).unwrap()), ["ok"]);
    }

    #[test]
    fn copytruncate_loses_and_duplicates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "line1\nline2\n");
        let mut tail = FileTail::open(&path, 0).unwrap();
        let mut seen = drain(&mut tail);

        // logrotate copytruncate: copy, then cut the original to zero; the
        // writer keeps appending to the same inode.
        fs::copy(&path, dir.path().join("app.log.1")).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, "line3\n");
        seen.extend(drain(&mut tail));
        assert_eq!(tail.rotated_count(), 1);
        append(&path, "line4\n");
        seen.extend(drain(&mut tail));

        assert_eq!(seen, ["line1", "line2", "line3", "line4"]);
        assert_eq!(tail.offset(), 12);
        assert_eq!(tail.rotated_count(), 1);
    }

    #[test]
    fn rename_rotation_finishes_old_file_then_follows_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "old1\nold2\n");
        let mut tail = FileTail::open(&path, 0).unwrap();
        let old_inode = tail.inode();
        let mut seen = drain(&mut tail);

        // Written after our last read, then the file is renamed away and a
        // new one created; the old file ends without a newline.
        append(&path, "old3\nold4");
        fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        append(&path, "new1\nnew2\n");

        let batch = tail.read_batch(10, 1024).unwrap();
        assert_eq!(texts(&batch), ["old3"]);
        assert_eq!(tail.rotated_count(), 0);
        let batch = tail.read_batch(10, 1024).unwrap();
        assert_eq!(texts(&batch), ["old4"]);
        assert_eq!(batch.end_offset, 19);
        assert_eq!(tail.rotated_count(), 0);
        seen.extend(["old3".to_owned(), "old4".to_owned()]);

        let batch = tail.read_batch(10, 1024).unwrap();
        assert_eq!(texts(&batch), ["new1", "new2"]);
        assert_eq!(batch.lines[0].offset, 0);
        assert_eq!(batch.end_offset, 10);
        assert_eq!(tail.rotated_count(), 1);
        assert_ne!(tail.inode(), old_inode);
        seen.extend(texts(&batch));

        append(&path, "new3\n");
        seen.extend(drain(&mut tail));
        assert_eq!(
            seen,
            ["old1", "old2", "old3", "old4", "new1", "new2", "new3"]
        );
        assert_eq!(tail.rotated_count(), 1);
    }

    #[test]
    fn renamed_away_and_not_yet_recreated_keeps_reading_old_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "a\n");
        let mut tail = FileTail::open(&path, 0).unwrap();
        assert_eq!(drain(&mut tail), ["a"]);
        let moved = dir.path().join("app.log.1");
        fs::rename(&path, &moved).unwrap();
        append(&moved, "b\n");
        assert_eq!(drain(&mut tail), ["b"]);
        assert_eq!(tail.rotated_count(), 0);
    }

    /// Reads one batch of `n` lines and returns where it left off, as a
    /// checkpoint would record it.
    fn read_and_checkpoint(path: &Path, n: usize) -> (Vec<String>, TailPosition) {
        let mut tail = FileTail::open(path, 0).unwrap();
        let batch = tail.read_batch(n, 1024).unwrap();
        let pos = TailPosition {
            offset: batch.end_offset,
            identity: batch.identity.clone(),
        };
        (texts(&batch), pos)
    }

    fn gzip(from: &Path, to: &Path) {
        use std::io::Write;
        let data = fs::read(from).unwrap();
        let mut enc = flate2::write::GzEncoder::new(
            File::create(to).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(&data).unwrap();
        enc.finish().unwrap();
        fs::remove_file(from).unwrap();
    }

    fn set_age(path: &Path, secs_ago: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago);
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    #[test]
    fn resume_in_the_same_file_continues_at_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "a\nb\n");
        let (first, pos) = read_and_checkpoint(&path, 1);
        assert_eq!(first, ["a"]);
        append(&path, "c\n");
        let mut tail = FileTail::resume(&path, Some(&pos), false).unwrap();
        assert_eq!(drain(&mut tail), ["b", "c"]);
    }

    #[test]
    fn rotation_while_stopped_finishes_the_gzipped_file_then_newer_ones_then_live() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let older = dir.path().join("app.log.3.gz");
        append(&dir.path().join("app.log.3"), "ancient\n");
        gzip(&dir.path().join("app.log.3"), &older);
        set_age(&older, 300);

        append(&path, "x1\nx2\nx3\n");
        let (first, pos) = read_and_checkpoint(&path, 1);
        assert_eq!(first, ["x1"]);

        // While stopped: rotated twice, the checkpointed file compressed.
        fs::rename(&path, dir.path().join("app.log.2")).unwrap();
        gzip(
            &dir.path().join("app.log.2"),
            &dir.path().join("app.log.2.gz"),
        );
        set_age(&dir.path().join("app.log.2.gz"), 200);
        append(&dir.path().join("app.log.1"), "y1\n");
        set_age(&dir.path().join("app.log.1"), 100);
        append(&path, "z1\n");

        let mut tail = FileTail::resume(&path, Some(&pos), false).unwrap();
        let batch = tail.read_batch(10, 1024).unwrap();
        assert_eq!(texts(&batch), ["x2", "x3"]);
        assert_eq!(batch.lines[0].offset, 3);
        assert_eq!(batch.end_offset, 9);
        // Same content, now in the compressed file's inode.
        let head = |id: &Option<String>| {
            let id: FileIdentity = id.as_deref().unwrap().parse().unwrap();
            (id.head_len, id.head_hash)
        };
        assert_eq!(head(&batch.identity), head(&pos.identity));
        assert_eq!(drain(&mut tail), ["y1", "z1"]);
        assert_eq!(tail.rotated_count(), 2);
    }

    #[test]
    fn crash_while_finishing_a_rotated_file_resumes_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "x1\nx2\nx3\n");
        let (_, pos) = read_and_checkpoint(&path, 1);
        fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        append(&path, "z1\n");

        let mut tail = FileTail::resume(&path, Some(&pos), false).unwrap();
        let batch = tail.read_batch(1, 1024).unwrap();
        assert_eq!(texts(&batch), ["x2"]);
        let pos = TailPosition {
            offset: batch.end_offset,
            identity: batch.identity,
        };
        // Crash here, then logrotate compresses the file we were reading.
        gzip(
            &dir.path().join("app.log.1"),
            &dir.path().join("app.log.1.gz"),
        );
        let mut tail = FileTail::resume(&path, Some(&pos), false).unwrap();
        assert_eq!(drain(&mut tail), ["x3", "z1"]);
    }

    #[test]
    fn copytruncate_while_stopped_reads_the_rest_from_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "a\nb\n");
        let (_, pos) = read_and_checkpoint(&path, 1);
        fs::copy(&path, dir.path().join("app.log.1")).unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, "new\n");
        let mut tail = FileTail::resume(&path, Some(&pos), false).unwrap();
        assert_eq!(drain(&mut tail), ["b", "new"]);
    }

    #[test]
    fn checkpointed_file_gone_reads_the_live_file_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "a\nb\n");
        let (_, pos) = read_and_checkpoint(&path, 1);
        fs::remove_file(&path).unwrap();
        append(&path, "fresh1\nfresh2\n");
        let mut tail = FileTail::resume(&path, Some(&pos), false).unwrap();
        assert_eq!(drain(&mut tail), ["fresh1", "fresh2"]);

        // A checkpoint without identity (older stores) is an offset in the
        // live file.
        let legacy = TailPosition {
            offset: 7,
            identity: None,
        };
        let mut tail = FileTail::resume(&path, Some(&legacy), false).unwrap();
        assert_eq!(drain(&mut tail), ["fresh2"]);
    }

    #[test]
    fn first_start_can_read_the_rotated_history_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&dir.path().join("app.log.2"), "oldest\n");
        gzip(
            &dir.path().join("app.log.2"),
            &dir.path().join("app.log.2.gz"),
        );
        set_age(&dir.path().join("app.log.2.gz"), 200);
        append(&dir.path().join("app.log.1"), "older\n");
        set_age(&dir.path().join("app.log.1"), 100);
        append(&path, "live\n");
        let mut tail = FileTail::resume(&path, None, true).unwrap();
        assert_eq!(drain(&mut tail), ["oldest", "older", "live"]);
        let mut tail = FileTail::resume(&path, None, false).unwrap();
        assert_eq!(drain(&mut tail), ["live"]);
    }
}
