//! The playbook actions whose effects land in Riposte's own store (cases
//! and decisions): performed inside a transaction, by the batch that
//! triggered a run or by the executor, together with the step's record.

use riposte_model::{
    Actor, Alert, AuditEntry, Case, CaseComment, CaseId, CaseStatus, Decision, DecisionKind,
    Origin, Scope, Severity, Timestamp, parse_duration,
};
use riposte_playbooks::{ActionResult, Performed, StepCall};
use riposte_respond::{DecisionRequest, Outcome, Responder};
use riposte_store::Tx;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::Refusal;

/// What database actions changed, for the caller's report and follow-ups
/// (enforcers, case triggers).
#[derive(Debug, Default)]
pub(crate) struct DbEffects {
    pub decisions: Vec<Decision>,
    pub refusals: Vec<Refusal>,
    /// Alerts raised as a side effect (the circuit breaker's).
    pub alerts: Vec<Alert>,
    /// Cases written, with whether they were created.
    pub cases: Vec<(Case, bool)>,
}

impl DbEffects {
    fn touch(&mut self, case: &Case, created: bool) {
        merge_cases(&mut self.cases, vec![(case.clone(), created)]);
    }
}

/// Adds cases to a list of cases touched, each once: a later write
/// replaces the case, and "created" sticks to the first.
pub(crate) fn merge_cases(into: &mut Vec<(Case, bool)>, from: Vec<(Case, bool)>) {
    for (case, created) in from {
        match into.iter_mut().find(|(c, _)| c.id == case.id) {
            Some(slot) => slot.0 = case,
            None => into.push((case, created)),
        }
    }
}

fn input<T: for<'de> Deserialize<'de>>(call: &StepCall<'_>) -> Result<T, String> {
    serde_json::from_value(call.input.clone()).map_err(|e| format!("inputs: {e}"))
}

fn actor(call: &StepCall<'_>) -> Actor {
    Actor::Playbook {
        playbook: call.playbook.id.clone(),
        step: call.step.to_owned(),
    }
}

fn alert_of(call: &StepCall<'_>) -> Option<Alert> {
    serde_json::from_value(call.alert.clone()).ok()
}

#[derive(Deserialize)]
struct CaseAttach {
    key: String,
    title: String,
}

#[derive(Deserialize)]
struct CaseCreate {
    title: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    assign: Option<String>,
}

#[derive(Deserialize)]
struct CaseChange {
    #[serde(default)]
    case: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    assign: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Deserialize)]
struct DecisionInput {
    kind: DecisionKind,
    scope: Scope,
    value: String,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    confidence: Option<u8>,
}

/// Performs a database action in `tx`.
pub(crate) async fn perform(
    tx: &mut dyn Tx,
    responder: &Responder,
    call: &StepCall<'_>,
    now: Timestamp,
    fx: &mut DbEffects,
) -> Performed {
    match perform_inner(tx, responder, call, now, fx).await {
        Ok(r) => Performed::Done(r),
        Err(e) => Performed::Failed(e),
    }
}

