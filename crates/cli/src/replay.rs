//! `riposte replay`: a recorded corpus through rules and playbooks in
//! simulate mode, on the events' own clock, in a throwaway store: what
//! would have been decided, and how that differs from a baseline version of
//! the playbooks. Nothing is enforced, mailed or posted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Args;
use riposte_engine::Engine;
use riposte_ingest::{DecodeCtx, DecodedBatch, Format};
use riposte_model::{Clock, ManualClock, Mode, RunStatus, Timestamp};
use riposte_respond::{Responder, ResponderConfig};
use riposte_store::{DecisionFilter, RunFilter};
use serde::Serialize;

use crate::commands::{load_config, print_json, terminal_safe};
use crate::ingest::{Input, detect, open_input};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Recorded events: files or directories (read recursively, in name
    /// order), any format Riposte reads; `.gz` decompressed.
    #[arg(long, required = true, num_args = 1..)]
    events: Vec<PathBuf>,
    /// Rule files or directories (native and Sigma).
    #[arg(long, required = true, num_args = 1..)]
    rules: Vec<PathBuf>,
    /// The playbooks to try.
    #[arg(long, required = true, num_args = 1..)]
    playbooks: Vec<PathBuf>,
    /// The playbooks to compare with (the version in production).
    #[arg(long, num_args = 1..)]
    baseline: Vec<PathBuf>,
    /// A configuration whose safety rails (respond:), Sigma mapping and
    /// secrets apply; without it, the default rails.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The events' format, when it cannot be detected.
    #[arg(long)]
    format: Option<String>,
    #[arg(long)]
    json: bool,
}

/// One decision a replay would have made (simulated), with how often.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Would {
    pub rule: String,
    pub kind: String,
    pub scope: String,
    pub value: String,
    pub playbook: String,
    pub step: String,
    /// How long it would have lasted.
    pub lasts: String,
}

/// What one replay saw and would have done.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub records: u64,
    pub events: u64,
    pub dead_letters: u64,
    pub alerts: u64,
    pub runs: u64,
    pub runs_failed: u64,
    /// Each distinct would-be decision and how many times it was asked for.
    pub decisions: BTreeMap<String, (Would, u64)>,
    /// Refused by a safety rail (allowlist and the like), by reason.
    pub refused: u64,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    candidate: &'a Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'a Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<Diff>,
}

/// New, removed and changed decisions against the baseline, and per
/// rule counts.
#[derive(Debug, Serialize)]
struct Diff {
    added: Vec<Would>,
    removed: Vec<Would>,
    /// Decided both times, for another duration or by another step:
    /// (baseline, candidate).
    changed: Vec<(Would, Would)>,
    /// rule → (baseline, candidate) distinct decisions.
    by_rule: BTreeMap<String, (usize, usize)>,
}

