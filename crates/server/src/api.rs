//! `/api/v1`: health, alerts, cases, decisions, threat intel, and event
//! intake.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use riposte_engine::{BatchSummary, PipelineError, PipelineHandle};
use riposte_ingest::{DecodeCtx, Format, decode_batch};
use riposte_model::{Alert, Case, CaseId, Clock, DeadLetter, Decision, DecisionState};
use riposte_store::{DecisionFilter, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::intake::{self, Framing, Limits};

/// What handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub pipeline: PipelineHandle,
    pub clock: Arc<dyn Clock>,
    /// Records posted to the API are cut to this like file lines
    /// (`ingest.max_line_bytes`); longer ones are dead-lettered.
    pub max_line_bytes: usize,
    /// `respond.review.max_age`: unreviewed decisions older than this are
    /// flagged in `GET /api/v1/review`.
    pub review_max_age: chrono::TimeDelta,
    /// CrowdSec bouncers allowed on `/v1/decisions` (`bouncers:`).
    pub bouncers: Arc<crate::Bouncers>,
    /// The pipeline's responder, for its enforcers' health.
    pub responder: Arc<riposte_respond::Responder>,
    /// Runs playbooks: started by hand or webhook, woken by approvals.
    pub executor: Arc<riposte_engine::Executor>,
}

/// Request bodies larger than this are refused (413): before being read
/// when they say so (`Content-Length`), else at the byte past it.
pub const MAX_BODY_BYTES: usize = 10 << 20;
/// Records per `POST /api/v1/events` request; the one past it is refused.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Requests handled at once; more wait. Bounds memory (each may hold a
/// 10 MiB body, or an event intake's records) and keeps a flood of posts
/// from starving file sources.
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
        .route("/api/v1/review", get(review))
        .route("/api/v1/breaker", get(breaker))
        .route("/v1/decisions/stream", get(crate::crowdsec::stream))
        .route("/v1/decisions", get(crate::crowdsec::lookup))
        .route("/api/v1/dead-letters", get(dead_letters))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/enforcers", get(enforcers))
        .route("/api/v1/runs", get(crate::runs_api::list))
        .route("/api/v1/runs/{id}", get(crate::runs_api::show))
        .route("/api/v1/runs/{id}/cancel", post(crate::runs_api::cancel))
        .route("/api/v1/approvals", get(crate::runs_api::approvals))
        .route("/api/v1/approvals/{id}", post(crate::runs_api::answer))
        .route("/api/v1/playbooks", get(crate::runs_api::playbooks))
        .route("/api/v1/playbooks/{id}/runs", post(crate::runs_api::start))
        .route(
            "/api/v1/playbooks/{id}/webhook",
            post(crate::runs_api::webhook),
        )
        .route("/api/v1/events", post(events))
        .route("/api/v1/intel/lookup", get(crate::intel_api::lookup))
        .route("/api/v1/intel/stats", get(crate::intel_api::stats))
        .route("/api/v1/intel/sightings", get(crate::intel_api::sightings))
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
    /// `GET /api/v1/review?flagged=true`: only overdue reviews.
    flagged: Option<bool>,
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
        limit: Some(q.limit()),
        ..DecisionFilter::default()
    };
    Ok(Json(s.store.list_decisions(&filter).await?))
}

/// Automated decisions waiting for review, oldest first, each with the
/// alert behind it and whether it is overdue.
async fn review(
    State(s): State<AppState>,
    q: ListParams,
) -> Result<Json<Vec<riposte_respond::ReviewItem>>, ApiError> {
    let Query(q) = q?;
    let flagged = q.flagged == Some(true);
    let (store, now) = (s.store.as_ref(), s.clock.now());
    let items =
        riposte_respond::review_queue(store, s.review_max_age, now, q.limit(), flagged).await?;
    Ok(Json(items))
}

/// `{"tripped": false}`, or `{"tripped": true, "tripped_at": …, "reason": …}`.
async fn breaker(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        match riposte_respond::breaker_status(s.store.as_ref()).await? {
            Some(b) => json!({"tripped": true, "tripped_at": b.tripped_at, "reason": b.reason}),
            None => json!({"tripped": false}),
        },
    ))
}

