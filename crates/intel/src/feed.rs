//! Running a feed: fetch (a local path, or HTTP with `If-None-Match` /
//! `If-Modified-Since`, or MISP's restSearch), parse on a blocking thread,
//! write indicators to the store in chunks (one transaction each, so the
//! pipeline is never held up by a long import) and into the shared
//! [`IntelIndex`], then apply the feed's ageing policy.
//!
//! Memory stays bounded whatever the feed's size: an HTTP body is streamed
//! to a temporary file (up to `max_bytes`), CSV is read line by line, and
//! indicators cross from the parser to the writer through a channel of
//! [`CHUNK`]-sized batches.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::TimeDelta;
use riposte_model::{Indicator, Timestamp};
use riposte_store::Store;
use serde::{Deserialize, Serialize};

use crate::IntelIndex;
use crate::import::csv::CsvFormat;
use crate::import::{FeedDefaults, ImportError, ImportReport, misp, stix};

/// The index the pipeline matches against, shared with feed updates.
pub type SharedIndex = Arc<RwLock<IntelIndex>>;

/// Indicators per store transaction and per index update.
pub const CHUNK: usize = 2_000;

/// What a feed is, in which format.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedFormat {
    /// A MISP feed folder or base URL (`manifest.json`, `<uuid>.json`).
    MispFeed,
    /// One MISP event file.
    MispEvent,
    /// A MISP instance's `/attributes/restSearch`.
    MispRest,
    Stix,
    Csv(CsvFormat),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    Path(PathBuf),
    Url(String),
}

/// One configured feed (`intel.feeds[]`).
#[derive(Clone, Debug)]
pub struct FeedConfig {
    pub name: String,
    pub format: FeedFormat,
    pub location: Location,
    /// The MISP API key or an `Authorization` header value, read from the
    /// environment variable `key_env` at start.
    pub key: Option<String>,
    /// How often the feed is fetched by `riposte serve`.
    pub interval: Duration,
    /// The feed lists everything it holds: after a complete import, its
    /// indicators that the import did not list are removed.
    pub snapshot: bool,
    /// When the feed has not been refreshed for this long (it disappeared,
    /// or keeps failing), its indicators are removed, with a warning.
    pub max_age: Option<TimeDelta>,
    pub defaults: FeedDefaults,
    /// The largest download accepted.
    pub max_bytes: u64,
    /// Sightings of this feed's indicators pushed back to MISP
    /// (`sightings: {push: true}`); MISP feeds only.
    pub sightings: Option<crate::sightings::SightingPush>,
}

/// A feed's last fetch, kept in the store's settings as
/// `intel.feed.<name>` so that restarts send the right conditional request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default)]
    pub indicators: u64,
    #[serde(default)]
    pub rejected: u64,
}

pub fn state_key(feed: &str) -> String {
    format!("intel.feed.{feed}")
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunReport {
    pub import: ImportReport,
    /// The server answered 304 Not Modified: nothing was read.
    pub not_modified: bool,
    /// Indicators new to the store.
    pub added: u64,
    /// Indicators removed by the snapshot or max-age policy.
    pub aged_out: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed {feed}: {source}")]
    Import {
        feed: String,
        #[source]
        source: ImportError,
    },
    #[error("feed {feed}: store: {source}")]
    Store {
        feed: String,
        #[source]
        source: riposte_store::StoreError,
    },
}

/// The body of one fetch, on disk or a local path.
enum Fetched {
    NotModified,
    /// The file to parse, and the temporary file to delete afterwards.
    File(PathBuf, #[allow(dead_code)] Option<tempfile::TempPath>),
    /// MISP restSearch pages, already parsed.
    Rest(Vec<serde_json::Value>),
}

fn client() -> Result<reqwest::Client, ImportError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(20))
        .user_agent(concat!("riposte/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ImportError::Fetch(e.to_string()))
}

/// GETs `url` into a temporary file, conditionally on `state`.
async fn download(
    url: &str,
    key: Option<&str>,
    max_bytes: u64,
    state: &mut FeedState,
) -> Result<Fetched, ImportError> {
    use futures_util::StreamExt;
    let fetch = |e: String| ImportError::Fetch(format!("{url}: {e}"));
    let mut req = client()?.get(url);
    if let Some(etag) = &state.etag {
        req = req.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(lm) = &state.last_modified {
        req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
    }
    if let Some(k) = key {
        req = req.header(reqwest::header::AUTHORIZATION, k);
    }
    let resp = req.send().await.map_err(|e| fetch(e.to_string()))?;
    if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !resp.status().is_success() {
        return Err(fetch(format!("HTTP {}", resp.status())));
    }
    let header = |h| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, last_modified) = (
        header(reqwest::header::ETAG),
        header(reqwest::header::LAST_MODIFIED),
    );
    let mut file = tempfile::NamedTempFile::new().map_err(|e| fetch(e.to_string()))?;
    let mut written = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| fetch(e.to_string()))?;
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(fetch(format!("body over the {max_bytes}-byte limit")));
        }
        file.write_all(&chunk).map_err(|e| fetch(e.to_string()))?;
    }
    file.flush().map_err(|e| fetch(e.to_string()))?;
    // Remembered only once the import succeeds (see run_feed).
    state.etag = etag;
    state.last_modified = last_modified;
    let path = file.into_temp_path();
    Ok(Fetched::File(path.to_path_buf(), Some(path)))
}

