//! Creating, refusing, holding, expiring and revoking decisions.
//!
//! Every request passes the same rails, in this order (see
//! `docs/active-response.md`):
//!
//! 1. the value is checked and canonicalized for its scope, and the kind
//!    must suit the scope (accounts are disabled by user name);
//! 2. networks on the allowlist (listed CIDRs, named assets, gateways, this
//!    host's own addresses, loopback and the like) are refused;
//! 3. automation may not make permanent decisions, nor decisions below the
//!    minimum confidence for their kind and scope;
//! 4. an effective decision of the same kind on the same value makes the
//!    request a duplicate;
//! 5. repeat offenders get longer decisions (escalation), cut to the
//!    maximum duration;
//! 6. automated decisions on ranges wider than allowed, and every automated
//!    decision while the circuit breaker is tripped (or that trips it by
//!    exceeding the per-minute cap), wait for a person's approval.
//!
//! Refusals, holds and breaker trips are logged and audited. The mode (the
//! most cautious of the request's, the rule's and the responder's) decides
//! whether the result is enforced, only recorded (simulate), or recorded
//! with what enforce mode would have done (shadow).

use std::collections::BTreeMap;

use chrono::TimeDelta;
use ipnet::IpNet;
use riposte_model::{
    Actor, Alert, AlertId, AuditEntry, Confidence, Decision, DecisionId, DecisionKind,
    DecisionState, Mode, Origin, Review, ReviewStatus, RuleInfo, Scope, Severity, Timestamp,
    format_duration,
};
use riposte_store::{Store, StoreError, Tx};
use serde::{Deserialize, Serialize};

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

/// Durations for repeat offenders: the n-th decision on the same value
/// within `lookback` lasts at least `durations[n-1]` (the last entry for
/// every later one).
#[derive(Clone, Debug, PartialEq)]
pub struct Escalation {
    pub lookback: TimeDelta,
    pub durations: Vec<TimeDelta>,
}

impl Escalation {
    /// The duration for the `offence`-th decision (1-based).
    pub fn duration_for(&self, offence: u32) -> Option<TimeDelta> {
        let i = usize::try_from(offence.max(1) - 1).unwrap_or(usize::MAX);
        self.durations
            .get(i)
            .or_else(|| self.durations.last())
            .copied()
    }
}

/// Minimum confidence for automated decisions, by kind and optionally
/// scope (`ban/range` is stricter than `ban`). The most specific entry
/// applies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MinConfidence {
    entries: BTreeMap<(DecisionKind, Option<Scope>), Confidence>,
}

impl MinConfidence {
    /// Parses a key as written in the configuration: `ban` or `ban/range`.
    pub fn insert(&mut self, key: &str, min: Confidence) -> Result<(), String> {
        let (kind, scope) = match key.split_once('/') {
            Some((k, s)) => (k, Some(s.parse::<Scope>()?)),
            None => (key, None),
        };
        let kind: DecisionKind = kind.parse()?;
        self.entries.insert((kind, scope), min);
        Ok(())
    }

    pub fn get(&self, kind: DecisionKind, scope: Scope) -> Option<Confidence> {
        self.entries
            .get(&(kind, Some(scope)))
            .or_else(|| self.entries.get(&(kind, None)))
            .copied()
    }
}

