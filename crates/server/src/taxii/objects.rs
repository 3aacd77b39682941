//! A collection's objects, manifest and versions.
//!
//! A collection serves the unexpired indicators fit for detection of its
//! feeds and kinds, at or below its TLP ceiling (never TLP:RED), each as
//! the STIX `indicator` the exporter writes, in the order they were added
//! to the store. Each indicator has one version: its `modified` (the
//! object's `version`) is when its current content was stored, which is
//! also its `date_added`; an import that changes an indicator adds it
//! again, so a partner polling with `added_after` gets the new version.
//!
//! Paging: `limit` (default 100, at most [`MAX_PAGE`]) and `next`, an
//! opaque token naming the last row served; pages never skip or repeat a
//! row, whatever was added meanwhile. Filters: `added_after`, `match[id]`
//! (at most [`MAX_MATCH_IDS`]), `match[type]`, `match[version]` (`first`,
//! `last`, `all` or timestamps), `match[spec_version]`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use riposte_model::{IndicatorKind, Timestamp};
use riposte_store::{AddedKey, ShareQuery, SharedIndicator};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{STIX_MEDIA_TYPE, TaxiiCollection, TaxiiError, TaxiiState, taxii_response};

/// The most objects one page holds.
pub const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;
/// The most ids one `match[id]` may list.
pub const MAX_MATCH_IDS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObjectsQuery {
    added_after: Option<String>,
    limit: Option<String>,
    next: Option<String>,
    #[serde(rename = "match[id]")]
    match_id: Option<String>,
    #[serde(rename = "match[type]")]
    match_type: Option<String>,
    #[serde(rename = "match[version]")]
    match_version: Option<String>,
    #[serde(rename = "match[spec_version]")]
    match_spec_version: Option<String>,
}

type Params = Result<Query<ObjectsQuery>, QueryRejection>;

/// STIX and TAXII timestamps: UTC, milliseconds.
fn stamp(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn parse_stamp(what: &str, v: &str) -> Result<Timestamp, TaxiiError> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.to_utc())
        .map_err(|e| TaxiiError::bad_request(format!("{what}: {v:?} is not a timestamp ({e})")))
}

