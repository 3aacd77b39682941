//! The pipeline core: one batch in, one transaction out.

use std::sync::Arc;

use riposte_detect::{Detector, DetectorStats, RuleSet};
use riposte_ingest::DecodedBatch;
use riposte_model::{
    Alert, Case, Clock, DeadLetter, Decision, DecisionState, ManualClock, PlaybookRun, RunTrigger,
    TriggerKind,
};
use riposte_playbooks::{Playbook, PlaybookSet, Secrets};
use riposte_respond::{RespondError, Responder};
use riposte_store::{Checkpoint, Store, StoreError};

use crate::host::TxRuntime;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Respond(#[from] RespondError),
}

/// A ban a safety rail refused, for reports.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub value: String,
    pub reason: String,
    pub playbook: String,
    pub step: String,
}

/// What one committed batch produced.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BatchReport {
    pub events: u64,
    pub ignored: u64,
    pub dead_letters: Vec<DeadLetter>,
    pub alerts: Vec<Alert>,
    /// Cases touched, with whether this batch opened them.
    pub cases: Vec<(Case, bool)>,
    pub decisions: Vec<Decision>,
    pub refusals: Vec<Refusal>,
    pub runs: Vec<PlaybookRun>,
    /// Runs left unfinished for the executor (a step with outside effects,
    /// an approval, a retry or a timer).
    pub queued_runs: u64,
}

impl BatchReport {
    /// Folds a later batch's report into this one.
    pub fn merge(&mut self, other: BatchReport) {
        self.events += other.events;
        self.ignored += other.ignored;
        self.dead_letters.extend(other.dead_letters);
        self.alerts.extend(other.alerts);
        crate::dbactions::merge_cases(&mut self.cases, other.cases);
        self.decisions.extend(other.decisions);
        self.refusals.extend(other.refusals);
        self.runs.extend(other.runs);
        self.queued_runs += other.queued_runs;
    }
}

