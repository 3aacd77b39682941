//! Playbook runs over the API: list and inspect runs (the step timeline,
//! secrets redacted), start runs by hand or by webhook, cancel them, and
//! answer approvals.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use riposte_auth::Identity;
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

/// A JSON body that may be left out (`{}` then): the guard has already
/// refused any body that is not `application/json`.
fn json_or_empty<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not the expected JSON: {e}")))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/runs/{id}/cancel` `{"reason": "…"}` (the body may be
/// left out); the caller's identity is who cancelled it.
pub(crate) async fn cancel(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<PlaybookRun>, ApiError> {
    let id = parse_id("run", &id)?;
    let b: CancelBody = json_or_empty(&body)?;
    let reason = b.reason.unwrap_or_else(|| "cancelled".into());
    Ok(Json(
        runs::cancel_run(s.store.as_ref(), id, &who, &reason, s.clock.now()).await?,
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
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /api/v1/approvals/{id}` `{"approve": true, "comment": "…"}`,
/// answered as the caller's identity; the run resumes at once.
pub(crate) async fn answer(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
    body: Result<Json<AnswerBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Approval>, ApiError> {
    let id = parse_id("approval", &id)?;
    let Json(b) = body?;
    let a = runs::answer_approval(
        s.store.as_ref(),
        id,
        b.approve,
        &who,
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

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
}

/// `POST /api/v1/playbooks/{id}/runs` `{"inputs": {…}}` (the body may be
/// left out): a manual run by the caller; 202 with the run id.
pub(crate) async fn start(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let b: StartBody = json_or_empty(&body)?;
    let run = runs::start_run(
        s.store.as_ref(),
        s.executor.playbooks(),
        &id,
        TriggerKind::Manual,
        Value::Object(b.inputs),
        Some(&who),
        s.clock.now(),
    )
    .await?;
    s.executor.wake_handle().notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"run_id": run.id}))))
}

/// `POST /api/v1/playbooks/{id}/webhook`, authenticated by the guard
/// (the playbook's webhook secret, or a key allowed this webhook): the JSON
/// body becomes `trigger.data`; 202 with the run id.
pub(crate) async fn webhook(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        Some(&who),
        s.clock.now(),
    )
    .await?;
    s.executor.wake_handle().notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"run_id": run.id}))))
}
