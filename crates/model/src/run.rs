use serde::{Deserialize, Serialize};

use crate::{AlertId, RunId, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    /// The step ran but had nothing to do or was refused by a safety rail
    /// (for example a ban on an allowlisted address).
    Skipped,
    Failed,
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
    pub finished_at: Timestamp,
    pub steps: Vec<StepRecord>,
}
