#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! Every ```yaml block in the user manual is loaded by the real parser of
//! its page, so the documentation cannot drift from the code.

use std::path::Path;
use std::time::Duration;

use riposte_engine::listener::{AllowFrom, TcpLimits};

fn yaml_blocks(page: &str) -> Vec<String> {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs")).join(page);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "{page}: unterminated code block");
    blocks
}

#[test]
fn configuration_examples_load() {
    let blocks = yaml_blocks("configuration.md");
    assert_eq!(blocks.len(), 6);
    let mut configs = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        configs.push(
            riposte_service::Config::parse(
                &format!("configuration.md block {}", i + 1),
                b,
                Path::new("/srv"),
            )
            .unwrap_or_else(|p| panic!("{p}")),
        );
    }
    // The rules example: paths resolve against the file's directory.
    assert_eq!(
        configs[4].rules,
        [
            Path::new("/srv/rules/"),
            Path::new("/opt/sigma/rules/windows")
        ]
    );
    assert_eq!(
        configs[4].sigma_mapping.as_deref(),
        Some(Path::new("/srv/sigma-mapping.yml"))
    );
    // The enforcers example: the nftables one with every documented key.
    let enforcers = &configs[2].enforcers;
    assert_eq!(enforcers.len(), 2);
    let riposte_respond::EnforcerConfig::Nftables(nft) = &enforcers[1] else {
        panic!("{enforcers:?}");
    };
    assert_eq!(
        (
            nft.table.as_str(),
            nft.hooks.as_slice(),
            nft.priority,
            nft.timeout,
            nft.dry_run
        ),
        (
            "riposte",
            &[
                riposte_respond::NftHook::Input,
                riposte_respond::NftHook::Forward
            ][..],
            -10,
            std::time::Duration::from_secs(10),
            false
        )
    );
    // The sources example names every source type, and the json mapping is
    // the one the decoder gets.
    let sources = &configs[1].sources;
    let kinds: Vec<&str> = sources.iter().map(|s| s.kind.type_name()).collect();
    assert_eq!(
        kinds,
        [
            "file",
            "file",
            "file",
            "syslog-udp",
            "syslog-tcp",
            "nats",
            "evtx-dir",
            "file"
        ]
    );
    let formats: Vec<&str> = sources.iter().map(|s| s.format.as_str()).collect();
    assert_eq!(
        formats,
        [
            "syslog",
            "suricata-eve",
            "webserver",
            "syslog",
            "cef",
            "zeek",
            "evtx",
            "json"
        ]
    );
    assert_eq!(
        sources[0].kind,
        riposte_service::SourceKind::File {
            path: "/var/log/auth.log".into(),
            read_rotated: true
        }
    );
    assert_eq!(sources[3].name, "syslog-udp:0.0.0.0:5514");
    let net = |n: &str| n.parse::<ipnet::IpNet>().unwrap();
    assert_eq!(
        sources[3].kind,
        riposte_service::SourceKind::SyslogUdp {
            listen: "0.0.0.0:5514".parse().unwrap(),
            allow_from: AllowFrom::new([net("10.20.0.0/16")]),
        }
    );
    assert_eq!(
        sources[4].kind,
        riposte_service::SourceKind::SyslogTcp {
            listen: "0.0.0.0:5514".parse().unwrap(),
            allow_from: AllowFrom::new([net("10.20.0.0/16"), net("192.0.2.7/32")]),
            limits: TcpLimits {
                max_connections: 64,
                idle_timeout: Duration::from_secs(120)
            },
        }
    );
    assert_eq!(sources[5].name, "nats:EVENTS:riposte-zeek");
    let mapping = sources[7].decode.json_mapping.clone().unwrap();
    assert_eq!(mapping.dataset, "app.audit");
    assert_eq!(mapping.timestamp.as_deref(), Some("meta.when"));
    assert_eq!(
        mapping.fields,
        [
            ("source.ip".to_owned(), "client.addr".to_owned()),
            ("user.name".to_owned(), "who".to_owned())
        ]
    );
    // The listeners example: every api key, and a bounded syslog source.
    let api = &configs[5].api;
    assert_eq!(api.listen.to_string(), "0.0.0.0:8443");
    assert_eq!(
        api.tls,
        Some(riposte_service::TlsFiles {
            cert: "/etc/riposte/tls/cert.pem".into(),
            key: "/etc/riposte/tls/key.pem".into()
        })
    );
    assert_eq!(api.hosts, ["riposte.example.org"]);
    assert_eq!(
        api.trusted_proxies,
        ["10.0.0.5/32".parse::<ipnet::IpNet>().unwrap()]
    );
    assert_eq!(
        configs[5].auth.secret_file,
        Path::new("/etc/riposte/auth.secret")
    );
    assert_eq!(
        api.limits,
        riposte_service::http::HttpLimits {
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    );
    assert_eq!(
        configs[5].sources[0].kind,
        riposte_service::SourceKind::SyslogTcp {
            listen: "0.0.0.0:6514".parse().unwrap(),
            allow_from: AllowFrom::new([net("10.20.0.0/16")]),
            limits: TcpLimits {
                max_connections: 128,
                idle_timeout: Duration::from_secs(300)
            },
        }
    );
}

