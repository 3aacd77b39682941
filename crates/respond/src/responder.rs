//! Creating, refusing, expiring and revoking decisions.

use chrono::TimeDelta;
use riposte_model::{
    Actor, AuditEntry, Confidence, Decision, DecisionId, DecisionKind, DecisionState, Origin,
    Scope, Timestamp, format_duration,
};
use riposte_store::{Store, StoreError, Tx};

use crate::{Allowlist, Enforcer};

#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid decision: {0}")]
    Invalid(String),
    #[error("enforcer {name} failed: {source}")]
    Enforcer {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// Safety settings (`respond:` in riposte.yaml).
#[derive(Clone, Debug)]
pub struct ResponderConfig {
    pub allowlist: Allowlist,
    /// The longest an automated decision may last; longer requests are cut
    /// to it (and the cut is recorded in the reason).
    pub max_duration: TimeDelta,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        Self {
            allowlist: Allowlist::default(),
            max_duration: TimeDelta::days(7),
        }
    }
}

/// A request for a ban, from a playbook step or a person.
#[derive(Clone, Debug)]
pub struct BanRequest {
    pub scope: Scope,
    pub value: String,
    /// `None` asks for a permanent decision, which only people may make.
    pub duration: Option<TimeDelta>,
    pub reason: String,
    pub confidence: Confidence,
    pub origin: Origin,
    /// Simulated decisions are recorded but never enforced.
    pub simulate: bool,
}

/// What became of a ban request.
#[derive(Clone, Debug, PartialEq)]
pub enum BanOutcome {
    Created(Decision),
    /// An effective ban on the same value exists; nothing new was written.
    AlreadyActive(Decision),
    /// A safety rail refused it; the refusal is in the audit log.
    Refused {
        value: String,
        reason: String,
    },
}

/// Applies the safety rails and writes decisions; owns the enforcers.
#[derive(Debug)]
pub struct Responder {
    config: ResponderConfig,
    enforcers: Vec<Enforcer>,
}

impl Responder {
    pub fn new(config: ResponderConfig, enforcers: Vec<Enforcer>) -> Self {
        Self { config, enforcers }
    }

    pub fn enforcers(&self) -> &[Enforcer] {
        &self.enforcers
    }

    /// Decides on a ban inside the caller's transaction, so it commits with
    /// the alert and the playbook run that caused it.
    pub async fn ban(
        &self,
        tx: &mut dyn Tx,
        req: BanRequest,
        now: Timestamp,
    ) -> Result<BanOutcome, RespondError> {
        let actor = actor_of(&req.origin);
        let value = req
            .scope
            .normalize(&req.value)
            .map_err(RespondError::Invalid)?;
        let automated = !matches!(req.origin, Origin::User { .. });
        let refusal = match req.scope.network(&value) {
            Some(net) => self.config.allowlist.refusal(net),
            None => None,
        }
        .or_else(|| {
            (automated && req.duration.is_none())
                .then(|| "permanent decisions can only be made by a person".to_owned())
        });
        if let Some(reason) = refusal {
            tracing::warn!(%value, %reason, %actor, "ban refused");
            let entry = AuditEntry::new(
                now,
                actor,
                "decision.refuse",
                format!("{}:{value}", req.scope),
                &reason,
            )
            .with_details(serde_json::json!({"requested_reason": req.reason}));
            tx.audit(&entry).await?;
            return Ok(BanOutcome::Refused { value, reason });
        }
        if !req.simulate
            && let Some(existing) = tx.effective_decision(req.scope, &value, now).await?
        {
            return Ok(BanOutcome::AlreadyActive(existing));
        }
        let mut reason = req.reason;
        let duration = match req.duration {
            Some(d) if automated && d > self.config.max_duration => {
                reason.push_str(&format!(
                    " (duration {} cut to the maximum {})",
                    format_duration(d),
                    format_duration(self.config.max_duration)
                ));
                Some(self.config.max_duration)
            }
            other => other,
        };
        let expires_at = match duration {
            Some(d) => Some(now.checked_add_signed(d).ok_or_else(|| {
                RespondError::Invalid(format!("duration {} is too long", format_duration(d)))
            })?),
            None => None,
        };
        let decision = Decision {
            id: DecisionId::new(),
            kind: DecisionKind::Ban,
            scope: req.scope,
            value,
            origin: req.origin,
            reason,
            confidence: req.confidence,
            created_at: now,
            expires_at,
            state: if req.simulate {
                DecisionState::Simulated
            } else {
                DecisionState::Active
            },
            updated_at: now,
        };
        tx.insert_decision(&decision).await?;
        let action = if req.simulate {
            "decision.simulate"
        } else {
            "decision.create"
        };
        tx.audit(&AuditEntry::new(
            now,
            actor,
            action,
            format!("decision:{}", decision.id),
            &decision.reason,
        ))
        .await?;
        Ok(BanOutcome::Created(decision))
    }

    /// Revokes an active decision on a person's word.
    pub async fn revoke(
        &self,
        store: &dyn Store,
        id: DecisionId,
        user: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<Option<Decision>, RespondError> {
        let mut tx = store.begin().await?;
        let ended = tx.end_decision(id, DecisionState::Revoked, now).await?;
        if ended.is_some() {
            let actor = Actor::User {
                name: user.to_owned(),
            };
            tx.audit(&AuditEntry::new(
                now,
                actor,
                "decision.revoke",
                format!("decision:{id}"),
                reason,
            ))
            .await?;
        }
        tx.commit().await?;
        if ended.is_some() {
            self.reconcile(store, now).await?;
        }
        Ok(ended)
    }

    /// Expires what is due, audits each expiry, then reconciles enforcers.
    /// Run periodically by the service; returns the decisions that expired.
    pub async fn sweep(
        &self,
        store: &dyn Store,
        now: Timestamp,
    ) -> Result<Vec<Decision>, RespondError> {
        let mut tx = store.begin().await?;
        let expired = tx.expire_decisions(now).await?;
        for d in &expired {
            let actor = Actor::System {
                component: "sweeper".to_owned(),
            };
            let reason = format!(
                "expired at {}",
                d.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default()
            );
            tx.audit(&AuditEntry::new(
                now,
                actor,
                "decision.expire",
                format!("decision:{}", d.id),
                reason,
            ))
            .await?;
        }
        tx.commit().await?;
        self.reconcile(store, now).await?;
        Ok(expired)
    }

    /// Makes every enforcer equal to the effective decisions at `now`.
    pub async fn reconcile(&self, store: &dyn Store, now: Timestamp) -> Result<(), RespondError> {
        if self.enforcers.is_empty() {
            return Ok(());
        }
        let effective = store.effective_decisions(now).await?;
        for enforcer in &self.enforcers {
            enforcer
                .apply(&effective, now)
                .map_err(|source| RespondError::Enforcer {
                    name: enforcer.name(),
                    source,
                })?;
        }
        Ok(())
    }
}

fn actor_of(origin: &Origin) -> Actor {
    match origin {
        Origin::Playbook { playbook, step, .. } => Actor::Playbook {
            playbook: playbook.clone(),
            step: step.clone(),
        },
        Origin::User { name } => Actor::User { name: name.clone() },
    }
}
