//! Threat-intelligence storage: indicators per feed and sightings
//! (migrations `0005_intel.sql`), and what sharing them over TAXII needs:
//! when each was added, and pages in that order (`0006_intel_sharing.sql`). The traits are supertraits of
//! [`crate::Store`] and [`crate::Tx`], so every backend implements them and
//! the conformance suite covers them; the SQL is shared like the rest.

use async_trait::async_trait;
use riposte_model::{Indicator, IndicatorKind, Sighting, Timestamp, Tlp};
use serde::Serialize;

use crate::Result;
use crate::shared::{FORMAT_VERSION, Val};

/// Where a page of [`IntelStore::indicators_page`] continues: the last
/// (kind, value, feed) of the previous page.
pub type IndicatorKey = (IndicatorKind, String, String);

/// Where a page in date-added order continues: the last row of the
/// previous page. Rows added in the same millisecond are ordered by
/// (kind, value, feed), so no row is skipped or repeated between pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedKey {
    pub added_at: Timestamp,
    pub kind: IndicatorKind,
    pub value: String,
    pub feed: String,
}

/// Which indicators a sharing channel (a TAXII collection) may serve, and
/// which page of them: only unexpired indicators fit for detection, never
/// above `max_tlp`, oldest added first.
#[derive(Clone, Debug)]
pub struct ShareQuery {
    /// Only these feeds (empty: every feed).
    pub feeds: Vec<String>,
    /// Only these kinds (empty: every kind).
    pub kinds: Vec<IndicatorKind>,
    /// The most restrictive TLP served.
    pub max_tlp: Tlp,
    /// Only these STIX ids (empty: any).
    pub object_ids: Vec<String>,
    /// Only rows added strictly after this instant (millisecond precision).
    pub added_after: Option<Timestamp>,
    /// Continue after this row.
    pub after: Option<AddedKey>,
    /// Indicators whose `valid_until` is at or before this are left out.
    pub valid_at: Timestamp,
    pub limit: u32,
}

/// An indicator with the time its current content was stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedIndicator {
    pub added_at: Timestamp,
    pub indicator: Indicator,
}

impl SharedIndicator {
    /// The key a following page continues after.
    pub fn key(&self) -> AddedKey {
        AddedKey {
            added_at: self.added_at,
            kind: self.indicator.kind,
            value: self.indicator.value.to_string(),
            feed: self.indicator.feed.to_string(),
        }
    }
}

/// Where a page of sightings (newest first) continues: the last one of the
/// previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SightingKey {
    pub last_seen: Timestamp,
    pub kind: IndicatorKind,
    pub value: String,
    pub source: String,
    pub field: String,
}

impl SightingKey {
    pub fn of(s: &Sighting) -> Self {
        Self {
            last_seen: s.last_seen,
            kind: s.kind,
            value: s.value.to_string(),
            source: s.source.to_string(),
            field: s.field.to_string(),
        }
    }
}

/// Indicators held per feed and kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntelCount {
    pub feed: String,
    pub kind: IndicatorKind,
    pub indicators: u64,
    /// Of which fit for detection.
    pub to_ids: u64,
}

/// One sighting waiting to be pushed to the MISP instance `feed` came from
/// (`intel_sighting_queue`): an indicator of that feed seen in events of
/// one source within one committed batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueuedSighting {
    /// Assigned by the store; ignored by [`IntelTx::queue_sightings`].
    pub id: i64,
    pub feed: String,
    pub kind: IndicatorKind,
    pub value: String,
    /// The event source (`eve`), or the dataset without one.
    pub source: String,
    /// The last event of the batch that carried the value.
    pub seen_at: Timestamp,
    /// Events of the batch that carried it.
    pub count: u64,
}

