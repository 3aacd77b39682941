#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{Clock, Confidence, DecisionState, ManualClock, Origin, RunId, Scope};
use riposte_respond::{
    Allowlist, DecisionRequest, Enforcer, FileEnforcer, Outcome, Responder, ResponderConfig,
};
use riposte_store::{DecisionFilter, Store};

struct Fixture {
    store: Arc<dyn Store>,
    responder: Responder,
    clock: ManualClock,
    blocklist: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = riposte_store::open(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await
        .unwrap();
    let blocklist = dir.path().join("lists/blocklist.txt");
    let config = ResponderConfig {
        allowlist: Allowlist::new(vec!["10.0.0.0/8".parse().unwrap()]),
        max_duration: TimeDelta::days(1),
        ..ResponderConfig::default()
    };
    let responder = Responder::new(
        config,
        vec![Enforcer::File(FileEnforcer::new(blocklist.clone()))],
    );
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 27, 35).unwrap());
    Fixture {
        store,
        responder,
        clock,
        blocklist,
        _dir: dir,
    }
}

fn automated(value: &str, duration: Option<TimeDelta>) -> DecisionRequest {
    DecisionRequest {
        kind: riposte_model::DecisionKind::Ban,
        scope: Scope::Ip,
        value: value.to_owned(),
        duration,
        reason: "ssh brute force".to_owned(),
        confidence: Confidence::new(85).unwrap(),
        origin: Origin::Playbook {
            playbook: "ssh-bruteforce".into(),
            step: "block".into(),
            run: RunId::new(),
            rule: Some("ssh-bruteforce".into()),
            alert: None,
        },
        mode: riposte_model::Mode::Enforce,
        evidence: Vec::new(),
    }
}

impl Fixture {
    async fn ban(&self, req: DecisionRequest) -> Outcome {
        let mut tx = self.store.begin().await.unwrap();
        let out = self
            .responder
            .decide(&mut *tx, req, self.clock.now())
            .await
            .unwrap()
            .outcome;
        tx.commit().await.unwrap();
        self.responder
            .reconcile(self.store.as_ref(), self.clock.now())
            .await
            .unwrap();
        out
    }

    fn blocklist(&self) -> String {
        std::fs::read_to_string(&self.blocklist).unwrap()
    }
}

