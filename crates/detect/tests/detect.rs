//! Events in, alerts and correlation hits out: every stateful kind with
//! exact outcomes, and the YAML examples of docs/correlation.md.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_detect::{
    CorrelationEngine, CorrelationHit, CorrelationType, Detector, parse_correlation, parse_rules,
};
use riposte_model::{Event, Timestamp};

fn t(s: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap() + TimeDelta::seconds(s)
}

fn ssh(at: i64, outcome: &str, ip: &str, user: &str) -> Event {
    let mut e = Event::new(t(at), "sshd");
    e.set("event.outcome", outcome);
    e.set("source.ip", ip);
    e.set("user.name", user);
    e
}

fn detector(rules: &str, max_keys: usize) -> Detector {
    Detector::with_max_keys(
        Arc::new(parse_rules("r.yaml", rules).unwrap_or_else(|p| panic!("{p}"))),
        max_keys,
    )
}

/// Seconds (from t(0)) at which events fired, with the alert count.
fn run(d: &mut Detector, events: &[Event]) -> Vec<(i64, u64)> {
    events
        .iter()
        .flat_map(|e| d.process(e, e.timestamp))
        .map(|a| ((a.last_seen - t(0)).num_seconds(), a.count))
        .collect()
}

const DISTINCT: &str = r#"
version: 1
rules:
  - id: user-spray
    title: Password spray
    kind: threshold
    match: { event.dataset: sshd, event.outcome: failure }
    group_by: [source.ip]
    distinct: user.name
    count: 3
    window: 60s
    severity: high
"#;

#[test]
fn distinct_counts_values_not_events() {
    let mut d = detector(DISTINCT, 100);
    let ip = "203.0.113.7";
    let events: Vec<Event> = [
        (0, "root"),
        (1, "root"),
        (2, "root"),
        (3, "admin"),
        (4, "admin"),
        (5, "oracle"),
    ]
    .iter()
    .map(|(s, u)| ssh(*s, "failure", ip, u))
    .collect();
    let mut alerts: Vec<_> = events.iter().flat_map(|e| d.process(e, t(9))).collect();
    assert_eq!(alerts.len(), 1);
    let a = alerts.remove(0);
    assert_eq!(a.count, 3, "three distinct users");
    assert_eq!(a.evidence.len(), 6, "every event in the window is evidence");
    assert_eq!(
        a.summary,
        "Password spray: 3 distinct user.name from 203.0.113.7 within 1m"
    );
    // Distinct values leave with their events: at 70 only "oracle" (5) and
    // the new ones are inside the window.
    let mut d = detector(DISTINCT, 100);
    let evs = vec![
        ssh(0, "failure", ip, "a"),
        ssh(50, "failure", ip, "b"),
        ssh(70, "failure", ip, "c"),
        ssh(75, "failure", ip, "b"),
        ssh(80, "failure", ip, "d"),
    ];
    assert_eq!(
        run(&mut d, &evs),
        vec![(80, 3)],
        "a expired at 60; b, c, d remain"
    );
}

const BLACKHOLE: &str = r#"
version: 1
rules:
  - id: ssh-bruteforce
    title: SSH brute force
    kind: threshold
    match: { event.dataset: sshd, event.outcome: failure }
    group_by: [source.ip]
    count: 2
    window: 60s
    blackhole: 5m
    severity: high
"#;

#[test]
fn blackhole_silences_the_key_then_it_alerts_again() {
    let mut d = detector(BLACKHOLE, 100);
    let ip = "203.0.113.7";
    let mut evs: Vec<Event> = (0..20)
        .map(|i| ssh(i * 10, "failure", ip, "root"))
        .collect();
    // Another key is not silenced.
    evs.push(ssh(200, "failure", "198.51.100.1", "root"));
    evs.push(ssh(201, "failure", "198.51.100.1", "root"));
    // Silence ends at 10 + 300 = 310: events at 310 and 320 alert again.
    evs.push(ssh(310, "failure", ip, "root"));
    evs.push(ssh(320, "failure", ip, "root"));
    evs.sort_by_key(|e| e.timestamp);
    assert_eq!(run(&mut d, &evs), vec![(10, 2), (201, 2), (320, 2)]);
    assert_eq!(d.stats().keys, 2, "silenced keys keep their state");
}

