//! Every safety rail of active response, against a real (SQLite) store:
//! allowlists, minimum confidence, escalation, maximum duration, range
//! width, the per-minute cap and its circuit breaker, modes, duplicates, and
//! the review loop with its digest.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{
    AlertId, Confidence, Decision, DecisionKind, DecisionState, Mode, Origin, ReviewStatus, RunId,
    Scope, Timestamp,
};
use riposte_respond::{
    Allowlist, BREAKER_RULE, Decided, DecisionRequest, Enforcer, Escalation, FileEnforcer,
    MinConfidence, Outcome, RespondError, Responder, ResponderConfig, ReviewVerdict,
    breaker_status, digest, review_queue,
};
use riposte_store::Store;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap()
}

fn conf(n: u8) -> Confidence {
    Confidence::new(n).unwrap()
}

fn playbook(rule: &str) -> Origin {
    Origin::Playbook {
        playbook: "ssh-ban".into(),
        step: "ban".into(),
        run: RunId::new(),
        rule: Some(rule.into()),
        alert: Some(AlertId::new()),
    }
}

fn ban(value: &str, hours: i64) -> DecisionRequest {
    DecisionRequest::ban(
        Scope::Ip,
        value,
        Some(TimeDelta::hours(hours)),
        "6 sshd failures in 60s",
        conf(90),
        playbook("ssh-brute-force"),
    )
}

struct Setup {
    store: Arc<dyn Store>,
    responder: Responder,
    list: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(config: ResponderConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("blocklist.txt");
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let responder = Responder::new(
        config,
        vec![Enforcer::File(FileEnforcer::new(list.clone()))],
    );
    Setup {
        store,
        responder,
        list,
        _dir: dir,
    }
}

impl Setup {
    async fn decide(&self, req: DecisionRequest, now: Timestamp) -> Decided {
        let mut tx = self.store.begin().await.unwrap();
        let decided = self.responder.decide(&mut *tx, req, now).await.unwrap();
        tx.commit().await.unwrap();
        self.responder
            .reconcile(self.store.as_ref(), now)
            .await
            .unwrap();
        decided
    }

    async fn created(&self, req: DecisionRequest, now: Timestamp) -> Decision {
        match self.decide(req, now).await.outcome {
            Outcome::Created(d) => d,
            other => panic!("not created: {other:?}"),
        }
    }

    async fn refused(&self, req: DecisionRequest, now: Timestamp) -> String {
        match self.decide(req, now).await.outcome {
            Outcome::Refused { reason, .. } => reason,
            other => panic!("not refused: {other:?}"),
        }
    }

    fn blocklist(&self) -> String {
        std::fs::read_to_string(&self.list).unwrap_or_default()
    }

