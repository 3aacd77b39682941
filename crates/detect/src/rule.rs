//! The native rule file format (`version: 1`) and its validation.
//!
//! ```yaml
//! version: 1
//! rules:
//!   - id: ssh-bruteforce
//!     title: SSH brute force
//!     kind: threshold
//!     match: { event.dataset: sshd, event.outcome: failure }
//!     group_by: [source.ip]
//!     count: 6
//!     window: 60s
//!     severity: high
//!     confidence: 85
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;
use riposte_model::yaml::{check_keys, display_value, item_name, parse_document, take};
use riposte_model::{Confidence, Problems, Severity, parse_duration};
use riposte_template::Template;
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::Matcher;
use crate::fail2ban::Fail2banFilter;
use crate::parse_correlation;
use crate::sigma::SigmaSet;
use riposte_sigma::Mapping;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    kind: String,
    #[serde(rename = "match", default)]
    match_: BTreeMap<String, Value>,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    distinct: Option<String>,
    #[serde(default)]
    blackhole: Option<String>,
    #[serde(default)]
    capacity: Option<u32>,
    #[serde(default)]
    leak_speed: Option<String>,
    severity: String,
    #[serde(default)]
    severity_from: Option<RawSeverityFrom>,
    #[serde(default)]
    confidence: Option<u8>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    fail2ban: Option<RawFail2ban>,
}

/// `fail2ban: { filter: path/to/sshd.conf, options: { mode: aggressive } }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFail2ban {
    filter: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeverityFrom {
    field: String,
    map: BTreeMap<String, String>,
}

/// Takes the alert's severity from an event field (Suricata's 1-3 scale, …),
/// falling back to the rule's own severity for unmapped values.
#[derive(Clone, Debug)]
pub struct SeverityFrom {
    pub field: String,
    pub map: BTreeMap<String, Severity>,
}

#[derive(Clone, Debug)]
pub enum RuleKind {
    Match,
    /// `count` events (or `count` distinct values of `distinct`) per key
    /// within `window`.
    Threshold {
        count: u32,
        window: TimeDelta,
        distinct: Option<String>,
        blackhole: Option<TimeDelta>,
    },
    /// CrowdSec's leaky bucket: overflows when a pour would take it above
    /// `capacity`; leaks one event per `leak_speed`.
    Leaky {
        capacity: u32,
        leak_speed: TimeDelta,
        distinct: Option<String>,
        blackhole: Option<TimeDelta>,
    },
}

impl RuleKind {
    /// The field whose distinct values are counted, for stateful kinds.
    pub fn distinct(&self) -> Option<&str> {
        match self {
            RuleKind::Match => None,
            RuleKind::Threshold { distinct, .. } | RuleKind::Leaky { distinct, .. } => {
                distinct.as_deref()
            }
        }
    }

    /// How long a key stays silent after an alert.
    pub fn blackhole(&self) -> Option<TimeDelta> {
        match self {
            RuleKind::Match => None,
            RuleKind::Threshold { blackhole, .. } | RuleKind::Leaky { blackhole, .. } => *blackhole,
        }
    }
}

/// A validated, compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub kind: RuleKind,
    pub matcher: Matcher,
    pub group_by: Vec<String>,
    pub severity: Severity,
    pub severity_from: Option<SeverityFrom>,
    pub confidence: Confidence,
    pub summary: Template,
    pub tags: Vec<String>,
    /// A fail2ban filter the event's raw line must match (beside `match:`);
    /// what it extracts becomes readable fields (see `crate::fail2ban`).
    pub fail2ban: Option<Arc<Fail2banFilter>>,
    /// The file the rule came from, for messages.
    pub file: String,
}

/// Every loaded rule: native rules in file order, and the Sigma rules and
/// correlations.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub sigma: SigmaSet,
}

impl RuleSet {
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Every rule id a playbook trigger may name (native, Sigma, Sigma
    /// correlation).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .map(|r| r.id.as_str())
            .chain(self.sigma.ids())
    }
}

const RULE_KINDS: &str = "match, threshold, leaky";
const DEFAULT_CONFIDENCE: u8 = 70;
/// The largest `count`/`capacity`: a window or bucket holds up to this many
/// events per key, times `max_keys` keys.
pub const MAX_COUNT: u32 = 100_000;

/// [`load_rules_with`] and Sigma's built-in logsource mapping.
pub fn load_rules(paths: &[impl AsRef<Path>]) -> Result<RuleSet, Problems> {
    load_rules_with(paths, &Mapping::builtin())
}