const LEAKY: &str = r#"
version: 1
rules:
  - id: ssh-leaky
    title: SSH brute force (bucket)
    kind: leaky
    match: { event.dataset: sshd, event.outcome: failure }
    group_by: [source.ip]
    capacity: 3
    leak_speed: 10s
    severity: medium
"#;

#[test]
fn leaky_bucket_overflows_on_bursts_and_drains_between_them() {
    let mut d = detector(LEAKY, 100);
    let ip = "203.0.113.7";
    // A slow attacker (one every 10 s) never overflows; a burst of four
    // does; after overflowing the bucket starts empty.
    let mut evs: Vec<Event> = (0..10)
        .map(|i| ssh(i * 10, "failure", ip, "root"))
        .collect();
    evs.extend((0..4).map(|_| ssh(200, "failure", ip, "root")));
    evs.extend((0..3).map(|_| ssh(201, "failure", ip, "root")));
    let alerts: Vec<_> = evs.iter().flat_map(|e| d.process(e, t(300))).collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].count, 4);
    assert_eq!(
        alerts[0].summary,
        "SSH brute force (bucket): bucket for 203.0.113.7 overflowed with 4 events"
    );
    assert_eq!(
        alerts[0].evidence,
        evs[10..14].iter().map(|e| e.id).collect::<Vec<_>>()
    );
}

#[test]
fn eviction_prefers_expired_keys_and_counts_them() {
    let mut d = detector(BLACKHOLE, 3);
    // Three keys at 0, 1 and 100; at 100 the first two are expired (60 s
    // window), so a fourth key evicts exactly those two.
    for (s, ip) in [(0, "192.0.2.1"), (1, "192.0.2.2"), (100, "192.0.2.3")] {
        d.process(&ssh(s, "failure", ip, "u"), t(s));
    }
    d.process(&ssh(100, "failure", "192.0.2.4", "u"), t(100));
    let s = d.stats();
    assert_eq!((s.keys, s.evicted_keys), (2, 2));
    // A blackholed key is not expired while silent: 192.0.2.3 alerts at
    // 101 and stays silent until 401.
    d.process(&ssh(101, "failure", "192.0.2.3", "u"), t(101));
    d.process(&ssh(102, "failure", "192.0.2.5", "u"), t(102));
    d.process(&ssh(200, "failure", "192.0.2.6", "u"), t(200));
    // At 200 the table (3, 4, 5) is full; 4 and 5 expired, 3 is silent.
    let s = d.stats();
    assert_eq!((s.keys, s.evicted_keys, s.alerts), (2, 4, 1));
}

#[test]
fn rule_errors_name_file_rule_and_key() {
    let text = r#"
version: 1
rules:
  - id: a
    title: t
    kind: leaky
    match: { event.dataset: sshd }
    group_by: [source.ip]
    capacity: 0
    leak_speed: 0s
    window: 60s
    severity: low
  - id: big
    title: t
    kind: threshold
    match: { event.dataset: sshd }
    group_by: [source.ip]
    count: 4000000000
    window: 60s
    severity: low
  - id: huge
    title: t
    kind: leaky
    match: { event.dataset: sshd }
    group_by: [source.ip]
    capacity: 100001
    leak_speed: 10s
    severity: low
  - id: b
    title: t
    kind: threshold
    match: { event.dataset: sshd }
    group_by: [source.ip]
    count: 3
    window: 60s
    blackhole: forever
    capacity: 4
    severity: low
  - id: c
    title: t
    kind: match
    match: { event.dataset: sshd }
    distinct: user.name
    severity: low
"#;
    let errs = parse_rules("r.yaml", text).unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "r.yaml: rules[a].window: leaky rules take capacity and leak_speed instead",
            "r.yaml: rules[a].capacity: must be at least 1",
            "r.yaml: rules[a].leak_speed: duration \"0s\" must be positive",
            "r.yaml: rules[big].count: 4000000000 is over the limit of 100000",
            "r.yaml: rules[huge].capacity: 100001 is over the limit of 100000",
            "r.yaml: rules[b].capacity: only leaky rules take this key",
            "r.yaml: rules[b].blackhole: invalid duration \"forever\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
            "r.yaml: rules[c].distinct: only threshold and leaky rules take this key",
        ]
    );
}