    async fn audit_actions(&self) -> Vec<(String, String)> {
        let mut entries = self.store.list_audit(1000).await.unwrap();
        entries.reverse();
        entries.into_iter().map(|e| (e.action, e.reason)).collect()
    }
}

#[tokio::test]
async fn allowlists_refuse_and_audit_with_the_reason() {
    let allowlist = Allowlist::new(vec!["10.0.0.0/8".parse().unwrap()])
        .with_asset("mail relays", ["198.51.100.16/28".parse().unwrap()])
        .with_gateways(["192.0.2.254".parse().unwrap()])
        .with_own_addresses([("eth0".to_owned(), "203.0.113.9".parse().unwrap())]);
    let s = setup(ResponderConfig {
        allowlist,
        ..ResponderConfig::default()
    })
    .await;
    let now = t0();
    let cases = [
        (
            "10.1.2.3",
            "10.1.2.3/32 is covered by allowlisted 10.0.0.0/8",
        ),
        (
            "198.51.100.17",
            "198.51.100.17/32 is own asset \"mail relays\" (198.51.100.16/28)",
        ),
        (
            "192.0.2.254",
            "192.0.2.254/32 is a configured gateway (192.0.2.254)",
        ),
        (
            "::ffff:203.0.113.9",
            "203.0.113.9/32 is an address of this host (eth0: 203.0.113.9)",
        ),
        (
            "127.0.0.1",
            "127.0.0.1/32 is a loopback address (127.0.0.0/8); never banned",
        ),
        (
            "fe80::1",
            "fe80::1/128 is a link-local address (fe80::/10); never banned",
        ),
    ];
    for (value, reason) in cases {
        assert_eq!(s.refused(ban(value, 1), now).await, reason, "{value}");
    }
    let audit = s.audit_actions().await;
    assert_eq!(audit.len(), cases.len());
    for ((action, reason), (_, expected)) in audit.iter().zip(cases) {
        assert_eq!(
            (action.as_str(), reason.as_str()),
            ("decision.refuse", expected)
        );
    }
    // A person is held to the allowlist too.
    let mut by_hand = ban("10.9.9.9", 1);
    by_hand.origin = Origin::User {
        name: "alice".into(),
    };
    assert!(s.refused(by_hand, now).await.contains("allowlisted"));
    assert_eq!(s.blocklist(), "");
}

#[tokio::test]
async fn minimum_confidence_by_kind_and_scope() {
    let mut min = MinConfidence::default();
    min.insert("ban", conf(70)).unwrap();
    min.insert("ban/range", conf(95)).unwrap();
    assert_eq!(
        min.insert("nuke", conf(1)).unwrap_err(),
        "unknown decision kind \"nuke\" (valid: ban, throttle, captcha, disable_account, quarantine_host)"
    );
    let s = setup(ResponderConfig {
        min_confidence: min,
        ..ResponderConfig::default()
    })
    .await;
    let now = t0();
    let mut low = ban("203.0.113.7", 1);
    low.confidence = conf(60);
    assert_eq!(
        s.refused(low, now).await,
        "confidence 60 is below the minimum 70 for ban on ip"
    );
    let d = s.created(ban("203.0.113.7", 1), now).await;
    assert_eq!(d.state, DecisionState::Active);
    let mut range = ban("203.0.113.0/24", 1);
    range.scope = Scope::Range;
    assert_eq!(
        s.refused(range.clone(), now).await,
        "confidence 90 is below the minimum 95 for ban on range"
    );
    // People are not held to automation's minimum.
    range.origin = Origin::User {
        name: "alice".into(),
    };
    assert_eq!(s.created(range, now).await.state, DecisionState::Active);
    assert_eq!(s.blocklist(), "203.0.113.0/24\n203.0.113.7\n");
}

#[tokio::test]
async fn repeat_offenders_escalate_within_the_lookback() {
    let s = setup(ResponderConfig {
        escalation: Some(Escalation {
            lookback: TimeDelta::days(7),
            durations: vec![
                TimeDelta::hours(1),
                TimeDelta::hours(4),
                TimeDelta::hours(24),
            ],
        }),
        ..ResponderConfig::default()
    })
    .await;
    let mut now = t0();
    let mut lasted = Vec::new();
    for _ in 0..4 {
        let d = s.created(ban("203.0.113.7", 1), now).await;
        lasted.push((d.offence, d.expires_at.map(|e| e - now), d.reason.clone()));
        now = d.expires_at.unwrap() + TimeDelta::minutes(1);
        s.responder.sweep(s.store.as_ref(), now).await.unwrap();
    }
    assert_eq!(
        lasted,
        [
            (
                Some(1),
                Some(TimeDelta::hours(1)),
                "6 sshd failures in 60s".to_owned()
            ),
            (
                Some(2),
                Some(TimeDelta::hours(4)),
                "6 sshd failures in 60s (offence 2 within 7d: 4h)".to_owned()
            ),
            (
                Some(3),
                Some(TimeDelta::hours(24)),
                "6 sshd failures in 60s (offence 3 within 7d: 1d)".to_owned()
            ),
            (
                Some(4),
                Some(TimeDelta::hours(24)),
                "6 sshd failures in 60s (offence 4 within 7d: 1d)".to_owned()
            ),
        ]
    );
    // A reverted decision (a false positive) is not an offence, and one
    // outside the lookback is forgotten.
    let d = s.created(ban("198.51.100.5", 1), now).await;
    s.responder
        .review(
            s.store.as_ref(),
            d.id,
            ReviewVerdict::Revert,
            "alice",
            "",
            now,
        )
        .await
        .unwrap();
    let again = s.created(ban("198.51.100.5", 1), now).await;
    assert_eq!(again.offence, Some(1));
    let later = now + TimeDelta::days(8);
    let fresh = s.created(ban("203.0.113.7", 1), later).await;
    assert_eq!(
        (fresh.offence, fresh.expires_at.map(|e| e - later)),
        (Some(1), Some(TimeDelta::hours(1)))
    );
}

#[tokio::test]
async fn durations_are_capped_and_automation_cannot_ban_forever() {
    let s = setup(ResponderConfig {
        max_duration: TimeDelta::hours(12),
        ..ResponderConfig::default()
    })
    .await;
    let now = t0();
    let d = s.created(ban("203.0.113.7", 48), now).await;
    assert_eq!(d.expires_at, Some(now + TimeDelta::hours(12)));
    assert_eq!(
        d.reason,
        "6 sshd failures in 60s (duration 2d cut to the maximum 12h)"
    );
    let mut forever = ban("203.0.113.8", 1);
    forever.duration = None;
    assert_eq!(
        s.refused(forever.clone(), now).await,
        "permanent decisions can only be made by a person"
    );
    forever.origin = Origin::User {
        name: "alice".into(),
    };
    let d = s.created(forever, now).await;
    assert_eq!((d.expires_at, d.review.clone()), (None, None));
}

#[tokio::test]
async fn wide_ranges_wait_for_approval_then_last_from_approval() {
    let s = setup(ResponderConfig::default()).await;
    let now = t0();
    let mut wide = ban("198.51.0.0/16", 4);
    wide.scope = Scope::Range;
    let d = s.created(wide, now).await;
    assert_eq!(d.state, DecisionState::PendingApproval);
    assert_eq!(
        d.held.as_deref(),
        Some(
            "198.51.0.0/16 is wider than the /24 an automated decision may cover without approval"
        )
    );
    assert_eq!(d.expires_at, None);
    assert_eq!(s.blocklist(), "");
    let mut v6 = ban("2001:db8::/32", 4);
    v6.scope = Scope::Range;
    assert_eq!(
        s.created(v6, now).await.state,
        DecisionState::PendingApproval
    );

    let later = now + TimeDelta::hours(2);
    let approved = s
        .responder
        .review(
            s.store.as_ref(),
            d.id,
            ReviewVerdict::Approve,
            "alice",
            "checked",
            later,
        )
        .await
        .unwrap();
    assert_eq!(approved.state, DecisionState::Active);
    assert_eq!(approved.expires_at, Some(later + TimeDelta::hours(4)));
    let review = approved.review.unwrap();
    assert_eq!(
        (review.status, review.by.as_deref(), review.note.as_deref()),
        (ReviewStatus::Approved, Some("alice"), Some("checked"))
    );
    assert_eq!(s.blocklist(), "198.51.0.0/16\n");
}

#[tokio::test]
async fn the_per_minute_cap_trips_a_breaker_that_holds_until_reset() {
    let s = setup(ResponderConfig {
        max_per_minute: 3,
        ..ResponderConfig::default()
    })
    .await;
    let now = t0();
    for i in 1..=3 {
        let d = s.created(ban(&format!("203.0.113.{i}"), 1), now).await;
        assert_eq!(d.state, DecisionState::Active);
    }
    let tripping = s.decide(ban("203.0.113.4", 1), now).await;
    let alert = tripping.breaker_alert.expect("an alert is raised");
    assert_eq!(alert.rule_id, BREAKER_RULE);
    assert_eq!(
        alert.summary,
        "4 automated decisions in the last minute reached the cap of 3; new automated decisions wait for approval until a person resets the breaker (riposte breaker reset)"
    );
    assert_eq!(s.store.list_alerts(10).await.unwrap(), [alert]);
    let Outcome::Created(held) = tripping.outcome else {
        panic!("not created")
    };
    assert_eq!(held.state, DecisionState::PendingApproval);
    assert_eq!(
        held.held.as_deref(),
        Some(
            "circuit breaker tripped: 4 automated decisions in the last minute reached the cap of 3"
        )
    );

    // Minutes later the breaker still holds everything automated (one
    // alert only), across a restart (a new responder on the same store).
    let later = now + TimeDelta::minutes(10);
    let restarted = Setup {
        responder: Responder::new(
            ResponderConfig {
                max_per_minute: 3,
                ..ResponderConfig::default()
            },
            Vec::new(),
        ),
        store: s.store.clone(),
        list: s.list.clone(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let still = restarted.decide(ban("203.0.113.5", 1), later).await;
    assert_eq!(still.breaker_alert, None);
    let Outcome::Created(d) = still.outcome else {
        panic!()
    };
    assert_eq!(d.state, DecisionState::PendingApproval);
    assert!(d.held.unwrap().starts_with(
        "circuit breaker tripped at 2026-03-14T10:00:00+00:00: 4 automated decisions"
    ));
    // People are not held back by the breaker.
    let mut by_hand = ban("203.0.113.6", 1);
    by_hand.origin = Origin::User {
        name: "alice".into(),
    };
    assert_eq!(
        restarted.created(by_hand, later).await.state,
        DecisionState::Active
    );

    let state = s
        .responder
        .reset_breaker(s.store.as_ref(), "alice", "false alarm: a scan", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.tripped_at, now);
    assert_eq!(breaker_status(s.store.as_ref()).await.unwrap(), None);
    let after = s.created(ban("203.0.113.7", 1), later).await;
    assert_eq!(after.state, DecisionState::Active);
    let actions: Vec<String> = s
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        actions,
        [
            "decision.create",
            "decision.create",
            "decision.create",
            "breaker.trip",
            "decision.hold",
            "decision.hold",
            "decision.create",
            "breaker.reset",
            "decision.create",
        ]
    );
}

#[tokio::test]
async fn modes_simulate_shadow_and_the_most_cautious_wins() {
    let s = setup(ResponderConfig {
        allowlist: Allowlist::new(vec!["10.0.0.0/8".parse().unwrap()]),
        rule_modes: BTreeMap::from([("noisy-rule".to_owned(), Mode::Shadow)]),
        ..ResponderConfig::default()
    })
    .await;
    let now = t0();
    let mut sim = ban("203.0.113.7", 1);
    sim.mode = Mode::Simulate;
    let d = s.created(sim, now).await;
    assert_eq!(
        (d.state, d.mode, d.review.clone(), d.shadow_verdict.clone()),
        (DecisionState::Simulated, Mode::Simulate, None, None)
    );
    assert_eq!(s.blocklist(), "");

    // Shadow records what enforce would do: here, a new active decision.
    let mut shadow = ban("203.0.113.7", 1);
    shadow.mode = Mode::Shadow;
    let d = s.created(shadow.clone(), now).await;
    assert_eq!(
        (d.state, d.mode, d.shadow_verdict.as_deref()),
        (DecisionState::Simulated, Mode::Shadow, Some("active"))
    );
    // ... or a refusal, or a duplicate of what is enforced.
    let mut shadow_allowed = shadow.clone();
    shadow_allowed.value = "10.0.0.5".into();
    let d = s.created(shadow_allowed, now).await;
    assert_eq!(
        d.shadow_verdict.as_deref(),
        Some("refused: 10.0.0.5/32 is covered by allowlisted 10.0.0.0/8")
    );
    let enforced = s.created(ban("203.0.113.7", 1), now).await;
    assert_eq!(enforced.state, DecisionState::Active);
    let d = s.created(shadow, now).await;
    assert_eq!(
        d.shadow_verdict,
        Some(format!("already active: {}", enforced.id))
    );

    // A rule in shadow mode makes an enforcing playbook shadow.
    let mut from_noisy = ban("198.51.100.9", 1);
    from_noisy.origin = playbook("noisy-rule");
    let d = s.created(from_noisy, now).await;
    assert_eq!((d.state, d.mode), (DecisionState::Simulated, Mode::Shadow));
    assert_eq!(s.blocklist(), "203.0.113.7\n");

    // The responder's own mode is a ceiling for everything.
    let ceiling = setup(ResponderConfig {
        mode: Mode::Simulate,
        ..ResponderConfig::default()
    })
    .await;
    let d = ceiling.created(ban("203.0.113.7", 1), now).await;
    assert_eq!(
        (d.state, d.mode),
        (DecisionState::Simulated, Mode::Simulate)
    );
    assert_eq!(
        ceiling.responder.effective_mode(Mode::Enforce, None),
        Mode::Simulate
    );
}

#[tokio::test]
async fn bad_values_duplicates_and_kinds() {
    let s = setup(ResponderConfig::default()).await;
    let now = t0();
    let mut tx = s.store.begin().await.unwrap();
    let err = s
        .responder
        .decide(&mut *tx, ban("203.0.113.300", 1), now)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid decision: \"203.0.113.300\" is not an IP address"
    );
    let mut disable = ban("203.0.113.7", 1);
    disable.kind = DecisionKind::DisableAccount;
    let err = s
        .responder
        .decide(&mut *tx, disable, now)
        .await
        .unwrap_err();
    assert!(matches!(err, RespondError::Invalid(_)));
    assert_eq!(
        err.to_string(),
        "invalid decision: a disable_account decision cannot have scope ip"
    );
    drop(tx);

    // IPv4-mapped IPv6 is the IPv4 address: a duplicate of it.
    let d = s.created(ban("203.0.113.7", 1), now).await;
    match s.decide(ban("::ffff:203.0.113.7", 1), now).await.outcome {
        Outcome::AlreadyActive(existing) => assert_eq!(existing, d),
        other => panic!("{other:?}"),
    }
    // Another kind on the same address is another decision.
    let mut captcha = ban("203.0.113.7", 1);
    captcha.kind = DecisionKind::Captcha;
    assert_eq!(s.created(captcha, now).await.kind, DecisionKind::Captcha);
    // Accounts are disabled by user name; countries and ASNs canonicalized.
    let mut account = ban("jdoe", 1);
    account.kind = DecisionKind::DisableAccount;
    account.scope = Scope::User;
    assert_eq!(s.created(account, now).await.value, "jdoe");
    let mut country = ban("fr", 1);
    country.scope = Scope::Country;
    assert_eq!(s.created(country, now).await.value, "FR");
    let mut asn = ban("AS64496", 1);
    asn.scope = Scope::Asn;
    assert_eq!(s.created(asn, now).await.value, "64496");
    // Only ip/range bans reach the blocklist.
    assert_eq!(s.blocklist(), "203.0.113.7\n");
}

#[tokio::test]
async fn the_review_loop_and_its_digest() {
    let s = setup(ResponderConfig::default()).await;
    let now = t0();
    let a = s.created(ban("203.0.113.1", 4), now).await;
    let b = s.created(ban("203.0.113.2", 4), now).await;
    let mut web = ban("198.51.100.3", 4);
    web.origin = playbook("web-scan");
    web.reason = "scanner <script>x</script> | pipes".into();
    let c = s.created(web, now + TimeDelta::hours(1)).await;
    let mut by_hand = ban("192.0.2.50", 4);
    by_hand.origin = Origin::User {
        name: "alice".into(),
    };
    s.created(by_hand, now).await;

    // The queue: automated decisions only, oldest first, overdue flagged.
    let at = now + TimeDelta::hours(24) + TimeDelta::minutes(30);
    let queue = review_queue(s.store.as_ref(), TimeDelta::hours(24), at, 100, false)
        .await
        .unwrap();
    let listed: Vec<_> = queue.iter().map(|i| (i.decision.id, i.flagged)).collect();
    assert_eq!(listed, [(a.id, true), (b.id, true), (c.id, false)]);

    let reviewed_at = now + TimeDelta::hours(2);
    let reverted = s
        .responder
        .review(
            s.store.as_ref(),
            a.id,
            ReviewVerdict::Revert,
            "bob",
            "NAT gateway of a customer",
            reviewed_at,
        )
        .await
        .unwrap();
    assert_eq!(reverted.state, DecisionState::Revoked);
    assert_eq!(s.blocklist(), "192.0.2.50\n198.51.100.3\n203.0.113.2\n");
    let extended = s
        .responder
        .review(
            s.store.as_ref(),
            b.id,
            ReviewVerdict::Extend(TimeDelta::hours(20)),
            "bob",
            "",
            reviewed_at,
        )
        .await
        .unwrap();
    assert_eq!(extended.expires_at, Some(now + TimeDelta::hours(24)));
    assert_eq!(
        extended.review.as_ref().map(|r| r.status),
        Some(ReviewStatus::Extended)
    );
    let err = s
        .responder
        .review(
            s.store.as_ref(),
            a.id,
            ReviewVerdict::Approve,
            "bob",
            "",
            reviewed_at,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid decision: decision {} is revoked; only active or pending decisions can be reviewed",
            a.id
        )
    );