/// Reads rule files: each path a YAML file or a directory searched
/// recursively for `*.yaml`/`*.yml`. A file with a top-level `version:`
/// key is a native rules file; any other is read as Sigma (rules,
/// correlations, multi-document collections).
///
/// Every problem of native files and Sigma correlations is returned (the
/// set does not load); Sigma rules that cannot be compiled are left out
/// and listed in `sigma.report`, so that a SigmaHQ checkout with a rule
/// Riposte cannot run still loads the thousands it can. Ids must be unique
/// across native rules, Sigma rules and correlations.
pub fn load_rules_with(paths: &[impl AsRef<Path>], mapping: &Mapping) -> Result<RuleSet, Problems> {
    let mut problems = Problems::new();
    let mut set = RuleSet::default();
    let (files, unreadable) = riposte_sigma::rule_files(paths);
    for r in unreadable {
        problems.push(&r.file.display().to_string(), "", r.reason);
    }
    let mut sigma_texts = Vec::new();
    for file in files {
        let name = file.display().to_string();
        let too_big =
            std::fs::metadata(&file).is_ok_and(|m| m.len() > riposte_sigma::MAX_FILE_BYTES);
        if too_big {
            problems.push(
                &name,
                "",
                format!("larger than {} bytes", riposte_sigma::MAX_FILE_BYTES),
            );
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(text) if is_native(&text) => match parse_rules(&name, &text) {
                Ok(rules) => set.rules.extend(rules.rules),
                Err(p) => problems.extend(p),
            },
            Ok(text) => sigma_texts.push((file, text)),
            Err(e) => problems.push(&name, "", format!("cannot read: {e}")),
        }
    }
    let loaded = riposte_sigma::load_texts(
        sigma_texts.iter().map(|(f, t)| (f.as_path(), t.as_str())),
        mapping,
    );
    let report = loaded.lint();
    let mut correlations = Vec::new();
    for raw in &loaded.correlations {
        match parse_correlation(&raw.file.display().to_string(), &raw.document) {
            Ok(c) => correlations.push(c),
            Err(p) => problems.extend(p),
        }
    }
    set.sigma = SigmaSet::new(loaded.rules, correlations, report);

    let mut seen = HashSet::new();
    for rule in &set.rules {
        if !seen.insert(rule.id.as_str()) {
            problems.push(
                &rule.file,
                format!("rules[{}]", rule.id),
                "duplicate rule id",
            );
        }
    }
    for rule in set.sigma.rules.rules() {
        if let Some(id) = rule.id()
            && !seen.insert(id)
        {
            problems.push(
                &rule.file().display().to_string(),
                format!("rule {id}"),
                "duplicate rule id",
            );
        }
    }
    for corr in &set.sigma.correlations {
        if let Some(id) = corr.id.as_deref()
            && !seen.insert(id)
        {
            problems.push(&corr.file, format!("correlation {id}"), "duplicate rule id");
        }
    }
    problems.into_result(set)
}

/// Native rule files start with `version:` at the top level; Sigma files
/// never have that key.
fn is_native(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("version:"))
}

/// Parses one rule file's text; `file` names it in messages.
pub fn parse_rules(file: &str, text: &str) -> Result<RuleSet, Problems> {
    let mut problems = Problems::new();
    let mut set = RuleSet::default();
    let Some(doc) = parse_document(file, text, "rules", &mut problems) else {
        return Err(problems);
    };
    check_keys(&doc, &["version", "rules"], file, "", &mut problems);
    match doc.get("rules") {
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let loc = format!("rules[{}]", item_name(item, i));
                if let Some(raw) = take::<RawRule>(item.clone(), file, &loc, &mut problems)
                    && let Some(rule) = compile(raw, file, &loc, &mut problems)
                {
                    set.rules.push(rule);
                }
            }
        }
        Some(_) => problems.push(file, "rules", "must be a list of rules"),
        None => problems.push(file, "rules", "missing"),
    }
    problems.into_result(set)
}

