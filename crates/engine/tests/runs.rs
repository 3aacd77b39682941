#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! Durable playbook runs through the engine and the executor over a real
//! store: database steps in the triggering batch, approvals that wake a
//! run, retries on the clock, manual and scheduled starts, per-playbook
//! concurrency and the backlog that holds batches back.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_engine::runs::{RunError, answer_approval, start_run, start_scheduled};

/// A responder named `name` (may answer approvals and cancel runs), as a
/// key would authenticate them.
fn who(name: &str) -> riposte_auth::Identity {
    riposte_auth::Identity {
        user: name.to_owned(),
        user_id: Some(riposte_model::UserId::new()),
        role: riposte_model::Role::Responder,
        via: riposte_auth::Via::Key(riposte_model::KeyId::from_bytes([1; 8])),
        scope: None,
    }
}
use riposte_engine::{Engine, Executor};
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};
use riposte_model::{
    ApprovalStatus, Clock, DecisionState, ManualClock, RunStatus, StepStatus, Timestamp,
    TriggerKind,
};
use riposte_playbooks::{NoEffects, parse_playbook};
use riposte_respond::{Enforcer, FileEnforcer, Responder, ResponderConfig};
use riposte_store::{RunFilter, Store};
use serde_json::json;

const RULES: &str = r#"
version: 1
rules:
  - id: scan
    title: Port scan
    kind: match
    match: { event.dataset: sshd }
    group_by: [source.ip]
    severity: high
    confidence: 90
"#;

const ASK_THEN_BAN: &str = r#"
version: 1
id: ask-then-ban
name: Ask, then ban
trigger: { alert: { rules: [scan] } }
steps:
  - id: case
    action: case.attach
    with: { key: "scan:{{ alert.group['source.ip'] }}", title: "scan" }
  - id: ask
    wait_for:
      approval: { prompt: "Ban {{ alert.group['source.ip'] }}?", approvers: [alice], timeout: 1h }
  - id: ban
    if: steps.ask.approved
    action: decision
    with: { kind: ban, scope: ip, value: "{{ alert.group['source.ip'] }}", duration: 4h }
  - id: note
    action: case.comment
    with: { text: "banned by {{ steps.ask.by }}" }
"#;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
}

struct World {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    engine: Engine,
    executor: Executor,
    blocklist: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn world(playbooks: &[&str]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = riposte_store::open(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let blocklist = dir.path().join("blocklist.txt");
    let responder = Arc::new(Responder::new(
        ResponderConfig::default(),
        vec![Enforcer::File(FileEnforcer::new(blocklist.clone()))],
    ));
    let rules = riposte_detect::parse_rules("rules.yaml", RULES).unwrap();
    let playbooks = playbooks
        .iter()
        .enumerate()
        .map(|(i, t)| parse_playbook(&format!("pb{i}.yaml"), t).unwrap())
        .collect();
    let engine = Engine::new(
        store.clone(),
        Arc::new(rules),
        playbooks,
        responder,
        clock.clone(),
    );
    let executor = engine.executor(Arc::new(NoEffects));
    World {
        store,
        clock,
        engine,
        executor,
        blocklist,
        _dir: dir,
    }
}

impl World {
    async fn ingest(&mut self, ip: &str) -> riposte_engine::BatchReport {
        let line = format!(
            "Mar 14 09:00:00 host sshd[1]: Failed password for root from {ip} port 4242 ssh2"
        );
        let ctx = DecodeCtx {
            source: "auth",
            now: self.clock.now(),
        };
        let len = line.len() as u64;
        let batch = decode_batch(
            Format::Syslog,
            &[Line::new(0, line.into_bytes(), len)],
            &ctx,
        );
        self.engine.commit_batch(batch, None).await.unwrap()
    }
}

#[tokio::test]
async fn an_approval_holds_the_run_and_the_answer_resumes_it_in_the_executor() {
    let mut w = world(&[ASK_THEN_BAN]).await;
    let report = w.ingest("203.0.113.7").await;
    assert_eq!(report.queued_runs, 1);
    assert_eq!(report.cases.len(), 1, "the case step ran in the batch");
    let run = &report.runs[0];
    assert_eq!(run.status, RunStatus::Waiting);
    assert_eq!(run.next_at, Some(t0() + TimeDelta::hours(1)));
    assert_eq!(run.step("ask").unwrap().status, StepStatus::Waiting);
    let pending = w
        .store
        .list_approvals(Some(ApprovalStatus::Pending), 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].prompt, "Ban 203.0.113.7?");

    // Nothing is due before an answer.
    assert_eq!(w.executor.run_due().await.unwrap(), 0);
    let err = answer_approval(
        w.store.as_ref(),
        pending[0].id,
        true,
        &who("mallory"),
        None,
        t0(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RunError::Forbidden(_)), "{err}");
    w.clock.set(t0() + TimeDelta::minutes(3));
    answer_approval(
        w.store.as_ref(),
        pending[0].id,
        true,
        &who("alice"),
        Some("confirmed".into()),
        w.clock.now(),
    )
    .await
    .unwrap();
    let err = answer_approval(
        w.store.as_ref(),
        pending[0].id,
        false,
        &who("alice"),
        None,
        w.clock.now(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("approval {} is already approved by alice", pending[0].id)
    );
    assert_eq!(w.executor.run_due().await.unwrap(), 1);
    let run = w.store.get_run(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.message);
    let decisions = w.store.effective_decisions(w.clock.now()).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].value, "203.0.113.7");
    assert_eq!(decisions[0].state, DecisionState::Active);
    // The executor updated the enforcer.
    assert_eq!(
        std::fs::read_to_string(&w.blocklist).unwrap(),
        "203.0.113.7\n"
    );
    let case = w.store.get_case(run.case.unwrap()).await.unwrap().unwrap();
    assert_eq!(case.comments.len(), 1);
    assert_eq!(case.comments[0].text, "banned by alice");
    assert_eq!(case.comments[0].author, "playbook:ask-then-ban/note");
    // Steps are audited once each.
    let audit = w.store.list_audit(100).await.unwrap();
    let steps: Vec<&str> = audit
        .iter()
        .filter(|a| a.action == "playbook.step")
        .map(|a| a.reason.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "case.comment succeeded",
            "decision succeeded",
            "wait_for.approval succeeded: approved by alice",
            "case.attach succeeded",
        ]
    );
}

