//! The store-facing subcommands and `serve`/`check`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use riposte_auth::Identity;
use riposte_model::{
    Clock, Confidence, Decision, DecisionId, DecisionKind, DecisionState, Mode, Origin, Scope,
    SystemClock, format_duration, parse_duration,
};
use riposte_respond::{DecisionRequest, Outcome, Responder, ResponderConfig};
use riposte_service::{Config, build_engine, load_logic};
use riposte_store::{
    AuditFault, AuditProblem, AuditVerification, DecisionFilter, Store, StoreError,
};

/// Where the store is: a config file, or a store URL directly.
#[derive(Args, Debug)]
pub struct StoreArgs {
    /// The configuration naming the store and the enforcers to update.
    #[arg(long, short, default_value = "riposte.yaml")]
    config: PathBuf,
    /// A store URL (sqlite://PATH or postgres://…), overriding the config's.
    #[arg(long, env = "RIPOSTE_STORE")]
    store: Option<String>,
}

pub(crate) struct Ctx {
    pub store: Arc<dyn Store>,
    pub responder: Responder,
    pub clock: SystemClock,
    /// The configuration, when one was found.
    pub config: Option<Config>,
}

impl StoreArgs {
    pub(crate) fn config_path(&self) -> &Path {
        &self.config
    }

    /// For commands that change decisions: the configuration is required,
    /// because its allowlist must apply and its enforcers must be updated.
    pub(crate) async fn open_for_decisions(&self) -> anyhow::Result<Ctx> {
        if !self.config.exists() {
            bail!(
                "no configuration at {}; changing decisions needs --config FILE, whose allowlist applies and whose enforcers are updated",
                self.config.display()
            );
        }
        self.open().await
    }

    pub(crate) async fn open(&self) -> anyhow::Result<Ctx> {
        let config = if self.config.exists() {
            Some(load_config(&self.config)?)
        } else if self.store.is_none() {
            bail!(
                "no configuration at {} and no --store given; pass --config FILE or --store URL",
                self.config.display()
            );
        } else {
            None
        };
        let url = match (&self.store, &config) {
            (Some(url), _) => url.clone(),
            (None, Some(c)) => c.store_url.clone(),
            (None, None) => unreachable!("checked above"),
        };
        let store = riposte_store::open(&url)
            .await
            .with_context(|| format!("opening store {url}"))?;
        let responder = match &config {
            Some(c) => c.responder(),
            None => Responder::new(ResponderConfig::default(), Vec::new()),
        };
        Ok(Ctx {
            store,
            responder,
            clock: SystemClock,
            config,
        })
    }
}

pub(crate) fn load_config(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|p| anyhow!("invalid configuration, {p}"))
}

pub async fn serve(config_path: &Path) -> anyhow::Result<()> {
    // Listen for SIGTERM before anything else, so a stop during start-up
    // (store migration, enforcer reconciliation) is also a clean stop.
    let shutdown = shutdown_signal()?;
    let config = load_config(config_path)?;
    // Before the store is opened: a bad certificate is a configuration
    // error, reported as one.
    if let Some(tls) = &config.api.tls {
        riposte_service::http::tls_acceptor(tls)?;
    }
    let engine = build_engine(&config, Arc::new(SystemClock)).await?;
    eprintln!(
        "riposte serving: store {}, API on {}://{}, {} source(s)",
        config.store_url,
        if config.api.tls.is_some() {
            "https"
        } else {
            "http"
        },
        config.api.listen,
        config.sources.len()
    );
    riposte_service::serve(config, engine, shutdown).await
}

/// Resolves on SIGTERM or Ctrl-C; the handlers are installed when this is
/// called, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}

