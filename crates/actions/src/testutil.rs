//! What the actions' tests share: a step call as the executor makes one,
//! and real HTTP servers on loopback that record what they receive.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod mmdb;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use riposte_model::{Mode, PlaybookRun, RunTrigger, Timestamp, TriggerKind};
use riposte_playbooks::{ActionResult, ActionSpec, Playbook, StepCall, parse_playbook};
use serde_json::Value;

/// A step call's parts, owned, so a test can build a [`StepCall`] (and
/// build it again for a retry: same run, same path, same key).
pub struct Call {
    run: PlaybookRun,
    playbook: Playbook,
    spec: &'static ActionSpec,
    input: Value,
    alert: Value,
    pub mode: Mode,
    pub timeout: Option<Duration>,
}

impl Call {
    /// `input` is checked and normalised by the action's spec, as the
    /// runner does before calling.
    pub fn new(action: &str, input: Value) -> Self {
        let spec = riposte_playbooks::spec::action(action).expect("a known action");
        let input = spec.check(input).expect("inputs that match the spec");
        let playbook = parse_playbook(
            "test.yaml",
            "version: 1\nid: test\nname: Test\ntrigger: { manual: true }\nsteps:\n  - id: step\n    action: case.comment\n    with: { text: x }\n",
        )
        .expect("the test playbook parses");
        let run = PlaybookRun::pending(
            "test",
            1,
            Mode::Enforce,
            RunTrigger {
                kind: TriggerKind::Manual,
                data: Value::Null,
                by: None,
            },
            None,
            Timestamp::default(),
        );
        Self {
            run,
            playbook,
            spec,
            input,
            alert: Value::Null,
            mode: Mode::Enforce,
            timeout: None,
        }
    }

    pub fn key(&self) -> String {
        format!("{}/step", self.run.id)
    }

    pub fn step(&self) -> StepCall<'_> {
        StepCall {
            run: &self.run,
            playbook: &self.playbook,
            step: "step",
            path: "step",
            idempotency_key: self.key(),
            spec: self.spec,
            input: self.input.clone(),
            mode: self.mode,
            timeout: self.timeout,
            alert: &self.alert,
        }
    }
}

/// The output of an action that must have succeeded.
pub fn done(r: Result<ActionResult, String>) -> Value {
    match r {
        Ok(a) => {
            assert!(a.done, "{a:?}");
            a.output
        }
        Err(e) => panic!("the action failed: {e}"),
    }
}

/// The message of an action that must have failed.
pub fn failed(r: Result<ActionResult, String>) -> String {
    match r {
        Ok(a) => panic!("the action succeeded: {a:?}"),
        Err(e) => e,
    }
}

/// Serves `router` on 127.0.0.1 (a free port) until the test ends;
/// returns `http://127.0.0.1:PORT`.
pub async fn local_http(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// One request a test server received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Respond = dyn Fn(usize) -> Response + Send + Sync;

/// A server that answers every request with `respond(n)` (n: how many
/// came before) and keeps what it received.
#[derive(Clone)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Respond>,
}

impl Recorder {
    pub fn new<R: IntoResponse>(respond: impl Fn(usize) -> R + Send + Sync + 'static) -> Self {
        Self {
            seen: Arc::default(),
            respond: Arc::new(move |n| respond(n).into_response()),
        }
    }

    pub async fn serve(&self) -> String {
        let me = self.clone();
        local_http(
            axum::Router::new().fallback(move |req: axum::extract::Request| {
                let me = me.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
                    let n = {
                        let mut seen = me.seen.lock().unwrap();
                        seen.push(Seen {
                            method: parts.method.to_string(),
                            uri: parts.uri.to_string(),
                            headers: parts.headers,
                            body: body.to_vec(),
                        });
                        seen.len() - 1
                    };
                    (me.respond)(n)
                }
            }),
        )
        .await
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}