#[tokio::test]
async fn an_outside_step_fails_over_its_retries_on_the_clock() {
    let text = r#"
version: 1
id: notify
name: Notify
trigger: { alert: { rules: [scan] } }
steps:
  - id: hook
    action: http.request
    with: { url: "http://127.0.0.1:9/hook", method: POST, json: { ip: "{{ alert.group['source.ip'] }}" } }
    retry: { attempts: 2, backoff: 30s }
"#;
    let mut w = world(&[text]).await;
    let report = w.ingest("203.0.113.7").await;
    let id = report.runs[0].id;
    // Left for the executor: the outside step is marked running, not done.
    assert_eq!(report.runs[0].status, RunStatus::Waiting);
    assert_eq!(
        report.runs[0].step("hook").unwrap().status,
        StepStatus::Running
    );
    assert_eq!(w.executor.run_due().await.unwrap(), 1);
    let run = w.store.get_run(id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Waiting);
    assert_eq!(run.next_at, Some(t0() + TimeDelta::seconds(30)));
    assert_eq!(
        w.executor.run_due().await.unwrap(),
        0,
        "not due before its backoff"
    );
    w.clock.set(t0() + TimeDelta::seconds(30));
    assert_eq!(w.executor.run_due().await.unwrap(), 1);
    let run = w.store.get_run(id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let hook = run.step("hook").unwrap();
    assert_eq!((hook.status, hook.attempts), (StepStatus::Failed, 2));
    assert_eq!(
        hook.message.as_deref(),
        Some("http.request is not available in this process")
    );
}

const MANUAL: &str = r#"
version: 1
id: contain
name: Contain by hand
concurrency: 1
trigger: { manual: true, schedule: { cron: "0 7 * * *" } }
inputs:
  ip: { type: ip, required: true }
steps:
  - id: ban
    action: decision
    with: { kind: ban, scope: ip, value: "{{ inputs.ip }}", duration: 1h, reason: "by hand" }
"#;

#[tokio::test]
async fn manual_runs_check_inputs_and_respect_concurrency() {
    let w = world(&[MANUAL]).await;
    let set = w.executor.playbooks().clone();
    let err = start_run(
        w.store.as_ref(),
        &set,
        "contain",
        TriggerKind::Manual,
        json!({"ip": "nope"}),
        Some(&who("alice")),
        t0(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid inputs: input ip: \"nope\" is not of type ip"
    );
    let err = start_run(
        w.store.as_ref(),
        &set,
        "contain",
        TriggerKind::Webhook,
        json!({}),
        None,
        t0(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "playbook \"contain\" has no webhook trigger"
    );
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        start_run(
            w.store.as_ref(),
            &set,
            "contain",
            TriggerKind::Manual,
            json!({"ip": ip}),
            Some(&who("alice")),
            t0(),
        )
        .await
        .unwrap();
    }
    // concurrency: 1 — one run per pass, the others go back to the queue.
    assert_eq!(w.executor.run_due().await.unwrap(), 1);
    assert_eq!(w.store.count_runs(RunStatus::Succeeded).await.unwrap(), 1);
    assert_eq!(w.store.count_runs(RunStatus::Pending).await.unwrap(), 2);
    assert_eq!(w.executor.run_until_idle().await.unwrap(), 2);
    let done = w
        .store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Succeeded),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(done.len(), 3);
    assert_eq!(
        done[0].trigger.as_ref().unwrap().by.as_deref(),
        Some("alice")
    );
    let mut values: Vec<String> = w
        .store
        .effective_decisions(t0())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect();
    values.sort();
    assert_eq!(values, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
}

#[tokio::test]
async fn schedules_start_one_run_per_due_time_and_none_at_first_sight() {
    let w = world(&[MANUAL]).await;
    let set = w.executor.playbooks().clone();
    let day = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap();
    // First sight: remembered, nothing started.
    assert!(
        start_scheduled(w.store.as_ref(), &set, day(14, 9, 0))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        start_scheduled(w.store.as_ref(), &set, day(15, 6, 59))
            .await
            .unwrap()
            .is_empty()
    );
    let started = start_scheduled(w.store.as_ref(), &set, day(15, 7, 1))
        .await
        .unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].trigger.as_ref().unwrap().data["scheduled_at"],
        "2026-03-15T07:00:00Z"
    );
    assert!(
        start_scheduled(w.store.as_ref(), &set, day(15, 8, 0))
            .await
            .unwrap()
            .is_empty()
    );
    // Down for three days: one run, for the latest time.
    let started = start_scheduled(w.store.as_ref(), &set, day(18, 12, 0))
        .await
        .unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].trigger.as_ref().unwrap().data["scheduled_at"],
        "2026-03-18T07:00:00Z"
    );
    // A scheduled run of a playbook that needs inputs fails on them.
    w.clock.set(day(18, 12, 0));
    w.executor.run_until_idle().await.unwrap();
    let failed = w
        .store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Failed),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(
        failed[0].message.as_deref(),
        Some("inputs: input ip is required")
    );
}

