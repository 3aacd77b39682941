//! Sigma rules and correlations loaded beside native rules and run by the
//! Detector.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_detect::{Detector, load_rules};
use riposte_model::{Event, Severity, Timestamp};

const WHOAMI: &str = r#"title: Whoami Execution
id: 0f1e2d3c-0000-4000-8000-000000000001
name: whoami_exec
status: stable
level: high
tags: [attack.discovery, attack.t1033]
references: [https://example.invalid/whoami]
falsepositives: [Administrators checking their rights]
logsource: { product: windows, category: process_creation }
detection:
  selection:
    Image|endswith: '\whoami.exe'
  condition: selection
"#;

const NATIVE: &str = r#"version: 1
rules:
  - id: sshd-failure
    title: sshd failure
    kind: match
    match: { event.dataset: sshd }
    severity: low
"#;

fn correlation(generate: bool) -> String {
    format!(
        r#"title: Repeated whoami on one host
id: 0f1e2d3c-0000-4000-8000-0000000000c1
level: critical
correlation:
  type: event_count
  rules: [whoami_exec]
  group-by: [Computer]
  timespan: 10m
  condition: {{ gte: 3 }}
  generate: {generate}
"#
    )
}

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
}

fn process(image: &str, host: &str, at: Timestamp) -> Event {
    let mut e = Event::new(at, "windows.sysmon_operational");
    e.set("Channel", "Microsoft-Windows-Sysmon/Operational");
    e.set("EventID", 1i64);
    e.set("Image", image);
    e.set("Computer", host);
    e
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn sigma_rule_beside_native_rules_raises_alerts_with_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "native.yaml", NATIVE);
    std::fs::create_dir(dir.path().join("sigma")).unwrap();
    write(&dir.path().join("sigma"), "whoami.yml", WHOAMI);
    let set = load_rules(&[dir.path()]).unwrap();
    assert_eq!(set.rules.len(), 1);
    assert_eq!(set.sigma.rules.len(), 1);
    let mut ids: Vec<&str> = set.ids().collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["0f1e2d3c-0000-4000-8000-000000000001", "sshd-failure"]
    );

    let mut det = Detector::new(Arc::new(set));
    let t = t0();
    assert!(
        det.process(&process(r"C:\Windows\System32\cmd.exe", "ws1", t), t)
            .is_empty()
    );
    let alerts = det.process(&process(r"C:\Windows\System32\whoami.exe", "ws1", t), t);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.rule_id, "0f1e2d3c-0000-4000-8000-000000000001");
    assert_eq!(a.rule_title, "Whoami Execution");
    assert_eq!(a.summary, "Whoami Execution on ws1");
    assert_eq!(a.severity, Severity::High);
    // stable (80) + high (10): docs/sigma.md's table.
    assert_eq!(a.confidence.get(), 90);
    assert_eq!(a.rule.kind, "sigma");
    assert_eq!(a.rule.status.as_deref(), Some("stable"));
    assert_eq!(a.rule.level.as_deref(), Some("high"));
    assert_eq!(a.rule.tags, ["attack.discovery", "attack.t1033"]);
    assert_eq!(a.rule.attack_tactics, ["TA0007"]);
    assert_eq!(a.rule.attack_techniques, ["T1033"]);
    assert_eq!(a.rule.references, ["https://example.invalid/whoami"]);
    assert_eq!(
        a.rule.falsepositives,
        ["Administrators checking their rights"]
    );
    assert_eq!(det.stats().sigma_matches, 1);
    assert_eq!(det.stats().alerts, 1);

    // A Sigma rule's logsource keeps it away from other events.
    let mut other = process(r"C:\Windows\System32\whoami.exe", "ws1", t);
    other.set("EventID", 3i64);
    assert!(det.process(&other, t).is_empty());
}

