//! The examples of docs/sigma.md work: every `yaml` block is either a rule
//! that loads with the built-in mapping (and matches the event it
//! describes) or a mapping file (`version: 1`) that extends it.

use riposte_model::Event;
use riposte_sigma::{Mapping, load_str};

fn yaml_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line.trim_end()) {
            (None, "```yaml") => cur = Some(String::new()),
            (Some(_), "```") => out.extend(cur.take()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn documented_examples_load() {
    let doc = include_str!("../../../docs/sigma.md");
    let blocks = yaml_blocks(doc);
    assert_eq!(blocks.len(), 2);
    let loaded = load_str("docs/sigma.md", &blocks[0], &Mapping::builtin());
    assert_eq!(loaded.rejected, []);
    let rule = &loaded.rules.rules()[0];
    assert_eq!(rule.meta().attack.techniques, ["T1033"]);
    assert_eq!(rule.meta().confidence.get(), 65);
    let mut ev = Event::new(Default::default(), "windows.sysmon");
    ev.set("Channel", "Microsoft-Windows-Sysmon/Operational");
    ev.set("EventID", 1i64);
    ev.set("Image", "C:\\Windows\\System32\\whoami.exe");
    ev.set("ParentImage", "C:\\Windows\\System32\\cmd.exe");
    ev.set("User", "EXAMPLE\\alice");
    assert!(rule.is_match(&ev));
    ev.set("User", "NT AUTHORITY\\SYSTEM");
    assert!(!rule.is_match(&ev));

    let mut mapping = Mapping::builtin();
    mapping.extend_with("docs/sigma.md", &blocks[1]).unwrap();
    assert_eq!(mapping.placeholders["admins"], ["alice", "bob"]);
    let acme = mapping.find(Some("acme"), None, Some("vpn")).unwrap();
    assert_eq!(
        mapping.logsources[acme].event_fields("User"),
        ["user.name", "user.id"]
    );
}
