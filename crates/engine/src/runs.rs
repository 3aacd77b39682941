//! Starting runs by hand, by webhook or on schedule, answering approvals,
//! and cancelling runs: the operations the CLI and the API share.

use riposte_auth::{Identity, Permission, may, may_approve};
use riposte_model::{
    Actor, Approval, ApprovalId, ApprovalStatus, AuditEntry, PlaybookRun, RunId, RunStatus,
    RunTrigger, Timestamp, TriggerKind,
};
use riposte_playbooks::{Playbook, PlaybookSet};
use riposte_store::{Store, StoreError};
use serde_json::{Map, Value};

/// Why a run could not be started or an approval not answered.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no playbook {0:?} is loaded")]
    UnknownPlaybook(String),
    #[error("playbook {playbook:?} has no {trigger} trigger")]
    NotTriggerable {
        playbook: String,
        trigger: &'static str,
    },
    #[error("invalid inputs: {}", .0.join("; "))]
    Inputs(Vec<String>),
    #[error("no {what} {id}")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
}

/// Creates a run of `playbook` due now, for the executor.
pub async fn start_run(
    store: &dyn Store,
    playbooks: &PlaybookSet,
    playbook: &str,
    kind: TriggerKind,
    data: Value,
    by: Option<&Identity>,
    now: Timestamp,
) -> Result<PlaybookRun, RunError> {
    let pb = playbooks
        .get(playbook)
        .ok_or_else(|| RunError::UnknownPlaybook(playbook.to_owned()))?;
    let allowed = match kind {
        TriggerKind::Manual => pb.trigger.manual,
        TriggerKind::Webhook => pb.trigger.webhook.is_some(),
        TriggerKind::Schedule => pb.trigger.schedule.is_some(),
        TriggerKind::Case => pb.trigger.case.is_some(),
        TriggerKind::Alert => pb.trigger.alert.is_some(),
    };
    if !allowed {
        return Err(RunError::NotTriggerable {
            playbook: playbook.to_owned(),
            trigger: kind.as_str(),
        });
    }
    let data = match kind {
        TriggerKind::Manual => {
            let given = match data {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                other => {
                    return Err(RunError::Inputs(vec![format!(
                        "inputs must be a mapping, not {other}"
                    )]));
                }
            };
            Value::Object(pb.check_inputs(&given).map_err(RunError::Inputs)?)
        }
        TriggerKind::Webhook => {
            // Refused now (the caller gets the errors), not as a failed run.
            pb.webhook_inputs(&data).map_err(RunError::Inputs)?;
            data
        }
        _ => data,
    };
    let trigger = RunTrigger {
        kind,
        data,
        by: by.map(|who| who.user.clone()),
    };
    let run = PlaybookRun::pending(&pb.id, pb.revision, pb.mode, trigger, None, now);
    let mut tx = store.begin().await?;
    tx.save_run(&run, None).await?;
    let actor = match by {
        Some(who) => who.actor(),
        None => Actor::System {
            component: kind.as_str().to_owned(),
        },
    };
    tx.audit(&with_via(
        AuditEntry::new(
            now,
            actor,
            "run.start",
            format!("run:{}", run.id),
            format!("playbook {} ({} trigger)", pb.id, kind),
        ),
        by,
    ))
    .await?;
    tx.commit().await?;
    Ok(run)
}

