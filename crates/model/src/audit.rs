use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AuditId, Timestamp};

/// Who did something: a person, a playbook step, or Riposte itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    User { name: String },
    Playbook { playbook: String, step: String },
    Rule { rule: String },
    System { component: String },
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User { name } => write!(f, "user:{name}"),
            Actor::Playbook { playbook, step } => write!(f, "playbook:{playbook}/{step}"),
            Actor::Rule { rule } => write!(f, "rule:{rule}"),
            Actor::System { component } => write!(f, "system:{component}"),
        }
    }
}

/// One line of the audit log: every decision, case change and playbook step
/// is written here with who did it and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub at: Timestamp,
    pub actor: Actor,
    /// What was done, as `object.verb`: `decision.create`, `decision.refuse`,
    /// `decision.expire`, `case.create`, `case.attach`, `playbook.step`.
    pub action: String,
    /// What it was done to, as `kind:id`.
    pub target: String,
    pub reason: String,
    #[serde(default)]
    pub details: serde_json::Value,
}

impl AuditEntry {
    pub fn new(
        at: Timestamp,
        actor: Actor,
        action: &str,
        target: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            id: AuditId::new(),
            at,
            actor,
            action: action.to_owned(),
            target: target.into(),
            reason: reason.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}
