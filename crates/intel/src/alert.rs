//! From index hits to what the pipeline stores: alerts (only for indicators
//! fit for detection) and sightings (for every hit).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use compact_str::CompactString;
use riposte_model::{
    Alert, AlertId, Confidence, Event, IndicatorKind, Observable, ObservableKind, RuleInfo,
    Severity, Sighting, Timestamp,
};

use crate::Hit;

/// The rule id of every intel alert (playbooks trigger on it).
pub const RULE_ID: &str = "intel.match";

/// Severity from the best confidence among the feeds: 90+ high, 60+
/// medium, else low.
pub fn severity(confidence: Confidence) -> Severity {
    match confidence.get() {
        90.. => Severity::High,
        60..=89 => Severity::Medium,
        _ => Severity::Low,
    }
}

fn observable_kind(kind: IndicatorKind) -> Option<ObservableKind> {
    use IndicatorKind as K;
    Some(match kind {
        K::Ip | K::Cidr => ObservableKind::Ip,
        K::Domain => ObservableKind::Domain,
        K::Url => ObservableKind::Url,
        K::Md5 => ObservableKind::Md5,
        K::Sha1 => ObservableKind::Sha1,
        K::Sha256 => ObservableKind::Sha256,
        K::Email => ObservableKind::Email,
        K::Ja3 | K::Ja3s | K::UserAgent | K::Filename => return None,
    })
}

/// One alert per event field and indicator matched with `to_ids` (several
/// feeds listing it make one alert, with every feed's context). `group`
/// holds the event field and value (so ban playbooks read
/// `alert.group['source.ip']`) and the indicator: `intel.kind`,
/// `intel.indicator`, `intel.feeds`, `intel.tlp` (the strictest),
/// `intel.confidence`, `intel.description`.
pub fn alerts_for(event: &Event, hits: &[Hit], now: Timestamp) -> Vec<Alert> {
    let mut by_key: BTreeMap<(&str, IndicatorKind, &str), Vec<&Hit>> = BTreeMap::new();
    for h in hits.iter().filter(|h| h.context.to_ids) {
        by_key
            .entry((h.field.as_str(), h.kind, h.indicator.as_str()))
            .or_default()
            .push(h);
    }
    by_key
        .into_iter()
        .map(|((field, kind, indicator), hits)| {
            let feeds: BTreeSet<&str> = hits.iter().map(|h| h.context.feed.as_str()).collect();
            let feeds = feeds.into_iter().collect::<Vec<_>>().join(",");
            let confidence = hits
                .iter()
                .map(|h| h.context.confidence)
                .max()
                .unwrap_or(Confidence::MAX);
            let tlp = hits.iter().map(|h| h.context.tlp).max().unwrap_or_default();
            let description = hits.iter().find_map(|h| h.context.description.as_deref());
            let mut tags: BTreeSet<String> = hits
                .iter()
                .flat_map(|h| h.context.tags.iter().cloned())
                .collect();
            tags.insert(format!("tlp:{tlp}"));
            let references: BTreeSet<String> = hits
                .iter()
                .filter_map(|h| h.context.reference.as_deref().map(str::to_owned))
                .collect();
            let observed = hits[0].observed.as_str();
            let mut group = BTreeMap::from([
                (field.to_owned(), observed.to_owned()),
                ("intel.kind".to_owned(), kind.to_string()),
                ("intel.indicator".to_owned(), indicator.to_owned()),
                ("intel.feeds".to_owned(), feeds.clone()),
                ("intel.tlp".to_owned(), tlp.to_string()),
                ("intel.confidence".to_owned(), confidence.to_string()),
            ]);
            if let Some(d) = description {
                group.insert("intel.description".to_owned(), d.to_owned());
            }
            let about = description.map(|d| format!(": {d}")).unwrap_or_default();
            Alert {
                id: AlertId::new(),
                rule_id: RULE_ID.to_owned(),
                rule_title: format!("Threat intel {kind} {indicator}"),
                severity: severity(confidence),
                confidence,
                created_at: now,
                first_seen: event.timestamp,
                last_seen: event.timestamp,
                group,
                summary: format!(
                    "{field} {observed} matches {kind} indicator {indicator} from {feeds} (confidence {confidence}, TLP:{}){about}",
                    tlp.as_str().to_uppercase()
                ),
                count: 1,
                observables: observable_kind(kind)
                    .map(|k| vec![Observable::new(k, observed, Some(field))])
                    .unwrap_or_default(),
                evidence: vec![event.id],
                rule: RuleInfo {
                    kind: "intel".into(),
                    tags: tags.into_iter().collect(),
                    references: references.into_iter().collect(),
                    ..RuleInfo::default()
                },
            }
        })
        .collect()
}

/// Sightings of one batch, summed per (kind, indicator, source, field).
#[derive(Debug, Default)]
pub struct SightingBatch {
    seen: HashMap<(IndicatorKind, CompactString, CompactString, CompactString), Sighting>,
}

impl SightingBatch {
    /// Counts every hit of one event once per (indicator, field), whatever
    /// the number of feeds listing it.
    pub fn add(&mut self, event: &Event, hits: &[Hit]) {
        let source: CompactString = event
            .origin
            .as_ref()
            .map_or_else(|| event.dataset.clone(), |o| o.source.clone());
        let mut counted = BTreeSet::new();
        for h in hits {
            let key = (h.kind, h.indicator.clone(), source.clone(), h.field.clone());
            if !counted.insert(key.clone()) {
                continue;
            }
            self.seen
                .entry(key)
                .and_modify(|s| {
                    s.count += 1;
                    s.first_seen = s.first_seen.min(event.timestamp);
                    s.last_seen = s.last_seen.max(event.timestamp);
                })
                .or_insert_with(|| Sighting {
                    kind: h.kind,
                    value: h.indicator.clone(),
                    source: source.clone(),
                    field: h.field.clone(),
                    count: 1,
                    first_seen: event.timestamp,
                    last_seen: event.timestamp,
                });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The batch's sightings, in a stable order.
    pub fn into_sorted(self) -> Vec<Sighting> {
        let mut v: Vec<Sighting> = self.seen.into_values().collect();
        v.sort_by(|a, b| {
            (a.kind, &a.value, &a.source, &a.field).cmp(&(b.kind, &b.value, &b.source, &b.field))
        });
        v
    }
}
