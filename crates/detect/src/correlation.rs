//! Sigma correlation rules (`event_count`, `value_count`, `temporal`,
//! `temporal_ordered`) and the state machine that runs them.
//!
//! Independent of any Sigma engine: a correlation is parsed from a YAML
//! value, and fed `(base rule id, base rule name, event)` for every event
//! a base rule matched, in event order. See docs/correlation.md.
//!
//! Conditions with only lower bounds (`gt`, `gte`) fire as soon as they
//! hold in a window sliding in event time, then the group starts again.
//! Conditions with an upper bound (`lt`, `lte`, `eq`) can only be decided
//! when the window is over: those groups count in a window that opens at
//! the group's first event and is judged when a later event of the group
//! falls outside it, or at [`CorrelationEngine::flush`].

use std::collections::{BTreeMap, HashMap};

use chrono::TimeDelta;
use riposte_model::yaml::display_value;
use riposte_model::{EventId, Problems, Timestamp, parse_duration};
use serde_yaml_ng::Value;

use crate::window::{Expiry, Hit, Key, KeyedTable, Window, field_text};
use riposte_model::Event;

/// Which correlation a rule asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

const TYPES: &str = "event_count, value_count, temporal, temporal_ordered";

impl CorrelationType {
    /// What a hit's `count` counts, for summaries.
    pub fn counted(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "events",
            CorrelationType::ValueCount => "distinct values",
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => "rules",
        }
    }
}

/// `condition:` bounds on a count; all given bounds must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    pub gt: Option<u64>,
    pub gte: Option<u64>,
    pub lt: Option<u64>,
    pub lte: Option<u64>,
    pub eq: Option<u64>,
    /// The field whose distinct values `value_count` counts.
    pub field: Option<String>,
}

impl Condition {
    pub fn holds(&self, n: u64) -> bool {
        self.gt.is_none_or(|b| n > b)
            && self.gte.is_none_or(|b| n >= b)
            && self.lt.is_none_or(|b| n < b)
            && self.lte.is_none_or(|b| n <= b)
            && self.eq.is_none_or(|b| n == b)
    }

    /// Whether the count can only be judged at the end of the window.
    pub fn has_upper_bound(&self) -> bool {
        self.lt.is_some() || self.lte.is_some() || self.eq.is_some()
    }
}

/// The largest count a condition may name: a sliding window holds up to
/// this many events per group.
pub const MAX_CONDITION: u64 = 100_000;

/// A validated correlation rule.
#[derive(Clone, Debug)]
pub struct Correlation {
    pub id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub level: Option<String>,
    pub kind: CorrelationType,
    /// The base rules, by id or name, in the order `temporal_ordered` wants.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    /// Per group-by name, the field it is read from in events of a given
    /// base rule (`aliases:`); names without an alias are read as is.
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    pub timespan: TimeDelta,
    pub condition: Condition,
    /// Whether the base rules also raise their own alerts.
    pub generate: bool,
    pub file: String,
}

const LEVELS: &str = "informational, low, medium, high, critical";
const TOP_KEYS: &[&str] = &[
    "title",
    "id",
    "name",
    "status",
    "description",
    "author",
    "date",
    "modified",
    "references",
    "tags",
    "level",
    "falsepositives",
    "correlation",
    "taxonomy",
    "license",
    "related",
    "fields",
    "generate",
];
const CORRELATION_KEYS: &[&str] = &[
    "type",
    "rules",
    "group-by",
    "timespan",
    "condition",
    "generate",
    "aliases",
];