// ---- Sigma correlations ----

fn corr(yaml: &str) -> riposte_detect::Correlation {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    parse_correlation("c.yml", &v).unwrap_or_else(|p| panic!("{p}"))
}

fn feed_all(engine: &mut CorrelationEngine, input: &[(&str, Event)]) -> Vec<CorrelationHit> {
    input
        .iter()
        .flat_map(|(rule, e)| engine.feed(rule, None, e))
        .collect()
}

fn secs(h: &CorrelationHit) -> (i64, i64, u64) {
    (
        (h.first_seen - t(0)).num_seconds(),
        (h.last_seen - t(0)).num_seconds(),
        h.count,
    )
}

const EVENT_COUNT: &str = r#"
title: Many failed logins from one address
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
  type: event_count
  rules:
    - failed_login
  group-by:
    - source.ip
  timespan: 1m
  condition:
    gte: 3
level: high
"#;

#[test]
fn event_count_slides_per_group() {
    let c = corr(EVENT_COUNT);
    assert_eq!(c.kind, CorrelationType::EventCount);
    let mut engine = CorrelationEngine::new(vec![c], 100);
    let a = "203.0.113.7";
    let b = "198.51.100.1";
    let input: Vec<(&str, Event)> = vec![
        ("failed_login", ssh(0, "failure", a, "u")),
        ("failed_login", ssh(10, "failure", b, "u")),
        ("failed_login", ssh(30, "failure", a, "u")),
        ("other_rule", ssh(35, "failure", a, "u")),
        ("failed_login", ssh(70, "failure", a, "u")), // 0 left the window
        ("failed_login", ssh(80, "failure", a, "u")),
        ("failed_login", ssh(40, "failure", b, "u")),
    ];
    let hits = feed_all(&mut engine, &input);
    assert_eq!(hits.iter().map(secs).collect::<Vec<_>>(), vec![(30, 80, 3)]);
    assert_eq!(hits[0].group.get("source.ip").unwrap(), a);
    assert_eq!(
        hits[0].evidence,
        vec![input[2].1.id, input[4].1.id, input[5].1.id]
    );
    assert_eq!(engine.stats().keys, 1, "b is still counting");
}

