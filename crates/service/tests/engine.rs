#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};
use riposte_model::{Clock, ManualClock};
use riposte_service::{Config, build_engine};

fn demo_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo"))
}

/// The README shows examples/demo/riposte.yaml; it must load as documented.
#[test]
fn the_documented_config_loads_with_every_key_applied() {
    let config = Config::load(&demo_dir().join("riposte.yaml")).unwrap();
    let base = &demo_dir().canonicalize().unwrap();
    assert_eq!(config.data_dir, base.join("riposte-data"));
    assert_eq!(
        config.store_url,
        format!(
            "sqlite://{}",
            base.join("riposte-data/riposte.db").display()
        )
    );
    assert_eq!(config.api.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.rules, vec![base.join("rules.yaml")]);
    assert_eq!(config.playbooks, vec![base.join("playbooks/")]);
    assert_eq!(config.sources.len(), 2);
    assert_eq!(config.sources[0].name, "auth");
    assert_eq!(config.respond.max_duration, chrono::TimeDelta::days(7));
    assert!(
        config
            .respond
            .allowlist
            .refusal("10.9.9.9/32".parse().unwrap())
            .is_some()
    );
    assert!(
        config
            .respond
            .allowlist
            .refusal("192.0.2.10/32".parse().unwrap())
            .is_some()
    );
    assert!(
        config
            .respond
            .allowlist
            .refusal("192.0.2.11/32".parse().unwrap())
            .is_none()
    );
    assert_eq!(config.sweep_interval, std::time::Duration::from_secs(10));
    assert_eq!(config.ingest.max_line_bytes, 1_048_576);
    assert_eq!(config.ingest.batch_lines, 1000);
    assert_eq!(
        config.ingest.poll_interval,
        std::time::Duration::from_millis(250)
    );
    let (rules, playbooks) = riposte_service::load_logic(&config).unwrap();
    assert_eq!(
        rules.ids().collect::<Vec<_>>(),
        ["ssh-bruteforce", "suricata-alert"]
    );
    assert_eq!(
        playbooks.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["ssh-bruteforce", "suricata-high"]
    );
}

#[test]
fn a_config_with_several_mistakes_lists_them_all() {
    let text = r#"
version: 1
stor: sqlite://x.db
api: { listen: "localhost" }
sources:
  - { type: file, path: a.log, format: evt }
  - { type: kafka }
  - { type: syslog-udp, listen: nowhere, path: a.log }
  - { type: nats, url: "nats://127.0.0.1:4222" }
  - { type: file, path: b.log, format: syslog, mapping: { dataset: x } }
respond:
  allowlist: [10.0.0.0/33]
  max_duration: forever
enforcers:
  - { type: nftables, table: "my table" }
  - { type: iptables }
ingest: { batch_lines: 0 }
"#;
    let errs = Config::parse("riposte.yaml", text, Path::new("/etc/riposte")).unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    let expected = [
        "riposte.yaml: stor: unknown key (valid: version, auth, data_dir, store, api, rules, sigma, playbooks, sources, respond, enforcers, bouncers, notify, secrets, executor, actions, ingest, intel, taxii)",
        "riposte.yaml: api.listen: \"localhost\" is not an address:port",
        "riposte.yaml: sources[0].format: unknown format \"evt\"",
        "riposte.yaml: sources[1].type: unknown source type \"kafka\" (valid: file, syslog-udp, syslog-tcp, nats, evtx-dir)",
        "riposte.yaml: sources[2].listen: not an address:port: \"nowhere\"",
        "riposte.yaml: sources[2].path: not a key of type syslog-udp (valid: listen, format, mapping, allow_from)",
        "riposte.yaml: sources[3].stream: missing (required for type nats)",
        "riposte.yaml: sources[3].format: missing (required for type nats)",
        "riposte.yaml: sources[4].mapping: only a json source takes a mapping",
        "riposte.yaml: respond.allowlist[0]: \"10.0.0.0/33\" is not an IP address or CIDR",
        "riposte.yaml: respond.max_duration: invalid duration \"forever\"",
        "riposte.yaml: enforcers[0]: invalid name \"my table\" (expected a letter, then letters, digits, '_' or '-', at most 32)",
        "riposte.yaml: enforcers[1]: unknown variant `iptables`, expected one of `file`, `nftables`, `webhook`",
        "riposte.yaml: ingest.batch_lines: 0 must be a positive integer",
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, prefix) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(prefix),
            "{line:?} should start with {prefix:?}"
        );
    }
}