/// The reads.
#[async_trait]
pub trait IntelStore {
    /// Indicators in (kind, value, feed) order after `after`: loading the
    /// matcher page by page keeps memory bounded.
    async fn indicators_page(
        &self,
        after: Option<&IndicatorKey>,
        limit: u32,
    ) -> Result<Vec<Indicator>>;
    /// What every feed says about one normalized value.
    async fn lookup_indicators(&self, kind: IndicatorKind, value: &str) -> Result<Vec<Indicator>>;
    async fn intel_counts(&self) -> Result<Vec<IntelCount>>;
    /// Most recently seen first.
    async fn list_sightings(&self, limit: u32) -> Result<Vec<Sighting>>;
    /// Most recently seen first, continuing after `after`.
    async fn sightings_page(
        &self,
        after: Option<&SightingKey>,
        limit: u32,
    ) -> Result<Vec<Sighting>>;
    /// What a sharing channel serves, in date-added order (see
    /// [`ShareQuery`]).
    async fn shared_indicators(&self, query: &ShareQuery) -> Result<Vec<SharedIndicator>>;
    /// `feed`'s queued sightings, oldest first.
    async fn queued_sightings(&self, feed: &str, limit: u32) -> Result<Vec<QueuedSighting>>;
    /// Queued sightings per feed, by feed name.
    async fn sighting_queue_counts(&self) -> Result<Vec<(String, u64)>>;
}

/// The writes, inside a transaction.
#[async_trait]
pub trait IntelTx {
    /// Inserts or replaces indicators. A row already written by the same
    /// import (refreshed at or after `import_started`) is merged with the
    /// new one by [`Indicator::merge`]; an older row is replaced. Returns
    /// how many rows were new to the feed.
    async fn upsert_indicators(
        &mut self,
        indicators: &[Indicator],
        import_started: Timestamp,
    ) -> Result<u64>;
    /// Deletes `feed`'s indicators last refreshed before `before` and
    /// returns them (the matcher drops them too).
    async fn age_out_indicators(&mut self, feed: &str, before: Timestamp)
    -> Result<Vec<Indicator>>;
    /// Adds the sightings' counts to the stored ones, widening first/last
    /// seen.
    async fn record_sightings(&mut self, sightings: &[Sighting]) -> Result<()>;
    /// Appends sightings to push (their `id` is assigned here).
    async fn queue_sightings(&mut self, sightings: &[QueuedSighting]) -> Result<()>;
    /// Removes exactly these queued sightings (pushed); returns how many
    /// were there.
    async fn dequeue_sightings(&mut self, ids: &[i64]) -> Result<u64>;
}

/// Indicators per statement of [`IntelTx::upsert_indicators`]: one
/// SELECT of the stored rows of up to this many keys, then one multi-row
/// upsert, instead of two or three statements per indicator (each a hop to
/// SQLite's worker thread, or a round trip to PostgreSQL). 11 parameters a
/// row keeps a statement at 1,100, far below either engine's limit.
pub(crate) const INDICATORS_PER_STATEMENT: usize = 100;

/// Followed by a `values_clause` of (kind, value, feed) keys and `)`.
pub(crate) const SELECT_KEYS: &str = "SELECT kind, value, feed, refreshed_at, format_version, body \
    FROM intel_indicators WHERE (kind, value, feed) IN (VALUES ";

pub(crate) type StoredRow = (String, String, String, i64, i32, String);

/// Followed by a `values_clause` of [`indicator_row`]s and [`UPSERT_TAIL`].
pub(crate) const UPSERT_HEAD: &str = "INSERT INTO intel_indicators \
    (kind, value, feed, valid_until, refreshed_at, format_version, body, \
    added_at, object_id, tlp_rank, to_ids) VALUES ";
/// A row whose content is unchanged keeps its `added_at` (SET expressions
/// read the row as it was before the update).
pub(crate) const UPSERT_TAIL: &str = " ON CONFLICT (kind, value, feed) DO UPDATE SET \
    valid_until = excluded.valid_until, \
    refreshed_at = excluded.refreshed_at, format_version = excluded.format_version, \
    body = excluded.body, \
    added_at = CASE WHEN intel_indicators.body = excluded.body \
        THEN intel_indicators.added_at ELSE excluded.added_at END, \
    object_id = excluded.object_id, tlp_rank = excluded.tlp_rank, to_ids = excluded.to_ids";
pub(crate) const INDICATOR_COLUMNS: usize = 11;