/// Answers a pending approval and makes its run due now.
pub async fn answer_approval(
    store: &dyn Store,
    id: ApprovalId,
    approve: bool,
    by: &Identity,
    comment: Option<String>,
    now: Timestamp,
) -> Result<Approval, RunError> {
    may(by, Permission::ApprovalsAnswer).map_err(|e| RunError::Forbidden(e.to_string()))?;
    let mut tx = store.begin().await?;
    let Some(mut a) = tx.get_approval(id).await? else {
        return Err(RunError::NotFound {
            what: "approval",
            id: id.to_string(),
        });
    };
    if a.status != ApprovalStatus::Pending {
        return Err(RunError::Conflict(format!(
            "approval {id} is already {}{}",
            a.status,
            a.decided_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default()
        )));
    }
    if let Some(run) = tx.get_run(a.run).await?
        && run.status.is_finished()
    {
        return Err(RunError::Conflict(format!(
            "run {} is already {}; nothing waits for this answer",
            a.run, run.status
        )));
    }
    if now >= a.expires_at {
        return Err(RunError::Conflict(format!(
            "approval {id} expired at {}; the step took its default",
            a.expires_at.to_rfc3339()
        )));
    }
    if !may_approve(by, &a.approvers) {
        return Err(RunError::Forbidden(format!(
            "{} may not answer approval {id} (approvers: {})",
            by.user,
            a.approvers.join(", ")
        )));
    }
    a.status = if approve {
        ApprovalStatus::Approved
    } else {
        ApprovalStatus::Rejected
    };
    a.decided_by = Some(by.user.clone());
    a.decided_at = Some(now);
    a.comment = comment;
    tx.save_approval(&a).await?;
    tx.wake_run(a.run, now).await?;
    tx.audit(&with_via(
        AuditEntry::new(
            now,
            by.actor(),
            if approve {
                "approval.approve"
            } else {
                "approval.reject"
            },
            format!("run:{}", a.run),
            format!("{}: {}", a.step, a.prompt),
        ),
        Some(by),
    ))
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// Cancels an unfinished run: no further step runs.
pub async fn cancel_run(
    store: &dyn Store,
    id: RunId,
    by: &Identity,
    reason: &str,
    now: Timestamp,
) -> Result<PlaybookRun, RunError> {
    may(by, Permission::RunsWrite).map_err(|e| RunError::Forbidden(e.to_string()))?;
    let mut tx = store.begin().await?;
    let Some(mut run) = tx.get_run(id).await? else {
        return Err(RunError::NotFound {
            what: "run",
            id: id.to_string(),
        });
    };
    if run.status.is_finished() {
        return Err(RunError::Conflict(format!(
            "run {id} is already {}",
            run.status
        )));
    }
    run.status = RunStatus::Cancelled;
    run.next_at = None;
    run.finished_at = now;
    run.message = Some(format!("cancelled by {}: {reason}", by.user));
    tx.save_run(&run, None).await?;
    crate::executor::end_pending_approvals(&mut *tx, &run, now).await?;
    tx.audit(&with_via(
        AuditEntry::new(now, by.actor(), "run.cancel", format!("run:{id}"), reason),
        Some(by),
    ))
    .await?;
    tx.commit().await?;
    Ok(run)
}

/// An entry made on behalf of an identity says how it got in (`key:ID`,
/// `local:root`), so the log tells a person's key from the command line.
fn with_via(entry: AuditEntry, by: Option<&Identity>) -> AuditEntry {
    match by {
        Some(who) => entry.with_details(serde_json::json!({ "via": who.via.to_string() })),
        None => entry,
    }
}

/// The settings key holding a scheduled playbook's last start.
fn schedule_key(playbook: &str) -> String {
    format!("playbook.schedule.{playbook}")
}

/// Starts the runs schedules owe at `now`: one per playbook whose next
/// cron time after its last start has come (missed times while the
/// service was down give one run, not one each). A playbook seen for the
/// first time starts at its next cron time, not now.
pub async fn start_scheduled(
    store: &dyn Store,
    playbooks: &PlaybookSet,
    now: Timestamp,
) -> Result<Vec<PlaybookRun>, RunError> {
    let mut started = Vec::new();
    for pb in playbooks.iter() {
        let Some(s) = &pb.trigger.schedule else {
            continue;
        };
        let key = schedule_key(&pb.id);
        let last = store
            .setting(&key)
            .await?
            .and_then(|t| t.parse::<Timestamp>().ok());
        let Some(last) = last else {
            let mut tx = store.begin().await?;
            tx.set_setting(&key, Some(&now.to_rfc3339()), now).await?;
            tx.commit().await?;
            continue;
        };
        let Some(due) = latest_due(pb, &s.parsed, last, now) else {
            continue;
        };
        let data = serde_json::json!({"scheduled_at": due, "cron": s.cron});
        let run = start_run(
            store,
            playbooks,
            &pb.id,
            TriggerKind::Schedule,
            data,
            None,
            now,
        )
        .await?;
        let mut tx = store.begin().await?;
        tx.set_setting(&key, Some(&due.to_rfc3339()), now).await?;
        tx.commit().await?;
        started.push(run);
    }
    Ok(started)
}

/// The latest cron time after `last` and at or before `now`.
fn latest_due(
    pb: &Playbook,
    cron: &croner::Cron,
    last: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let first = cron.find_next_occurrence(&last, false).ok()?;
    if first > now {
        return None;
    }
    // Skip forward over missed times to the latest one (bounded: a
    // minutely schedule down for a year is 525,600 steps, so jump by the
    // previous occurrence from now instead).
    let latest = cron.find_previous_occurrence(&now, true).ok()?;
    let due = latest.max(first);
    tracing::debug!(playbook = %pb.id, %due, "scheduled run due");
    Some(due)
}
