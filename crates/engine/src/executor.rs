//! The playbook executor: takes due runs from the store (new ones whose
//! next step has outside effects, retries, approvals answered or timed
//! out, timers), runs each until it finishes or must wait again, and saves
//! it after every step. Runs live in the store, not in memory, so a waiting
//! run costs a row, and a restart (even `kill -9`) resumes every run where
//! it stopped.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use futures_util::StreamExt;
use riposte_model::{
    Actor, Approval, ApprovalStatus, AuditEntry, Clock, PlaybookRun, RunStatus, StepStatus,
    Timestamp,
};
use riposte_playbooks::{
    Approvals, Effect, Performed, Playbook, PlaybookSet, Runtime, Secrets, StepCall,
};
pub use riposte_playbooks::{Effects, NoEffects};
use riposte_respond::Responder;
use riposte_store::{Store, StoreError, Tx};
use tokio::sync::{Notify, watch};

use crate::dbactions::{self, DbEffects};

/// How the executor works.
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    /// Runs executed at once.
    pub workers: usize,
    /// How long a run taken by this executor stays its own: renewed every
    /// third of it while the run executes, so after a crash (even `kill
    /// -9`) another executor, or this one restarted, takes the run up
    /// within this time.
    pub lease: TimeDelta,
    /// How often it looks for due runs when nothing wakes it.
    pub poll: Duration,
    /// Runs taken per look.
    pub batch: u32,
    /// One attempt of an outside action, unless its step says otherwise.
    pub action_timeout: Duration,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            workers: 8,
            lease: TimeDelta::seconds(60),
            poll: Duration::from_secs(1),
            batch: 64,
            action_timeout: Duration::from_secs(90),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Executor {
    store: Arc<dyn Store>,
    responder: Arc<Responder>,
    playbooks: PlaybookSet,
    effects: Arc<dyn Effects>,
    secrets: Secrets,
    clock: Arc<dyn Clock>,
    config: ExecutorConfig,
    wake: Arc<Notify>,
    /// Runs executing now, per playbook (its `concurrency` caps them).
    running: Mutex<HashMap<String, u32>>,
    case_triggers: crate::CaseTriggers,
}