/// TLP as a number that orders like the TLP (`tlp_rank` column).
pub fn tlp_rank(tlp: Tlp) -> i64 {
    match tlp {
        Tlp::Clear => 0,
        Tlp::Green => 1,
        Tlp::Amber => 2,
        Tlp::AmberStrict => 3,
        Tlp::Red => 4,
    }
}

pub(crate) fn indicator_row(ind: &Indicator, refreshed: Timestamp) -> Result<Vec<Val>> {
    let body = serde_json::to_string(ind).map_err(|e| sqlx::Error::Encode(e.into()))?;
    Ok(vec![
        Val::text(ind.kind),
        Val::text(&ind.value),
        Val::text(&ind.feed),
        Val::Int(ind.valid_until.map(|t| t.timestamp_millis())),
        Val::time(refreshed),
        Val::Int(Some(FORMAT_VERSION)),
        Val::Text(Some(body)),
        Val::time(refreshed),
        Val::Text(Some(ind.stix_id())),
        Val::Int(Some(tlp_rank(ind.tlp))),
        Val::Int(Some(i64::from(ind.to_ids))),
    ])
}

/// Rows written before `0006_intel_sharing.sql`, a page at a time.
pub(crate) const UNFILLED: &str = "SELECT kind, value, feed, format_version, body \
    FROM intel_indicators WHERE object_id IS NULL ORDER BY kind, value, feed LIMIT 500";
pub(crate) const FILL_SHARING: &str = "UPDATE intel_indicators SET object_id = $1, \
    tlp_rank = $2, to_ids = $3 WHERE kind = $4 AND value = $5 AND feed = $6";

/// The values [`FILL_SHARING`] sets for one stored body; a body that cannot
/// be read is filled so that it is never served (no id, TLP:RED, not fit for
/// detection) rather than stopping the store from opening.
pub(crate) fn fill_values(row: (String, String, String, i32, String)) -> Vec<Val> {
    let (kind, value, feed, version, body) = row;
    let mut vals = match crate::shared::decode::<Indicator>("indicator", (version, body)) {
        Ok(ind) => vec![
            Val::Text(Some(ind.stix_id())),
            Val::Int(Some(tlp_rank(ind.tlp))),
            Val::Int(Some(i64::from(ind.to_ids))),
        ],
        Err(e) => {
            tracing::warn!(%kind, %value, %feed, error = %e, "unreadable indicator is never shared");
            vec![
                Val::text(""),
                Val::Int(Some(tlp_rank(Tlp::Red))),
                Val::Int(Some(0)),
            ]
        }
    };
    vals.extend([
        Val::Text(Some(kind)),
        Val::Text(Some(value)),
        Val::Text(Some(feed)),
    ]);
    vals
}

/// The SQL and values of a [`ShareQuery`]. The optional lists become
/// `IN (…)` with one parameter each; everything else is fixed, so the
/// statement is one of a few shapes.
pub(crate) fn share_sql(q: &ShareQuery) -> (String, Vec<Val>) {
    let after = q.after.as_ref();
    let mut vals = vec![
        Val::Int(Some(tlp_rank(q.max_tlp))),
        Val::time(q.valid_at),
        Val::Int(q.added_after.map(|t| t.timestamp_millis())),
        Val::Int(after.map(|a| a.added_at.timestamp_millis())),
        Val::Text(after.map(|a| a.kind.as_str().to_owned())),
        Val::Text(after.map(|a| a.value.clone())),
        Val::Text(after.map(|a| a.feed.clone())),
    ];
    let mut sql = String::from(
        "SELECT added_at, format_version, body FROM intel_indicators \
         WHERE to_ids = 1 AND tlp_rank <= $1 AND (valid_until IS NULL OR valid_until > $2) \
         AND ($3 IS NULL OR added_at > $3) \
         AND ($4 IS NULL OR (added_at, kind, value, feed) > ($4, $5, $6, $7))",
    );
    let mut list = |column: &str, items: Vec<String>, vals: &mut Vec<Val>| {
        if items.is_empty() {
            return;
        }
        let first = vals.len() + 1;
        let marks: Vec<String> = (first..first + items.len())
            .map(|i| format!("${i}"))
            .collect();
        sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
        vals.extend(items.into_iter().map(|v| Val::Text(Some(v))));
    };
    list("feed", q.feeds.clone(), &mut vals);
    list(
        "kind",
        q.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        &mut vals,
    );
    list("object_id", q.object_ids.clone(), &mut vals);
    vals.push(crate::shared::limit(q.limit));
    sql.push_str(&format!(
        " ORDER BY added_at, kind, value, feed LIMIT ${}",
        vals.len()
    ));
    (sql, vals)
}