/// Safety settings (`respond:` in riposte.yaml).
#[derive(Clone, Debug)]
pub struct ResponderConfig {
    pub allowlist: Allowlist,
    /// The longest an automated decision may last; longer requests are cut
    /// to it (and the cut is recorded in the reason).
    pub max_duration: TimeDelta,
    pub escalation: Option<Escalation>,
    pub min_confidence: MinConfidence,
    /// At most this many automated decisions per minute; the next one trips
    /// the circuit breaker.
    pub max_per_minute: u32,
    /// The widest range an automated decision may cover without approval,
    /// as prefix lengths.
    pub max_prefix_v4: u8,
    pub max_prefix_v6: u8,
    /// A ceiling on every request's mode (`shadow` puts the whole
    /// responder in shadow mode).
    pub mode: Mode,
    /// Per-rule modes, by rule id.
    pub rule_modes: BTreeMap<String, Mode>,
    /// Unreviewed automated decisions older than this are flagged.
    pub review_max_age: TimeDelta,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        Self {
            allowlist: Allowlist::default(),
            max_duration: TimeDelta::days(7),
            escalation: None,
            min_confidence: MinConfidence::default(),
            max_per_minute: 60,
            max_prefix_v4: 24,
            max_prefix_v6: 48,
            mode: Mode::Enforce,
            rule_modes: BTreeMap::new(),
            review_max_age: TimeDelta::hours(24),
        }
    }
}

/// A request for a decision, from a playbook step, an import or a person.
#[derive(Clone, Debug)]
pub struct DecisionRequest {
    pub kind: DecisionKind,
    pub scope: Scope,
    pub value: String,
    /// `None` asks for a permanent decision, which only people may make.
    pub duration: Option<TimeDelta>,
    pub reason: String,
    pub confidence: Confidence,
    pub origin: Origin,
    /// The requester's mode (a playbook's); the rule's and the responder's
    /// may make it more cautious.
    pub mode: Mode,
    /// Links to what caused it (`alert:<id>`, `event:<id>`, …).
    pub evidence: Vec<String>,
}

impl DecisionRequest {
    /// A ban in enforce mode without evidence links: the common case.
    pub fn ban(
        scope: Scope,
        value: impl Into<String>,
        duration: Option<TimeDelta>,
        reason: impl Into<String>,
        confidence: Confidence,
        origin: Origin,
    ) -> Self {
        Self {
            kind: DecisionKind::Ban,
            scope,
            value: value.into(),
            duration,
            reason: reason.into(),
            confidence,
            origin,
            mode: Mode::Enforce,
            evidence: Vec::new(),
        }
    }
}

/// What became of a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Written: `active`, `pending_approval`, or `simulated` (simulate and
    /// shadow modes; a shadow decision carries enforce mode's verdict).
    Created(Decision),
    /// An effective decision of the same kind on the same value exists (or,
    /// for a request that would wait for approval, one waits already);
    /// nothing new was written.
    AlreadyActive(Decision),
    /// A safety rail refused it; the refusal is in the audit log.
    Refused { value: String, reason: String },
}

/// An outcome, plus the alert raised if this request tripped the circuit
/// breaker (already stored in the transaction).
#[derive(Clone, Debug, PartialEq)]
pub struct Decided {
    pub outcome: Outcome,
    pub breaker_alert: Option<Alert>,
}

/// The circuit breaker's state while tripped (stored under
/// [`BREAKER_KEY`] so it survives restarts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerState {
    pub tripped_at: Timestamp,
    pub reason: String,
}

/// The settings key holding the tripped breaker's state.
pub const BREAKER_KEY: &str = "respond.breaker";

/// The rule id of the alert a breaker trip raises.
pub const BREAKER_RULE: &str = "riposte.respond.breaker";

/// What enforce mode would do with a request, judged against the store.
enum Judgement {
    Refuse(String),
    Duplicate(Box<Decision>),
    Create(Plan),
}

struct Plan {
    state: DecisionState,
    /// Why it waits for approval, if it does.
    hold: Option<String>,
    /// Set when this request trips the breaker: the trip's reason.
    trips: Option<String>,
    duration: Option<TimeDelta>,
    offence: Option<u32>,
    /// Notes appended to the reason (escalation, cuts).
    notes: Vec<String>,
}

