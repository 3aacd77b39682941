//! Assembly: the rules, playbooks, engine, executor and outside effects a
//! configuration names, each built in one place so `serve`, the one-shot
//! commands and the demo cannot disagree about what a configuration means.

use std::sync::Arc;

use riposte_detect::RuleSet;
use riposte_engine::{Engine, Executor, ExecutorConfig};
use riposte_model::{Clock, Problems};
use riposte_playbooks::{Playbook, PlaybookSet};
use riposte_store::StoreError;

use crate::Config;

/// Loads and cross-checks the rules and playbooks a configuration names.
pub fn load_logic(config: &Config) -> Result<(RuleSet, Vec<Playbook>), Problems> {
    let mut problems = Problems::new();
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

/// Loads rules and playbooks (all problems reported together), opens
/// the store and builds the enforcers a configuration names.
pub async fn build_engine(config: &Config, clock: Arc<dyn Clock>) -> Result<Engine, BuildError> {
    let (rules, playbooks) = load_logic(config).map_err(BuildError::Invalid)?;
    let store = riposte_store::open(&config.store_url).await?;
    let responder = Arc::new(config.responder());
    let index = riposte_intel::feed::load_index(&store).await?;
    let engine = Engine::new(store, Arc::new(rules), playbooks, responder, clock)
        .with_secrets(config.secrets.clone());
    Ok(engine
        .with_intel(Arc::new(std::sync::RwLock::new(index)))
        .with_sighting_push(riposte_intel::sightings::pushing_feeds(&config.intel_feeds)))
}

/// An executor for a configuration's playbooks without loading its rules
/// (`riposte runs`, `riposte approvals`, `riposte playbook run`).
pub async fn executor_from_config(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Executor, BuildError> {
    let mut problems = Problems::new();
    let playbooks = riposte_playbooks::load_playbooks(&config.playbooks, None)
        .map_err(|p| problems.extend(p))
        .ok();
    check_secrets(config, playbooks.iter().flatten(), &mut problems);
    let playbooks = match playbooks {
        Some(p) if problems.is_empty() => p,
        _ => return Err(BuildError::Invalid(problems)),
    };
    let effects = effects_for(config).map_err(|e| {
        let mut p = Problems::new();
        p.push(
            &config.base_dir.display().to_string(),
            "actions",
            e.to_string(),
        );
        BuildError::Invalid(p)
    })?;
    let store = riposte_store::open(&config.store_url).await?;
    Ok(Executor::new(
        store,
        Arc::new(config.responder()),
        PlaybookSet::new(playbooks),
        effects,
        clock,
    )
    .with_secrets(config.secrets.clone())
    .with_config(ExecutorConfig {
        workers: config.executor.workers,
        action_timeout: config.executor.action_timeout,
        lease: chrono::TimeDelta::from_std(config.executor.lease)
            .unwrap_or(chrono::TimeDelta::seconds(60)),
        ..ExecutorConfig::default()
    }))
}

/// Every secret a playbook reads (and each webhook trigger's) is defined.
fn check_secrets<'a>(
    config: &Config,
    playbooks: impl Iterator<Item = &'a Playbook>,
    problems: &mut Problems,
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
    config: &Config,
) -> Result<Arc<dyn riposte_playbooks::Effects>, riposte_actions::ActionsError> {
    Ok(Arc::new(riposte_actions::Actions::new(
        config.actions.clone(),
    )?))
}

/// Why an engine could not be assembled from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Rules or playbooks were rejected; every problem is listed.
    #[error("{0}")]
    Invalid(Problems),
    #[error("cannot open store: {0}")]
    Store(#[from] StoreError),
}
