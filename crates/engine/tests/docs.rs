#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! Every ```yaml block in the user manual is loaded by the real parser of
//! its page, so the documentation cannot drift from the code.

use std::path::Path;

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
    assert_eq!(blocks.len(), 5);
    let mut configs = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        configs.push(
            riposte_engine::Config::parse(
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
        riposte_engine::SourceKind::File {
            path: "/var/log/auth.log".into(),
            read_rotated: true
        }
    );
    assert_eq!(sources[3].name, "syslog-udp:0.0.0.0:5514");
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
    assert_eq!(blocks.len(), 3);
    for (i, b) in blocks.iter().enumerate() {
        riposte_playbooks::parse_playbook(&format!("playbooks.md block {}", i + 1), b)
            .unwrap_or_else(|p| panic!("{p}"));
    }
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