pub(crate) fn shared_row((added, version, body): (i64, i32, String)) -> Result<SharedIndicator> {
    Ok(SharedIndicator {
        added_at: chrono::DateTime::from_timestamp_millis(added)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad timestamp {added}").into()))?,
        indicator: crate::shared::decode("indicator", (version, body))?,
    })
}

pub(crate) const STALE_OF_FEED: &str = "SELECT format_version, body FROM intel_indicators \
    WHERE feed = $1 AND refreshed_at < $2 ORDER BY kind, value";
pub(crate) const DELETE_STALE_OF_FEED: &str =
    "DELETE FROM intel_indicators WHERE feed = $1 AND refreshed_at < $2";

/// The first page; then [`INDICATORS_PAGE_AFTER`] with the last key: a
/// row-value comparison both engines answer by seeking the primary key
/// (the `$1 IS NULL OR kind > $1 OR …` form it replaces made SQLite walk
/// the index from the start for every page: 18 s to load 1 M indicators).
pub(crate) const INDICATORS_FIRST_PAGE: &str = "SELECT format_version, body FROM intel_indicators \
    ORDER BY kind, value, feed LIMIT $1";
pub(crate) const INDICATORS_PAGE_AFTER: &str = "SELECT format_version, body FROM intel_indicators \
    WHERE (kind, value, feed) > ($1, $2, $3) ORDER BY kind, value, feed LIMIT $4";
pub(crate) const LOOKUP_INDICATORS: &str = "SELECT format_version, body FROM intel_indicators \
    WHERE kind = $1 AND value = $2 ORDER BY feed";
pub(crate) const INTEL_COUNTS: &str = "SELECT feed, kind, COUNT(*), \
    SUM(CASE WHEN body LIKE '%\"to_ids\":true%' THEN 1 ELSE 0 END) \
    FROM intel_indicators GROUP BY feed, kind ORDER BY feed, kind";

pub(crate) const RECORD_SIGHTING: &str = "INSERT INTO intel_sightings \
    (kind, value, source, field, count, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7) \
    ON CONFLICT (kind, value, source, field) DO UPDATE SET \
    count = intel_sightings.count + excluded.count, \
    first_seen = CASE WHEN excluded.first_seen < intel_sightings.first_seen \
        THEN excluded.first_seen ELSE intel_sightings.first_seen END, \
    last_seen = CASE WHEN excluded.last_seen > intel_sightings.last_seen \
        THEN excluded.last_seen ELSE intel_sightings.last_seen END";

pub(crate) fn sighting_row(s: &Sighting) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(s.kind),
        Val::text(&s.value),
        Val::text(&s.source),
        Val::text(&s.field),
        Val::Int(Some(crate::shared::to_i64(s.count)?)),
        Val::time(s.first_seen),
        Val::time(s.last_seen),
    ])
}

pub(crate) const LIST_SIGHTINGS: &str = "SELECT kind, value, source, field, count, first_seen, \
    last_seen FROM intel_sightings ORDER BY last_seen DESC, kind, value, source, field LIMIT $1";

/// `$1`..`$5` the key after which to continue (all NULL for the start).
pub(crate) const SIGHTINGS_PAGE: &str = "SELECT kind, value, source, field, count, first_seen, \
    last_seen FROM intel_sightings \
    WHERE $1 IS NULL OR last_seen < $1 \
    OR (last_seen = $1 AND (kind, value, source, field) > ($2, $3, $4, $5)) \
    ORDER BY last_seen DESC, kind, value, source, field LIMIT $6";