impl Executor {
    pub fn new(
        store: Arc<dyn Store>,
        responder: Arc<Responder>,
        playbooks: PlaybookSet,
        effects: Arc<dyn Effects>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            responder,
            playbooks,
            effects,
            secrets: Secrets::default(),
            clock,
            config: ExecutorConfig::default(),
            wake: Arc::new(Notify::new()),
            running: Mutex::new(HashMap::new()),
            case_triggers: crate::CaseTriggers::default(),
        }
    }

    /// Shares the cooldowns of case triggers with the engine.
    pub fn with_case_triggers(mut self, triggers: crate::CaseTriggers) -> Self {
        self.case_triggers = triggers;
        self
    }

    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    pub fn with_config(mut self, config: ExecutorConfig) -> Self {
        self.config = config;
        self
    }

    /// Notified when a run became due (a batch left work, an approval was
    /// answered), so the executor looks at once instead of at its next poll.
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn playbooks(&self) -> &PlaybookSet {
        &self.playbooks
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Takes the runs due now and runs each until it finishes or waits.
    /// Returns how many it ran.
    pub async fn run_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let claimed = tx
            .claim_runs(now, now + self.config.lease, self.config.batch)
            .await?;
        tx.commit().await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let (go, held) = self.admit(claimed);
        if !held.is_empty() {
            // Over their playbook's concurrency: back to the queue, due
            // again when a running one finishes.
            let mut tx = self.store.begin().await?;
            for run in &held {
                tx.save_run(run, None).await?;
            }
            tx.commit().await?;
        }
        let n = go.len();
        futures_util::stream::iter(go)
            .for_each_concurrent(self.config.workers.max(1), |run| async move {
                let playbook = run.playbook.clone();
                let id = run.id;
                if let Err(e) = self.execute(run).await {
                    tracing::error!(run = %id, error = %e, "run not saved; it is taken up again when its lease ends");
                }
                if let Ok(mut r) = self.running.lock()
                    && let Some(n) = r.get_mut(&playbook)
                {
                    *n = n.saturating_sub(1);
                }
            })
            .await;
        if !held.is_empty() {
            self.wake.notify_one();
        }
        Ok(n)
    }

    /// Splits claimed runs into those to run now and those over their
    /// playbook's concurrency.
    fn admit(&self, claimed: Vec<PlaybookRun>) -> (Vec<PlaybookRun>, Vec<PlaybookRun>) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut go = Vec::new();
        let mut held = Vec::new();
        for run in claimed {
            let limit = self
                .playbooks
                .get(&run.playbook)
                .and_then(|p| p.concurrency);
            let n = running.entry(run.playbook.clone()).or_default();
            if limit.is_some_and(|l| *n >= l) {
                held.push(run);
            } else {
                *n += 1;
                go.push(run);
            }
        }
        (go, held)
    }

    /// Runs due runs until none is due now (`riposte ingest`, the demo,
    /// replays and tests); waiting runs stay waiting.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.run_due().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Runs (or resumes) one run this executor holds.
    pub async fn execute(&self, run: PlaybookRun) -> Result<PlaybookRun, StoreError> {
        let now = self.clock.now();
        let Some(playbook) = self.playbooks.get(&run.playbook) else {
            let mut run = run;
            run.status = RunStatus::Failed;
            run.next_at = None;
            run.finished_at = now;
            run.message = Some(format!(
                "playbook {:?} is not loaded any more",
                run.playbook
            ));
            let mut tx = self.store.begin().await?;
            tx.save_run(&run, None).await?;
            tx.commit().await?;
            return Ok(run);
        };
        let mut tx = self.store.begin().await?;
        let approvals = tx.approvals_of(run.id).await?;
        tx.commit().await?;
        let finished: HashSet<String> = run
            .steps
            .iter()
            .filter(|s| is_final(s.status))
            .map(|s| s.key().to_owned())
            .collect();
        let rt = ExecRuntime {
            ex: self,
            approvals: Approvals::new(approvals),
            new_approvals: Approvals::default(),
            slot: tokio::sync::Mutex::new(None),
            decided: AtomicBool::new(false),
            audited: Mutex::new(finished),
            failure: Mutex::new(None),
            cases: Mutex::new(Vec::new()),
        };
        let from_case = run
            .trigger
            .as_ref()
            .is_some_and(|t| t.kind == riposte_model::TriggerKind::Case);
        let beat = self.heartbeat(run.id);
        let result = riposte_playbooks::run(playbook, run, &rt).await;
        beat.abort();
        if let Some(e) = rt.failure.lock().ok().and_then(|mut f| f.take()) {
            return Err(e);
        }
        if rt.decided.load(Ordering::Relaxed)
            && let Err(e) = self
                .responder
                .reconcile(self.store.as_ref(), self.clock.now())
                .await
        {
            tracing::error!(error = %e, "enforcer update failed; retried at the next sweep");
        }
        // Cases this run opened or changed start their playbooks (a run a
        // case started starts no further ones).
        let touched = rt.cases.lock().map(|c| c.clone()).unwrap_or_default();
        if !from_case {
            self.start_case_runs(touched).await;
        }
        Ok(result)
    }

    async fn start_case_runs(&self, touched: Vec<(riposte_model::Case, bool)>) {
        let now = self.clock.now();
        for (case, created) in touched {
            let data = serde_json::to_value(&case).unwrap_or(serde_json::Value::Null);
            for pb in self.case_triggers.due(&self.playbooks, &case, created, now) {
                let started = crate::runs::start_run(
                    self.store.as_ref(),
                    &self.playbooks,
                    &pb.id,
                    riposte_model::TriggerKind::Case,
                    data.clone(),
                    None,
                    now,
                )
                .await;
                match started {
                    Ok(_) => self.wake.notify_one(),
                    Err(e) => {
                        tracing::error!(playbook = %pb.id, error = %e, "starting a case-triggered run failed")
                    }
                }
            }
        }
    }

    /// Renews the lease of `id` every third of the lease until aborted.
    fn heartbeat(&self, id: riposte_model::RunId) -> tokio::task::JoinHandle<()> {
        let (store, clock, lease) = (self.store.clone(), self.clock.clone(), self.config.lease);
        let every = (lease / 3).to_std().unwrap_or(Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let renewed = async {
                    let mut tx = store.begin().await?;
                    let held = tx.renew_lease(id, clock.now() + lease).await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(held)
                }
                .await;
                match renewed {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(run = %id, error = %e, "renewing a run's lease failed")
                    }
                }
            }
        })
    }

    /// The service loop: runs what is due, then sleeps until the next run
    /// is due, a wake-up, or `poll`, until `stop`.
    pub async fn serve(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            match crate::runs::start_scheduled(
                self.store.as_ref(),
                &self.playbooks,
                self.clock.now(),
            )
            .await
            {
                Ok(started) => {
                    for run in started {
                        tracing::info!(playbook = %run.playbook, run = %run.id, "scheduled run started");
                    }
                }
                Err(e) => tracing::error!(error = %e, "starting scheduled runs failed"),
            }
            if let Err(e) = self.run_due().await {
                tracing::error!(error = %e, "taking due runs failed");
            }
            let mut wait = self.config.poll;
            if let Ok(Some(next)) = self.store.next_run_due().await {
                let until = (next - self.clock.now()).to_std().unwrap_or_default();
                wait = wait.min(until);
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }
}

