//! Sigma rules and Sigma correlations as part of a [`crate::RuleSet`].
//!
//! A Sigma rule that matches an event raises an alert carrying the rule's
//! metadata ([`RuleInfo`]); a rule that a correlation references feeds that
//! correlation, and raises its own alerts only if some correlation that
//! references it says `generate: true` (the specification's default is
//! `false`: the base rules of a correlation are quiet).

use std::collections::{BTreeMap, HashSet};

use riposte_model::{
    Alert, AlertId, Confidence, Event, RuleInfo, Severity, Timestamp, format_duration,
};
use riposte_sigma::{LintReport, SigmaRule, SigmaRules};

use crate::{Correlation, CorrelationHit};

/// The Sigma part of a rule set.
#[derive(Clone, Debug, Default)]
pub struct SigmaSet {
    pub rules: SigmaRules,
    pub correlations: Vec<Correlation>,
    /// Rules that did not load, documents skipped, rules whose logsource
    /// has no mapping: not fatal, listed by `riposte rules lint`.
    pub report: LintReport,
    /// Ids and names of rules some correlation references.
    referenced: HashSet<String>,
    /// Ids and names of referenced rules that still raise their own alerts.
    generating: HashSet<String>,
}

impl SigmaSet {
    pub fn new(rules: SigmaRules, correlations: Vec<Correlation>, report: LintReport) -> Self {
        let mut referenced = HashSet::new();
        let mut generating = HashSet::new();
        for c in &correlations {
            for r in &c.rules {
                referenced.insert(r.clone());
                if c.generate {
                    generating.insert(r.clone());
                }
            }
        }
        Self {
            rules,
            correlations,
            report,
            referenced,
            generating,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.correlations.is_empty()
    }

    /// Whether a rule (by id or name) feeds a correlation.
    pub fn is_referenced(&self, id: &str, name: Option<&str>) -> bool {
        !self.referenced.is_empty()
            && (self.referenced.contains(id) || name.is_some_and(|n| self.referenced.contains(n)))
    }

    /// Whether a rule raises its own alerts.
    pub fn generates(&self, id: &str, name: Option<&str>) -> bool {
        !self.is_referenced(id, name)
            || self.generating.contains(id)
            || name.is_some_and(|n| self.generating.contains(n))
    }

    /// Every id a playbook may name: Sigma rule ids and correlation ids.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules
            .rules()
            .iter()
            .filter_map(SigmaRule::id)
            .chain(self.correlations.iter().filter_map(|c| c.id.as_deref()))
    }
}

/// The id an alert of this rule carries: the rule's `id`, else its file.
pub(crate) fn rule_id(rule: &SigmaRule) -> String {
    match rule.id() {
        Some(id) => id.to_owned(),
        None => format!("sigma:{}", rule.file().display()),
    }
}

/// The alert one matching event of a Sigma rule raises.
pub(crate) fn rule_alert(rule: &SigmaRule, event: &Event, now: Timestamp) -> Alert {
    let meta = rule.meta();
    let host = event
        .get_str("host.name")
        .or_else(|| event.get_str("Computer"));
    let summary = match host {
        Some(h) => format!("{} on {h}", meta.title),
        None => meta.title.clone(),
    };
    Alert {
        id: AlertId::new(),
        rule_id: rule_id(rule),
        rule_title: meta.title.clone(),
        severity: meta.severity,
        confidence: meta.confidence,
        created_at: now,
        first_seen: event.timestamp,
        last_seen: event.timestamp,
        group: BTreeMap::new(),
        summary,
        count: 1,
        observables: event.observables.clone(),
        evidence: vec![event.id],
        rule: RuleInfo {
            kind: "sigma".into(),
            status: meta.status.clone(),
            level: meta.level.clone(),
            tags: meta.tags.clone(),
            attack_tactics: meta.attack.tactics.clone(),
            attack_techniques: meta.attack.techniques.clone(),
            references: meta.references.clone(),
            falsepositives: meta.falsepositives.clone(),
            file: Some(rule.file().display().to_string()),
        },
    }
}

/// The alert a correlation hit raises; `last` is the event that completed
/// it (its observables go into the alert), absent when a flush closed it.
pub(crate) fn correlation_alert(
    corr: &Correlation,
    hit: CorrelationHit,
    last: Option<&Event>,
    now: Timestamp,
) -> Alert {
    let rule_id = corr
        .id
        .clone()
        .or_else(|| corr.name.clone())
        .unwrap_or_else(|| format!("sigma:{}", corr.file));
    let severity = match corr.level.as_deref() {
        Some("informational") => Severity::Info,
        Some(level) => level.parse().unwrap_or(Severity::Medium),
        None => Severity::Medium,
    };
    let confidence: Confidence = riposte_sigma::confidence_for(None, corr.level.as_deref());
    let key = hit
        .group
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let summary = format!(
        "{}: {} {} within {}{}{}",
        corr.title,
        hit.count,
        corr.kind.counted(),
        format_duration(corr.timespan),
        if key.is_empty() { "" } else { " for " },
        key
    );
    Alert {
        id: AlertId::new(),
        rule_id,
        rule_title: corr.title.clone(),
        severity,
        confidence,
        created_at: now,
        first_seen: hit.first_seen,
        last_seen: hit.last_seen,
        group: hit.group,
        summary,
        count: hit.count,
        observables: last.map(|e| e.observables.clone()).unwrap_or_default(),
        evidence: hit.evidence,
        rule: RuleInfo {
            kind: "sigma-correlation".into(),
            level: corr.level.clone(),
            file: Some(corr.file.clone()),
            ..RuleInfo::default()
        },
    }
}
