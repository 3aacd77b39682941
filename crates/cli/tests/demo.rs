#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! `riposte demo` is the README's first command; its output is exact because
//! the sample is replayed on its own clock.

use std::process::Command;

fn riposte(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn demo_bans_exactly_the_attackers_with_their_expiry_and_never_the_allowlisted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = riposte(&["demo", "--dir", d]);
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();

    for line in [
        "  auth.log  syslog         21 lines: 20 events, 1 dead-lettered",
        "  eve.json  suricata-eve    7 lines: 5 events, 1 ignored, 1 dead-lettered",
        "Alerts (5)",
        "  2026-03-14T09:27:35Z  high   ssh-bruteforce  6 failed SSH logins from 203.0.113.7 within 1m",
        "Decisions (2)",
        "  ban 203.0.113.7 for 4h, until 2026-03-14T13:27:35Z — ssh brute force, 6 failures in 60 s, playbook ssh-bruteforce step block",
        "  ban 198.51.100.23 for 1h, until 2026-03-14T10:25:31Z — ET EXPLOIT Apache log4j RCE Attempt (http uri) (CVE-2021-44228) (198.51.100.23 -> 192.0.2.80), playbook suricata-high step block",
        "  refused ban 10.0.0.5 — 10.0.0.5/32 is covered by allowlisted 10.0.0.0/8 (playbook ssh-bruteforce step block)",
        "  refused ban 192.0.2.10 — 192.0.2.10/32 is covered by allowlisted 192.0.2.10/32 (playbook suricata-high step block)",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing line {line:?} in:\n{stdout}"
        );
    }

    let blocklist = std::fs::read_to_string(dir.path().join("riposte-data/blocklist.txt")).unwrap();
    assert_eq!(blocklist, "198.51.100.23\n203.0.113.7\n");

    // The store agrees with the printout: two decisions, no allowlisted value.
    let config = dir.path().join("riposte.yaml");
    let out = riposte(&[
        "decisions",
        "list",
        "--config",
        config.to_str().unwrap(),
        "--state",
        "all",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decisions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut values: Vec<&str> = decisions
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["value"].as_str().unwrap())
        .collect();
    values.sort();
    assert_eq!(values, ["198.51.100.23", "203.0.113.7"]);
    let ssh = decisions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["value"] == "203.0.113.7")
        .unwrap();
    assert_eq!(ssh["created_at"], "2026-03-14T09:27:35Z");
    assert_eq!(ssh["expires_at"], "2026-03-14T13:27:35Z");
    assert_eq!(ssh["origin"]["playbook"], "ssh-bruteforce");
    assert_eq!(ssh["origin"]["step"], "block");
    assert_eq!(ssh["origin"]["rule"], "ssh-bruteforce");

    // The two undecodable lines are kept with their reason and offset.
    let out = riposte(&[
        "dead-letters",
        "list",
        "--config",
        config.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let letters: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut letters: Vec<(String, u64, String)> = letters
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["source"].as_str().unwrap().to_owned(),
                d["offset"].as_u64().unwrap(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    letters.sort();
    assert_eq!(letters.len(), 2);
    assert_eq!(
        letters[0],
        (
            "auth".to_owned(),
            2043,
            "not a syslog line: expected \"<PRI>\" or a timestamp at the start, found \"--- logrotate marker: this line is not syslog ---\"".to_owned()
        )
    );
    assert_eq!(letters[1].0, "eve");
    assert_eq!(letters[1].1, 2619);
    assert!(
        letters[1]
            .2
            .starts_with("truncated JSON: EOF while parsing an object"),
        "{}",
        letters[1].2
    );

    // Each case groups its alerts; the brute force case holds the ssh alert.
    let out = riposte(&[
        "cases",
        "list",
        "--config",
        config.to_str().unwrap(),
        "--json",
    ]);
    let cases: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut titles: Vec<&str> = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles.len(), 4);
    assert_eq!(titles[2], "SSH brute force from 10.0.0.5");
    assert_eq!(titles[3], "SSH brute force from 203.0.113.7");

    // `cases show` prints the case with its observables and alerts.
    let ssh_case = cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "SSH brute force from 203.0.113.7")
        .unwrap();
    let id = ssh_case["id"].as_str().unwrap();
    let out = riposte(&["cases", "show", "--config", config.to_str().unwrap(), id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], format!("case {id}"));
    assert_eq!(lines[1], "  title:    SSH brute force from 203.0.113.7");
    assert_eq!(lines[2], "  status:   open");
    assert_eq!(lines[3], "  severity: high");
    assert_eq!(lines[4], "  opened:   2026-03-14T09:27:35+00:00");
    assert_eq!(lines[6], "  key:      ssh-bruteforce:203.0.113.7");
    assert!(lines.contains(&"    ip 203.0.113.7 (source.ip)"), "{shown}");
    assert!(lines.contains(&"    user root (user.name)"), "{shown}");
    let alert_line = lines
        .iter()
        .find(|l| l.contains("ssh-bruteforce  "))
        .unwrap();
    assert!(
        alert_line
            .ends_with("high     ssh-bruteforce  6 failed SSH logins from 203.0.113.7 within 1m"),
        "{alert_line}"
    );
    let out = riposte(&[
        "cases",
        "show",
        "--config",
        config.to_str().unwrap(),
        "01a20f80-9c22-73a4-b239-0bd7eb5507c7",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no case 01a20f80-9c22-73a4-b239-0bd7eb5507c7\n"
    );
}
