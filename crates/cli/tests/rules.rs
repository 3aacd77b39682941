//! `riposte rules lint` and `riposte rules test`: the examples of
//! docs/cli.md, a rejected rule, and the SigmaHQ corpus's load report.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn riposte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn examples() -> PathBuf {
    std::fs::canonicalize(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sigma"
    )))
    .unwrap()
}

#[test]
fn rules_test_prints_every_alert_of_the_documented_example() {
    let ex = examples();
    let out = riposte(&[
        "rules",
        "test",
        ex.join("rules").to_str().unwrap(),
        ex.join("events.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2026-03-14T09:00:05Z medium 5f4a6e1c-7c2b-4e0a-9d3f-2a1b0c9d8e71 Whoami Execution on ws1.example.org\n\
         2026-03-14T09:02:10Z medium 5f4a6e1c-7c2b-4e0a-9d3f-2a1b0c9d8e71 Whoami Execution on ws1.example.org\n\
         2026-03-14T09:03:00Z medium 5f4a6e1c-7c2b-4e0a-9d3f-2a1b0c9d8e71 Whoami Execution on ws1.example.org\n\
         2026-03-14T09:03:00Z high 5f4a6e1c-7c2b-4e0a-9d3f-2a1b0c9d8e72 Repeated whoami on one host: 3 events within 10m for Computer=ws1.example.org\n"
    );
    assert_eq!(
        text(&out.stderr),
        "4 events, 4 alerts from 2 rules\n\
         \x20      3  5f4a6e1c-7c2b-4e0a-9d3f-2a1b0c9d8e71\n\
         \x20      1  5f4a6e1c-7c2b-4e0a-9d3f-2a1b0c9d8e72\n"
    );

    // --json: the alerts as stored, with the rule's metadata.
    let out = riposte(&[
        "rules",
        "test",
        "--json",
        ex.join("rules").to_str().unwrap(),
        ex.join("events.json").to_str().unwrap(),
    ]);
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["rule"]["kind"], "sigma");
    assert_eq!(
        first["rule"]["attack_techniques"],
        serde_json::json!(["T1033"])
    );
    assert_eq!(first["confidence"], 80);
}

#[test]
fn rules_lint_lists_each_rejected_rule_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        examples().join("rules/whoami.yml"),
        dir.path().join("whoami.yml"),
    )
    .unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "title: Bad\nid: bad-1\nlogsource: { product: windows }\n\
         detection:\n  sel:\n    Image|frobnicate: x\n  condition: sel\n",
    )
    .unwrap();
    let out = riposte(&["rules", "lint", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!(
            "rejected: {}: rule bad-1: Unknown modifier 'frobnicate'\n\
             0 native rules; Sigma: 1 of 2 rules loaded (50.00%), 1 rejected, 0 skipped, \
             0 with an unmapped logsource; 0 correlations\n",
            bad.display()
        )
    );
    assert_eq!(text(&out.stderr), "error: 1 rules rejected\n");

    let out = riposte(&["rules", "lint", examples().join("rules").to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "0 native rules; Sigma: 1 of 1 rules loaded (100.00%), 0 rejected, 0 skipped, \
         0 with an unmapped logsource; 1 correlations\n"
    );
}

#[test]
fn rules_lint_reports_the_sigmahq_load_rate() {
    let Some(sigma) = riposte_testkit::corpus("sigma") else {
        return;
    };
    let dirs: Vec<String> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d).display().to_string())
        .collect();
    let mut args = vec!["rules", "lint"];
    args.extend(dirs.iter().map(String::as_str));
    let out = riposte(&args);
    // Two rules use a site-specific `expand` placeholder (crates/sigma/tests/rejected.tsv).
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[..2].iter().all(|l| l.starts_with("rejected: ")
        && l.ends_with("(define it in a mapping file's `placeholders`)")));
    assert_eq!(
        lines[2],
        "0 native rules; Sigma: 3752 of 3754 rules loaded (99.95%), 2 rejected, 0 skipped, \
         905 with an unmapped logsource; 0 correlations"
    );
}
