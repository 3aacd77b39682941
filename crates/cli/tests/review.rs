#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! `riposte review` and `riposte breaker` on decisions the demo's playbooks
//! made through `riposte ingest`.

use std::path::Path;
use std::process::{Command, Output};

fn riposte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .env("USER", "alice")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The demo's configuration, rules and playbooks in a fresh directory, with
/// `extra` appended to the `respond:` section.
fn demo(extra: &str) -> tempfile::TempDir {
    demo_with(extra, "")
}

/// `demo`, with `top` appended to the configuration as top-level keys.
fn demo_with(extra: &str, top: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo");
    std::fs::create_dir_all(dir.path().join("playbooks")).unwrap();
    for f in [
        "auth.log",
        "eve.json",
        "rules.yaml",
        "playbooks/ssh-bruteforce.yaml",
        "playbooks/suricata-high.yaml",
    ] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let config = std::fs::read_to_string(src.join("riposte.yaml"))
        .unwrap()
        .replace(
            "  sweep_interval: 10s\n",
            &format!("  sweep_interval: 10s\n{extra}"),
        )
        + top;
    std::fs::write(dir.path().join("riposte.yaml"), config).unwrap();
    let d = dir.path();
    let out = riposte(&[
        "ingest",
        "-c",
        d.join("riposte.yaml").to_str().unwrap(),
        d.join("auth.log").to_str().unwrap(),
        d.join("eve.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn review_list_revert_extend_and_digest() {
    let dir = demo("");
    let config = dir.path().join("riposte.yaml");
    let config = config.to_str().unwrap();
    let queue = json(&riposte(&["review", "list", "-c", config, "--json"]));
    let values: Vec<(&str, &str, &str)> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["decision"]["value"].as_str().unwrap(),
                i["decision"]["origin"]["rule"].as_str().unwrap(),
                i["alert"]["rule_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            ("203.0.113.7", "ssh-bruteforce", "ssh-bruteforce"),
            ("198.51.100.23", "suricata-alert", "suricata-alert")
        ]
    );
    let ssh = queue[0]["decision"]["id"].as_str().unwrap().to_owned();
    let eve = queue[1]["decision"]["id"].as_str().unwrap().to_owned();
    let table = text(&riposte(&["review", "list", "-c", config]).stdout);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(
        table.contains("[alert ssh-bruteforce: "),
        "the alert is shown beside the decision: {table}"
    );

    let out = riposte(&[
        "review",
        "revert",
        "-c",
        config,
        &ssh,
        "--note",
        "our bastion",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(" revoked "),
        "{}",
        text(&out.stdout)
    );
    let blocklist = dir.path().join("riposte-data/blocklist.txt");
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "198.51.100.23\n"
    );
    let out = riposte(&["review", "extend", "-c", config, &eve, "--by", "1d"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        json(&riposte(&["review", "list", "-c", config, "--json"])),
        serde_json::json!([])
    );
    let out = riposte(&["review", "approve", "-c", config, &ssh]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: invalid decision: decision {ssh} is revoked; only active or pending decisions can be reviewed\n"
        )
    );

    let digest = json(&riposte(&[
        "review", "digest", "-c", config, "--since", "3650d", "--format", "json",
    ]));
    assert_eq!(digest["decided"].as_array().unwrap().len(), 2);
    assert_eq!(digest["reverted"][0]["id"], ssh.as_str());
    // The command line acts as `local:<os user>` (no --user to claim
    // someone else).
    assert_eq!(digest["reverted"][0]["review"]["by"], "local:alice");
    let audit = json(&riposte(&["audit", "list", "-c", config, "--json"]));
    let reviews: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"].as_str().unwrap().starts_with("review."))
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["actor"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reviews,
        [
            ("review.extend", "local:alice"),
            ("review.revert", "local:alice")
        ]
    );
    assert_eq!(
        digest["rules"],
        serde_json::json!({
            "ssh-bruteforce": {"decided": 1, "reviewed": 1, "reverted": 1, "false_positive_rate": 1.0},
            "suricata-alert": {"decided": 1, "reviewed": 1, "reverted": 0, "false_positive_rate": 0.0},
        })
    );
    let md = text(&riposte(&["review", "digest", "-c", config, "--since", "3650d"]).stdout);
    assert!(
        md.contains("| ssh-bruteforce | 1 | 1 | 1 | 100% |\n| suricata-alert | 1 | 1 | 0 | 0% |\n"),
        "{md}"
    );
    let html = text(
        &riposte(&[
            "review", "digest", "-c", config, "--since", "3650d", "--format", "html",
        ])
        .stdout,
    );
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<td>our bastion</td>"), "{html}");
}

#[test]
fn digest_email_writes_mails_and_audits_the_digest() {
    let sink = riposte_testkit::SmtpSink::start();
    let dir = demo_with(
        "",
        &format!(
            "notify:\n  smtp: {{ host: 127.0.0.1, port: {}, tls: none, from: \"Riposte <riposte@example.org>\" }}\n",
            sink.port()
        ),
    );
    let config = dir.path().join("riposte.yaml");
    let config = config.to_str().unwrap();
    let out = riposte(&[
        "review", "digest", "-c", config, "--since", "3650d", "--email",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: no recipients: give --to ADDRESS or set respond.review.digest.to\n"
    );
    let out = riposte(&[
        "review",
        "digest",
        "-c",
        config,
        "--since",
        "3650d",
        "--email",
        "--to",
        "soc@example.org",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        lines[2],
        "mailed the digest (2 automated decisions) to soc@example.org"
    );
    let md_path = lines[0].strip_prefix("wrote ").unwrap();
    assert!(
        md_path.starts_with(
            dir.path()
                .join("riposte-data/digests/digest-")
                .to_str()
                .unwrap()
        ) && md_path.ends_with("Z.md"),
        "{md_path}"
    );
    let md = std::fs::read_to_string(md_path).unwrap();
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["soc@example.org"]);
    assert_eq!(
        mails[0].body("text/plain").unwrap().replace("\r\n", "\n"),
        md
    );
    assert!(
        md.contains("| ssh-bruteforce | 1 | 0 | 0 | – |\n| suricata-alert | 1 | 0 | 0 | – |\n"),
        "{md}"
    );
    let audit = text(&riposte(&["audit", "list", "-c", config]).stdout);
    assert!(
        audit.contains("digest.deliver") && audit.contains("mailed to soc@example.org"),
        "{audit}"
    );
}

#[test]
fn enforcers_plan_shows_changes_and_reconcile_makes_them() {
    let dir = demo("");
    let config = dir.path().join("riposte.yaml");
    let config = config.to_str().unwrap();
    let blocklist = dir.path().join("riposte-data/blocklist.txt");
    std::fs::write(&blocklist, "192.0.2.99\n203.0.113.7\n").unwrap();
    let out = riposte(&["enforcers", "plan", "-c", config]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "file:{}\n  + 198.51.100.23\n  - 192.0.2.99\n",
            blocklist.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "192.0.2.99\n203.0.113.7\n",
        "plan changes nothing"
    );
    let out = riposte(&["enforcers", "reconcile", "-c", config]);
    assert_eq!(text(&out.stdout), "1 enforcer(s) reconciled\n");
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "198.51.100.23\n203.0.113.7\n"
    );
    let out = riposte(&["enforcers", "plan", "-c", config]);
    assert_eq!(
        text(&out.stdout),
        format!("file:{}\n  (no change)\n", blocklist.display())
    );
}

#[test]
fn the_breaker_trips_holds_and_resets() {
    let dir = demo("  max_per_minute: 1\n");
    let config = dir.path().join("riposte.yaml");
    let config = config.to_str().unwrap();
    let status = text(&riposte(&["breaker", "status", "-c", config]).stdout);
    assert!(
        status.starts_with("tripped at ")
            && status.contains(": 2 automated decisions in the last minute reached the cap of 1"),
        "{status}"
    );
    let alerts = json(&riposte(&["alerts", "list", "-c", config, "--json"]));
    let breaker: Vec<&serde_json::Value> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule_id"] == "riposte.respond.breaker")
        .collect();
    assert_eq!(breaker.len(), 1);
    let held = json(&riposte(&[
        "decisions",
        "list",
        "-c",
        config,
        "--state",
        "pending_approval",
        "--json",
    ]));
    assert_eq!(held.as_array().unwrap().len(), 1);
    assert_eq!(held[0]["value"], "198.51.100.23");
    let blocklist = dir.path().join("riposte-data/blocklist.txt");
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "203.0.113.7\n"
    );

    let id = held[0]["id"].as_str().unwrap();
    let out = riposte(&["review", "approve", "-c", config, id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(" active "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "198.51.100.23\n203.0.113.7\n"
    );

    let out = riposte(&["breaker", "reset", "-c", config]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("reset (it tripped at "));
    assert_eq!(
        text(&riposte(&["breaker", "status", "-c", config]).stdout),
        "not tripped\n"
    );
    let out = riposte(&["breaker", "reset", "-c", config]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: the circuit breaker is not tripped\n"
    );
    // The reset is audited as the local admin.
    let audit = json(&riposte(&["audit", "list", "-c", config, "--json"]));
    let resets: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "breaker.reset")
        .map(|a| &a["actor"])
        .collect();
    assert_eq!(
        resets,
        [&serde_json::json!({"type": "user", "name": "local:alice"})]
    );
}
