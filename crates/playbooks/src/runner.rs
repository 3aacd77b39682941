//! Running a playbook: a durable, resumable interpretation of its steps.
//!
//! A run's record is its state. Each step has a path (`block`,
//! `notify[2].mail`, `fanout.ticket.create`); running a playbook walks its
//! steps from the top, and a step whose record says it is done is not run
//! again: its recorded output is used. So a run resumes after a restart,
//! an approval or a retry by running again from the top, and completed
//! side effects are never repeated. Conditions and loops are decided from
//! the trigger and recorded outputs only, so they decide the same way each
//! time.
//!
//! Where effects land decides how an action step runs (see
//! [`crate::Effect`]): a database action runs in one transaction with its
//! step's record; an outside action is first recorded `running` and then
//! performed with an idempotency key, so a crash in between performs it
//! again with the same key; in simulate and shadow modes outside actions
//! are recorded with their inputs and not performed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::TimeDelta;
use riposte_model::{
    Approval, ApprovalId, ApprovalStatus, Mode, PlaybookRun, RunStatus, StepRecord, StepStatus,
    Timestamp,
};
use riposte_template::Template;
use serde_json::{Map, Value, json};

use crate::Playbook;
use crate::spec::{ActionSpec, Effect};
use crate::step::{OnError, Step, StepKind};

/// An action with its rendered inputs, as a runtime performs it.
#[derive(Debug)]
pub struct StepCall<'a> {
    pub run: &'a PlaybookRun,
    pub playbook: &'a Playbook,
    pub step: &'a str,
    /// Unique in the run; see [`StepRecord::path`].
    pub path: &'a str,
    /// `<run id>/<path>`: the same on every attempt of this step, so a
    /// receiver can tell a repeat from a new request.
    pub idempotency_key: String,
    pub spec: &'static ActionSpec,
    /// Checked against the spec and normalised.
    pub input: Value,
    pub mode: Mode,
    /// How long one attempt may take.
    pub timeout: Option<std::time::Duration>,
    /// The alert behind the run, as JSON (`null` for other triggers).
    pub alert: &'a Value,
}

/// What an action did.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionResult {
    /// False when the action deliberately did nothing (a refused ban, an
    /// existing decision); the step is then recorded as skipped.
    pub done: bool,
    pub output: Value,
    pub message: Option<String>,
}

impl ActionResult {
    pub fn done(output: Value) -> Self {
        Self {
            done: true,
            output,
            message: None,
        }
    }
}

/// The outcome of asking a runtime to perform an action.
#[derive(Debug)]
pub enum Performed {
    Done(ActionResult),
    /// Failed; retried if the step allows.
    Failed(String),
    /// This runtime does not perform it (a batch transaction and an
    /// outside action): the run stops here and an executor takes it on.
    Deferred,
}

/// What a run needs from its surroundings: the executor over the store,
/// the batch transaction that triggered it, or a test's mocks.
#[async_trait]
pub trait Runtime: Send + Sync {
    fn now(&self) -> Timestamp;

    /// Performs an action. A database action's effects must be committed
    /// by the next [`Runtime::checkpoint`], together with the run.
    async fn perform(&self, call: &StepCall<'_>) -> Performed;

    /// Saves the run as it is now.
    async fn checkpoint(&self, run: &PlaybookRun) -> Result<(), String>;

    /// The approval request of the step at `path`, if one was made.
    fn approval(&self, path: &str) -> Option<Approval>;

    /// Stores a new approval request (with the next checkpoint).
    async fn request_approval(&self, approval: &Approval) -> Result<(), String>;

    /// A playbook a `call` step names.
    fn playbook(&self, id: &str) -> Option<Arc<Playbook>>;

    fn secrets(&self) -> &Secrets;
}

/// Performs actions with outside effects and read-only ones (mail, HTTP,
/// tickets, programs, enrichment) for the executor.
#[async_trait]
pub trait Effects: Send + Sync + std::fmt::Debug {
    async fn perform(&self, call: &StepCall<'_>) -> Performed;
}

/// No outside actions available (every one fails, saying so).
#[derive(Debug, Default)]
pub struct NoEffects;

#[async_trait]
impl Effects for NoEffects {
    async fn perform(&self, call: &StepCall<'_>) -> Performed {
        Performed::Failed(format!(
            "{} is not available in this process",
            call.spec.name
        ))
    }
}

/// How a list of steps ended (for now).
#[derive(Clone, Debug, PartialEq)]
enum Flow {
    Continue,
    /// Waiting; due again at the time (`None`: only a person or an
    /// executor can move it on, with the approval's deadline recorded).
    Blocked(Option<Timestamp>),
    /// A `stop` step, or a failure not handled: the run ends.
    Stop {
        failed: bool,
        reason: String,
    },
}

fn merge(a: Flow, b: Flow) -> Flow {
    match (a, b) {
        (s @ Flow::Stop { failed: true, .. }, _) | (_, s @ Flow::Stop { failed: true, .. }) => s,
        (s @ Flow::Stop { .. }, _) | (_, s @ Flow::Stop { .. }) => s,
        (Flow::Blocked(x), Flow::Blocked(y)) => Flow::Blocked(match (x, y) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }),
        (b @ Flow::Blocked(_), Flow::Continue) | (Flow::Continue, b @ Flow::Blocked(_)) => b,
        (Flow::Continue, Flow::Continue) => Flow::Continue,
    }
}

/// The template context of a step: everything visible from where it is.
#[derive(Clone, Debug)]
struct Scope {
    prefix: String,
    /// `steps.<id>` outputs visible here.
    steps: Map<String, Value>,
    /// Loop variables and `error`.
    locals: Map<String, Value>,
    /// The playbook being run here (differs inside a `call`).
    playbook: Arc<Playbook>,
    inputs: Value,
    depth: usize,
}

/// Calls of calls, at most.
const MAX_CALL_DEPTH: usize = 8;
/// Where the playbook's own `on_error` steps keep their records.
const ON_ERROR_PREFIX: &str = "on_error.";

/// Runs (or resumes) `run` of `playbook` until it finishes or must wait.
/// Returns the run as it stands; the runtime has been given a checkpoint
/// after every step.
pub async fn run(playbook: Arc<Playbook>, run: PlaybookRun, rt: &dyn Runtime) -> PlaybookRun {
    let interp = Interp::new(&playbook, run, rt);
    interp.go().await
}

struct Interp<'a> {
    rt: &'a dyn Runtime,
    state: Mutex<PlaybookRun>,
    /// Serialises performing a database action with the checkpoint that
    /// commits it, and every checkpoint, across parallel branches.
    commit: tokio::sync::Mutex<()>,
    base: Map<String, Value>,
    alert: Value,
    secrets: Secrets,
    deadline: Option<Timestamp>,
    root: Arc<Playbook>,
    /// A checkpoint failed (the store refused or lost it, or the run was
    /// cancelled meanwhile): no further step runs, and nothing more is
    /// saved; the run is taken up again from what was saved, if anything.
    halted: std::sync::atomic::AtomicBool,
}