    let d = digest(
        s.store.as_ref(),
        TimeDelta::hours(24),
        TimeDelta::hours(24),
        now + TimeDelta::hours(3),
    )
    .await
    .unwrap();
    assert_eq!(d.decided.len(), 3);
    assert_eq!(d.reverted.iter().map(|d| d.id).collect::<Vec<_>>(), [a.id]);
    assert_eq!(
        (d.awaiting_review, d.flagged, d.pending_approval),
        (1, 0, 0)
    );
    let ssh = &d.rules["ssh-brute-force"];
    assert_eq!(
        (
            ssh.decided,
            ssh.reviewed,
            ssh.reverted,
            ssh.false_positive_rate
        ),
        (2, 2, 1, Some(0.5))
    );
    let web = &d.rules["web-scan"];
    assert_eq!(
        (web.decided, web.reviewed, web.false_positive_rate),
        (1, 0, None)
    );

    let md = d.to_markdown();
    assert!(md.starts_with(
        "# Riposte review digest 2026-03-13 13:00 UTC – 2026-03-14 13:00 UTC\n\n- 3 automated decisions, 1 reverted by people, 0 recorded in simulate or shadow mode.\n"
    ));
    assert!(md.contains("| ssh-brute-force | 2 | 2 | 1 | 50% |\n| web-scan | 1 | 0 | 0 | – |\n"));
    assert!(md.contains(&format!(
        "| {} | 203.0.113.1 | ssh-brute-force | bob | NAT gateway of a customer |",
        a.id
    )));
    // Attacker-influenced text is escaped for each sink.
    assert!(md.contains("scanner \\<script\\>x\\</script\\> \\| pipes"));
    let html = d.to_html();
    assert!(html.contains("scanner &lt;script&gt;x&lt;/script&gt; | pipes"));
    assert!(!html.contains("<script>"));
}