#[tokio::test]
async fn every_decision_case_change_and_step_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["rules.yaml", "playbooks/ssh-bruteforce.yaml"] {
        std::fs::create_dir_all(dir.path().join(f).parent().unwrap()).unwrap();
        std::fs::copy(demo_dir().join(f), dir.path().join(f)).unwrap();
    }
    let config_text = "version: 1\nrules: [rules.yaml]\nplaybooks: [playbooks/]\nrespond: { allowlist: [10.0.0.0/8] }\n";
    let config = Config::parse("riposte.yaml", config_text, dir.path()).unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let mut engine = build_engine(&config, clock.clone())
        .await
        .unwrap()
        .follow_event_time(clock.clone());

    let mut text = String::new();
    for ip in ["203.0.113.7", "10.0.0.5"] {
        for s in 0..6 {
            text.push_str(&format!(
                "Mar 14 09:00:{s:02} h sshd[1]: Failed password for root from {ip} port 4{s} ssh2\n"
            ));
        }
    }
    let lines: Vec<Line> = text
        .lines()
        .scan(0u64, |off, l| {
            let line = Line {
                offset: *off,
                bytes: l.as_bytes().to_vec(),
                truncated_from: None,
            };
            *off += l.len() as u64 + 1;
            Some(line)
        })
        .collect();
    let batch = decode_batch(
        Format::Syslog,
        &lines,
        &DecodeCtx {
            source: "auth",
            now: clock.now(),
        },
    );
    let report = engine
        .commit_batch(batch, Some(("auth", &(text.len() as u64).into())))
        .await
        .unwrap();
    assert_eq!(
        (
            report.events,
            report.alerts.len(),
            report.decisions.len(),
            report.refusals.len()
        ),
        (12, 2, 1, 1)
    );

    let store = engine.store();
    assert_eq!(
        store.checkpoint("auth").await.unwrap().map(|c| c.offset),
        Some(text.len() as u64)
    );
    let mut audit: Vec<(String, String, String)> = store
        .list_audit(100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.actor.to_string(), a.action, a.reason))
        .collect();
    audit.sort();
    let decision = &report.decisions[0];
    let expected = vec![
        (
            "playbook:ssh-bruteforce/block".to_owned(),
            "decision.create".to_owned(),
            "ssh brute force, 6 failures in 60 s".to_owned(),
        ),
        (
            "playbook:ssh-bruteforce/block".to_owned(),
            "decision.refuse".to_owned(),
            "10.0.0.5/32 is covered by allowlisted 10.0.0.0/8".to_owned(),
        ),
        (
            "playbook:ssh-bruteforce/block".to_owned(),
            "playbook.step".to_owned(),
            "decision.ban skipped: refused: 10.0.0.5/32 is covered by allowlisted 10.0.0.0/8"
                .to_owned(),
        ),
        (
            "playbook:ssh-bruteforce/block".to_owned(),
            "playbook.step".to_owned(),
            "decision.ban succeeded".to_owned(),
        ),
        (
            "playbook:ssh-bruteforce/case".to_owned(),
            "case.create".to_owned(),
            format!("opened for alert {} (ssh-bruteforce)", report.alerts[0].id),
        ),
        (
            "playbook:ssh-bruteforce/case".to_owned(),
            "case.create".to_owned(),
            format!("opened for alert {} (ssh-bruteforce)", report.alerts[1].id),
        ),
        (
            "playbook:ssh-bruteforce/case".to_owned(),
            "playbook.step".to_owned(),
            "case.attach succeeded".to_owned(),
        ),
        (
            "playbook:ssh-bruteforce/case".to_owned(),
            "playbook.step".to_owned(),
            "case.attach succeeded".to_owned(),
        ),
    ];
    let mut expected = expected;
    expected.sort();
    assert_eq!(audit, expected);
    assert_eq!(decision.value, "203.0.113.7");
    assert_eq!(
        store
            .list_runs(&riposte_store::RunFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A broken enforcer (here: its directory is a file) must not turn a stored
/// batch into a failed one — the caller would resubmit it and store it twice.
#[tokio::test]
async fn an_enforcer_failure_after_commit_does_not_fail_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["rules.yaml", "playbooks/ssh-bruteforce.yaml"] {
        std::fs::create_dir_all(dir.path().join(f).parent().unwrap()).unwrap();
        std::fs::copy(demo_dir().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("not-a-dir"), "").unwrap();
    let config_text = "version: 1\nrules: [rules.yaml]\nplaybooks: [playbooks/]\nenforcers: [{ type: file, path: not-a-dir/blocklist.txt }]\n";
    let config = Config::parse("riposte.yaml", config_text, dir.path()).unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(),
    ));
    let mut engine = build_engine(&config, clock.clone())
        .await
        .unwrap()
        .follow_event_time(clock.clone());
    let lines: Vec<Line> = (0..6u64)
        .map(|s| Line {
            offset: s * 100,
            bytes: format!("Mar 14 09:00:0{s} h sshd[1]: Failed password for root from 203.0.113.7 port 4{s} ssh2").into_bytes(),
            truncated_from: None,
        })
        .collect();
    let batch = decode_batch(
        Format::Syslog,
        &lines,
        &DecodeCtx {
            source: "auth",
            now: clock.now(),
        },
    );
    let report = engine
        .commit_batch(batch, Some(("auth", &600.into())))
        .await
        .expect("stored batch reported as stored");
    assert_eq!(report.decisions.len(), 1);
    assert_eq!(
        engine.store().checkpoint("auth").await.unwrap(),
        Some(600.into())
    );
    assert_eq!(engine.store().counts().await.unwrap().decisions_active, 1);
}

#[test]
fn a_public_api_needs_tls() {
    let errs = Config::parse(
        "r.yaml",
        "version: 1\napi: { listen: 0.0.0.0:8080 }\n",
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(
        errs.to_string(),
        "1 problem:\n  r.yaml: api.listen: 0.0.0.0:8080 is not a loopback address and api.tls is not set: API keys would cross the network in clear text; set api.tls (or allow_plaintext: true behind a TLS-terminating proxy on a trusted network)"
    );
    let ok = Config::parse(
        "r.yaml",
        "version: 1\napi: { listen: \"[::1]:9000\" }\n",
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(ok.api.listen.to_string(), "[::1]:9000");
}

/// The default source name is the checkpoint key; it must not change with
/// how --config was written, or a restart would re-read the file.
#[test]
fn source_names_do_not_depend_on_how_the_config_path_was_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("riposte.yaml"),
        "version: 1\nsources: [{ type: file, path: auth.log, format: syslog }]\n",
    )
    .unwrap();
    let direct = Config::load(&dir.path().join("riposte.yaml")).unwrap();
    let roundabout = Config::load(&dir.path().join("sub/../riposte.yaml")).unwrap();
    let canonical = dir.path().canonicalize().unwrap().join("auth.log");
    assert_eq!(direct.sources[0].name, canonical.to_str().unwrap());
    assert_eq!(roundabout.sources[0].name, direct.sources[0].name);
}
