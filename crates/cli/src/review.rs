//! `riposte review` and `riposte breaker`: the daily review of automated
//! decisions, and the circuit breaker's reset.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use riposte_auth::Identity;
use riposte_model::{Clock, parse_duration};
use riposte_respond::{
    DigestSchedule, ReviewItem, ReviewVerdict, breaker_status, digest, review_queue,
};

use crate::commands::{
    Ctx, StoreArgs, decision_id, decision_line, print_json, print_list, terminal_safe,
};

#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Automated decisions waiting for review, oldest first; `!` marks
    /// those older than respond.review.max_age.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only the flagged (overdue) ones.
        #[arg(long)]
        flagged: bool,
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Keep a decision; a decision held for approval becomes active for
    /// its requested duration from now.
    Approve {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Revoke a decision as a false positive (counted against its rule);
    /// enforcers are updated.
    Revert {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Keep a decision and make it last longer.
    Extend {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        /// How much longer, e.g. 24h.
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// What automation decided over a window, why, what was reverted, and
    /// each rule's false-positive rate.
    Digest {
        #[command(flatten)]
        store: StoreArgs,
        /// The window, ending now.
        #[arg(long, default_value = "24h")]
        since: String,
        /// markdown, html or json.
        #[arg(long, default_value = "markdown")]
        format: String,
        /// Deliver it instead of printing it: write the Markdown and HTML
        /// files under the data directory's digests/, email them through
        /// notify.smtp to respond.review.digest.to (or --to), and audit it.
        #[arg(long)]
        email: bool,
        /// Recipients for --email, instead of the configured ones.
        #[arg(long, requires = "email")]
        to: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BreakerCommand {
    /// Whether the circuit breaker is tripped, since when and why.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Reset a tripped breaker: automated decisions take effect again.
    /// Decisions held while it was tripped stay pending until reviewed.
    Reset {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value = "reset from the command line")]
        note: String,
    },
}

fn review_line(item: &ReviewItem) -> String {
    let mark = if item.flagged { "!" } else { " " };
    let why = item
        .alert
        .as_ref()
        .map(|a| format!("  [alert {}: {}]", a.rule_id, a.summary))
        .unwrap_or_default();
    format!("{mark} {}{why}", decision_line(&item.decision))
}

pub async fn review(cmd: ReviewCommand) -> anyhow::Result<()> {
    let (store, id, verdict, note) = match cmd {
        ReviewCommand::List {
            store,
            flagged,
            limit,
            json,
        } => {
            let ctx = store.open().await?;
            let max_age = ctx.responder.config().review_max_age;
            let items =
                review_queue(ctx.store.as_ref(), max_age, ctx.clock.now(), limit, flagged).await?;
            return print_list(&items, json, "decisions awaiting review", review_line);
        }
        ReviewCommand::Digest {
            store,
            since,
            format,
            email,
            to,
        } => {
            let ctx = store.open().await?;
            let window = parse_duration(&since).map_err(|e| anyhow!(e))?;
            let max_age = ctx.responder.config().review_max_age;
            if email {
                return email_digest(&ctx, window, &to).await;
            }
            let d = digest(ctx.store.as_ref(), window, max_age, ctx.clock.now()).await?;
            match format.as_str() {
                "markdown" | "md" => print!("{}", d.to_markdown()),
                "html" => print!("{}", d.to_html()),
                "json" => print_json(&d)?,
                other => bail!("unknown format {other:?} (valid: markdown, html, json)"),
            }
            return Ok(());
        }
        ReviewCommand::Approve { store, id, note } => (store, id, ReviewVerdict::Approve, note),
        ReviewCommand::Revert { store, id, note } => (store, id, ReviewVerdict::Revert, note),
        ReviewCommand::Extend {
            store,
            id,
            by,
            note,
        } => {
            let by = parse_duration(&by).map_err(|e| anyhow!(e))?;
            (store, id, ReviewVerdict::Extend(by), note)
        }
    };
    let ctx = store.open_for_decisions().await?;
    let id = decision_id(&id)?;
    let by = Identity::local_os_user();
    let d = ctx
        .responder
        .review(
            ctx.store.as_ref(),
            id,
            verdict,
            &by.user,
            &note,
            ctx.clock.now(),
        )
        .await?;
    println!("{}", terminal_safe(&decision_line(&d)));
    Ok(())
}

pub async fn breaker(cmd: BreakerCommand) -> anyhow::Result<()> {
    match cmd {
        BreakerCommand::Status { store } => {
            let ctx = store.open().await?;
            match breaker_status(ctx.store.as_ref()).await? {
                Some(b) => println!(
                    "tripped at {}: {}",
                    b.tripped_at.to_rfc3339(),
                    terminal_safe(&b.reason)
                ),
                None => println!("not tripped"),
            }
            Ok(())
        }
        BreakerCommand::Reset { store, note } => {
            let ctx = store.open_for_decisions().await?;
            let by = Identity::local_os_user();
            match ctx
                .responder
                .reset_breaker(ctx.store.as_ref(), &by.user, &note, ctx.clock.now())
                .await?
            {
                Some(b) => {
                    println!(
                        "reset (it tripped at {}: {})",
                        b.tripped_at.to_rfc3339(),
                        terminal_safe(&b.reason)
                    );
                    Ok(())
                }
                None => bail!("the circuit breaker is not tripped"),
            }
        }
    }
}

/// `review digest --email`: the same delivery `serve` makes on schedule.
async fn email_digest(ctx: &Ctx, window: chrono::TimeDelta, to: &[String]) -> anyhow::Result<()> {
    let config = ctx
        .config
        .as_ref()
        .ok_or_else(|| anyhow!("--email needs --config FILE (its notify.smtp is the relay)"))?;
    if config.smtp.is_none() {
        bail!("--email needs notify.smtp in {}", config.base_dir.display());
    }
    let mut config = config.clone();
    let schedule = config.digest.get_or_insert_with(|| DigestSchedule {
        at: chrono::NaiveTime::MIN,
        window,
        to: Vec::new(),
        subject: None,
    });
    schedule.window = window;
    let recipients = if to.is_empty() {
        schedule.to.clone()
    } else {
        to.to_vec()
    };
    if recipients.is_empty() {
        bail!("no recipients: give --to ADDRESS or set respond.review.digest.to");
    }
    let job = riposte_service::digest_job(&config)?.expect("digest schedule set above");
    let delivered = job
        .deliver(ctx.store.as_ref(), ctx.clock.now(), Some(&recipients))
        .await?;
    for f in &delivered.files {
        println!("wrote {}", f.display());
    }
    println!(
        "mailed the digest ({} automated decisions) to {}",
        delivered.digest.decided.len(),
        delivered.mailed_to.join(", ")
    );
    Ok(())
}