fn compile(raw: RawRule, file: &str, loc: &str, problems: &mut Problems) -> Option<Rule> {
    let before = problems.len();
    if raw.id.is_empty()
        || !raw
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        problems.push(
            file,
            format!("{loc}.id"),
            format!(
                "{:?} must be non-empty and use only letters, digits, '-', '_' and '.'",
                raw.id
            ),
        );
    }
    let severity = raw.severity.parse::<Severity>().map_err(|e| {
        problems.push(file, format!("{loc}.severity"), e.to_string());
    });
    let confidence = Confidence::new(raw.confidence.unwrap_or(DEFAULT_CONFIDENCE))
        .map_err(|e| problems.push(file, format!("{loc}.confidence"), e.to_string()));
    let severity_from = raw.severity_from.map(|sf| SeverityFrom {
        map: sf
            .map
            .into_iter()
            .filter_map(|(k, v)| match v.parse::<Severity>() {
                Ok(s) => Some((k, s)),
                Err(e) => {
                    problems.push(file, format!("{loc}.severity_from.map.{k}"), e.to_string());
                    None
                }
            })
            .collect(),
        field: sf.field,
    });

    let gave_fail2ban = raw.fail2ban.is_some();
    let fail2ban = raw.fail2ban.and_then(|f| {
        // Relative filter paths are relative to the rule file.
        let base = Path::new(file).parent().unwrap_or(Path::new(""));
        let path = base.join(&f.filter);
        match Fail2banFilter::load(&path, &f.options) {
            Ok((filter, warnings)) => {
                for w in warnings {
                    tracing::warn!(rule = %raw.id, "{w}");
                }
                Some(Arc::new(filter))
            }
            Err(p) => {
                for e in p.0 {
                    problems.push(
                        file,
                        format!("{loc}.fail2ban"),
                        format!("{}: {}: {}", e.file, e.location, e.message),
                    );
                }
                None
            }
        }
    });
    let mut conditions = Vec::new();
    if raw.match_.is_empty() && !gave_fail2ban {
        problems.push(
            file,
            format!("{loc}.match"),
            "missing; a rule needs at least one field condition (or a fail2ban filter)",
        );
    }
    for (field, value) in raw.match_ {
        let accepted = match &value {
            Value::Sequence(items) => items.iter().map(scalar_text).collect::<Option<Vec<_>>>(),
            other => scalar_text(other).map(|s| vec![s]),
        };
        match accepted {
            Some(values) if !values.is_empty() => conditions.push((field, values)),
            _ => problems.push(
                file,
                format!("{loc}.match.{field}"),
                format!(
                    "{} is not a value or a list of values",
                    display_value(&value)
                ),
            ),
        }
    }

    let kind = match raw.kind.as_str() {
        "match" => {
            for (key, present) in [
                ("count", raw.count.is_some()),
                ("window", raw.window.is_some()),
                ("distinct", raw.distinct.is_some()),
                ("blackhole", raw.blackhole.is_some()),
                ("capacity", raw.capacity.is_some()),
                ("leak_speed", raw.leak_speed.is_some()),
            ] {
                if present {
                    problems.push(
                        file,
                        format!("{loc}.{key}"),
                        "only threshold and leaky rules take this key",
                    );
                }
            }
            Some(RuleKind::Match)
        }
        "threshold" => {
            for (key, present) in [
                ("capacity", raw.capacity.is_some()),
                ("leak_speed", raw.leak_speed.is_some()),
            ] {
                if present {
                    problems.push(
                        file,
                        format!("{loc}.{key}"),
                        "only leaky rules take this key",
                    );
                }
            }
            let blackhole = optional_duration(&raw.blackhole, file, loc, "blackhole", problems);
            let count = bounded_count(
                raw.count,
                file,
                loc,
                "count",
                "missing; threshold rules need a count",
                problems,
            );
            let window = match raw.window.as_deref().map(parse_duration) {
                Some(Ok(w)) => Some(w),
                Some(Err(e)) => {
                    problems.push(file, format!("{loc}.window"), e);
                    None
                }
                None => {
                    problems.push(
                        file,
                        format!("{loc}.window"),
                        "missing; threshold rules need a window",
                    );
                    None
                }
            };
            if raw.group_by.is_empty() {
                problems.push(
                    file,
                    format!("{loc}.group_by"),
                    "missing; threshold rules count per key",
                );
            }
            count
                .zip(window)
                .map(|(count, window)| RuleKind::Threshold {
                    count,
                    window,
                    distinct: raw.distinct.clone(),
                    blackhole,
                })
        }
        "leaky" => {
            for (key, present) in [
                ("count", raw.count.is_some()),
                ("window", raw.window.is_some()),
            ] {
                if present {
                    problems.push(
                        file,
                        format!("{loc}.{key}"),
                        "leaky rules take capacity and leak_speed instead",
                    );
                }
            }
            let blackhole = optional_duration(&raw.blackhole, file, loc, "blackhole", problems);
            let capacity = bounded_count(
                raw.capacity,
                file,
                loc,
                "capacity",
                "missing; leaky rules need a capacity",
                problems,
            );
            let leak_speed = match raw.leak_speed.as_deref().map(parse_duration) {
                Some(Ok(w)) if w > TimeDelta::zero() => Some(w),
                Some(Ok(_)) => {
                    problems.push(file, format!("{loc}.leak_speed"), "must be longer than 0s");
                    None
                }
                Some(Err(e)) => {
                    problems.push(file, format!("{loc}.leak_speed"), e);
                    None
                }
                None => {
                    problems.push(
                        file,
                        format!("{loc}.leak_speed"),
                        "missing; leaky rules need a leak_speed (time per event leaked)",
                    );
                    None
                }
            };
            if raw.group_by.is_empty() {
                problems.push(
                    file,
                    format!("{loc}.group_by"),
                    "missing; leaky rules keep a bucket per key",
                );
            }
            capacity
                .zip(leak_speed)
                .map(|(capacity, leak_speed)| RuleKind::Leaky {
                    capacity,
                    leak_speed,
                    distinct: raw.distinct.clone(),
                    blackhole,
                })
        }
        other => {
            problems.push(
                file,
                format!("{loc}.kind"),
                format!("unknown rule kind {other:?} (valid: {RULE_KINDS})"),
            );
            None
        }
    };

    let summary_src = raw
        .summary
        .unwrap_or_else(|| default_summary(&kind, &raw.group_by));
    let summary = Template::new(&summary_src)
        .map_err(|e| problems.push(file, format!("{loc}.summary"), e.to_string()));

    if problems.len() > before {
        return None;
    }
    Some(Rule {
        id: raw.id,
        title: raw.title,
        description: raw.description,
        kind: kind?,
        matcher: Matcher::new(conditions),
        group_by: raw.group_by,
        severity: severity.ok()?,
        severity_from,
        confidence: confidence.ok()?,
        summary: summary.ok()?,
        tags: raw.tags,
        fail2ban,
        file: file.to_owned(),
    })
}

