//! The daily review of automated decisions: the queue a person works
//! through (approve, revert, extend), and the digest that summarises what
//! automation decided, why, what people reverted, and each rule's
//! false-positive rate.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{NaiveTime, TimeDelta};
use riposte_model::{Alert, Decision, DecisionState, ReviewStatus, Timestamp, format_duration};
use riposte_store::{DecisionFilter, Store};
use serde::Serialize;

use crate::{BreakerState, RespondError, breaker_status};

/// One decision waiting for review, with the alert behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewItem {
    pub decision: Decision,
    /// Unreviewed for longer than `respond.review.max_age`.
    pub flagged: bool,
    /// The alert that caused it, when the decision names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
}

/// The automated decisions still waiting for review, oldest first (so the
/// most overdue are never cut off by `limit`), each flagged when older than
/// `max_age`; with `flagged_only`, only those, chosen before the limit.
pub async fn review_queue(
    store: &dyn Store,
    max_age: TimeDelta,
    now: Timestamp,
    limit: u32,
    flagged_only: bool,
) -> Result<Vec<ReviewItem>, RespondError> {
    let made_before = flagged_only.then(|| now.checked_sub_signed(max_age).unwrap_or(now));
    let pending = store.pending_reviews(made_before, limit).await?;
    let mut items = Vec::with_capacity(pending.len());
    for decision in pending {
        let alert = match alert_of(&decision) {
            Some(id) => store.get_alert(id).await?,
            None => None,
        };
        items.push(ReviewItem {
            flagged: overdue(&decision, max_age, now),
            decision,
            alert,
        });
    }
    Ok(items)
}

/// Unreviewed for longer than `max_age` at `now`.
fn overdue(d: &Decision, max_age: TimeDelta, now: Timestamp) -> bool {
    now - d.created_at > max_age
}

fn alert_of(d: &Decision) -> Option<riposte_model::AlertId> {
    match &d.origin {
        riposte_model::Origin::Playbook { alert, .. } => *alert,
        _ => None,
    }
}

/// Per-rule figures over a digest's window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleStats {
    /// Automated decisions made (held ones included; simulated not).
    pub decided: u64,
    /// Reviews people made in the window, whenever the decision was made.
    pub reviewed: u64,
    /// Of those, reverts (false positives).
    pub reverted: u64,
    /// `reverted / reviewed`; `None` before anything was reviewed.
    pub false_positive_rate: Option<f64>,
}

/// What automation did over a window, for the daily digest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Digest {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Automated decisions made in the window (enforce mode), newest first.
    pub decided: Vec<Decision>,
    /// Decisions people reverted in the window.
    pub reverted: Vec<Decision>,
    /// Shadow and simulated decisions recorded in the window.
    pub simulated: u64,
    /// Still waiting for review (at `to`), and how many of them are older
    /// than the review age.
    pub awaiting_review: u64,
    pub flagged: u64,
    /// Held for approval, at `to`.
    pub pending_approval: u64,
    pub breaker: Option<BreakerState>,
    /// By rule id (`(none)` for decisions without a rule).
    pub rules: BTreeMap<String, RuleStats>,
}

/// Decisions a digest reads at most.
const DIGEST_LIMIT: u32 = 100_000;

/// Builds the digest of `[to - window, to]`.
pub async fn digest(
    store: &dyn Store,
    window: TimeDelta,
    max_age: TimeDelta,
    to: Timestamp,
) -> Result<Digest, RespondError> {
    let from = to - window;
    let touched = store
        .list_decisions(&DecisionFilter {
            since: Some(from),
            limit: Some(DIGEST_LIMIT),
            ..DecisionFilter::default()
        })
        .await?;
    let in_window = |t: Timestamp| t >= from && t <= to;
    let mut decided = Vec::new();
    let mut reverted = Vec::new();
    let mut simulated = 0;
    let mut rules: BTreeMap<String, RuleStats> = BTreeMap::new();
    for d in touched {
        if d.state == DecisionState::Simulated {
            simulated += u64::from(in_window(d.created_at));
            continue;
        }
        let Some(review) = &d.review else {
            continue;
        };
        let made_in_window = in_window(d.created_at);
        // Reviews count by when they were made, not by when the decision
        // was: a verdict in the window on yesterday's decision is this
        // window's work, and a later verdict on today's is not.
        let reviewed_in_window =
            review.status != ReviewStatus::Pending && review.at.is_some_and(in_window);
        if made_in_window || reviewed_in_window {
            let rule = d.origin.rule().unwrap_or("(none)").to_owned();
            let stats = rules.entry(rule).or_default();
            stats.decided += u64::from(made_in_window);
            stats.reviewed += u64::from(reviewed_in_window);
            stats.reverted +=
                u64::from(reviewed_in_window && review.status == ReviewStatus::Reverted);
        }
        if review.status == ReviewStatus::Reverted && review.at.is_some_and(in_window) {
            reverted.push(d.clone());
        }
        if made_in_window {
            decided.push(d);
        }
    }
    for s in rules.values_mut() {
        s.false_positive_rate = (s.reviewed > 0).then(|| s.reverted as f64 / s.reviewed as f64);
    }
    // Counts only: the queue's alerts are not needed here.
    let awaiting = store
        .list_decisions(&DecisionFilter {
            review: Some(ReviewStatus::Pending),
            limit: Some(DIGEST_LIMIT),
            ..DecisionFilter::default()
        })
        .await?;
    let pending_approval = awaiting
        .iter()
        .filter(|d| d.state == DecisionState::PendingApproval)
        .count() as u64;
    Ok(Digest {
        from,
        to,
        decided,
        reverted,
        simulated,
        awaiting_review: awaiting.len() as u64,
        flagged: awaiting.iter().filter(|d| overdue(d, max_age, to)).count() as u64,
        pending_approval,
        breaker: breaker_status(store).await?,
        rules,
    })
}

