//! Recognising a log file by its content rather than its name.
//!
//! Rotation renames files, copies them, truncates them and gzips them, often
//! while Riposte is stopped. A checkpoint therefore records which file its
//! offset belongs to: the device and inode it was read from, and a hash of
//! the file's first bytes (up to [`HEAD_MAX`]). Log files are append-only, so
//! those bytes never change, and they survive renaming, copying and
//! compression (the head of a `.gz` file is hashed after decompression).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;

use flate2::read::MultiGzDecoder;

/// How many leading bytes identify a file. Long enough to span several log
/// lines, so that two files starting with the same line still differ.
pub const HEAD_MAX: u64 = 1024;

/// Which file a checkpoint's offset belongs to. Written into checkpoints as
/// `v1:DEV:INO:HEADLEN:HASH` (see [`fmt::Display`] / [`FromStr`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    /// How many leading bytes were hashed (less than [`HEAD_MAX`] when the
    /// file was shorter then).
    pub head_len: u64,
    pub head_hash: u64,
}

impl fmt::Display for FileIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v1:{}:{}:{}:{:016x}",
            self.dev, self.ino, self.head_len, self.head_hash
        )
    }
}

impl FromStr for FileIdentity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a file identity: {s:?}");
        let mut parts = s.split(':');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let mut num = |radix: u32| {
            parts
                .next()
                .and_then(|p| u64::from_str_radix(p, radix).ok())
                .ok_or_else(bad)
        };
        let id = FileIdentity {
            dev: num(10)?,
            ino: num(10)?,
            head_len: num(10)?,
            head_hash: num(16)?,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(id)
    }
}

/// 64-bit FNV-1a: tiny, stable across Rust versions and platforms (unlike
/// `DefaultHasher`), and plenty for telling a handful of files apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Whether `path` names a gzip file (by its name, as logrotate writes it).
pub fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Opens `path` for reading its content: decompressed when it is a `.gz`.
pub fn open_content(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let file = File::open(path)?;
    Ok(if is_gzip(path) {
        Box::new(BufReader::new(MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Reads up to `n` bytes of `reader`'s content.
fn head(reader: impl Read, n: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader.take(n).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The identity of the file at `path` now, hashing up to [`HEAD_MAX`]
/// leading bytes of its content.
pub fn identify(path: &Path) -> io::Result<FileIdentity> {
    let meta = std::fs::metadata(path)?;
    let bytes = head(open_content(path)?, HEAD_MAX)?;
    Ok(FileIdentity {
        dev: meta.dev(),
        ino: meta.ino(),
        head_len: bytes.len() as u64,
        head_hash: fnv1a(&bytes),
    })
}

/// The identity of an open (uncompressed) file, read without moving its
/// cursor.
pub(crate) fn identify_open(file: &File) -> io::Result<FileIdentity> {
    use std::os::unix::fs::FileExt;
    let meta = file.metadata()?;
    let want = meta.len().min(HEAD_MAX);
    let mut buf = vec![0; want as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(FileIdentity {
        dev: meta.dev(),
        ino: meta.ino(),
        head_len: buf.len() as u64,
        head_hash: fnv1a(&buf),
    })
}

/// Whether the content at `path` starts with the bytes `id` hashed. Only the
/// head is compared: the file may have grown since.
pub fn same_content(path: &Path, id: &FileIdentity) -> io::Result<bool> {
    let bytes = head(open_content(path)?, id.head_len)?;
    Ok(bytes.len() as u64 == id.head_len && fnv1a(&bytes) == id.head_hash)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    #[test]
    fn identity_roundtrips_as_text_and_rejects_garbage() {
        let id = FileIdentity {
            dev: 2049,
            ino: 77,
            head_len: 1024,
            head_hash: 0xdead_beef,
        };
        assert_eq!(id.to_string(), "v1:2049:77:1024:00000000deadbeef");
        assert_eq!(id.to_string().parse::<FileIdentity>().unwrap(), id);
        for bad in ["", "v2:1:2:3:4", "v1:1:2:3", "v1:1:2:3:zz", "v1:1:2:3:4:5"] {
            assert!(bad.parse::<FileIdentity>().is_err(), "{bad}");
        }
    }

    #[test]
    fn gzip_copy_has_the_same_content_identity() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        let text = "line one\n".repeat(200);
        std::fs::write(&plain, &text).unwrap();
        let id = identify(&plain).unwrap();
        assert_eq!(id.head_len, HEAD_MAX);

        let gz = dir.path().join("a.log.1.gz");
        let mut enc = GzEncoder::new(File::create(&gz).unwrap(), Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        assert!(same_content(&gz, &id).unwrap());
        assert_eq!(identify(&gz).unwrap().head_hash, id.head_hash);

        let other = dir.path().join("b.log");
        std::fs::write(&other, "line two\n".repeat(200)).unwrap();
        assert!(!same_content(&other, &id).unwrap());
        // Shorter than the hashed head: cannot be the same file.
        std::fs::write(&other, "line one\n").unwrap();
        assert!(!same_content(&other, &id).unwrap());
        assert_eq!(identify_open(&File::open(&plain).unwrap()).unwrap(), id);
    }
}
