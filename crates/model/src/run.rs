use serde::{Deserialize, Serialize};

use crate::{AlertId, CaseId, Mode, RunId, Timestamp};

crate::string_enum::string_enum! {
    /// Where a run stands. A run is created `pending` by its trigger, is
    /// `running` while an executor holds it, `waiting` for an approval, a
    /// retry or a timer, and ends `succeeded`, `failed` or `cancelled`.
    RunStatus("run status") {
        Pending = "pending",
        Running = "running",
        Waiting = "waiting",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl RunStatus {
    /// Succeeded, failed or cancelled: nothing more will happen.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

crate::string_enum::string_enum! {
    /// What became of one step.
    StepStatus("step status") {
        Succeeded = "succeeded",
        /// The step ran but had nothing to do or was refused by a safety
        /// rail (for example a ban on an allowlisted address), or its `if`
        /// was false.
        Skipped = "skipped",
        Failed = "failed",
        /// Started and not known to have finished: an action with outside
        /// effects is marked so before it is performed, and performed again
        /// with the same idempotency key if the process died meanwhile.
        Running = "running",
        /// Waiting for an approval, a retry or a timer.
        Waiting = "waiting",
        /// In simulate (or shadow) mode: recorded with its inputs, not
        /// performed.
        Simulated = "simulated",
    }
}

impl StepStatus {
    /// Succeeded, skipped or simulated: later steps may read its output.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded | StepStatus::Skipped | StepStatus::Simulated
        )
    }
}

crate::string_enum::string_enum! {
    /// What started a run.
    TriggerKind("trigger") {
        Alert = "alert",
        Case = "case",
        Schedule = "schedule",
        Webhook = "webhook",
        Manual = "manual",
    }
}

/// What started a run, with what templates see of it (`trigger.data`: the
/// alert, the case, the webhook's body, the manual inputs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunTrigger {
    pub kind: TriggerKind,
    #[serde(default)]
    pub data: serde_json::Value,
    /// Who asked, for manual and webhook runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// What one step of a run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: String,
    pub action: String,
    pub status: StepStatus,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// The step's rendered inputs.
    #[serde(default)]
    pub input: serde_json::Value,
    /// The step's outputs, readable by later steps.
    #[serde(default)]
    pub output: serde_json::Value,
    /// Why it was skipped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where the step sits in the playbook: its id at the top level,
    /// `loop[2].notify` inside a `for_each`, `branch.step` inside
    /// `parallel` and `call.step` inside a called playbook. Unique in a
    /// run; the idempotency key of its action is `<run id>/<path>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Attempts made so far (retries count).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// When a waiting step is looked at again (retry, approval timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<Timestamp>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl StepRecord {
    /// The path, or the step id for records written before paths existed.
    pub fn key(&self) -> &str {
        if self.path.is_empty() {
            &self.step
        } else {
            &self.path
        }
    }
}

/// One execution of a playbook against one trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaybookRun {
    pub id: RunId,
    pub playbook: String,
    pub playbook_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertId>,
    pub status: RunStatus,
    pub started_at: Timestamp,
    /// When it finished, or last changed while unfinished.
    pub finished_at: Timestamp,
    pub steps: Vec<StepRecord>,
    /// Absent in runs stored before triggers other than alerts existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<RunTrigger>,
    /// The playbook's mode when the run started.
    #[serde(default)]
    pub mode: Mode,
    /// When an unfinished run is to be looked at again: now for a pending
    /// run, a retry's or an approval's deadline for a waiting one; `None`
    /// while it waits only for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Timestamp>,
    /// Why it failed or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A case the run opened or worked on, for linking from the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseId>,
}

impl PlaybookRun {
    /// A run created by `trigger`, not started yet.
    pub fn pending(
        playbook: &str,
        revision: u32,
        mode: Mode,
        trigger: RunTrigger,
        alert: Option<AlertId>,
        at: Timestamp,
    ) -> Self {
        Self {
            id: RunId::new(),
            playbook: playbook.to_owned(),
            playbook_version: revision,
            alert,
            status: RunStatus::Pending,
            started_at: at,
            finished_at: at,
            steps: Vec::new(),
            trigger: Some(trigger),
            mode,
            next_at: Some(at),
            message: None,
            case: None,
        }
    }

    /// The record of the step at `path`.
    pub fn step(&self, path: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|r| r.key() == path)
    }
}

crate::string_enum::string_enum! {
    /// Where an approval request stands.
    ApprovalStatus("approval status") {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        /// Nobody answered in time; the step took its default.
        Expired = "expired",
    }
}

/// A person's go-ahead that a playbook step waits for (`wait_for:
/// approval`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: crate::ApprovalId,
    pub run: RunId,
    pub playbook: String,
    /// The waiting step's path.
    pub step: String,
    pub prompt: String,
    /// Who may answer; empty: anyone who can reach the CLI or the API.
    #[serde(default)]
    pub approvers: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// What the step takes when nobody answers in time.
    pub default_approve: bool,
    pub status: ApprovalStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