fn is_final(s: StepStatus) -> bool {
    matches!(
        s,
        StepStatus::Succeeded | StepStatus::Skipped | StepStatus::Failed | StepStatus::Simulated
    )
}

/// Audits the steps of `run` that reached a final status and are not in
/// `audited` yet.
pub(crate) async fn audit_steps(
    tx: &mut dyn Tx,
    run: &PlaybookRun,
    audited: &mut HashSet<String>,
    now: Timestamp,
) -> Result<(), StoreError> {
    for step in &run.steps {
        if !is_final(step.status) || !audited.insert(step.key().to_owned()) {
            continue;
        }
        let actor = Actor::Playbook {
            playbook: run.playbook.clone(),
            step: step.key().to_owned(),
        };
        let reason = match &step.message {
            Some(m) => format!("{} {}: {m}", step.action, step.status),
            None => format!("{} {}", step.action, step.status),
        };
        tx.audit(&AuditEntry::new(
            now,
            actor,
            "playbook.step",
            format!("run:{}", run.id),
            reason,
        ))
        .await?;
    }
    Ok(())
}

struct ExecRuntime<'a> {
    ex: &'a Executor,
    approvals: Approvals,
    /// Made or changed since the last checkpoint; saved with it.
    new_approvals: Approvals,
    /// The transaction of a database action, committed by the checkpoint
    /// that records it.
    slot: tokio::sync::Mutex<Option<Box<dyn Tx>>>,
    decided: AtomicBool,
    audited: Mutex<HashSet<String>>,
    /// A save that failed: the run is left to be taken up again.
    failure: Mutex<Option<StoreError>>,
    /// Cases its database steps opened (`true`) or changed.
    cases: Mutex<Vec<(riposte_model::Case, bool)>>,
}

impl ExecRuntime<'_> {
    async fn save(&self, run: &PlaybookRun) -> Result<(), StoreError> {
        let now = self.ex.clock.now();
        let mut tx = match self.slot.lock().await.take() {
            Some(tx) => tx,
            None => self.ex.store.begin().await?,
        };
        for a in &self.new_approvals.take() {
            tx.save_approval(a).await?;
        }
        // Each save holds the run for a whole lease from now (so does the
        // heartbeat between saves): a long run is never left claimable
        // while this executor still runs it.
        let lease = (run.status == RunStatus::Running).then_some(now + self.ex.config.lease);
        tx.save_run(run, lease).await?;
        if run.status.is_finished() {
            // Nothing waits for an answer any more.
            end_pending_approvals(&mut *tx, run, now).await?;
        }
        let mut audited = self.audited.lock().map(|a| a.clone()).unwrap_or_default();
        audit_steps(&mut *tx, run, &mut audited, now).await?;
        if run.status == RunStatus::Waiting {
            // An answer that came while this run was executing: the save
            // above must not leave it unnoticed (the answer's wake-up
            // either waits for this row or is seen here).
            let answered = tx.approvals_of(run.id).await?.into_iter().any(|a| {
                a.status != ApprovalStatus::Pending
                    && run
                        .step(&a.step)
                        .is_some_and(|s| s.status == StepStatus::Waiting)
            });
            if answered {
                tx.wake_run(run.id, now).await?;
            }
        }
        tx.commit().await?;
        if let Ok(mut a) = self.audited.lock() {
            *a = audited;
        }
        Ok(())
    }
}

