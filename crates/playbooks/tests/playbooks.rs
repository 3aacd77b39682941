#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{Alert, AlertId, Confidence, RunStatus, Scope, Severity, StepStatus};
use riposte_playbooks::{
    ActionCall, ActionError, ActionHost, ActionResult, Mode, RunContext, parse_playbook,
};
use serde_json::json;

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

fn alert(severity: Severity, confidence: u8) -> Alert {
    let t = Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap();
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

#[derive(Default)]
struct Recorder {
    calls: Vec<(String, ActionCall)>,
    refuse_bans: bool,
}

#[async_trait]
impl ActionHost for Recorder {
    async fn perform(
        &mut self,
        ctx: &RunContext<'_>,
        step: &str,
        call: ActionCall,
    ) -> Result<ActionResult, ActionError> {
        assert_eq!(ctx.playbook.id, "ssh-bruteforce");
        self.calls.push((step.to_owned(), call.clone()));
        Ok(match call {
            ActionCall::CaseAttach { .. } => ActionResult {
                done: true,
                output: json!({"case_id": "c-1"}),
                message: None,
            },
            ActionCall::DecisionBan { .. } if self.refuse_bans => ActionResult {
                done: false,
                output: json!({}),
                message: Some("allowlisted".into()),
            },
            ActionCall::DecisionBan { .. } => ActionResult {
                done: true,
                output: json!({"decision_id": "d-1"}),
                message: None,
            },
        })
    }
}

#[tokio::test]
async fn runs_steps_in_order_with_rendered_inputs_and_previous_outputs() {
    let pb = parse_playbook("pb.yaml", GOOD).unwrap();
    assert_eq!((pb.revision, pb.mode), (3, Mode::Enforce));
    let a = alert(Severity::High, 85);
    assert!(pb.trigger.matches(&a));
    let mut host = Recorder::default();
    let run = pb.run(&a, &mut host, a.created_at).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.playbook_version, 3);
    assert_eq!(
        host.calls,
        vec![
            (
                "case".to_owned(),
                ActionCall::CaseAttach {
                    key: "ssh:203.0.113.7".into(),
                    title: "SSH brute force from 203.0.113.7".into()
                }
            ),
            (
                "block".to_owned(),
                ActionCall::DecisionBan {
                    scope: Scope::Ip,
                    value: "203.0.113.7".into(),
                    duration: TimeDelta::hours(4),
                    reason: "6 failures (case c-1)".into()
                }
            ),
        ]
    );
    assert_eq!(run.steps[1].input["duration"], "4h");
    assert_eq!(run.steps[1].output, json!({"decision_id": "d-1"}));
}

#[tokio::test]
async fn refused_action_is_skipped_not_failed() {
    let pb = parse_playbook("pb.yaml", GOOD).unwrap();
    let a = alert(Severity::High, 85);
    let mut host = Recorder {
        refuse_bans: true,
        ..Default::default()
    };
    let run = pb.run(&a, &mut host, a.created_at).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.steps[1].status, StepStatus::Skipped);
    assert_eq!(run.steps[1].message.as_deref(), Some("allowlisted"));
}

#[test]
fn trigger_filters_on_rule_severity_and_confidence() {
    let pb = parse_playbook("pb.yaml", GOOD).unwrap();
    assert!(!pb.trigger.matches(&alert(Severity::Low, 85)));
    assert!(!pb.trigger.matches(&alert(Severity::High, 60)));
    let mut other = alert(Severity::High, 85);
    other.rule_id = "other".into();
    assert!(!pb.trigger.matches(&other));
}

#[tokio::test]
async fn a_render_error_fails_the_run_at_that_step() {
    let text = GOOD.replace("{{ alert.summary }}", "{{ alert.no_such_field }}");
    let pb = parse_playbook("pb.yaml", &text).unwrap();
    let a = alert(Severity::High, 85);
    let mut host = Recorder::default();
    let run = pb.run(&a, &mut host, a.created_at).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.steps.len(), 2);
    assert_eq!(run.steps[1].status, StepStatus::Failed);
    assert!(
        run.steps[1]
            .message
            .as_deref()
            .unwrap()
            .starts_with("input reason: undefined value")
    );
    assert_eq!(host.calls.len(), 1, "the ban was never attempted");
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
"#;
    let errs = parse_playbook("broken.yaml", text).unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    let expected_prefixes = [
        "broken.yaml: colour: unknown key (valid: version, id, name, description, revision, mode, trigger, steps)",
        "broken.yaml: mode: unknown variant `enforced`, expected one of `simulate`, `shadow`, `enforce`",
        "broken.yaml: trigger.alert.min_severity: unknown severity \"huge\"",
        "broken.yaml: steps[case].action: unknown action \"case.atach\" (valid: case.attach, decision.ban)",
        "broken.yaml: steps[block].with.value: undefined variable \"alret\" (available: alert, playbook, steps)",
        "broken.yaml: steps[block].with.scope: decision.ban takes scope ip or range, not user",
        "broken.yaml: steps[block].with.duration: invalid duration \"4\"",
        "broken.yaml: steps[block]: duplicate step id \"block\"",
        "broken.yaml: steps[block].with: unknown field `extra`",
    ];
    assert_eq!(lines.len(), expected_prefixes.len(), "{lines:#?}");
    for (line, prefix) in lines.iter().zip(expected_prefixes) {
        assert!(
            line.starts_with(prefix),
            "{line:?} does not start with {prefix:?}"
        );
    }
}

#[test]
fn undefined_template_variables_are_rejected_at_load() {
    let text = GOOD.replace("{{ alert.summary }}", "{{ alrt.summary }}");
    let errs = parse_playbook("pb.yaml", &text).unwrap_err();
    assert_eq!(
        errs.to_string(),
        "1 problem:\n  pb.yaml: steps[block].with.reason: undefined variable \"alrt\" (available: alert, playbook, steps)"
    );
}