impl<'a> Interp<'a> {
    fn new(playbook: &Arc<Playbook>, run: PlaybookRun, rt: &'a dyn Runtime) -> Self {
        let trigger = run.trigger.clone();
        let data = trigger
            .as_ref()
            .map(|t| t.data.clone())
            .unwrap_or(Value::Null);
        let kind = trigger.as_ref().map(|t| t.kind);
        let mut base = Map::new();
        base.insert(
            "trigger".into(),
            serde_json::to_value(&trigger).unwrap_or(Value::Null),
        );
        let alert = if kind == Some(riposte_model::TriggerKind::Alert) {
            data.clone()
        } else {
            Value::Null
        };
        base.insert("alert".into(), alert.clone());
        base.insert(
            "case".into(),
            if kind == Some(riposte_model::TriggerKind::Case) {
                data.clone()
            } else {
                Value::Null
            },
        );
        base.insert("vars".into(), Value::Object(playbook.vars.clone()));
        base.insert(
            "run".into(),
            json!({"id": run.id, "started_at": run.started_at, "mode": run.mode}),
        );
        // The secrets of every playbook its calls reach: a called playbook
        // reads its own, and what any of them reads is redacted.
        let mut names = playbook.secrets.clone();
        let mut seen = BTreeSet::from([playbook.id.clone()]);
        let mut todo: Vec<String> = playbook.calls.iter().cloned().collect();
        while let Some(id) = todo.pop() {
            if seen.insert(id.clone())
                && let Some(callee) = rt.playbook(&id)
            {
                names.extend(callee.secrets.iter().cloned());
                todo.extend(callee.calls.iter().cloned());
            }
        }
        let secrets = rt.secrets().only(&names);
        base.insert("secrets".into(), secrets.to_json());
        let deadline = playbook.timeout.map(|t| run.started_at + t);
        Self {
            rt,
            state: Mutex::new(run),
            commit: tokio::sync::Mutex::new(()),
            base,
            alert,
            secrets,
            deadline,
            root: playbook.clone(),
            halted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn snapshot(&self) -> PlaybookRun {
        self.state
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn with_run<T>(&self, f: impl FnOnce(&mut PlaybookRun) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn record(&self, path: &str) -> Option<StepRecord> {
        self.with_run(|r| r.step(path).cloned())
    }

    /// Inserts or replaces the record at its path (secrets redacted).
    fn put(&self, mut rec: StepRecord) {
        self.secrets.redact(&mut rec.input);
        self.secrets.redact(&mut rec.output);
        if let Some(m) = rec.message.as_mut() {
            *m = self.secrets.redact_text(m);
        }
        self.with_run(
            |r| match r.steps.iter_mut().find(|s| s.key() == rec.key()) {
                Some(slot) => *slot = rec,
                None => r.steps.push(rec),
            },
        );
    }

    async fn checkpoint(&self) {
        let _guard = self.commit.lock().await;
        self.checkpoint_locked().await;
    }

    async fn checkpoint_locked(&self) {
        if self.is_halted() {
            return;
        }
        let snap = self.snapshot();
        if let Err(e) = self.rt.checkpoint(&snap).await {
            // Going on would perform steps whose records may never be
            // kept (so they would run again), or a cancelled run's steps.
            tracing::error!(run = %snap.id, error = %e, "saving the run failed; it stops here");
            self.halted.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn is_halted(&self) -> bool {
        self.halted.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn go(self) -> PlaybookRun {
        self.with_run(|r| r.status = RunStatus::Running);
        let trigger = self.snapshot().trigger;
        let inputs = match trigger.as_ref().map(|t| (t.kind, &t.data)) {
            Some((riposte_model::TriggerKind::Manual, data)) => Ok(data.clone()),
            Some((riposte_model::TriggerKind::Webhook, body)) => self
                .root
                .webhook_inputs(body)
                .map(Value::Object)
                .map_err(|e| e.join("; ")),
            // Other triggers pass no inputs: the declared defaults apply.
            _ => self
                .root
                .check_inputs(&Map::new())
                .map(Value::Object)
                .map_err(|e| e.join("; ")),
        };
        let inputs = match inputs {
            Ok(i) => i,
            Err(e) => {
                let now = self.rt.now();
                self.with_run(|r| {
                    r.status = RunStatus::Failed;
                    r.message = Some(format!("inputs: {e}"));
                    r.next_at = None;
                    r.finished_at = now;
                });
                self.checkpoint().await;
                return self.snapshot();
            }
        };
        let scope = Scope {
            prefix: String::new(),
            steps: Map::new(),
            locals: Map::new(),
            playbook: self.root.clone(),
            inputs,
            depth: 0,
        };
        let steps = self.root.steps.clone();
        let mut flow = Box::pin(self.steps(&steps, scope.clone())).await.0;
        if let Flow::Stop {
            failed: true,
            reason,
        } = &flow
            && !self.root.on_error.is_empty()
            && !self.is_halted()
        {
            let mut handler = scope.clone();
            handler.prefix = ON_ERROR_PREFIX.into();
            handler.locals.insert(
                "error".into(),
                json!({"message": self.secrets.redact_text(reason)}),
            );
            let on_error = self.root.on_error.clone();
            let (after, _) = Box::pin(self.steps(&on_error, handler)).await;
            if let Flow::Blocked(_) = after {
                flow = after;
            }
        }
        let now = self.rt.now();
        self.with_run(|r| {
            r.finished_at = now;
            match flow {
                Flow::Continue => {
                    r.status = RunStatus::Succeeded;
                    r.next_at = None;
                }
                Flow::Stop { failed, reason } => {
                    r.status = if failed {
                        RunStatus::Failed
                    } else {
                        RunStatus::Succeeded
                    };
                    // Failure reasons may quote what a step was given.
                    r.message = Some(self.secrets.redact_text(&reason));
                    r.next_at = None;
                }
                Flow::Blocked(at) => {
                    r.status = RunStatus::Waiting;
                    r.next_at = match (at, self.deadline) {
                        // Past the deadline only on_error steps still run:
                        // they wake when they are due.
                        (a, Some(d)) if d <= now => a,
                        (Some(a), Some(d)) => Some(a.min(d)),
                        (a, d) => a.or(d),
                    };
                }
            }
        });
        self.checkpoint().await;
        self.snapshot()
    }

    fn ctx(&self, scope: &Scope) -> Value {
        let mut ctx = self.base.clone();
        ctx.insert("steps".into(), Value::Object(scope.steps.clone()));
        ctx.insert("inputs".into(), scope.inputs.clone());
        ctx.insert(
            "playbook".into(),
            json!({"id": scope.playbook.id, "name": scope.playbook.name,
                   "revision": scope.playbook.revision, "mode": scope.playbook.mode}),
        );
        if scope.playbook.id != self.root.id {
            ctx.insert("vars".into(), Value::Object(scope.playbook.vars.clone()));
        }
        for (k, v) in &scope.locals {
            ctx.insert(k.clone(), v.clone());
        }
        Value::Object(ctx)
    }

    /// Runs a list of steps in order; returns how it ended and the outputs
    /// of its steps (for loops, branches and calls to return).
    async fn steps(&self, steps: &[Step], mut scope: Scope) -> (Flow, Map<String, Value>) {
        let mut outputs = Map::new();
        for step in steps {
            let flow = Box::pin(self.step(step, &mut scope)).await;
            if let Some(out) = scope.steps.get(&step.id) {
                outputs.insert(step.id.clone(), out.clone());
            }
            if flow != Flow::Continue {
                return (flow, outputs);
            }
        }
        (Flow::Continue, outputs)
    }

    fn new_record(&self, step: &Step, path: &str, status: StepStatus) -> StepRecord {
        let now = self.rt.now();
        StepRecord {
            step: step.id.clone(),
            action: step.kind.label().to_owned(),
            status,
            started_at: now,
            finished_at: now,
            input: Value::Null,
            output: Value::Null,
            message: None,
            path: path.to_owned(),
            attempts: 0,
            wake_at: None,
        }
    }

    async fn step(&self, step: &Step, scope: &mut Scope) -> Flow {
        if self.is_halted() {
            return Flow::Stop {
                failed: true,
                reason: "the run could not be saved".into(),
            };
        }
        let path = format!("{}{}", scope.prefix, step.id);
        let existing = self.record(&path);
        if let Some(rec) = &existing
            && rec.status.is_done()
        {
            scope.steps.insert(step.id.clone(), rec.output.clone());
            // A stop that was reached stops the run again when it resumes
            // (a `wait_for` in the on_error steps, a deferred action, a
            // crash before the final save): what it guarded stays unrun.
            if let StepKind::Stop { failed, .. } = &step.kind
                && rec.status == StepStatus::Succeeded
            {
                return Flow::Stop {
                    failed: *failed,
                    reason: rec.message.clone().unwrap_or_default(),
                };
            }
            return Flow::Continue;
        }
        if let Some(rec) = &existing
            && rec.status == StepStatus::Failed
        {
            // A failure already handled by `on_error: continue` or by its
            // handler steps (which resume below).
            scope.steps.insert(step.id.clone(), rec.output.clone());
            return self
                .handle_failure(step, scope, &path, rec.message.clone().unwrap_or_default())
                .await;
        }
        let now = self.rt.now();
        // The run's own on_error steps still run once its time is up: they
        // are what a playbook does about a run that did not finish.
        if let Some(d) = self.deadline
            && now >= d
            && !scope.prefix.starts_with(ON_ERROR_PREFIX)
        {
            return Flow::Stop {
                failed: true,
                reason: format!(
                    "run timed out after {}",
                    riposte_model::format_duration(d - self.snapshot().started_at)
                ),
            };
        }
        if existing.is_none()
            && let Some(cond) = &step.when
        {
            match cond.is_true(self.ctx(scope)) {
                Ok(true) => {}
                Ok(false) => {
                    let mut rec = self.new_record(step, &path, StepStatus::Skipped);
                    rec.message = Some(format!("if {} was false", cond.source()));
                    self.put(rec);
                    self.checkpoint().await;
                    scope.steps.insert(step.id.clone(), Value::Null);
                    return Flow::Continue;
                }
                Err(e) => {
                    return self
                        .fail(step, scope, &path, existing, format!("if: {e}"))
                        .await;
                }
            }
        }
        match &step.kind {
            StepKind::Action { spec, with } => {
                self.action(step, spec, with, scope, &path, existing).await
            }
            StepKind::ForEach {
                items,
                var,
                steps,
                max_items,
            } => {
                let list = match items.eval_json(self.ctx(scope)) {
                    Ok(Value::Array(list)) => list,
                    Ok(Value::Null) => Vec::new(),
                    Ok(other) => {
                        return self
                            .fail(
                                step,
                                scope,
                                &path,
                                existing,
                                format!("for_each: {} is not a list", short(&other.to_string())),
                            )
                            .await;
                    }
                    Err(e) => {
                        return self
                            .fail(step, scope, &path, existing, format!("for_each: {e}"))
                            .await;
                    }
                };
                if list.len() > *max_items {
                    return self
                        .fail(
                            step,
                            scope,
                            &path,
                            existing,
                            format!(
                                "for_each: {} items, more than max_items {max_items}",
                                list.len()
                            ),
                        )
                        .await;
                }
                let mut results = Vec::with_capacity(list.len());
                for (i, item) in list.into_iter().enumerate() {
                    let mut inner = scope.clone();
                    inner.prefix = format!("{path}[{i}].");
                    inner.locals.insert(var.clone(), item);
                    inner.locals.insert("loop".into(), json!({"index": i}));
                    let (flow, outs) = Box::pin(self.steps(steps, inner)).await;
                    if flow != Flow::Continue {
                        return flow;
                    }
                    results.push(Value::Object(outs));
                }
                self.finish_composite(step, scope, &path, Value::Array(results))
                    .await
            }
            StepKind::Parallel { branches } => {
                let futures = branches.iter().map(|(name, steps)| {
                    let mut inner = scope.clone();
                    inner.prefix = format!("{path}.{name}.");
                    async move {
                        let (flow, outs) = Box::pin(self.steps(steps, inner)).await;
                        (name.clone(), flow, outs)
                    }
                });
                let results = futures_util::future::join_all(futures).await;
                let mut flow = Flow::Continue;
                let mut out = Map::new();
                for (name, f, outs) in results {
                    flow = merge(flow, f);
                    out.insert(name, Value::Object(outs));
                }
                if flow != Flow::Continue {
                    return flow;
                }
                self.finish_composite(step, scope, &path, Value::Object(out))
                    .await
            }
            StepKind::Approval {
                prompt,
                approvers,
                timeout,
                default_approve,
            } => {
                self.approval(
                    step,
                    scope,
                    &path,
                    existing,
                    (prompt, approvers, *timeout, *default_approve),
                )
                .await
            }
            StepKind::Sleep { duration } => {
                let mut rec =
                    existing.unwrap_or_else(|| self.new_record(step, &path, StepStatus::Waiting));
                let wake = rec.started_at + *duration;
                if now >= wake {
                    rec.status = StepStatus::Succeeded;
                    rec.finished_at = now;
                    rec.output = json!({"waited": riposte_model::format_duration(*duration)});
                    rec.wake_at = None;
                    scope.steps.insert(step.id.clone(), rec.output.clone());
                    self.put(rec);
                    self.checkpoint().await;
                    Flow::Continue
                } else {
                    rec.wake_at = Some(wake);
                    self.put(rec);
                    Flow::Blocked(Some(wake))
                }
            }
            StepKind::Call { playbook, inputs } => {
                if scope.depth >= MAX_CALL_DEPTH {
                    return self
                        .fail(
                            step,
                            scope,
                            &path,
                            existing,
                            format!("calls nest deeper than {MAX_CALL_DEPTH}"),
                        )
                        .await;
                }
                let Some(callee) = self.rt.playbook(playbook) else {
                    return self
                        .fail(
                            step,
                            scope,
                            &path,
                            existing,
                            format!("playbook {playbook:?} is not loaded"),
                        )
                        .await;
                };
                let given = match inputs.render(&self.ctx(scope)) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => Map::new(),
                    Err(e) => {
                        return self
                            .fail(step, scope, &path, existing, format!("call inputs: {e}"))
                            .await;
                    }
                };
                let inputs = match callee.check_inputs(&given) {
                    Ok(i) => i,
                    Err(errs) => {
                        return self
                            .fail(step, scope, &path, existing, errs.join("; "))
                            .await;
                    }
                };
                let inner = Scope {
                    prefix: format!("{path}."),
                    steps: Map::new(),
                    locals: Map::new(),
                    playbook: callee.clone(),
                    inputs: Value::Object(inputs),
                    depth: scope.depth + 1,
                };
                let (flow, outs) = Box::pin(self.steps(&callee.steps, inner)).await;
                match flow {
                    Flow::Continue => {
                        self.finish_composite(step, scope, &path, Value::Object(outs))
                            .await
                    }
                    Flow::Stop { failed: false, .. } => {
                        // A stop inside the callee ends the callee only.
                        self.finish_composite(step, scope, &path, Value::Object(outs))
                            .await
                    }
                    Flow::Stop {
                        failed: true,
                        reason,
                    } => {
                        self.fail(
                            step,
                            scope,
                            &path,
                            existing,
                            format!("{playbook}: {reason}"),
                        )
                        .await
                    }
                    blocked => blocked,
                }
            }
            StepKind::Stop { failed, reason } => {
                let reason = reason
                    .render(self.ctx(scope))
                    .unwrap_or_else(|e| format!("stop (reason not rendered: {e})"));
                let mut rec = self.new_record(step, &path, StepStatus::Succeeded);
                rec.message = Some(reason.clone());
                self.put(rec);
                self.checkpoint().await;
                Flow::Stop {
                    failed: *failed,
                    reason,
                }
            }
        }
    }

    async fn finish_composite(
        &self,
        step: &Step,
        scope: &mut Scope,
        path: &str,
        output: Value,
    ) -> Flow {
        let mut rec = self.new_record(step, path, StepStatus::Succeeded);
        rec.output = output;
        scope.steps.insert(step.id.clone(), rec.output.clone());
        self.put(rec);
        self.checkpoint().await;
        Flow::Continue
    }

    async fn action(
        &self,
        step: &Step,
        spec: &'static ActionSpec,
        with: &crate::ValueTemplate,
        scope: &mut Scope,
        path: &str,
        existing: Option<StepRecord>,
    ) -> Flow {
        let now = self.rt.now();
        if let Some(rec) = &existing
            && rec.status == StepStatus::Waiting
            && rec.wake_at.is_some_and(|w| w > now)
        {
            return Flow::Blocked(rec.wake_at);
        }
        let rendered = with
            .render(&self.ctx(scope))
            .map_err(|e| format!("input {e}"))
            .and_then(|v| {
                spec.check(v).map_err(|errs| {
                    errs.into_iter()
                        .map(|(k, m)| format!("input {k}: {m}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            });
        let input = match rendered {
            Ok(v) => v,
            Err(e) => return self.fail(step, scope, path, existing, e).await,
        };
        let mode = self.snapshot().mode;
        if spec.effect == Effect::Outside && mode != Mode::Enforce {
            let mut rec = self.new_record(step, path, StepStatus::Simulated);
            rec.input = input;
            rec.output = (spec.simulated)();
            rec.message = Some(format!("{mode} mode: recorded, not performed"));
            scope.steps.insert(step.id.clone(), rec.output.clone());
            self.put(rec);
            self.checkpoint().await;
            return Flow::Continue;
        }
        let mut rec = existing.unwrap_or_else(|| self.new_record(step, path, StepStatus::Running));
        rec.input = input.clone();
        rec.attempts += 1;
        rec.status = StepStatus::Running;
        rec.wake_at = None;
        if rec.attempts == 1 {
            rec.started_at = now;
        }
        let snap = self.snapshot();
        let call = StepCall {
            run: &snap,
            playbook: &scope.playbook,
            step: &step.id,
            path,
            idempotency_key: format!("{}/{path}", snap.id),
            spec,
            input,
            mode,
            timeout: step.timeout,
            alert: &self.alert,
        };
        let performed = if spec.effect == Effect::Db {
            let guard = self.commit.lock().await;
            let p = self.rt.perform(&call).await;
            self.settle(step, scope, rec, p, Some(guard)).await
        } else {
            // Marked running before it happens: after a crash it is
            // performed again with the same idempotency key.
            if spec.effect == Effect::Outside {
                self.put(rec.clone());
                self.checkpoint().await;
            }
            let p = self.rt.perform(&call).await;
            self.settle(step, scope, rec, p, None).await
        };
        match performed {
            Ok(flow) => flow,
            Err(message) => {
                let existing = self.record(path);
                self.fail(step, scope, path, existing, message).await
            }
        }
    }

    /// Records what performing gave; `Err` is a failure for the caller to
    /// retry or handle.
    async fn settle(
        &self,
        step: &Step,
        scope: &mut Scope,
        mut rec: StepRecord,
        performed: Performed,
        guard: Option<tokio::sync::MutexGuard<'_, ()>>,
    ) -> Result<Flow, String> {
        let now = self.rt.now();
        match performed {
            Performed::Done(result) => {
                rec.status = if result.done {
                    StepStatus::Succeeded
                } else {
                    StepStatus::Skipped
                };
                rec.finished_at = now;
                rec.output = result.output;
                rec.message = result.message;
                if let Some(case) = rec.output.get("case_id").and_then(Value::as_str)
                    && let Ok(id) = case.parse()
                {
                    self.with_run(|r| r.case = Some(id));
                }
                scope.steps.insert(step.id.clone(), rec.output.clone());
                self.put(rec);
                match guard {
                    Some(_held) => self.checkpoint_locked().await,
                    None => self.checkpoint().await,
                }
                Ok(Flow::Continue)
            }
            Performed::Deferred => {
                // Not performed here; the executor runs it from the top.
                rec.attempts = rec.attempts.saturating_sub(1);
                rec.status = StepStatus::Running;
                self.put(rec);
                Ok(Flow::Blocked(Some(now)))
            }
            Performed::Failed(message) => {
                drop(guard);
                rec.message = Some(message.clone());
                rec.finished_at = now;
                let retry = step.retry.filter(|r| rec.attempts < r.attempts);
                if let Some(r) = retry {
                    let wake = now + r.delay(rec.attempts);
                    rec.status = StepStatus::Waiting;
                    rec.wake_at = Some(wake);
                    tracing::info!(step = %rec.key(), attempt = rec.attempts,
                        message = %self.secrets.redact_text(&message), retry_at = %wake, "step failed; retrying");
                    self.put(rec);
                    self.checkpoint().await;
                    return Ok(Flow::Blocked(Some(wake)));
                }
                self.put(rec);
                Err(message)
            }
        }
    }

    /// A step failed for good: recorded, then `on_error` decides.
    async fn fail(
        &self,
        step: &Step,
        scope: &mut Scope,
        path: &str,
        existing: Option<StepRecord>,
        message: String,
    ) -> Flow {
        let now = self.rt.now();
        let mut rec = existing.unwrap_or_else(|| self.new_record(step, path, StepStatus::Failed));
        rec.status = StepStatus::Failed;
        rec.finished_at = now;
        rec.wake_at = None;
        rec.message = Some(message.clone());
        rec.output = json!({"error": message});
        tracing::warn!(playbook = %scope.playbook.id, step = %path,
            message = %self.secrets.redact_text(&message), "playbook step failed");
        scope.steps.insert(step.id.clone(), rec.output.clone());
        self.put(rec);
        self.checkpoint().await;
        self.handle_failure(step, scope, path, message).await
    }

    async fn handle_failure(
        &self,
        step: &Step,
        scope: &mut Scope,
        path: &str,
        message: String,
    ) -> Flow {
        match &step.on_error {
            OnError::Fail => Flow::Stop {
                failed: true,
                reason: format!("step {path} failed: {message}"),
            },
            OnError::Continue => Flow::Continue,
            OnError::Steps(handler) => {
                let mut inner = scope.clone();
                inner.prefix = format!("{path}.on_error.");
                inner
                    .locals
                    .insert("error".into(), json!({"step": path, "message": message}));
                let (flow, _) = Box::pin(self.steps(handler, inner)).await;
                flow
            }
        }
    }

    async fn approval(
        &self,
        step: &Step,
        scope: &mut Scope,
        path: &str,
        existing: Option<StepRecord>,
        (prompt, approvers, timeout, default_approve): (
            &riposte_template::Template,
            &Vec<String>,
            TimeDelta,
            bool,
        ),
    ) -> Flow {
        let now = self.rt.now();
        let mode = self.snapshot().mode;
        let done = |output: Value, message: String| {
            let mut rec = existing
                .clone()
                .unwrap_or_else(|| self.new_record(step, path, StepStatus::Succeeded));
            rec.status = if mode == Mode::Enforce {
                StepStatus::Succeeded
            } else {
                StepStatus::Simulated
            };
            rec.finished_at = now;
            rec.wake_at = None;
            rec.output = output;
            rec.message = Some(message);
            rec
        };
        if mode != Mode::Enforce {
            let rec = done(
                json!({"approved": default_approve, "by": null, "timed_out": true, "simulated": true}),
                format!("{mode} mode: no one asked; took the default"),
            );
            scope.steps.insert(step.id.clone(), rec.output.clone());
            self.put(rec);
            self.checkpoint().await;
            return Flow::Continue;
        }
        let Some(mut a) = self.rt.approval(path) else {
            let text = match prompt.render(self.ctx(scope)) {
                Ok(t) => t,
                Err(e) => {
                    return self
                        .fail(step, scope, path, existing, format!("prompt: {e}"))
                        .await;
                }
            };
            let snap = self.snapshot();
            let a = Approval {
                id: ApprovalId::new(),
                run: snap.id,
                playbook: scope.playbook.id.clone(),
                step: path.to_owned(),
                prompt: self.secrets.redact_text(&text),
                approvers: approvers.clone(),
                created_at: now,
                expires_at: now + timeout,
                default_approve,
                status: ApprovalStatus::Pending,
                decided_by: None,
                decided_at: None,
                comment: None,
            };
            let mut rec = self.new_record(step, path, StepStatus::Waiting);
            rec.output = json!({"approval_id": a.id, "prompt": a.prompt});
            rec.wake_at = Some(a.expires_at);
            let _guard = self.commit.lock().await;
            if let Err(e) = self.rt.request_approval(&a).await {
                drop(_guard);
                return self
                    .fail(
                        step,
                        scope,
                        path,
                        Some(rec),
                        format!("approval request: {e}"),
                    )
                    .await;
            }
            self.put(rec);
            self.checkpoint_locked().await;
            tracing::info!(run = %snap.id, step = %path, approval = %a.id, "waiting for approval");
            return Flow::Blocked(Some(a.expires_at));
        };
        if a.status == ApprovalStatus::Pending {
            if now < a.expires_at {
                return Flow::Blocked(Some(a.expires_at));
            }
            a.status = ApprovalStatus::Expired;
            a.decided_at = Some(now);
            let _guard = self.commit.lock().await;
            if let Err(e) = self.rt.request_approval(&a).await {
                tracing::error!(approval = %a.id, error = %e, "recording the expiry failed");
            }
            let rec = done(
                json!({"approved": default_approve, "by": null, "timed_out": true,
                       "approval_id": a.id}),
                format!(
                    "nobody answered in {}; took the default ({})",
                    riposte_model::format_duration(timeout),
                    if default_approve { "approve" } else { "reject" }
                ),
            );
            scope.steps.insert(step.id.clone(), rec.output.clone());
            self.put(rec);
            self.checkpoint_locked().await;
            return Flow::Continue;
        }
        let approved = a.status == ApprovalStatus::Approved;
        let rec = done(
            json!({"approved": approved, "by": a.decided_by, "at": a.decided_at,
                   "comment": a.comment, "timed_out": a.status == ApprovalStatus::Expired,
                   "approval_id": a.id}),
            format!(
                "{} by {}",
                a.status,
                a.decided_by.as_deref().unwrap_or("nobody")
            ),
        );
        scope.steps.insert(step.id.clone(), rec.output.clone());
        self.put(rec);
        self.checkpoint().await;
        Flow::Continue
    }
}

fn short(text: &str) -> String {
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(77).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// The approval requests a runtime knows of for one run, by id: what
/// [`Runtime::approval`] reads and [`Runtime::request_approval`] adds to.
#[derive(Debug, Default)]
pub struct Approvals(Mutex<Vec<Approval>>);

impl Approvals {
    pub fn new(list: Vec<Approval>) -> Self {
        Self(Mutex::new(list))
    }

    /// The request of the step at `path`.
    pub fn of_step(&self, path: &str) -> Option<Approval> {
        self.0.lock().ok()?.iter().find(|a| a.step == path).cloned()
    }

    /// Adds a request, or replaces the one with its id.
    pub fn put(&self, approval: Approval) {
        if let Ok(mut list) = self.0.lock() {
            list.retain(|a| a.id != approval.id);
            list.push(approval);
        }
    }

    /// Takes every request out (what was added since the last take).
    pub fn take(&self) -> Vec<Approval> {
        self.0
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    pub fn all(&self) -> Vec<Approval> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Changes the request of the step at `path` in place.
    pub fn update(&self, path: &str, f: impl FnOnce(&mut Approval)) {
        if let Ok(mut list) = self.0.lock()
            && let Some(a) = list.iter_mut().find(|a| a.step == path)
        {
            f(a);
        }
    }
}

/// Named secrets (`secrets.NAME` in templates): values never stored in a
/// run, an approval or a log line — every record is redacted before it is
/// saved.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    values: BTreeMap<String, String>,
    /// Each secret's forms ([`secret_forms`]), made once when the set is
    /// and kept by [`Secrets::only`].
    forms: BTreeMap<String, Vec<String>>,
    /// Every form of every secret, longest first: what redaction replaces.
    redacted: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

/// Every form in which a secret may reach a record or a message: as it is,
/// through the `urlencode` filter, percent-encoded whole (as an HTTP client
/// puts it in a query) and escaped inside a JSON string; longest first, so
/// a longer form is redacted before a shorter one inside it. Forms shorter
/// than 4 bytes are not redacted (they would blank ordinary text).
fn secret_forms(value: &str, urlencode: Option<&Template>) -> Vec<String> {
    let mut forms = BTreeSet::from([value.to_owned()]);
    if let Some(e) = urlencode.and_then(|t| t.render(json!({ "v": value })).ok()) {
        forms.insert(e);
    }
    let mut pct = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            pct.push(char::from(b));
        } else {
            pct.push_str(&format!("%{b:02X}"));
        }
    }
    forms.insert(pct);
    if let Ok(quoted) = serde_json::to_string(value) {
        forms.insert(quoted[1..quoted.len() - 1].to_owned());
    }
    forms.into_iter().filter(|f| f.len() >= 4).collect()
}

/// Every form of every secret, without repeats, longest first.
fn redaction_list(forms: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let all: BTreeSet<&String> = forms.values().flatten().collect();
    let mut all: Vec<String> = all.into_iter().cloned().collect();
    all.sort_by_key(|f| std::cmp::Reverse(f.len()));
    all
}

/// The shortest part of a secret that a cut message is redacted for.
pub const MIN_SECRET_PIECE: usize = 8;

/// `text` with every cut piece of `secret` (see [`Secrets::redact_text`])
/// replaced.
fn redact_pieces(text: &str, secret: &str) -> String {
    let at_cut = |rest: &str| rest.is_empty() || rest.starts_with("...") || rest.starts_with('…');
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    // A start of the secret, cut where the text is.
    let head = &secret[..MIN_SECRET_PIECE.min(secret.len())];
    if secret.is_char_boundary(head.len()) {
        for (p, _) in text.match_indices(head) {
            let common = text[p..]
                .bytes()
                .zip(secret.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            if common < secret.len()
                && text.is_char_boundary(p + common)
                && at_cut(&text[p + common..])
            {
                cuts.push((p, p + common));
            }
        }
    }
    // An end of the secret, where the text (or a quoted part) starts.
    let starts = std::iter::once(0).chain(text.match_indices(": ").map(|(p, _)| p + 2));
    for b in starts {
        let rest = &text[b..];
        let longest = (MIN_SECRET_PIECE..secret.len())
            .rev()
            .filter(|&k| secret.is_char_boundary(secret.len() - k))
            .find(|&k| rest.starts_with(&secret[secret.len() - k..]));
        if let Some(k) = longest {
            cuts.push((b, b + k));
        }
    }
    if cuts.is_empty() {
        return text.to_owned();
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in cuts {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// What redaction puts in place of a secret.
pub const REDACTED: &str = "[redacted]";

impl Secrets {
    pub fn new(values: BTreeMap<String, String>) -> Self {
        let urlencode = if values.is_empty() {
            None
        } else {
            Template::new("{{ v | urlencode }}").ok()
        };
        let forms: BTreeMap<String, Vec<String>> = values
            .iter()
            .map(|(k, v)| (k.clone(), secret_forms(v, urlencode.as_ref())))
            .collect();
        Self {
            redacted: redaction_list(&forms),
            values,
            forms,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Just the named ones (what a playbook reads), with the forms already
    /// made (a run start renders nothing).
    pub fn only(&self, names: &BTreeSet<String>) -> Secrets {
        fn named<T: Clone>(
            m: &BTreeMap<String, T>,
            names: &BTreeSet<String>,
        ) -> BTreeMap<String, T> {
            m.iter()
                .filter(|(k, _)| names.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
        let (values, forms) = (named(&self.values, names), named(&self.forms, names));
        Secrets {
            redacted: redaction_list(&forms),
            values,
            forms,
        }
    }

    fn to_json(&self) -> Value {
        Value::Object(
            self.values
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    /// Replaces every secret value inside `text`, in each of the forms
    /// templates and clients put it in.
    ///
    /// A message cut to a bound may hold only part of a secret (an error
    /// page quoting a long token, cut at 200 bytes; the last bytes of
    /// stderr): a start of a secret, of [`MIN_SECRET_PIECE`] bytes or more,
    /// that ends where the text does or at an ellipsis, and an end of one
    /// where the text starts or after `": "`, are redacted too.
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for v in &self.redacted {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        for v in self.redacted.iter().filter(|v| v.len() > MIN_SECRET_PIECE) {
            out = redact_pieces(&out, v);
        }
        out
    }

    /// Redacts every string inside a JSON value.
    pub fn redact(&self, v: &mut Value) {
        if self.values.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                let r = self.redact_text(s);
                if r != *s {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.redact(i)),
            Value::Object(m) => m.values_mut().for_each(|i| self.redact(i)),
            _ => {}
        }
    }
}