#[test]
fn rule_examples_load() {
    let blocks = yaml_blocks("rules.md");
    assert_eq!(blocks.len(), 5);
    for (i, b) in blocks.iter().enumerate() {
        riposte_detect::parse_rules(&format!("rules.md block {}", i + 1), b)
            .unwrap_or_else(|p| panic!("{p}"));
    }
}

#[test]
fn playbook_examples_validate() {
    let blocks = yaml_blocks("playbooks.md");
    assert_eq!(blocks.len(), 6);
    let mut kinds = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let name = format!("playbooks.md block {}", i + 1);
        if b.contains("\ncases:") {
            kinds.push("cases");
            continue;
        }
        if b.contains("\nsteps:") {
            riposte_playbooks::parse_playbook(&name, b).unwrap_or_else(|p| panic!("{p}"));
            kinds.push("playbook");
        } else {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            let secrets = dir.path().join("secrets.yaml");
            std::fs::write(&secrets, "jira_token: tok-123456\n").unwrap();
            std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
            let text = b.replace("/etc/riposte/secrets.yaml", secrets.to_str().unwrap());
            let config = riposte_service::Config::parse(&name, &text, dir.path())
                .unwrap_or_else(|p| panic!("{p}"));
            assert_eq!(config.secrets.get("jira_token"), Some("tok-123456"));
            assert_eq!(
                (
                    config.executor.workers,
                    config.executor.backlog,
                    config.executor.action_timeout,
                    config.executor.lease
                ),
                (
                    8,
                    10_000,
                    std::time::Duration::from_secs(90),
                    std::time::Duration::from_secs(60)
                )
            );
            kinds.push("config");
        }
    }
    assert_eq!(
        kinds,
        [
            "playbook", "playbook", "playbook", "playbook", "cases", "config"
        ]
    );
}

