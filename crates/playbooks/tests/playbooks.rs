#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! The playbook format and its interpreter, through a mocked runtime:
//! order and templates, conditions, loops, parallel branches, approvals,
//! retries, error handling, stops, calls, modes, secrets, and validation
//! that lists every mistake.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{
    Alert, AlertId, ApprovalStatus, Confidence, Mode, PlaybookRun, RunStatus, RunTrigger, Severity,
    StepStatus, Timestamp, TriggerKind,
};
use riposte_playbooks::mock::{MockAnswer, MockResult, MockRuntime};
use riposte_playbooks::{PlaybookSet, Secrets, parse_playbook, run};
use serde_json::{Value, json};

const GOOD: &str = r#"
version: 1
id: ssh-bruteforce
name: Block SSH brute force
revision: 3
trigger:
  alert: { rules: [ssh-bruteforce], min_severity: medium, min_confidence: 70 }
steps:
  - id: case
    action: case.attach
    with:
      key: "ssh:{{ alert.group['source.ip'] }}"
      title: "SSH brute force from {{ alert.group['source.ip'] }}"
  - id: block
    action: decision.ban
    with:
      scope: ip
      value: "{{ alert.group['source.ip'] }}"
      duration: 4h
      reason: "{{ alert.summary }} (case {{ steps.case.case_id }})"
"#;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
}

fn alert(severity: Severity, confidence: u8) -> Alert {
    let t = t0();
    Alert {
        id: AlertId::new(),
        rule_id: "ssh-bruteforce".into(),
        rule_title: "SSH brute force".into(),
        severity,
        confidence: Confidence::new(confidence).unwrap(),
        created_at: t,
        first_seen: t,
        last_seen: t,
        group: BTreeMap::from([("source.ip".to_owned(), "203.0.113.7".to_owned())]),
        summary: "6 failures".into(),
        count: 6,
        observables: vec![],
        evidence: vec![],
        rule: Default::default(),
    }
}

fn new_run(pb: &riposte_playbooks::Playbook, kind: TriggerKind, data: Value) -> PlaybookRun {
    PlaybookRun::pending(
        &pb.id,
        pb.revision,
        pb.mode,
        RunTrigger {
            kind,
            data,
            by: None,
        },
        None,
        t0(),
    )
}

fn alert_run(pb: &riposte_playbooks::Playbook) -> PlaybookRun {
    new_run(
        pb,
        TriggerKind::Alert,
        serde_json::to_value(alert(Severity::High, 85)).unwrap(),
    )
}

fn set(texts: &[&str]) -> PlaybookSet {
    PlaybookSet::new(
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                parse_playbook(&format!("pb{i}.yaml"), t).unwrap_or_else(|p| panic!("{p}"))
            })
            .collect(),
    )
}

fn results(pairs: &[(&str, MockResult)]) -> BTreeMap<String, MockResult> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn output(v: Value) -> MockResult {
    MockResult {
        output: Some(v),
        fail: None,
        fail_times: None,
        skip: None,
    }
}

fn statuses(run: &PlaybookRun) -> Vec<(String, StepStatus)> {
    run.steps
        .iter()
        .map(|s| (s.key().to_owned(), s.status))
        .collect()
}

#[tokio::test]
async fn runs_steps_in_order_with_rendered_inputs_and_previous_outputs() {
    let set = set(&[GOOD]);
    let pb = set.get("ssh-bruteforce").unwrap();
    assert_eq!((pb.revision, pb.mode), (3, Mode::Enforce));
    let rt = MockRuntime::new(set.clone(), t0()).with_results(results(&[
        ("case", output(json!({"case_id": "c-1"}))),
        ("block", output(json!({"decision_id": "d-1"}))),
    ]));
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.playbook_version, 3);
    let calls: Vec<(String, Value)> = rt.calls().into_iter().map(|c| (c.path, c.input)).collect();
    assert_eq!(
        calls,
        [
            (
                "case".to_owned(),
                json!({"key": "ssh:203.0.113.7", "title": "SSH brute force from 203.0.113.7"})
            ),
            (
                "block".to_owned(),
                json!({"scope": "ip", "value": "203.0.113.7", "duration": "4h",
                       "reason": "6 failures (case c-1)"})
            ),
        ]
    );
    assert_eq!(rt.calls()[1].idempotency_key, format!("{}/block", r.id));
    assert_eq!(r.steps[1].output, json!({"decision_id": "d-1"}));
    // A checkpoint after every step, and a final one.
    assert_eq!(rt.checkpoints().len(), 3);
}

