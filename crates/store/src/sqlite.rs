//! The embedded backend: one file, nothing to run beside Riposte.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::Result;
use crate::backend::sql_backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The default store: SQLite in WAL mode, so the API reads while the pipeline
/// writes.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (creating the file if missing) or
    /// `sqlite::memory:`, and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.starts_with("sqlite::memory:") || url.contains("mode=memory");
        if !in_memory {
            // The embedded store is created on first run, directory
            // included, private to this user (0700, 0600).
            let file = options.get_filename();
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::files::create_private_dir(dir).map_err(sqlx::Error::Io)?;
            }
            // (`sqlite://:memory:` names no file; a read-only URL must
            // find one, not be given an empty one.)
            if !url.contains(":memory:") && !url.contains("mode=ro") {
                crate::files::create_private_file(file).map_err(sqlx::Error::Io)?;
            }
        }
        let pool = if in_memory {
            // An in-memory database lives as long as a connection to it, so
            // keep exactly one open for the life of the pool.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new()
        }
        .connect_with(options)
        .await?;
        MIGRATOR.run(&pool).await?;
        sql_impl::fill_sharing_columns(&pool).await?;
        let store = Self { pool };
        sql_impl::chain_old_audit(&store).await?;
        Ok(store)
    }

    /// The connection pool, for what the store's interface does not offer:
    /// an in-memory database exists only inside it (tests that tamper with
    /// the audit log reach it here). Writes made through it bypass the
    /// audit chain, and `verify_audit` will say so.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front: a transaction that
    /// reads and then writes would otherwise fail with `SQLITE_BUSY` when
    /// another writer got in between, instead of waiting its turn.
    async fn begin_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A deferred transaction that only reads: in WAL mode it sees one
    /// snapshot from its first read on and never blocks writers.
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin().await?)
    }
}

// 100 rows per statement with positional `?` parameters: each statement is a
// hop to sqlx's SQLite worker thread, so rows are grouped; and `$N` names
// would be looked up one by one (quadratic: 76% of the pipeline's
// instructions at 500 `$N` rows, measured with callgrind).
sql_backend!(SqliteStore, sqlx::Sqlite, 100, true, crate::audit::HEAD);
