//! Runs a rule set over events in order and keeps threshold state.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use chrono::TimeDelta;
use riposte_model::{
    Alert, AlertId, Event, EventId, Observable, ObservableKind, Timestamp, format_duration,
};
use serde_json::json;

use crate::{Rule, RuleKind, RuleSet};

/// Counters a person reads when tuning: how much state the detector holds and
/// what it had to drop.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DetectorStats {
    pub events: u64,
    pub alerts: u64,
    pub keys: u64,
    /// Keys dropped because a rule hit `max_keys`; each may have hidden an
    /// attack, so it is counted and logged.
    pub evicted_keys: u64,
    /// Alerts whose summary template failed; they are raised with the title.
    pub summary_errors: u64,
}

#[derive(Debug, Default)]
struct Bucket {
    hits: VecDeque<(Timestamp, EventId, Vec<Observable>)>,
}

/// The most observables carried into one alert; a threshold alert over many
/// events keeps the first ones seen.
const MAX_ALERT_OBSERVABLES: usize = 64;

/// Applies a [`RuleSet`] to a stream of events.
#[derive(Debug)]
pub struct Detector {
    rules: Arc<RuleSet>,
    /// Per threshold rule (by index), its buckets by group key.
    state: HashMap<usize, HashMap<Vec<String>, Bucket>>,
    max_keys: usize,
    stats: DetectorStats,
}

impl Detector {
    /// The default bound on per-rule keys (distinct source addresses, …).
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    pub fn new(rules: Arc<RuleSet>) -> Self {
        Self::with_max_keys(rules, Self::DEFAULT_MAX_KEYS)
    }