/// `respond.review.digest`: when the daily digest is made, over what
/// window, and who gets it by email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestSchedule {
    /// Time of day, UTC.
    pub at: NaiveTime,
    pub window: TimeDelta,
    /// Recipients; empty: the digest is only written to files.
    pub to: Vec<String>,
    pub subject: Option<String>,
}

/// The settings key holding the scheduled instant of the last digest made.
pub const DIGEST_KEY: &str = "respond.digest.last";

impl DigestSchedule {
    /// The latest scheduled instant at or before `now`.
    pub fn latest(&self, now: Timestamp) -> Timestamp {
        let today = now.date_naive().and_time(self.at).and_utc();
        if today <= now {
            today
        } else {
            today - TimeDelta::days(1)
        }
    }

    /// The digest owed at `now`, given the instant of the last one made:
    /// the latest scheduled instant, if it comes after `last`. Days missed
    /// while the service was down give one digest, not one per day. With
    /// no record (a new deployment) nothing is owed until the next
    /// scheduled instant.
    pub fn owed(&self, last: Option<Timestamp>, now: Timestamp) -> Option<Timestamp> {
        let latest = self.latest(now);
        last.is_some_and(|last| last < latest).then_some(latest)
    }

    /// The next scheduled instant after `now`.
    pub fn next(&self, now: Timestamp) -> Timestamp {
        self.latest(now) + TimeDelta::days(1)
    }

    /// The email subject for a digest ending at `to`.
    pub fn subject_for(&self, digest: &Digest) -> String {
        self.subject.clone().unwrap_or_else(|| digest.title())
    }
}

fn rate(s: &RuleStats) -> String {
    s.false_positive_rate
        .map_or_else(|| "–".to_owned(), |r| format!("{:.0}%", r * 100.0))
}

fn lasts(d: &Decision) -> String {
    match (d.expires_at, d.duration) {
        (Some(t), _) => format_duration(t - d.created_at),
        (None, Some(requested)) => format_duration(requested),
        (None, None) => "permanent".to_owned(),
    }
}