#[tokio::test]
async fn a_refused_action_is_skipped_and_a_render_error_fails_the_run() {
    let set1 = set(&[GOOD]);
    let pb = set1.get("ssh-bruteforce").unwrap();
    let skip = MockResult {
        output: Some(json!({})),
        fail: None,
        fail_times: None,
        skip: Some("allowlisted".into()),
    };
    let rt = MockRuntime::new(set1.clone(), t0()).with_results(results(&[("block", skip)]));
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.steps[1].status, StepStatus::Skipped);
    assert_eq!(r.steps[1].message.as_deref(), Some("allowlisted"));

    let text = GOOD.replace("{{ alert.summary }}", "{{ alert.no_such_field }}");
    let set2 = set(&[&text]);
    let pb = set2.get("ssh-bruteforce").unwrap();
    let rt = MockRuntime::new(set2.clone(), t0());
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(statuses(&r)[1], ("block".to_owned(), StepStatus::Failed));
    assert!(
        r.steps[1]
            .message
            .as_deref()
            .unwrap()
            .starts_with("input reason: undefined value"),
        "{:?}",
        r.steps[1].message
    );
    assert!(
        r.message
            .as_deref()
            .unwrap()
            .starts_with("step block failed: input reason"),
        "{:?}",
        r.message
    );
    assert_eq!(rt.calls().len(), 1, "the ban was never attempted");
}

#[test]
fn triggers_filter_on_rule_severity_confidence_and_where() {
    let pb = parse_playbook("pb.yaml", GOOD).unwrap();
    let t = pb.trigger.alert.as_ref().unwrap();
    assert!(t.matches(&alert(Severity::High, 85)));
    assert!(!t.matches(&alert(Severity::Low, 85)));
    assert!(!t.matches(&alert(Severity::High, 60)));
    let mut other = alert(Severity::High, 85);
    other.rule_id = "other".into();
    assert!(!t.matches(&other));
    let text = GOOD.replace(
        "min_confidence: 70 }",
        "min_confidence: 70, where: \"alert.group['source.ip'] is startingwith('203.')\" }",
    );
    let pb = parse_playbook("pb.yaml", &text).unwrap();
    let t = pb.trigger.alert.as_ref().unwrap();
    assert!(t.matches(&alert(Severity::High, 85)));
    let mut local = alert(Severity::High, 85);
    local.group.insert("source.ip".into(), "10.0.0.5".into());
    assert!(!t.matches(&local));
}

const FLOW: &str = r#"
version: 1
id: flow
name: Flow control
trigger: { alert: {} }
vars: { notify_to: soc@example.org }
steps:
  - id: lookup
    action: enrich.geoip
    with: { ip: "{{ alert.group['source.ip'] }}" }
  - id: foreign
    if: "steps.lookup.country_code != 'FR'"
    action: case.comment
    with: { text: "from {{ steps.lookup.country_code }}" }
  - id: domestic
    if: "steps.lookup.country_code == 'FR'"
    action: case.comment
    with: { text: "domestic" }
  - id: each
    for_each: "alert.observables"
    as: obs
    steps:
      - id: note
        action: case.comment
        with: { text: "{{ loop.index }}: {{ obs.kind }} {{ obs.value }}" }
  - id: fan
    parallel:
      mail:
        - id: send
          action: notify.email
          with: { to: "{{ vars.notify_to }}", subject: "alert", text: "{{ steps.foreign.case_id }}" }
      ticket:
        - id: open
          action: ticket.create
          with: { url: "http://jira.test", project: SOC, summary: "{{ alert.summary }}" }
  - id: done
    action: case.comment
    with: { text: "ticket {{ steps.fan.ticket.open.key }}" }
"#;