#[test]
fn value_count_counts_distinct_values_with_upper_bound_at_window_end() {
    let c = corr(
        r#"
title: Few distinct users
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [source.ip]
  timespan: 1m
  condition: { field: user.name, gte: 2, lt: 4 }
"#,
    );
    let mut engine = CorrelationEngine::new(vec![c], 100);
    let ip = "203.0.113.7";
    let input: Vec<(&str, Event)> = ["a", "a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, u)| ("failed_login", ssh(i as i64, "failure", ip, u)))
        .chain(
            ["a", "b", "c", "d"]
                .iter()
                .map(|u| ("failed_login", ssh(100, "failure", "198.51.100.1", u))),
        )
        .collect();
    assert!(
        feed_all(&mut engine, &input).is_empty(),
        "judged at window end"
    );
    let hits = engine.flush(t(200));
    assert_eq!(hits.len(), 1, "198.51.100.1 had 4 users: not < 4");
    assert_eq!(secs(&hits[0]), (0, 3, 3));
    assert_eq!(hits[0].group.get("source.ip").unwrap(), ip);
    assert_eq!(engine.stats().keys, 0, "flushed groups are gone");
}

const TEMPORAL: &str = r#"
title: Recon then login
correlation:
  type: temporal
  rules: [recon, login]
  group-by: [source.ip]
  timespan: 5m
"#;

#[test]
fn temporal_needs_every_rule_in_any_order_within_timespan() {
    let mut engine = CorrelationEngine::new(vec![corr(TEMPORAL)], 100);
    let ip = "203.0.113.7";
    let input = vec![
        ("login", ssh(0, "success", ip, "u")),
        ("recon", ssh(100, "failure", ip, "u")), // login before recon: fires
        ("recon", ssh(1000, "failure", ip, "u")),
        ("login", ssh(1400, "success", ip, "u")), // 400 s later: too late
        ("recon", ssh(1500, "failure", ip, "u")), // with login at 1400
    ];
    let hits = feed_all(&mut engine, &input);
    assert_eq!(
        hits.iter().map(secs).collect::<Vec<_>>(),
        vec![(0, 100, 2), (1400, 1500, 2)]
    );
    assert_eq!(hits[0].evidence, vec![input[0].1.id, input[1].1.id]);
}

#[test]
fn temporal_ordered_needs_the_rules_in_order() {
    let c = corr(&TEMPORAL.replace("type: temporal", "type: temporal_ordered"));
    let mut engine = CorrelationEngine::new(vec![c], 100);
    let ip = "203.0.113.7";
    let input = vec![
        ("login", ssh(0, "success", ip, "u")),
        ("recon", ssh(100, "failure", ip, "u")), // wrong order: nothing
        ("recon", ssh(1000, "failure", ip, "u")),
        ("recon", ssh(1200, "failure", ip, "u")),
        ("login", ssh(1400, "success", ip, "u")), // after recon at 1200
    ];
    let hits = feed_all(&mut engine, &input);
    assert_eq!(
        hits.iter().map(secs).collect::<Vec<_>>(),
        vec![(1200, 1400, 2)]
    );
    assert_eq!(hits[0].evidence, vec![input[3].1.id, input[4].1.id]);
}

#[test]
fn aliases_group_by_different_fields_per_rule() {
    let c = corr(
        r#"
title: Same address seen by the firewall and sshd
correlation:
  type: temporal
  rules: [fw_block, ssh_fail]
  group-by: [ip]
  timespan: 1m
  aliases:
    ip:
      fw_block: destination.ip
      ssh_fail: source.ip
"#,
    );
    let mut engine = CorrelationEngine::new(vec![c], 100);
    let mut fw = Event::new(t(0), "firewall");
    fw.set("destination.ip", "203.0.113.7");
    let input = vec![
        ("fw_block", fw),
        ("ssh_fail", ssh(5, "failure", "198.51.100.1", "u")),
        ("ssh_fail", ssh(6, "failure", "203.0.113.7", "u")),
    ];
    let hits = feed_all(&mut engine, &input);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group.get("ip").unwrap(), "203.0.113.7");
}

#[test]
fn correlation_groups_are_bounded_and_evictions_counted() {
    let mut engine = CorrelationEngine::new(vec![corr(EVENT_COUNT)], 2);
    for (s, ip) in [(0, "192.0.2.1"), (1, "192.0.2.2"), (2, "192.0.2.3")] {
        engine.feed("failed_login", None, &ssh(s, "failure", ip, "u"));
    }
    let s = engine.stats();
    assert_eq!((s.keys, s.evicted_keys), (2, 1));
}

#[test]
fn rules_are_referenced_by_id_or_name() {
    let mut engine = CorrelationEngine::new(vec![corr(EVENT_COUNT)], 10);
    let ip = "203.0.113.7";
    let mut n = 0;
    for s in 0..3 {
        n += engine
            .feed(
                "5a9b0d41-id",
                Some("failed_login"),
                &ssh(s, "failure", ip, "u"),
            )
            .len();
    }
    assert_eq!(n, 1);
}

#[test]
fn correlation_errors_are_all_listed() {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        r#"
title: Broken
id: c-1
level: severe
correlation:
  type: event_cnt
  rules: [a, 7]
  timespan: 5 minutes
  condition: { gte: many, above: 3, lt: 100001 }
  colour: red
"#,
    )
    .unwrap();
    let errs = parse_correlation("bad.yml", &v).unwrap_err();
    let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "bad.yml: correlation[c-1].level: unknown level \"severe\" (valid: informational, low, medium, high, critical)",
            "bad.yml: correlation[c-1].correlation: unknown key \"colour\" (valid: type, rules, group-by, timespan, condition, generate, aliases)",
            "bad.yml: correlation[c-1].correlation.type: unknown correlation type \"event_cnt\" (valid: event_count, value_count, temporal, temporal_ordered)",
            "bad.yml: correlation[c-1].correlation.rules[1]: 7 is not a string",
            "bad.yml: correlation[c-1].correlation.timespan: invalid duration \"5 minutes\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
            "bad.yml: correlation[c-1].correlation.condition.gte: \"many\" is not a whole number",
            "bad.yml: correlation[c-1].correlation.condition: unknown key \"above\" (valid: gt, gte, lt, lte, eq, field)",
            "bad.yml: correlation[c-1].correlation.condition.lt: 100001 is over the limit of 100000",
            "bad.yml: correlation[c-1].correlation.condition: needs at least one of gt, gte, lt, lte, eq",
        ]
    );
}