/// Parses one correlation document; every problem is reported with `file`
/// and the rule's id (or title).
pub fn parse_correlation(file: &str, doc: &Value) -> Result<Correlation, Problems> {
    let mut p = Problems::new();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let id = text(doc.get("id"));
    let title = text(doc.get("title"));
    let loc = format!(
        "correlation[{}]",
        id.as_deref().or(title.as_deref()).unwrap_or("?")
    );
    let Some(map) = doc.as_mapping() else {
        p.push(file, &loc, "a correlation rule must be a mapping");
        return Err(p);
    };
    for k in map.keys() {
        match k.as_str() {
            Some(k) if TOP_KEYS.contains(&k) => {}
            _ => p.push(file, &loc, format!("unknown key {}", display_value(k))),
        }
    }
    if title.is_none() {
        p.push(file, format!("{loc}.title"), "missing; must be a string");
    }
    let level = text(doc.get("level"));
    if let Some(l) = &level
        && !LEVELS.split(", ").any(|x| x == l)
    {
        p.push(
            file,
            format!("{loc}.level"),
            format!("unknown level {l:?} (valid: {LEVELS})"),
        );
    }
    let Some(corr) = doc.get("correlation").and_then(Value::as_mapping) else {
        p.push(
            file,
            format!("{loc}.correlation"),
            "missing; must be a mapping",
        );
        return Err(p);
    };
    let cloc = format!("{loc}.correlation");
    for k in corr.keys() {
        match k.as_str() {
            Some(k) if CORRELATION_KEYS.contains(&k) => {}
            _ => p.push(
                file,
                &cloc,
                format!(
                    "unknown key {} (valid: {})",
                    display_value(k),
                    CORRELATION_KEYS.join(", ")
                ),
            ),
        }
    }
    let get = |k: &str| corr.get(k);
    let kind = match get("type").and_then(Value::as_str) {
        Some("event_count") => Some(CorrelationType::EventCount),
        Some("value_count") => Some(CorrelationType::ValueCount),
        Some("temporal") => Some(CorrelationType::Temporal),
        Some("temporal_ordered") => Some(CorrelationType::TemporalOrdered),
        Some(other) => {
            p.push(
                file,
                format!("{cloc}.type"),
                format!("unknown correlation type {other:?} (valid: {TYPES})"),
            );
            None
        }
        None => {
            p.push(
                file,
                format!("{cloc}.type"),
                format!("missing (valid: {TYPES})"),
            );
            None
        }
    };
    let strings = |v: Option<&Value>, key: &str, p: &mut Problems| -> Vec<String> {
        match v {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item.as_str() {
                    Some(s) => Some(s.to_owned()),
                    None => {
                        p.push(
                            file,
                            format!("{cloc}.{key}[{i}]"),
                            format!("{} is not a string", display_value(item)),
                        );
                        None
                    }
                })
                .collect(),
            Some(other) => {
                p.push(
                    file,
                    format!("{cloc}.{key}"),
                    format!("{} is not a list of strings", display_value(other)),
                );
                Vec::new()
            }
        }
    };
    let rules = strings(get("rules"), "rules", &mut p);
    if rules.is_empty() {
        p.push(
            file,
            format!("{cloc}.rules"),
            "missing; list the base rules by id or name",
        );
    }
    let group_by = strings(get("group-by"), "group-by", &mut p);
    let timespan = match get("timespan") {
        Some(Value::String(s)) => match parse_duration(s) {
            Ok(d) if d > TimeDelta::zero() => Some(d),
            Ok(_) => {
                p.push(file, format!("{cloc}.timespan"), "must be longer than 0s");
                None
            }
            Err(e) => {
                p.push(file, format!("{cloc}.timespan"), e);
                None
            }
        },
        Some(other) => {
            p.push(
                file,
                format!("{cloc}.timespan"),
                format!("{} is not a duration such as 15m", display_value(other)),
            );
            None
        }
        None => {
            p.push(file, format!("{cloc}.timespan"), "missing");
            None
        }
    };
    let condition = parse_condition(get("condition"), kind, rules.len(), file, &cloc, &mut p);
    let mut aliases = BTreeMap::new();
    match get("aliases") {
        None => {}
        Some(Value::Mapping(m)) => {
            for (name, per_rule) in m {
                let name = key_text(name);
                let mut fields = BTreeMap::new();
                match per_rule.as_mapping() {
                    Some(per_rule) => {
                        for (rule, field) in per_rule {
                            let rule_name = key_text(rule);
                            match field.as_str() {
                                Some(f) if rules.contains(&rule_name) => {
                                    fields.insert(rule_name, f.to_owned());
                                }
                                Some(_) => p.push(
                                    file,
                                    format!("{cloc}.aliases.{name}.{rule_name}"),
                                    "not one of the correlation's rules",
                                ),
                                None => p.push(
                                    file,
                                    format!("{cloc}.aliases.{name}.{rule_name}"),
                                    format!("{} is not a field name", display_value(field)),
                                ),
                            }
                        }
                    }
                    None => p.push(
                        file,
                        format!("{cloc}.aliases.{name}"),
                        "must map rule names to field names",
                    ),
                }
                aliases.insert(name, fields);
            }
        }
        Some(other) => p.push(
            file,
            format!("{cloc}.aliases"),
            format!("{} is not a mapping", display_value(other)),
        ),
    }
    let generate = match get("generate").or(doc.get("generate")) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            p.push(
                file,
                format!("{cloc}.generate"),
                format!("{} is not true or false", display_value(other)),
            );
            false
        }
    };
    match (kind, timespan, condition, p.is_empty(), title) {
        (Some(kind), Some(timespan), Some(condition), true, Some(title)) => Ok(Correlation {
            id,
            name: text(doc.get("name")),
            title,
            level,
            kind,
            rules,
            group_by,
            aliases,
            timespan,
            condition,
            generate,
            file: file.to_owned(),
        }),
        _ => Err(p),
    }
}

