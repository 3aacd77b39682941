//! Durable playbook runs across a crash: `riposte serve` is killed with
//! SIGKILL while a run is in the middle of a step, and the restarted
//! service finishes the run without repeating the side effects that had
//! completed (checked at a real HTTP receiver, by idempotency key).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::Value;

mod common;
use common::*;

/// Each request the receiver got: its path and `Idempotency-Key`.
type Got = Arc<Mutex<Vec<(String, String)>>>;

async fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let record = |path: &'static str, got: Got| {
        post(move |headers: HeaderMap| async move {
            let key = headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            got.lock().unwrap().push((path.to_owned(), key));
            "ok"
        })
    };
    let app = axum::Router::new()
        .route("/first", record("/first", got.clone()))
        .route("/after", record("/after", got.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn count(got: &Got, path: &str) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .count()
}

async fn runs(client: &reqwest::Client, serve: &Serve) -> Vec<Value> {
    let resp = client.get(serve.url("/api/v1/runs")).send().await;
    match resp {
        Ok(r) => r.json::<Vec<Value>>().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

fn step<'a>(run: &'a Value, path: &str) -> Option<&'a Value> {
    run["steps"].as_array()?.iter().find(|s| s["path"] == path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_then_restart_resumes_without_repeating_side_effects() {
    let (url, got) = receiver().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("rules.yaml"),
        "version: 1\nrules:\n  - { id: ssh-fail, title: SSH failure, kind: match, match: { event.dataset: sshd, event.outcome: failure }, group_by: [source.ip], severity: high, confidence: 90 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pb.yaml"),
        format!(
            r#"version: 1
id: notify-slowly
name: Notify, think, notify again
trigger: {{ alert: {{ rules: [ssh-fail] }} }}
steps:
  - id: case
    action: case.attach
    with: {{ key: "ssh:{{{{ alert.group['source.ip'] }}}}", title: "SSH failures" }}
  - id: first
    action: http.request
    with: {{ url: "{url}/first", method: POST, json: {{ ip: "{{{{ alert.group['source.ip'] }}}}" }} }}
  - id: slow
    action: exec
    with: {{ argv: [/usr/bin/sleep, "4"] }}
  - id: after
    action: http.request
    with: {{ url: "{url}/after", method: POST, json: {{ case: "{{{{ steps.case.case_id }}}}" }} }}
"#
        ),
    )
    .unwrap();
    let port = free_port();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\nstore: {}\napi: {{ listen: 127.0.0.1:{port} }}\nrules: [rules.yaml]\nplaybooks: [pb.yaml]\n\
             executor: {{ lease: 2s }}\n\
             actions:\n  http: {{ allow_networks: [127.0.0.1] }}\n  exec: {{ allowed: [/usr/bin/sleep] }}\n",
            sqlite_url(dir)
        ),
    )
    .unwrap();
    let client = client();

    let mut first = Serve::start(&config, port, "first");
    first.wait_up(&client).await;
    post_syslog(&client, &first, &syslog_lines(1, "203.0.113.7", 100)).await;
    // Wait until the run is inside `slow`: `first` delivered, `slow` marked
    // running before its program was started.
    let mut run_id = String::new();
    for _ in 0..POLL_ATTEMPTS {
        first.assert_running("the run to reach its slow step");
        let list = runs(&client, &first).await;
        if let Some(r) = list.first()
            && step(r, "slow").is_some_and(|s| s["status"] == "running")
        {
            run_id = r["id"].as_str().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    assert!(
        !run_id.is_empty(),
        "the run never reached `slow`; stderr:\n{}",
        first.stderr()
    );
    assert_eq!(count(&got, "/first"), 1);
    first.sigkill();

    let mut second = Serve::start(&config, port, "second");
    second.wait_up(&client).await;
    for _ in 0..POLL_ATTEMPTS {
        second.assert_running("the resumed run to finish");
        if count(&got, "/after") > 0 {
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    assert_eq!(count(&got, "/after"), 1, "stderr:\n{}", second.stderr());
    // The step that had completed was not performed again.
    assert_eq!(count(&got, "/first"), 1);
    let keys: Vec<(String, String)> = got.lock().unwrap().clone();
    assert_eq!(
        keys,
        [
            ("/first".to_owned(), format!("{run_id}/first")),
            ("/after".to_owned(), format!("{run_id}/after")),
        ]
    );
    let mut run = Value::Null;
    for _ in 0..POLL_ATTEMPTS {
        let list = runs(&client, &second).await;
        if list.len() == 1 && list[0]["status"] == "succeeded" {
            run = list[0].clone();
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    assert_eq!(run["id"], run_id.as_str(), "exactly the one run, succeeded");
    let attempts = |p: &str| {
        step(&run, p)
            .and_then(|s| s["attempts"].as_u64())
            .unwrap_or(0)
    };
    // `slow` was in flight at the crash: performed again, with the same key.
    assert_eq!(
        (attempts("first"), attempts("slow"), attempts("after")),
        (1, 2, 1)
    );
    let cases: Vec<Value> = client
        .get(second.url("/api/v1/cases"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cases.len(), 1);
}
