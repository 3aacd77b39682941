#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! The CrowdSec-compatible bouncer API, served on a real socket and read
//! with a real HTTP client, as a bouncer would.

use std::sync::Arc;

use chrono::TimeDelta;
use riposte_model::{Clock, Confidence, DecisionKind, ManualClock, Mode, Origin, Scope};
use riposte_respond::{DecisionRequest, Outcome, Responder, ResponderConfig};
use riposte_server::{AppState, CsStream, app};
use serde_json::Value;

mod common;

use common::{FIREWALL, NGINX};

struct Lapi {
    url: String,
    clock: Arc<ManualClock>,
    state: AppState,
    responder: Responder,
    http: reqwest::Client,
}

async fn lapi() -> Lapi {
    let (state, clock) = common::state(1000).await;
    serve(state, clock).await
}

async fn serve(state: AppState, clock: Arc<ManualClock>) -> Lapi {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Lapi {
        url,
        clock,
        state,
        responder: Responder::new(ResponderConfig::default(), Vec::new()),
        http: reqwest::Client::new(),
    }
}

impl Lapi {
    async fn decide(&self, kind: DecisionKind, scope: Scope, value: &str, mode: Mode) -> String {
        self.decide_at(kind, scope, value, mode, self.clock.now())
            .await
    }

    /// Decides with `now` as the decision's time (a transaction that took
    /// its timestamp before committing).
    async fn decide_at(
        &self,
        kind: DecisionKind,
        scope: Scope,
        value: &str,
        mode: Mode,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let mut req = DecisionRequest::ban(
            scope,
            value,
            Some(TimeDelta::hours(4)),
            "ssh brute force",
            Confidence::new(90).unwrap(),
            Origin::User {
                name: "alice".into(),
            },
        );
        req.kind = kind;
        req.mode = mode;
        let mut tx = self.state.store.begin().await.unwrap();
        let decided = self.responder.decide(&mut *tx, req, now).await.unwrap();
        tx.commit().await.unwrap();
        match decided.outcome {
            Outcome::Created(d) => d.id.to_string(),
            other => panic!("{other:?}"),
        }
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(key) = key {
            req = req.header("X-Api-Key", key);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn stream(&self, query: &str, key: &str) -> CsStream {
        let (status, body) = self
            .get(&format!("/v1/decisions/stream{query}"), Some(key))
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).unwrap()
    }
}

/// `(type, scope, value, duration)` of a stream side, sorted by value.
fn side(
    decisions: &Option<Vec<riposte_server::CsDecision>>,
) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = decisions
        .iter()
        .flatten()
        .map(|d| {
            (
                d.kind.clone(),
                d.scope.clone(),
                d.value.clone(),
                d.duration.clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.2.cmp(&b.2));
    out
}

fn row(kind: &str, scope: &str, value: &str, duration: &str) -> (String, String, String, String) {
    (kind.into(), scope.into(), value.into(), duration.into())
}

#[tokio::test]
async fn bouncers_stream_startup_then_deltas_and_look_up_addresses() {
    let l = lapi().await;
    let banned = l
        .decide(DecisionKind::Ban, Scope::Ip, "203.0.113.7", Mode::Enforce)
        .await;
    l.decide(
        DecisionKind::Ban,
        Scope::Range,
        "198.51.100.0/24",
        Mode::Enforce,
    )
    .await;
    l.decide(
        DecisionKind::Captcha,
        Scope::Ip,
        "192.0.2.77",
        Mode::Enforce,
    )
    .await;
    // Neither reaches bouncers: an account decision and a simulated ban.
    l.decide(
        DecisionKind::DisableAccount,
        Scope::User,
        "jdoe",
        Mode::Enforce,
    )
    .await;
    l.decide(DecisionKind::Ban, Scope::Ip, "203.0.113.99", Mode::Simulate)
        .await;
    l.clock.advance(TimeDelta::minutes(2));

    // Keys: none, wrong, and one bouncer's key is not another's.
    for key in [None, Some("nginx-key-0123456789abcdeX")] {
        let (status, body) = l.get("/v1/decisions/stream?startup=true", key).await;
        assert_eq!(
            (status, body),
            (403, serde_json::json!({"message": "access forbidden"}))
        );
    }

    let first = l.stream("?startup=true", NGINX).await;
    assert_eq!(
        side(&first.new),
        [
            row("captcha", "Ip", "192.0.2.77", "3h58m0s"),
            row("ban", "Range", "198.51.100.0/24", "3h58m0s"),
            row("ban", "Ip", "203.0.113.7", "3h58m0s"),
        ]
    );
    assert_eq!(first.deleted, None);
    let raw = l
        .get("/v1/decisions/stream?startup=true", Some(NGINX))
        .await
        .1;
    let one = &raw["new"][0];
    assert_eq!(one["origin"], "cscli");
    assert_eq!(one["until"], "2026-03-14T14:00:00Z");
    assert_eq!(one["simulated"], false);
    assert!(one["id"].as_i64().unwrap() > 0);

    // Nothing changed since: both sides null. (A pull repeats what changed
    // within a minute before the previous pull, so a change stamped before
    // its commit is never missed; a bouncer takes a repeated decision as a
    // refresh.)
    l.clock.advance(TimeDelta::minutes(2));
    let quiet = l.stream("?startup=false", NGINX).await;
    assert_eq!((quiet.new, quiet.deleted), (None, None));

    // A revocation and a new ban are the next delta.
    l.clock.advance(TimeDelta::minutes(1));
    l.responder
        .revoke(
            l.state.store.as_ref(),
            banned.parse().unwrap(),
            "alice",
            "false positive",
            l.clock.now(),
        )
        .await
        .unwrap()
        .unwrap();
    l.decide(DecisionKind::Ban, Scope::Ip, "203.0.113.8", Mode::Enforce)
        .await;
    l.clock.advance(TimeDelta::minutes(2));
    let delta = l.stream("", NGINX).await;
    assert_eq!(
        side(&delta.new),
        [row("ban", "Ip", "203.0.113.8", "3h58m0s")]
    );
    assert_eq!(
        side(&delta.deleted),
        [row("ban", "Ip", "203.0.113.7", "3h53m0s")]
    );

    // Another bouncer's first pull is a full one; `scopes` filters.
    let fw = l.stream("?scopes=range", FIREWALL).await;
    assert_eq!(
        side(&fw.new),
        [row("ban", "Range", "198.51.100.0/24", "3h53m0s")]
    );

    // Expiry reaches bouncers as deletions even before the sweeper runs.
    l.clock.advance(TimeDelta::hours(4));
    let expired = l.stream("", NGINX).await;
    assert_eq!(expired.new, None);
    assert_eq!(
        side(&expired.deleted)
            .iter()
            .map(|r| r.2.as_str())
            .collect::<Vec<_>>(),
        ["192.0.2.77", "198.51.100.0/24", "203.0.113.8"]
    );
}

#[tokio::test]
async fn decisions_by_address_cover_ranges_and_answer_null() {
    let l = lapi().await;
    l.decide(
        DecisionKind::Ban,
        Scope::Range,
        "198.51.100.0/24",
        Mode::Enforce,
    )
    .await;
    l.decide(
        DecisionKind::Captcha,
        Scope::Ip,
        "198.51.100.20",
        Mode::Enforce,
    )
    .await;
    let (status, body) = l.get("/v1/decisions?ip=198.51.100.20", Some(NGINX)).await;
    assert_eq!(status, 200);
    let mut found: Vec<(String, String)> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap().into(),
                d["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("ban".to_owned(), "198.51.100.0/24".to_owned()),
            ("captcha".to_owned(), "198.51.100.20".to_owned())
        ]
    );
    // IPv4-mapped IPv6 is the same address; `type` filters.
    let (_, body) = l
        .get(
            "/v1/decisions?ip=::ffff:198.51.100.20&type=ban",
            Some(NGINX),
        )
        .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["value"], "198.51.100.0/24");
    let (status, body) = l.get("/v1/decisions?ip=203.0.113.1", Some(NGINX)).await;
    assert_eq!((status, body), (200, Value::Null));
    let (status, body) = l.get("/v1/decisions?ip=not-an-ip", Some(NGINX)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "\"not-an-ip\" is not an IP address");
    let (status, _) = l.get("/v1/decisions?ip=198.51.100.20", None).await;
    assert_eq!(status, 403);

