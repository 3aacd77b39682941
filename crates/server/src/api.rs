//! `/api/v1`: health, alerts, cases, decisions, threat intel, and event
//! intake.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use riposte_engine::{BatchSummary, PipelineError, PipelineHandle};
use riposte_ingest::{DecodeCtx, Format, decode_batch};
use riposte_model::{Alert, Case, CaseId, Clock, DeadLetter, Decision, DecisionState};
use riposte_store::{DecisionFilter, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::guard::{Access, Body as BodyKind, Guard};
use crate::intake::{self, Framing, Limits};
use riposte_auth::Permission;

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
    /// Authentication, authorisation and browser-attack checks.
    pub guard: Arc<Guard>,
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

type Handler = MethodRouter<AppState>;

/// Every route, who may call it ([`Access`]) and its handler: the one
/// place that says so. The router is built from it and a test walks it.
fn routes() -> Vec<(&'static str, Method, Access, Handler)> {
    use crate::intel_api as i;
    use crate::runs_api as r;
    use Access::{Bouncer, Permission as Needs, Public, Webhook};
    use BodyKind::{Events, Json as JsonBody, None as NoBody};
    use Permission as P;
    vec![
        ("/api/v1/health", Method::GET, Public, get(health)),
        (
            "/api/v1/status",
            Method::GET,
            Needs(P::StatusRead, NoBody),
            get(status),
        ),
        (
            "/api/v1/alerts",
            Method::GET,
            Needs(P::AlertsRead, NoBody),
            get(alerts),
        ),
        (
            "/api/v1/cases",
            Method::GET,
            Needs(P::CasesRead, NoBody),
            get(cases),
        ),
        (
            "/api/v1/cases/{id}",
            Method::GET,
            Needs(P::CasesRead, NoBody),
            get(case),
        ),
        (
            "/api/v1/decisions",
            Method::GET,
            Needs(P::DecisionsRead, NoBody),
            get(decisions),
        ),
        (
            "/api/v1/review",
            Method::GET,
            Needs(P::ReviewRead, NoBody),
            get(review),
        ),
        (
            "/api/v1/breaker",
            Method::GET,
            Needs(P::BreakerRead, NoBody),
            get(breaker),
        ),
        (
            "/v1/decisions/stream",
            Method::GET,
            Bouncer,
            get(crate::crowdsec::stream),
        ),
        (
            "/v1/decisions",
            Method::GET,
            Bouncer,
            get(crate::crowdsec::lookup),
        ),
        (
            "/api/v1/dead-letters",
            Method::GET,
            Needs(P::DeadLettersRead, NoBody),
            get(dead_letters),
        ),
        (
            "/api/v1/audit",
            Method::GET,
            Needs(P::AuditRead, NoBody),
            get(audit),
        ),
        (
            "/api/v1/enforcers",
            Method::GET,
            Needs(P::EnforcersRead, NoBody),
            get(enforcers),
        ),
        (
            "/api/v1/runs",
            Method::GET,
            Needs(P::RunsRead, NoBody),
            get(r::list),
        ),
        (
            "/api/v1/runs/{id}",
            Method::GET,
            Needs(P::RunsRead, NoBody),
            get(r::show),
        ),
        (
            "/api/v1/runs/{id}/cancel",
            Method::POST,
            Needs(P::RunsWrite, JsonBody),
            post(r::cancel),
        ),
        (
            "/api/v1/approvals",
            Method::GET,
            Needs(P::ApprovalsRead, NoBody),
            get(r::approvals),
        ),
        (
            "/api/v1/approvals/{id}",
            Method::POST,
            Needs(P::ApprovalsAnswer, JsonBody),
            post(r::answer),
        ),
        (
            "/api/v1/playbooks",
            Method::GET,
            Needs(P::PlaybooksRead, NoBody),
            get(r::playbooks),
        ),
        (
            "/api/v1/playbooks/{id}/runs",
            Method::POST,
            Needs(P::RunsWrite, JsonBody),
            post(r::start),
        ),
        (
            "/api/v1/playbooks/{id}/webhook",
            Method::POST,
            Webhook,
            post(r::webhook),
        ),
        (
            "/api/v1/events",
            Method::POST,
            Needs(P::EventsWrite, Events),
            post(events),
        ),
        (
            "/api/v1/intel/lookup",
            Method::GET,
            Needs(P::IntelRead, NoBody),
            get(i::lookup),
        ),
        (
            "/api/v1/intel/stats",
            Method::GET,
            Needs(P::IntelRead, NoBody),
            get(i::stats),
        ),
        (
            "/api/v1/intel/sightings",
            Method::GET,
            Needs(P::IntelRead, NoBody),
            get(i::sightings),
        ),
    ]
}

/// Each route's path, method and [`Access`], for tests and docs.
pub fn route_table() -> Vec<(&'static str, Method, Access)> {
    routes()
        .into_iter()
        .map(|(path, method, access, _)| (path, method, access))
        .collect()
}

pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for (path, _method, access, handler) in routes() {
        router = router.route(
            path,
            handler.route_layer(middleware::from_fn_with_state(
                (state.clone(), access),
                crate::guard::check,
            )),
        );
    }
    router
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::guard::same_site,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            MAX_CONCURRENT_REQUESTS,
        ))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route {}", uri.path()))
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

/// Liveness, for load balancers and probes: unauthenticated, so it says
/// nothing but that the service answers.
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The version and what the store holds (`status:read`).
async fn status(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
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
/// with `Content-Type: application/x-ndjson` (or `application/jsonl`), one
/// record per line. `Content-Encoding: gzip` is accepted. The format is
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
    // The guard let only JSON and line-delimited types through (not
    // text/plain, which any web page may send cross-site).
    let framing = if ["application/x-ndjson", "application/jsonl"]
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
