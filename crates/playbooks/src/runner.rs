//! Executing a playbook's steps for one alert.

use riposte_model::{Alert, PlaybookRun, RunId, RunStatus, StepRecord, StepStatus, Timestamp};
use serde_json::{Map, Value, json};

use crate::{ActionHost, Mode, Playbook};

/// What a host knows about the run an action belongs to.
#[derive(Debug)]
pub struct RunContext<'a> {
    pub run: RunId,
    pub playbook: &'a Playbook,
    pub alert: &'a Alert,
    pub mode: Mode,
    pub now: Timestamp,
}

impl Playbook {
    /// Runs every step in order for `alert`. A failing step fails the run and
    /// stops it; a skipped step (a refused ban) does not. Every step is
    /// recorded with its rendered inputs and outputs.
    pub async fn run(
        &self,
        alert: &Alert,
        host: &mut dyn ActionHost,
        now: Timestamp,
    ) -> PlaybookRun {
        let ctx = RunContext {
            run: RunId::new(),
            playbook: self,
            alert,
            mode: self.mode,
            now,
        };
        let mut outputs = Map::new();
        let mut records = Vec::new();
        let mut status = RunStatus::Succeeded;
        let alert_json = serde_json::to_value(alert).unwrap_or(Value::Null);
        for step in &self.steps {
            let template_ctx = json!({
                "alert": alert_json,
                "playbook": {"id": self.id, "name": self.name, "mode": self.mode},
                "steps": outputs,
            });
            let mut record = StepRecord {
                step: step.id.clone(),
                action: step.action.name().to_owned(),
                status: StepStatus::Failed,
                started_at: now,
                finished_at: now,
                input: Value::Null,
                output: Value::Null,
                message: None,
            };
            match step.action.render(&template_ctx) {
                Err(e) => record.message = Some(e),
                Ok(call) => {
                    record.input = call.input_json();
                    match host.perform(&ctx, &step.id, call).await {
                        Ok(result) => {
                            record.status = if result.done {
                                StepStatus::Succeeded
                            } else {
                                StepStatus::Skipped
                            };
                            record.output = result.output;
                            record.message = result.message;
                        }
                        Err(e) => record.message = Some(e.0),
                    }
                }
            }
            outputs.insert(step.id.clone(), record.output.clone());
            let failed = record.status == StepStatus::Failed;
            if failed {
                tracing::warn!(playbook = %self.id, step = %step.id, message = ?record.message, "playbook step failed");
            }
            records.push(record);
            if failed {
                status = RunStatus::Failed;
                break;
            }
        }
        PlaybookRun {
            id: ctx.run,
            playbook: self.id.clone(),
            playbook_version: self.revision,
            alert: Some(alert.id),
            status,
            started_at: now,
            finished_at: now,
            steps: records,
        }
    }
}
