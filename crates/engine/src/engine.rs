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

/// Loads and cross-checks the rules and playbooks a configuration names.
pub fn load_logic(
    config: &crate::Config,
) -> Result<(RuleSet, Vec<Playbook>), riposte_model::Problems> {
    let mut problems = riposte_model::Problems::new();
    let mapping = riposte_sigma::Mapping::builtin_with(config.sigma_mapping.as_deref())
        .map_err(|p| problems.extend(p))
        .ok();
    let rules = mapping.and_then(|mapping| {
        riposte_detect::load_rules_with(&config.rules, &mapping)
            .map_err(|p| problems.extend(p))
            .ok()
    });
    if let Some(rules) = &rules {
        // Sigma rules Riposte cannot run are left out, not fatal: each is
        // logged (and listed by `riposte rules lint`).
        for r in &rules.sigma.report.rejected {
            tracing::warn!(rule = %r, "Sigma rule not loaded");
        }
    }
    let ids: Vec<&str> = rules
        .as_ref()
        .map(|r| r.ids().collect())
        .unwrap_or_default();
    let known = rules.as_ref().map(|_| ids.as_slice());
    let playbooks = riposte_playbooks::load_playbooks(&config.playbooks, known)
        .map_err(|p| problems.extend(p))
        .ok();
    check_secrets(config, playbooks.iter().flatten(), &mut problems);
    match (rules, playbooks) {
        (Some(r), Some(p)) if problems.is_empty() => Ok((r, p)),
        _ => Err(problems),
    }
}

/// An executor for a configuration's playbooks without loading its rules
/// (`riposte runs`, `riposte approvals`, `riposte playbook run`).
pub async fn executor_from_config(
    config: &crate::Config,
    clock: Arc<dyn Clock>,
) -> Result<crate::Executor, BuildError> {
    let mut problems = riposte_model::Problems::new();
    let playbooks = riposte_playbooks::load_playbooks(&config.playbooks, None)
        .map_err(|p| problems.extend(p))
        .ok();
    check_secrets(config, playbooks.iter().flatten(), &mut problems);
    let playbooks = match playbooks {
        Some(p) if problems.is_empty() => p,
        _ => return Err(BuildError::Invalid(problems)),
    };
    let effects = effects_for(config).map_err(|e| {
        let mut p = riposte_model::Problems::new();
        p.push(
            &config.base_dir.display().to_string(),
            "actions",
            e.to_string(),
        );
        BuildError::Invalid(p)
    })?;
    let store = riposte_store::open(&config.store_url).await?;
    Ok(crate::Executor::new(
        store,
        Arc::new(config.responder()),
        PlaybookSet::new(playbooks),
        effects,
        clock,
    )
    .with_secrets(config.secrets.clone())
    .with_config(crate::ExecutorConfig {
        workers: config.executor.workers,
        action_timeout: config.executor.action_timeout,
        lease: chrono::TimeDelta::from_std(config.executor.lease)
            .unwrap_or(chrono::TimeDelta::seconds(60)),
        ..crate::ExecutorConfig::default()
    }))
}

/// Every secret a playbook reads (and each webhook trigger's) is defined.
fn check_secrets<'a>(
    config: &crate::Config,
    playbooks: impl Iterator<Item = &'a Playbook>,
    problems: &mut riposte_model::Problems,
) {
    for pb in playbooks {
        let names = pb.secrets.iter().chain(pb.trigger.webhook.as_ref());
        for name in names {
            if config.secrets.get(name).is_none() {
                problems.push(
                    &pb.file,
                    "secrets",
                    format!(
                        "secret {name:?} is not defined (add it to the secrets file, or set {}{})",
                        crate::config::SECRET_ENV_PREFIX,
                        name.to_ascii_uppercase()
                    ),
                );
            }
        }
    }
}

/// What performs a configuration's outside actions (mail, HTTP, tickets,
/// programs, enrichment): opens the GeoIP databases and builds the HTTP
/// client; the error names the key or file at fault.
pub fn effects_for(
    config: &crate::Config,
) -> Result<Arc<dyn riposte_playbooks::Effects>, riposte_actions::ActionsError> {
    Ok(Arc::new(riposte_actions::Actions::new(
        config.actions.clone(),
    )?))
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Respond(#[from] RespondError),
}

/// Why an engine could not be assembled from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Rules or playbooks were rejected; every problem is listed.
    #[error("{0}")]
    Invalid(riposte_model::Problems),
    #[error("cannot open store: {0}")]
    Store(#[from] StoreError),
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

    /// Loads rules and playbooks (all problems reported together), opens
    /// the store and builds the enforcers a configuration names.
    pub async fn from_config(
        config: &crate::Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BuildError> {
        let (rules, playbooks) = load_logic(config).map_err(BuildError::Invalid)?;
        let store = riposte_store::open(&config.store_url).await?;
        let responder = Arc::new(config.responder());
        let index = riposte_intel::feed::load_index(&store).await?;
        let engine = Self::new(store, Arc::new(rules), playbooks, responder, clock)
            .with_secrets(config.secrets.clone());
        Ok(engine
            .with_intel(Arc::new(std::sync::RwLock::new(index)))
            .with_sighting_push(riposte_intel::sightings::pushing_feeds(&config.intel_feeds)))
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