/// How an enforcer has been doing: after a failure it is skipped until
/// `retry_at` (10 s, doubling with each consecutive failure up to 10
/// minutes), so a hanging receiver or a broken reload command is not hit
/// on every batch; the state it missed is applied whole when it is tried
/// again (enforcers are reconciled, never fed deltas they could lose).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnforcerHealth {
    pub name: String,
    /// Consecutive failures; 0 when the last attempt succeeded.
    pub failures: u32,
    pub last_ok: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Not tried again before this.
    pub retry_at: Option<Timestamp>,
    pub dry_run: bool,
}

/// The wait after the `failures`-th consecutive failure.
fn backoff(failures: u32) -> TimeDelta {
    let secs = 10i64.saturating_mul(1 << failures.saturating_sub(1).min(16));
    TimeDelta::seconds(secs.min(600))
}

/// Applies the safety rails and writes decisions; owns the enforcers.
#[derive(Debug)]
pub struct Responder {
    config: ResponderConfig,
    enforcers: Vec<Enforcer>,
    /// Index-aligned with `enforcers`.
    health: std::sync::Mutex<Vec<EnforcerHealth>>,
    /// Held for a whole reconciliation, which the pipeline, the sweeper,
    /// reviews and the playbook executor start concurrently: two at once
    /// would write the same files and run the same reloads interleaved, and
    /// the slower one would put back an older set over a newer one. Holds
    /// the latest `now` reconciled to, so a caller with an older clock
    /// reading never applies a state the enforcers have already moved past.
    reconciling: tokio::sync::Mutex<Option<Timestamp>>,
}

impl Responder {
    pub fn new(config: ResponderConfig, enforcers: Vec<Enforcer>) -> Self {
        let health = enforcers
            .iter()
            .map(|e| EnforcerHealth {
                name: e.name(),
                dry_run: e.dry_run(),
                ..EnforcerHealth::default()
            })
            .collect();
        Self {
            config,
            enforcers,
            health: std::sync::Mutex::new(health),
            reconciling: tokio::sync::Mutex::new(None),
        }
    }

    /// Each enforcer's health, in configuration order.
    pub fn enforcer_health(&self) -> Vec<EnforcerHealth> {
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }

    pub fn config(&self) -> &ResponderConfig {
        &self.config
    }

    pub fn enforcers(&self) -> &[Enforcer] {
        &self.enforcers
    }

    /// The mode a request from `rule` runs in: the most cautious of the
    /// requester's, the rule's and the responder's.
    pub fn effective_mode(&self, requested: Mode, rule: Option<&str>) -> Mode {
        let rule_mode = rule
            .and_then(|r| self.config.rule_modes.get(r))
            .copied()
            .unwrap_or(Mode::Enforce);
        requested.min(rule_mode).min(self.config.mode)
    }