/// Pages of `/attributes/restSearch` (JSON, 1000 attributes a page), with
/// the key in `Authorization` as MISP expects.
pub async fn misp_rest_pages(
    base: &str,
    key: Option<&str>,
    max_bytes: u64,
) -> Result<Vec<serde_json::Value>, ImportError> {
    const LIMIT: u64 = 1000;
    let url = format!("{}/attributes/restSearch", base.trim_end_matches('/'));
    let fetch = |e: String| ImportError::Fetch(format!("{url}: {e}"));
    let client = client()?;
    let mut pages = Vec::new();
    let mut total = 0u64;
    for page in 1.. {
        let mut req = client
            .post(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&serde_json::json!({
                "returnFormat": "json", "page": page, "limit": LIMIT,
                "includeEventTags": true, "deleted": false
            }));
        if let Some(k) = key {
            req = req.header(reqwest::header::AUTHORIZATION, k);
        }
        let resp = req.send().await.map_err(|e| fetch(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fetch(format!("HTTP {}", resp.status())));
        }
        let bytes = resp.bytes().await.map_err(|e| fetch(e.to_string()))?;
        total += bytes.len() as u64;
        if total > max_bytes {
            return Err(fetch(format!("responses over the {max_bytes}-byte limit")));
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| fetch(format!("not JSON: {e}")))?;
        let n = doc
            .pointer("/response/Attribute")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len) as u64;
        pages.push(doc);
        if n < LIMIT {
            break;
        }
    }
    Ok(pages)
}

/// Parses what was fetched, handing indicators to `sink` (blocking code).
fn parse(
    feed: &FeedConfig,
    fetched: &Fetched,
    sink: &mut crate::import::Sink<'_>,
) -> Result<ImportReport, ImportError> {
    let d = &feed.defaults;
    match fetched {
        Fetched::NotModified => Ok(ImportReport::new(&feed.name)),
        Fetched::Rest(pages) => {
            let mut report = ImportReport::new(&feed.name);
            for (i, page) in pages.iter().enumerate() {
                misp::import_rest_response(
                    page,
                    &format!("restSearch page {}", i + 1),
                    d,
                    &mut report,
                    sink,
                )?;
            }
            Ok(report)
        }
        Fetched::File(path, _) => {
            let name = match &feed.location {
                Location::Url(u) => u.clone(),
                Location::Path(p) => p.display().to_string(),
            };
            match &feed.format {
                FeedFormat::MispFeed => misp::import_feed_dir(path, d, sink),
                FeedFormat::MispEvent => misp::import_event_file(path, d, sink),
                FeedFormat::Stix => stix::import_bundle_file(path, d, sink),
                FeedFormat::MispRest => Err(ImportError::Format {
                    path: name,
                    message: "misp-rest needs a url".into(),
                }),
                FeedFormat::Csv(format) => {
                    let file = std::fs::File::open(path).map_err(|source| ImportError::Io {
                        path: name.clone(),
                        source,
                    })?;
                    crate::import::csv::import_csv(
                        std::io::BufReader::with_capacity(1 << 16, file),
                        &name,
                        format,
                        d,
                        sink,
                    )
                }
            }
        }
    }
}

