//! Sightings pushed back to MISP: when events match indicators of a MISP
//! feed configured with `sightings: {push: true}`, the pipeline queues one
//! sighting per (indicator, event source) per committed batch, in the
//! batch's own transaction (`intel_sighting_queue`); a pusher sends the
//! queue to the instance's `POST /sightings/add` in batches, on the feed's
//! push interval, and removes exactly the rows MISP accepted.
//!
//! Why a queue rather than a high-water mark over ids: on PostgreSQL two
//! batches can commit out of id order, and a mark would skip the late one.
//! The queue is the mark: what is in it has not been pushed, what left it
//! has. A restart loses nothing (rows are durable) and repeats nothing
//! (rows leave in the transaction that records the push), except for the
//! one request in flight if the process dies between MISP's answer and
//! that commit.
//!
//! One request carries the values that share an event source and a second
//! (MISP's documented shape: `{"values": [...], "source": ..., "timestamp":
//! ..., "type": "0"}`, type 0 being a plain sighting), at most
//! [`SightingPush::batch`] values. A failed request (network, non-2xx) is
//! recorded in the feed's push state (`riposte intel stats`) and retried
//! with a backoff from 10 s doubling up to the push interval; nothing
//! leaves the queue until MISP accepts it.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use compact_str::CompactString;
use riposte_model::{Event, IndicatorKind, Timestamp};
use riposte_store::{QueuedSighting, Store};
use serde::{Deserialize, Serialize};

use crate::Hit;
use crate::feed::FeedConfig;

/// `sightings:` of a MISP feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SightingPush {
    /// The MISP base URL (`/sightings/add` is appended). A `misp-rest`
    /// feed's own URL unless `url` is given.
    pub url: String,
    /// How often the queue is pushed by `riposte serve`.
    pub interval: Duration,
    /// MISP's `source` is `<source>:<event source>` (`riposte:eve`).
    pub source: String,
    /// Values per request.
    pub batch: usize,
}

/// Default push interval: 5 minutes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// Default values per request.
pub const DEFAULT_BATCH: usize = 500;
/// Queued rows read per page while pushing.
const PAGE: u32 = 1_000;

/// The push state of one feed, kept in the store's settings as
/// `intel.sightings.<feed>`, shown by `riposte intel stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushState {
    /// Sightings MISP accepted, in all.
    #[serde(default)]
    pub pushed: u64,
    /// Requests MISP accepted, in all.
    #[serde(default)]
    pub requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    #[serde(default)]
    pub failures: u32,
}

pub fn state_key(feed: &str) -> String {
    format!("intel.sightings.{feed}")
}

/// What one push did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    /// Sightings (queued rows) sent and accepted.
    pub pushed: u64,
    pub requests: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("feed {feed}: sightings push: {message} ({pushed} sightings pushed before it)")]
    Http {
        feed: String,
        message: String,
        pushed: u64,
    },
    #[error("feed {feed}: sightings push: store: {source}")]
    Store {
        feed: String,
        #[source]
        source: riposte_store::StoreError,
    },
    #[error("feed {feed}: sightings push is not configured")]
    NotConfigured { feed: String },
}

/// The wait before the next attempt after `failures` failures in a row:
/// 10 s doubling, never more than `interval`.
pub fn backoff(failures: u32, interval: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_secs(10u64 << exp).min(interval)
}

/// The sightings of one batch of events to queue, one per (feed,
/// indicator, event source), for the feeds that push.
#[derive(Debug)]
pub struct QueueBatch<'a> {
    feeds: &'a HashSet<String>,
    seen: HashMap<(CompactString, IndicatorKind, CompactString, CompactString), QueuedSighting>,
}

impl<'a> QueueBatch<'a> {
    pub fn new(feeds: &'a HashSet<String>) -> Self {
        Self {
            feeds,
            seen: HashMap::new(),
        }
    }