pub(crate) fn default_summary(kind: &Option<RuleKind>, group_by: &[String]) -> String {
    let key = group_by
        .iter()
        .map(|f| format!("{{{{ group[{f:?}] }}}}"))
        .collect::<Vec<_>>()
        .join(" ");
    match kind {
        Some(RuleKind::Threshold {
            distinct: Some(d), ..
        }) => format!(
            "{{{{ rule.title }}}}: {{{{ count }}}} distinct {d} from {key} within {{{{ window }}}}"
        ),
        Some(RuleKind::Threshold { .. }) => {
            format!(
                "{{{{ rule.title }}}}: {{{{ count }}}} events from {key} within {{{{ window }}}}"
            )
        }
        Some(RuleKind::Leaky { .. }) => {
            format!("{{{{ rule.title }}}}: bucket for {key} overflowed with {{{{ count }}}} events")
        }
        _ => "{{ rule.title }}".to_owned(),
    }
}

fn optional_duration(
    text: &Option<String>,
    file: &str,
    loc: &str,
    key: &str,
    problems: &mut Problems,
) -> Option<TimeDelta> {
    match text.as_deref().map(parse_duration)? {
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(file, format!("{loc}.{key}"), e);
            None
        }
    }
}

/// A threshold's count or a bucket's capacity: present, at least 1 and at
/// most [`MAX_COUNT`] (each key's state holds up to that many values).
fn bounded_count(
    value: Option<u32>,
    file: &str,
    loc: &str,
    key: &str,
    missing: &str,
    problems: &mut Problems,
) -> Option<u32> {
    let why = match value {
        Some(n @ 1..=MAX_COUNT) => return Some(n),
        Some(0) => "must be at least 1".to_owned(),
        Some(n) => format!("{n} is over the limit of {MAX_COUNT}"),
        None => missing.to_owned(),
    };
    problems.push(file, format!("{loc}.{key}"), why);
    None
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_mistake_is_reported_with_file_and_rule() {
        let text = r#"
version: 1
rules:
  - id: one
    title: t
    kind: treshold
    match: { event.dataset: sshd }
    severity: severe
  - id: two
    title: t
    kind: threshold
    match: { event.dataset: sshd }
    count: 0
    window: 5y
    severity: high
    confidence: 101
  - id: three
    title: t
    kind: match
    colour: blue
    severity: low
"#;
        let errs = parse_rules("rules.yaml", text).unwrap_err();
        let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "rules.yaml: rules[one].severity: unknown severity \"severe\" (valid: info, low, medium, high, critical)",
                "rules.yaml: rules[one].kind: unknown rule kind \"treshold\" (valid: match, threshold, leaky)",
                "rules.yaml: rules[two].confidence: confidence 101 is out of range (0-100)",
                "rules.yaml: rules[two].count: must be at least 1",
                "rules.yaml: rules[two].window: invalid duration \"5y\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
                "rules.yaml: rules[two].group_by: missing; threshold rules count per key",
            ]
            .into_iter()
            .chain(std::iter::once(lines[6].as_str()))
            .map(str::to_owned)
            .collect::<Vec<_>>()
        );
        assert!(
            lines[6].starts_with("rules.yaml: rules[three]: unknown field `colour`"),
            "{}",
            lines[6]
        );
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn version_is_required() {
        let errs = parse_rules("r.yaml", "rules: []").unwrap_err();
        assert_eq!(
            errs.0[0].to_string(),
            "r.yaml: version: missing; rules files start with `version: 1`"
        );
        let errs = parse_rules("r.yaml", "version: 2\nrules: []").unwrap_err();
        assert_eq!(
            errs.0[0].to_string(),
            "r.yaml: version: unsupported rules version 2 (this Riposte reads version 1)"
        );
    }
}