/// Imports one feed now: fetch, parse, store, update `index`, age out by
/// policy, remember the fetch state. A broken record is counted in the
/// report; a failed fetch or store error is returned (and recorded in the
/// feed's state) and changes nothing already stored.
pub async fn run_feed(
    feed: &FeedConfig,
    store: &Arc<dyn Store>,
    index: Option<&SharedIndex>,
    now: Timestamp,
    progress: Option<&(dyn Fn(u64) + Send + Sync)>,
) -> Result<RunReport, FeedError> {
    let store_err = |source| FeedError::Store {
        feed: feed.name.clone(),
        source,
    };
    let import_err = |source| FeedError::Import {
        feed: feed.name.clone(),
        source,
    };
    let key = state_key(&feed.name);
    let mut state: FeedState = store
        .setting(&key)
        .await
        .map_err(store_err)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let before = state.clone();
    let fetched = match (&feed.format, &feed.location) {
        (FeedFormat::MispRest, Location::Url(u)) => {
            misp_rest_pages(u, feed.key.as_deref(), feed.max_bytes)
                .await
                .map(Fetched::Rest)
        }
        (FeedFormat::MispFeed, Location::Url(u)) => Err(ImportError::Fetch(format!(
            "{u}: a MISP feed is read from a folder; mirror it (or use misp-rest)"
        ))),
        (_, Location::Url(u)) => download(u, feed.key.as_deref(), feed.max_bytes, &mut state).await,
        (_, Location::Path(p)) => Ok(Fetched::File(p.clone(), None)),
    };
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => {
            let mut failed = before.clone();
            failed.last_error = Some(e.to_string());
            save_state(store, &key, &failed, now)
                .await
                .map_err(store_err)?;
            return Err(import_err(e));
        }
    };
    if matches!(fetched, Fetched::NotModified) {
        let mut s = before;
        s.last_success = Some(now);
        s.last_error = None;
        save_state(store, &key, &s, now).await.map_err(store_err)?;
        return Ok(RunReport {
            import: ImportReport::new(&feed.name),
            not_modified: true,
            ..RunReport::default()
        });
    }

    // Parser (blocking thread) → chunks → writer (here).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Indicator>>(4);
    let parser_feed = feed.clone();
    let parser = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut sink = |ind: Indicator| {
            chunk.push(ind);
            if chunk.len() >= CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                tx.blocking_send(full)
                    .map_err(|_| ImportError::Sink("the store writer stopped".into()))?;
            }
            Ok(())
        };
        let report = parse(&parser_feed, &fetched, &mut sink);
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        drop(fetched);
        report
    });
    let mut added = 0;
    let mut written = 0u64;
    let mut write_error = None;
    while let Some(chunk) = rx.recv().await {
        if write_error.is_some() {
            continue;
        }
        let result = async {
            let mut tx = store.begin().await?;
            let n = tx.upsert_indicators(&chunk, now).await?;
            tx.commit().await?;
            Ok::<u64, riposte_store::StoreError>(n)
        }
        .await;
        match result {
            Ok(n) => {
                added += n;
                written += chunk.len() as u64;
                if let Some(index) = index {
                    let mut ix = index.write().unwrap_or_else(|p| p.into_inner());
                    for ind in &chunk {
                        // Already normalized by the importer; cannot fail
                        // short of 4 GiB of one kind, which is logged.
                        if let Err(e) = ix.insert(ind) {
                            tracing::warn!(feed = %feed.name, error = %e, "indicator not indexed");
                        }
                    }
                }
                if let Some(p) = progress {
                    p(written);
                }
            }
            Err(e) => write_error = Some(e),
        }
    }
    let report = parser
        .await
        .map_err(|e| import_err(ImportError::Sink(format!("parser task failed: {e}"))))?;
    if let Some(e) = write_error {
        return Err(store_err(e));
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let mut failed = before.clone();
            failed.last_error = Some(e.to_string());
            save_state(store, &key, &failed, now)
                .await
                .map_err(store_err)?;
            return Err(import_err(e));
        }
    };
    let mut aged_out = 0;
    if feed.snapshot {
        aged_out += age_out(store, index, &feed.name, now)
            .await
            .map_err(store_err)?;
    }
    state.last_success = Some(now);
    state.last_error = None;
    state.indicators = report.indicators;
    state.rejected = report.rejected;
    save_state(store, &key, &state, now)
        .await
        .map_err(store_err)?;
    if report.rejected > 0 {
        tracing::warn!(feed = %feed.name, rejected = report.rejected, first = ?report.errors.first().map(ToString::to_string), "feed had broken records");
    }
    Ok(RunReport {
        import: report,
        not_modified: false,
        added,
        aged_out,
    })
}

