//! Playbook actions performed inside the batch's store transaction.

use async_trait::async_trait;
use riposte_model::{Actor, AuditEntry, Case, CaseId, CaseStatus, Origin};
use riposte_playbooks::{ActionCall, ActionError, ActionHost, ActionResult, RunContext};
use riposte_respond::{DecisionRequest, Outcome, Responder};
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
                let req = DecisionRequest {
                    kind: riposte_model::DecisionKind::Ban,
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
                    mode: ctx.mode,
                    evidence: vec![
                        format!("alert:{}", ctx.alert.id),
                        format!("run:{}", ctx.run),
                    ],
                };
                let decided = self
                    .responder
                    .decide(&mut *self.tx, req, ctx.now)
                    .await
                    .map_err(err)?;
                if let Some(alert) = decided.breaker_alert {
                    self.report.alerts.push(alert);
                }
                match decided.outcome {
                    Outcome::Created(d) => {
                        let output = json!({
                            "decision_id": d.id, "value": d.value, "state": d.state,
                            "expires_at": d.expires_at,
                        });
                        let message = d
                            .held
                            .as_ref()
                            .map(|why| format!("held for approval: {why}"));
                        self.report.decisions.push(d);
                        Ok(ActionResult {
                            done: true,
                            output,
                            message,
                        })
                    }
                    Outcome::AlreadyActive(d) => Ok(ActionResult {
                        done: false,
                        output: json!({"decision_id": d.id, "value": d.value, "expires_at": d.expires_at}),
                        message: Some(format!(
                            "{} already banned until {}",
                            d.value,
                            d.expires_at
                                .map_or_else(|| "forever".to_owned(), |t| t.to_rfc3339())
                        )),
                    }),
                    Outcome::Refused { value, reason } => {
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