    /// Decides on a request inside the caller's transaction, so it commits
    /// with the alert and the playbook run that caused it.
    pub async fn decide(
        &self,
        tx: &mut dyn Tx,
        req: DecisionRequest,
        now: Timestamp,
    ) -> Result<Decided, RespondError> {
        let value = req
            .scope
            .normalize(&req.value)
            .map_err(RespondError::Invalid)?;
        if !req.kind.allows(req.scope) {
            return Err(RespondError::Invalid(format!(
                "a {} decision cannot have scope {}",
                req.kind, req.scope
            )));
        }
        let mode = self.effective_mode(req.mode, req.origin.rule());
        let judgement = self.judge(tx, &req, &value, mode, now).await?;
        let actor = actor_of(&req.origin);
        let target = format!("{}:{value}", req.scope);
        let mut breaker_alert = None;
        let (state, plan) = match (mode, judgement) {
            (Mode::Shadow, judgement) => {
                let verdict = match &judgement {
                    Judgement::Refuse(reason) => format!("refused: {reason}"),
                    Judgement::Duplicate(d) => format!("already active: {}", d.id),
                    Judgement::Create(plan) => match &plan.hold {
                        Some(why) => format!("pending_approval: {why}"),
                        None => plan.state.to_string(),
                    },
                };
                let plan = judgement.into_plan(req.duration);
                let mut d = self.build(&req, value, plan, DecisionState::Simulated, mode, now)?;
                d.shadow_verdict = Some(verdict);
                tx.insert_decision(&d).await?;
                let entry = AuditEntry::new(
                    now,
                    actor,
                    "decision.shadow",
                    format!("decision:{}", d.id),
                    &d.reason,
                )
                .with_details(serde_json::json!({"would": d.shadow_verdict}));
                tx.audit(&entry).await?;
                return Ok(Decided {
                    outcome: Outcome::Created(d),
                    breaker_alert,
                });
            }
            (_, Judgement::Refuse(reason)) => {
                tracing::warn!(%target, %reason, %actor, "decision refused");
                let entry = AuditEntry::new(now, actor, "decision.refuse", target, &reason)
                    .with_details(serde_json::json!({
                        "kind": req.kind, "requested_reason": req.reason, "mode": mode,
                    }));
                tx.audit(&entry).await?;
                return Ok(Decided {
                    outcome: Outcome::Refused { value, reason },
                    breaker_alert,
                });
            }
            (Mode::Simulate, judgement) => {
                (DecisionState::Simulated, judgement.into_plan(req.duration))
            }
            (Mode::Enforce, Judgement::Duplicate(existing)) => {
                return Ok(Decided {
                    outcome: Outcome::AlreadyActive(*existing),
                    breaker_alert,
                });
            }
            (Mode::Enforce, Judgement::Create(plan)) => {
                if let Some(reason) = &plan.trips {
                    breaker_alert = Some(self.trip(tx, reason, now).await?);
                }
                (plan.state, plan)
            }
        };
        let hold = plan.hold.clone();
        let d = self.build(&req, value, plan, state, mode, now)?;
        tx.insert_decision(&d).await?;
        let action = match d.state {
            DecisionState::Simulated => "decision.simulate",
            DecisionState::PendingApproval => "decision.hold",
            _ => "decision.create",
        };
        if let Some(why) = &hold {
            tracing::warn!(decision = %d.id, value = %d.value, reason = %why, "decision held for approval");
        }
        let mut entry = AuditEntry::new(
            now,
            actor,
            action,
            format!("decision:{}", d.id),
            hold.as_deref().unwrap_or(&d.reason),
        );
        if hold.is_some() {
            entry = entry.with_details(serde_json::json!({"requested_reason": d.reason}));
        }
        tx.audit(&entry).await?;
        Ok(Decided {
            outcome: Outcome::Created(d),
            breaker_alert,
        })
    }