async fn save_state(
    store: &Arc<dyn Store>,
    key: &str,
    state: &FeedState,
    now: Timestamp,
) -> Result<(), riposte_store::StoreError> {
    let json = serde_json::to_string(state).unwrap_or_default();
    let mut tx = store.begin().await?;
    tx.set_setting(key, Some(&json), now).await?;
    tx.commit().await
}

/// Removes `feed`'s indicators not refreshed since `before` from the store
/// and the index; returns how many.
pub async fn age_out(
    store: &Arc<dyn Store>,
    index: Option<&SharedIndex>,
    feed: &str,
    before: Timestamp,
) -> Result<u64, riposte_store::StoreError> {
    let mut tx = store.begin().await?;
    let gone = tx.age_out_indicators(feed, before).await?;
    tx.commit().await?;
    if let Some(index) = index {
        let mut ix = index.write().unwrap_or_else(|p| p.into_inner());
        for ind in &gone {
            ix.remove(ind.kind, &ind.value, &ind.feed);
        }
    }
    Ok(gone.len() as u64)
}

/// Applies `max_age`: a feed whose last success is older than that (or
/// that never succeeded and has stored indicators that old) loses its
/// indicators refreshed before `now - max_age`. Logged at WARN with the
/// count, never silent.
pub async fn age_out_stale(
    feed: &FeedConfig,
    store: &Arc<dyn Store>,
    index: Option<&SharedIndex>,
    now: Timestamp,
) -> Result<u64, riposte_store::StoreError> {
    let Some(max_age) = feed.max_age else {
        return Ok(0);
    };
    let n = age_out(store, index, &feed.name, now - max_age).await?;
    if n > 0 {
        tracing::warn!(feed = %feed.name, removed = n, max_age = %riposte_model::format_duration(max_age), "feed not refreshed within max_age: its old indicators were removed");
    }
    Ok(n)
}

/// Loads every stored indicator into a new index, page by page.
pub async fn load_index(store: &Arc<dyn Store>) -> Result<IntelIndex, riposte_store::StoreError> {
    let mut index = IntelIndex::new();
    let mut after: Option<riposte_store::IndicatorKey> = None;
    loop {
        let page = store.indicators_page(after.as_ref(), 10_000).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.kind, last.value.to_string(), last.feed.to_string()));
        for ind in &page {
            if let Err(e) = index.insert(ind) {
                tracing::warn!(feed = %ind.feed, error = %e, "stored indicator not indexed");
            }
        }
    }
    Ok(index)
}

/// Runs every feed on its interval until `shutdown` turns true: one task
/// per feed; a failure is logged and retried at the next interval.
pub fn schedule(
    feeds: &[FeedConfig],
    store: Arc<dyn Store>,
    index: SharedIndex,
    clock: Arc<dyn riposte_model::Clock>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    feeds
        .iter()
        .cloned()
        .map(|feed| {
            let (store, index, clock, mut stop) =
                (store.clone(), index.clone(), clock.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(feed.interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stop.changed() => break,
                    }
                    let now = clock.now();
                    match run_feed(&feed, &store, Some(&index), now, None).await {
                        Ok(r) if r.not_modified => tracing::debug!(feed = %feed.name, "not modified"),
                        Ok(r) => tracing::info!(feed = %feed.name, indicators = r.import.indicators, added = r.added, aged_out = r.aged_out, rejected = r.import.rejected, "feed imported"),
                        Err(e) => tracing::warn!(error = %e, "feed import failed"),
                    }
                    if let Err(e) = age_out_stale(&feed, &store, Some(&index), now).await {
                        tracing::warn!(feed = %feed.name, error = %e, "ageing out failed");
                    }
                }
            })
        })
        .collect()
}