#[tokio::test]
async fn a_backlog_over_its_bound_holds_new_batches_back() {
    let w = world(&[MANUAL]).await;
    let set = w.executor.playbooks().clone();
    for ip in ["198.51.100.1", "198.51.100.2"] {
        start_run(
            w.store.as_ref(),
            &set,
            "contain",
            TriggerKind::Manual,
            json!({"ip": ip}),
            None,
            t0(),
        )
        .await
        .unwrap();
    }
    let engine = w.engine;
    let executor = Arc::new(w.executor);
    let engine = engine.with_executor(executor.wake_handle(), 1);
    let held = tokio::spawn(async move {
        engine.hold_back(1).await;
        engine
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !held.is_finished(),
        "two runs due, bound 1: the batch waits"
    );
    executor.run_until_idle().await.unwrap();
    let engine = held.await.unwrap();
    assert_eq!(engine.backlog_bound(), Some(1));
}

const OPEN_CASE: &str = r#"
version: 1
id: open-case
name: Open a case
trigger: { alert: { rules: [scan] } }
steps:
  - id: case
    action: case.attach
    with: { key: "scan:{{ alert.group['source.ip'] }}", title: "scan" }
"#;

const ON_NEW_CASE: &str = r#"
version: 1
id: on-new-case
name: Triage new cases
trigger: { case: { on: [created], min_severity: high } }
steps:
  - id: note
    action: case.comment
    with: { text: "triaged {{ case.title }}" }
"#;

const ON_UPDATED_CASE: &str = r#"
version: 1
id: on-updated-case
name: Watch busy cases
trigger: { case: { on: [updated], cooldown: 10m } }
steps:
  - id: note
    action: case.comment
    with: { text: "still busy" }
"#;

#[tokio::test]
async fn cases_opened_or_updated_by_runs_start_case_playbooks_with_a_cooldown() {
    let mut w = world(&[OPEN_CASE, ON_NEW_CASE, ON_UPDATED_CASE]).await;
    let report = w.ingest("203.0.113.7").await;
    let playbooks: Vec<&str> = report.runs.iter().map(|r| r.playbook.as_str()).collect();
    assert_eq!(playbooks, ["open-case", "on-new-case"]);
    let case_id = report.runs[0].case.unwrap();
    assert_eq!(
        report.runs[1].trigger.as_ref().unwrap().data["id"],
        case_id.to_string()
    );
    // Updated (a second alert attached): the update playbook, not the one
    // for new cases.
    w.clock.set(t0() + TimeDelta::minutes(1));
    let report = w.ingest("203.0.113.7").await;
    let playbooks: Vec<&str> = report.runs.iter().map(|r| r.playbook.as_str()).collect();
    assert_eq!(playbooks, ["open-case", "on-updated-case"]);
    // Within the cooldown: nothing more.
    w.clock.set(t0() + TimeDelta::minutes(5));
    let report = w.ingest("203.0.113.7").await;
    let playbooks: Vec<&str> = report.runs.iter().map(|r| r.playbook.as_str()).collect();
    assert_eq!(playbooks, ["open-case"]);
    w.clock.set(t0() + TimeDelta::minutes(12));
    let report = w.ingest("203.0.113.7").await;
    assert_eq!(report.runs.len(), 2);
    let case = w.store.get_case(case_id).await.unwrap().unwrap();
    let notes: Vec<&str> = case.comments.iter().map(|c| c.text.as_str()).collect();
    // The comments did not start further case runs.
    assert_eq!(notes, ["triaged scan", "still busy", "still busy"]);
}

#[tokio::test]
async fn a_case_opened_by_the_executor_starts_its_playbooks_there() {
    let late_case = r#"
version: 1
id: late-case
name: Ask, then open a case
trigger: { alert: { rules: [scan] } }
steps:
  - id: wait
    wait_for: { duration: 1m }
  - id: case
    action: case.create
    with: { title: "after a minute", severity: critical }
"#;
    let mut w = world(&[late_case, ON_NEW_CASE]).await;
    let report = w.ingest("198.51.100.7").await;
    assert_eq!(report.runs.len(), 1);
    w.clock.set(t0() + TimeDelta::minutes(1));
    assert_eq!(w.executor.run_until_idle().await.unwrap(), 2);
    let runs = w.store.list_runs(&RunFilter::default()).await.unwrap();
    let done: Vec<(&str, RunStatus)> = runs
        .iter()
        .map(|r| (r.playbook.as_str(), r.status))
        .collect();
    assert_eq!(
        done,
        [
            ("on-new-case", RunStatus::Succeeded),
            ("late-case", RunStatus::Succeeded)
        ]
    );
    let case = w
        .store
        .get_case(runs[1].case.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.comments[0].text, "triaged after a minute");
}

#[tokio::test]
async fn enrich_intel_reads_what_the_feeds_say_and_a_condition_uses_it() {
    use riposte_model::{Confidence, Indicator, IndicatorKind};
    let text = r#"
version: 1
id: check-intel
name: Ban what the feeds know
trigger: { manual: true }
inputs:
  ip: { type: ip, required: true }
steps:
  - id: intel
    action: enrich.intel
    with: { value: "{{ inputs.ip }}" }
  - id: ban
    if: "steps.intel.fit_for_detection and steps.intel.max_confidence >= 80"
    action: decision
    with: { kind: ban, scope: ip, value: "{{ inputs.ip }}", duration: 1h, reason: "known to {{ steps.intel.indicators[0].feed }}" }
"#;
    let w = world(&[text]).await;
    let mut botnet = Indicator::new(IndicatorKind::Cidr, "203.0.113.0/24", "feodo");
    botnet.confidence = Confidence::new(90).unwrap();
    botnet.to_ids = true;
    let mut tx = w.store.begin().await.unwrap();
    tx.upsert_indicators(&[botnet], t0()).await.unwrap();
    tx.commit().await.unwrap();
    let set = w.executor.playbooks().clone();
    for ip in ["203.0.113.7", "198.51.100.7"] {
        start_run(
            w.store.as_ref(),
            &set,
            "check-intel",
            TriggerKind::Manual,
            json!({"ip": ip}),
            None,
            t0(),
        )
        .await
        .unwrap();
    }
    assert_eq!(w.executor.run_until_idle().await.unwrap(), 2);
    let runs = w.store.list_runs(&RunFilter::default()).await.unwrap();
    let by_ip = |ip: &str| {
        runs.iter()
            .find(|r| r.trigger.as_ref().unwrap().data["ip"] == ip)
            .unwrap()
    };
    let known = by_ip("203.0.113.7");
    let intel = &known.step("intel").unwrap().output;
    assert_eq!(
        (
            intel["found"].clone(),
            intel["max_confidence"].clone(),
            intel["indicators"][0]["value"].clone()
        ),
        (json!(true), json!(90), json!("203.0.113.0/24"))
    );
    assert_eq!(known.step("ban").unwrap().status, StepStatus::Succeeded);
    let unknown = by_ip("198.51.100.7");
    assert_eq!(unknown.step("intel").unwrap().output["found"], false);
    assert_eq!(unknown.step("ban").unwrap().status, StepStatus::Skipped);
    let decisions = w.store.effective_decisions(t0()).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].reason, "known to feodo");
}