    /// What enforce mode would do, reading (never writing) the store.
    async fn judge(
        &self,
        tx: &mut dyn Tx,
        req: &DecisionRequest,
        value: &str,
        mode: Mode,
        now: Timestamp,
    ) -> Result<Judgement, RespondError> {
        let automated = req.origin.is_automated();
        let network = req.scope.network(value);
        if let Some(reason) = network.and_then(|net| self.config.allowlist.refusal(net)) {
            return Ok(Judgement::Refuse(reason));
        }
        if automated && req.duration.is_none() {
            return Ok(Judgement::Refuse(
                "permanent decisions can only be made by a person".to_owned(),
            ));
        }
        if automated
            && let Some(min) = self.config.min_confidence.get(req.kind, req.scope)
            && req.confidence < min
        {
            return Ok(Judgement::Refuse(format!(
                "confidence {} is below the minimum {min} for {} on {}",
                req.confidence, req.kind, req.scope
            )));
        }
        if mode != Mode::Simulate
            && let Some(existing) = tx
                .effective_decision(req.kind, req.scope, value, now)
                .await?
        {
            return Ok(Judgement::Duplicate(Box::new(existing)));
        }
        let mut plan = Plan::plain(req.duration);
        if automated && let (Some(esc), Some(requested)) = (&self.config.escalation, req.duration) {
            let since = now.checked_sub_signed(esc.lookback).unwrap_or(now);
            let earlier = tx
                .decisions_on(req.scope, value, since)
                .await?
                .iter()
                .filter(|d| {
                    d.kind == req.kind
                        && matches!(d.state, DecisionState::Active | DecisionState::Expired)
                })
                .count();
            let offence = u32::try_from(earlier).unwrap_or(u32::MAX).saturating_add(1);
            plan.offence = Some(offence);
            if let Some(ladder) = esc.duration_for(offence)
                && ladder > requested
            {
                plan.duration = Some(ladder);
                plan.notes.push(format!(
                    "offence {offence} within {}: {}",
                    format_duration(esc.lookback),
                    format_duration(ladder)
                ));
            }
        }
        if automated
            && let Some(d) = plan.duration
            && d > self.config.max_duration
        {
            plan.notes.push(format!(
                "duration {} cut to the maximum {}",
                format_duration(d),
                format_duration(self.config.max_duration)
            ));
            plan.duration = Some(self.config.max_duration);
        }
        if plan
            .duration
            .is_some_and(|d| now.checked_add_signed(d).is_none())
        {
            return Err(RespondError::Invalid("duration is too long".to_owned()));
        }
        if !automated {
            return Ok(Judgement::Create(plan));
        }
        if let Some(net) = network
            && let Some(why) = self.too_wide(net)
        {
            plan.hold = Some(why);
        }
        if mode == Mode::Simulate {
            return Ok(Judgement::Create(plan));
        }
        if let Some(tripped) = breaker(tx).await? {
            plan.hold.get_or_insert(format!(
                "circuit breaker tripped at {}: {}",
                tripped.tripped_at.to_rfc3339(),
                tripped.reason
            ));
        } else {
            let since = now - TimeDelta::minutes(1);
            let recent = tx.count_automated_since(since).await?;
            if recent >= u64::from(self.config.max_per_minute) {
                let reason = format!(
                    "{} automated decisions in the last minute reached the cap of {}",
                    recent + 1,
                    self.config.max_per_minute
                );
                plan.hold
                    .get_or_insert(format!("circuit breaker tripped: {reason}"));
                plan.trips = Some(reason);
            }
        }
        if plan.hold.is_some() {
            // A request that would wait for approval beside another of the
            // same kind on the same value already waiting is a duplicate:
            // otherwise a brute-forcer fills the queue with copies while
            // the breaker is tripped. (One that trips the breaker is still
            // written, with its alert; one that could take effect is too.)
            if plan.trips.is_none()
                && let Some(waiting) = pending_decision(tx, req.kind, req.scope, value).await?
            {
                return Ok(Judgement::Duplicate(Box::new(waiting)));
            }
            plan.state = DecisionState::PendingApproval;
        }
        Ok(Judgement::Create(plan))
    }

    /// Why an automated decision on `net` needs approval for its width.
    fn too_wide(&self, net: IpNet) -> Option<String> {
        let max = match net {
            IpNet::V4(_) => self.config.max_prefix_v4,
            IpNet::V6(_) => self.config.max_prefix_v6,
        };
        (net.prefix_len() < max).then(|| {
            format!(
                "{net} is wider than the /{max} an automated decision may cover without approval"
            )
        })
    }

    fn build(
        &self,
        req: &DecisionRequest,
        value: String,
        plan: Plan,
        state: DecisionState,
        mode: Mode,
        now: Timestamp,
    ) -> Result<Decision, RespondError> {
        let mut reason = req.reason.clone();
        for note in &plan.notes {
            reason.push_str(&format!(" ({note})"));
        }
        let expires_at = match (state, plan.duration) {
            // Held decisions start their time when they are approved.
            (DecisionState::PendingApproval, _) | (_, None) => None,
            (_, Some(d)) => Some(now.checked_add_signed(d).ok_or_else(|| {
                RespondError::Invalid(format!("duration {} is too long", format_duration(d)))
            })?),
        };
        let automated = req.origin.is_automated();
        Ok(Decision {
            reason,
            confidence: req.confidence,
            expires_at,
            state,
            mode,
            held: plan
                .hold
                .filter(|_| state == DecisionState::PendingApproval),
            evidence: req.evidence.clone(),
            duration: plan.duration,
            offence: plan.offence,
            review: (automated && mode == Mode::Enforce).then(Review::pending),
            ..Decision::active(req.kind, req.scope, value, req.origin.clone(), now)
        })
    }

