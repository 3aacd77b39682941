//! Runs a rule set over events in order and keeps the per-key state of
//! `threshold` and `leaky` rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::TimeDelta;
use riposte_model::{
    Alert, AlertId, Event, Observable, ObservableKind, RuleInfo, Timestamp, format_duration,
};
use serde_json::json;

use crate::window::{Expiry, Hit, Key, KeyedTable, Leaky, Window};
use crate::{CorrelationEngine, CorrelationStats, Rule, RuleKind, RuleSet};

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
    /// Sigma rule matches (alerting or feeding correlations).
    pub sigma_matches: u64,
    /// Sigma correlations: hits, groups held, groups dropped at `max_keys`.
    pub correlations: CorrelationStats,
}

/// The state of one key of a `threshold` or `leaky` rule.
#[derive(Debug)]
struct KeyState {
    window: Window,
    bucket: Leaky,
    /// After an alert with `blackhole`, the key is silent until then.
    silent_until: Option<Timestamp>,
    last_seen: Timestamp,
    expires_at: Timestamp,
    /// The distinct observables of the key's counted events (at most
    /// [`MAX_ALERT_OBSERVABLES`]), for the alert: a clone only when an
    /// event brings a new one.
    observables: Vec<Observable>,
}

impl KeyState {
    fn new(now: Timestamp) -> Self {
        Self {
            window: Window::default(),
            bucket: Leaky::default(),
            silent_until: None,
            last_seen: now,
            expires_at: now,
            observables: Vec::new(),
        }
    }
}

impl Expiry for KeyState {
    fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    fn last_seen(&self) -> Timestamp {
        self.last_seen
    }
}

/// The most observables carried into one alert.
const MAX_ALERT_OBSERVABLES: usize = 64;

/// Applies a [`RuleSet`] to a stream of events.
#[derive(Debug)]
pub struct Detector {
    rules: Arc<RuleSet>,
    /// Per rule (by index), its keys' state; `None` for `match` rules.
    state: Vec<Option<KeyedTable<KeyState>>>,
    /// Per rule, whether its summary reads `event`: building the nested
    /// event for the template is most of an alert's cost.
    summary_reads_event: Vec<bool>,
    /// Per rule, whether its summary is the default one, which is then
    /// formatted directly: rendering a template costs microseconds, and a
    /// brute-force log raises an alert every few events.
    default_summary: Vec<bool>,
    max_keys: usize,
    stats: DetectorStats,
    /// Sigma correlations' per-group state.
    correlation: CorrelationEngine,
    /// Buffers the Sigma index reuses between events.
    sigma_scratch: riposte_sigma::Scratch,
}

impl Detector {
    /// The default bound on per-rule keys (distinct source addresses, …).
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    pub fn new(rules: Arc<RuleSet>) -> Self {
        Self::with_max_keys(rules, Self::DEFAULT_MAX_KEYS)
    }