// ---- docs/correlation.md ----

/// The YAML blocks of a docs page, fences possibly indented (inside a list
/// item); the indent is removed.
fn yaml_blocks(page: &str) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/").to_owned() + page;
    let text = std::fs::read_to_string(&path).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed == "```yaml" => {
                current = Some((line.len() - trimmed.len(), String::new()))
            }
            Some(_) if trimmed == "```" => blocks.push(current.take().unwrap().1),
            Some((indent, block)) => {
                block.push_str(line.get(*indent..).unwrap_or(""));
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn correlation_doc_examples_parse_and_behave() {
    let blocks = yaml_blocks("correlation.md");
    assert_eq!(blocks.len(), 4);
    let parsed: Vec<_> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(b).unwrap();
            parse_correlation(&format!("correlation.md block {}", i + 1), &v)
                .unwrap_or_else(|p| panic!("{p}"))
        })
        .collect();
    let kinds: Vec<_> = parsed.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![
            CorrelationType::EventCount,
            CorrelationType::ValueCount,
            CorrelationType::TemporalOrdered,
            CorrelationType::Temporal
        ]
    );
    // The first example: 5 failures from one address within 10 minutes.
    let mut engine = CorrelationEngine::new(vec![parsed[0].clone()], 100);
    let fired: Vec<usize> = (0..6)
        .map(|i| {
            engine
                .feed(
                    "failed_login",
                    None,
                    &ssh(i * 100, "failure", "203.0.113.7", "u"),
                )
                .len()
        })
        .collect();
    assert_eq!(fired, vec![0, 0, 0, 0, 1, 0]);
}

#[test]
fn rules_doc_examples_behave() {
    // docs/rules.md's blocks are all loaded by crates/engine/tests/docs.rs;
    // here the leaky example does what the page says: the 6th event of a
    // burst overflows, then the key is silent for 5 minutes.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md"))
        .unwrap();
    let block = text
        .split("```yaml\n")
        .find(|b| b.contains("kind: leaky"))
        .and_then(|b| b.split("```").next())
        .unwrap();
    let mut d = detector(block, 100);
    let ip = "203.0.113.7";
    let evs: Vec<Event> = (0..8)
        .map(|_| ssh(0, "failure", ip, "u"))
        .chain((0..6).map(|_| ssh(299, "failure", ip, "u")))
        .chain((0..6).map(|_| ssh(300, "failure", ip, "u")))
        .collect();
    assert_eq!(run(&mut d, &evs), vec![(0, 6), (300, 6)]);
}

#[test]
fn an_upper_bound_is_judged_when_a_later_event_closes_the_window() {
    let c = corr(
        r#"
title: Too few heartbeats
correlation:
  type: event_count
  rules: [heartbeat]
  group-by: [host.name]
  timespan: 1m
  condition: { lt: 3 }
"#,
    );
    let mut engine = CorrelationEngine::new(vec![c], 100);
    let beat = |s: i64| {
        let mut e = Event::new(t(s), "agent");
        e.set("host.name", "web1");
        e
    };
    let input: Vec<(&str, Event)> = [0, 10, 100, 110, 120, 170]
        .iter()
        .map(|s| ("heartbeat", beat(*s)))
        .collect();
    let hits = feed_all(&mut engine, &input);
    // [0, 60) had 2: judged by the event at 100. [100, 160) had 3: no hit.
    assert_eq!(hits.iter().map(secs).collect::<Vec<_>>(), vec![(0, 10, 2)]);
    // [170, 230) is still open at 200, judged at 230.
    assert!(engine.flush(t(200)).is_empty());
    assert_eq!(
        engine.flush(t(230)).iter().map(secs).collect::<Vec<_>>(),
        vec![(170, 170, 1)]
    );
}
