//! Rules that use a fail2ban filter (`fail2ban:` key): the example in
//! examples/fail2ban and the one in docs/fail2ban.md load, match raw lines
//! and count per extracted host.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_detect::{Detector, load_rules, parse_rules};
use riposte_model::Event;

fn examples() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/fail2ban"
    ))
}

fn line_event(line: &str, secs: i64) -> Event {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap() + TimeDelta::seconds(secs);
    let mut e = Event::new(at, "syslog");
    e.original = Some(line.to_owned());
    e
}

#[test]
fn example_rule_counts_failures_per_extracted_host() {
    let rules = load_rules(&[examples().join("rules.yaml")]).unwrap_or_else(|p| panic!("{p}"));
    let mut d = Detector::new(Arc::new(rules));
    let now = Utc::now();
    let lines = [
        "Mar  1 10:00:00 web1 myapp[7]: login failed for alice from 192.0.2.10 port 5122",
        "Mar  1 10:00:01 web1 myapp[7]: login failed for healthcheck from 192.0.2.10",
        "Mar  1 10:00:02 web1 myapp[7]: login ok for bob from 192.0.2.10",
        "Mar  1 10:00:03 web1 otherd[7]: login failed for alice from 192.0.2.10",
        "<38>Mar  1 10:00:04 web1 myapp[7]: login failed for carol from 192.0.2.10",
        "Mar  1 10:00:05 web1 myapp: probe from [2001:db8::5]",
        "Mar  1 10:00:06 web1 myapp[8]: probe from 192.0.2.10",
    ];
    let mut alerts = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        alerts.extend(d.process(&line_event(l, i as i64), now));
    }
    // alice, carol (syslog <PRI> stripped) and the aggressive-mode probe;
    // the healthcheck is ignored, the success and the other daemon do not
    // match, and 2001:db8::5 has only one failure.
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule_id, "myapp-f2b");
    assert_eq!(alerts[0].count, 3);
    // Fired by the probe (line 7), not earlier: the healthcheck did not count.
    assert_eq!(alerts[0].first_seen, line_event("", 0).timestamp);
    assert_eq!(alerts[0].last_seen, line_event("", 6).timestamp);
    assert_eq!(
        alerts[0].group.get("source.ip").map(String::as_str),
        Some("192.0.2.10")
    );
}

#[test]
fn a_broken_filter_is_reported_on_the_rule() {
    let dir = examples().join("filter.d");
    let text = format!(
        "version: 1\nrules:\n  - id: r\n    title: t\n    kind: match\n    fail2ban: {{ filter: {}/missing.conf }}\n    severity: low\n",
        dir.display()
    );
    let err = parse_rules("r.yaml", &text).unwrap_err();
    assert_eq!(err.len(), 1);
    let p = &err.0[0];
    assert_eq!(p.location, "rules[r].fail2ban");
    assert!(
        p.message.contains("missing.conf: : cannot read"),
        "{}",
        p.message
    );
}

/// Every yaml block of docs/fail2ban.md loads, as if it were a rule file in
/// examples/fail2ban (where the filter it names lives).
#[test]
fn docs_examples_load() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/fail2ban.md"
    ))
    .unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert_eq!(blocks.len(), 1);
    let file = examples().join("docs-block.yaml");
    let rules =
        parse_rules(&file.display().to_string(), &blocks[0]).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(rules.rules[0].id, "myapp-f2b");
    assert!(rules.rules[0].fail2ban.is_some());
}

/// A rule whose filter joins the lines of a session (`<F-MLFID>`): the line
/// that fails names no host, an earlier line of the same session does.
#[test]
fn a_rule_with_a_session_filter_counts_failures_of_whole_sessions() {
    let dir = std::env::temp_dir().join(format!("riposte-f2b-mlfid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("app.conf"),
        "[Definition]\n\
         prefregex = ^\\s*<F-MLFID>\\S+ app\\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$\n\
         failregex = ^<F-NOFAIL>connect from</F-NOFAIL> <HOST>\n\
         \x20           ^<F-MLFFORGET>too many failures</F-MLFFORGET>\n",
    )
    .unwrap();
    let text = "version: 1\nrules:\n  - id: app\n    title: t\n    kind: threshold\n    fail2ban: { filter: app.conf }\n    group_by: [source.ip]\n    count: 2\n    window: 10m\n    severity: low\n";
    let rules = parse_rules(&dir.join("rules.yaml").display().to_string(), text)
        .unwrap_or_else(|p| panic!("{p}"));
    std::fs::remove_dir_all(&dir).unwrap();
    let mut d = Detector::new(Arc::new(rules));
    let lines = [
        "Mar  1 10:00:00 h app[1]: connect from 192.0.2.20",
        "Mar  1 10:00:01 h app[2]: connect from 192.0.2.20",
        "Mar  1 10:00:02 h app[1]: too many failures",
        "Mar  1 10:00:03 h app[2]: too many failures",
        // Session 3 never said where it came from: no failure.
        "Mar  1 10:00:04 h app[3]: too many failures",
    ];
    let mut alerts = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        alerts.extend(d.process(&line_event(l, i as i64), Utc::now()));
    }
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].count, 2);
    assert_eq!(
        alerts[0].group.get("source.ip").map(String::as_str),
        Some("192.0.2.20")
    );
    assert_eq!(alerts[0].last_seen, line_event("", 3).timestamp);
}
