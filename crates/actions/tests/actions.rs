//! The actions through the playbook runner, as the executor uses them:
//! templates rendered, secrets redacted from records, idempotency keys
//! from the run; and the documentation's examples, which must parse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::HeaderMap;
use riposte_actions::{Actions, ActionsConfig, HttpConfig};
use riposte_model::{
    Approval, Mode, PlaybookRun, RunStatus, RunTrigger, StepStatus, Timestamp, TriggerKind,
};
use riposte_playbooks::{
    Effects, Performed, Playbook, Runtime, Secrets, StepCall, parse_playbook, run,
};
use serde_json::{Value, json};

/// A runtime whose outside and read-only actions are the real ones.
struct Rt {
    actions: Actions,
    secrets: Secrets,
}

#[async_trait]
impl Runtime for Rt {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }

    async fn perform(&self, call: &StepCall<'_>) -> Performed {
        self.actions.perform(call).await
    }

    async fn checkpoint(&self, _run: &PlaybookRun) -> Result<(), String> {
        Ok(())
    }

    fn approval(&self, _path: &str) -> Option<Approval> {
        None
    }

    async fn request_approval(&self, _approval: &Approval) -> Result<(), String> {
        Err("no approvals here".into())
    }

    fn playbook(&self, _id: &str) -> Option<Arc<Playbook>> {
        None
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }
}

type Seen = Arc<Mutex<Vec<(String, HeaderMap, Vec<u8>)>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let s = s.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            s.lock()
                .unwrap()
                .push((parts.uri.to_string(), parts.headers, body.to_vec()));
            axum::Json(json!({"accepted": true}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), seen)
}

const PLAYBOOK: &str = r#"
version: 1
id: enrich-and-tell
name: Enrich and tell
trigger: { manual: true }
steps:
  - id: rdns
    action: enrich.rdns
    with: { ip: 127.0.0.1 }
  - id: post
    action: notify.webhook
    with:
      url: "{{ vars.base }}/hooks/soc"
      secret: "{{ secrets.HOOK_SECRET }}"
      json: { host: "{{ steps.rdns.hostname }}", confirmed: "{{ steps.rdns.confirmed }}" }
  - id: api
    action: http.request
    with:
      method: POST
      url: "{{ vars.base }}/api"
      headers: { Authorization: "Bearer {{ secrets.API_TOKEN }}" }
      json: { status: "{{ steps.post.status }}" }
"#;

fn playbook(base: &str, mode: &str) -> Arc<Playbook> {
    let text = PLAYBOOK.replace(
        "trigger:",
        &format!("mode: {mode}\nvars: {{ base: \"{base}\" }}\ntrigger:"),
    );
    Arc::new(parse_playbook("enrich-and-tell.yaml", &text).unwrap())
}

fn rt() -> Rt {
    let config = ActionsConfig {
        http: HttpConfig {
            allow_private: true,
            ..HttpConfig::default()
        },
        ..ActionsConfig::default()
    };
    Rt {
        actions: Actions::new(config).unwrap(),
        secrets: Secrets::new(BTreeMap::from([
            ("HOOK_SECRET".to_owned(), "hook-s3cret-value".to_owned()),
            ("API_TOKEN".to_owned(), "api-t0ken-value".to_owned()),
        ])),
    }
}

fn pending(mode: Mode) -> PlaybookRun {
    PlaybookRun::pending(
        "enrich-and-tell",
        1,
        mode,
        RunTrigger {
            kind: TriggerKind::Manual,
            data: Value::Null,
            by: Some("tester".into()),
        },
        None,
        chrono::Utc::now(),
    )
}

#[tokio::test]
async fn a_run_performs_actions_with_rendered_inputs_keys_and_redacted_records() {
    let (base, seen) = receiver().await;
    let pb = playbook(&base, "enforce");
    let start = pending(Mode::Enforce);
    let id = start.id;
    let done = run(pb, start, &rt()).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:#?}");
    let step = |name: &str| done.steps.iter().find(|s| s.step == name).unwrap();
    assert_eq!(
        step("rdns").output,
        json!({"ip": "127.0.0.1", "hostname": "localhost", "hostnames": ["localhost"], "confirmed": true})
    );
    assert_eq!(step("post").output, json!({"status": 200}));
    assert_eq!(step("api").output["json"], json!({"accepted": true}));
    // Secrets reached the receivers, not the records.
    assert_eq!(step("post").input["secret"], "[redacted]");
    assert_eq!(
        step("api").input["headers"]["Authorization"],
        "Bearer [redacted]"
    );
    let record = serde_json::to_string(&done).unwrap();
    assert!(!record.contains("s3cret") && !record.contains("t0ken"));

    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let (uri, h, body) = &got[0];
    assert_eq!(uri, "/hooks/soc");
    assert_eq!(
        serde_json::from_slice::<Value>(body).unwrap(),
        json!({"host": "localhost", "confirmed": true})
    );
    assert_eq!(h["idempotency-key"].to_str().unwrap(), format!("{id}/post"));
    let ts = h["x-riposte-timestamp"].to_str().unwrap();
    assert_eq!(
        h["x-riposte-signature"].to_str().unwrap(),
        riposte_respond::signature(b"hook-s3cret-value", ts, body)
    );
    let (uri, h, _) = &got[1];
    assert_eq!(uri, "/api");
    assert_eq!(
        h["authorization"].to_str().unwrap(),
        "Bearer api-t0ken-value"
    );
    assert_eq!(h["idempotency-key"].to_str().unwrap(), format!("{id}/api"));
}

#[tokio::test]
async fn in_simulate_mode_only_reads_happen() {
    let (base, seen) = receiver().await;
    let done = run(playbook(&base, "simulate"), pending(Mode::Simulate), &rt()).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:#?}");
    let status: Vec<(&str, StepStatus)> = done
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.status))
        .collect();
    assert_eq!(
        status,
        [
            ("rdns", StepStatus::Succeeded),
            ("post", StepStatus::Simulated),
            ("api", StepStatus::Simulated),
        ]
    );
    assert!(seen.lock().unwrap().is_empty());
}

/// Every YAML example in docs/actions.md is a whole playbook that loads.
#[test]
fn documented_examples_parse() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/actions.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert_eq!(
        blocks.len(),
        8,
        "one example per action, ticket.* sharing one"
    );
    let mut used = std::collections::BTreeSet::new();
    for (i, b) in blocks.iter().enumerate() {
        let pb = parse_playbook(&format!("docs/actions.md#{i}"), b)
            .unwrap_or_else(|e| panic!("example {i} does not load: {e:?}\n{b}"));
        riposte_playbooks::walk(&pb.steps, &mut |s| {
            if let riposte_playbooks::StepKind::Action { spec, .. } = &s.kind {
                used.insert(spec.name.to_owned());
            }
        });
    }
    for name in [
        "enrich.geoip",
        "enrich.rdns",
        "notify.email",
        "notify.webhook",
        "notify.slack",
        "http.request",
        "ticket.create",
        "ticket.comment",
        "exec",
    ] {
        assert!(used.contains(name), "no example uses {name}");
    }
}
