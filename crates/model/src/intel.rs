//! Threat-intelligence records: indicators (what a feed says is bad) and
//! sightings (where Riposte saw one). Plain data, stored by `riposte-store`;
//! parsing, normalization, matching and the feed formats live in
//! `riposte-intel`.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::{Confidence, Timestamp};

crate::string_enum::string_enum! {
    /// What an indicator's value is, and therefore how it is normalized and
    /// which event fields it is compared with.
    #[derive(PartialOrd, Ord)]
    IndicatorKind("indicator kind") {
        /// One IPv4 or IPv6 address (a `/32` or `/128` network is stored as this).
        Ip = "ip",
        /// An IPv4 or IPv6 network; matches every address inside it.
        Cidr = "cidr",
        /// A DNS name; with `subdomains` also every name below it.
        Domain = "domain",
        /// A URL, normalized (see `riposte_intel::normalize`).
        Url = "url",
        Md5 = "md5",
        Sha1 = "sha1",
        Sha256 = "sha256",
        Email = "email",
        /// A JA3 TLS client fingerprint (an MD5 in hex).
        Ja3 = "ja3",
        /// A JA3S TLS server fingerprint (an MD5 in hex).
        Ja3s = "ja3s",
        /// An HTTP `User-Agent` value, compared whole.
        UserAgent = "user-agent",
        /// A file name without its directory, compared case-insensitively.
        Filename = "filename",
    }
}

crate::string_enum::string_enum! {
    /// FIRST Traffic Light Protocol 2.0, least to most restrictive. MISP and
    /// TLP 1.0's `white` is read as `clear`.
    #[derive(PartialOrd, Ord, Default)]
    Tlp("TLP") {
        #[default]
        Clear = "clear",
        Green = "green",
        Amber = "amber",
        AmberStrict = "amber+strict",
        Red = "red",
    }
}

crate::string_enum::string_enum! {
    /// FIRST Permissible Actions Protocol, least to most restrictive: what a
    /// recipient may do with the indicator (PAP:RED — nothing detectable by
    /// the adversary, e.g. no blocking).
    #[derive(PartialOrd, Ord, Default)]
    Pap("PAP") {
        #[default]
        Clear = "clear",
        Green = "green",
        Amber = "amber",
        Red = "red",
    }
}

/// One indicator as one feed states it. Stored once per (kind, value, feed):
/// two feeds listing the same address are two rows, so each feed can age out
/// its own without touching the other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// Normalized (lowercase domain, canonical address or network, …).
    pub value: CompactString,
    /// The feed it came from, as the configuration names it.
    pub feed: CompactString,
    /// A domain indicator that also matches names below it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub subdomains: bool,
    pub confidence: Confidence,
    #[serde(default)]
    pub tlp: Tlp,
    #[serde(default)]
    pub pap: Pap,
    /// Fit for detection (MISP `to_ids`): when false the indicator is stored
    /// and shown as context, and sightings of it are recorded, but a match
    /// never raises an alert.
    pub to_ids: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// After this instant the indicator never matches (STIX `valid_until`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// MISP tags and taxonomies (`tlp:amber`, `misp-galaxy:…`), ATT&CK ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What the feed says about it: the MISP event's info, a STIX name, a
    /// blocklist's malware family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where to read more: a MISP event UUID, a STIX indicator id, a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl Indicator {
    /// An indicator with no metadata beyond the required: confidence 50,
    /// TLP:CLEAR, PAP:CLEAR, fit for detection. Importers fill in the rest.
    pub fn new(kind: IndicatorKind, value: impl Into<CompactString>, feed: &str) -> Self {
        Self {
            kind,
            value: value.into(),
            feed: feed.into(),
            subdomains: false,
            confidence: Confidence::new(50).unwrap_or(Confidence::MAX),
            tlp: Tlp::Clear,
            pap: Pap::Clear,
            to_ids: true,
            first_seen: None,
            last_seen: None,
            valid_until: None,
            tags: Vec::new(),
            description: None,
            reference: None,
        }
    }

    /// Whether it may match at `now`: an indicator is valid strictly before
    /// its `valid_until`.
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.valid_until.is_none_or(|until| now < until)
    }

    /// Folds a duplicate of the same (kind, value, feed) into this one. The
    /// rule, chosen so that the order of the duplicates never matters:
    /// fit for detection if either is; the higher confidence; the *more*
    /// restrictive TLP and PAP (sharing must respect the strictest statement
    /// made); the earliest first_seen and latest last_seen; the later
    /// valid_until, where "never expires" is latest; the union of the tags,
    /// sorted; subdomain matching if either asks; the description and
    /// reference that sort first (so the result is deterministic).
    pub fn merge(&mut self, other: &Indicator) {
        self.to_ids |= other.to_ids;
        self.subdomains |= other.subdomains;
        self.confidence = self.confidence.max(other.confidence);
        self.tlp = self.tlp.max(other.tlp);
        self.pap = self.pap.max(other.pap);
        self.first_seen = min_some(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.valid_until = match (self.valid_until, other.valid_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        for tag in &other.tags {
            if !self.tags.contains(tag) {
                self.tags.push(tag.clone());
            }
        }
        self.tags.sort();
        self.description = min_some(self.description.take(), other.description.clone());
        self.reference = min_some(self.reference.take(), other.reference.clone());
    }
}

/// A deterministic UUID (version 8, RFC 9562 §5.8) from a name: the same
/// name always gives the same id, so an indicator exported twice (in a STIX
/// bundle, a MISP feed, over TAXII) keeps its id and recipients update it
/// instead of piling up copies.
pub fn name_uuid(name: &str) -> uuid::Uuid {
    use md5::Digest;
    let d = md5::Md5::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b)
}

