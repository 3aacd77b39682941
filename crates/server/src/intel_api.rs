//! `/api/v1/intel/…`: what `riposte intel lookup` and `riposte intel stats`
//! show, and the sightings page by page.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use base64::Engine as _;
use riposte_intel::feed::{FeedState, state_key};
use riposte_model::IndicatorKind;
use riposte_store::SightingKey;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Sightings `stats` shows, as the CLI does.
const RECENT_SIGHTINGS: u32 = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupQuery {
    value: Option<String>,
    kind: Option<String>,
}

/// `GET /api/v1/intel/lookup?value=V[&kind=K]`: every feed's indicator
/// covering the value (networks around an address, parent domains that
/// cover subdomains), each with whether it has expired.
pub(crate) async fn lookup(
    State(s): State<AppState>,
    q: Result<Query<LookupQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let value = q
        .value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("value is required".into()))?;
    let kind = q
        .kind
        .as_deref()
        .map(str::parse::<IndicatorKind>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let found = riposte_intel::lookup::lookup(s.store.as_ref(), kind, &value)
        .await
        .map_err(|e| match e {
            riposte_intel::lookup::LookupError::BadValue(b) => ApiError::BadRequest(b.to_string()),
            riposte_intel::lookup::LookupError::Store(e) => e.into(),
        })?;
    let now = s.clock.now();
    let indicators: Vec<Value> = found
        .found
        .iter()
        .map(|i| {
            let mut v = json!(i);
            v["expired"] = json!(!i.is_valid_at(now));
            v
        })
        .collect();
    Ok(Json(json!({
        "kind": found.kind,
        "value": found.value,
        "found": indicators,
    })))
}

/// `GET /api/v1/intel/stats`: indicators per feed and kind, each feed's
/// last fetch, and the most recent sightings.
pub(crate) async fn stats(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let counts = s.store.intel_counts().await?;
    let total: u64 = counts.iter().map(|c| c.indicators).sum();
    let mut feeds = serde_json::Map::new();
    for c in &counts {
        if feeds.contains_key(&c.feed) {
            continue;
        }
        if let Some(raw) = s.store.setting(&state_key(&c.feed)).await? {
            let state: FeedState = serde_json::from_str(&raw).unwrap_or_default();
            feeds.insert(c.feed.clone(), json!(state));
        }
    }
    let sightings = s.store.list_sightings(RECENT_SIGHTINGS).await?;
    Ok(Json(json!({
        "indicators": total,
        "counts": counts,
        "feeds": feeds,
        "recent_sightings": sightings,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SightingsQuery {
    limit: Option<u32>,
    next: Option<String>,
}

fn sighting_token(k: &SightingKey) -> String {
    let raw = json!([
        k.last_seen.timestamp_millis(),
        k.kind,
        k.value,
        k.source,
        k.field
    ]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn parse_sighting_token(token: &str) -> Result<SightingKey, ApiError> {
    let bad = || ApiError::BadRequest(format!("{token:?} is not a next token of this server"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| bad())?;
    let (ms, kind, value, source, field): (i64, IndicatorKind, String, String, String) =
        serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok(SightingKey {
        last_seen: chrono::DateTime::from_timestamp_millis(ms).ok_or_else(bad)?,
        kind,
        value,
        source,
        field,
    })
}

/// `GET /api/v1/intel/sightings?limit=N&next=T`: most recently seen first,
/// `{"sightings": […], "next": T | null}`.
pub(crate) async fn sightings(
    State(s): State<AppState>,
    q: Result<Query<SightingsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let after = q.next.as_deref().map(parse_sighting_token).transpose()?;
    let mut page = s.store.sightings_page(after.as_ref(), limit + 1).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = more
        .then(|| page.last().map(|l| sighting_token(&SightingKey::of(l))))
        .flatten();
    Ok(Json(json!({ "sightings": page, "next": next })))
}