    pub fn with_max_keys(rules: Arc<RuleSet>, max_keys: usize) -> Self {
        Self {
            rules,
            state: HashMap::new(),
            max_keys: max_keys.max(1),
            stats: DetectorStats::default(),
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Forgets all threshold state (partial counts), keeping rules, bound
    /// and counters: for when events it has seen were not stored and will
    /// be seen again.
    pub fn reset(&mut self) {
        self.state.clear();
    }

    pub fn stats(&self) -> DetectorStats {
        DetectorStats {
            keys: self.state.values().map(|m| m.len() as u64).sum(),
            ..self.stats.clone()
        }
    }

    /// Feeds one event; returns the alerts it completes. `now` is the
    /// processing clock (the alerts' `created_at`); windows use event time.
    pub fn process(&mut self, event: &Event, now: Timestamp) -> Vec<Alert> {
        self.stats.events += 1;
        let mut alerts = Vec::new();
        let rules = Arc::clone(&self.rules);
        for (idx, rule) in rules.rules.iter().enumerate() {
            let with_fail2ban;
            let event = match &rule.fail2ban {
                None => event,
                Some(filter) => match crate::fail2ban::annotate(filter, event) {
                    Some(e) => {
                        with_fail2ban = e;
                        &with_fail2ban
                    }
                    None => continue,
                },
            };
            if !rule.matcher.matches(event) {
                continue;
            }
            let alert = match rule.kind {
                RuleKind::Match => Some(self.single_event_alert(rule, event, now)),
                RuleKind::Threshold { count, window } => {
                    self.threshold(idx, rule, count, window, event, now)
                }
            };
            if let Some(alert) = alert {
                self.stats.alerts += 1;
                alerts.push(alert);
            }
        }
        alerts
    }

    fn single_event_alert(&mut self, rule: &Rule, event: &Event, now: Timestamp) -> Alert {
        let group = group_values(rule, event)
            .map(|v| zip_group(rule, v))
            .unwrap_or_default();
        let mut alert = new_alert(rule, now, event.timestamp, event.timestamp, group, 1);
        alert.evidence = vec![event.id];
        alert.observables = event.observables.clone();
        alert.severity = severity_for(rule, event);
        self.summarize(rule, &mut alert, event, None);
        alert
    }

    fn threshold(
        &mut self,
        idx: usize,
        rule: &Rule,
        count: u32,
        window: TimeDelta,
        event: &Event,
        now: Timestamp,
    ) -> Option<Alert> {
        // Events missing a group-by field cannot be attributed; skip them.
        let key = group_values(rule, event)?;
        let max_keys = self.max_keys;
        let buckets = self.state.entry(idx).or_default();
        if !buckets.contains_key(&key) && buckets.len() >= max_keys {
            self.stats.evicted_keys += evict(buckets, event.timestamp - window);
        }
        let bucket = buckets.entry(key.clone()).or_default();
        let horizon = event.timestamp - window;
        while bucket.hits.front().is_some_and(|(ts, _, _)| *ts <= horizon) {
            bucket.hits.pop_front();
        }
        bucket
            .hits
            .push_back((event.timestamp, event.id, event.observables.clone()));
        if bucket.hits.len() < count as usize {
            return None;
        }
        let hits = std::mem::take(&mut bucket.hits);
        buckets.remove(&key);
        let first = hits.front().map_or(event.timestamp, |h| h.0);
        let mut alert = new_alert(
            rule,
            now,
            first,
            event.timestamp,
            zip_group(rule, key),
            hits.len() as u64,
        );
        alert.severity = severity_for(rule, event);
        for (_, id, observables) in &hits {
            alert.evidence.push(*id);
            for obs in observables {
                if alert.observables.len() < MAX_ALERT_OBSERVABLES
                    && !alert.observables.contains(obs)
                {
                    alert.observables.push(obs.clone());
                }
            }
        }
        for (field, value) in &alert.group {
            if value.parse::<std::net::IpAddr>().is_ok() {
                let obs = Observable::new(ObservableKind::Ip, value.clone(), Some(field));
                if !alert.observables.contains(&obs) {
                    alert.observables.insert(0, obs);
                }
            }
        }
        self.summarize(rule, &mut alert, event, Some(window));
        Some(alert)
    }

    fn summarize(
        &mut self,
        rule: &Rule,
        alert: &mut Alert,
        event: &Event,
        window: Option<TimeDelta>,
    ) {
        let ctx = json!({
            "rule": {"id": rule.id, "title": rule.title},
            "count": alert.count,
            "window": window.map(format_duration),
            "group": alert.group,
            "event": event.to_nested_json(),
        });
        alert.summary = rule.summary.render(ctx).unwrap_or_else(|e| {
            self.stats.summary_errors += 1;
            tracing::warn!(rule = %rule.id, error = %e, "alert summary template failed");
            rule.title.clone()
        });
    }
}

/// Drops buckets whose newest hit is at or before `horizon`; if none are
/// stale, drops the least recently seen tenth, so that a flood of new keys
/// (an attacker rotating addresses) costs one scan per tenth of the table,
/// not one per key. Returns how many went.
fn evict(buckets: &mut HashMap<Vec<String>, Bucket>, horizon: Timestamp) -> u64 {
    let before = buckets.len();
    buckets.retain(|_, b| b.hits.back().is_some_and(|(ts, _, _)| *ts > horizon));
    if buckets.len() == before {
        let mut last_seen: Vec<Timestamp> = buckets
            .values()
            .filter_map(|b| b.hits.back().map(|h| h.0))
            .collect();
        let n = (before / 10).max(1).min(last_seen.len());
        if n > 0 {
            let (_, cutoff, _) = last_seen.select_nth_unstable(n - 1);
            let cutoff = *cutoff;
            let mut left = n;
            buckets.retain(|_, b| {
                let old = left > 0 && b.hits.back().is_none_or(|h| h.0 <= cutoff);
                if old {
                    left -= 1;
                }
                !old
            });
        }
    }
    let evicted = (before - buckets.len()) as u64;
    tracing::warn!(
        evicted,
        kept = buckets.len(),
        "threshold state full; evicted keys"
    );
    evicted
}

fn group_values(rule: &Rule, event: &Event) -> Option<Vec<String>> {
    rule.group_by
        .iter()
        .map(|f| event.get(f).map(|v| v.to_string()))
        .collect()
}

fn zip_group(rule: &Rule, values: Vec<String>) -> BTreeMap<String, String> {
    rule.group_by.iter().cloned().zip(values).collect()
}

fn severity_for(rule: &Rule, event: &Event) -> riposte_model::Severity {
    rule.severity_from
        .as_ref()
        .and_then(|sf| {
            event
                .get(&sf.field)
                .and_then(|v| sf.map.get(&v.to_string()).copied())
        })
        .unwrap_or(rule.severity)
}

fn new_alert(
    rule: &Rule,
    now: Timestamp,
    first_seen: Timestamp,
    last_seen: Timestamp,
    group: BTreeMap<String, String>,
    count: u64,
) -> Alert {
    Alert {
        id: AlertId::new(),
        rule_id: rule.id.clone(),
        rule_title: rule.title.clone(),
        severity: rule.severity,
        confidence: rule.confidence,
        created_at: now,
        first_seen,
        last_seen,
        group,
        summary: String::new(),
        count,
        observables: Vec::new(),
        evidence: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse_rules;
    use chrono::{TimeZone, Utc};
    use riposte_model::Severity;

    const RULES: &str = r#"
version: 1
rules:
  - id: ssh-bruteforce
    title: SSH brute force
    kind: threshold
    match: { event.dataset: sshd, event.outcome: failure }
    group_by: [source.ip]
    count: 3
    window: 60s
    severity: high
    confidence: 85
  - id: suricata-alert
    title: Suricata alert
    kind: match
    match: { event.dataset: suricata.alert }
    severity: medium
    severity_from: { field: event.severity, map: { "1": high, "3": low } }
    summary: "{{ event.rule.name }} from {{ event.source.ip }}"
"#;

    fn t(s: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap() + TimeDelta::seconds(s.into())
    }

    fn failure(ip: &str, at: Timestamp) -> Event {
        let mut e = Event::new(at, "sshd");
        e.set("event.outcome", "failure");
        e.set("source.ip", ip);
        e.add_observable(ObservableKind::Ip, ip, "source.ip");
        e
    }

    fn detector(max_keys: usize) -> Detector {
        Detector::with_max_keys(Arc::new(parse_rules("r.yaml", RULES).unwrap()), max_keys)
    }

    #[test]
    fn threshold_fires_at_count_within_window_per_key() {
        let mut d = detector(100);
        let mut fired = Vec::new();
        for (i, ip) in ["203.0.113.7", "198.51.100.9", "203.0.113.7", "203.0.113.7"]
            .iter()
            .enumerate()
        {
            fired.extend(d.process(&failure(ip, t(i as u32 * 10)), t(100)));
        }
        assert_eq!(fired.len(), 1);
        let a = &fired[0];
        assert_eq!(a.rule_id, "ssh-bruteforce");
        assert_eq!(a.group.get("source.ip").unwrap(), "203.0.113.7");
        assert_eq!(a.count, 3);
        assert_eq!(a.evidence.len(), 3);
        assert_eq!((a.first_seen, a.last_seen), (t(0), t(30)));
        assert_eq!(a.severity, Severity::High);
        assert_eq!(
            a.summary,
            "SSH brute force: 3 events from 203.0.113.7 within 1m"
        );
        assert_eq!(d.stats().keys, 1, "the fired key is reset, the other kept");
    }

    #[test]
    fn events_outside_the_window_do_not_count() {
        let mut d = detector(100);
        let mut n = 0;
        for s in [0, 50, 105, 155] {
            n += d.process(&failure("203.0.113.7", t(s)), t(s)).len();
        }
        assert_eq!(n, 0, "never 3 within 60s");
        n += d.process(&failure("203.0.113.7", t(160)), t(160)).len();
        assert_eq!(
            n, 1,
            "105, 155, 160 are within 60s (the far edge is exclusive)"
        );
    }

    #[test]
    fn key_state_is_bounded_and_evictions_counted() {
        let mut d = detector(2);
        for (i, ip) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
            d.process(&failure(ip, t(i as u32)), t(3));
        }
        let stats = d.stats();
        assert_eq!((stats.keys, stats.evicted_keys), (2, 1));
    }

    #[test]
    fn a_full_table_drops_the_least_recently_seen_tenth_at_once() {
        let mut d = detector(20);
        for i in 0..20u32 {
            d.process(&failure(&format!("192.0.2.{i}"), t(i)), t(20));
        }
        // All 20 keys are inside the window: nothing is stale, so the two
        // least recently seen go to make room for the 21st.
        d.process(&failure("198.51.100.1", t(20)), t(20));
        assert_eq!((d.stats().keys, d.stats().evicted_keys), (19, 2));
        let buckets = d.state.values().next().unwrap();
        for gone in ["192.0.2.0", "192.0.2.1"] {
            assert!(
                !buckets.contains_key(&vec![gone.to_owned()]),
                "{gone} should be evicted"
            );
        }
        assert!(buckets.contains_key(&vec!["192.0.2.2".to_owned()]));
        assert!(buckets.contains_key(&vec!["198.51.100.1".to_owned()]));
        // The next new key fits without another scan.
        d.process(&failure("198.51.100.2", t(21)), t(21));
        assert_eq!((d.stats().keys, d.stats().evicted_keys), (20, 2));
    }

    #[test]
    fn match_rule_maps_severity_and_renders_summary() {
        let mut d = detector(10);
        let mut e = Event::new(t(0), "suricata.alert");
        e.set("event.severity", 1i64);
        e.set("rule.name", "ET SCAN Nmap");
        e.set("source.ip", "203.0.113.9");
        let alerts = d.process(&e, t(1));
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].severity, Severity::High);
        assert_eq!(alerts[0].summary, "ET SCAN Nmap from 203.0.113.9");
        assert_eq!(alerts[0].evidence, vec![e.id]);
        e.set("event.severity", 2i64);
        assert_eq!(d.process(&e, t(1))[0].severity, Severity::Medium);
    }

    #[test]
    fn events_without_the_group_field_are_not_counted() {
        let mut d = detector(10);
        let mut e = Event::new(t(0), "sshd");
        e.set("event.outcome", "failure");
        for _ in 0..5 {
            assert!(d.process(&e, t(0)).is_empty());
        }
        assert_eq!(d.stats().keys, 0);
    }
}
