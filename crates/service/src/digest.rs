//! The daily review digest, made on schedule by `serve` (and on demand by
//! `riposte review digest --email`): written as Markdown and HTML under
//! the data directory, emailed when SMTP and recipients are configured,
//! audited, and recorded so a restart neither repeats nor skips it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use riposte_model::{Actor, AuditEntry, Clock, Timestamp};
use riposte_notify::{Mail, Mailer};
use riposte_respond::{DIGEST_KEY, Digest, DigestSchedule, digest, write_atomically};
use riposte_store::Store;
use tokio::sync::watch;

/// Where and how digests go.
#[derive(Clone, Debug)]
pub struct DigestJob {
    pub schedule: DigestSchedule,
    /// `respond.review.max_age`: which waiting decisions are flagged.
    pub max_age: TimeDelta,
    /// Directory the `.md` and `.html` files are written to.
    pub dir: PathBuf,
    /// `None` without `notify.smtp`: files only.
    pub mailer: Option<Mailer>,
}

/// What one delivery did.
#[derive(Debug)]
pub struct Delivered {
    pub digest: Digest,
    pub files: Vec<PathBuf>,
    /// Recipients the mail went to (empty when not mailed).
    pub mailed_to: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Respond(#[from] riposte_respond::RespondError),
    #[error(transparent)]
    Store(#[from] riposte_store::StoreError),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Mail(#[from] riposte_notify::NotifyError),
}

impl DigestJob {
    /// Makes the digest of the window ending at `to`, writes it, mails it
    /// to `recipients` (the schedule's when `None`), and audits it. The
    /// files are written before the mail is tried, so a relay that is
    /// down loses nothing.
    pub async fn deliver(
        &self,
        store: &dyn Store,
        to: Timestamp,
        recipients: Option<&[String]>,
    ) -> Result<Delivered, DigestError> {
        let d = digest(store, self.schedule.window, self.max_age, to).await?;
        let stem = format!("digest-{}", to.format("%Y-%m-%dT%H%MZ"));
        let mut files = Vec::new();
        for (ext, body) in [("md", d.to_markdown()), ("html", d.to_html())] {
            let path = self.dir.join(format!("{stem}.{ext}"));
            write_atomically(&path, body.as_bytes()).map_err(|source| DigestError::Write {
                path: path.clone(),
                source,
            })?;
            files.push(path);
        }
        let recipients = recipients.unwrap_or(&self.schedule.to);
        let mailed_to = match (&self.mailer, recipients.is_empty()) {
            (Some(mailer), false) => {
                mailer
                    .send(&Mail {
                        to: recipients.to_vec(),
                        subject: self.schedule.subject_for(&d),
                        text: d.to_markdown(),
                        html: Some(d.to_html()),
                    })
                    .await?;
                recipients.to_vec()
            }
            _ => Vec::new(),
        };
        let mut tx = store.begin().await?;
        let reason = if mailed_to.is_empty() {
            format!("{} automated decisions; written to files", d.decided.len())
        } else {
            format!(
                "{} automated decisions; mailed to {}",
                d.decided.len(),
                mailed_to.join(", ")
            )
        };
        tx.audit(
            &AuditEntry::new(
                to,
                Actor::System {
                    component: "digest".to_owned(),
                },
                "digest.deliver",
                format!("digest:{stem}"),
                reason,
            )
            .with_details(serde_json::json!({
                "files": files,
                "to": mailed_to,
                "from": d.from,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(Delivered {
            digest: d,
            files,
            mailed_to,
        })
    }

    /// Delivers the digest owed at `now`, if any, and records it as made.
    /// Returns the instant delivered.
    pub async fn run_owed(
        &self,
        store: &dyn Store,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, DigestError> {
        let last = store
            .setting(DIGEST_KEY)
            .await?
            .and_then(|t| t.parse::<Timestamp>().ok());
        if last.is_none() {
            // First start with a schedule: the first digest is the next
            // scheduled one (see DigestSchedule::owed).
            let latest = self.schedule.latest(now).to_rfc3339();
            let mut tx = store.begin().await?;
            tx.set_setting(DIGEST_KEY, Some(&latest), now).await?;
            tx.commit().await?;
            return Ok(None);
        }
        let Some(due) = self.schedule.owed(last, now) else {
            return Ok(None);
        };
        let delivered = self.deliver(store, due, None).await?;
        let mut tx = store.begin().await?;
        tx.set_setting(DIGEST_KEY, Some(&due.to_rfc3339()), now)
            .await?;
        tx.commit().await?;
        tracing::info!(
            at = %due,
            decisions = delivered.digest.decided.len(),
            mailed = delivered.mailed_to.len(),
            "review digest delivered"
        );
        Ok(Some(due))
    }

    /// `serve`'s task: delivers what is owed now and at every scheduled
    /// instant until `stop`; a failed delivery (the relay down) is retried
    /// with backoff, one minute doubling to an hour.
    pub async fn run(
        self,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut backoff = Duration::from_secs(60);
        loop {
            let now = clock.now();
            let wait = match self.run_owed(store.as_ref(), now).await {
                Ok(_) => {
                    backoff = Duration::from_secs(60);
                    // Wake at the next instant, and at least hourly (the
                    // system clock may jump).
                    (self.schedule.next(now) - now)
                        .to_std()
                        .unwrap_or_default()
                        .min(Duration::from_secs(3600))
                        + Duration::from_millis(10)
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "review digest not delivered");
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(3600));
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