async fn dead_letters(
    State(s): State<AppState>,
    q: ListParams,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    let Query(q) = q?;
    Ok(Json(s.store.list_dead_letters(q.limit()).await?))
}

/// Each enforcer's health: failures in a row, last success, last error,
/// and when a failing one is tried again.
async fn enforcers(State(s): State<AppState>) -> Json<Vec<riposte_respond::EnforcerHealth>> {
    Json(s.responder.enforcer_health())
}

/// The audit log, newest first.
async fn audit(
    State(s): State<AppState>,
    q: ListParams,
) -> Result<Json<Vec<riposte_model::AuditEntry>>, ApiError> {
    let Query(q) = q?;
    Ok(Json(s.store.list_audit(q.limit()).await?))
}

#[derive(Deserialize)]
struct EventsQuery {
    format: Option<String>,
}

/// The most a gzip'd body may inflate to; it is inflated as it is parsed,
/// and refused (413) at the byte past this (a zip bomb is a few KiB).
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

/// Bulk ingestion. The body is either a JSON value — one record or an array
/// of records (objects for the JSON formats, strings for line formats) — or,
/// with `Content-Type: application/x-ndjson` (or `text/plain`), one record
/// per line. `Content-Encoding: gzip` is accepted. The format is
/// `?format=` (default `suricata-eve`). The body is parsed as it arrives
/// (`crate::intake`) and refused at the first record or byte past a limit.
/// Answers after the records are committed, so a 200 means stored;
/// undecodable records are dead-lettered and counted.
async fn events(
    State(s): State<AppState>,
    q: Result<Query<EventsQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchSummary>, ApiError> {
    let Query(q) = q?;
    let format = match q.format.as_deref() {
        None => Format::SuricataEve,
        Some(f) => f
            .parse::<Format>()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
    };
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let gzip = match header(header::CONTENT_ENCODING).as_str() {
        "" | "identity" => false,
        "gzip" | "x-gzip" => true,
        other => {
            return Err(ApiError::BadRequest(format!(
                "unsupported Content-Encoding {other:?} (valid: gzip, identity)"
            )));
        }
    };
    let content_type = header(header::CONTENT_TYPE);
    let framing = if ["application/x-ndjson", "application/jsonl", "text/plain"]
        .iter()
        .any(|t| content_type.starts_with(t))
    {
        Framing::Lines
    } else {
        Framing::Json
    };
    let max_body_bytes = MAX_BODY_BYTES as u64;
    let announced = header(header::CONTENT_LENGTH).parse::<u64>().ok();
    if announced.is_some_and(|n| n > max_body_bytes) {
        return Err(intake::body_too_large(max_body_bytes));
    }
    let limits = Limits {
        max_records: MAX_EVENTS_PER_REQUEST,
        max_inflated_bytes: MAX_INFLATED_BYTES,
        max_line_bytes: s.max_line_bytes,
    };
    let now = s.clock.now();
    let (tx, reader) = intake::channel();
    // Inflating, splitting and decoding are CPU work: keep them off the
    // async executor; the body streams to them as it arrives.
    let parse = tokio::task::spawn_blocking(move || {
        let lines = intake::read_records(reader, gzip, framing, &limits)?;
        Ok::<_, ApiError>(decode_batch(
            format,
            &lines,
            &DecodeCtx { source: "api", now },
        ))
    });
    let (pumped, parsed) = tokio::join!(intake::pump(body, tx, max_body_bytes), parse);
    // A body that failed or passed its limit is answered for that, whatever
    // the parser made of it being cut short.
    pumped?;
    let batch = parsed.map_err(|e| ApiError::Internal(e.to_string()))??;
    match s.pipeline.submit(batch, None).await {
        Ok(summary) => Ok(Json(summary)),
        Err(PipelineError::Stopped) => Err(ApiError::Unavailable("shutting down".into())),
        Err(e @ PipelineError::Failed(_)) => Err(ApiError::Internal(e.to_string())),
    }
}