fn parse_condition(
    v: Option<&Value>,
    kind: Option<CorrelationType>,
    n_rules: usize,
    file: &str,
    cloc: &str,
    p: &mut Problems,
) -> Option<Condition> {
    let loc = format!("{cloc}.condition");
    let mut c = Condition::default();
    let Some(v) = v else {
        return match kind {
            // Sigma: temporal rules need every referenced rule by default.
            Some(CorrelationType::Temporal | CorrelationType::TemporalOrdered) | None => {
                c.gte = Some(n_rules as u64);
                Some(c)
            }
            Some(_) => {
                p.push(file, loc, "missing; e.g. {gte: 10}");
                None
            }
        };
    };
    let Some(m) = v.as_mapping() else {
        p.push(
            file,
            loc,
            format!("{} is not a mapping such as {{gte: 10}}", display_value(v)),
        );
        return None;
    };
    let before = p.len();
    for (k, val) in m {
        let key = key_text(k);
        if key == "field" {
            match val.as_str() {
                Some(f) => c.field = Some(f.to_owned()),
                None => p.push(file, format!("{loc}.field"), "must be a field name"),
            }
            continue;
        }
        let slot = match key.as_str() {
            "gt" => &mut c.gt,
            "gte" => &mut c.gte,
            "lt" => &mut c.lt,
            "lte" => &mut c.lte,
            "eq" => &mut c.eq,
            _ => {
                p.push(
                    file,
                    &loc,
                    format!("unknown key {key:?} (valid: gt, gte, lt, lte, eq, field)"),
                );
                continue;
            }
        };
        match val.as_u64() {
            Some(n) if n > MAX_CONDITION => p.push(
                file,
                format!("{loc}.{key}"),
                format!("{n} is over the limit of {MAX_CONDITION}"),
            ),
            Some(n) => *slot = Some(n),
            None => p.push(
                file,
                format!("{loc}.{key}"),
                format!("{} is not a whole number", display_value(val)),
            ),
        }
    }
    if [c.gt, c.gte, c.lt, c.lte, c.eq].iter().all(Option::is_none) {
        p.push(file, &loc, "needs at least one of gt, gte, lt, lte, eq");
    }
    match kind {
        Some(CorrelationType::ValueCount) if c.field.is_none() => {
            p.push(
                file,
                format!("{loc}.field"),
                "missing; value_count counts distinct values of a field",
            );
        }
        Some(
            CorrelationType::EventCount
            | CorrelationType::Temporal
            | CorrelationType::TemporalOrdered,
        ) if c.field.is_some() => {
            p.push(
                file,
                format!("{loc}.field"),
                "only value_count takes a field",
            );
        }
        _ => {}
    }
    (p.len() == before).then_some(c)
}

/// One firing of a correlation for one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrelationHit {
    /// Index of the correlation in the engine's list.
    pub correlation: usize,
    pub group: BTreeMap<String, String>,
    /// Events (`event_count`), distinct values (`value_count`) or base
    /// rules seen (`temporal*`).
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The events that made the hit, oldest first (at most
    /// [`MAX_EVIDENCE`]; `count` is exact).
    pub evidence: Vec<EventId>,
}

/// The most evidence ids one hit carries.
pub const MAX_EVIDENCE: usize = 256;

/// Counters for tuning; `evicted_keys` is per-group state dropped because a
/// correlation reached `max_keys`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CorrelationStats {
    pub hits: u64,
    pub keys: u64,
    pub evicted_keys: u64,
}

#[derive(Debug)]
struct Tumbling {
    start: Timestamp,
    count: u64,
    distinct: hashbrown::HashSet<u64>,
    last: Timestamp,
    evidence: Vec<EventId>,
}

#[derive(Debug)]
enum GroupState {
    Sliding(Window),
    Tumbling(Option<Tumbling>),
    /// Per base rule, its latest event.
    Temporal(Vec<Option<(Timestamp, EventId)>>),
    /// Per position `i`, the latest in-order run through rule `i`: its
    /// start and its events.
    Ordered(Vec<Option<(Timestamp, Vec<EventId>)>>),
}

#[derive(Debug)]
struct Group {
    state: GroupState,
    last_seen: Timestamp,
    expires_at: Timestamp,
}

impl Expiry for Group {
    fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    fn last_seen(&self) -> Timestamp {
        self.last_seen
    }
}