#[test]
fn correlation_counts_base_rule_matches_per_group_and_quiets_the_base_rule() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "whoami.yml", WHOAMI);
    write(dir.path(), "corr.yml", &correlation(false));
    let set = load_rules(&[dir.path()]).unwrap();
    assert_eq!(set.sigma.correlations.len(), 1);
    let mut det = Detector::new(Arc::new(set));
    let whoami = r"C:\Windows\System32\whoami.exe";
    let mut raised = Vec::new();
    for (i, host) in ["ws1", "ws2", "ws1", "ws1"].iter().enumerate() {
        let at = t0() + TimeDelta::minutes(i as i64);
        raised.extend(det.process(&process(whoami, host, at), at));
    }
    // generate: false: the base rule raises nothing of its own; the third
    // match on ws1 within 10 minutes completes the correlation.
    assert_eq!(raised.len(), 1, "{raised:?}");
    let a = &raised[0];
    assert_eq!(a.rule_id, "0f1e2d3c-0000-4000-8000-0000000000c1");
    assert_eq!(a.rule.kind, "sigma-correlation");
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.count, 3);
    assert_eq!(a.group.get("Computer").map(String::as_str), Some("ws1"));
    assert_eq!(a.first_seen, t0());
    assert_eq!(a.last_seen, t0() + TimeDelta::minutes(3));
    assert_eq!(a.evidence.len(), 3);
    assert_eq!(
        a.summary,
        "Repeated whoami on one host: 3 events within 10m for Computer=ws1"
    );
}

#[test]
fn generate_true_keeps_the_base_rule_alerting() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "whoami.yml", WHOAMI);
    write(dir.path(), "corr.yml", &correlation(true));
    let mut det = Detector::new(Arc::new(load_rules(&[dir.path()]).unwrap()));
    let whoami = r"C:\Windows\System32\whoami.exe";
    let mut kinds = Vec::new();
    for i in 0..3 {
        let at = t0() + TimeDelta::minutes(i);
        for a in det.process(&process(whoami, "ws1", at), at) {
            kinds.push(a.rule.kind);
        }
    }
    assert_eq!(kinds, ["sigma", "sigma", "sigma", "sigma-correlation"]);
}

#[test]
fn a_sigma_rule_that_cannot_load_is_listed_and_the_rest_still_load() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "whoami.yml", WHOAMI);
    write(
        dir.path(),
        "bad.yml",
        "title: Bad\nid: bad-1\nlogsource: { product: windows }\n\
         detection:\n  sel:\n    Image|frobnicate: x\n  condition: sel\n",
    );
    let set = load_rules(&[dir.path()]).unwrap();
    assert_eq!(set.sigma.rules.len(), 1);
    let rejected: Vec<String> = set
        .sigma
        .report
        .rejected
        .iter()
        .map(|r| format!("{}|{}", r.id.as_deref().unwrap_or("-"), r.file.display()))
        .collect();
    assert_eq!(
        rejected,
        [format!("bad-1|{}", dir.path().join("bad.yml").display())]
    );
}

#[test]
fn ids_must_be_unique_across_native_and_sigma_rules() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "native.yaml",
        &NATIVE.replace("sshd-failure", "0f1e2d3c-0000-4000-8000-000000000001"),
    );
    write(dir.path(), "whoami.yml", WHOAMI);
    let errs = load_rules(&[dir.path()]).unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [format!(
            "{}: rule 0f1e2d3c-0000-4000-8000-000000000001: duplicate rule id",
            dir.path().join("whoami.yml").display()
        )]
    );
}

#[test]
fn a_correlation_of_an_unknown_type_is_rejected_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "whoami.yml", WHOAMI);
    write(
        dir.path(),
        "corr.yml",
        &correlation(false).replace("event_count", "event_tally"),
    );
    let set = load_rules(&[dir.path()]).unwrap();
    assert!(set.sigma.correlations.is_empty());
    let rejected: Vec<String> = set
        .sigma
        .report
        .rejected
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].starts_with(&format!("{}: ", dir.path().join("corr.yml").display()))
            && rejected[0].contains("event_tally"),
        "{}",
        rejected[0]
    );
}
