#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! `riposte playbook test|run`, `riposte runs` and `riposte approvals`
//! through the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn riposte(args: &[&str]) -> Output {
    riposte_as("alice", args)
}

/// The command line acts as `local:<os user>`: `$USER` is who it is.
fn riposte_as(os_user: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .env("USER", os_user)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn examples() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/playbooks"
    ))
}

#[test]
fn playbook_test_runs_the_documented_cases_and_reports_failures() {
    let pb = examples().join("ssh-contain.yaml");
    let cases = examples().join("ssh-contain.cases.yaml");
    let out = riposte(&[
        "playbook",
        "test",
        pb.to_str().unwrap(),
        "--case",
        cases.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "PASS a foreign brute forcer is banned for an hour, then for a day once alice approves\n\
         PASS nobody answers in 4 hours, so there is no day-long ban\n\
         PASS without geolocation the run goes on\n\
         PASS the ticket is retried while Jira is down\n\
         PASS a low-confidence alert does not start it\n\
         5 passed, 0 failed\n"
    );

    // A wrong expectation fails, saying what differed.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.yaml");
    let text_cases = std::fs::read_to_string(&cases).unwrap().replace(
        "duration: 24h, reason: approved by alice",
        "duration: 48h, reason: approved by alice",
    );
    std::fs::write(&wrong, text_cases).unwrap();
    let out = riposte(&[
        "playbook",
        "test",
        pb.to_str().unwrap(),
        "--case",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("FAIL a foreign brute forcer is banned for an hour, then for a day once alice approves\n  decisions: expected ["),
        "{stdout}"
    );
    assert!(stdout.ends_with("4 passed, 1 failed\n"), "{stdout}");
    assert_eq!(text(&out.stderr), "error: 1 of 5 cases failed\n");

    // A malformed cases file is named.
    std::fs::write(
        &wrong,
        "version: 1\ncases:\n  - { name: x, trigger: {}, expect: {}, colour: red }\n",
    )
    .unwrap();
    let out = riposte(&[
        "playbook",
        "test",
        pb.to_str().unwrap(),
        "--case",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "error: {}: cases[0]: unknown field `colour`",
            wrong.display()
        )),
        "{}",
        text(&out.stderr)
    );
}

const CONTAIN: &str = r#"
version: 1
id: contain
name: Contain an address
trigger: { manual: true }
inputs:
  ip: { type: ip, required: true }
steps:
  - id: ask
    wait_for:
      approval: { prompt: "Ban {{ inputs.ip }}?", approvers: ["local:alice"], timeout: 1h }
  - id: ban
    if: steps.ask.approved
    action: decision
    with: { kind: ban, scope: ip, value: "{{ inputs.ip }}", duration: 2h, reason: "by hand" }
"#;

#[test]
fn a_manual_run_waits_for_an_approval_given_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("contain.yaml"), CONTAIN).unwrap();
    std::fs::write(
        dir.path().join("riposte.yaml"),
        "version: 1\nplaybooks: [contain.yaml]\nenforcers:\n  - { type: file, path: riposte-data/blocklist.txt }\n",
    )
    .unwrap();
    let config = dir.path().join("riposte.yaml");
    let config = config.to_str().unwrap();

    let out = riposte(&[
        "playbook", "run", "-c", config, "contain", "--input", "ip=nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: invalid inputs: input ip: \"nope\" is not of type ip\n"
    );
    let out = riposte(&[
        "playbook",
        "run",
        "-c",
        config,
        "contain",
        "--input",
        "ip=203.0.113.7",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap();
    let run_id = first.split_whitespace().next().unwrap().to_owned();
    assert!(first.contains(" contain "), "{stdout}");
    assert!(first.contains(" waiting "), "{stdout}");
    assert!(stdout.contains("wait_for.approval  waiting"), "{stdout}");
    assert!(
        stdout.contains("pending  contain step ask until "),
        "{stdout}"
    );

    let out = riposte(&["approvals", "list", "-c", config, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["prompt"], "Ban 203.0.113.7?");
    let approval = list[0]["id"].as_str().unwrap();

    let out = riposte_as("bob", &["approvals", "approve", "-c", config, approval]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("error: local:bob may not answer approval {approval} (approvers: local:alice)\n")
    );
    // No --user to answer as someone else.
    let out = riposte(&[
        "approvals",
        "approve",
        "-c",
        config,
        approval,
        "--user",
        "alice",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = riposte(&[
        "approvals",
        "approve",
        "-c",
        config,
        approval,
        "--comment",
        "seen it",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(" approved ") && stdout.contains(" by local:alice: Ban 203.0.113.7?"),
        "{stdout}"
    );
    assert!(
        stdout.lines().nth(1).unwrap().contains(" succeeded "),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("riposte-data/blocklist.txt")).unwrap(),
        "203.0.113.7\n"
    );

    let out = riposte(&["runs", "show", "-c", config, &run_id, "--json"]);
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["trigger"]["by"], "local:alice");
    assert_eq!(run["steps"][0]["output"]["comment"], "seen it");
    assert_eq!(run["approvals"][0]["status"], "approved");
    let out = riposte(&["runs", "list", "-c", config, "--status", "succeeded"]);
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let out = riposte(&["runs", "cancel", "-c", config, &run_id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("error: run {run_id} is already succeeded\n")
    );
}

#[test]
fn replay_shows_what_a_new_playbook_version_changes_on_a_real_corpus() {
    let Some(sshd) = riposte_testkit::corpus("fail2ban/logs/sshd") else {
        return;
    };
    let replay = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/replay"
    ));
    let arg = |name: &str| replay.join(name).to_str().unwrap().to_owned();
    let (rules, v1, v2) = (arg("rules.yaml"), arg("ban-v1.yaml"), arg("ban-v2.yaml"));
    let sshd = sshd.to_str().unwrap();
    let out = riposte(&[
        "replay",
        "--events",
        sshd,
        "--format",
        "syslog",
        "--rules",
        &rules,
        "--playbooks",
        &v2,
        "--baseline",
        &v1,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Replayed 417 records from 1 file(s): 155 events, 193 dead-lettered, 5 alerts, 5 runs (0 failed), 2 refused by the safety rails\n\
         Would decide (2):\n  \
         ban ip 192.0.2.1 for 4h — rule ssh-failures, playbook ssh-ban step block\n  \
         ban ip 192.0.2.111 for 4h — rule ssh-failures, playbook ssh-ban step block\n\
         Against the baseline: 0 new, 1 removed, 2 changed\n  \
         - ban ip aaaa:bbbb:cccc:1234::1:1 for 1h — rule ssh-failures, playbook ssh-ban step block\n  \
         ~ ban ip 192.0.2.1: for 1h by step block -> for 4h by step block\n  \
         ~ ban ip 192.0.2.111: for 1h by step block -> for 4h by step block\n\
         By rule (baseline -> candidate):\n  \
         ssh-failures: 3 -> 2\n"
    );
    let out = riposte(&[
        "replay",
        "--events",
        sshd,
        "--format",
        "syslog",
        "--rules",
        &rules,
        "--playbooks",
        &v1,
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["candidate"]["alerts"], 5);
    assert!(report.get("diff").is_none());
    let mut values: Vec<&str> = report["candidate"]["decisions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v[0]["value"].as_str().unwrap())
        .collect();
    values.sort();
    assert_eq!(
        values,
        ["192.0.2.1", "192.0.2.111", "aaaa:bbbb:cccc:1234::1:1"]
    );
}

const ANNOUNCE: &str = r#"
version: 1
id: announce
name: Ask, then announce in chat
trigger: { manual: true }
steps:
  - id: ask
    wait_for:
      approval: { prompt: "Announce?", timeout: 1h }
  - id: chat
    if: steps.ask.approved
    action: notify.slack
    with: { url: "{{ secrets.slack_webhook }}", text: "announced" }
"#;

/// Reading never needs secrets: `runs list`, `runs show` and `approvals
/// list` open the store only, so a shell without the playbooks' secrets
/// (an analyst's, a cron job's) can still look.
#[test]
fn reading_runs_and_approvals_needs_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("announce.yaml"), ANNOUNCE).unwrap();
    std::fs::write(
        dir.path().join("riposte.yaml"),
        "version: 1\nplaybooks: [announce.yaml]\n",
    )
    .unwrap();
    let config = dir.path().join("riposte.yaml");
    let config = config.to_str().unwrap();
    let with_secret = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["playbook", "run", "-c", config, "announce"])
        .env("USER", "alice")
        .env("RIPOSTE_SECRET_SLACK_WEBHOOK", "http://127.0.0.1:9/hook")
        .output()
        .unwrap();
    assert!(
        with_secret.status.success(),
        "{}",
        text(&with_secret.stderr)
    );
    let run_id = text(&with_secret.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    // Without it, acting on runs is refused, naming the secret…
    let out = riposte(&["runs", "resume", "-c", config]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("secret \"slack_webhook\" is not defined"),
        "{}",
        text(&out.stderr)
    );
    // …and reading works.
    let out = riposte(&["runs", "list", "-c", config]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(
        list.starts_with(&format!("{run_id}  announce             waiting ")),
        "{list}"
    );
    let out = riposte(&["runs", "show", "-c", config, &run_id, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "waiting");
    assert_eq!(run["approvals"][0]["prompt"], "Announce?");
    let out = riposte(&["approvals", "list", "-c", config, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["run"], run_id.as_str());
}