async fn perform_inner(
    tx: &mut dyn Tx,
    responder: &Responder,
    call: &StepCall<'_>,
    now: Timestamp,
    fx: &mut DbEffects,
) -> Result<ActionResult, String> {
    let e = |e: riposte_store::StoreError| e.to_string();
    match call.spec.name {
        "case.attach" => {
            let i: CaseAttach = input(call)?;
            let alert = alert_of(call);
            let existing = tx.open_case_by_key(&i.key).await.map_err(e)?;
            let created = existing.is_none();
            let mut case = existing.unwrap_or_else(|| {
                new_case(
                    i.title,
                    Some(i.key.clone()),
                    alert.as_ref().map_or(Severity::Medium, |a| a.severity),
                    now,
                )
            });
            if let Some(alert) = &alert {
                case.attach(alert, now);
            }
            tx.upsert_case(&case).await.map_err(e)?;
            let (action, reason) = match (&alert, created) {
                (Some(a), true) => (
                    "case.create",
                    format!("opened for alert {} ({})", a.id, a.rule_id),
                ),
                (Some(a), false) => (
                    "case.attach",
                    format!("alert {} ({}) attached", a.id, a.rule_id),
                ),
                (None, _) => ("case.create", "opened".to_owned()),
            };
            audit(tx, call, now, action, &case, reason).await?;
            let output =
                json!({"case_id": case.id, "created": created, "alerts": case.alerts.len()});
            fx.touch(&case, created);
            Ok(ActionResult::done(output))
        }
        "case.create" => {
            let i: CaseCreate = input(call)?;
            let severity = match &i.severity {
                Some(s) => s.parse::<Severity>().map_err(|e| e.to_string())?,
                None => alert_of(call).map_or(Severity::Medium, |a| a.severity),
            };
            let mut case = new_case(i.title, i.key, severity, now);
            if let Some(alert) = alert_of(call) {
                case.attach(&alert, now);
            }
            case.assignee = i.assign;
            if let Some(text) = i.description {
                case.comments.push(CaseComment {
                    at: now,
                    author: actor(call).to_string(),
                    text,
                });
            }
            tx.upsert_case(&case).await.map_err(e)?;
            audit(tx, call, now, "case.create", &case, "opened".to_owned()).await?;
            fx.touch(&case, true);
            Ok(ActionResult::done(
                json!({"case_id": case.id, "created": true}),
            ))
        }
        "case.update" | "case.comment" | "case.assign" | "escalate" => {
            let i: CaseChange = input(call)?;
            let id = case_id(call, i.case.as_deref())?;
            let Some(mut case) = tx_case(tx, id).await? else {
                return Err(format!("case {id} not found"));
            };
            let mut changes = Vec::new();
            if let Some(t) = i.title {
                changes.push(format!("title {t:?}"));
                case.title = t;
            }
            if let Some(s) = i.severity {
                let s = s.parse::<Severity>().map_err(|e| e.to_string())?;
                if call.spec.name == "escalate" && s <= case.severity {
                    changes.push(format!(
                        "severity stays {} (not raised to {s})",
                        case.severity
                    ));
                } else {
                    changes.push(format!("severity {s}"));
                    case.severity = s;
                }
            }
            if let Some(s) = i.status {
                let s = s.parse::<CaseStatus>().map_err(|e| e.to_string())?;
                changes.push(format!("status {s}"));
                case.status = s;
            }
            if let Some(to) = i.to.or(i.assign) {
                changes.push(format!("assigned to {to}"));
                case.assignee = Some(to);
            }
            if let Some(text) = i.text.or(i.comment) {
                changes.push("comment".to_owned());
                case.comments.push(CaseComment {
                    at: now,
                    author: actor(call).to_string(),
                    text,
                });
            }
            case.updated_at = now;
            tx.upsert_case(&case).await.map_err(e)?;
            let verb = match call.spec.name {
                "case.update" => "case.update",
                "case.comment" => "case.comment",
                "case.assign" => "case.assign",
                _ => "case.escalate",
            };
            audit(tx, call, now, verb, &case, changes.join(", ")).await?;
            fx.touch(&case, false);
            Ok(ActionResult::done(json!({
                "case_id": case.id, "assignee": case.assignee, "severity": case.severity,
                "status": case.status, "comments": case.comments.len(),
            })))
        }
        "decision" | "decision.ban" => {
            let mut i: DecisionInput = if call.spec.name == "decision.ban" {
                let mut v = call.input.clone();
                v["kind"] = json!("ban");
                serde_json::from_value(v).map_err(|e| format!("inputs: {e}"))?
            } else {
                input(call)?
            };
            let alert = alert_of(call);
            let duration = i.duration.as_deref().map(parse_duration).transpose()?;
            let confidence = match i.confidence {
                Some(c) => riposte_model::Confidence::new(c).map_err(|e| e.to_string())?,
                None => alert
                    .as_ref()
                    .map_or(riposte_model::Confidence::MAX, |a| a.confidence),
            };
            let reason = i.reason.take().unwrap_or_else(|| {
                alert
                    .as_ref()
                    .map(|a| a.summary.clone())
                    .unwrap_or_else(|| format!("playbook {}", call.playbook.id))
            });
            let mut evidence = vec![format!("run:{}", call.run.id)];
            if let Some(a) = &alert {
                evidence.insert(0, format!("alert:{}", a.id));
            }
            let req = DecisionRequest {
                kind: i.kind,
                scope: i.scope,
                value: i.value,
                duration,
                reason,
                confidence,
                origin: Origin::Playbook {
                    playbook: call.playbook.id.clone(),
                    step: call.step.to_owned(),
                    run: call.run.id,
                    rule: alert.as_ref().map(|a| a.rule_id.clone()),
                    alert: alert.as_ref().map(|a| a.id),
                },
                mode: call.mode,
                evidence,
            };
            let decided = responder
                .decide(tx, req, now)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(a) = decided.breaker_alert {
                fx.alerts.push(a);
            }
            Ok(match decided.outcome {
                Outcome::Created(d) => {
                    let output = json!({
                        "decision_id": d.id, "value": d.value, "state": d.state,
                        "expires_at": d.expires_at,
                    });
                    let message = d
                        .held
                        .as_ref()
                        .map(|why| format!("held for approval: {why}"));
                    fx.decisions.push(d);
                    ActionResult {
                        done: true,
                        output,
                        message,
                    }
                }
                Outcome::AlreadyActive(d) => ActionResult {
                    done: false,
                    output: json!({"decision_id": d.id, "value": d.value, "expires_at": d.expires_at}),
                    message: Some(
                        if d.state == riposte_model::DecisionState::PendingApproval {
                            format!(
                                "{} already waits for approval to be {}",
                                d.value,
                                past(d.kind)
                            )
                        } else {
                            format!(
                                "{} already {} until {}",
                                d.value,
                                past(d.kind),
                                d.expires_at
                                    .map_or_else(|| "forever".to_owned(), |t| t.to_rfc3339())
                            )
                        },
                    ),
                },
                Outcome::Refused { value, reason } => {
                    fx.refusals.push(Refusal {
                        value: value.clone(),
                        reason: reason.clone(),
                        playbook: call.playbook.id.clone(),
                        step: call.step.to_owned(),
                    });
                    ActionResult {
                        done: false,
                        output: json!({"refused": value}),
                        message: Some(format!("refused: {reason}")),
                    }
                }
            })
        }
        other => Err(format!("{other} is not a database action")),
    }
}