/// An outside action that looks whether another executor could claim the
/// run it is part of, then takes two minutes on the clock (longer than the
/// executor's one-minute lease; the heartbeat, on real time, never beats).
#[derive(Debug)]
struct SlowEffects {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    claimable: std::sync::Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl riposte_playbooks::Effects for SlowEffects {
    async fn perform(
        &self,
        _call: &riposte_playbooks::StepCall<'_>,
    ) -> riposte_playbooks::Performed {
        let now = self.clock.now();
        let mut tx = self.store.begin().await.unwrap();
        let claimed = tx
            .claim_runs(now, now + TimeDelta::minutes(1), 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        self.claimable.lock().unwrap().push(claimed.len());
        self.clock.set(now + TimeDelta::minutes(2));
        riposte_playbooks::Performed::Done(riposte_playbooks::ActionResult::done(json!({})))
    }
}

#[tokio::test]
async fn a_run_longer_than_its_lease_is_never_claimable_while_it_runs() {
    let text = r#"
version: 1
id: slow
name: Slow
trigger: { manual: true }
steps:
  - id: one
    action: http.request
    with: { url: "https://tickets.example.org/a" }
  - id: two
    action: http.request
    with: { url: "https://tickets.example.org/b" }
"#;
    let w = world(&[text]).await;
    let effects = Arc::new(SlowEffects {
        store: w.store.clone(),
        clock: w.clock.clone(),
        claimable: std::sync::Mutex::new(Vec::new()),
    });
    let executor = w.engine.executor(effects.clone());
    let run = start_run(
        w.store.as_ref(),
        w.engine.playbooks(),
        "slow",
        TriggerKind::Manual,
        json!({}),
        Some(&who("alice")),
        w.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(executor.run_due().await.unwrap(), 1);
    // The save after the first step holds the run a whole lease from then
    // (not from when it was claimed, two minutes before): while the second
    // step runs, no other executor can take it.
    assert_eq!(*effects.claimable.lock().unwrap(), vec![0, 0]);
    let run = w.store.get_run(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.message);
}

#[tokio::test]
async fn a_cancelled_run_stays_cancelled_and_its_approval_ends() {
    let mut w = world(&[ASK_THEN_BAN]).await;
    let report = w.ingest("203.0.113.7").await;
    let waiting = report.runs[0].clone();
    assert_eq!(waiting.status, RunStatus::Waiting);
    let approval = w
        .store
        .list_approvals(Some(ApprovalStatus::Pending), 10)
        .await
        .unwrap()
        .remove(0);
    let cancelled = riposte_engine::runs::cancel_run(
        w.store.as_ref(),
        waiting.id,
        &who("alice"),
        "wrong host",
        w.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    // Its question is closed: nobody can approve what will never run.
    let closed = w.store.get_approval(approval.id).await.unwrap().unwrap();
    assert_eq!(closed.status, ApprovalStatus::Expired);
    assert_eq!(closed.comment.as_deref(), Some("the run ended (cancelled)"));
    let err = answer_approval(
        w.store.as_ref(),
        approval.id,
        true,
        &who("alice"),
        None,
        w.clock.now(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("approval {} is already expired", approval.id)
    );
    // An executor that still held the run in memory cannot save over the
    // cancellation.
    let mut running = waiting.clone();
    running.status = RunStatus::Running;
    let mut tx = w.store.begin().await.unwrap();
    let err = tx
        .save_run(&running, Some(w.clock.now() + TimeDelta::minutes(1)))
        .await
        .unwrap_err();
    drop(tx);
    assert_eq!(
        err.to_string(),
        format!("run {} was cancelled; not saved", waiting.id)
    );
    let stored = w.store.get_run(waiting.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Cancelled);
    assert_eq!(w.executor.run_due().await.unwrap(), 0);
}