    // Regression: `scope` without `value` (and `value` without `scope`)
    // were ignored, answering with every decision; each applies on its own,
    // and a parameter not supported is refused rather than ignored.
    let values = |body: &Value| -> Vec<String> {
        let mut v: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["value"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let (status, body) = l.get("/v1/decisions?scope=Range", Some(NGINX)).await;
    assert_eq!(
        (status, values(&body)),
        (200, vec!["198.51.100.0/24".to_owned()])
    );
    let (status, body) = l
        .get("/v1/decisions?value=198.51.100.20", Some(NGINX))
        .await;
    assert_eq!(
        (status, values(&body)),
        (200, vec!["198.51.100.20".to_owned()])
    );
    let (status, body) = l
        .get("/v1/decisions?scope=ip&value=198.51.100.0/24", Some(NGINX))
        .await;
    assert_eq!((status, body), (200, Value::Null));
    let (status, body) = l.get("/v1/decisions?scope=Planet", Some(NGINX)).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, Value::from("unknown scope \"Planet\""))
    );
    let (status, body) = l.get("/v1/decisions?contains=false", Some(NGINX)).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `contains`"),
        "{body}"
    );
}

/// Regression: bouncers remove by value, so the expiry of a repeat
/// offender's old ban A (streamed as deleted when it lapsed, and again when
/// the sweeper marked it expired, after the new ban B was streamed) lifted
/// B at every bouncer.
#[tokio::test]
async fn an_old_bans_expiry_never_deletes_the_repeat_offenders_new_ban() {
    let l = lapi().await;
    l.decide(DecisionKind::Ban, Scope::Ip, "203.0.113.7", Mode::Enforce)
        .await;
    l.clock.advance(TimeDelta::seconds(1));
    let first = l.stream("?startup=true", NGINX).await;
    assert_eq!(
        side(&first.new),
        [row("ban", "Ip", "203.0.113.7", "3h59m59s")]
    );

    // A lapses (not swept yet) and the offender is banned again: B.
    l.clock.advance(TimeDelta::hours(4));
    l.decide(DecisionKind::Ban, Scope::Ip, "203.0.113.7", Mode::Enforce)
        .await;
    l.clock.advance(TimeDelta::seconds(1));
    let renewed = l.stream("", NGINX).await;
    assert_eq!(
        side(&renewed.new),
        [row("ban", "Ip", "203.0.113.7", "3h59m59s")]
    );
    assert_eq!(renewed.deleted, None);

    // The sweeper marks A expired (its updated_at moves past the pull):
    // still no deletion of the value B bans, only B again, as a refresh.
    l.clock.advance(TimeDelta::seconds(30));
    let expired = l
        .responder
        .sweep(l.state.store.as_ref(), l.clock.now())
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    l.clock.advance(TimeDelta::minutes(2));
    let after_sweep = l.stream("", NGINX).await;
    assert_eq!(after_sweep.deleted, None);
    assert_eq!(
        side(&after_sweep.new),
        [row("ban", "Ip", "203.0.113.7", "3h57m29s")]
    );

    // Once B ends too, the value is deleted.
    l.clock.advance(TimeDelta::hours(4));
    let gone = l.stream("", NGINX).await;
    assert_eq!(gone.new, None);
    assert_eq!(side(&gone.deleted), [row("ban", "Ip", "203.0.113.7", "0s")]);
}

