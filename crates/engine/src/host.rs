//! Playbook actions performed inside the batch's store transaction.

use async_trait::async_trait;
use riposte_model::{Actor, AuditEntry, Case, CaseId, CaseStatus, Origin};
use riposte_playbooks::{ActionCall, ActionError, ActionHost, ActionResult, Mode, RunContext};
use riposte_respond::{BanOutcome, BanRequest, Responder};
use riposte_store::Tx;
use serde_json::json;

use crate::engine::{BatchReport, Refusal};

pub(crate) struct TxHost<'a> {
    pub tx: &'a mut dyn Tx,
    pub responder: &'a Responder,
    pub report: &'a mut BatchReport,
}

fn err(e: impl std::fmt::Display) -> ActionError {
    ActionError(e.to_string())
}

#[async_trait]
impl ActionHost for TxHost<'_> {
    async fn perform(
        &mut self,
        ctx: &RunContext<'_>,
        step: &str,
        call: ActionCall,
    ) -> Result<ActionResult, ActionError> {
        let actor = Actor::Playbook {
            playbook: ctx.playbook.id.clone(),
            step: step.to_owned(),
        };
        match call {
            ActionCall::CaseAttach { key, title } => {
                let existing = self.tx.open_case_by_key(&key).await.map_err(err)?;
                let created = existing.is_none();
                let mut case = existing.unwrap_or_else(|| Case {
                    id: CaseId::new(),
                    title,
                    status: CaseStatus::Open,
                    severity: ctx.alert.severity,
                    group_key: Some(key.clone()),
                    alerts: Vec::new(),
                    observables: Vec::new(),
                    created_at: ctx.now,
                    updated_at: ctx.now,
                });
                case.attach(ctx.alert, ctx.now);
                self.tx.upsert_case(&case).await.map_err(err)?;
                let (action, reason) = if created {
                    (
                        "case.create",
                        format!("opened for alert {} ({})", ctx.alert.id, ctx.alert.rule_id),
                    )
                } else {
                    (
                        "case.attach",
                        format!("alert {} ({}) attached", ctx.alert.id, ctx.alert.rule_id),
                    )
                };
                let entry =
                    AuditEntry::new(ctx.now, actor, action, format!("case:{}", case.id), reason);
                self.tx.audit(&entry).await.map_err(err)?;
                let output =
                    json!({"case_id": case.id, "created": created, "alerts": case.alerts.len()});
                self.report.cases.retain(|(c, _)| c.id != case.id);
                self.report.cases.push((case, created));
                Ok(ActionResult {
                    done: true,
                    output,
                    message: None,
                })
            }
            ActionCall::DecisionBan {
                scope,
                value,
                duration,
                reason,
            } => {
                let req = BanRequest {
                    scope,
                    value,
                    duration: Some(duration),
                    reason,
                    confidence: ctx.alert.confidence,
                    origin: Origin::Playbook {
                        playbook: ctx.playbook.id.clone(),
                        step: step.to_owned(),
                        run: ctx.run,
                        rule: Some(ctx.alert.rule_id.clone()),
                        alert: Some(ctx.alert.id),
                    },
                    simulate: ctx.mode == Mode::Simulate,
                };
                match self
                    .responder
                    .ban(&mut *self.tx, req, ctx.now)
                    .await
                    .map_err(err)?
                {
                    BanOutcome::Created(d) => {
                        let output = json!({
                            "decision_id": d.id, "value": d.value, "state": d.state,
                            "expires_at": d.expires_at,
                        });
                        self.report.decisions.push(d);
                        Ok(ActionResult {
                            done: true,
                            output,
                            message: None,
                        })
                    }
                    BanOutcome::AlreadyActive(d) => Ok(ActionResult {
                        done: false,
                        output: json!({"decision_id": d.id, "value": d.value, "expires_at": d.expires_at}),
                        message: Some(format!(
                            "{} already banned until {}",
                            d.value,
                            d.expires_at
                                .map_or_else(|| "forever".to_owned(), |t| t.to_rfc3339())
                        )),
                    }),
                    BanOutcome::Refused { value, reason } => {
                        self.report.refusals.push(Refusal {
                            value: value.clone(),
                            reason: reason.clone(),
                            playbook: ctx.playbook.id.clone(),
                            step: step.to_owned(),
                        });
                        Ok(ActionResult {
                            done: false,
                            output: json!({"refused": value}),
                            message: Some(format!("refused: {reason}")),
                        })
                    }
                }
            }
        }
    }
}