/// The step examples of playbooks.md run: the contain-host playbook (and
/// the enrich-ip playbook it calls) through every step kind, every action
/// mocked, the approval answered.
#[tokio::test]
async fn the_documented_step_examples_run() {
    use riposte_model::{RunStatus, RunTrigger, StepStatus, TriggerKind};
    use riposte_playbooks::mock::{MockAnswer, MockResult, MockRuntime};
    let blocks = yaml_blocks("playbooks.md");
    let set = riposte_playbooks::PlaybookSet::new(
        blocks
            .iter()
            .filter(|b| b.contains("\nsteps:"))
            .enumerate()
            .map(|(i, b)| riposte_playbooks::parse_playbook(&format!("block {i}"), b).unwrap())
            .collect(),
    );
    let pb = set.get("contain-host").unwrap();
    let t0: riposte_model::Timestamp = "2026-03-14T09:00:00Z".parse().unwrap();
    let alert = serde_json::json!({
        "id": riposte_model::AlertId::new(), "rule_id": "edr-ransomware", "rule_title": "Ransomware",
        "severity": "critical", "confidence": 95, "created_at": t0, "first_seen": t0, "last_seen": t0,
        "group": {"host.name": "ws-12", "host.ip": "10.1.2.3", "source.ip": "203.0.113.7"},
        "summary": "ransomware on ws-12", "count": 1,
        "observables": [{"kind": "ip", "value": "203.0.113.7"}, {"kind": "user", "value": "bob"}],
        "evidence": [],
    });
    let mock = |v: serde_json::Value| MockResult {
        output: Some(v),
        fail: None,
        fail_times: None,
        skip: None,
    };
    let rt = MockRuntime::new(set.clone(), t0)
        .with_results(
            [
                (
                    "case",
                    mock(serde_json::json!({"case_id": "c-1", "created": true})),
                ),
                (
                    "geo",
                    MockResult {
                        output: None,
                        fail: Some("no geoip database configured".into()),
                        fail_times: None,
                        skip: None,
                    },
                ),
                ("open", mock(serde_json::json!({"status": 201}))),
                // By path: the called playbook's own `geo` step works.
                (
                    "recheck.geo",
                    mock(serde_json::json!({"country_code": "NL"})),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        )
        .with_answers(
            [(
                "ask".to_owned(),
                MockAnswer {
                    approve: true,
                    by: "alice".into(),
                    comment: None,
                },
            )]
            .into_iter()
            .collect(),
        );
    let trigger = RunTrigger {
        kind: TriggerKind::Alert,
        data: alert,
        by: None,
    };
    let mut run =
        riposte_model::PlaybookRun::pending(&pb.id, pb.revision, pb.mode, trigger, None, t0);
    for _ in 0..10 {
        run = riposte_playbooks::run(pb.clone(), run, &rt).await;
        if run.status != RunStatus::Waiting {
            break;
        }
        if let Some(at) = run.next_at {
            rt.set_now(at);
        }
    }
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.message);
    let statuses: Vec<(&str, StepStatus)> = run.steps.iter().map(|s| (s.key(), s.status)).collect();
    assert_eq!(
        statuses,
        [
            ("case", StepStatus::Succeeded),
            ("geo", StepStatus::Failed),
            ("each[0].note", StepStatus::Succeeded),
            ("each[1].note", StepStatus::Skipped),
            ("each", StepStatus::Succeeded),
            ("ask", StepStatus::Succeeded),
            ("isolate", StepStatus::Succeeded),
            ("fanout.mail.mail", StepStatus::Succeeded),
            ("fanout.ticket.open", StepStatus::Succeeded),
            ("fanout", StepStatus::Succeeded),
            ("escalate", StepStatus::Skipped),
            ("escalate-notify", StepStatus::Skipped),
            ("later", StepStatus::Succeeded),
            ("recheck.geo", StepStatus::Succeeded),
            ("recheck.intel", StepStatus::Succeeded),
            ("recheck", StepStatus::Succeeded),
        ]
    );
    let isolate = run.step("isolate").unwrap();
    assert_eq!(
        isolate.input,
        serde_json::json!({"kind": "quarantine_host", "scope": "ip", "value": "10.1.2.3", "duration": "4h"})
    );
    assert_eq!(
        run.step("each[0].note").unwrap().input,
        serde_json::json!({"text": "address 0: 203.0.113.7"})
    );
    assert_eq!(
        run.step("recheck.intel").unwrap().input,
        serde_json::json!({"value": "203.0.113.7"})
    );
}

/// The test cases shown in playbooks.md pass against the example playbook
/// they name.
#[tokio::test]
async fn the_documented_test_cases_pass() {
    let block = yaml_blocks("playbooks.md")
        .into_iter()
        .find(|b| b.contains("\ncases:"))
        .unwrap();
    let file = riposte_playbooks::testcase::parse_case_file("playbooks.md", &block).unwrap();
    let examples = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/playbooks"
    ));
    let set = riposte_playbooks::PlaybookSet::new(
        riposte_playbooks::load_playbooks(&[examples.join("ssh-contain.yaml")], None).unwrap(),
    );
    let results = riposte_playbooks::testcase::run_cases(&set, &file)
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    assert!(results[0].passed(), "{:?}", results[0].failures);
}

