#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
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

fn write_config(dir: &Path) -> String {
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        "version: 1\nrespond: { allowlist: [10.0.0.0/8] }\nenforcers: [{ type: file, path: blocklist.txt }]\n",
    )
    .unwrap();
    config.to_str().unwrap().to_owned()
}

#[test]
fn decisions_add_list_delete_keep_the_blocklist_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let blocklist = dir.path().join("blocklist.txt");

    let out = riposte(&[
        "decisions",
        "add",
        "--config",
        &config,
        "--ip",
        "203.0.113.7",
        "--duration",
        "4h",
        "--reason",
        "seen scanning",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let added = text(&out.stdout);
    assert!(
        added.contains(" ban ip 203.0.113.7     active    4h    until "),
        "{added}"
    );
    assert!(
        added.ends_with("100 — seen scanning, user local:alice\n"),
        "{added}"
    );
    let id = added.split_whitespace().next().unwrap().to_owned();
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "203.0.113.7\n"
    );

    let out = riposte(&[
        "decisions",
        "add",
        "--config",
        &config,
        "--range",
        "198.51.100.0/24",
        "--reason",
        "hostile net",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("permanent"));
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "198.51.100.0/24\n203.0.113.7\n"
    );

    let out = riposte(&[
        "decisions",
        "add",
        "--config",
        &config,
        "--ip",
        "10.1.2.3",
        "--duration",
        "1h",
        "--reason",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: refused ban of 10.1.2.3: 10.1.2.3/32 is covered by allowlisted 10.0.0.0/8\n"
    );

    let out = riposte(&["decisions", "list", "--config", &config, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let out = riposte(&[
        "decisions",
        "delete",
        "--config",
        &config,
        &id,
        "--reason",
        "false positive",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(" revoked "));
    assert_eq!(
        std::fs::read_to_string(&blocklist).unwrap(),
        "198.51.100.0/24\n"
    );

    let out = riposte(&[
        "decisions",
        "list",
        "--config",
        &config,
        "--state",
        "revoked",
        "--json",
    ]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["value"], "203.0.113.7");
    assert_eq!(list[0]["state"], "revoked");

    let out = riposte(&["decisions", "delete", "--config", &config, &id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("error: no active decision {id}\n")
    );

    // The audit log names the local identity for both changes.
    let out = riposte(&["audit", "list", "--config", &config, "--json"]);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_people: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["actor"]["type"] == "user")
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["actor"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    for action in ["decision.create", "decision.revoke"] {
        assert!(
            by_people.contains(&(action, "local:alice")),
            "{by_people:?}"
        );
    }
    assert!(
        by_people.iter().all(|(_, name)| *name == "local:alice"),
        "{by_people:?}"
    );
    // `--user` is gone: nobody claims to be someone else from here.
    let out = riposte(&[
        "decisions",
        "delete",
        "--config",
        &config,
        &id,
        "--user",
        "mallory",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_lists_every_problem_in_config_rules_and_playbooks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\nrules:\n  - { id: r1, title: t, kind: threshold, match: { a: b }, group_by: [source.ip], count: 3, window: 1x, severity: high }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pb.yaml"),
        "version: 1\nid: p\nname: P\ntrigger: { alert: { rules: [nope] } }\nsteps:\n  - { id: s, action: decision.ban, with: { scope: ip, value: x, duration: 1h, colour: red } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("riposte.yaml"),
        "version: 1\nrules: [rules.yaml]\nplaybooks: [pb.yaml]\n",
    )
    .unwrap();
    let config = dir.path().join("riposte.yaml");
    let out = riposte(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let rules = dir.path().join("rules.yaml").display().to_string();
    let pb = dir.path().join("pb.yaml").display().to_string();
    assert!(stderr.starts_with("error: 2 problems:\n"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "  {rules}: rules[r1].window: invalid duration \"1x\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "  {pb}: steps[s].with.colour: unknown input of decision.ban (valid: scope, value, duration, reason)"
        )),
        "{stderr}"
    );

    // Fixing the rule exposes the playbook's reference to an unknown rule too.
    std::fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\nrules:\n  - { id: r1, title: t, kind: threshold, match: { a: b }, group_by: [source.ip], count: 3, window: 1m, severity: high }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pb.yaml"),
        "version: 1\nid: p\nname: P\ntrigger: { alert: { rules: [nope] } }\nsteps:\n  - { id: s, action: decision.ban, with: { scope: ip, value: x, duration: 1h } }\n",
    )
    .unwrap();
    let out = riposte(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: 1 problem:\n  {pb}: trigger.alert.rules: unknown rule \"nope\" (loaded rules: r1)\n"
        )
    );

    std::fs::write(
        dir.path().join("pb.yaml"),
        "version: 1\nid: p\nname: P\ntrigger: { alert: { rules: [r1] } }\nsteps:\n  - { id: s, action: decision.ban, with: { scope: ip, value: x, duration: 1h } }\n",
    )
    .unwrap();
    let out = riposte(&["check", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: ok (1 rules, 0 Sigma rules, 0 Sigma correlations, 1 playbooks, 0 sources, 0 enforcers)\n",
            config.display()
        )
    );

    // A Sigma rule Riposte cannot compile is listed, not fatal; the ones
    // that compile count.
    std::fs::write(
        dir.path().join("riposte.yaml"),
        "version: 1\nrules: [rules.yaml, sigma/]\nplaybooks: [pb.yaml]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sigma")).unwrap();
    let sigma_rule = "title: Whoami\nid: w-1\nlogsource: { product: windows, category: process_creation }\n\
                      detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n";
    std::fs::write(dir.path().join("sigma/ok.yml"), sigma_rule).unwrap();
    std::fs::write(
        dir.path().join("sigma/bad.yml"),
        sigma_rule
            .replace("w-1", "w-2")
            .replace("endswith", "endswithh"),
    )
    .unwrap();
    let out = riposte(&["check", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "Sigma rule not loaded: {}: rule w-2: Unknown modifier 'endswithh'\n\
             {}: ok (1 rules, 1 Sigma rules, 0 Sigma correlations, 1 playbooks, 0 sources, 0 enforcers)\n",
            dir.path().join("sigma/bad.yml").display(),
            config.display()
        )
    );
}

#[test]
fn playbook_validate_accepts_the_examples_and_rejects_mistakes() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo/playbooks");
    let out = riposte(&["playbook", "validate", examples]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "version: 1\nid: p\nname: P\ntrigger: { alert: {} }\nsteps:\n  - { id: a, action: ticket.open }\n  - { id: b, action: case.attach, with: { key: k } }\n").unwrap();
    let out = riposte(&["playbook", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let f = bad.display();
    assert!(
        stderr.contains(&format!("{f}: steps[a].action: unknown action \"ticket.open\" (valid: case.attach, case.create, ")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{f}: steps[b].with.title: missing input of case.attach"
        )),
        "{stderr}"
    );
}

/// Text from logs reaches tables (user names, signatures, reasons); a crafted
/// escape sequence must be shown, not executed by the analyst's terminal.
#[test]
fn tables_escape_control_characters_json_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let reason = "evil\u{1b}[2J\u{7}\rspoof";
    let out = riposte(&[
        "decisions",
        "add",
        "--config",
        &config,
        "--ip",
        "203.0.113.9",
        "--duration",
        "1h",
        "--reason",
        reason,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = riposte(&["decisions", "list", "--config", &config]);
    let table = text(&out.stdout);
    assert!(
        !table.contains('\u{1b}') && !table.contains('\r') && !table.contains('\u{7}'),
        "{table:?}"
    );
    assert!(table.contains("evil\\u{1b}[2J\\u{7}\\rspoof"), "{table:?}");
    let out = riposte(&["decisions", "list", "--config", &config, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["reason"], reason);
}