/// Regression: the pull cursor moved on HEAD (axum answers HEAD with the
/// GET handler), was compared with timestamps taken before their commit,
/// and was lost on restart, so revocations and new bans never reached a
/// bouncer.
#[tokio::test]
async fn the_pull_cursor_loses_nothing_to_head_late_commits_or_restarts() {
    let l = lapi().await;
    let x = l
        .decide(DecisionKind::Ban, Scope::Ip, "203.0.113.7", Mode::Enforce)
        .await;
    l.decide(DecisionKind::Ban, Scope::Ip, "203.0.113.8", Mode::Enforce)
        .await;
    l.clock.advance(TimeDelta::minutes(2));
    l.stream("?startup=true", NGINX).await;

    // A revocation, then a HEAD request much later: the next GET still
    // reports the revocation.
    l.clock.advance(TimeDelta::minutes(1));
    l.responder
        .revoke(
            l.state.store.as_ref(),
            x.parse().unwrap(),
            "alice",
            "false positive",
            l.clock.now(),
        )
        .await
        .unwrap()
        .unwrap();
    l.clock.advance(TimeDelta::minutes(5));
    let head = l
        .http
        .head(format!("{}/v1/decisions/stream", l.url))
        .header("X-Api-Key", NGINX)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    l.clock.advance(TimeDelta::minutes(1));
    let after_head = l.stream("?startup=false", NGINX).await;
    assert_eq!(after_head.new, None);
    assert_eq!(
        side(&after_head.deleted),
        [row("ban", "Ip", "203.0.113.7", "3h51m0s")]
    );

    // A ban stamped 5 s before that pull but committed after it.
    let pulled_at = l.clock.now();
    l.decide_at(
        DecisionKind::Ban,
        Scope::Ip,
        "203.0.113.9",
        Mode::Enforce,
        pulled_at - TimeDelta::seconds(5),
    )
    .await;
    l.clock.advance(TimeDelta::seconds(10));
    let late = l.stream("?startup=false", NGINX).await;
    assert_eq!(
        side(&late.new),
        [row("ban", "Ip", "203.0.113.9", "3h59m45s")]
    );

    // Riposte restarts (pull times are lost) after a revocation the
    // bouncer has not pulled yet: its next non-startup pull has every
    // effective decision and the revocation.
    l.clock.advance(TimeDelta::minutes(2));
    let y = l
        .state
        .store
        .list_decisions(&riposte_store::DecisionFilter {
            value: Some("203.0.113.8".into()),
            ..Default::default()
        })
        .await
        .unwrap()[0]
        .id;
    l.responder
        .revoke(l.state.store.as_ref(), y, "alice", "fp", l.clock.now())
        .await
        .unwrap()
        .unwrap();
    let mut state = l.state.clone();
    state.bouncers = Arc::new(riposte_server::Bouncers::new(vec![(
        "nginx".into(),
        NGINX.into(),
    )]));
    let restarted = serve(state, l.clock.clone()).await;
    restarted.clock.advance(TimeDelta::minutes(1));
    let first = restarted.stream("?startup=false", NGINX).await;
    assert_eq!(
        side(&first.new),
        [row("ban", "Ip", "203.0.113.9", "3h56m45s")]
    );
    assert_eq!(
        side(&first.deleted),
        [
            row("ban", "Ip", "203.0.113.7", "3h47m50s"),
            row("ban", "Ip", "203.0.113.8", "3h47m50s"),
        ]
    );
}