#[tokio::test]
async fn a_ban_expires_on_the_clock_and_leaves_the_blocklist() {
    let f = fixture().await;
    let Outcome::Created(d) = f
        .ban(automated("203.0.113.7", Some(TimeDelta::hours(4))))
        .await
    else {
        panic!("ban not created")
    };
    assert_eq!(d.expires_at, Some(f.clock.now() + TimeDelta::hours(4)));
    assert_eq!(f.blocklist(), "203.0.113.7\n");

    // One millisecond before expiry nothing changes.
    f.clock
        .advance(TimeDelta::hours(4) - TimeDelta::milliseconds(1));
    assert!(
        f.responder
            .sweep(f.store.as_ref(), f.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.blocklist(), "203.0.113.7\n");

    f.clock.advance(TimeDelta::milliseconds(1));
    let expired = f
        .responder
        .sweep(f.store.as_ref(), f.clock.now())
        .await
        .unwrap();
    assert_eq!(
        expired.iter().map(|d| d.value.as_str()).collect::<Vec<_>>(),
        ["203.0.113.7"]
    );
    assert_eq!(f.blocklist(), "");
    let stored = f.store.get_decision(d.id).await.unwrap().unwrap();
    assert_eq!(stored.state, DecisionState::Expired);
    let audit = f.store.list_audit(10).await.unwrap();
    let expire = audit
        .iter()
        .find(|a| a.action == "decision.expire")
        .unwrap();
    assert_eq!(expire.target, format!("decision:{}", d.id));
    assert_eq!(expire.actor.to_string(), "system:sweeper");
}

#[tokio::test]
async fn allowlisted_and_host_addresses_are_refused_and_audited() {
    let f = fixture().await;
    for (value, reason) in [
        (
            "10.0.0.5",
            "10.0.0.5/32 is covered by allowlisted 10.0.0.0/8",
        ),
        (
            "127.0.0.1",
            "127.0.0.1/32 is a loopback address (127.0.0.0/8); never banned",
        ),
    ] {
        let out = f.ban(automated(value, Some(TimeDelta::hours(1)))).await;
        assert_eq!(
            out,
            Outcome::Refused {
                value: value.to_owned(),
                reason: reason.to_owned()
            }
        );
    }
    let range = DecisionRequest {
        scope: Scope::Range,
        ..automated("10.0.0.0/7", Some(TimeDelta::hours(1)))
    };
    assert!(
        matches!(f.ban(range).await, Outcome::Refused { .. }),
        "a range covering the allowlist"
    );
    assert_eq!(f.blocklist(), "", "nothing enforced");
    let decisions = f
        .store
        .list_decisions(&DecisionFilter::default())
        .await
        .unwrap();
    assert!(decisions.is_empty());
    let refusals: Vec<_> = f
        .store
        .list_audit(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "decision.refuse")
        .collect();
    assert_eq!(refusals.len(), 3);
    assert!(
        refusals
            .iter()
            .all(|a| a.actor.to_string() == "playbook:ssh-bruteforce/block")
    );
}

#[tokio::test]
async fn automation_cannot_ban_forever_and_is_capped_at_max_duration() {
    let f = fixture().await;
    let out = f.ban(automated("203.0.113.8", None)).await;
    assert_eq!(
        out,
        Outcome::Refused {
            value: "203.0.113.8".into(),
            reason: "permanent decisions can only be made by a person".into()
        }
    );
    let Outcome::Created(d) = f
        .ban(automated("203.0.113.9", Some(TimeDelta::days(30))))
        .await
    else {
        panic!("not created")
    };
    assert_eq!(d.expires_at, Some(f.clock.now() + TimeDelta::days(1)));
    assert_eq!(
        d.reason,
        "ssh brute force (duration 30d cut to the maximum 1d)"
    );

    // A duration past the calendar's end is an error, not a panic.
    let huge = DecisionRequest {
        origin: Origin::User {
            name: "alice".into(),
        },
        ..automated("203.0.113.11", Some(TimeDelta::MAX))
    };
    let mut tx = f.store.begin().await.unwrap();
    let err = f
        .responder
        .decide(&mut *tx, huge, f.clock.now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("invalid decision: duration "),
        "{err}"
    );
    drop(tx);

    // A person may ban permanently; it never expires.
    let manual = DecisionRequest {
        origin: Origin::User {
            name: "alice".into(),
        },
        ..automated("203.0.113.10", None)
    };
    let Outcome::Created(p) = f.ban(manual).await else {
        panic!("not created")
    };
    assert_eq!(p.expires_at, None);
    f.clock.advance(TimeDelta::days(365));
    f.responder
        .sweep(f.store.as_ref(), f.clock.now())
        .await
        .unwrap();
    assert_eq!(f.blocklist(), "203.0.113.10\n");
}

#[tokio::test]
async fn a_second_ban_on_an_active_value_is_not_duplicated_and_revoke_unblocks() {
    let f = fixture().await;
    let Outcome::Created(first) = f
        .ban(automated("203.0.113.7", Some(TimeDelta::hours(4))))
        .await
    else {
        panic!("not created")
    };
    assert_eq!(
        f.ban(automated("203.0.113.7", Some(TimeDelta::hours(4))))
            .await,
        Outcome::AlreadyActive(first.clone())
    );
    let revoked = f
        .responder
        .revoke(
            f.store.as_ref(),
            first.id,
            "alice",
            "false positive",
            f.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(revoked.unwrap().state, DecisionState::Revoked);
    assert_eq!(f.blocklist(), "");
    assert!(
        f.responder
            .revoke(f.store.as_ref(), first.id, "alice", "again", f.clock.now())
            .await
            .unwrap()
            .is_none()
    );
}

/// Regression: reconciliations ran unlocked from the pipeline, the sweeper
/// and the executor; one that read the effective set with an older clock
/// and finished last wrote that older set over the newer one.
#[tokio::test]
async fn a_reconciliation_with_an_older_clock_never_restores_an_expired_ban() {
    let f = fixture().await;
    let started = f.clock.now();
    f.ban(automated("203.0.113.7", Some(TimeDelta::hours(1))))
        .await;
    assert_eq!(f.blocklist(), "203.0.113.7\n");
    f.responder
        .reconcile(f.store.as_ref(), started + TimeDelta::hours(2))
        .await
        .unwrap();
    assert_eq!(f.blocklist(), "");
    // A caller that took its time before the ban lapsed reconciles late.
    f.responder
        .reconcile(f.store.as_ref(), started + TimeDelta::minutes(30))
        .await
        .unwrap();
    assert_eq!(f.blocklist(), "");

    // Many at once, each ends with the list whole and current.
    f.clock.advance(TimeDelta::hours(3));
    f.ban(automated("203.0.113.8", Some(TimeDelta::hours(1))))
        .await;
    let at = f.clock.now();
    let run = || f.responder.reconcile(f.store.as_ref(), at);
    let (a, b, c, d) = tokio::join!(run(), run(), run(), run());
    for result in [a, b, c, d] {
        result.unwrap();
    }
    assert_eq!(f.blocklist(), "203.0.113.8\n");
}