#[tokio::test]
async fn conditions_loops_and_parallel_branches() {
    let set = set(&[FLOW]);
    let pb = set.get("flow").unwrap();
    let mut a = alert(Severity::High, 85);
    a.observables = vec![
        riposte_model::Observable::new(riposte_model::ObservableKind::Ip, "203.0.113.7", None),
        riposte_model::Observable::new(riposte_model::ObservableKind::User, "root", None),
    ];
    let r0 = new_run(&pb, TriggerKind::Alert, serde_json::to_value(&a).unwrap());
    let rt = MockRuntime::new(set.clone(), t0()).with_results(results(&[
        ("lookup", output(json!({"country_code": "NL"}))),
        ("foreign", output(json!({"case_id": "c-9"}))),
        ("open", output(json!({"key": "SOC-12"}))),
    ]));
    let r = run(pb.clone(), r0, &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.message);
    assert_eq!(
        statuses(&r),
        [
            ("lookup".to_owned(), StepStatus::Succeeded),
            ("foreign".to_owned(), StepStatus::Succeeded),
            ("domestic".to_owned(), StepStatus::Skipped),
            ("each[0].note".to_owned(), StepStatus::Succeeded),
            ("each[1].note".to_owned(), StepStatus::Succeeded),
            ("each".to_owned(), StepStatus::Succeeded),
            ("fan.mail.send".to_owned(), StepStatus::Succeeded),
            ("fan.ticket.open".to_owned(), StepStatus::Succeeded),
            ("fan".to_owned(), StepStatus::Succeeded),
            ("done".to_owned(), StepStatus::Succeeded),
        ]
    );
    let inputs: BTreeMap<String, Value> =
        rt.calls().into_iter().map(|c| (c.path, c.input)).collect();
    assert_eq!(inputs["each[1].note"], json!({"text": "1: user root"}));
    assert_eq!(
        inputs["fan.mail.send"],
        json!({"to": ["soc@example.org"], "subject": "alert", "text": "c-9"})
    );
    assert_eq!(inputs["done"], json!({"text": "ticket SOC-12"}));
    assert_eq!(
        r.step("domestic").unwrap().message.as_deref(),
        Some("if steps.lookup.country_code == 'FR' was false")
    );
}

const APPROVE: &str = r#"
version: 1
id: approve
name: Ask first
trigger: { alert: {} }
steps:
  - id: ask
    wait_for:
      approval:
        prompt: "Ban {{ alert.group['source.ip'] }} for 24h?"
        approvers: [alice]
        timeout: 1h
        default: reject
  - id: ban
    if: steps.ask.approved
    action: decision
    with: { kind: ban, scope: ip, value: "{{ alert.group['source.ip'] }}", duration: 24h }
"#;

#[tokio::test]
async fn a_run_waits_for_approval_and_resumes_without_repeating_steps() {
    let set = set(&[APPROVE]);
    let pb = set.get("approve").unwrap();
    let rt = MockRuntime::new(set.clone(), t0());
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Waiting);
    assert_eq!(r.next_at, Some(t0() + TimeDelta::hours(1)));
    let a = &rt.approvals()[0];
    assert_eq!(
        (a.prompt.as_str(), a.status, a.approvers.clone()),
        (
            "Ban 203.0.113.7 for 24h?",
            ApprovalStatus::Pending,
            vec!["alice".to_owned()]
        )
    );
    // Resumed before an answer: still waiting, nothing performed.
    let r = run(pb.clone(), r, &rt).await;
    assert_eq!(r.status, RunStatus::Waiting);
    assert!(rt.calls().is_empty());
    rt.set_now(t0() + TimeDelta::minutes(5));
    rt.answer("ask", true, "alice");
    let r = run(pb.clone(), r, &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.step("ask").unwrap().output["approved"], true);
    assert_eq!(r.step("ask").unwrap().output["by"], "alice");
    assert_eq!(rt.calls().len(), 1);
    // Run again: done steps are not performed again.
    let again = run(pb.clone(), r, &rt).await;
    assert_eq!(again.status, RunStatus::Succeeded);
    assert_eq!(rt.calls().len(), 1);
}