fn past(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Ban => "banned",
        DecisionKind::Throttle => "throttled",
        DecisionKind::Captcha => "challenged",
        DecisionKind::DisableAccount => "disabled",
        DecisionKind::QuarantineHost => "quarantined",
    }
}

fn new_case(title: String, key: Option<String>, severity: Severity, now: Timestamp) -> Case {
    Case {
        id: CaseId::new(),
        title,
        status: CaseStatus::Open,
        severity,
        group_key: key,
        alerts: Vec::new(),
        observables: Vec::new(),
        created_at: now,
        updated_at: now,
        assignee: None,
        comments: Vec::new(),
    }
}

/// The case a step names, or the run's: the one an earlier step opened or
/// attached to, or the case that triggered it.
fn case_id(call: &StepCall<'_>, given: Option<&str>) -> Result<CaseId, String> {
    if let Some(text) = given {
        return text
            .parse()
            .map_err(|_| format!("{text:?} is not a case id"));
    }
    if let Some(id) = call.run.case {
        return Ok(id);
    }
    call.run
        .trigger
        .as_ref()
        .filter(|t| t.kind == riposte_model::TriggerKind::Case)
        .and_then(|t| t.data.get("id"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            "no case: name one with `case:`, or open or attach one in an earlier step".to_owned()
        })
}

async fn tx_case(tx: &mut dyn Tx, id: CaseId) -> Result<Option<Case>, String> {
    tx.get_case(id).await.map_err(|e| e.to_string())
}

async fn audit(
    tx: &mut dyn Tx,
    call: &StepCall<'_>,
    now: Timestamp,
    action: &str,
    case: &Case,
    reason: String,
) -> Result<(), String> {
    let entry = AuditEntry::new(
        now,
        actor(call),
        action,
        format!("case:{}", case.id),
        reason,
    )
    .with_details(json!({"run": call.run.id}));
    tx.audit(&entry).await.map_err(|e| e.to_string())
}

/// `enrich.intel`: what the threat-intel feeds say about a value (the
/// store's indicators: the value, networks containing an address, parent
/// domains covering subdomains), for a later step's condition.
pub(crate) async fn enrich_intel(
    store: &dyn riposte_store::Store,
    call: &StepCall<'_>,
    now: Timestamp,
) -> Performed {
    let value = call.input["value"].as_str().unwrap_or_default();
    let kind = match call.input.get("kind").and_then(Value::as_str) {
        Some(k) => match k.parse::<riposte_model::IndicatorKind>() {
            Ok(k) => Some(k),
            Err(e) => return Performed::Failed(format!("enrich.intel: {e}")),
        },
        None => None,
    };
    match riposte_intel::lookup::lookup(store, kind, value).await {
        Ok(l) => {
            let live: Vec<&riposte_model::Indicator> =
                l.found.iter().filter(|i| i.is_valid_at(now)).collect();
            let indicators: Vec<Value> = live
                .iter()
                .map(|i| {
                    json!({
                        "feed": i.feed, "kind": i.kind, "value": i.value,
                        "confidence": i.confidence, "tlp": i.tlp, "pap": i.pap,
                        "to_ids": i.to_ids, "tags": i.tags, "description": i.description,
                        "valid_until": i.valid_until,
                    })
                })
                .collect();
            Performed::Done(ActionResult::done(json!({
                "value": l.value,
                "kind": l.kind,
                "found": !live.is_empty(),
                "indicators": indicators,
                "max_confidence": live.iter().map(|i| i.confidence).max(),
                "fit_for_detection": live.iter().any(|i| i.to_ids),
            })))
        }
        Err(e) => Performed::Failed(format!("enrich.intel: {e}")),
    }
}