    /// Trips the breaker: stores its state, audits, and raises an alert.
    async fn trip(
        &self,
        tx: &mut dyn Tx,
        reason: &str,
        now: Timestamp,
    ) -> Result<Alert, RespondError> {
        let state = BreakerState {
            tripped_at: now,
            reason: reason.to_owned(),
        };
        let json =
            serde_json::to_string(&state).map_err(|e| RespondError::Invalid(e.to_string()))?;
        tx.set_setting(BREAKER_KEY, Some(&json), now).await?;
        tracing::error!(%reason, "circuit breaker tripped: automated decisions wait for approval");
        tx.audit(&AuditEntry::new(
            now,
            system(),
            "breaker.trip",
            "breaker:respond",
            reason,
        ))
        .await?;
        let alert = Alert {
            id: AlertId::new(),
            rule_id: BREAKER_RULE.to_owned(),
            rule_title: "Active response circuit breaker tripped".to_owned(),
            severity: Severity::High,
            confidence: Confidence::MAX,
            created_at: now,
            first_seen: now,
            last_seen: now,
            group: BTreeMap::new(),
            summary: format!(
                "{reason}; new automated decisions wait for approval until a person resets the breaker (riposte breaker reset)"
            ),
            count: 1,
            observables: Vec::new(),
            evidence: Vec::new(),
            rule: RuleInfo {
                kind: "riposte".to_owned(),
                ..RuleInfo::default()
            },
        };
        tx.insert_alert(&alert).await?;
        Ok(alert)
    }

