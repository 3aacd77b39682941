//! Runs that resume (each round of a test case re-runs the playbook from
//! the top over its saved records, as the executor does after a wait, a
//! deferred action or a crash): what a stop, a deadline, webhook inputs and
//! secrets do then.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use riposte_model::{Mode, PlaybookRun, RunStatus, RunTrigger, StepStatus, TriggerKind};
use riposte_playbooks::mock::MockRuntime;
use riposte_playbooks::testcase::{CaseResult, parse_case_file, run_cases};
use riposte_playbooks::{PlaybookSet, Secrets, parse_playbook, run};

async fn cases(playbooks: &[&str], cases: &str) -> Vec<CaseResult> {
    let list = playbooks
        .iter()
        .map(|t| parse_playbook("t.yaml", t).unwrap_or_else(|p| panic!("{p}")))
        .collect();
    let file = parse_case_file("c.yaml", cases).unwrap();
    run_cases(&PlaybookSet::new(list), &file).await.unwrap()
}

fn only(results: Vec<CaseResult>) -> (Vec<String>, PlaybookRun) {
    let [r] = <[CaseResult; 1]>::try_from(results).unwrap();
    (r.failures, r.run.unwrap())
}

fn statuses(run: &PlaybookRun) -> Vec<(String, StepStatus)> {
    run.steps
        .iter()
        .map(|s| (s.path.clone(), s.status))
        .collect()
}

#[tokio::test]
async fn a_stop_reached_stays_a_stop_when_the_run_resumes() {
    // The on_error step waits, so the run is taken up again from the top:
    // the stop must stop it again, and the ban it guards never happen.
    let pb = r#"
version: 1
id: p
name: p
trigger: { alert: {} }
on_error:
  - id: pause
    wait_for: { duration: 1m }
steps:
  - id: bail
    if: "alert.severity == 'low'"
    stop: { status: failed, reason: "low severity" }
  - id: block
    action: decision.ban
    with: { scope: ip, value: "192.0.2.1", duration: 4h }
"#;
    let (failures, run) = only(
        cases(
            &[pb],
            r#"
version: 1
cases:
  - name: low
    trigger: { alert: { severity: low } }
    expect: { status: failed, decisions: [], performed: [] }
"#,
        )
        .await,
    );
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.message.as_deref(), Some("low severity"));
    assert_eq!(
        statuses(&run),
        vec![
            ("bail".to_owned(), StepStatus::Succeeded),
            ("on_error.pause".to_owned(), StepStatus::Succeeded),
        ]
    );
}

#[tokio::test]
async fn a_run_past_its_timeout_still_runs_its_on_error_steps() {
    let pb = r#"
version: 1
id: p
name: p
timeout: 10m
trigger: { manual: true }
on_error:
  - id: tell
    action: case.create
    with: { title: "failed: {{ error.message }}" }
steps:
  - id: w
    wait_for: { duration: 1h }
"#;
    let (failures, run) = only(
        cases(
            &[pb],
            r#"
version: 1
cases:
  - name: t
    trigger: { manual: {} }
    expect:
      status: failed
      performed: [on_error.tell]
      inputs: { on_error.tell: { title: "failed: run timed out after 10m" } }
"#,
        )
        .await,
    );
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(run.message.as_deref(), Some("run timed out after 10m"));
}

const WEBHOOK: &str = r#"
version: 1
id: p
name: p
trigger: { webhook: { secret: hook } }
inputs:
  ip: { type: ip, required: true }
  reason: { type: string, default: edr }
steps:
  - id: note
    action: case.create
    with: { title: "{{ inputs.ip }} {{ inputs.reason }} {{ trigger.data.vendor }}" }
"#;

#[tokio::test]
async fn webhook_inputs_are_checked_and_defaulted() {
    let results = cases(
        &[WEBHOOK],
        r#"
version: 1
cases:
  - name: good
    trigger: { webhook: { ip: 203.0.113.7, vendor: acme } }
    expect:
      status: succeeded
      inputs: { note: { title: "203.0.113.7 edr acme" } }
  - name: bad
    trigger: { webhook: { ip: "not-an-ip; $(id)" } }
    expect: { status: failed, performed: [] }
"#,
    )
    .await;
    assert_eq!(
        results
            .iter()
            .map(|r| (r.name.as_str(), r.failures.clone()))
            .collect::<Vec<_>>(),
        vec![("good", vec![]), ("bad", vec![])]
    );
    let bad = results[1].run.as_ref().unwrap();
    let message = bad.message.as_deref().unwrap();
    assert!(
        message.starts_with("inputs: input ip: "),
        "unexpected message {message:?}"
    );
}