impl Indicator {
    /// The STIX id every export gives this indicator
    /// (`indicator--<uuid>`): derived from (kind, value, feed) only, so it
    /// is stable across imports, exports and TAXII requests, and the store
    /// can index it.
    pub fn stix_id(&self) -> String {
        format!(
            "indicator--{}",
            name_uuid(&format!("{}|{}|{}", self.kind, self.value, self.feed))
        )
    }
}

fn min_some<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Where and how often an indicator was seen in events. One record per
/// (kind, value, source, field); counts add up across batches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub kind: IndicatorKind,
    pub value: CompactString,
    /// The event source (`eve`, `auth`) or, without one, the event dataset.
    pub source: CompactString,
    /// The event field that carried the value (`destination.ip`).
    pub field: CompactString,
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t(h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, h, 0, 0).unwrap()
    }

    #[test]
    fn merge_is_order_independent_and_keeps_the_strictest_sharing() {
        let mut a = Indicator::new(IndicatorKind::Ip, "192.0.2.1", "f");
        a.to_ids = false;
        a.confidence = Confidence::new(90).unwrap();
        a.tlp = Tlp::Green;
        a.first_seen = Some(t(5));
        a.valid_until = Some(t(10));
        a.tags = vec!["b".into()];
        a.description = Some("zeta".into());
        let mut b = Indicator::new(IndicatorKind::Ip, "192.0.2.1", "f");
        b.confidence = Confidence::new(40).unwrap();
        b.tlp = Tlp::Red;
        b.pap = Pap::Amber;
        b.first_seen = Some(t(3));
        b.last_seen = Some(t(7));
        b.valid_until = Some(t(12));
        b.tags = vec!["a".into(), "b".into()];
        b.description = Some("alpha".into());
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert!(ab.to_ids);
        assert_eq!(ab.confidence.get(), 90);
        assert_eq!(ab.tlp, Tlp::Red);
        assert_eq!(ab.pap, Pap::Amber);
        assert_eq!(ab.first_seen, Some(t(3)));
        assert_eq!(ab.last_seen, Some(t(7)));
        assert_eq!(ab.valid_until, Some(t(12)));
        assert_eq!(ab.tags, ["a", "b"]);
        assert_eq!(ab.description.as_deref(), Some("alpha"));
        let mut never = a.clone();
        never.valid_until = None;
        never.merge(&b);
        assert_eq!(never.valid_until, None);
    }

    #[test]
    fn validity_ends_at_valid_until() {
        let mut i = Indicator::new(IndicatorKind::Domain, "evil.example", "f");
        assert!(i.is_valid_at(t(23)));
        i.valid_until = Some(t(10));
        assert!(i.is_valid_at(t(9)));
        assert!(!i.is_valid_at(t(10)));
        assert_eq!("AMBER+STRICT".parse::<Tlp>().unwrap(), Tlp::AmberStrict);
        assert_eq!(
            serde_json::to_string(&IndicatorKind::UserAgent).unwrap(),
            "\"user-agent\""
        );
    }
}
