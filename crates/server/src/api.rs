//! `/api/v1`: health, alerts, cases, decisions, and event intake.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use riposte_engine::{BatchSummary, PipelineError, PipelineHandle};
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};
use riposte_model::{Alert, Case, CaseId, Clock, DeadLetter, Decision, DecisionState};
use riposte_store::{DecisionFilter, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;

/// What handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub pipeline: PipelineHandle,
    pub clock: Arc<dyn Clock>,
    /// Records posted to the API are cut to this like file lines
    /// (`ingest.max_line_bytes`); longer ones are dead-lettered.
    pub max_line_bytes: usize,
}

/// Request bodies larger than this are refused (413) before being read.
pub const MAX_BODY_BYTES: usize = 10 << 20;
/// Records per `POST /api/v1/events` request.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Requests handled at once; more wait. Bounds memory (each may hold a
/// 10 MiB body) and keeps a flood of posts from starving file sources.
pub const MAX_CONCURRENT_REQUESTS: usize = 32;
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 10_000;

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/cases", get(cases))
        .route("/api/v1/cases/{id}", get(case))
        .route("/api/v1/decisions", get(decisions))
        .route("/api/v1/dead-letters", get(dead_letters))
        .route("/api/v1/events", post(events))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            MAX_CONCURRENT_REQUESTS,
        ))
        .with_state(state)
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    state: Option<String>,
}

impl ListQuery {
    fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

async fn health(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let counts = s.store.counts().await?;
    Ok(Json(
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "counts": counts}),
    ))
}

/// List endpoints answer a bad `limit` or `state` in the API's error shape.
type ListParams = Result<Query<ListQuery>, QueryRejection>;

async fn alerts(State(s): State<AppState>, q: ListParams) -> Result<Json<Vec<Alert>>, ApiError> {
    let Query(q) = q?;
    Ok(Json(s.store.list_alerts(q.limit()).await?))
}

async fn cases(State(s): State<AppState>, q: ListParams) -> Result<Json<Vec<Case>>, ApiError> {
    let Query(q) = q?;
    Ok(Json(s.store.list_cases(q.limit()).await?))
}

async fn case(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Case>, ApiError> {
    let id: CaseId = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not a case id")))?;
    s.store
        .get_case(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no case {id}")))
}

async fn decisions(
    State(s): State<AppState>,
    q: ListParams,
) -> Result<Json<Vec<Decision>>, ApiError> {
    let Query(q) = q?;
    let state = q
        .state
        .as_deref()
        .map(str::parse::<DecisionState>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let filter = DecisionFilter {
        state,
        value: None,
        limit: Some(q.limit()),
    };
    Ok(Json(s.store.list_decisions(&filter).await?))
}

async fn dead_letters(
    State(s): State<AppState>,
    q: ListParams,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    let Query(q) = q?;
    Ok(Json(s.store.list_dead_letters(q.limit()).await?))
}

#[derive(Deserialize)]
struct EventsQuery {
    format: Option<String>,
}

/// Takes one record or a JSON array of records: Suricata EVE objects
/// (`format=suricata-eve`, the default) or syslog lines as strings
/// (`format=syslog`). Answers after the records are committed, so a 200
/// means stored; undecodable records are dead-lettered and counted.
async fn events(
    State(s): State<AppState>,
    q: Result<Query<EventsQuery>, QueryRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<BatchSummary>, ApiError> {
    let Query(q) = q?;
    let Json(body) = body?;
    let format = match q.format.as_deref() {
        None => Format::SuricataEve,
        Some(f) => f
            .parse::<Format>()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
    };
    let records = match body {
        Value::Array(items) => items,
        other => vec![other],
    };
    if records.len() > MAX_EVENTS_PER_REQUEST {
        return Err(ApiError::BadRequest(format!(
            "{} records in one request; the limit is {MAX_EVENTS_PER_REQUEST}",
            records.len()
        )));
    }
    let now = s.clock.now();
    let max = s.max_line_bytes;
    // Decoding is CPU work: keep it off the async executor.
    let batch = tokio::task::spawn_blocking(move || {
        let lines: Vec<Line> = records
            .into_iter()
            .enumerate()
            .map(|(i, record)| {
                let mut bytes = match record {
                    Value::String(line) => line.into_bytes(),
                    other => other.to_string().into_bytes(),
                };
                let truncated_from = (bytes.len() > max).then_some(bytes.len() as u64);
                bytes.truncate(max);
                Line {
                    offset: i as u64,
                    bytes,
                    truncated_from,
                }
            })
            .collect();
        decode_batch(format, &lines, &DecodeCtx { source: "api", now })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    match s.pipeline.submit(batch, None).await {
        Ok(summary) => Ok(Json(summary)),
        Err(PipelineError::Stopped) => Err(ApiError::Unavailable("shutting down".into())),
        Err(e @ PipelineError::Failed(_)) => Err(ApiError::Internal(e.to_string())),
    }
}