/// The README's configuration block is examples/demo/riposte.yaml, which a
/// test in engine.rs loads key by key; keep the two identical.
#[test]
fn readme_config_is_the_tested_example() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/demo/riposte.yaml")).unwrap();
    let start = readme.find("```yaml\n").expect("README has a yaml block") + "```yaml\n".len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split(" #").next().unwrap().trim_end().to_owned())
            .filter(|l| !l.trim_start().starts_with('#') && !l.is_empty())
            .collect()
    };
    assert_eq!(strip(block), strip(&example));
}

#[test]
fn active_response_examples_load() {
    use riposte_model::{Confidence, DecisionKind, Mode, Scope};
    let blocks = yaml_blocks("active-response.md");
    assert_eq!(blocks.len(), 5);
    let config =
        riposte_service::Config::parse("active-response.md block 1", &blocks[0], Path::new("/srv"))
            .unwrap_or_else(|p| panic!("{p}"));
    let r = &config.respond;
    let net = |s: &str| s.parse::<ipnet::IpNet>().unwrap();
    assert_eq!(
        r.allowlist.refusal(net("198.51.100.20/32")).as_deref(),
        Some("198.51.100.20/32 is own asset \"mail relays\" (198.51.100.16/28)")
    );
    assert_eq!(
        r.allowlist.refusal(net("192.0.2.254/32")).as_deref(),
        Some("192.0.2.254/32 is a configured gateway (192.0.2.254)")
    );
    assert_eq!(r.allowlist.refusal(net("198.51.100.1/32")), None);
    let esc = r.escalation.as_ref().unwrap();
    assert_eq!(
        (esc.lookback, esc.durations.clone()),
        (
            chrono::TimeDelta::days(7),
            vec![
                chrono::TimeDelta::hours(1),
                chrono::TimeDelta::hours(4),
                chrono::TimeDelta::hours(24)
            ]
        )
    );
    let min = |kind, scope| r.min_confidence.get(kind, scope).map(Confidence::get);
    assert_eq!(min(DecisionKind::Ban, Scope::Ip), Some(70));
    assert_eq!(min(DecisionKind::Ban, Scope::Range), Some(90));
    assert_eq!(min(DecisionKind::DisableAccount, Scope::User), Some(95));
    assert_eq!(min(DecisionKind::Captcha, Scope::Ip), None);
    assert_eq!(
        (r.max_per_minute, r.max_prefix_v4, r.max_prefix_v6, r.mode),
        (60, 24, 48, Mode::Enforce)
    );
    assert_eq!(r.rule_modes["web-scanner"], Mode::Shadow);
    assert_eq!(r.review_max_age, chrono::TimeDelta::hours(24));
    assert_eq!(config.sweep_interval, std::time::Duration::from_secs(30));

    let enforcers =
        riposte_service::Config::parse("active-response.md block 3", &blocks[2], Path::new("/srv"))
            .unwrap_or_else(|p| panic!("{p}"))
            .enforcers;
    assert_eq!(
        enforcers,
        [
            riposte_respond::EnforcerConfig::File {
                path: "/srv/riposte-data/blocklist.txt".into(),
                format: riposte_respond::ListFormat::Plain,
                reload: Vec::new(),
                reload_timeout: std::time::Duration::from_secs(10),
                dry_run: false,
                mode: None,
            },
            riposte_respond::EnforcerConfig::File {
                path: "/etc/nginx/riposte-deny.conf".into(),
                format: riposte_respond::ListFormat::Nginx,
                reload: vec!["nginx".into(), "-s".into(), "reload".into()],
                reload_timeout: std::time::Duration::from_secs(10),
                dry_run: false,
                mode: None,
            },
            riposte_respond::EnforcerConfig::File {
                path: "/etc/haproxy/riposte.map".into(),
                format: riposte_respond::ListFormat::Haproxy,
                reload: vec!["systemctl".into(), "reload".into(), "haproxy".into()],
                reload_timeout: std::time::Duration::from_secs(30),
                dry_run: false,
                mode: Some(riposte_respond::FileMode::parse("0640").unwrap()),
            },
        ]
    );
}

