//! Running a playbook inside the batch transaction that triggered it: its
//! database steps (cases, decisions) commit with the alert that caused
//! them, so a crash neither loses nor repeats them; at the first step with
//! outside effects (or a wait) the run is left to the executor.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use riposte_model::{Approval, PlaybookRun, Timestamp};
use riposte_playbooks::{
    Approvals, Effect, Performed, Playbook, PlaybookSet, Runtime, Secrets, StepCall,
};
use riposte_respond::Responder;
use riposte_store::Tx;

use crate::dbactions::{self, DbEffects};

pub(crate) struct TxRuntime<'a> {
    pub tx: tokio::sync::Mutex<&'a mut dyn Tx>,
    pub responder: &'a Responder,
    pub playbooks: &'a PlaybookSet,
    pub secrets: &'a Secrets,
    pub now: Timestamp,
    pub effects: Mutex<DbEffects>,
    pub approvals: Approvals,
}

impl<'a> TxRuntime<'a> {
    pub fn new(
        tx: &'a mut dyn Tx,
        responder: &'a Responder,
        playbooks: &'a PlaybookSet,
        secrets: &'a Secrets,
        now: Timestamp,
    ) -> Self {
        Self {
            tx: tokio::sync::Mutex::new(tx),
            responder,
            playbooks,
            secrets,
            now,
            effects: Mutex::new(DbEffects::default()),
            approvals: Approvals::default(),
        }
    }

    pub fn into_effects(self) -> DbEffects {
        self.effects.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Runtime for TxRuntime<'_> {
    fn now(&self) -> Timestamp {
        self.now
    }

    async fn perform(&self, call: &StepCall<'_>) -> Performed {
        if call.spec.effect != Effect::Db {
            return Performed::Deferred;
        }
        let mut tx = self.tx.lock().await;
        let mut fx = DbEffects::default();
        let p = dbactions::perform(&mut **tx, self.responder, call, self.now, &mut fx).await;
        if let Ok(mut all) = self.effects.lock() {
            all.decisions.extend(fx.decisions);
            all.refusals.extend(fx.refusals);
            all.alerts.extend(fx.alerts);
            dbactions::merge_cases(&mut all.cases, fx.cases);
        }
        p
    }

    async fn checkpoint(&self, _run: &PlaybookRun) -> Result<(), String> {
        // The batch saves the run once, with everything else it commits.
        Ok(())
    }

    fn approval(&self, path: &str) -> Option<Approval> {
        self.approvals.of_step(path)
    }

    async fn request_approval(&self, approval: &Approval) -> Result<(), String> {
        let mut tx = self.tx.lock().await;
        tx.save_approval(approval)
            .await
            .map_err(|e| e.to_string())?;
        self.approvals.put(approval.clone());
        Ok(())
    }

    fn playbook(&self, id: &str) -> Option<Arc<Playbook>> {
        self.playbooks.get(id)
    }

    fn secrets(&self) -> &Secrets {
        self.secrets
    }
}