/// Markdown table cells: pipes and line breaks would break the table, and
/// attacker-influenced text (reasons quote user names) must not inject
/// links or HTML into renderers.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Digest {
    /// "Riposte review digest FROM – TO".
    pub fn title(&self) -> String {
        format!(
            "Riposte review digest {} – {}",
            self.from.format("%Y-%m-%d %H:%M UTC"),
            self.to.format("%Y-%m-%d %H:%M UTC")
        )
    }

    fn summary_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "{} automated decisions, {} reverted by people, {} recorded in simulate or shadow mode.",
                self.decided.len(),
                self.reverted.len(),
                self.simulated
            ),
            format!(
                "{} waiting for review ({} older than the review age), {} held for approval.",
                self.awaiting_review, self.flagged, self.pending_approval
            ),
        ];
        if let Some(b) = &self.breaker {
            lines.push(format!(
                "The circuit breaker is TRIPPED since {}: {}.",
                b.tripped_at.to_rfc3339(),
                b.reason
            ));
        }
        lines
    }

    /// The digest as Markdown (for chat and tickets).
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n\n", self.title());
        for line in self.summary_lines() {
            let _ = writeln!(out, "- {}", md(&line));
        }
        out.push_str("\n## By rule\n\n| rule | decided | reviewed | reverted | false-positive rate |\n|---|---:|---:|---:|---:|\n");
        for (rule, s) in &self.rules {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md(rule),
                s.decided,
                s.reviewed,
                s.reverted,
                rate(s)
            );
        }
        out.push_str("\n## Decided automatically\n\n| decision | kind | value | state | lasts | confidence | why | review |\n|---|---|---|---|---|---:|---|---|\n");
        for d in &self.decided {
            let _ = writeln!(
                out,
                "| {} | {} | {} {} | {} | {} | {} | {} | {} |",
                d.id,
                d.kind,
                d.scope,
                md(&d.value),
                d.state,
                lasts(d),
                d.confidence,
                md(&d.reason),
                d.review.as_ref().map_or("", |r| r.status.as_str())
            );
        }
        out.push_str(
            "\n## Reverted\n\n| decision | value | rule | by | note |\n|---|---|---|---|---|\n",
        );
        for d in &self.reverted {
            let review = d.review.as_ref();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                d.id,
                md(&d.value),
                md(d.origin.rule().unwrap_or("")),
                md(review.and_then(|r| r.by.as_deref()).unwrap_or("")),
                md(review.and_then(|r| r.note.as_deref()).unwrap_or(""))
            );
        }
        out
    }

    /// The digest as a standalone HTML page (for email).
    pub fn to_html(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>\n<h1>{t}</h1>\n<ul>\n",
            t = html(&self.title())
        );
        for line in self.summary_lines() {
            let _ = writeln!(out, "<li>{}</li>", html(&line));
        }
        out.push_str("</ul>\n<h2>By rule</h2>\n<table>\n<tr><th>rule</th><th>decided</th><th>reviewed</th><th>reverted</th><th>false-positive rate</th></tr>\n");
        for (rule, s) in &self.rules {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html(rule),
                s.decided,
                s.reviewed,
                s.reverted,
                html(&rate(s))
            );
        }
        out.push_str("</table>\n<h2>Decided automatically</h2>\n<table>\n<tr><th>decision</th><th>kind</th><th>value</th><th>state</th><th>lasts</th><th>confidence</th><th>why</th><th>review</th></tr>\n");
        for d in &self.decided {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.id,
                d.kind,
                d.scope,
                html(&d.value),
                d.state,
                html(&lasts(d)),
                d.confidence,
                html(&d.reason),
                d.review.as_ref().map_or("", |r| r.status.as_str())
            );
        }
        out.push_str("</table>\n<h2>Reverted</h2>\n<table>\n<tr><th>decision</th><th>value</th><th>rule</th><th>by</th><th>note</th></tr>\n");
        for d in &self.reverted {
            let review = d.review.as_ref();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.id,
                html(&d.value),
                html(d.origin.rule().unwrap_or("")),
                html(review.and_then(|r| r.by.as_deref()).unwrap_or("")),
                html(review.and_then(|r| r.note.as_deref()).unwrap_or(""))
            );
        }
        out.push_str("</table>\n</body></html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_for_each_sink() {
        assert_eq!(
            md("a|b [x](http://e) <img>\nnext"),
            "a\\|b \\[x\\](http://e) \\<img\\> next"
        );
        assert_eq!(
            html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn digests_are_owed_once_per_scheduled_instant() {
        let s = DigestSchedule {
            at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            window: TimeDelta::hours(24),
            to: vec![],
            subject: None,
        };
        // Before today's 07:00 the latest instant is yesterday's.
        assert_eq!(
            s.latest(at("2026-12-04T06:59:59Z")),
            at("2026-12-03T07:00:00Z")
        );
        assert_eq!(
            s.latest(at("2026-12-04T07:00:00Z")),
            at("2026-12-04T07:00:00Z")
        );
        assert_eq!(
            s.next(at("2026-12-04T07:00:00Z")),
            at("2026-12-05T07:00:00Z")
        );
        // A new deployment owes nothing until its first 07:00.
        assert_eq!(s.owed(None, at("2026-12-04T10:00:00Z")), None);
        // Made today: nothing more owed today.
        let made = Some(at("2026-12-04T07:00:00Z"));
        assert_eq!(s.owed(made, at("2026-12-04T23:00:00Z")), None);
        assert_eq!(
            s.owed(made, at("2026-12-05T07:00:01Z")),
            Some(at("2026-12-05T07:00:00Z"))
        );
        // Three days down: one digest, for the latest instant.
        assert_eq!(
            s.owed(Some(at("2026-12-01T07:00:00Z")), at("2026-12-04T08:00:00Z")),
            Some(at("2026-12-04T07:00:00Z"))
        );
    }
}
