//! Case triggers: which playbooks a case opened or changed by a playbook
//! run starts. An `updated` case starts each playbook at most once per its
//! trigger's cooldown, remembered in memory (a restart forgets it, so the
//! first update after one may start a run early).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use riposte_model::{Case, CaseId, Timestamp};
use riposte_playbooks::{Playbook, PlaybookSet};

#[derive(Clone, Debug, Default)]
pub struct CaseTriggers(Arc<Mutex<HashMap<(CaseId, String), Timestamp>>>);

impl CaseTriggers {
    /// The playbooks this change of `case` starts at `now`.
    pub fn due(
        &self,
        playbooks: &PlaybookSet,
        case: &Case,
        created: bool,
        now: Timestamp,
    ) -> Vec<Arc<Playbook>> {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Forget what no cooldown can still need (bounded memory).
        if last.len() > 100_000 {
            last.retain(|_, t| now - *t < chrono::TimeDelta::days(1));
        }
        let mut out = Vec::new();
        for pb in playbooks.iter() {
            let Some(t) = &pb.trigger.case else { continue };
            if !t.matches(case, created) {
                continue;
            }
            let key = (case.id, pb.id.clone());
            if !created && last.get(&key).is_some_and(|at| now - *at < t.cooldown) {
                continue;
            }
            last.insert(key, now);
            out.push(pb.clone());
        }
        out
    }
}
