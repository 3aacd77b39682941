#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! Playbook runs over the API, in-process: manual and webhook starts, the
//! run timeline, approvals answered over HTTP, cancelling.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use riposte_engine::Executor;
use riposte_playbooks::{NoEffects, PlaybookSet, Secrets, parse_playbook};
use riposte_respond::{Responder, ResponderConfig};
use riposte_server::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;

use riposte_testkit::identity::{ANALYST, RESPONDER, VIEWER};

const PLAYBOOK: &str = r#"
version: 1
id: contain
name: Contain a host
trigger:
  manual: true
  webhook: { secret: edr_hook }
inputs:
  ip: { type: ip, required: true }
steps:
  - id: ask
    wait_for:
      approval: { prompt: "Ban {{ inputs.ip }}?", approvers: [alice], timeout: 30m }
  - id: ban
    if: steps.ask.approved
    action: decision
    with: { kind: ban, scope: ip, value: "{{ inputs.ip }}", duration: 1h, reason: "by hand" }
"#;

async fn state() -> AppState {
    let (base, _clock) = common::state(1 << 20).await;
    let executor = Executor::new(
        base.store.clone(),
        Arc::new(Responder::new(ResponderConfig::default(), Vec::new())),
        PlaybookSet::new(vec![parse_playbook("contain.yaml", PLAYBOOK).unwrap()]),
        Arc::new(NoEffects),
        base.clock.clone(),
    )
    .with_secrets(Secrets::new(BTreeMap::from([(
        "edr_hook".to_owned(),
        "hook-token-0123456789".to_owned(),
    )])));
    AppState {
        executor: Arc::new(executor),
        ..base
    }
}

/// As the fixture admin, unless `req` carries credentials.
async fn call(s: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    call_anon(s, common::as_admin(req)).await
}

async fn call_as(s: &AppState, key: &str, req: Request<Body>) -> (StatusCode, Value) {
    call_anon(s, common::with_key(req, key)).await
}

