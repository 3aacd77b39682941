use serde::{Deserialize, Serialize};

use crate::{AlertId, CaseId, Observable, Severity, Timestamp};

crate::string_enum::string_enum! {
    /// Whether a case is being worked on.
    CaseStatus("case status") {
        Open = "open",
        Closed = "closed",
    }
}

/// A unit of investigation: related alerts grouped under one key (for
/// example "ssh brute force from 203.0.113.7").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub title: String,
    pub status: CaseStatus,
    /// The highest severity among its alerts.
    pub severity: Severity,
    /// Alerts with the same key attach to the same open case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_key: Option<String>,
    #[serde(default)]
    pub alerts: Vec<AlertId>,
    #[serde(default)]
    pub observables: Vec<Observable>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Who works on it (a person or a team such as `level2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Notes from people and playbooks, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<CaseComment>,
}

/// A note on a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseComment {
    pub at: Timestamp,
    /// `user:alice`, `playbook:phishing/notify`.
    pub author: String,
    pub text: String,
}

impl Case {
    /// Adds an alert and its observables; returns false if it was already there.
    pub fn attach(&mut self, alert: &crate::Alert, at: Timestamp) -> bool {
        if self.alerts.contains(&alert.id) {
            return false;
        }
        self.alerts.push(alert.id);
        for obs in &alert.observables {
            if !self.observables.contains(obs) {
                self.observables.push(obs.clone());
            }
        }
        self.severity = self.severity.max(alert.severity);
        self.updated_at = at;
        true
    }
}
