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
    /// What the rule says about itself, for triage: Sigma's status, level,
    /// ATT&CK ids, references and known false positives; a native rule's
    /// tags.
    #[serde(default, skip_serializing_if = "RuleInfo::is_empty")]
    pub rule: RuleInfo,
}

/// Rule metadata carried into an alert. Every part is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    /// `sigma`, `sigma-correlation` or `native`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Sigma's level as written (`informational` … `critical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// ATT&CK tactic ids (`TA0002`) and technique ids (`T1059.001`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack_tactics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack_techniques: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub falsepositives: Vec<String>,
    /// The file the rule was loaded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl RuleInfo {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