fn list(v: &Option<String>) -> Option<Vec<&str>> {
    v.as_deref().map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// A validated request: the store query and what is filtered after it.
struct Request {
    query: ShareQuery,
    limit: u32,
    /// `match[version]` timestamps (none: every version, the only one).
    versions: Option<Vec<Timestamp>>,
    /// A filter no object can pass (`match[type]` without `indicator`).
    nothing: bool,
}

fn next_token(key: &AddedKey) -> String {
    let raw = json!([
        key.added_at.timestamp_millis(),
        key.kind,
        key.value,
        key.feed
    ]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn parse_next(token: &str) -> Result<AddedKey, TaxiiError> {
    let bad = || TaxiiError::bad_request(format!("{token:?} is not a next token of this server"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| bad())?;
    let (ms, kind, value, feed): (i64, IndicatorKind, String, String) =
        serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok(AddedKey {
        added_at: chrono::DateTime::from_timestamp_millis(ms).ok_or_else(bad)?,
        kind,
        value,
        feed,
    })
}

fn request(
    c: &TaxiiCollection,
    q: &ObjectsQuery,
    now: Timestamp,
    object_id: Option<&str>,
) -> Result<Request, TaxiiError> {
    let limit = match q.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(l) => match l.trim().parse::<u64>() {
            Ok(n) if n > 0 => n.min(u64::from(MAX_PAGE)) as u32,
            _ => {
                return Err(TaxiiError::bad_request(format!(
                    "limit: {l:?} is not a positive integer"
                )));
            }
        },
    };
    let added_after = q
        .added_after
        .as_deref()
        .map(|v| parse_stamp("added_after", v))
        .transpose()?;
    let after = q.next.as_deref().map(parse_next).transpose()?;
    let mut object_ids: Vec<String> = list(&q.match_id)
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if object_ids.len() > MAX_MATCH_IDS {
        return Err(TaxiiError::bad_request(format!(
            "match[id]: {} ids; at most {MAX_MATCH_IDS}",
            object_ids.len()
        )));
    }
    let mut nothing = false;
    if let Some(id) = object_id {
        if !object_ids.is_empty() && !object_ids.iter().any(|i| i == id) {
            nothing = true;
        }
        object_ids = vec![id.to_owned()];
    }
    if let Some(types) = list(&q.match_type) {
        nothing |= !types.contains(&"indicator");
    }
    if let Some(specs) = list(&q.match_spec_version) {
        nothing |= !specs.contains(&"2.1");
    }
    let versions = match list(&q.match_version) {
        None => None,
        Some(vs) if vs.iter().any(|v| matches!(*v, "first" | "last" | "all")) => None,
        Some(vs) => Some(
            vs.iter()
                .map(|v| parse_stamp("match[version]", v))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Request {
        query: ShareQuery {
            feeds: c.feeds.clone(),
            kinds: c.kinds.clone(),
            max_tlp: c.max_tlp,
            object_ids,
            added_after,
            after,
            valid_at: now,
            // One more than asked: whether there is more.
            limit: limit + 1,
        },
        limit,
        versions,
        nothing,
    })
}

/// One page: the rows to serve, whether more follow, and the token for them.
struct Page {
    rows: Vec<SharedIndicator>,
    more: bool,
    next: Option<String>,
}

async fn page(
    s: &TaxiiState,
    headers: &HeaderMap,
    id: &str,
    q: Params,
    object_id: Option<&str>,
) -> Result<Page, TaxiiError> {
    let client = s.client(headers)?;
    let c = s.collection(client, id)?;
    let Query(q) = q.map_err(|e| TaxiiError::bad_request(e.body_text()))?;
    let r = request(c, &q, s.clock.now(), object_id)?;
    if r.nothing {
        return Ok(Page {
            rows: Vec::new(),
            more: false,
            next: None,
        });
    }
    let mut rows = s.store.shared_indicators(&r.query).await?;
    let more = rows.len() > r.limit as usize;
    rows.truncate(r.limit as usize);
    let next = more
        .then(|| rows.last().map(|l| next_token(&l.key())))
        .flatten();
    if let Some(versions) = &r.versions {
        // Millisecond precision, as stored.
        rows.retain(|row| {
            versions
                .iter()
                .any(|v| v.timestamp_millis() == row.added_at.timestamp_millis())
        });
    }
    Ok(Page { rows, more, next })
}

/// `X-TAXII-Date-Added-First` and `-Last` of what is served.
fn date_headers(rows: &[SharedIndicator]) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        for (name, t) in [
            ("x-taxii-date-added-first", first.added_at),
            ("x-taxii-date-added-last", last.added_at),
        ] {
            if let Ok(v) = HeaderValue::from_str(&stamp(t)) {
                h.insert(name, v);
            }
        }
    }
    h
}

/// The STIX object: the exporter's, with `modified` (the version) set to
/// when this content was stored, and `created` no later than that.
fn stix_object(row: &SharedIndicator) -> Value {
    let mut o = riposte_intel::export::stix_indicator(&row.indicator, row.added_at);
    o["modified"] = json!(stamp(row.added_at));
    if row.indicator.first_seen.is_some_and(|f| f > row.added_at) {
        o["created"] = json!(stamp(row.added_at));
    }
    o
}

fn envelope(p: &Page, key: &str, items: Vec<Value>) -> Value {
    let mut body = json!({ "more": p.more });
    if let Some(next) = &p.next {
        body["next"] = json!(next);
    }
    // TAXII: with nothing to return, the list is left out.
    if !items.is_empty() {
        body[key] = Value::Array(items);
    }
    body
}

pub(crate) async fn objects(
    State(s): State<TaxiiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, TaxiiError> {
    let p = page(&s, &headers, &id, q, None).await?;
    let items = p.rows.iter().map(stix_object).collect();
    Ok(taxii_response(
        StatusCode::OK,
        &envelope(&p, "objects", items),
        date_headers(&p.rows),
    ))
}

pub(crate) async fn manifest(
    State(s): State<TaxiiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, TaxiiError> {
    let p = page(&s, &headers, &id, q, None).await?;
    let items = p
        .rows
        .iter()
        .map(|r| {
            json!({
                "id": r.indicator.stix_id(),
                "date_added": stamp(r.added_at),
                "version": stamp(r.added_at),
                "media_type": STIX_MEDIA_TYPE,
            })
        })
        .collect();
    Ok(taxii_response(
        StatusCode::OK,
        &envelope(&p, "objects", items),
        date_headers(&p.rows),
    ))
}

fn object_not_found(object_id: &str) -> TaxiiError {
    TaxiiError::new(
        StatusCode::NOT_FOUND,
        "Object not found",
        format!("no object {object_id:?} in this collection"),
    )
}

pub(crate) async fn object(
    State(s): State<TaxiiState>,
    headers: HeaderMap,
    Path((id, object_id)): Path<(String, String)>,
    q: Params,
) -> Result<Response, TaxiiError> {
    let p = page(&s, &headers, &id, q, Some(&object_id)).await?;
    if p.rows.is_empty() {
        return Err(object_not_found(&object_id));
    }
    let items = p.rows.iter().map(stix_object).collect();
    Ok(taxii_response(
        StatusCode::OK,
        &envelope(&p, "objects", items),
        date_headers(&p.rows),
    ))
}

pub(crate) async fn versions(
    State(s): State<TaxiiState>,
    headers: HeaderMap,
    Path((id, object_id)): Path<(String, String)>,
    q: Params,
) -> Result<Response, TaxiiError> {
    let p = page(&s, &headers, &id, q, Some(&object_id)).await?;
    if p.rows.is_empty() {
        return Err(object_not_found(&object_id));
    }
    let body = json!({
        "more": p.more,
        "versions": p.rows.iter().map(|r| stamp(r.added_at)).collect::<Vec<_>>(),
    });
    Ok(taxii_response(StatusCode::OK, &body, date_headers(&p.rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tokens_round_trip_and_refuse_garbage() {
        let key = AddedKey {
            added_at: chrono::DateTime::from_timestamp_millis(1_773_482_400_123)
                .unwrap_or_default(),
            kind: IndicatorKind::Url,
            value: "http://evil.example/a,b\"c".into(),
            feed: "feed-a".into(),
        };
        assert_eq!(parse_next(&next_token(&key)).ok(), Some(key));
        assert!(parse_next("not-a-token").is_err());
        assert!(parse_next("WzEsMl0").is_err()); // [1,2]
    }
}