#[test]
fn bouncer_keys_come_from_private_files_or_the_environment() {
    use std::os::unix::fs::PermissionsExt;
    let blocks = yaml_blocks("active-response.md");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("bouncer-nginx.key");
    std::fs::write(&key, "nginx-key-0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The firewall's variable is not set in tests: that is one problem,
    // the readable key file another.
    let problems = riposte_service::Config::parse("b.yaml", &blocks[4], dir.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        format!(
            "2 problems:\n  b.yaml: bouncers[0].key_file: {} is readable by group or others (mode 644); chmod 600 it\n  b.yaml: bouncers[1].key_env: environment variable RIPOSTE_BOUNCER_FW is not set",
            key.display()
        )
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let one = blocks[4].replace(
        "  - { name: firewall, key_env: RIPOSTE_BOUNCER_FW }     # or an environment variable\n",
        "  - { name: firewall, key_env: PATH }\n",
    );
    let config = riposte_service::Config::parse("b.yaml", &one, dir.path()).unwrap();
    assert_eq!(config.bouncers[0].name, "nginx");
    assert_eq!(config.bouncers[0].key, "nginx-key-0123456789abcdef");
    assert_eq!(config.bouncers[1].key, std::env::var("PATH").unwrap());
    assert_eq!(
        format!("{:?}", config.bouncers[0]),
        "BouncerConfig { name: \"nginx\", key: \"<redacted>\" }"
    );
    std::fs::write(&key, "short\n").unwrap();
    let problems = riposte_service::Config::parse("b.yaml", &one, dir.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        "1 problem:\n  b.yaml: bouncers[0]: the key of bouncer \"nginx\" is shorter than 16 characters"
    );
}

#[test]
fn webhook_example_needs_its_secret() {
    let blocks = yaml_blocks("active-response.md");
    let problems = riposte_service::Config::parse("w.yaml", &blocks[3], Path::new("/srv"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        "1 problem:\n  w.yaml: enforcers[0].secret_env: environment variable RIPOSTE_WEBHOOK_SECRET is not set"
    );
    let with_var = blocks[3].replace("RIPOSTE_WEBHOOK_SECRET", "PATH");
    let config = riposte_service::Config::parse("w.yaml", &with_var, Path::new("/srv")).unwrap();
    assert_eq!(
        config.enforcers,
        [riposte_respond::EnforcerConfig::Webhook(
            riposte_respond::WebhookConfig {
                url: "https://soar-connector.internal.example/riposte".into(),
                secret_env: Some("PATH".into()),
                kinds: vec![
                    riposte_model::DecisionKind::DisableAccount,
                    riposte_model::DecisionKind::QuarantineHost
                ],
                timeout: std::time::Duration::from_secs(10),
                dry_run: false,
            }
        )]
    );
    let bad = with_var.replace("https://soar", "ftp://soar");
    let problems = riposte_service::Config::parse("w.yaml", &bad, Path::new("/srv"))
        .unwrap_err()
        .to_string();
    assert!(problems.contains("enforcers[0].url: \"ftp://soar-connector.internal.example/riposte\" is not an http(s) URL"), "{problems}");
}

#[test]
fn respond_mistakes_are_all_listed() {
    let text = "version: 1\nrespond:\n  escalation: { lookback: 7x, durations: [] }\n  min_confidence: { ban: 101, nuke: 5 }\n  max_prefix: { ipv4: 33, ipx: 1 }\n  mode: enforced\n  gateways: [not-an-ip]\n  review: { max_age: soon, min_age: 1h, digest: { at: 25:00, window: forever, to: [nobody], cc: [] } }\n  max_per_minute: 0\n";
    let problems = riposte_service::Config::parse("r.yaml", text, Path::new("/srv"))
        .unwrap_err()
        .to_string();
    let expected = [
        "r.yaml: respond.gateways[0]: \"not-an-ip\" is not an IP address",
        "r.yaml: respond.escalation.lookback: invalid duration \"7x\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
        "r.yaml: respond.escalation.durations: must be a non-empty list of durations (e.g. [1h, 4h, 24h])",
        "r.yaml: respond.min_confidence.ban: 101 must be a confidence 0-100",
        "r.yaml: respond.min_confidence.nuke: unknown decision kind \"nuke\" (valid: ban, throttle, captcha, disable_account, quarantine_host)",
        "r.yaml: respond.max_per_minute: 0 must be a positive integer",
        "r.yaml: respond.max_prefix.ipv4: 33 must be a prefix length 0-32",
        "r.yaml: respond.max_prefix.ipx: unknown key (valid: ipv4, ipv6)",
        "r.yaml: respond.mode: unknown mode \"enforced\" (valid: simulate, shadow, enforce)",
        "r.yaml: respond.review.min_age: unknown key (valid: max_age, digest)",
        "r.yaml: respond.review.max_age: invalid duration \"soon\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
        "r.yaml: respond.review.digest.cc: unknown key (valid: at, window, to, subject)",
        "r.yaml: respond.review.digest.at: \"25:00\" is not a time of day HH:MM (UTC)",
        "r.yaml: respond.review.digest.window: invalid duration \"forever\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
        "r.yaml: respond.review.digest.to[0]: \"nobody\" is not an email address",
    ];
    for line in expected {
        assert!(problems.contains(line), "missing {line:?} in:\n{problems}");
    }
    assert!(problems.starts_with("15 problems"), "{problems}");
}

#[test]
fn digest_example_mails_through_the_relay_with_a_private_password() {
    use std::os::unix::fs::PermissionsExt;
    let blocks = yaml_blocks("active-response.md");
    let block = &blocks[1];
    // The password file is missing: one problem, named.
    let problems = riposte_service::Config::parse("d.yaml", block, Path::new("/srv"))
        .unwrap_err()
        .to_string();
    assert!(
        problems.starts_with("1 problem:\n  d.yaml: notify.smtp.password_file: cannot read /etc/riposte/smtp.password: "),
        "{problems}"
    );
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("smtp.password");
    std::fs::write(&pw, "correct horse\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = block.replace("/etc/riposte/smtp.password", pw.to_str().unwrap());
    let config = riposte_service::Config::parse("d.yaml", &text, dir.path()).unwrap();
    let smtp = config.smtp.as_ref().unwrap();
    assert_eq!(
        (
            smtp.host.as_str(),
            smtp.port,
            smtp.tls,
            smtp.username.as_deref(),
            smtp.password.as_deref(),
            smtp.from.as_str(),
            smtp.timeout
        ),
        (
            "mail.example.org",
            587,
            riposte_notify::SmtpTls::Starttls,
            Some("riposte"),
            Some("correct horse"),
            "Riposte <riposte@example.org>",
            std::time::Duration::from_secs(30)
        )
    );
    assert!(!format!("{config:?}").contains("correct horse"));
    assert_eq!(
        config.digest,
        Some(riposte_respond::DigestSchedule {
            at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            window: chrono::TimeDelta::hours(24),
            to: vec![
                "soc@example.org".into(),
                "SOC lead <lead@example.org>".into()
            ],
            subject: None,
        })
    );
    // Recipients without a relay.
    let problems = riposte_service::Config::parse(
        "n.yaml",
        "version: 1\nrespond:\n  review: { digest: { to: [soc@example.org] } }\n",
        Path::new("/srv"),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        problems,
        "1 problem:\n  n.yaml: respond.review.digest.to: mailing the digest needs notify.smtp (the relay to send through)"
    );
    // A relay with mistakes: all listed.
    let bad = "version: 1\nnotify:\n  smtp: { host: '', tls: ssl, from: riposte, password_env: RIPOSTE_NO_SUCH_VAR, port: 70000 }\nrespond:\n  review: { digest: { to: [soc@example.org] } }\n";
    let problems = riposte_service::Config::parse("n.yaml", bad, Path::new("/srv"))
        .unwrap_err()
        .to_string();
    assert!(
        problems.starts_with("1 problem:\n  n.yaml: notify.smtp: "),
        "{problems}"
    );
    let bad = bad.replace(", port: 70000", "");
    let problems = riposte_service::Config::parse("n.yaml", &bad, Path::new("/srv"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        "5 problems:\n  n.yaml: notify.smtp.tls: \"ssl\" is not a TLS mode (valid: none, starttls, tls)\n  n.yaml: notify.smtp.host: must not be empty\n  n.yaml: notify.smtp.from: \"riposte\" is not an email address\n  n.yaml: notify.smtp.password_env: environment variable RIPOSTE_NO_SUCH_VAR is not set\n  n.yaml: notify.smtp.username: missing: a password is given, so the relay needs a user name"
    );
}

/// docs/intel.md's TAXII example loads as documented (the token file is
/// private), and its listed mistakes are exactly what the parser says.
#[test]
fn taxii_example_loads_and_its_mistakes_are_as_documented() {
    use std::os::unix::fs::PermissionsExt;
    let block = yaml_blocks("intel.md")
        .into_iter()
        .find(|b| b.contains("\ntaxii:"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    let token = dir.path().join("secrets/taxii-isp.token");
    std::fs::write(&token, "isp-token-0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = riposte_service::Config::parse("riposte.yaml", &block, dir.path())
        .unwrap_or_else(|p| panic!("{p}"));
    let taxii = config.taxii.unwrap();
    assert_eq!(taxii.title, "Example CSIRT threat intel");
    assert_eq!(taxii.listen, Some("0.0.0.0:9443".parse().unwrap()));
    let c = &taxii.collections;
    assert_eq!(
        (
            c[0].feeds.as_slice(),
            c[0].kinds.len(),
            c[0].max_tlp,
            c[1].feeds.len(),
            c[1].kinds.len(),
            c[1].max_tlp
        ),
        (
            &["feodo".to_owned(), "cases".to_owned()][..],
            4,
            riposte_model::Tlp::Green,
            0,
            0,
            riposte_model::Tlp::Amber
        )
    );
    let names: Vec<(&str, usize)> = taxii
        .clients
        .iter()
        .map(|c| (c.name.as_str(), c.collections.len()))
        .collect();
    assert_eq!(names, [("national-cert", 2), ("isp-abuse-desk", 1)]);
    // The token file's content is kept only as its digest.
    use sha2::Digest;
    let digest: [u8; 32] = sha2::Sha256::digest(b"isp-token-0123456789abcdef").into();
    assert_eq!(taxii.clients[1].token_sha256, digest);

    // The documented mistakes.
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/intel.md"))
            .unwrap();
    let at = page
        .find("Mistakes are reported by `riposte check`")
        .unwrap();
    let start = at + page[at..].find("```text\n").unwrap() + "```text\n".len();
    let documented = &page[start..start + page[start..].find("```").unwrap()];
    let bad = block
        .replace("      max_tlp: amber\n", "      max_tlp: red\n")
        .replace(
            "      collections: [6f0ad3e2-2c1b-4f8e-9a57-1d2b7c3e4f50]\n",
            "      collections: [partners]\n",
        );
    let problems = riposte_service::Config::parse("riposte.yaml", &bad, dir.path()).unwrap_err();
    let listed: Vec<String> = problems.0.iter().map(ToString::to_string).collect();
    assert_eq!(listed, documented.lines().collect::<Vec<_>>());

    // TAXII's own listener off loopback needs api.tls (it carries tokens),
    // or api.allow_plaintext behind a proxy.
    let tls_line = block.lines().find(|l| l.contains("tls:")).unwrap();
    let plain = block.replace(&format!("api:\n{tls_line}\n"), "");
    let problems = riposte_service::Config::parse("riposte.yaml", &plain, dir.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        "1 problem:\n  riposte.yaml: taxii.listen: 0.0.0.0:9443 is not a loopback address and api.tls is not set: client tokens would cross the network in clear text; set api.tls (TAXII is served with it), or api.allow_plaintext: true behind a TLS-terminating proxy on a trusted network"
    );
    let proxied = block.replace(tls_line, "  allow_plaintext: true");
    let config = riposte_service::Config::parse("riposte.yaml", &proxied, dir.path())
        .unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(config.api.tls, None);
    assert_eq!(
        config.taxii.unwrap().listen,
        Some("0.0.0.0:9443".parse().unwrap())
    );
}