/// With only the credentials `req` carries.
async fn call_anon(s: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app(s.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_manual_run_waits_for_approval_given_over_http() {
    let s = state().await;
    let (status, body) = call(&s, get("/api/v1/playbooks")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["id"], "contain");
    assert_eq!(body[0]["triggers"]["manual"], true);
    assert_eq!(body[0]["triggers"]["webhook"], true);
    assert_eq!(body[0]["inputs"]["ip"]["type"], "ip");

    let (status, body) = call(
        &s,
        post(
            "/api/v1/playbooks/contain/runs",
            json!({"inputs": {"ip": "nope"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "invalid inputs: input ip: \"nope\" is not of type ip"
    );
    let (status, body) = call(&s, post("/api/v1/playbooks/nope/runs", json!({}))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("no playbook \"nope\" is loaded")
        )
    );

    let (status, body) = call_as(
        &s,
        RESPONDER,
        post(
            "/api/v1/playbooks/contain/runs",
            json!({"inputs": {"ip": "203.0.113.7"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run_id = body["run_id"].as_str().unwrap().to_owned();
    assert_eq!(s.executor.run_due().await.unwrap(), 1);

    let (_, run) = call(&s, get(&format!("/api/v1/runs/{run_id}"))).await;
    assert_eq!(run["status"], "waiting");
    assert_eq!(run["trigger"]["by"], "rick");
    assert_eq!(run["approvals"][0]["prompt"], "Ban 203.0.113.7?");
    let approval = run["approvals"][0]["id"].as_str().unwrap().to_owned();
    let (_, pending) = call(&s, get("/api/v1/approvals?status=pending")).await;
    assert_eq!(pending.as_array().unwrap().len(), 1);

    // A `by` in the body is not how an approver is named any more.
    let (status, body) = call_as(
        &s,
        RESPONDER,
        post(
            &format!("/api/v1/approvals/{approval}"),
            json!({"approve": true, "by": "alice"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `by`"),
        "{body}"
    );
    // Rick may answer approvals, but this one names alice.
    let (status, body) = call_as(
        &s,
        RESPONDER,
        post(
            &format!("/api/v1/approvals/{approval}"),
            json!({"approve": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"],
        format!("rick may not answer approval {approval} (approvers: alice)")
    );
    // A viewer may not answer approvals at all.
    let (status, body) = call_as(
        &s,
        VIEWER,
        post(
            &format!("/api/v1/approvals/{approval}"),
            json!({"approve": true}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some("vera (viewer) lacks permission approvals:answer")
        )
    );
    let (status, body) = call_as(
        &s,
        ANALYST,
        post(
            &format!("/api/v1/approvals/{approval}"),
            json!({"approve": true, "comment": "go"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "approved");
    assert_eq!(body["decided_by"], "alice");
    let (status, _) = call_as(
        &s,
        ANALYST,
        post(
            &format!("/api/v1/approvals/{approval}"),
            json!({"approve": false}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The audit names the key's user and the key it came in by.
    let audit = s.store.list_audit(100).await.unwrap();
    let approved = audit
        .iter()
        .find(|e| e.action == "approval.approve")
        .expect("an approval.approve entry");
    assert_eq!(approved.actor.to_string(), "user:alice");
    assert_eq!(approved.details["via"], "key:7e57000000000002");

    assert_eq!(s.executor.run_due().await.unwrap(), 1);
    let (_, run) = call(&s, get(&format!("/api/v1/runs/{run_id}"))).await;
    assert_eq!(run["status"], "succeeded");
    let steps: Vec<(&str, &str)> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("ask", "succeeded"), ("ban", "succeeded")]);
    let decisions = s.store.effective_decisions(s.clock.now()).await.unwrap();
    assert_eq!(decisions[0].value, "203.0.113.7");

    let (_, list) = call(&s, get("/api/v1/runs?status=succeeded&playbook=contain")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, body) = call(&s, get("/api/v1/runs?status=done")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown run status \"done\"")
    );
}

#[tokio::test]
async fn webhooks_need_the_playbook_secret_and_runs_can_be_cancelled() {
    let s = state().await;
    let hook = |token: Option<&str>, body: &str| {
        let mut r = Request::post("/api/v1/playbooks/contain/webhook")
            .header("content-type", "application/json");
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Body::from(body.to_owned())).unwrap()
    };
    let (status, body) = call_anon(&s, hook(None, "{}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("missing or wrong bearer token")
        )
    );
    let (status, _) = call_anon(&s, hook(Some("hook-token-012345678"), "{}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The same answer for a playbook that does not exist.
    let other = Request::post("/api/v1/playbooks/nope/webhook")
        .header("authorization", "Bearer hook-token-0123456789")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call_anon(&s, other).await.0, StatusCode::UNAUTHORIZED);
    // An analyst's key may not call webhooks (no runs:write).
    assert_eq!(
        call_as(&s, ANALYST, hook(None, "{}")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = call_anon(
        &s,
        hook(
            Some("hook-token-0123456789"),
            "{\"ip\": \"198.51.100.9\", \"host\": \"ws-12\"}",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = body["run_id"].as_str().unwrap().to_owned();
    let (_, run) = call(&s, get(&format!("/api/v1/runs/{id}"))).await;
    assert_eq!(run["trigger"]["kind"], "webhook");
    assert_eq!(run["trigger"]["by"], "webhook:contain");
    assert_eq!(run["trigger"]["data"]["host"], "ws-12");
    assert_eq!(run["status"], "pending");

    // A service user's key scoped to this webhook: this playbook's webhook,
    // and nothing else.
    let admin = riposte_auth::Identity::local("test");
    let now = chrono::Utc::now();
    riposte_auth::manage::add_user(
        s.store.as_ref(),
        &admin,
        "edr",
        riposte_model::Role::Service,
        now,
    )
    .await
    .unwrap();
    let (_, edr_key) = riposte_auth::manage::create_key(
        s.store.as_ref(),
        &riposte_testkit::identity::secret(),
        &admin,
        "edr",
        "hook",
        None,
        Some(riposte_model::KeyScope::Webhook("contain".into())),
        now,
    )
    .await
    .unwrap();
    let (status, body) = call_anon(&s, hook(Some(&edr_key), "{\"ip\": \"198.51.100.10\"}")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, by_key) = call(
        &s,
        get(&format!(
            "/api/v1/runs/{}",
            body["run_id"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(by_key["trigger"]["by"], "edr");
    let cancel_edr = Request::post(format!(
        "/api/v1/runs/{}/cancel",
        by_key["id"].as_str().unwrap()
    ))
    .body(Body::empty())
    .unwrap();
    assert_eq!(call(&s, cancel_edr).await.0, StatusCode::OK);
    let other = Request::post("/api/v1/playbooks/other/webhook")
        .header("authorization", format!("Bearer {edr_key}"))
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (status, body) = call_anon(&s, other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some(
                "edr (service, key scope webhook:contain) may not call the webhook of playbook \"other\""
            )
        )
    );
    let runs = Request::get("/api/v1/runs")
        .header("authorization", format!("Bearer {edr_key}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call_anon(&s, runs).await.0, StatusCode::FORBIDDEN);

    let (status, run) = call(
        &s,
        post(
            &format!("/api/v1/runs/{id}/cancel"),
            json!({"reason": "false alarm"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["message"], "cancelled by root-admin: false alarm");
    assert_eq!(
        s.executor.run_due().await.unwrap(),
        0,
        "a cancelled run never runs"
    );
    let (status, _) = call(
        &s,
        Request::post(format!("/api/v1/runs/{id}/cancel"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}