/// Detection state plus everything needed to act on alerts. One engine
/// processes batches one at a time, in order, so threshold windows see
/// events in the order their sources produced them.
#[derive(Debug)]
pub struct Engine {
    store: Arc<dyn Store>,
    detector: Detector,
    playbooks: PlaybookSet,
    secrets: Secrets,
    /// Told when a batch leaves runs for the executor.
    executor_wake: Option<Arc<tokio::sync::Notify>>,
    /// Runs due at most before new batches wait (with an executor).
    backlog: Option<u64>,
    case_triggers: crate::CaseTriggers,
    responder: Arc<Responder>,
    clock: Arc<dyn Clock>,
    /// When set, "now" follows event time (demo and replays of recorded
    /// data), so decisions expire relative to the events that caused them.
    event_clock: Option<Arc<ManualClock>>,
    /// Threat-intel indicators every event is matched against (issue #7).
    intel: Option<riposte_intel::feed::SharedIndex>,
    /// Feeds whose sightings are queued for MISP (`sightings: {push: true}`).
    sighting_push: std::collections::HashSet<String>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        rules: Arc<RuleSet>,
        playbooks: Vec<Playbook>,
        responder: Arc<Responder>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            detector: Detector::new(rules),
            playbooks: PlaybookSet::new(playbooks),
            secrets: Secrets::default(),
            executor_wake: None,
            backlog: None,
            case_triggers: crate::CaseTriggers::default(),
            responder,
            clock,
            event_clock: None,
            intel: None,
            sighting_push: Default::default(),
        }
    }

    /// An executor for the runs this engine starts, sharing its store,
    /// responder, playbooks, secrets and clock.
    pub fn executor(&self, effects: Arc<dyn riposte_playbooks::Effects>) -> crate::Executor {
        crate::Executor::new(
            self.store.clone(),
            self.responder.clone(),
            self.playbooks.clone(),
            effects,
            self.clock.clone(),
        )
        .with_secrets(self.secrets.clone())
        .with_case_triggers(self.case_triggers.clone())
    }

    /// Waits while the executor's backlog (runs due now) is over `bound`:
    /// new alerts would only add to it. Returns how long it waited.
    pub async fn hold_back(&self, bound: u64) -> std::time::Duration {
        let started = std::time::Instant::now();
        let mut warned = false;
        loop {
            match self.store.count_due_runs(self.clock.now()).await {
                Ok(n) if n > bound => {
                    if !warned {
                        tracing::warn!(
                            due = n,
                            bound,
                            "playbook runs are behind; holding back new batches"
                        );
                        warned = true;
                    }
                    if let Some(wake) = &self.executor_wake {
                        wake.notify_one();
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                _ => return started.elapsed(),
            }
        }
    }

    /// Secrets playbook templates read as `secrets.NAME`.
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// Wakes this executor when a batch leaves runs unfinished, and holds
    /// new batches back while more than `backlog` runs are due.
    pub fn with_executor(mut self, wake: Arc<tokio::sync::Notify>, backlog: u64) -> Self {
        self.executor_wake = Some(wake);
        self.backlog = Some(backlog);
        self
    }

    /// See [`Self::with_executor`].
    pub fn backlog_bound(&self) -> Option<u64> {
        self.backlog
    }

    pub fn playbooks(&self) -> &PlaybookSet {
        &self.playbooks
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Matches every event against `index`: hits on indicators fit for
    /// detection raise `intel.match` alerts, and every hit is recorded as a
    /// sighting, in the batch's transaction.
    pub fn with_intel(mut self, index: riposte_intel::feed::SharedIndex) -> Self {
        self.intel = Some(index);
        self
    }

    /// Queues, with each batch, a sighting per (indicator, event source) of
    /// these feeds for the MISP push (`riposte_intel::sightings`).
    pub fn with_sighting_push(mut self, feeds: std::collections::HashSet<String>) -> Self {
        self.sighting_push = feeds;
        self
    }

    pub fn intel(&self) -> Option<&riposte_intel::feed::SharedIndex> {
        self.intel.as_ref()
    }

    /// Runs on recorded time: the clock is moved to each event's timestamp
    /// before the event is processed.
    pub fn follow_event_time(mut self, clock: Arc<ManualClock>) -> Self {
        self.clock = clock.clone();
        self.event_clock = Some(clock);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn responder(&self) -> &Arc<Responder> {
        &self.responder
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn detector_stats(&self) -> DetectorStats {
        self.detector.stats()
    }

    /// Detects, runs playbooks and commits a decoded batch in one
    /// transaction together with `checkpoint` (source name, offset after the
    /// batch). After a crash the batch is either wholly stored, checkpoint
    /// included, or not at all and re-read.
    pub async fn commit_batch(
        &mut self,
        batch: DecodedBatch,
        checkpoint: Option<(&str, &Checkpoint)>,
    ) -> Result<BatchReport, EngineError> {
        let result = self.detect_and_commit(batch, checkpoint).await;
        match result {
            Ok(report) => {
                if report.queued_runs > 0
                    && let Some(wake) = &self.executor_wake
                {
                    wake.notify_one();
                }
                if report
                    .decisions
                    .iter()
                    .any(|d| d.state == DecisionState::Active)
                {
                    // The batch is stored; an enforcer failure must not make it
                    // look failed (the caller would retry and store it twice).
                    // The sweeper reconciles again on its next tick.
                    if let Err(e) = self
                        .responder
                        .reconcile(self.store.as_ref(), self.clock.now())
                        .await
                    {
                        tracing::error!(error = %e, "enforcer update failed; retried at the next sweep");
                    }
                }
                Ok(report)
            }
            Err(e) => {
                // Detection state already counted this batch; since the batch
                // was not stored and will be resubmitted, forget it rather
                // than count its events twice (partial counts are lost, as
                // on restart).
                self.detector.reset();
                Err(e)
            }
        }
    }

    async fn detect_and_commit(
        &mut self,
        batch: DecodedBatch,
        checkpoint: Option<(&str, &Checkpoint)>,
    ) -> Result<BatchReport, EngineError> {
        let mut report = BatchReport {
            events: batch.events.len() as u64,
            ignored: batch.ignored,
            dead_letters: batch.dead_letters,
            ..BatchReport::default()
        };
        let mut tx = self.store.begin().await?;
        tx.insert_events(&batch.events).await?;
        tx.insert_dead_letters(&report.dead_letters).await?;
        let mut sightings = riposte_intel::alert::SightingBatch::default();
        let mut to_push = riposte_intel::sightings::QueueBatch::new(&self.sighting_push);
        let mut hits = Vec::new();
        for event in &batch.events {
            if let Some(c) = &self.event_clock {
                c.advance_to(event.timestamp);
            }
            let now = self.clock.now();
            let mut alerts = self.detector.process(event, now);
            if let Some(intel) = &self.intel {
                hits.clear();
                intel.read().unwrap_or_else(|p| p.into_inner()).match_event(
                    event,
                    event.timestamp,
                    &mut hits,
                );
                if !hits.is_empty() {
                    sightings.add(event, &hits);
                    to_push.add(event, &hits);
                    alerts.extend(riposte_intel::alert::alerts_for(event, &hits, now));
                }
            }
            for alert in alerts {
                handle_alert(alert, self.logic(), &mut tx, &mut report, now).await?;
            }
        }
        // Correlations whose window has passed at the newest event time
        // (upper-bounded conditions are judged only then).
        if let Some(latest) = batch.events.iter().map(|e| e.timestamp).max() {
            let now = self.clock.now();
            for alert in self.detector.flush(latest, now) {
                handle_alert(alert, self.logic(), &mut tx, &mut report, now).await?;
            }
        }
        if !sightings.is_empty() {
            tx.record_sightings(&sightings.into_sorted()).await?;
        }
        if !to_push.is_empty() {
            tx.queue_sightings(&to_push.into_sorted()).await?;
        }
        if !report.cases.is_empty() {
            let now = self.clock.now();
            self.case_runs(&mut tx, &mut report, now).await?;
        }
        if let Some((source, position)) = checkpoint {
            tx.set_checkpoint(source, position).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    fn logic(&self) -> Logic<'_> {
        Logic {
            playbooks: &self.playbooks,
            responder: &self.responder,
            secrets: &self.secrets,
        }
    }

    /// Starts the playbooks that the cases this batch's runs opened or
    /// changed trigger (their own case changes start nothing further).
    async fn case_runs(
        &self,
        tx: &mut Box<dyn riposte_store::Tx>,
        report: &mut BatchReport,
        now: riposte_model::Timestamp,
    ) -> Result<(), EngineError> {
        let touched = report.cases.clone();
        for (case, created) in touched {
            let data = serde_json::to_value(&case).unwrap_or(serde_json::Value::Null);
            for pb in self.case_triggers.due(&self.playbooks, &case, created, now) {
                let trigger = RunTrigger {
                    kind: TriggerKind::Case,
                    data: data.clone(),
                    by: None,
                };
                start_inline(pb, trigger, None, self.logic(), tx, report, now).await?;
            }
        }
        Ok(())
    }

    /// Expires due decisions and reconciles enforcers at the engine's "now".
    pub async fn sweep(&self) -> Result<Vec<Decision>, EngineError> {
        Ok(self
            .responder
            .sweep(self.store.as_ref(), self.clock.now())
            .await?)
    }
}

/// What acting on an alert needs from the engine.
#[derive(Clone, Copy)]
struct Logic<'a> {
    playbooks: &'a PlaybookSet,
    responder: &'a Responder,
    secrets: &'a Secrets,
}

/// Stores an alert and starts the playbooks it triggers, in the batch's
/// transaction: their database steps run here and commit with the alert;
/// what is left (outside effects, waits) is saved for the executor.
async fn handle_alert(
    alert: Alert,
    logic: Logic<'_>,
    tx: &mut Box<dyn riposte_store::Tx>,
    report: &mut BatchReport,
    now: riposte_model::Timestamp,
) -> Result<(), EngineError> {
    tx.insert_alert(&alert).await?;
    let data = serde_json::to_value(&alert).unwrap_or(serde_json::Value::Null);
    let started: Vec<Arc<Playbook>> = logic.playbooks.for_alert(&alert).cloned().collect();
    for pb in started {
        let trigger = RunTrigger {
            kind: TriggerKind::Alert,
            data: data.clone(),
            by: None,
        };
        start_inline(pb, trigger, Some(alert.id), logic, tx, report, now).await?;
    }
    report.alerts.push(alert);
    Ok(())
}

/// Starts a run in the batch's transaction: its database steps run here
/// and commit with the batch; what is left is saved for the executor.
async fn start_inline(
    pb: Arc<Playbook>,
    trigger: RunTrigger,
    alert: Option<riposte_model::AlertId>,
    logic: Logic<'_>,
    tx: &mut Box<dyn riposte_store::Tx>,
    report: &mut BatchReport,
    now: riposte_model::Timestamp,
) -> Result<(), EngineError> {
    let run = PlaybookRun::pending(&pb.id, pb.revision, pb.mode, trigger, alert, now);
    let rt = TxRuntime::new(
        &mut **tx,
        logic.responder,
        logic.playbooks,
        logic.secrets,
        now,
    );
    let run = riposte_playbooks::run(pb, run, &rt).await;
    let fx = rt.into_effects();
    report.decisions.extend(fx.decisions);
    report.refusals.extend(fx.refusals);
    report.alerts.extend(fx.alerts);
    crate::dbactions::merge_cases(&mut report.cases, fx.cases);
    let mut audited = std::collections::HashSet::new();
    crate::executor::audit_steps(&mut **tx, &run, &mut audited, now).await?;
    tx.save_run(&run, None).await?;
    if !run.status.is_finished() {
        report.queued_runs += 1;
    }
    report.runs.push(run);
    Ok(())
}