fn files_under(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

/// Decodes every file into one batch, events in time order (detection
/// must see sources interleaved as they happened).
fn decode_all(
    files: &[PathBuf],
    format: Option<Format>,
    now: Timestamp,
) -> anyhow::Result<(u64, DecodedBatch)> {
    let mut all = DecodedBatch::default();
    let mut records = 0;
    for path in files {
        let (name, mut reader) = open_input(path)?;
        let format = match format {
            Some(f) => f,
            None => detect(&mut reader, &name)?,
        };
        let mut input = Input::new(reader, format, 1 << 20, &name)?;
        let ctx = DecodeCtx { source: &name, now };
        while let Some((n, batch)) = input
            .next_batch(1000, &ctx)
            .with_context(|| format!("reading {name}"))?
        {
            records += n;
            all.extend(batch);
        }
    }
    all.events.sort_by_key(|e| e.timestamp);
    Ok((records, all))
}

async fn replay_once(
    batch: &DecodedBatch,
    records: u64,
    rules: &[PathBuf],
    playbooks: &[PathBuf],
    config: Option<&riposte_service::Config>,
) -> anyhow::Result<Outcome> {
    let mapping =
        riposte_sigma::Mapping::builtin_with(config.and_then(|c| c.sigma_mapping.as_deref()))
            .map_err(|p| anyhow!("{p}"))?;
    let rules = riposte_detect::load_rules_with(rules, &mapping).map_err(|p| anyhow!("{p}"))?;
    let mut playbooks =
        riposte_playbooks::load_playbooks(playbooks, None).map_err(|p| anyhow!("{p}"))?;
    for pb in &mut playbooks {
        pb.mode = Mode::Simulate;
    }
    let store = riposte_store::open("sqlite::memory:").await?;
    let start = batch
        .events
        .first()
        .map_or_else(|| riposte_model::SystemClock.now(), |e| e.timestamp);
    let clock = Arc::new(ManualClock::new(start));
    let respond = config.map_or_else(ResponderConfig::default, |c| c.respond.clone());
    let mut engine = Engine::new(
        store.clone(),
        Arc::new(rules),
        playbooks,
        Arc::new(Responder::new(respond, Vec::new())),
        clock.clone(),
    )
    .follow_event_time(clock.clone());
    if let Some(c) = config {
        engine = engine.with_secrets(c.secrets.clone());
    }
    let effects = match config {
        Some(c) => riposte_service::effects_for(c)?,
        None => Arc::new(riposte_playbooks::NoEffects) as Arc<dyn riposte_playbooks::Effects>,
    };
    let executor = engine.executor(effects);
    let mut out = Outcome {
        records,
        ..Outcome::default()
    };
    for chunk in batch.events.chunks(1000) {
        let part = DecodedBatch {
            events: chunk.to_vec(),
            ..DecodedBatch::default()
        };
        let report = engine.commit_batch(part, None).await?;
        out.events += report.events;
        out.alerts += report.alerts.len() as u64;
        out.refused += report.refusals.len() as u64;
        if report.queued_runs > 0 {
            executor.run_until_idle().await?;
        }
    }
    out.dead_letters = batch.dead_letters.len() as u64;
    // Timers and retries still waiting: move the clock to each deadline.
    for _ in 0..1000 {
        match store.next_run_due().await? {
            Some(at) => {
                clock.advance_to(at);
                executor.run_until_idle().await?;
            }
            None => break,
        }
    }
    let runs = store.list_runs(&RunFilter::default()).await?;
    out.runs = runs.len() as u64;
    out.runs_failed = runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count() as u64;
    let decisions = store.list_decisions(&DecisionFilter::default()).await?;
    for d in decisions {
        let (playbook, step) = match &d.origin {
            riposte_model::Origin::Playbook { playbook, step, .. } => {
                (playbook.clone(), step.clone())
            }
            _ => continue,
        };
        let w = Would {
            rule: d.origin.rule().unwrap_or("").to_owned(),
            kind: d.kind.to_string(),
            scope: d.scope.to_string(),
            value: d.value.clone(),
            playbook,
            step,
            lasts: d
                .duration
                .map_or_else(|| "permanent".to_owned(), riposte_model::format_duration),
        };
        let key = format!("{}\u{0}{}\u{0}{}\u{0}{}", w.rule, w.kind, w.scope, w.value);
        out.decisions.entry(key).or_insert((w, 0)).1 += 1;
    }
    Ok(out)
}

pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let config = args.config.as_deref().map(load_config).transpose()?;
    let format = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()?;
    let files = files_under(&args.events)?;
    let (records, batch) = decode_all(&files, format, riposte_model::SystemClock.now())?;
    let candidate = replay_once(
        &batch,
        records,
        &args.rules,
        &args.playbooks,
        config.as_ref(),
    )
    .await?;
    let baseline = if args.baseline.is_empty() {
        None
    } else {
        Some(
            replay_once(
                &batch,
                records,
                &args.rules,
                &args.baseline,
                config.as_ref(),
            )
            .await?,
        )
    };
    let diff = baseline.as_ref().map(|b| diff(b, &candidate));
    if args.json {
        return print_json(&Report {
            candidate: &candidate,
            baseline: baseline.as_ref(),
            diff,
        });
    }
    println!(
        "Replayed {} records from {} file(s): {} events, {} dead-lettered, {} alerts, {} runs ({} failed), {} refused by the safety rails",
        candidate.records,
        files.len(),
        candidate.events,
        candidate.dead_letters,
        candidate.alerts,
        candidate.runs,
        candidate.runs_failed,
        candidate.refused
    );
    println!("Would decide ({}):", candidate.decisions.len());
    for (w, n) in candidate.decisions.values() {
        println!("  {}", terminal_safe(&line(w, *n)));
    }
    if let Some(d) = diff {
        println!(
            "Against the baseline: {} new, {} removed, {} changed",
            d.added.len(),
            d.removed.len(),
            d.changed.len()
        );
        for w in &d.added {
            println!("  + {}", terminal_safe(&line(w, 1)));
        }
        for w in &d.removed {
            println!("  - {}", terminal_safe(&line(w, 1)));
        }
        for (b, c) in &d.changed {
            println!(
                "  ~ {} {} {}: for {} by step {} -> for {} by step {}",
                b.kind,
                b.scope,
                terminal_safe(&b.value),
                b.lasts,
                terminal_safe(&b.step),
                c.lasts,
                terminal_safe(&c.step)
            );
        }
        println!("By rule (baseline -> candidate):");
        for (rule, (b, c)) in &d.by_rule {
            println!("  {}: {b} -> {c}", terminal_safe(rule));
        }
    }
    Ok(())
}

fn line(w: &Would, n: u64) -> String {
    let times = if n > 1 {
        format!(" ({n} times)")
    } else {
        String::new()
    };
    format!(
        "{} {} {} for {} — rule {}, playbook {} step {}{times}",
        w.kind, w.scope, w.value, w.lasts, w.rule, w.playbook, w.step
    )
}

fn diff(baseline: &Outcome, candidate: &Outcome) -> Diff {
    let added: Vec<Would> = candidate
        .decisions
        .iter()
        .filter(|(k, _)| !baseline.decisions.contains_key(*k))
        .map(|(_, (w, _))| w.clone())
        .collect();
    let removed: Vec<Would> = baseline
        .decisions
        .iter()
        .filter(|(k, _)| !candidate.decisions.contains_key(*k))
        .map(|(_, (w, _))| w.clone())
        .collect();
    let changed: Vec<(Would, Would)> = candidate
        .decisions
        .iter()
        .filter_map(|(k, (c, _))| {
            let (b, _) = baseline.decisions.get(k)?;
            (b != c).then(|| (b.clone(), c.clone()))
        })
        .collect();
    let mut by_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (w, _) in baseline.decisions.values() {
        by_rule.entry(w.rule.clone()).or_default().0 += 1;
    }
    for (w, _) in candidate.decisions.values() {
        by_rule.entry(w.rule.clone()).or_default().1 += 1;
    }
    Diff {
        added,
        removed,
        changed,
        by_rule,
    }
}