#[tokio::test]
async fn a_failing_enforcer_does_not_stop_the_others_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let good = dir.path().join("good.txt");
    let bad = FileEnforcer::new(dir.path().join("bad.txt")).with_reload(
        vec![
            "ls".into(),
            dir.path().join("later").to_str().unwrap().into(),
        ],
        std::time::Duration::from_secs(5),
    );
    let responder = Responder::new(
        ResponderConfig::default(),
        vec![
            Enforcer::File(bad),
            Enforcer::File(FileEnforcer::new(good.clone())),
        ],
    );
    let now = t0();
    let mut tx = store.begin().await.unwrap();
    responder
        .decide(&mut *tx, ban("203.0.113.7", 1), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let err = responder.reconcile(store.as_ref(), now).await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "enforcer file:{} failed: reload \"ls\" failed",
            dir.path().join("bad.txt").display()
        )),
        "{err}"
    );
    // The second enforcer was applied all the same.
    assert_eq!(std::fs::read_to_string(&good).unwrap(), "203.0.113.7\n");
    let health = responder.enforcer_health();
    assert_eq!(
        (
            health[0].failures,
            health[0].retry_at,
            health[1].failures,
            health[1].last_ok
        ),
        (1, Some(now + TimeDelta::seconds(10)), 0, Some(now))
    );
    assert!(
        health[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("reload \"ls\" failed"),
        "{health:?}"
    );
    // Backing off: not tried again within 10 s, then tried, and the wait
    // doubles.
    let soon = now + TimeDelta::seconds(5);
    responder.reconcile(store.as_ref(), soon).await.unwrap();
    assert_eq!(responder.enforcer_health()[0].failures, 1);
    let later = now + TimeDelta::seconds(10);
    assert!(responder.reconcile(store.as_ref(), later).await.is_err());
    let health = responder.enforcer_health();
    assert_eq!(
        (health[0].failures, health[0].retry_at),
        (2, Some(later + TimeDelta::seconds(20)))
    );
    // Once the reload works again, it is tried at its time and is healthy.
    std::fs::create_dir(dir.path().join("later")).unwrap();
    let retry = later + TimeDelta::seconds(20);
    responder.reconcile(store.as_ref(), retry).await.unwrap();
    let health = responder.enforcer_health();
    assert_eq!(
        (health[0].failures, health[0].retry_at, health[0].last_ok),
        (0, None, Some(retry))
    );
}