#[tokio::test]
async fn an_unanswered_approval_takes_its_default_at_the_deadline() {
    let set = set(&[APPROVE]);
    let pb = set.get("approve").unwrap();
    let rt = MockRuntime::new(set.clone(), t0());
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    rt.set_now(t0() + TimeDelta::hours(1));
    let r = run(pb.clone(), r, &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    let ask = r.step("ask").unwrap();
    assert_eq!(
        (
            ask.output["approved"].clone(),
            ask.output["timed_out"].clone()
        ),
        (json!(false), json!(true))
    );
    assert_eq!(r.step("ban").unwrap().status, StepStatus::Skipped);
    assert_eq!(rt.approvals()[0].status, ApprovalStatus::Expired);
    assert!(rt.calls().is_empty());
}

const RETRY: &str = r#"
version: 1
id: retry
name: Retries and handlers
trigger: { alert: {} }
on_error:
  - id: tell
    action: case.comment
    with: { text: "run failed: {{ error.message }}" }
steps:
  - id: post
    action: http.request
    with: { url: "http://hook.test/x", method: POST, json: { ip: "{{ alert.group['source.ip'] }}" } }
    retry: { attempts: 3, backoff: 10s }
  - id: optional
    action: http.request
    with: { url: "http://flaky.test" }
    on_error: continue
  - id: handled
    action: exec
    with: { argv: [/bin/false] }
    on_error:
      - id: note
        action: case.comment
        with: { text: "{{ error.step }}: {{ error.message }}" }
  - id: fatal
    action: exec
    with: { argv: [/bin/false] }
  - id: never
    action: case.comment
    with: { text: never }
"#;

#[tokio::test]
async fn retries_back_off_then_on_error_decides() {
    let set = set(&[RETRY]);
    let pb = set.get("retry").unwrap();
    let fail = |msg: &str, times: Option<u32>| MockResult {
        output: None,
        fail: Some(msg.into()),
        fail_times: times,
        skip: None,
    };
    let rt = MockRuntime::new(set.clone(), t0()).with_results(results(&[
        ("post", fail("503 Service Unavailable", Some(2))),
        ("optional", fail("connection refused", None)),
        ("handled", fail("exit status 1", None)),
        ("fatal", fail("exit status 2", None)),
    ]));
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Waiting);
    assert_eq!(r.next_at, Some(t0() + TimeDelta::seconds(10)));
    let post = r.step("post").unwrap();
    assert_eq!((post.status, post.attempts), (StepStatus::Waiting, 1));
    rt.set_now(t0() + TimeDelta::seconds(10));
    let r = run(pb.clone(), r, &rt).await;
    assert_eq!(
        r.next_at,
        Some(t0() + TimeDelta::seconds(30)),
        "backoff doubles"
    );
    rt.set_now(t0() + TimeDelta::seconds(30));
    let r = run(pb.clone(), r, &rt).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(
        statuses(&r),
        [
            ("post".to_owned(), StepStatus::Succeeded),
            ("optional".to_owned(), StepStatus::Failed),
            ("handled".to_owned(), StepStatus::Failed),
            ("handled.on_error.note".to_owned(), StepStatus::Succeeded),
            ("fatal".to_owned(), StepStatus::Failed),
            ("on_error.tell".to_owned(), StepStatus::Succeeded),
        ]
    );
    assert_eq!(r.step("post").unwrap().attempts, 3);
    assert_eq!(
        r.message.as_deref(),
        Some("step fatal failed: exit status 2")
    );
    let inputs: BTreeMap<String, Value> =
        rt.calls().into_iter().map(|c| (c.path, c.input)).collect();
    assert_eq!(
        inputs["handled.on_error.note"],
        json!({"text": "handled: exit status 1"})
    );
    assert_eq!(
        inputs["on_error.tell"],
        json!({"text": "run failed: step fatal failed: exit status 2"})
    );
    let keys: BTreeSet<String> = rt
        .calls()
        .iter()
        .filter(|c| c.path == "post")
        .map(|c| c.idempotency_key.clone())
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "every attempt carries the same idempotency key"
    );
}

const CALLER: &str = r#"
version: 1
id: caller
name: Caller
trigger: { manual: true }
inputs:
  ip: { type: ip, required: true }
  why: { type: string, default: manual }
steps:
  - id: sub
    call: { playbook: enrich-ip, inputs: { address: "{{ inputs.ip }}" } }
  - id: gate
    if: "steps.sub.geo.country_code == 'NL'"
    stop: { status: succeeded, reason: "dutch: {{ inputs.why }}" }
  - id: after
    action: case.comment
    with: { text: after }
"#;

const CALLEE: &str = r#"
version: 1
id: enrich-ip
name: Enrich an address
trigger: { manual: true }
inputs:
  address: { type: ip, required: true }
steps:
  - id: geo
    action: enrich.geoip
    with: { ip: "{{ inputs.address }}" }
"#;