pub fn check(config_path: &Path) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let (rules, playbooks) = load_logic(&config).map_err(|p| anyhow!("{p}"))?;
    if let Some(tls) = &config.api.tls {
        riposte_service::http::tls_acceptor(tls)?;
    }
    for r in &rules.sigma.report.rejected {
        println!("Sigma rule not loaded: {}", terminal_safe(&r.to_string()));
    }
    println!(
        "{}: ok ({} rules, {} Sigma rules, {} Sigma correlations, {} playbooks, {} sources, {} enforcers)",
        config_path.display(),
        rules.rules.len(),
        rules.sigma.rules.len(),
        rules.sigma.correlations.len(),
        playbooks.len(),
        config.sources.len(),
        config.enforcers.len()
    );
    Ok(())
}

pub fn validate_playbooks(files: &[PathBuf]) -> anyhow::Result<()> {
    let playbooks = riposte_playbooks::load_playbooks(files, None).map_err(|p| anyhow!("{p}"))?;
    for pb in &playbooks {
        println!(
            "{}: ok (playbook {}, {} steps)",
            pb.file,
            pb.id,
            pb.steps.len()
        );
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum DecisionsCommand {
    /// List decisions (active ones by default).
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// active, expired, revoked, simulated, or all.
        #[arg(long, default_value = "active")]
        state: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Decide by hand: ban an address or range (or, with --kind and
    /// --scope, any decision). Without --duration the decision is
    /// permanent; allowlists still apply.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, conflicts_with_all = ["range", "value"], required_unless_present_any = ["range", "value"])]
        ip: Option<String>,
        #[arg(long, conflicts_with = "value")]
        range: Option<String>,
        /// ban, throttle, captcha, disable_account or quarantine_host.
        #[arg(long, default_value = "ban")]
        kind: String,
        /// With --value: ip, range, user, domain, country or asn.
        #[arg(long, requires = "value")]
        scope: Option<String>,
        /// The value for --scope.
        #[arg(long, requires = "scope")]
        value: Option<String>,
        /// e.g. 4h, 1d; omit for a permanent decision.
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Revoke a decision by id; enforcers are updated.
    Delete {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        #[arg(long, default_value = "revoked from the command line")]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// List alerts, newest first.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeadLettersCommand {
    /// List input that could not be decoded, newest first, with the reason
    /// and where it came from.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum EnforcersCommand {
    /// What each configured enforcer would change to equal the effective
    /// decisions now; changes nothing.
    Plan {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make every enforcer equal to the effective decisions now (what
    /// `serve` does at start and on every sweep).
    Reconcile {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// The audit log, newest first: every decision, refusal, hold, review,
    /// case change, playbook step and digest, with who did it and why.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Recompute the audit log's hash chain: prints the entries checked and
    /// the head when intact; otherwise the first problem, and exits with
    /// status 3.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
}

/// The exit status of `riposte audit verify` when the audit log was altered
/// (1 stays "the command failed", 2 is a usage error).
pub const EXIT_AUDIT_ALTERED: u8 = 3;

/// `riposte audit verify` found the log altered; `main` exits with
/// [`EXIT_AUDIT_ALTERED`] on it.
#[derive(Debug)]
pub struct AuditAltered;

impl std::fmt::Display for AuditAltered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the audit log was altered outside Riposte (exit status {EXIT_AUDIT_ALTERED}); see docs/security.md"
        )
    }
}

impl std::error::Error for AuditAltered {}

#[derive(Subcommand, Debug)]
pub enum CasesCommand {
    /// List cases, newest first.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one case with its alerts.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints a list as JSON or one line per item. Table lines carry text from
/// logs (user names, signatures), so control characters are escaped: a
/// crafted log line must not drive the analyst's terminal.
pub(crate) fn print_list<T: serde::Serialize>(
    list: &[T],
    json: bool,
    what: &str,
    line: impl Fn(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("no {what}");
    }
    for item in list {
        println!("{}", terminal_safe(&line(item)));
    }
    Ok(())
}

/// Escapes control characters (ESC, CR, BEL, …) for display.
pub(crate) fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A decision id given on the command line.
pub(crate) fn decision_id(id: &str) -> anyhow::Result<DecisionId> {
    id.parse()
        .map_err(|_| anyhow!("{id:?} is not a decision id"))
}

/// One line per decision, in the style of `cscli decisions list`.
pub fn decision_line(d: &Decision) -> String {
    let until = match (d.state, d.expires_at) {
        (DecisionState::PendingApproval, _) => "awaiting approval".to_owned(),
        (_, Some(t)) => format!("until {}", t.format("%Y-%m-%dT%H:%M:%SZ")),
        (_, None) => "permanent".to_owned(),
    };
    let duration = match (d.expires_at, d.duration) {
        (Some(t), _) => format_duration(t - d.created_at),
        (None, Some(requested)) => format_duration(requested),
        (None, None) => "∞".into(),
    };
    format!(
        "{}  {} {} {:<15} {:<9} {:<5} {}  {} — {}, {}",
        d.id, d.kind, d.scope, d.value, d.state, duration, until, d.confidence, d.reason, d.origin
    )
}

pub async fn decisions(cmd: DecisionsCommand) -> anyhow::Result<()> {
    match cmd {
        DecisionsCommand::List {
            store,
            state,
            limit,
            json,
        } => {
            let ctx = store.open().await?;
            let state = match state.as_str() {
                "all" => None,
                s => Some(s.parse::<DecisionState>().map_err(|e| anyhow!(e))?),
            };
            let list = ctx
                .store
                .list_decisions(&DecisionFilter {
                    state,
                    limit: Some(limit),
                    ..DecisionFilter::default()
                })
                .await?;
            print_list(&list, json, "decisions", decision_line)
        }
        DecisionsCommand::Add {
            store,
            ip,
            range,
            kind,
            scope,
            value,
            duration,
            reason,
        } => {
            let ctx = store.open_for_decisions().await?;
            let (scope, value) = match (ip, range, scope, value) {
                (Some(ip), ..) => (Scope::Ip, ip),
                (None, Some(r), ..) => (Scope::Range, r),
                (None, None, Some(s), Some(v)) => (s.parse::<Scope>().map_err(|e| anyhow!(e))?, v),
                _ => bail!("give --ip, --range, or --scope with --value"),
            };
            let kind: DecisionKind = kind.parse::<DecisionKind>().map_err(|e| anyhow!(e))?;
            let duration = duration
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| anyhow!(e))?;
            let now = ctx.clock.now();
            let req = DecisionRequest {
                kind,
                scope,
                value,
                duration,
                reason,
                confidence: Confidence::MAX,
                origin: Origin::User {
                    name: Identity::local_os_user().user,
                },
                mode: Mode::Enforce,
                evidence: Vec::new(),
            };
            let mut tx = ctx.store.begin().await?;
            let decided = ctx.responder.decide(&mut *tx, req, now).await?;
            tx.commit().await?;
            match decided.outcome {
                Outcome::Created(d) => {
                    ctx.responder.reconcile(ctx.store.as_ref(), now).await?;
                    println!("{}", terminal_safe(&decision_line(&d)));
                    Ok(())
                }
                Outcome::AlreadyActive(d) => bail!("already decided: {}", decision_line(&d)),
                Outcome::Refused { value, reason } => bail!("refused {kind} of {value}: {reason}"),
            }
        }
        DecisionsCommand::Delete { store, id, reason } => {
            let ctx = store.open_for_decisions().await?;
            let id = decision_id(&id)?;
            let by = Identity::local_os_user();
            match ctx
                .responder
                .revoke(ctx.store.as_ref(), id, &by.user, &reason, ctx.clock.now())
                .await?
            {
                Some(d) => {
                    println!("{}", terminal_safe(&decision_line(&d)));
                    Ok(())
                }
                None => bail!("no active decision {id}"),
            }
        }
    }
}

pub async fn alerts(cmd: AlertsCommand) -> anyhow::Result<()> {
    let AlertsCommand::List { store, limit, json } = cmd;
    let ctx = store.open().await?;
    let list = ctx.store.list_alerts(limit).await?;
    print_list(&list, json, "alerts", |a| {
        format!(
            "{}  {}  {:<8} {:<16} {}",
            a.id,
            a.last_seen.format("%Y-%m-%dT%H:%M:%SZ"),
            a.severity,
            a.rule_id,
            a.summary
        )
    })
}

pub async fn dead_letters(cmd: DeadLettersCommand) -> anyhow::Result<()> {
    let DeadLettersCommand::List { store, limit, json } = cmd;
    let ctx = store.open().await?;
    let list = ctx.store.list_dead_letters(limit).await?;
    print_list(&list, json, "dead letters", |d| {
        let at = d.offset.map(|o| format!(" offset {o}")).unwrap_or_default();
        format!(
            "{}  {}{at} ({}, {} bytes): {}",
            d.received_at.format("%Y-%m-%dT%H:%M:%SZ"),
            d.source,
            d.format,
            d.raw_len,
            d.reason
        )
    })
}

pub async fn enforcers(cmd: EnforcersCommand) -> anyhow::Result<()> {
    match cmd {
        EnforcersCommand::Plan { store } => {
            let ctx = store.open_for_decisions().await?;
            let now = ctx.clock.now();
            let effective = Arc::new(ctx.store.effective_decisions(now).await?);
            for enforcer in ctx.responder.enforcers() {
                let (task, list) = (enforcer.clone(), effective.clone());
                let plan = tokio::task::spawn_blocking(move || task.plan(&list, now)).await?;
                let dry = if enforcer.dry_run() { " (dry run)" } else { "" };
                println!("{}{dry}", terminal_safe(&enforcer.name()));
                match plan {
                    Ok(p) if p.is_empty() => println!("  (no change)"),
                    Ok(p) => {
                        for line in p.lines() {
                            println!("  {}", terminal_safe(line));
                        }
                    }
                    Err(e) => println!("  cannot tell: {}", terminal_safe(&e.to_string())),
                }
            }
            if ctx.responder.enforcers().is_empty() {
                println!("no enforcers configured");
            }
            Ok(())
        }
        EnforcersCommand::Reconcile { store } => {
            let ctx = store.open_for_decisions().await?;
            ctx.responder
                .reconcile(ctx.store.as_ref(), ctx.clock.now())
                .await?;
            println!("{} enforcer(s) reconciled", ctx.responder.enforcers().len());
            Ok(())
        }
    }
}

pub async fn audit(cmd: AuditCommand) -> anyhow::Result<()> {
    let (store, limit, json) = match cmd {
        AuditCommand::List { store, limit, json } => (store, limit, json),
        AuditCommand::Verify { store, json } => return verify_audit(&store, json).await,
    };
    let ctx = store.open().await?;
    let list = ctx.store.list_audit(limit).await?;
    print_list(&list, json, "audit entries", |a| {
        format!(
            "{}  {:<18} {:<28} {}  {}",
            a.at.format("%Y-%m-%dT%H:%M:%SZ"),
            a.action,
            a.actor,
            a.target,
            a.reason
        )
    })
}

pub async fn cases(cmd: CasesCommand) -> anyhow::Result<()> {
    match cmd {
        CasesCommand::List { store, limit, json } => {
            let ctx = store.open().await?;
            let list = ctx.store.list_cases(limit).await?;
            print_list(&list, json, "cases", |c| {
                format!(
                    "{}  {:<8} {:<6} {} ({} alerts)",
                    c.id,
                    c.severity,
                    c.status,
                    c.title,
                    c.alerts.len()
                )
            })
        }
        CasesCommand::Show { store, id, json } => {
            let ctx = store.open().await?;
            let id = id.parse().map_err(|_| anyhow!("{id:?} is not a case id"))?;
            let case = ctx
                .store
                .get_case(id)
                .await?
                .ok_or_else(|| anyhow!("no case {id}"))?;
            if json {
                return print_json(&case);
            }
            let mut out = Vec::new();
            out.push(format!("case {}", case.id));
            out.push(format!("  title:    {}", case.title));
            out.push(format!("  status:   {}", case.status));
            out.push(format!("  severity: {}", case.severity));
            out.push(format!("  opened:   {}", case.created_at.to_rfc3339()));
            out.push(format!("  updated:  {}", case.updated_at.to_rfc3339()));
            if let Some(k) = &case.group_key {
                out.push(format!("  key:      {k}"));
            }
            out.push("  observables:".to_owned());
            for o in &case.observables {
                out.push(format!(
                    "    {} {}{}",
                    o.kind,
                    o.value,
                    o.field
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default()
                ));
            }
            out.push("  alerts:".to_owned());
            for aid in &case.alerts {
                match ctx.store.get_alert(*aid).await? {
                    Some(a) => out.push(format!(
                        "    {}  {:<8} {}  {}",
                        a.id, a.severity, a.rule_id, a.summary
                    )),
                    None => out.push(format!("    {aid} (missing)")),
                }
            }
            for line in &out {
                println!("{}", terminal_safe(line));
            }
            Ok(())
        }
    }
}

/// A stable short name for each fault, for scripts (`what:` and `--json`).
fn fault_name(what: &AuditFault) -> String {
    match what {
        AuditFault::Missing => "missing".into(),
        AuditFault::BrokenLink => "broken-link".into(),
        AuditFault::HashMismatch => "hash-mismatch".into(),
        AuditFault::ColumnMismatch { column } => format!("column-mismatch:{column}"),
        AuditFault::Unreadable { .. } => "unreadable".into(),
        AuditFault::Unchained => "unchained".into(),
        AuditFault::HeadMismatch { .. } => "head-mismatch".into(),
        AuditFault::AfterHead { .. } => "after-head".into(),
        AuditFault::HeadMissing => "head-missing".into(),
    }
}

fn entries(n: u64) -> String {
    if n == 1 {
        "1 entry".to_owned()
    } else {
        format!("{n} entries")
    }
}

async fn verify_audit(store: &StoreArgs, json: bool) -> anyhow::Result<()> {
    // A deleted head row stops the store from opening at all (appending
    // would start a second chain); that is a finding, not a failure to run.
    let verification = match store.open().await {
        Ok(ctx) => ctx.store.verify_audit().await?,
        Err(e)
            if matches!(
                e.downcast_ref::<StoreError>(),
                Some(StoreError::AuditHeadMissing)
            ) =>
        {
            AuditVerification {
                entries: 0,
                head: None,
                first_problem: Some(AuditProblem {
                    seq: None,
                    id: None,
                    what: AuditFault::HeadMissing,
                }),
            }
        }
        Err(e) => return Err(e),
    };
    let head = verification
        .head
        .as_ref()
        .map(|(seq, hash)| serde_json::json!({"seq": seq, "hash": hash}));
    if json {
        let problem = verification.first_problem.as_ref().map(|p| {
            serde_json::json!({
                "seq": p.seq,
                "id": p.id,
                "what": fault_name(&p.what),
                "message": p.to_string(),
            })
        });
        print_json(&serde_json::json!({
            "intact": verification.is_clean(),
            "entries": verification.entries,
            "head": head,
            "first_problem": problem,
        }))?;
    } else {
        let head = match &verification.head {
            Some((seq, hash)) => format!("{seq} {hash}"),
            None => "none".to_owned(),
        };
        match &verification.first_problem {
            None => {
                println!(
                    "audit log intact: {} checked",
                    entries(verification.entries)
                );
                println!("head: {head}");
            }
            Some(p) => {
                println!(
                    "audit log ALTERED: {} sound before the first problem",
                    entries(verification.entries)
                );
                println!(
                    "first problem: seq {}, id {}, what {}",
                    p.seq.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    terminal_safe(p.id.as_deref().unwrap_or("-")),
                    fault_name(&p.what)
                );
                println!("  {}", terminal_safe(&p.to_string()));
                println!("head: {head}");
            }
        }
    }
    if verification.is_clean() {
        Ok(())
    } else {
        Err(AuditAltered.into())
    }
}