/// Runs correlations over base-rule matches, with at most `max_keys`
/// groups per correlation.
#[derive(Debug)]
pub struct CorrelationEngine {
    correlations: Vec<Correlation>,
    /// Base rule id or name → (correlation, position in its `rules`).
    by_rule: HashMap<String, Vec<(usize, usize)>>,
    state: Vec<KeyedTable<Group>>,
    stats: CorrelationStats,
}

impl CorrelationEngine {
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    pub fn new(correlations: Vec<Correlation>, max_keys: usize) -> Self {
        let mut by_rule: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (c, corr) in correlations.iter().enumerate() {
            for (pos, r) in corr.rules.iter().enumerate() {
                by_rule.entry(r.clone()).or_default().push((c, pos));
            }
        }
        let state = correlations
            .iter()
            .map(|_| KeyedTable::new(max_keys))
            .collect();
        Self {
            correlations,
            by_rule,
            state,
            stats: CorrelationStats::default(),
        }
    }

    pub fn correlations(&self) -> &[Correlation] {
        &self.correlations
    }

    pub fn stats(&self) -> CorrelationStats {
        CorrelationStats {
            keys: self.state.iter().map(|t| t.len() as u64).sum(),
            ..self.stats.clone()
        }
    }

    /// Feeds one base-rule match: the rule's id and name (either may be
    /// referenced) and the event it matched. Returns the hits it completes,
    /// including windows it closes.
    pub fn feed(
        &mut self,
        rule_id: &str,
        rule_name: Option<&str>,
        event: &Event,
    ) -> Vec<CorrelationHit> {
        let mut targets: Vec<(usize, usize)> = Vec::new();
        for name in std::iter::once(rule_id).chain(rule_name) {
            for t in self.by_rule.get(name).into_iter().flatten() {
                if !targets.contains(t) {
                    targets.push(*t);
                }
            }
        }
        let mut hits = Vec::new();
        for (c, pos) in targets {
            if let Some(hit) = self.feed_one(c, pos, event, &mut hits) {
                hits.push(hit);
            }
        }
        self.stats.hits += hits.len() as u64;
        hits
    }