pub(crate) fn sighting_key_vals(after: Option<&SightingKey>, limit: u32) -> Vec<Val> {
    vec![
        Val::Int(after.map(|a| a.last_seen.timestamp_millis())),
        Val::Text(after.map(|a| a.kind.as_str().to_owned())),
        Val::Text(after.map(|a| a.value.clone())),
        Val::Text(after.map(|a| a.source.clone())),
        Val::Text(after.map(|a| a.field.clone())),
        crate::shared::limit(limit),
    ]
}

pub(crate) type SightingRow = (String, String, String, String, i64, i64, i64);

pub(crate) fn sighting(row: SightingRow) -> Result<Sighting> {
    let (kind, value, source, field, count, first, last) = row;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad timestamp {ms}").into()))
    };
    Ok(Sighting {
        kind: kind
            .parse()
            .map_err(|e: riposte_model::UnknownName| sqlx::Error::Decode(e.to_string().into()))?,
        value: value.into(),
        source: source.into(),
        field: field.into(),
        count: crate::shared::to_u64(count)?,
        first_seen: time(first)?,
        last_seen: time(last)?,
    })
}

pub(crate) const QUEUE_SIGHTING: &str = "INSERT INTO intel_sighting_queue \
    (feed, kind, value, source, seen_at, count) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const QUEUED_SIGHTINGS: &str = "SELECT id, feed, kind, value, source, seen_at, count \
    FROM intel_sighting_queue WHERE feed = $1 ORDER BY id LIMIT $2";
pub(crate) const DEQUEUE_SIGHTING: &str = "DELETE FROM intel_sighting_queue WHERE id = $1";
pub(crate) const SIGHTING_QUEUE_COUNTS: &str =
    "SELECT feed, COUNT(*) FROM intel_sighting_queue GROUP BY feed ORDER BY feed";

pub(crate) fn queued_row(s: &QueuedSighting) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(&s.feed),
        Val::text(s.kind),
        Val::text(&s.value),
        Val::text(&s.source),
        Val::time(s.seen_at),
        Val::Int(Some(crate::shared::to_i64(s.count)?)),
    ])
}

pub(crate) type QueuedRow = (i64, String, String, String, String, i64, i64);

pub(crate) fn queued(row: QueuedRow) -> Result<QueuedSighting> {
    let (id, feed, kind, value, source, seen_at, count) = row;
    Ok(QueuedSighting {
        id,
        feed,
        kind: kind
            .parse()
            .map_err(|e: riposte_model::UnknownName| sqlx::Error::Decode(e.to_string().into()))?,
        value,
        source,
        seen_at: chrono::DateTime::from_timestamp_millis(seen_at)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad timestamp {seen_at}").into()))?,
        count: crate::shared::to_u64(count)?,
    })
}

pub(crate) fn count_row(
    (feed, kind, n, to_ids): (String, String, i64, Option<i64>),
) -> Result<IntelCount> {
    Ok(IntelCount {
        feed,
        kind: kind
            .parse()
            .map_err(|e: riposte_model::UnknownName| sqlx::Error::Decode(e.to_string().into()))?,
        indicators: crate::shared::to_u64(n)?,
        to_ids: crate::shared::to_u64(to_ids.unwrap_or(0))?,
    })
}

/// Merges duplicates of one (kind, value, feed) within a batch, keeping the
/// first occurrence's position.
pub(crate) fn dedup(indicators: &[Indicator]) -> Vec<Indicator> {
    let mut out: Vec<Indicator> = Vec::with_capacity(indicators.len());
    let mut at: std::collections::HashMap<(IndicatorKind, &str, &str), usize> =
        std::collections::HashMap::with_capacity(indicators.len());
    for ind in indicators {
        match at.get(&(ind.kind, ind.value.as_str(), ind.feed.as_str())) {
            Some(&i) => out[i].merge(ind),
            None => {
                at.insert((ind.kind, &ind.value, &ind.feed), out.len());
                out.push(ind.clone());
            }
        }
    }
    out
}

