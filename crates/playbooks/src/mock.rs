//! A runtime with mocked action results, for `riposte playbook test` and
//! for tests: nothing is performed; every call is recorded; approvals are
//! answered from the test case or left waiting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use riposte_model::{Approval, ApprovalStatus, PlaybookRun, Timestamp};
use serde::Deserialize;
use serde_json::Value;

use crate::{Approvals, Performed, Playbook, PlaybookSet, Runtime, Secrets, StepCall};

/// What a mocked action gives.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockResult {
    /// The action's output (default: the simulate-mode output of the
    /// action, which has the real output's keys).
    #[serde(default)]
    pub output: Option<Value>,
    /// Fail with this message instead; `fail_times` limits how many
    /// attempts fail (for retries).
    #[serde(default)]
    pub fail: Option<String>,
    #[serde(default)]
    pub fail_times: Option<u32>,
    /// Did nothing (recorded as skipped), with this message.
    #[serde(default)]
    pub skip: Option<String>,
}

/// An answer to an approval a test gives.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockAnswer {
    pub approve: bool,
    #[serde(default = "default_by")]
    pub by: String,
    #[serde(default)]
    pub comment: Option<String>,
}

fn default_by() -> String {
    "tester".into()
}

/// One recorded action call.
#[derive(Clone, Debug, PartialEq)]
pub struct MockCall {
    pub path: String,
    pub action: String,
    pub input: Value,
    pub idempotency_key: String,
}

/// See the module documentation.
#[derive(Debug)]
pub struct MockRuntime {
    now: Mutex<Timestamp>,
    /// By step id or path.
    results: BTreeMap<String, MockResult>,
    answers: BTreeMap<String, MockAnswer>,
    attempts: Mutex<BTreeMap<String, u32>>,
    calls: Mutex<Vec<MockCall>>,
    approvals: Approvals,
    checkpoints: Mutex<Vec<PlaybookRun>>,
    playbooks: PlaybookSet,
    secrets: Secrets,
}

impl MockRuntime {
    pub fn new(playbooks: PlaybookSet, now: Timestamp) -> Self {
        Self {
            now: Mutex::new(now),
            results: BTreeMap::new(),
            answers: BTreeMap::new(),
            attempts: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(Vec::new()),
            approvals: Approvals::default(),
            checkpoints: Mutex::new(Vec::new()),
            playbooks,
            secrets: Secrets::default(),
        }
    }

    pub fn with_results(mut self, results: BTreeMap<String, MockResult>) -> Self {
        self.results = results;
        self
    }

    /// Approvals answered when the run reaches them (by step id or path).
    pub fn with_answers(mut self, answers: BTreeMap<String, MockAnswer>) -> Self {
        self.answers = answers;
        self
    }

    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    pub fn set_now(&self, at: Timestamp) {
        if let Ok(mut n) = self.now.lock() {
            *n = at;
        }
    }

    pub fn calls(&self) -> Vec<MockCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn approvals(&self) -> Vec<Approval> {
        self.approvals.all()
    }

    /// Every checkpoint taken, in order.
    pub fn checkpoints(&self) -> Vec<PlaybookRun> {
        self.checkpoints
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Answers a waiting approval, as a person would.
    pub fn answer(&self, path: &str, approve: bool, by: &str) {
        let now = self.now();
        self.approvals.update(path, |a| {
            a.status = if approve {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            };
            a.decided_by = Some(by.to_owned());
            a.decided_at = Some(now);
        });
    }

    fn lookup<'m, T>(map: &'m BTreeMap<String, T>, step: &str, path: &str) -> Option<&'m T> {
        map.get(path).or_else(|| map.get(step))
    }
}

#[async_trait]
impl Runtime for MockRuntime {
    fn now(&self) -> Timestamp {
        self.now.lock().map(|n| *n).unwrap_or_default()
    }

    async fn perform(&self, call: &StepCall<'_>) -> Performed {
        if let Ok(mut c) = self.calls.lock() {
            c.push(MockCall {
                path: call.path.to_owned(),
                action: call.spec.name.to_owned(),
                input: call.input.clone(),
                idempotency_key: call.idempotency_key.clone(),
            });
        }
        let attempt = {
            let mut a = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            let n = a.entry(call.path.to_owned()).or_default();
            *n += 1;
            *n
        };
        let Some(r) = Self::lookup(&self.results, call.step, call.path) else {
            return Performed::Done(crate::ActionResult::done((call.spec.simulated)()));
        };
        if let Some(msg) = &r.fail
            && r.fail_times.is_none_or(|n| attempt <= n)
        {
            return Performed::Failed(msg.clone());
        }
        let output = r.output.clone().unwrap_or_else(|| (call.spec.simulated)());
        Performed::Done(match &r.skip {
            Some(msg) => crate::ActionResult {
                done: false,
                output,
                message: Some(msg.clone()),
            },
            None => crate::ActionResult::done(output),
        })
    }

    async fn checkpoint(&self, run: &PlaybookRun) -> Result<(), String> {
        if let Ok(mut c) = self.checkpoints.lock() {
            c.push(run.clone());
        }
        Ok(())
    }

    fn approval(&self, path: &str) -> Option<Approval> {
        self.approvals.of_step(path)
    }

    async fn request_approval(&self, approval: &Approval) -> Result<(), String> {
        let mut a = approval.clone();
        let step = a.step.rsplit('.').next().unwrap_or(&a.step).to_owned();
        if a.status == ApprovalStatus::Pending
            && let Some(ans) = Self::lookup(&self.answers, &step, &a.step)
        {
            a.status = if ans.approve {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            };
            a.decided_by = Some(ans.by.clone());
            a.decided_at = Some(self.now());
            a.comment = ans.comment.clone();
        }
        self.approvals.put(a);
        Ok(())
    }

    fn playbook(&self, id: &str) -> Option<Arc<Playbook>> {
        self.playbooks.get(id)
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }
}
