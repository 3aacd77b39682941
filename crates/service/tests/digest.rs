#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! The scheduled review digest: owed once per scheduled instant, written to
//! files, mailed through a real SMTP conversation (a local sink), audited,
//! and recorded so a restart neither repeats nor skips it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveTime, TimeDelta};
use riposte_model::{Decision, DecisionKind, ManualClock, Origin, Review, RunId, Scope, Timestamp};
use riposte_notify::{Mailer, SmtpConfig, SmtpTls};
use riposte_respond::{DIGEST_KEY, DigestSchedule};
use riposte_service::digest::DigestJob;
use riposte_store::Store;
use riposte_testkit::SmtpSink;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn mailer(sink: &SmtpSink) -> Mailer {
    Mailer::new(&SmtpConfig {
        host: "127.0.0.1".into(),
        port: sink.port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "Riposte <riposte@example.org>".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// A store with one automated ban made at `made`, whose reason carries
/// markup an attacker could have chosen.
async fn store_with_ban(made: Timestamp) -> Arc<dyn Store> {
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let d = Decision {
        reason: "ssh brute force by <script>x</script>".into(),
        expires_at: Some(made + TimeDelta::hours(4)),
        review: Some(Review::pending()),
        ..Decision::active(
            DecisionKind::Ban,
            Scope::Ip,
            "203.0.113.7",
            Origin::Playbook {
                playbook: "ssh-bruteforce".into(),
                step: "block".into(),
                run: RunId::new(),
                rule: Some("ssh-bruteforce".into()),
                alert: None,
            },
            made,
        )
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_decision(&d).await.unwrap();
    tx.commit().await.unwrap();
    store
}

fn job(sink: &SmtpSink, dir: &std::path::Path) -> DigestJob {
    DigestJob {
        schedule: DigestSchedule {
            at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            window: TimeDelta::hours(24),
            to: vec!["soc@example.org".into()],
            subject: None,
        },
        max_age: TimeDelta::hours(24),
        dir: dir.to_path_buf(),
        mailer: Some(mailer(sink)),
    }
}

#[tokio::test]
async fn owed_digests_are_written_mailed_audited_and_recorded_once() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_ban(at("2026-12-05T20:00:00Z")).await;
    let job = job(&sink, dir.path());

    // A new deployment: nothing owed until its first 07:00; the record is
    // set to the latest instant.
    assert_eq!(
        job.run_owed(store.as_ref(), at("2026-12-04T08:00:00Z"))
            .await
            .unwrap(),
        None
    );
    assert!(sink.messages().is_empty());
    assert_eq!(
        store.setting(DIGEST_KEY).await.unwrap().as_deref(),
        Some("2026-12-04T07:00:00+00:00")
    );

    // Down for two days: one digest, for the latest instant, covering the
    // 24 hours before it.
    let now = at("2026-12-06T09:30:00Z");
    assert_eq!(
        job.run_owed(store.as_ref(), now).await.unwrap(),
        Some(at("2026-12-06T07:00:00Z"))
    );
    assert_eq!(job.run_owed(store.as_ref(), now).await.unwrap(), None);
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.to, ["soc@example.org"]);
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("Riposte review digest 2026-12-05 07:00 UTC – 2026-12-06 07:00 UTC")
    );
    let md = std::fs::read_to_string(dir.path().join("digest-2026-12-06T0700Z.md")).unwrap();
    let html = std::fs::read_to_string(dir.path().join("digest-2026-12-06T0700Z.html")).unwrap();
    // The mail carries the files' content: Markdown as text, HTML as its
    // alternative (with mail's CRLF line ends).
    let lf = |part: &str| m.body(part).unwrap().replace("\r\n", "\n");
    assert_eq!(lf("text/plain"), md);
    assert_eq!(lf("text/html"), html);
    assert_eq!(
        store.setting(DIGEST_KEY).await.unwrap().as_deref(),
        Some("2026-12-06T07:00:00+00:00")
    );
    assert!(
        md.starts_with("# Riposte review digest 2026-12-05 07:00 UTC"),
        "{md}"
    );
    assert!(md.contains("| ssh-bruteforce | 1 | 0 | 0 | – |"), "{md}");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("<td>ssh brute force by &lt;script&gt;x&lt;/script&gt;</td>"),
        "the HTML escapes the reason: {html}"
    );
    let audit = store.list_audit(10).await.unwrap();
    let delivered: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "digest.deliver")
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].reason,
        "1 automated decisions; mailed to soc@example.org"
    );
}

#[tokio::test]
async fn a_refusing_relay_keeps_the_digest_owed_and_its_files() {
    let sink = SmtpSink::start();
    sink.refuse_recipients();
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_ban(at("2026-12-05T20:00:00Z")).await;
    let mut tx = store.begin().await.unwrap();
    let last = at("2026-12-05T07:00:00Z");
    tx.set_setting(DIGEST_KEY, Some(&last.to_rfc3339()), last)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let job = job(&sink, dir.path());
    let err = job
        .run_owed(store.as_ref(), at("2026-12-06T07:05:00Z"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("550"), "{err}");
    // Still owed: the record did not move, and the files are there.
    assert_eq!(
        store.setting(DIGEST_KEY).await.unwrap().as_deref(),
        Some("2026-12-05T07:00:00+00:00")
    );
    assert!(dir.path().join("digest-2026-12-06T0700Z.md").exists());
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn the_service_task_delivers_what_is_owed_and_stops_on_request() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_ban(at("2026-12-05T20:00:00Z")).await;
    let mut tx = store.begin().await.unwrap();
    let last = at("2026-12-05T07:00:00Z");
    tx.set_setting(DIGEST_KEY, Some(&last.to_rfc3339()), last)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-12-06T07:00:30Z")));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(job(&sink, dir.path()).run(store.clone(), clock, stop_rx));
    for _ in 0..500 {
        if !sink.messages().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.messages().len(), 1);
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(
        store.setting(DIGEST_KEY).await.unwrap().as_deref(),
        Some("2026-12-06T07:00:00+00:00")
    );
}