    /// Counts each pushing feed's indicators hit by `event` once.
    pub fn add(&mut self, event: &Event, hits: &[Hit]) {
        if self.feeds.is_empty() {
            return;
        }
        let source: CompactString = event
            .origin
            .as_ref()
            .map_or_else(|| event.dataset.clone(), |o| o.source.clone());
        let mut counted = HashSet::new();
        for h in hits {
            if !self.feeds.contains(h.context.feed.as_str()) {
                continue;
            }
            let key = (
                h.context.feed.clone(),
                h.kind,
                h.indicator.clone(),
                source.clone(),
            );
            if !counted.insert(key.clone()) {
                continue;
            }
            self.seen
                .entry(key)
                .and_modify(|q| {
                    q.count += 1;
                    q.seen_at = q.seen_at.max(event.timestamp);
                })
                .or_insert_with(|| QueuedSighting {
                    id: 0,
                    feed: h.context.feed.to_string(),
                    kind: h.kind,
                    value: h.indicator.to_string(),
                    source: source.to_string(),
                    seen_at: event.timestamp,
                    count: 1,
                });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// In a stable order (feed, source, kind, value).
    pub fn into_sorted(self) -> Vec<QueuedSighting> {
        let mut v: Vec<QueuedSighting> = self.seen.into_values().collect();
        v.sort_by(|a, b| {
            (&a.feed, &a.source, a.kind, &a.value).cmp(&(&b.feed, &b.source, b.kind, &b.value))
        });
        v
    }
}

/// The feeds whose sightings are queued for MISP.
pub fn pushing_feeds(feeds: &[FeedConfig]) -> HashSet<String> {
    feeds
        .iter()
        .filter(|f| f.sightings.is_some())
        .map(|f| f.name.clone())
        .collect()
}

/// One `/sightings/add` request: the queued rows it answers for and its
/// body.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub ids: Vec<i64>,
    pub body: serde_json::Value,
}

/// Groups queued rows (oldest first) into requests: rows sharing an event
/// source and a second go together, up to `batch` distinct values.
pub fn requests(rows: &[QueuedSighting], push: &SightingPush) -> Vec<Request> {
    /// (event source, second), the rows' ids, the distinct values.
    type Group = ((String, i64), Vec<i64>, Vec<String>);
    let mut groups: Vec<Group> = Vec::new();
    let mut open: HashMap<(String, i64), usize> = HashMap::new();
    for r in rows {
        let key = (r.source.clone(), r.seen_at.timestamp());
        let i = match open.get(&key) {
            Some(&i) if groups[i].2.len() < push.batch || groups[i].2.contains(&r.value) => i,
            _ => {
                groups.push((key.clone(), Vec::new(), Vec::new()));
                open.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        g.1.push(r.id);
        if !g.2.contains(&r.value) {
            g.2.push(r.value.clone());
        }
    }
    groups
        .into_iter()
        .map(|((source, ts), ids, values)| Request {
            ids,
            body: serde_json::json!({
                "values": values,
                "source": format!("{}:{}", push.source, source),
                "timestamp": ts,
                "type": "0",
            }),
        })
        .collect()
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(20))
        .user_agent(concat!("riposte/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: &serde_json::Value,
) -> Result<(), String> {
    let mut req = client
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .json(body);
    if let Some(k) = key {
        req = req.header(reqwest::header::AUTHORIZATION, k);
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    // The start of MISP's answer says why (`{"message": ...}`).
    let text = resp.text().await.unwrap_or_default();
    let snippet: String = text.chars().take(200).collect();
    Err(format!("{url}: HTTP {status}: {snippet}"))
}

async fn load_state(
    store: &Arc<dyn Store>,
    feed: &str,
) -> Result<PushState, riposte_store::StoreError> {
    Ok(store
        .setting(&state_key(feed))
        .await?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// Pushes `feed`'s whole queue now. Each accepted request leaves the queue
/// in its own transaction, with the feed's push state; a failure stops the
/// push, is recorded in the state and returned, and leaves the rest queued.
pub async fn push_now(
    feed: &FeedConfig,
    store: &Arc<dyn Store>,
    now: Timestamp,
) -> Result<PushReport, PushError> {
    let Some(push) = &feed.sightings else {
        return Err(PushError::NotConfigured {
            feed: feed.name.clone(),
        });
    };
    let store_err = |source| PushError::Store {
        feed: feed.name.clone(),
        source,
    };
    let key = state_key(&feed.name);
    let mut state = load_state(store, &feed.name).await.map_err(store_err)?;
    let url = format!("{}/sightings/add", push.url.trim_end_matches('/'));
    let mut report = PushReport::default();
    let failed = match client() {
        Err(e) => Some(e),
        Ok(client) => 'pages: loop {
            let rows = store
                .queued_sightings(&feed.name, PAGE)
                .await
                .map_err(store_err)?;
            if rows.is_empty() {
                break None;
            }
            for r in requests(&rows, push) {
                if let Err(e) = post(&client, &url, feed.key.as_deref(), &r.body).await {
                    break 'pages Some(e);
                }
                state.pushed += r.ids.len() as u64;
                state.requests += 1;
                state.last_success = Some(now);
                state.last_error = None;
                state.failures = 0;
                let json = serde_json::to_string(&state).unwrap_or_default();
                let mut tx = store.begin().await.map_err(store_err)?;
                tx.dequeue_sightings(&r.ids).await.map_err(store_err)?;
                tx.set_setting(&key, Some(&json), now)
                    .await
                    .map_err(store_err)?;
                tx.commit().await.map_err(store_err)?;
                report.pushed += r.ids.len() as u64;
                report.requests += 1;
            }
        },
    };
    let Some(message) = failed else {
        return Ok(report);
    };
    state.last_error = Some(message.clone());
    state.failures = state.failures.saturating_add(1);
    let json = serde_json::to_string(&state).unwrap_or_default();
    let mut tx = store.begin().await.map_err(store_err)?;
    tx.set_setting(&key, Some(&json), now)
        .await
        .map_err(store_err)?;
    tx.commit().await.map_err(store_err)?;
    Err(PushError::Http {
        feed: feed.name.clone(),
        message,
        pushed: report.pushed,
    })
}

/// Pushes each configured feed's queue on its interval until `shutdown`
/// turns true; after a failure the next attempt comes after
/// [`backoff`].
pub fn schedule(
    feeds: &[FeedConfig],
    store: Arc<dyn Store>,
    clock: Arc<dyn riposte_model::Clock>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    feeds
        .iter()
        .filter(|f| f.sightings.is_some())
        .cloned()
        .map(|feed| {
            let (store, clock, mut stop) = (store.clone(), clock.clone(), shutdown.clone());
            tokio::spawn(async move {
                let interval = feed
                    .sightings
                    .as_ref()
                    .map_or(DEFAULT_INTERVAL, |p| p.interval);
                let mut wait = interval;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => break,
                    }
                    wait = match push_now(&feed, &store, clock.now()).await {
                        Ok(r) => {
                            if r.pushed > 0 {
                                tracing::debug!(feed = %feed.name, pushed = r.pushed, requests = r.requests, "sightings pushed");
                            }
                            interval
                        }
                        Err(e) => {
                            let failures = match load_state(&store, &feed.name).await {
                                Ok(s) => s.failures,
                                Err(_) => 1,
                            };
                            let next = backoff(failures, interval);
                            tracing::warn!(error = %e, failures, retry_in = ?next, "sightings push failed");
                            next
                        }
                    };
                }
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn q(id: i64, value: &str, source: &str, secs: i64) -> QueuedSighting {
        QueuedSighting {
            id,
            feed: "misp".into(),
            kind: IndicatorKind::Ip,
            value: value.into(),
            source: source.into(),
            seen_at: Utc.timestamp_opt(secs, 0).unwrap(),
            count: 1,
        }
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_the_interval() {
        let i = Duration::from_secs(300);
        let secs: Vec<u64> = (1..=7).map(|f| backoff(f, i).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(u32::MAX, i).as_secs(), 300);
    }

    #[test]
    fn requests_group_by_source_and_second_up_to_the_batch() {
        let push = SightingPush {
            url: "http://misp".into(),
            interval: DEFAULT_INTERVAL,
            source: "riposte".into(),
            batch: 2,
        };
        let rows = [
            q(1, "192.0.2.1", "eve", 100),
            q(2, "192.0.2.2", "auth", 100),
            q(3, "192.0.2.3", "eve", 100),
            q(4, "192.0.2.1", "eve", 100),
            q(5, "192.0.2.4", "eve", 100),
            q(6, "192.0.2.1", "eve", 101),
        ];
        let got: Vec<(Vec<i64>, serde_json::Value)> = requests(&rows, &push)
            .into_iter()
            .map(|r| (r.ids, r.body))
            .collect();
        let body = |values: &[&str], source: &str, ts: i64| serde_json::json!({"values": values, "source": source, "timestamp": ts, "type": "0"});
        assert_eq!(
            got,
            [
                (
                    vec![1, 3, 4],
                    body(&["192.0.2.1", "192.0.2.3"], "riposte:eve", 100)
                ),
                (vec![2], body(&["192.0.2.2"], "riposte:auth", 100)),
                (vec![5], body(&["192.0.2.4"], "riposte:eve", 100)),
                (vec![6], body(&["192.0.2.1"], "riposte:eve", 101)),
            ]
        );
    }
}
