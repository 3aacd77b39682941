//! The embedded store's files are private to Riposte's user: the data
//! directory is created 0700 and the database file 0600 (SQLite gives the
//! `-wal` and `-shm` files it creates beside it the database file's mode).
//! Modes are set at creation, so no umask, not even 000, loosens them; an
//! existing directory or file keeps the mode its owner gave it.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700 (before the umask,
/// which can only narrow it). The composition root calls it for the data
/// directory before anything writes there; the SQLite store calls it for
/// its database file's directory.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates an empty database file with mode 0600 unless one exists (SQLite
/// takes an empty file for a new database).
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