    /// Resets a tripped breaker on a person's word; returns the state it
    /// was in, or `None` if it was not tripped. Decisions held while it was
    /// tripped stay pending until each is approved or reverted.
    pub async fn reset_breaker(
        &self,
        store: &dyn Store,
        user: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Option<BreakerState>, RespondError> {
        let mut tx = store.begin().await?;
        let state = breaker(&mut *tx).await?;
        if state.is_some() {
            tx.set_setting(BREAKER_KEY, None, now).await?;
            tx.audit(&AuditEntry::new(
                now,
                user_actor(user),
                "breaker.reset",
                "breaker:respond",
                note,
            ))
            .await?;
        }
        tx.commit().await?;
        Ok(state)
    }

    /// A person's review of an automated decision. Approving a held
    /// decision activates it for its requested duration from now;
    /// reverting revokes it; extending adds to its expiry. Enforcers are
    /// reconciled afterwards. Returns the updated decision.
    pub async fn review(
        &self,
        store: &dyn Store,
        id: DecisionId,
        verdict: ReviewVerdict,
        user: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Decision, RespondError> {
        let mut tx = store.begin().await?;
        let mut d = tx
            .get_decision(id)
            .await?
            .ok_or_else(|| RespondError::Invalid(format!("no decision {id}")))?;
        let live = matches!(
            d.state,
            DecisionState::Active | DecisionState::PendingApproval
        );
        if !live {
            return Err(RespondError::Invalid(format!(
                "decision {id} is {}; only active or pending decisions can be reviewed",
                d.state
            )));
        }
        let (status, action) = match verdict {
            ReviewVerdict::Approve => {
                if d.state == DecisionState::PendingApproval {
                    // Approving it beside an effective decision of the same
                    // kind on the same value (made after the breaker was
                    // reset) would make two: refused, naming the other.
                    if let Some(other) = tx
                        .effective_decision(d.kind, d.scope, &d.value, now)
                        .await?
                    {
                        return Err(RespondError::Invalid(format!(
                            "decision {id} duplicates the effective decision {} ({} {} {} until {}); revert this one instead",
                            other.id,
                            other.kind,
                            other.scope,
                            other.value,
                            other
                                .expires_at
                                .map_or_else(|| "forever".to_owned(), |t| t.to_rfc3339()),
                        )));
                    }
                    d.state = DecisionState::Active;
                    d.expires_at = match d.duration {
                        Some(dur) => Some(now.checked_add_signed(dur).ok_or_else(|| {
                            RespondError::Invalid("duration is too long".to_owned())
                        })?),
                        None => None,
                    };
                }
                (ReviewStatus::Approved, "review.approve")
            }
            ReviewVerdict::Revert => {
                d.state = DecisionState::Revoked;
                (ReviewStatus::Reverted, "review.revert")
            }
            ReviewVerdict::Extend(by) => {
                if d.state == DecisionState::PendingApproval {
                    return Err(RespondError::Invalid(format!(
                        "decision {id} is pending approval; approve it before extending"
                    )));
                }
                // Adding to "never" would make it end at now + by.
                let Some(expires_at) = d.expires_at else {
                    return Err(RespondError::Invalid(format!(
                        "decision {id} is permanent; there is no expiry to extend"
                    )));
                };
                let base = expires_at.max(now);
                d.expires_at =
                    Some(base.checked_add_signed(by).ok_or_else(|| {
                        RespondError::Invalid("extension is too long".to_owned())
                    })?);
                (ReviewStatus::Extended, "review.extend")
            }
        };
        d.updated_at = now;
        d.review = Some(Review {
            status,
            by: Some(user.to_owned()),
            at: Some(now),
            note: (!note.is_empty()).then(|| note.to_owned()),
        });
        tx.update_decision(&d).await?;
        let reason = if note.is_empty() {
            format!("{status} by {user}")
        } else {
            note.to_owned()
        };
        tx.audit(
            &AuditEntry::new(
                now,
                user_actor(user),
                action,
                format!("decision:{id}"),
                reason,
            )
            .with_details(serde_json::json!({
                "state": d.state, "expires_at": d.expires_at,
            })),
        )
        .await?;
        tx.commit().await?;
        self.reconcile(store, now).await?;
        Ok(d)
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
            tx.audit(&AuditEntry::new(
                now,
                user_actor(user),
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
    /// An enforcer still backing off from a failure is skipped (see
    /// [`EnforcerHealth`]); the error returned is the first of this round.
    /// Reconciliations run one at a time, each reading the effective set
    /// once it holds the lock, so the last one applies the newest state.
    pub async fn reconcile(&self, store: &dyn Store, now: Timestamp) -> Result<(), RespondError> {
        if self.enforcers.is_empty() {
            return Ok(());
        }
        let mut latest = self.reconciling.lock().await;
        let now = latest.map_or(now, |t| t.max(now));
        *latest = Some(now);
        let due: Vec<usize> = {
            let health = self.health.lock().map(|h| h.clone()).unwrap_or_default();
            (0..self.enforcers.len())
                .filter(|&i| {
                    health
                        .get(i)
                        .and_then(|h| h.retry_at)
                        .is_none_or(|t| t <= now)
                })
                .collect()
        };
        if due.is_empty() {
            return Ok(());
        }
        let effective = std::sync::Arc::new(store.effective_decisions(now).await?);
        // Every enforcer is given its turn even when another fails; each
        // runs on a blocking thread, since writing files and running nft
        // or a reload command must not stall the async executor.
        let mut first_error = None;
        for i in due {
            let enforcer = &self.enforcers[i];
            let (task, list) = (enforcer.clone(), effective.clone());
            let result = tokio::task::spawn_blocking(move || task.apply(&list, now))
                .await
                .unwrap_or_else(|join| {
                    Err(std::io::Error::other(format!(
                        "enforcer task failed: {join}"
                    )))
                });
            let mut health = self
                .health
                .lock()
                .map_err(|_| RespondError::Invalid("enforcer health poisoned".into()))?;
            let h = &mut health[i];
            match result {
                Ok(()) => {
                    if h.failures > 0 {
                        tracing::info!(enforcer = %h.name, after = h.failures, "enforcer recovered");
                    }
                    h.failures = 0;
                    h.last_ok = Some(now);
                    h.retry_at = None;
                }
                Err(source) => {
                    h.failures += 1;
                    h.last_error = Some(source.to_string());
                    let retry_at = now + backoff(h.failures);
                    h.retry_at = Some(retry_at);
                    tracing::error!(enforcer = %h.name, error = %source, failures = h.failures,
                        retry_at = %retry_at, "enforcer failed; the whole state is applied when it is retried");
                    first_error.get_or_insert(RespondError::Enforcer {
                        name: enforcer.name(),
                        source,
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A person's verdict in the review queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewVerdict {
    /// Keep it (and activate it, if it was held for approval).
    Approve,
    /// Revoke it: a false positive.
    Revert,
    /// Keep it and make it last this much longer.
    Extend(TimeDelta),
}

/// The newest decision of this kind on this scope and value that waits
/// for approval.
async fn pending_decision(
    tx: &mut dyn Tx,
    kind: DecisionKind,
    scope: Scope,
    value: &str,
) -> Result<Option<Decision>, RespondError> {
    Ok(tx
        .decisions_on(scope, value, Timestamp::MIN_UTC)
        .await?
        .into_iter()
        .find(|d| d.kind == kind && d.state == DecisionState::PendingApproval))
}

/// The circuit breaker's state, if tripped.
pub async fn breaker(tx: &mut dyn Tx) -> Result<Option<BreakerState>, RespondError> {
    tx.setting(BREAKER_KEY)
        .await?
        .map(|json| parse_breaker(&json))
        .transpose()
}

/// The circuit breaker's state as the store has it, for status displays.
pub async fn breaker_status(store: &dyn Store) -> Result<Option<BreakerState>, RespondError> {
    store
        .setting(BREAKER_KEY)
        .await?
        .map(|json| parse_breaker(&json))
        .transpose()
}

fn parse_breaker(json: &str) -> Result<BreakerState, RespondError> {
    serde_json::from_str(json)
        .map_err(|e| RespondError::Invalid(format!("stored breaker state is unreadable: {e}")))
}

impl Judgement {
    /// What a recorded-only (simulated or shadow) decision is built from:
    /// the plan, or the request as asked when enforce would not create one.
    fn into_plan(self, requested: Option<TimeDelta>) -> Plan {
        match self {
            Judgement::Create(plan) => plan,
            Judgement::Refuse(_) | Judgement::Duplicate(_) => Plan::plain(requested),
        }
    }
}

impl Plan {
    fn plain(duration: Option<TimeDelta>) -> Self {
        Self {
            state: DecisionState::Active,
            hold: None,
            trips: None,
            duration,
            offence: None,
            notes: Vec::new(),
        }
    }
}

fn system() -> Actor {
    Actor::System {
        component: "responder".to_owned(),
    }
}

fn user_actor(name: &str) -> Actor {
    Actor::User {
        name: name.to_owned(),
    }
}

fn actor_of(origin: &Origin) -> Actor {
    match origin {
        Origin::Playbook { playbook, step, .. } => Actor::Playbook {
            playbook: playbook.clone(),
            step: step.clone(),
        },
        Origin::User { name } => user_actor(name),
        Origin::Import { source } => Actor::System {
            component: format!("import:{source}"),
        },
    }
}
