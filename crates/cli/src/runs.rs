//! `riposte runs`, `riposte approvals` and `riposte playbook run`:
//! inspecting runs (the step timeline), answering approvals, and running a
//! playbook by hand.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use riposte_auth::Identity;
use riposte_engine::Executor;
use riposte_engine::runs::{answer_approval, cancel_run, start_run};
use riposte_model::{
    Approval, ApprovalId, ApprovalStatus, Clock, PlaybookRun, RunId, RunStatus, SystemClock,
    TriggerKind,
};
use riposte_service::executor_from_config;
use riposte_store::{RunFilter, Store};
use serde_json::{Map, Value};

use crate::commands::{load_config, print_json, print_list, terminal_safe};

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// Runs, newest first.
    List {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
        /// pending, running, waiting, succeeded, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        playbook: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One run's step timeline with inputs and outputs (secrets redacted).
    Show {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop an unfinished run: no further step runs.
    Cancel {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
        id: String,
        #[arg(long, default_value = "cancelled from the command line")]
        reason: String,
    },
    /// Run what is due now (waiting runs whose time came, answered
    /// approvals) until nothing is; `serve` does this continuously.
    Resume {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsCommand {
    /// Approvals waiting for an answer (or all, with --all), oldest first.
    List {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Approve: the waiting step goes on with `approved: true`.
    Approve {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject: the waiting step goes on with `approved: false`.
    Reject {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
}

/// Who the command line acts as: `local:<os user>`, an admin, named so in
/// the audit log.
fn me() -> Identity {
    Identity::local_os_user()
}

async fn executor(config: &std::path::Path) -> anyhow::Result<Executor> {
    let config = load_config(config)?;
    Ok(executor_from_config(&config, Arc::new(SystemClock)).await?)
}

/// The store alone, for commands that only read runs and approvals: reading
/// never needs a playbook's secrets or its actions, so neither is loaded
/// (a secret unset in this shell does not stop `runs list`).
async fn read_store(config: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    let config = load_config(config)?;
    riposte_store::open(&config.store_url)
        .await
        .with_context(|| format!("opening store {}", config.store_url))
}

fn run_line(r: &PlaybookRun) -> String {
    let next = r
        .next_at
        .filter(|_| !r.status.is_finished())
        .map(|t| format!(" next {}", t.format("%Y-%m-%dT%H:%M:%SZ")))
        .unwrap_or_default();
    let trigger = r
        .trigger
        .as_ref()
        .map_or("alert".to_owned(), |t| t.kind.to_string());
    let message = r
        .message
        .as_deref()
        .map(|m| format!(" — {m}"))
        .unwrap_or_default();
    format!(
        "{}  {:<20} {:<9} {:<8} {} steps, started {}{next}{message}",
        r.id,
        r.playbook,
        r.status.as_str(),
        trigger,
        r.steps.len(),
        r.started_at.format("%Y-%m-%dT%H:%M:%SZ"),
    )
}

/// The run as a timeline, one step a line, inputs and outputs indented.
pub(crate) fn timeline(r: &PlaybookRun, approvals: &[Approval]) -> String {
    let mut out = format!("{}\n", run_line(r));
    for s in &r.steps {
        let attempts = if s.attempts > 1 {
            format!(" ({} attempts)", s.attempts)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {}  {:<28} {:<18} {:<9}{attempts}{}\n",
            s.finished_at.format("%H:%M:%S"),
            s.key(),
            s.action,
            s.status.as_str(),
            s.message
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default()
        ));
        if !s.input.is_null() {
            out.push_str(&format!("      in:  {}\n", s.input));
        }
        if !s.output.is_null() {
            out.push_str(&format!("      out: {}\n", s.output));
        }
    }
    for a in approvals {
        out.push_str(&format!("  {}\n", approval_line(a)));
    }
    out
}

fn approval_line(a: &Approval) -> String {
    let who = match (&a.decided_by, a.status) {
        (Some(by), _) => format!(" by {by}"),
        (None, ApprovalStatus::Pending) => format!(
            " until {} (then {})",
            a.expires_at.format("%Y-%m-%dT%H:%M:%SZ"),
            if a.default_approve {
                "approve"
            } else {
                "reject"
            }
        ),
        (None, _) => String::new(),
    };
    format!(
        "approval {} {:<8} {} step {}{who}: {}",
        a.id,
        a.status.as_str(),
        a.playbook,
        a.step,
        a.prompt
    )
}

pub async fn runs(cmd: RunsCommand) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::List {
            config,
            status,
            playbook,
            limit,
            json,
        } => {
            let store = read_store(&config).await?;
            let status = status
                .map(|s| s.parse::<RunStatus>())
                .transpose()
                .map_err(|e| anyhow!(e))?;
            let list = store
                .list_runs(&RunFilter {
                    status,
                    playbook,
                    limit: Some(limit),
                })
                .await?;
            print_list(&list, json, "runs", run_line)
        }
        RunsCommand::Show { config, id, json } => {
            let store = read_store(&config).await?;
            let id: RunId = id.parse().map_err(|_| anyhow!("{id:?} is not a run id"))?;
            let run = store
                .get_run(id)
                .await?
                .ok_or_else(|| anyhow!("no run {id}"))?;
            let mut tx = store.begin().await?;
            let approvals = tx.approvals_of(id).await?;
            drop(tx);
            if json {
                let mut v = serde_json::to_value(&run)?;
                v["approvals"] = serde_json::to_value(&approvals)?;
                return print_json(&v);
            }
            print!("{}", terminal_safe_lines(&timeline(&run, &approvals)));
            Ok(())
        }
        RunsCommand::Cancel { config, id, reason } => {
            let ex = executor(&config).await?;
            let id: RunId = id.parse().map_err(|_| anyhow!("{id:?} is not a run id"))?;
            let run =
                cancel_run(ex.store().as_ref(), id, &me(), &reason, SystemClock.now()).await?;
            println!("{}", terminal_safe(&run_line(&run)));
            Ok(())
        }
        RunsCommand::Resume { config } => {
            let ex = executor(&config).await?;
            let n = ex.run_until_idle().await?;
            println!("{n} run(s) executed");
            Ok(())
        }
    }
}

pub async fn approvals(cmd: ApprovalsCommand) -> anyhow::Result<()> {
    let (config, id, approve, comment) = match cmd {
        ApprovalsCommand::List { config, all, json } => {
            let store = read_store(&config).await?;
            let status = (!all).then_some(ApprovalStatus::Pending);
            let list = store.list_approvals(status, 10_000).await?;
            return print_list(&list, json, "approvals", approval_line);
        }
        ApprovalsCommand::Approve {
            config,
            id,
            comment,
        } => (config, id, true, comment),
        ApprovalsCommand::Reject {
            config,
            id,
            comment,
        } => (config, id, false, comment),
    };
    let ex = executor(&config).await?;
    let id: ApprovalId = id
        .parse()
        .map_err(|_| anyhow!("{id:?} is not an approval id"))?;
    let a = answer_approval(
        ex.store().as_ref(),
        id,
        approve,
        &me(),
        comment,
        SystemClock.now(),
    )
    .await?;
    println!("{}", terminal_safe(&approval_line(&a)));
    // The run goes on now (under `serve`, its executor would take it up as
    // well; a lease keeps them from running it twice).
    ex.run_until_idle().await?;
    if let Some(run) = ex.store().get_run(a.run).await? {
        println!("{}", terminal_safe(&run_line(&run)));
    }
    Ok(())
}

/// `riposte playbook run ID --input k=v …`: a manual run, executed here
/// until it finishes or waits.
pub async fn run_playbook(
    config: PathBuf,
    id: String,
    inputs: Vec<String>,
    inputs_json: Option<String>,
) -> anyhow::Result<()> {
    let ex = executor(&config).await?;
    let mut given: Map<String, Value> = match inputs_json {
        Some(text) => match serde_json::from_str(&text).context("--inputs-json")? {
            Value::Object(m) => m,
            _ => bail!("--inputs-json must be a JSON object"),
        },
        None => Map::new(),
    };
    for kv in inputs {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("--input {kv:?}: expected NAME=VALUE"))?;
        // VALUE is JSON when it parses as JSON (numbers, true, lists),
        // text otherwise.
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        given.insert(k.to_owned(), value);
    }
    let run = start_run(
        ex.store().as_ref(),
        ex.playbooks(),
        &id,
        TriggerKind::Manual,
        Value::Object(given),
        Some(&me()),
        SystemClock.now(),
    )
    .await?;
    ex.run_until_idle().await?;
    let run = ex
        .store()
        .get_run(run.id)
        .await?
        .ok_or_else(|| anyhow!("run {} vanished", run.id))?;
    let mut tx = ex.store().begin().await?;
    let approvals = tx.approvals_of(run.id).await?;
    drop(tx);
    print!("{}", terminal_safe_lines(&timeline(&run, &approvals)));
    if run.status == RunStatus::Failed {
        bail!(
            "run {} failed: {}",
            run.id,
            run.message.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

/// [`terminal_safe`] per line, keeping the line breaks.
fn terminal_safe_lines(text: &str) -> String {
    text.lines().map(|l| terminal_safe(l) + "\n").collect()
}

/// `riposte playbook test FILES… --case CASES`.
pub async fn test_playbook(
    files: &[PathBuf],
    cases: &std::path::Path,
    verbose: bool,
) -> anyhow::Result<()> {
    let playbooks = riposte_playbooks::load_playbooks(files, None).map_err(|p| anyhow!("{p}"))?;
    let set = riposte_playbooks::PlaybookSet::new(playbooks);
    let text =
        std::fs::read_to_string(cases).with_context(|| format!("reading {}", cases.display()))?;
    let file = riposte_playbooks::testcase::parse_case_file(&cases.display().to_string(), &text)
        .map_err(|e| anyhow!(e))?;
    let results = riposte_playbooks::testcase::run_cases(&set, &file)
        .await
        .map_err(|e| anyhow!("{}: {e}", cases.display()))?;
    let failed = results.iter().filter(|r| !r.passed()).count();
    for r in &results {
        println!(
            "{} {}",
            if r.passed() { "PASS" } else { "FAIL" },
            terminal_safe(&r.name)
        );
        for f in &r.failures {
            println!("  {}", terminal_safe(f));
        }
        if verbose && let Some(run) = &r.run {
            for line in timeline(run, &[]).lines() {
                println!("    {}", terminal_safe(line));
            }
        }
    }
    println!("{} passed, {failed} failed", results.len() - failed);
    if failed > 0 {
        bail!("{failed} of {} cases failed", results.len());
    }
    Ok(())
}