/// Regression: held decisions were invisible to the duplicate rail, so a
/// brute-forcer filled the approval queue with copies while the breaker
/// was tripped; and approving a held one beside an effective ban on the
/// same value (made after the reset) gave two active bans.
#[tokio::test]
async fn held_copies_are_duplicates_and_approval_refuses_a_second_ban() {
    let s = setup(ResponderConfig {
        max_per_minute: 1,
        ..ResponderConfig::default()
    })
    .await;
    let now = t0();
    s.created(ban("203.0.113.1", 1), now).await;
    let Outcome::Created(held) = s.decide(ban("203.0.113.7", 1), now).await.outcome else {
        panic!("not created")
    };
    assert_eq!(held.state, DecisionState::PendingApproval);
    for minutes in 1..=3 {
        let again = s
            .decide(ban("203.0.113.7", 1), now + TimeDelta::minutes(minutes))
            .await;
        assert_eq!(again.outcome, Outcome::AlreadyActive(held.clone()));
    }
    // Another kind on the same value is another decision.
    let mut captcha = ban("203.0.113.7", 1);
    captcha.kind = DecisionKind::Captcha;
    assert_eq!(
        s.created(captcha, now).await.state,
        DecisionState::PendingApproval
    );
    let pending: Vec<_> = s
        .store
        .list_decisions(&riposte_store::DecisionFilter {
            state: Some(DecisionState::PendingApproval),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);

    // After a reset, a new ban takes effect; approving the held copy then
    // is refused, naming the effective one.
    let later = now + TimeDelta::minutes(10);
    s.responder
        .reset_breaker(s.store.as_ref(), "alice", "scan", later)
        .await
        .unwrap();
    let active = s.created(ban("203.0.113.7", 1), later).await;
    assert_eq!(active.state, DecisionState::Active);
    let err = s
        .responder
        .review(
            s.store.as_ref(),
            held.id,
            ReviewVerdict::Approve,
            "alice",
            "",
            later,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid decision: decision {} duplicates the effective decision {} (ban ip 203.0.113.7 until 2026-03-14T11:10:00+00:00); revert this one instead",
            held.id, active.id
        )
    );
    let stored = s.store.get_decision(held.id).await.unwrap().unwrap();
    assert_eq!(stored.state, DecisionState::PendingApproval);
    assert_eq!(s.blocklist(), "203.0.113.1\n203.0.113.7\n");
}

