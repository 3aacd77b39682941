//! The production backend, for deployments that already run PostgreSQL or
//! want the store on another host.

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::Result;
use crate::backend::sql_backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Any number in the advisory lock space; it only has to be the same for
/// every Riposte writer on the database.
const WRITE_LOCK: i64 = 0x0052_4950_4f53_5445; // "RIPOSTE"

/// The same store as [`crate::SqliteStore`] on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Opens a `postgres://…` URL and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new().connect(url).await?;
        MIGRATOR.run(&pool).await?;
        sql_impl::fill_sharing_columns(&pool).await?;
        let store = Self { pool };
        sql_impl::chain_old_audit(&store).await?;
        Ok(store)
    }

    /// Writers take one transaction-scoped advisory lock, so they run one at
    /// a time as on SQLite: two batches cannot both find no open case for a
    /// key and each create one. Readers never wait for it.
    async fn begin_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// REPEATABLE READ: every statement of the transaction sees the
    /// snapshot of its first, so a verification reads one consistent chain.
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?)
    }
}

// Many rows per statement: each statement is a round trip to the server.
// 500 rows × 7 columns stays far below PostgreSQL's 65,535 bind parameters.
sql_backend!(
    PostgresStore,
    sqlx::Postgres,
    500,
    false,
    crate::audit::HEAD_FOR_UPDATE
);