/// The `IntelStore`/`IntelTx` implementations, expanded inside
/// `backend::sql_backend!`'s module so they share its helpers.
macro_rules! intel_impl {
    ($store:ident, $positional:expr) => {
        use riposte_model::{Indicator, IndicatorKind, Sighting};
        use $crate::intel::{
            self as intel, IndicatorKey, IntelCount, IntelStore, IntelTx, QueuedSighting,
            ShareQuery, SharedIndicator, SightingKey,
        };

        /// Fills the sharing columns of rows written before they existed
        /// (`0006_intel_sharing.sql`); run when the store opens.
        pub(super) async fn fill_sharing_columns(pool: &sqlx::Pool<Db>) -> Result<()> {
            loop {
                let rows: Vec<(String, String, String, i32, String)> =
                    sqlx::query_as(intel::UNFILLED).fetch_all(pool).await?;
                if rows.is_empty() {
                    return Ok(());
                }
                let mut tx = pool.begin().await?;
                for row in rows {
                    execute(&mut *tx, intel::FILL_SHARING, intel::fill_values(row)).await?;
                }
                tx.commit().await?;
            }
        }

        #[async_trait]
        impl IntelStore for $store {
            async fn indicators_page(
                &self,
                after: Option<&IndicatorKey>,
                limit: u32,
            ) -> Result<Vec<Indicator>> {
                match after {
                    None => {
                        let vals = vec![shared::limit(limit)];
                        fetch_all(&self.pool, "indicator", intel::INDICATORS_FIRST_PAGE, vals).await
                    }
                    Some((kind, value, feed)) => {
                        let vals = vec![
                            Val::text(kind.as_str()),
                            Val::text(value),
                            Val::text(feed),
                            shared::limit(limit),
                        ];
                        fetch_all(&self.pool, "indicator", intel::INDICATORS_PAGE_AFTER, vals).await
                    }
                }
            }

            async fn lookup_indicators(
                &self,
                kind: IndicatorKind,
                value: &str,
            ) -> Result<Vec<Indicator>> {
                let vals = vec![Val::text(kind), Val::text(value)];
                fetch_all(&self.pool, "indicator", intel::LOOKUP_INDICATORS, vals).await
            }

            async fn intel_counts(&self) -> Result<Vec<IntelCount>> {
                let rows: Vec<(String, String, i64, Option<i64>)> =
                    sqlx::query_as(intel::INTEL_COUNTS)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(intel::count_row).collect()
            }

            async fn list_sightings(&self, limit: u32) -> Result<Vec<Sighting>> {
                let rows: Vec<intel::SightingRow> =
                    sqlx::query_as_with(intel::LIST_SIGHTINGS, args(vec![shared::limit(limit)])?)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(intel::sighting).collect()
            }

            async fn sightings_page(
                &self,
                after: Option<&SightingKey>,
                limit: u32,
            ) -> Result<Vec<Sighting>> {
                let vals = intel::sighting_key_vals(after, limit);
                let rows: Vec<intel::SightingRow> =
                    sqlx::query_as_with(intel::SIGHTINGS_PAGE, args(vals)?)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(intel::sighting).collect()
            }

            async fn shared_indicators(&self, query: &ShareQuery) -> Result<Vec<SharedIndicator>> {
                let (sql, vals) = intel::share_sql(query);
                let rows: Vec<(i64, i32, String)> = sqlx::query_as_with(&sql, args(vals)?)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(intel::shared_row).collect()
            }

            async fn queued_sightings(
                &self,
                feed: &str,
                limit: u32,
            ) -> Result<Vec<QueuedSighting>> {
                let vals = vec![Val::text(feed), shared::limit(limit)];
                let rows: Vec<intel::QueuedRow> =
                    sqlx::query_as_with(intel::QUEUED_SIGHTINGS, args(vals)?)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(intel::queued).collect()
            }

            async fn sighting_queue_counts(&self) -> Result<Vec<(String, u64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(intel::SIGHTING_QUEUE_COUNTS)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|(feed, n)| Ok((feed, shared::to_u64(n)?)))
                    .collect()
            }
        }

        #[async_trait]
        impl IntelTx for SqlTx {
            async fn upsert_indicators(
                &mut self,
                indicators: &[Indicator],
                import_started: Timestamp,
            ) -> Result<u64> {
                let started = import_started.timestamp_millis();
                let mut new = 0;
                let mut unique = intel::dedup(indicators);
                for chunk in unique.chunks_mut(intel::INDICATORS_PER_STATEMENT) {
                    // What is stored under these keys: absent (new), written
                    // by this import (merged), or older (replaced).
                    let mut keys = Vec::with_capacity(chunk.len() * 3);
                    for ind in chunk.iter() {
                        keys.extend([
                            Val::text(ind.kind),
                            Val::text(&ind.value),
                            Val::text(&ind.feed),
                        ]);
                    }
                    let sql = format!(
                        "{}{})",
                        intel::SELECT_KEYS,
                        shared::values_clause(chunk.len(), 3, $positional)
                    );
                    let rows: Vec<intel::StoredRow> = sqlx::query_as_with(&sql, args(keys)?)
                        .persistent(chunk.len() == intel::INDICATORS_PER_STATEMENT)
                        .fetch_all(&mut *self.0)
                        .await?;
                    let stored: std::collections::HashMap<
                        (String, String, String),
                        (i64, i32, String),
                    > = rows
                        .into_iter()
                        .map(|(k, v, f, at, version, body)| ((k, v, f), (at, version, body)))
                        .collect();
                    let mut vals = Vec::with_capacity(chunk.len() * intel::INDICATOR_COLUMNS);
                    for ind in chunk.iter_mut() {
                        let key = (
                            ind.kind.to_string(),
                            ind.value.to_string(),
                            ind.feed.to_string(),
                        );
                        match stored.get(&key) {
                            None => new += 1,
                            Some((at, version, body)) if *at >= started => {
                                let earlier: Indicator =
                                    shared::decode("indicator", (*version, body.clone()))?;
                                ind.merge(&earlier);
                            }
                            Some(_) => {}
                        }
                        vals.extend(intel::indicator_row(ind, import_started)?);
                    }
                    let sql = format!(
                        "{}{}{}",
                        intel::UPSERT_HEAD,
                        shared::values_clause(chunk.len(), intel::INDICATOR_COLUMNS, $positional),
                        intel::UPSERT_TAIL
                    );
                    sqlx::query_with(&sql, args(vals)?)
                        .persistent(chunk.len() == intel::INDICATORS_PER_STATEMENT)
                        .execute(&mut *self.0)
                        .await?;
                }
                Ok(new)
            }

            async fn age_out_indicators(
                &mut self,
                feed: &str,
                before: Timestamp,
            ) -> Result<Vec<Indicator>> {
                let vals = || vec![Val::text(feed), Val::time(before)];
                let stale: Vec<Indicator> =
                    fetch_all(&mut *self.0, "indicator", intel::STALE_OF_FEED, vals()).await?;
                execute(&mut *self.0, intel::DELETE_STALE_OF_FEED, vals()).await?;
                Ok(stale)
            }

            async fn record_sightings(&mut self, sightings: &[Sighting]) -> Result<()> {
                for s in sightings {
                    execute(
                        &mut *self.0,
                        intel::RECORD_SIGHTING,
                        intel::sighting_row(s)?,
                    )
                    .await?;
                }
                Ok(())
            }

            async fn queue_sightings(&mut self, sightings: &[QueuedSighting]) -> Result<()> {
                for s in sightings {
                    execute(&mut *self.0, intel::QUEUE_SIGHTING, intel::queued_row(s)?).await?;
                }
                Ok(())
            }

            async fn dequeue_sightings(&mut self, ids: &[i64]) -> Result<u64> {
                let mut n = 0;
                for id in ids {
                    n += execute_count(
                        &mut *self.0,
                        intel::DEQUEUE_SIGHTING,
                        vec![Val::Int(Some(*id))],
                    )
                    .await?;
                }
                Ok(n)
            }
        }
    };
}

pub(crate) use intel_impl;
