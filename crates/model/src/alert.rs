use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AlertId, Confidence, EventId, Observable, Severity, Timestamp};

/// A rule's verdict that something happened, with the evidence behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub rule_id: String,
    pub rule_title: String,
    pub severity: Severity,
    pub confidence: Confidence,
    /// When the alert was raised (processing clock).
    pub created_at: Timestamp,
    /// Event time of the first and last evidence event.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The group-by key of the rule that fired (`source.ip` → `203.0.113.7`);
    /// empty for single-event rules.
    #[serde(default)]
    pub group: BTreeMap<String, String>,
    /// One line a person can read: "6 sshd failures from 203.0.113.7 in 60s".
    pub summary: String,
    /// How many events matched.
    pub count: u64,
    #[serde(default)]
    pub observables: Vec<Observable>,
    /// The events that caused the alert, oldest first.
    #[serde(default)]
    pub evidence: Vec<EventId>,
}