#[async_trait]
impl Runtime for ExecRuntime<'_> {
    fn now(&self) -> Timestamp {
        self.ex.clock.now()
    }

    async fn perform(&self, call: &StepCall<'_>) -> Performed {
        match call.spec.effect {
            Effect::Db => {
                let mut tx = match self.ex.store.begin().await {
                    Ok(tx) => tx,
                    Err(e) => return Performed::Failed(e.to_string()),
                };
                let mut fx = DbEffects::default();
                let now = self.ex.clock.now();
                let p = dbactions::perform(&mut *tx, &self.ex.responder, call, now, &mut fx).await;
                if let Performed::Done(_) = &p {
                    if fx
                        .decisions
                        .iter()
                        .any(|d| d.state == riposte_model::DecisionState::Active)
                    {
                        self.decided.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut cases) = self.cases.lock() {
                        dbactions::merge_cases(&mut cases, fx.cases);
                    }
                    *self.slot.lock().await = Some(tx);
                }
                p
            }
            Effect::Read if call.spec.name == "enrich.intel" => {
                dbactions::enrich_intel(self.ex.store.as_ref(), call, self.ex.clock.now()).await
            }
            Effect::Outside | Effect::Read => {
                let limit = call.timeout.unwrap_or(self.ex.config.action_timeout);
                match tokio::time::timeout(limit, self.ex.effects.perform(call)).await {
                    Ok(p) => p,
                    Err(_) => Performed::Failed(format!("timed out after {}", humantime(limit))),
                }
            }
        }
    }

    async fn checkpoint(&self, run: &PlaybookRun) -> Result<(), String> {
        match self.save(run).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let msg = e.to_string();
                if let Ok(mut f) = self.failure.lock() {
                    f.get_or_insert(e);
                }
                Err(msg)
            }
        }
    }

    fn approval(&self, path: &str) -> Option<Approval> {
        self.approvals.of_step(path)
    }

    async fn request_approval(&self, approval: &Approval) -> Result<(), String> {
        self.approvals.put(approval.clone());
        self.new_approvals.put(approval.clone());
        Ok(())
    }

    fn playbook(&self, id: &str) -> Option<Arc<Playbook>> {
        self.ex.playbooks.get(id)
    }

    fn secrets(&self) -> &Secrets {
        &self.ex.secrets
    }
}

/// Marks the pending approvals of a finished run expired, so nobody
/// answers a question whose run has ended.
pub(crate) async fn end_pending_approvals(
    tx: &mut dyn Tx,
    run: &PlaybookRun,
    now: Timestamp,
) -> Result<(), StoreError> {
    // Only a step still waiting for an answer has a pending approval: most
    // runs need no look.
    let asked = run
        .steps
        .iter()
        .any(|s| s.status == StepStatus::Waiting && s.action == "wait_for.approval");
    if !asked {
        return Ok(());
    }
    for mut a in tx.approvals_of(run.id).await? {
        if a.status == ApprovalStatus::Pending {
            a.status = ApprovalStatus::Expired;
            a.decided_at = Some(now);
            a.comment = Some(format!("the run ended ({})", run.status));
            tx.save_approval(&a).await?;
        }
    }
    Ok(())
}

fn humantime(d: Duration) -> String {
    TimeDelta::from_std(d).map_or_else(|_| format!("{d:?}"), riposte_model::format_duration)
}
