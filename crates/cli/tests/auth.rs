//! Authentication against the real `riposte serve` with real HTTP clients:
//! the forged browser request of issue #16 refused and banning nothing,
//! keys made with `riposte keys create` accepted, narrowed by role and
//! refused once revoked, and approvals answered as the key's user.
//!
//! Every wait is a bounded poll (see `common`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

mod common;
use common::*;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo");

/// A served site with the demo's SSH rule and playbook (six failures from
/// one address: a ban) and a file blocklist.
fn site(dir: &Path, port: u16) -> std::path::PathBuf {
    std::fs::copy(format!("{DEMO}/rules.yaml"), dir.join("rules.yaml")).unwrap();
    std::fs::create_dir(dir.join("playbooks")).unwrap();
    std::fs::copy(
        format!("{DEMO}/playbooks/ssh-bruteforce.yaml"),
        dir.join("playbooks/ssh-bruteforce.yaml"),
    )
    .unwrap();
    write_config(
        dir,
        port,
        "rules: [rules.yaml]\n\
         playbooks: [playbooks/]\n\
         enforcers: [{ type: file, path: blocklist.txt }]\n",
    )
}

async fn decisions(serve: &Serve) -> Vec<Value> {
    let resp = client()
        .get(serve.url("/api/v1/decisions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Vec<Value>>().await.unwrap()
}

#[tokio::test]
async fn the_forged_browser_post_is_refused_and_bans_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = site(tmp.path(), port);
    let mut serve = Serve::start(&config, port, "serve");
    serve.wait_up(&client()).await;
    let forged = syslog_lines(6, "203.0.113.66", 700).join("\n");
    let url = serve.url("/api/v1/events?format=syslog");

    // What the issue tried: text/plain, a foreign Host and Origin, no key.
    let anonymous = anonymous_client();
    let resp = anonymous
        .post(&url)
        .header("content-type", "text/plain")
        .header("host", format!("evil.example:{port}"))
        .header("origin", "http://evil.example")
        .body(forged.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 421);
    // A page served from the right name (after DNS rebinding to a name the
    // server knows, or a curl by hand) still has no key: 401.
    let resp = anonymous
        .post(&url)
        .header("content-type", "text/plain")
        .body(forged.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"riposte\""
    );
    // Even with a key, the browser-sendable body type and a foreign
    // Origin are refused.
    let intake = client_as(riposte_testkit::identity::INTAKE);
    let resp = intake
        .post(&url)
        .header("content-type", "text/plain")
        .body(forged.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let resp = intake
        .post(&url)
        .header("content-type", "application/x-ndjson")
        .header("origin", "http://evil.example")
        .body(forged.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "a request from origin \"http://evil.example\" may not change anything here"
    );
    let counts = serve.wait_health(&client(), "status", |_| true).await;
    assert_eq!(counts["events"], 0, "nothing was stored: {counts}");
    assert_eq!(decisions(&serve).await, Vec::<Value>::new());

    // The same lines from the log shipper's key, as it sends them: a ban.
    let resp = intake
        .post(&url)
        .header("content-type", "application/x-ndjson")
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.unwrap();
    assert_eq!(
        summary,
        json!({"events": 6, "dead_letters": 0, "ignored": 0, "alerts": 1, "decisions": 1})
    );
    let made = decisions(&serve).await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["value"], "203.0.113.66");
    // The shipper's key reads nothing.
    let resp = intake
        .get(serve.url("/api/v1/decisions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

fn riposte(config: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env("USER", "ops")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "riposte {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const ASK: &str = r#"version: 1
id: ask-first
name: Ask before banning
trigger:
  manual: true
inputs:
  ip: { type: ip, required: true }
steps:
  - id: ask
    wait_for:
      approval: { prompt: "Ban {{ inputs.ip }}?", approvers: [carol], timeout: 1h }
  - id: ban
    if: steps.ask.approved
    action: decision
    with: { kind: ban, scope: ip, value: "{{ inputs.ip }}", duration: 1h, reason: "asked" }
"#;

#[tokio::test]
async fn keys_from_the_cli_work_by_role_and_stop_when_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let config = site(dir, port);
    std::fs::write(dir.join("playbooks/ask.yaml"), ASK).unwrap();
    // The first admin and the people, made against the store before serving.
    riposte(&config, &["users", "add", "carol", "--role", "analyst"]);
    riposte(&config, &["users", "add", "dave", "--role", "analyst"]);
    riposte(&config, &["users", "add", "vic", "--role", "viewer"]);
    let key = |user: &str| {
        riposte(
            &config,
            &["keys", "create", "--user", user, "--name", "laptop"],
        )
        .trim()
        .to_owned()
    };
    let (carol, dave, vic) = (key("carol"), key("dave"), key("vic"));
    let mut serve = Serve::start(&config, port, "serve");
    serve.wait_up(&client()).await;

    let resp = client_as(&vic)
        .get(serve.url("/api/v1/alerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client_as(&vic)
        .post(serve.url("/api/v1/playbooks/ask-first/runs"))
        .json(&json!({"inputs": {"ip": "198.51.100.77"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "vic (viewer) lacks permission runs:write"
    );
    let resp = client()
        .post(serve.url("/api/v1/playbooks/ask-first/runs"))
        .json(&json!({"inputs": {"ip": "198.51.100.77"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);

    // The run waits for carol's answer.
    let mut approval = None;
    for _ in 0..POLL_ATTEMPTS {
        let list: Vec<Value> = client_as(&dave)
            .get(serve.url("/api/v1/approvals?status=pending"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(a) = list.first() {
            approval = Some(a["id"].as_str().unwrap().to_owned());
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    let approval = approval.expect("an approval request");
    let answer = |key: String, body: Value| {
        let url = serve.url(&format!("/api/v1/approvals/{approval}"));
        async move {
            let resp = client_as(&key).post(url).json(&body).send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    // Typing someone else's name does not make you them.
    let (status, body) = answer(dave.clone(), json!({"approve": true, "by": "carol"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = answer(dave.clone(), json!({"approve": true})).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (
            403,
            format!("dave may not answer approval {approval} (approvers: carol)").as_str()
        )
    );
    let (status, body) = answer(carol.clone(), json!({"approve": true, "comment": "ok"})).await;
    assert_eq!((status, body["decided_by"].as_str()), (200, Some("carol")));
    let mut banned = false;
    for _ in 0..POLL_ATTEMPTS {
        if decisions(&serve)
            .await
            .iter()
            .any(|d| d["value"] == "198.51.100.77")
        {
            banned = true;
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    assert!(banned, "the approved ban was made");
    let audit: Vec<Value> = client()
        .get(serve.url("/api/v1/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = audit
        .iter()
        .find(|e| e["action"] == "approval.approve")
        .expect("an approval.approve entry");
    assert_eq!(entry["actor"], json!({"type": "user", "name": "carol"}));
    let carol_id = carol.split('_').nth(1).unwrap();
    assert_eq!(entry["details"]["via"], format!("key:{carol_id}"));

    // Revoked from the command line while serving: refused within the
    // cache's two seconds.
    let listed = riposte(&config, &["keys", "list", "--user", "vic", "--json"]);
    let listed: Vec<Value> = serde_json::from_str(&listed).unwrap();
    let vic_id = listed[0]["id"].as_str().unwrap().to_owned();
    riposte(&config, &["keys", "revoke", &vic_id]);
    let mut refused = false;
    for _ in 0..POLL_ATTEMPTS {
        let resp = client_as(&vic)
            .get(serve.url("/api/v1/alerts"))
            .send()
            .await
            .unwrap();
        if resp.status() == 401 {
            refused = true;
            break;
        }
        assert_eq!(resp.status(), 200);
        tokio::time::sleep(POLL_SLEEP).await;
    }
    assert!(refused, "a revoked key is refused");
}