#[tokio::test]
async fn calls_run_another_playbook_and_stop_ends_the_run() {
    let set = set(&[CALLER, CALLEE]);
    let pb = set.get("caller").unwrap();
    let inputs = pb
        .check_inputs(json!({"ip": "203.0.113.7"}).as_object().unwrap())
        .unwrap();
    assert_eq!(
        Value::Object(inputs.clone()),
        json!({"ip": "203.0.113.7", "why": "manual"})
    );
    let bad = pb
        .check_inputs(json!({"ip": "not-an-ip", "colour": 1}).as_object().unwrap())
        .unwrap_err();
    assert_eq!(
        bad,
        [
            "input ip: \"not-an-ip\" is not of type ip",
            "unknown input \"colour\" (declared: ip, why)",
        ]
    );
    let rt = MockRuntime::new(set.clone(), t0())
        .with_results(results(&[("geo", output(json!({"country_code": "NL"})))]));
    let r = run(
        pb.clone(),
        new_run(&pb, TriggerKind::Manual, Value::Object(inputs)),
        &rt,
    )
    .await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.message.as_deref(), Some("dutch: manual"));
    assert_eq!(
        statuses(&r),
        [
            ("sub.geo".to_owned(), StepStatus::Succeeded),
            ("sub".to_owned(), StepStatus::Succeeded),
            ("gate".to_owned(), StepStatus::Succeeded),
        ]
    );
    assert_eq!(rt.calls()[0].input, json!({"ip": "203.0.113.7"}));
}

#[tokio::test]
async fn simulate_mode_records_outside_actions_without_performing_them() {
    let text = FLOW.replace("name: Flow control", "name: Flow control\nmode: simulate");
    let set = set(&[&text]);
    let pb = set.get("flow").unwrap();
    let rt = MockRuntime::new(set.clone(), t0()).with_results(results(&[
        ("lookup", output(json!({"country_code": "NL"}))),
        ("foreign", output(json!({"case_id": "c-9"}))),
    ]));
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.message);
    // A simulated ticket's output has the real one's keys, so later steps
    // render.
    assert_eq!(
        r.step("done").unwrap().input,
        json!({"text": "ticket SIMULATED-0"})
    );
    let send = r.step("fan.mail.send").unwrap();
    assert_eq!(send.status, StepStatus::Simulated);
    assert_eq!(send.input["to"], json!(["soc@example.org"]));
    assert_eq!(
        send.message.as_deref(),
        Some("simulate mode: recorded, not performed")
    );
    // Enrichment (read-only) and database steps still run; mail and
    // tickets are not performed.
    let performed: Vec<String> = rt.calls().into_iter().map(|c| c.action).collect();
    assert!(!performed.contains(&"notify.email".to_owned()));
    assert!(!performed.contains(&"ticket.create".to_owned()));
    assert!(performed.contains(&"enrich.geoip".to_owned()));
    assert_eq!(r.step("done").unwrap().status, StepStatus::Succeeded);
}

#[tokio::test]
async fn secrets_reach_actions_but_never_the_record() {
    let text = r#"
version: 1
id: jira
name: Ticket
trigger: { alert: {} }
steps:
  - id: open
    action: ticket.create
    with:
      url: http://jira.test
      project: SOC
      summary: "{{ alert.summary }}"
      user: bot
      token: "{{ secrets.jira_token }}"
"#;
    let set = set(&[text]);
    let pb = set.get("jira").unwrap();
    assert_eq!(pb.secrets, BTreeSet::from(["jira_token".to_owned()]));
    let secrets = Secrets::new(BTreeMap::from([
        ("jira_token".to_owned(), "tok-0123456789".to_owned()),
        ("unused".to_owned(), "other-secret".to_owned()),
    ]));
    let echo = output(json!({"key": "SOC-1", "echo": "auth tok-0123456789"}));
    let rt = MockRuntime::new(set.clone(), t0())
        .with_secrets(secrets)
        .with_results(results(&[("open", echo)]));
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(rt.calls()[0].input["token"], "tok-0123456789");
    let stored = serde_json::to_string(&r).unwrap();
    assert!(!stored.contains("tok-0123456789"), "{stored}");
    assert_eq!(r.steps[0].input["token"], "[redacted]");
    assert_eq!(r.steps[0].output["echo"], "auth [redacted]");
}