    fn feed_one(
        &mut self,
        c: usize,
        pos: usize,
        event: &Event,
        closed: &mut Vec<CorrelationHit>,
    ) -> Option<CorrelationHit> {
        let corr = &self.correlations[c];
        let rule = &corr.rules[pos];
        let key = Key::collect(corr.group_by.iter().map(|g| {
            let field = corr
                .aliases
                .get(g)
                .and_then(|m| m.get(rule))
                .map_or(g.as_str(), String::as_str);
            field_text(event, field)
        }))?;
        let table = &mut self.state[c];
        let value = match (&corr.kind, &corr.condition.field) {
            (CorrelationType::ValueCount, Some(f)) => table.value_hash(&field_text(event, f)?),
            _ => 0,
        };
        let ts = event.timestamp;
        let span = corr.timespan;
        let n_rules = corr.rules.len();
        let new_state = || match corr.kind {
            CorrelationType::EventCount | CorrelationType::ValueCount
                if corr.condition.has_upper_bound() =>
            {
                GroupState::Tumbling(None)
            }
            CorrelationType::EventCount | CorrelationType::ValueCount => {
                GroupState::Sliding(Window::default())
            }
            CorrelationType::Temporal => GroupState::Temporal(vec![None; n_rules]),
            CorrelationType::TemporalOrdered => GroupState::Ordered(vec![None; n_rules]),
        };
        let (g, evicted) = table.entry(&key, ts, || Group {
            state: new_state(),
            last_seen: ts,
            expires_at: ts,
        });
        self.stats.evicted_keys += evicted;
        g.last_seen = g.last_seen.max(ts);
        g.expires_at = g.expires_at.max(ts + span);
        let group = || group_map(corr, &key);
        let distinct = corr.kind == CorrelationType::ValueCount;
        let hit = match &mut g.state {
            GroupState::Sliding(w) => {
                if w.last().is_some_and(|h| h.id == event.id) {
                    return None; // one event matched two of the rules
                }
                w.expire(ts - span);
                w.push(
                    Hit {
                        ts,
                        id: event.id,
                        value,
                    },
                    distinct,
                );
                let n = if distinct { w.distinct() } else { w.len() } as u64;
                if !corr.condition.holds(n) {
                    return None;
                }
                let hits = w.take();
                Some(CorrelationHit {
                    correlation: c,
                    group: group(),
                    count: n,
                    first_seen: hits.first().map_or(ts, |h| h.ts),
                    last_seen: ts,
                    evidence: hits.iter().take(MAX_EVIDENCE).map(|h| h.id).collect(),
                })
            }
            GroupState::Tumbling(slot) => {
                if let Some(t) = slot.as_ref()
                    && t.start + span <= ts
                    && let Some(done) = slot.take()
                    && let Some(h) = judge(c, corr, group(), done)
                {
                    closed.push(h);
                }
                let t = slot.get_or_insert_with(|| Tumbling {
                    start: ts,
                    count: 0,
                    distinct: hashbrown::HashSet::new(),
                    last: ts,
                    evidence: Vec::new(),
                });
                if t.evidence.last() == Some(&event.id) {
                    return None;
                }
                t.count += 1;
                if distinct {
                    t.distinct.insert(value);
                }
                t.last = ts;
                if t.evidence.len() < MAX_EVIDENCE {
                    t.evidence.push(event.id);
                }
                g.expires_at = t.start + span;
                None
            }
            GroupState::Temporal(seen) => {
                seen[pos] = Some((ts, event.id));
                let horizon = ts - span;
                for s in seen.iter_mut() {
                    if s.is_some_and(|(t, _)| t <= horizon) {
                        *s = None;
                    }
                }
                let n = seen.iter().flatten().count() as u64;
                if !corr.condition.holds(n) {
                    return None;
                }
                let mut events: Vec<(Timestamp, EventId)> =
                    seen.iter().flatten().copied().collect();
                events.sort();
                seen.iter_mut().for_each(|s| *s = None);
                Some(CorrelationHit {
                    correlation: c,
                    group: group(),
                    count: n,
                    first_seen: events.first().map_or(ts, |e| e.0),
                    last_seen: ts,
                    evidence: events.into_iter().map(|e| e.1).collect(),
                })
            }
            GroupState::Ordered(progress) => {
                let horizon = ts - span;
                let run = if pos == 0 {
                    Some((ts, vec![event.id]))
                } else {
                    progress[pos - 1]
                        .as_ref()
                        .filter(|(start, _)| *start > horizon)
                        .map(|(start, ids)| {
                            let mut ids = ids.clone();
                            ids.push(event.id);
                            (*start, ids)
                        })
                };
                let run = run?;
                // Keep the run that started latest: it stays in the window
                // longest.
                if progress[pos].as_ref().is_none_or(|(s, _)| *s <= run.0) {
                    progress[pos] = Some(run);
                }
                if pos + 1 < progress.len() {
                    return None;
                }
                let (start, ids) = progress[pos].take()?;
                progress.iter_mut().for_each(|s| *s = None);
                Some(CorrelationHit {
                    correlation: c,
                    group: group(),
                    count: ids.len() as u64,
                    first_seen: start,
                    last_seen: ts,
                    evidence: ids,
                })
            }
        };
        if hit.is_some() {
            table.remove(&key);
        }
        hit
    }

    /// Judges every upper-bounded window that is over at `now` (event
    /// time) and drops groups whose state has expired; call it when the
    /// input is idle or at its end.
    pub fn flush(&mut self, now: Timestamp) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        for (c, table) in self.state.iter_mut().enumerate() {
            let corr = &self.correlations[c];
            for (key, g) in table.iter_mut() {
                if let GroupState::Tumbling(slot) = &mut g.state
                    && slot
                        .as_ref()
                        .is_some_and(|t| t.start + corr.timespan <= now)
                    && let Some(done) = slot.take()
                {
                    let group = corr
                        .group_by
                        .iter()
                        .cloned()
                        .zip(key.iter().map(|k| k.to_string()))
                        .collect();
                    hits.extend(judge(c, corr, group, done));
                }
            }
            table.retain(|_, g| g.expires_at > now);
        }
        self.stats.hits += hits.len() as u64;
        hits
    }
}

fn judge(
    c: usize,
    corr: &Correlation,
    group: BTreeMap<String, String>,
    t: Tumbling,
) -> Option<CorrelationHit> {
    let n = if corr.kind == CorrelationType::ValueCount {
        t.distinct.len() as u64
    } else {
        t.count
    };
    corr.condition.holds(n).then_some(CorrelationHit {
        correlation: c,
        group,
        count: n,
        first_seen: t.start,
        last_seen: t.last,
        evidence: t.evidence,
    })
}

/// A mapping key as written: plain for strings, YAML-ish otherwise.
fn key_text(v: &Value) -> String {
    v.as_str().map_or_else(|| display_value(v), str::to_owned)
}

fn group_map(corr: &Correlation, key: &Key<'_>) -> BTreeMap<String, String> {
    corr.group_by
        .iter()
        .cloned()
        .zip(key.parts().iter().map(|p| p.clone().into_owned()))
        .collect()
}