    pub fn with_max_keys(rules: Arc<RuleSet>, max_keys: usize) -> Self {
        let max_keys = max_keys.max(1);
        let state = rules
            .rules
            .iter()
            .map(|r| match r.kind {
                RuleKind::Match => None,
                _ => Some(KeyedTable::new(max_keys)),
            })
            .collect();
        let summary_reads_event = rules
            .rules
            .iter()
            .map(|r| r.summary.variables().iter().any(|v| v == "event"))
            .collect();
        let default_summary = rules
            .rules
            .iter()
            .map(|r| {
                r.summary.source()
                    == crate::rule::default_summary(&Some(r.kind.clone()), &r.group_by)
            })
            .collect();
        let correlation = CorrelationEngine::new(rules.sigma.correlations.clone(), max_keys);
        Self {
            correlation,
            sigma_scratch: riposte_sigma::Scratch::default(),
            rules,
            state,
            summary_reads_event,
            default_summary,
            max_keys,
            stats: DetectorStats::default(),
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The bound on keys per rule.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Forgets all per-key state (partial counts, blackholes), keeping
    /// rules, bound and counters: for when events it has seen were not
    /// stored and will be seen again.
    pub fn reset(&mut self) {
        for table in self.state.iter_mut().flatten() {
            table.clear();
        }
        self.correlation =
            CorrelationEngine::new(self.rules.sigma.correlations.clone(), self.max_keys);
    }

    pub fn stats(&self) -> DetectorStats {
        DetectorStats {
            keys: self.state.iter().flatten().map(|t| t.len() as u64).sum(),
            correlations: self.correlation.stats(),
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
            // `match:` conditions on fields the filter does not set are
            // checked before the (costlier) filter runs.
            let checked_first = !rule.matcher.fields().any(crate::fail2ban::sets_field);
            if checked_first && !rule.matcher.matches(event) {
                continue;
            }
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
            if !checked_first && !rule.matcher.matches(event) {
                continue;
            }
            if rules.sigma.is_referenced(&rule.id, None) {
                for hit in self.correlation.feed(&rule.id, None, event) {
                    let corr = &rules.sigma.correlations[hit.correlation];
                    alerts.push(crate::sigma::correlation_alert(corr, hit, Some(event), now));
                }
            }
            let alert = match rule.kind {
                RuleKind::Match => Some(self.single_event_alert(idx, rule, event, now)),
                _ => self.stateful(idx, rule, event, now),
            };
            if let Some(alert) = alert {
                alerts.push(alert);
            }
        }
        if !rules.sigma.rules.is_empty() {
            self.sigma(&rules.sigma, event, now, &mut alerts);
        }
        self.stats.alerts += alerts.len() as u64;
        alerts
    }

    /// Sigma rules: an alert per match of a generating rule, and the
    /// matches of correlated rules fed to their correlations.
    fn sigma(
        &mut self,
        sigma: &crate::SigmaSet,
        event: &Event,
        now: Timestamp,
        alerts: &mut Vec<Alert>,
    ) {
        let Self {
            sigma_scratch,
            correlation,
            stats,
            ..
        } = self;
        sigma.rules.for_each_match(event, sigma_scratch, |rule| {
            stats.sigma_matches += 1;
            let id = rule.id().unwrap_or_default();
            let name = rule.meta().name.as_deref();
            if sigma.generates(id, name) {
                alerts.push(crate::sigma::rule_alert(rule, event, now));
            }
            if sigma.is_referenced(id, name) {
                for hit in correlation.feed(id, name, event) {
                    let corr = &sigma.correlations[hit.correlation];
                    alerts.push(crate::sigma::correlation_alert(corr, hit, Some(event), now));
                }
            }
        });
    }

    /// Closes the correlation windows that are over at `now` (event time:
    /// the newest event seen) and returns their alerts: correlations with
    /// an upper bound (`lt`, `lte`, `eq`) are judged only once their window
    /// has passed. Call it when the input is idle or at its end.
    pub fn flush(&mut self, now: Timestamp, created_at: Timestamp) -> Vec<Alert> {
        let rules = Arc::clone(&self.rules);
        let alerts: Vec<Alert> = self
            .correlation
            .flush(now)
            .into_iter()
            .map(|hit| {
                let corr = &rules.sigma.correlations[hit.correlation];
                crate::sigma::correlation_alert(corr, hit, None, created_at)
            })
            .collect();
        self.stats.alerts += alerts.len() as u64;
        alerts
    }

    fn single_event_alert(
        &mut self,
        idx: usize,
        rule: &Rule,
        event: &Event,
        now: Timestamp,
    ) -> Alert {
        let group = Key::of(event, &rule.group_by)
            .map(|k| zip_group(rule, &k))
            .unwrap_or_default();
        let mut alert = new_alert(rule, now, event.timestamp, event.timestamp, group, 1);
        alert.evidence = vec![event.id];
        alert.observables = event.observables.clone();
        alert.severity = severity_for(rule, event);
        self.summarize(idx, rule, &mut alert, event, None);
        alert
    }

    /// `threshold` and `leaky`. Allocates nothing for an event of a key
    /// already tracked that does not alert.
    fn stateful(
        &mut self,
        idx: usize,
        rule: &Rule,
        event: &Event,
        now: Timestamp,
    ) -> Option<Alert> {
        // Events missing a group-by (or distinct) field cannot be
        // attributed; skip them.
        let key = Key::of(event, &rule.group_by)?;
        let table = self.state.get_mut(idx)?.as_mut()?;
        let distinct = rule.kind.distinct();
        let value = match distinct {
            Some(field) => table.value_hash(&crate::window::field_text(event, field)?),
            None => 0,
        };
        let ts = event.timestamp;
        let (st, evicted) = table.entry(&key, ts, || KeyState::new(ts));
        self.stats.evicted_keys += evicted;
        st.last_seen = st.last_seen.max(ts);
        if let Some(until) = st.silent_until {
            if ts < until {
                return None;
            }
            st.silent_until = None;
        }
        let hit = Hit {
            ts,
            id: event.id,
            value,
        };
        let (fired, window) = match rule.kind {
            RuleKind::Match => return None,
            RuleKind::Threshold { count, window, .. } => {
                st.window.expire(ts - window);
                if st.window.len() == 0 {
                    st.observables.clear();
                }
                note_observables(&mut st.observables, event);
                st.window.push(hit, distinct.is_some());
                st.expires_at = ts + window;
                let reached = if distinct.is_some() {
                    st.window.distinct()
                } else {
                    st.window.len()
                };
                (
                    (reached >= count as usize).then(|| (st.window.take(), reached)),
                    Some(window),
                )
            }
            RuleKind::Leaky {
                capacity,
                leak_speed,
                ..
            } => {
                if st.bucket.empty_at().is_none_or(|e| e <= ts) {
                    st.observables.clear();
                }
                note_observables(&mut st.observables, event);
                let out = st
                    .bucket
                    .pour(hit, distinct.is_some(), capacity, leak_speed);
                st.expires_at = st.bucket.empty_at().unwrap_or(ts);
                (
                    out.map(|h| {
                        let n = h.len();
                        (h, n)
                    }),
                    None,
                )
            }
        };
        let (hits, count) = fired?;
        let observables = std::mem::take(&mut st.observables);
        match rule.kind.blackhole() {
            Some(silence) => {
                st.silent_until = Some(ts + silence);
                st.expires_at = st.expires_at.max(ts + silence);
            }
            None => table.remove(&key),
        }
        let first = hits.first().map_or(ts, |h| h.ts);
        let mut alert = new_alert(rule, now, first, ts, zip_group(rule, &key), count as u64);
        alert.severity = severity_for(rule, event);
        alert.evidence = hits.iter().map(|h| h.id).collect();
        for (field, value) in &alert.group {
            if value.parse::<std::net::IpAddr>().is_ok() {
                alert.observables.push(Observable::new(
                    ObservableKind::Ip,
                    value.clone(),
                    Some(field),
                ));
            }
        }
        for obs in observables {
            if alert.observables.len() < MAX_ALERT_OBSERVABLES && !alert.observables.contains(&obs)
            {
                alert.observables.push(obs);
            }
        }
        self.summarize(idx, rule, &mut alert, event, window);
        Some(alert)
    }

    fn summarize(
        &mut self,
        idx: usize,
        rule: &Rule,
        alert: &mut Alert,
        event: &Event,
        window: Option<TimeDelta>,
    ) {
        if self.default_summary.get(idx).copied().unwrap_or(false)
            && let Some(text) = fast_summary(rule, alert, window)
        {
            alert.summary = text;
            return;
        }
        let ctx = json!({
            "rule": {"id": rule.id, "title": rule.title},
            "count": alert.count,
            "window": window.map(format_duration),
            "group": alert.group,
            "event": if self.summary_reads_event.get(idx).copied().unwrap_or(true) {
                event.to_nested_json()
            } else {
                serde_json::Value::Null
            },
        });
        alert.summary = rule.summary.render(ctx).unwrap_or_else(|e| {
            self.stats.summary_errors += 1;
            tracing::warn!(rule = %rule.id, error = %e, "alert summary template failed");
            rule.title.clone()
        });
    }
}

fn note_observables(seen: &mut Vec<Observable>, event: &Event) {
    for obs in &event.observables {
        if seen.len() < MAX_ALERT_OBSERVABLES && !seen.contains(obs) {
            seen.push(obs.clone());
        }
    }
}

/// The default summary of a stateful rule (see `rule::default_summary`),
/// formatted without the template engine; `None` for kinds it does not
/// cover.
fn fast_summary(rule: &Rule, alert: &Alert, window: Option<TimeDelta>) -> Option<String> {
    let key = rule
        .group_by
        .iter()
        .map(|f| alert.group.get(f).map_or("", String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let (title, count) = (&rule.title, alert.count);
    match (&rule.kind, window) {
        (
            RuleKind::Threshold {
                distinct: Some(d), ..
            },
            Some(w),
        ) => Some(format!(
            "{title}: {count} distinct {d} from {key} within {}",
            format_duration(w)
        )),
        (RuleKind::Threshold { .. }, Some(w)) => Some(format!(
            "{title}: {count} events from {key} within {}",
            format_duration(w)
        )),
        (RuleKind::Leaky { .. }, _) => Some(format!(
            "{title}: bucket for {key} overflowed with {count} events"
        )),
        _ => None,
    }
}

fn zip_group(rule: &Rule, key: &Key<'_>) -> BTreeMap<String, String> {
    rule.group_by
        .iter()
        .cloned()
        .zip(key.parts().iter().map(|p| p.clone().into_owned()))
        .collect()
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
        rule: RuleInfo {
            kind: "native".into(),
            tags: rule.tags.clone(),
            file: Some(rule.file.clone()),
            ..RuleInfo::default()
        },
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
        assert_eq!(
            a.observables,
            vec![Observable::new(
                ObservableKind::Ip,
                "203.0.113.7",
                Some("source.ip")
            )]
        );
    }

    #[test]
    fn threshold_alerts_carry_the_observables_of_every_counted_event() {
        let mut d = detector(100);
        let mut alerts = Vec::new();
        for (i, user) in ["root", "admin", "root"].iter().enumerate() {
            let mut e = failure("203.0.113.7", t(i as u32));
            e.add_observable(ObservableKind::User, *user, "user.name");
            alerts.extend(d.process(&e, t(3)));
        }
        let users: Vec<&str> = alerts[0]
            .observables
            .iter()
            .filter(|o| o.kind == ObservableKind::User)
            .map(|o| o.value.as_str())
            .collect();
        assert_eq!(users, vec!["root", "admin"]);
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
        let has = |d: &Detector, ip: &str| {
            let e = failure(ip, t(0));
            let key = Key::of(&e, &["source.ip"]).unwrap();
            d.state[0].as_ref().unwrap().contains(&key)
        };
        for gone in ["192.0.2.0", "192.0.2.1"] {
            assert!(!has(&d, gone), "{gone} should be evicted");
        }
        assert!(has(&d, "192.0.2.2"));
        assert!(has(&d, "198.51.100.1"));
        // The next new key fits without another scan.
        d.process(&failure("198.51.100.2", t(21)), t(21));
        assert_eq!((d.stats().keys, d.stats().evicted_keys), (20, 2));
    }

    #[test]
    fn default_summaries_are_formatted_as_the_template_would() {
        let text = r#"
version: 1
rules:
  - id: a
    title: "Brute <force> & \"friends\""
    kind: threshold
    match: { event.dataset: sshd }
    group_by: [source.ip, user.name]
    count: 2
    window: 90m
    severity: high
  - id: b
    title: Spray 'x'
    kind: threshold
    match: { event.dataset: sshd }
    group_by: [source.ip]
    distinct: user.name
    count: 1
    window: 60s
    severity: high
  - id: c
    title: Bucket
    kind: leaky
    match: { event.dataset: sshd }
    group_by: [source.ip]
    capacity: 1
    leak_speed: 1h
    severity: high
"#;
        let rules = Arc::new(parse_rules("r.yaml", text).unwrap());
        let mut fast = Detector::new(Arc::clone(&rules));
        let mut slow = Detector::new(rules);
        slow.default_summary = vec![false; 3];
        let mut e = failure("203.0.113.<7>", t(0));
        e.set("user.name", "r&\"oot'");
        let mut got = Vec::new();
        for d in [&mut fast, &mut slow] {
            d.process(&e, t(0));
            got.push(
                d.process(&e, t(0))
                    .into_iter()
                    .map(|a| a.summary)
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(
            got[0],
            vec![
                "Brute <force> & \"friends\": 2 events from 203.0.113.<7> r&\"oot' within 1h30m",
                "Spray 'x': 1 distinct user.name from 203.0.113.<7> within 1m",
                "Bucket: bucket for 203.0.113.<7> overflowed with 2 events",
            ]
        );
        assert_eq!(got[0], got[1]);
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