#[test]
fn every_mistake_is_listed_with_file_and_step() {
    let text = r#"
version: 1
id: broken
name: Broken
mode: enforced
colour: red
trigger:
  alert: { min_severity: huge }
steps:
  - id: case
    action: case.atach
    with: { key: k, title: t }
  - id: block
    action: decision.ban
    with: { scope: user, value: "{{ alret.group }}", duration: 4 }
  - id: block
    action: decision.ban
    with: { scope: ip, value: "x", duration: 1h, extra: 1 }
  - id: early
    action: case.comment
    with: { text: "{{ steps.later.x }}" }
  - id: end
    stop: { status: failed }
  - id: later
    action: exec
    with: { argv: "rm -rf /" }
"#;
    let errs = parse_playbook("broken.yaml", text).unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    let expected = [
        "broken.yaml: colour: unknown key (valid: version, id, name, description, revision, mode, trigger, inputs, vars, concurrency, timeout, steps, on_error)",
        "broken.yaml: mode: unknown variant `enforced`, expected one of `simulate`, `shadow`, `enforce`",
        "broken.yaml: trigger.alert.min_severity: unknown severity \"huge\"",
        "broken.yaml: steps[case].action: unknown action \"case.atach\" (valid: case.attach, case.create, case.update, case.comment, case.assign, escalate, decision, decision.ban, enrich.geoip, enrich.intel, enrich.rdns, notify.email, notify.webhook, notify.slack, http.request, ticket.create, ticket.comment, exec)",
        "broken.yaml: steps[block].with.scope: \"user\" is not one of ip, range",
        "broken.yaml: steps[block].with.duration: invalid duration \"4\"",
        "broken.yaml: steps[block]: duplicate step id \"block\"",
        "broken.yaml: steps[block].with.extra: unknown input of decision.ban (valid: scope, value, duration, reason)",
        "broken.yaml: steps[later]: unreachable: it follows step \"end\", which always stops the run",
        "broken.yaml: steps[later].with.argv: must be a list: the program, then each argument (no shell runs it)",
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, prefix) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(prefix),
            "{line:?} does not start with {prefix:?}"
        );
    }
}

#[test]
fn references_are_checked_against_what_runs_before() {
    let text = r#"
version: 1
id: refs
name: References
trigger: { alert: {} }
inputs: { ip: { type: ip } }
vars: { team: soc }
steps:
  - id: early
    action: case.comment
    with: { text: "{{ steps.late.x }} {{ inputs.nope }} {{ vars.team }} {{ vars.none }} {{ alrt }}" }
  - id: late
    for_each: alert.observables
    steps:
      - id: inner
        action: case.comment
        with: { text: "{{ item.value }} {{ steps.early.case_id }}" }
  - id: outside
    action: case.comment
    with: { text: "{{ item }} {{ steps.inner.x }}" }
"#;
    let errs = parse_playbook("refs.yaml", text).unwrap_err();
    assert_eq!(
        errs.to_string(),
        "6 problems:\n  \
         refs.yaml: steps[early]: undefined variable \"alrt\" (available: trigger, inputs, vars, steps, playbook, run, secrets, alert)\n  \
         refs.yaml: steps[early]: inputs.nope is not a declared input\n  \
         refs.yaml: steps[early]: steps.late is not a step that runs before this one (earlier steps: none)\n  \
         refs.yaml: steps[early]: vars.none is not in vars\n  \
         refs.yaml: steps[outside]: undefined variable \"item\" (available: trigger, inputs, vars, steps, playbook, run, secrets, alert)\n  \
         refs.yaml: steps[outside]: steps.inner is not a step that runs before this one (earlier steps: early, late)"
    );
}

#[test]
fn step_shapes_and_call_targets_are_checked() {
    let text = r#"
version: 1
id: shapes
name: Shapes
trigger: { manual: true }
steps:
  - id: both
    action: case.comment
    for_each: "[1]"
    with: { text: x }
  - id: none
    if: "true"
  - id: wait
    wait_for: { approval: { prompt: ok?, timeout: never, default: maybe } }
  - id: retrying
    for_each: "[1]"
    retry: { attempts: 50 }
    steps:
      - id: x
        action: case.comment
        with: { text: x }
  - id: c
    call: { playbook: nowhere }
"#;
    let errs = parse_playbook("s.yaml", text).unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "s.yaml: steps[both]: a step needs exactly one of action, for_each, parallel, wait_for, call, stop; it has action and for_each",
            "s.yaml: steps[none]: a step needs exactly one of action, for_each, parallel, wait_for, call, stop; it has none",
            "s.yaml: steps[wait].wait_for.approval.timeout: invalid duration \"never\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
            "s.yaml: steps[wait].wait_for.approval.default: \"maybe\" is not approve or reject",
            "s.yaml: steps[retrying]: `retry` and `timeout` belong to action steps",
            "s.yaml: steps[retrying].retry.attempts: 50 must be 1-20 (attempts in all, the first included)",
        ]
    );
    // Call targets are checked when playbooks load together.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        CALLER.replace("enrich-ip", "nowhere"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "version: 1\nid: loop\nname: Loop\ntrigger: { manual: true }\nsteps:\n  - { id: again, call: { playbook: loop } }\n",
    )
    .unwrap();
    let errs = riposte_playbooks::load_playbooks(&[dir.path()], None).unwrap_err();
    let text = errs.to_string();
    assert!(
        text.contains(
            "a.yaml: steps[sub].call.playbook: unknown playbook \"nowhere\" (loaded: caller, loop)"
        ),
        "{text}"
    );
    assert!(
        text.contains("b.yaml: steps: playbook \"loop\" calls itself (directly or through others)"),
        "{text}"
    );
}