#[test]
fn webhook_inputs_keep_only_declared_keys() {
    let pb = parse_playbook("t.yaml", WEBHOOK).unwrap();
    let got = pb
        .webhook_inputs(&serde_json::json!({"ip": "192.0.2.9", "vendor": "acme"}))
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(got),
        serde_json::json!({"ip": "192.0.2.9", "reason": "edr"})
    );
    assert_eq!(
        pb.webhook_inputs(&serde_json::json!({"vendor": "acme"}))
            .unwrap_err(),
        vec!["input ip is required".to_owned()]
    );
}

#[tokio::test]
async fn a_called_playbook_reads_its_own_secrets() {
    let caller = r#"
version: 1
id: caller
name: c
trigger: { manual: true }
steps:
  - id: sub
    call: { playbook: callee }
"#;
    let callee = r#"
version: 1
id: callee
name: c
trigger: { manual: true }
steps:
  - id: post
    action: http.request
    with: { url: "https://x.example/", headers: { Authorization: "Bearer {{ secrets.API }}" } }
"#;
    let (failures, run) = only(
        cases(
            &[caller, callee],
            r#"
version: 1
playbook: caller
cases:
  - name: call
    trigger: { manual: {} }
    expect: { status: succeeded, performed: [sub.post] }
"#,
        )
        .await,
    );
    assert_eq!(failures, Vec::<String>::new());
    // What the callee was given is redacted in its record.
    let post = run.step("sub.post").unwrap();
    assert_eq!(
        post.input["headers"]["Authorization"],
        serde_json::json!("Bearer [redacted]")
    );
}

#[tokio::test]
async fn secrets_are_redacted_in_every_form_and_in_the_run_message() {
    let pb = Arc::new(
        parse_playbook(
            "t.yaml",
            r#"
version: 1
id: p
name: p
trigger: { manual: true }
steps:
  - id: get
    action: http.request
    with: { url: "https://api.example/v1?key={{ secrets.API_KEY | urlencode }}" }
  - id: post
    action: http.request
    with: { url: "https://x.example/", headers: "{{ secrets.API_KEY }}" }
"#,
        )
        .unwrap(),
    );
    let now = chrono::Utc::now();
    let secret = "k3y/with+b64=";
    let rt = MockRuntime::new(PlaybookSet::new(vec![(*pb).clone()]), now).with_secrets(
        Secrets::new([("API_KEY".to_owned(), secret.to_owned())].into()),
    );
    let trigger = RunTrigger {
        kind: TriggerKind::Manual,
        data: serde_json::json!({}),
        by: None,
    };
    let r = PlaybookRun::pending("p", 1, Mode::Enforce, trigger, None, now);
    let r = run(pb, r, &rt).await;
    assert_eq!(
        r.step("get").unwrap().input["url"],
        serde_json::json!("https://api.example/v1?key=[redacted]")
    );
    assert_eq!(r.status, RunStatus::Failed);
    let message = r.message.clone().unwrap();
    assert!(message.contains("[redacted]"), "{message}");
    let stored = serde_json::to_string(&r).unwrap();
    for form in [secret, "k3y/with%2Bb64%3D", "k3y%2Fwith%2Bb64%3D"] {
        assert!(!stored.contains(form), "{form} kept in {stored}");
    }
}

#[test]
fn durations_too_long_to_add_to_a_date_are_refused() {
    let err = parse_playbook(
        "t.yaml",
        r#"
version: 1
id: p
name: p
trigger: { manual: true }
steps:
  - id: w
    wait_for: { duration: 99999999d }
"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("duration \"99999999d\" is longer than 36500d"),
        "{err}"
    );
}

fn problems(text: &str) -> Vec<String> {
    parse_playbook("t.yaml", text)
        .unwrap_err()
        .to_string()
        .lines()
        .skip(1)
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn validation_reads_quoted_subscripts() {
    let got = problems(
        r#"
version: 1
id: p
name: p
trigger: { manual: true }
steps:
  - id: early
    action: case.create
    with: { title: "{{ steps['later'].case_id }}" }
  - id: later
    action: case.create
    with: { title: "{{ steps['early'].case_id }}" }
"#,
    );
    assert_eq!(
        got,
        vec![
            "t.yaml: steps[early]: steps.later is not a step that runs before this one (earlier steps: none)",
        ]
    );
}

#[test]
fn validation_sees_a_stop_inside_a_parallel_branch() {
    let got = problems(
        r#"
version: 1
id: p
name: p
trigger: { manual: true }
steps:
  - id: par
    parallel:
      a:
        - id: s
          stop: { status: failed }
      b:
        - id: n
          action: case.create
          with: { title: "x" }
  - id: later
    action: case.create
    with: { title: "y" }
"#,
    );
    assert_eq!(
        got,
        vec![
            "t.yaml: steps[later]: unreachable: it follows step \"par\", which always stops the run"
        ]
    );
}
