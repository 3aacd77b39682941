//! Playbook runs over the API: list and inspect runs (the step timeline,
//! secrets redacted), start runs by hand or by webhook, cancel them, and
//! answer approvals.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use riposte_engine::runs::{self, RunError};
use riposte_model::{Approval, ApprovalStatus, PlaybookRun, RunStatus, TriggerKind};
use riposte_store::RunFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Store(e) => ApiError::Internal(e.to_string()),
            RunError::UnknownPlaybook(_) | RunError::NotFound { .. } => {
                ApiError::NotFound(e.to_string())
            }
            RunError::NotTriggerable { .. } | RunError::Inputs(_) => {
                ApiError::BadRequest(e.to_string())
            }
            RunError::Conflict(m) => ApiError::Conflict(m),
            RunError::Forbidden(m) => ApiError::Forbidden(m),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunsQuery {
    status: Option<String>,
    playbook: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/runs?status=&playbook=&limit=`, newest first.
pub(crate) async fn list(
    State(s): State<AppState>,
    q: Result<Query<RunsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<PlaybookRun>>, ApiError> {
    let Query(q) = q?;
    let status = q
        .status
        .map(|t| t.parse::<RunStatus>())
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let filter = RunFilter {
        status,
        playbook: q.playbook,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 10_000)),
    };
    Ok(Json(s.store.list_runs(&filter).await?))
}

fn parse_id<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not a {what} id")))
}

/// `GET /api/v1/runs/{id}`: the run with its step timeline and its
/// approvals.
pub(crate) async fn show(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("run", &id)?;
    let run = s
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    let mut tx = s.store.begin().await?;
    let approvals = tx.approvals_of(id).await?;
    drop(tx);
    let mut body = serde_json::to_value(&run).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["approvals"] = serde_json::to_value(approvals).unwrap_or(Value::Null);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    by: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/runs/{id}/cancel` `{"by": "alice", "reason": "…"}`.
pub(crate) async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<CancelBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PlaybookRun>, ApiError> {
    let id = parse_id("run", &id)?;
    let Json(b) = body?;
    let reason = b.reason.unwrap_or_else(|| "cancelled".into());
    Ok(Json(
        runs::cancel_run(s.store.as_ref(), id, &b.by, &reason, s.clock.now()).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsQuery {
    status: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/approvals?status=pending`, oldest first.
pub(crate) async fn approvals(
    State(s): State<AppState>,
    q: Result<Query<ApprovalsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Approval>>, ApiError> {
    let Query(q) = q?;
    let status = q
        .status
        .map(|t| t.parse::<ApprovalStatus>())
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    Ok(Json(s.store.list_approvals(status, limit).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerBody {
    approve: bool,
    by: String,
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /api/v1/approvals/{id}` `{"approve": true, "by": "alice"}`; the
/// run resumes at once.
pub(crate) async fn answer(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<AnswerBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Approval>, ApiError> {
    let id = parse_id("approval", &id)?;
    let Json(b) = body?;
    let a = runs::answer_approval(
        s.store.as_ref(),
        id,
        b.approve,
        &b.by,
        b.comment,
        s.clock.now(),
    )
    .await?;
    s.executor.wake_handle().notify_one();
    Ok(Json(a))
}

/// `GET /api/v1/playbooks`: the loaded playbooks and how each starts.
pub(crate) async fn playbooks(State(s): State<AppState>) -> Json<Vec<Value>> {
    Json(
        s.executor
            .playbooks()
            .iter()
            .map(|p| {
                json!({
                    "id": p.id, "name": p.name, "revision": p.revision, "mode": p.mode,
                    "triggers": {
                        "alert": p.trigger.alert.as_ref().map(|a| json!({"rules": a.rules})),
                        "case": p.trigger.case.is_some(),
                        "schedule": p.trigger.schedule.as_ref().map(|s| s.cron.clone()),
                        "webhook": p.trigger.webhook.is_some(),
                        "manual": p.trigger.manual,
                    },
                    "inputs": p.inputs.iter().map(|(k, i)| (k.clone(), json!({
                        "type": format!("{:?}", i.ty).to_lowercase(), "required": i.required,
                        "default": i.default, "description": i.description,
                    }))).collect::<serde_json::Map<_, _>>(),
                })
            })
            .collect(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
    by: String,
}

/// `POST /api/v1/playbooks/{id}/runs` `{"inputs": {…}, "by": "alice"}`:
/// a manual run; 202 with the run id.
pub(crate) async fn start(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(b) = body?;
    let run = runs::start_run(
        s.store.as_ref(),
        s.executor.playbooks(),
        &id,
        TriggerKind::Manual,
        Value::Object(b.inputs),
        Some(b.by),
        s.clock.now(),
    )
    .await?;
    s.executor.wake_handle().notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"run_id": run.id}))))
}

/// `POST /api/v1/playbooks/{id}/webhook` with `Authorization: Bearer
/// <the playbook's webhook secret>`: the JSON body becomes `trigger.data`;
/// 202 with the run id. A wrong or missing token is 401, and says nothing
/// about whether the playbook exists.
pub(crate) async fn webhook(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = s
        .executor
        .playbooks()
        .get(&id)
        .and_then(|p| p.trigger.webhook.clone())
        .and_then(|name| s.executor.secrets().get(&name).map(str::to_owned));
    let authorized = expected.as_deref().is_some_and(|e| {
        crate::secret::matches(token.as_bytes(), &crate::secret::digest(e.as_bytes()))
    });
    if !authorized {
        return Err(ApiError::Unauthorized(
            "missing or wrong bearer token".into(),
        ));
    }
    let data: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?
    };
    let run = runs::start_run(
        s.store.as_ref(),
        s.executor.playbooks(),
        &id,
        TriggerKind::Webhook,
        data,
        Some("webhook".into()),
        s.clock.now(),
    )
    .await?;
    s.executor.wake_handle().notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"run_id": run.id}))))
}