#[tokio::test]
async fn approvals_answered_by_a_test_case_resume_on_the_next_pass() {
    let set = set(&[APPROVE]);
    let pb = set.get("approve").unwrap();
    let answers = BTreeMap::from([(
        "ask".to_owned(),
        MockAnswer {
            approve: false,
            by: "bob".into(),
            comment: Some("our scanner".into()),
        },
    )]);
    let rt = MockRuntime::new(set.clone(), t0()).with_answers(answers);
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Waiting);
    let r = run(pb.clone(), r, &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.step("ask").unwrap().output["comment"], "our scanner");
    assert_eq!(r.step("ban").unwrap().status, StepStatus::Skipped);
}

#[tokio::test]
async fn escalate_with_notify_is_an_escalation_then_a_mail() {
    let text = r#"
version: 1
id: esc
name: Escalate
trigger: { alert: {} }
steps:
  - id: up
    action: escalate
    with: { case: c-1, assign: level2, severity: critical, notify: { to: [l2@example.org] } }
"#;
    let set = set(&[text]);
    let pb = set.get("esc").unwrap();
    let rt = MockRuntime::new(set.clone(), t0()).with_results(results(&[(
        "up",
        output(json!({"case_id": "c-1", "assignee": "level2", "severity": "critical"})),
    )]));
    let r = run(pb.clone(), alert_run(&pb), &rt).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    let calls: Vec<(String, String, Value)> = rt
        .calls()
        .into_iter()
        .map(|c| (c.path, c.action, c.input))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "up".to_owned(),
                "escalate".to_owned(),
                json!({"case": "c-1", "assign": "level2", "severity": "critical"})
            ),
            (
                "up-notify".to_owned(),
                "notify.email".to_owned(),
                json!({"to": ["l2@example.org"], "subject": "Case c-1 escalated",
                       "text": "Case c-1 was escalated: assigned to level2, severity critical."})
            ),
        ]
    );
    let bad = text.replace("notify: { to: [l2@example.org] }", "notify: { cc: x }");
    let errs = parse_playbook("esc.yaml", &bad).unwrap_err();
    assert_eq!(
        errs.to_string(),
        "1 problem:\n  esc.yaml: steps[up].with.notify: unknown key \"cc\" (valid: to, subject, text)"
    );
}

#[test]
fn approvers_are_user_names_roles_or_the_local_command_line() {
    let text = |approvers: &str| {
        format!(
            "version: 1\nid: ask\nname: Ask\ntrigger: {{ manual: true }}\nsteps:\n  - id: ask\n    wait_for:\n      approval: {{ prompt: \"ok?\", approvers: {approvers}, timeout: 1h }}\n"
        )
    };
    let good = parse_playbook(
        "ask.yaml",
        &text("[alice, \"role:responder\", \"local:root\"]"),
    )
    .unwrap();
    assert_eq!(good.id, "ask");
    let errs = parse_playbook(
        "ask.yaml",
        &text("[\"role:boss\", \"role:service\", \"alice smith\", \"webhook:x\"]"),
    )
    .unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "ask.yaml: steps[ask].wait_for.approval.approvers[0]: unknown role \"boss\""
        ),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "ask.yaml: steps[ask].wait_for.approval.approvers[1]: role:service cannot answer approvals"
    );
    for (line, i) in lines[2..].iter().zip([2, 3]) {
        assert!(
            line.starts_with(&format!(
                "ask.yaml: steps[ask].wait_for.approval.approvers[{i}]: "
            )) && line.ends_with("(expected a user name, role:ROLE or local:OS_USER)"),
            "{line}"
        );
    }
}