/// Regression: extending a permanent decision (no expiry) made it expire
/// at now + by.
#[tokio::test]
async fn extending_a_permanent_decision_is_refused() {
    let s = setup(ResponderConfig::default()).await;
    let mut forever = ban("203.0.113.7", 1);
    forever.duration = None;
    forever.origin = Origin::User {
        name: "alice".into(),
    };
    let d = s.created(forever, t0()).await;
    assert_eq!(d.expires_at, None);
    let err = s
        .responder
        .review(
            s.store.as_ref(),
            d.id,
            ReviewVerdict::Extend(TimeDelta::hours(24)),
            "bob",
            "",
            t0(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid decision: decision {} is permanent; there is no expiry to extend",
            d.id
        )
    );
    let stored = s.store.get_decision(d.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.expires_at),
        (DecisionState::Active, None)
    );
}

/// Regression: the queue took the newest `limit` pending decisions and then
/// filtered the overdue ones, so with more pending than the limit the
/// oldest, most overdue ones were missing and `--flagged` could be empty.
#[tokio::test]
async fn the_review_queue_keeps_the_most_overdue_within_its_limit() {
    let s = setup(ResponderConfig::default()).await;
    let now = t0();
    let oldest = s
        .created(ban("203.0.113.1", 1), now - TimeDelta::hours(30))
        .await;
    let older = s
        .created(ban("203.0.113.2", 1), now - TimeDelta::hours(26))
        .await;
    let fresh = s
        .created(ban("203.0.113.3", 1), now - TimeDelta::hours(1))
        .await;
    let queue = |limit, flagged| {
        let store = s.store.clone();
        async move {
            review_queue(store.as_ref(), TimeDelta::hours(24), now, limit, flagged)
                .await
                .unwrap()
                .into_iter()
                .map(|i| (i.decision.id, i.flagged))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(queue(1, false).await, [(oldest.id, true)]);
    assert_eq!(queue(2, true).await, [(oldest.id, true), (older.id, true)]);
    assert_eq!(
        queue(10, false).await,
        [(oldest.id, true), (older.id, true), (fresh.id, false)]
    );
}

/// Regression: a rule's reviewed and reverted counts took only decisions
/// made in the window, so yesterday's decisions reverted today never showed
/// in today's false-positive rate (and a verdict given after the window
/// counted in it).
#[tokio::test]
async fn the_digest_counts_reviews_by_when_they_were_made() {
    let s = setup(ResponderConfig::default()).await;
    let now = t0();
    let yesterday = s.created(ban("203.0.113.1", 48), now).await;
    let kept = s.created(ban("203.0.113.2", 48), now).await;
    let to = now + TimeDelta::hours(36);
    let review = |id, verdict, at| {
        let s = &s;
        async move {
            s.responder
                .review(s.store.as_ref(), id, verdict, "bob", "", at)
                .await
                .unwrap()
        }
    };
    // Both made the day before the window; both reviewed inside it.
    review(
        yesterday.id,
        ReviewVerdict::Revert,
        to - TimeDelta::hours(1),
    )
    .await;
    review(kept.id, ReviewVerdict::Approve, to - TimeDelta::hours(2)).await;
    // Made in the window, reviewed after it: decided, not reviewed.
    let today = s
        .created(ban("203.0.113.3", 4), to - TimeDelta::hours(3))
        .await;
    review(today.id, ReviewVerdict::Revert, to + TimeDelta::hours(1)).await;

    let d = digest(
        s.store.as_ref(),
        TimeDelta::hours(24),
        TimeDelta::hours(24),
        to,
    )
    .await
    .unwrap();
    let stats = &d.rules["ssh-brute-force"];
    assert_eq!(
        (
            stats.decided,
            stats.reviewed,
            stats.reverted,
            stats.false_positive_rate
        ),
        (1, 2, 1, Some(0.5))
    );
}
