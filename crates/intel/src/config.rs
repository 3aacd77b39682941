//! The `intel:` section of `riposte.yaml`, validated with every problem
//! reported at once:
//!
//! ```yaml
//! intel:
//!   feeds:
//!     - name: feodo
//!       type: csv                   # misp-feed, misp-event, misp-rest, stix, csv
//!       url: https://feodotracker.abuse.ch/downloads/ipblocklist.csv   # or path:
//!       csv: { preset: feodo }
//!       interval: 1h
//!       snapshot: true              # the feed lists all it holds
//!       max_age: 7d                 # not refreshed this long: its indicators go
//!       confidence: 80
//!       tlp: clear
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use riposte_model::yaml::{check_keys, take};
use riposte_model::{Confidence, Pap, Problems, Tlp, parse_duration};
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::feed::{FeedConfig, FeedFormat, Location};
use crate::import::FeedDefaults;
use crate::import::csv::RawCsvFormat;
use crate::sightings::SightingPush;

const TYPES: &str = "misp-feed, misp-event, misp-rest, stix, csv";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    key_env: Option<String>,
    #[serde(default)]
    csv: Option<RawCsvFormat>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    snapshot: Option<bool>,
    #[serde(default)]
    max_age: Option<String>,
    #[serde(default)]
    confidence: Option<u8>,
    #[serde(default)]
    tlp: Option<String>,
    #[serde(default)]
    pap: Option<String>,
    #[serde(default)]
    to_ids: Option<bool>,
    #[serde(default)]
    subdomains: Option<bool>,
    #[serde(default)]
    valid_for: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    max_bytes: Option<u64>,
    #[serde(default)]
    sightings: Option<RawSightings>,
}

/// `sightings:` of a MISP feed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSightings {
    #[serde(default)]
    push: bool,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    batch: Option<usize>,
}

/// Default download limit: 4 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Parses `intel:` (absent: no feeds). Relative paths resolve with
/// `resolve`.
pub fn parse(
    section: Option<&Value>,
    file: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> Vec<FeedConfig> {
    let Some(section) = section else {
        return Vec::new();
    };
    let Value::Mapping(map) = section else {
        p.push(file, "intel", "must be a mapping (keys: feeds)");
        return Vec::new();
    };
    check_keys(map, &["feeds"], file, "intel", p);
    let items = match map.get("feeds") {
        None => return Vec::new(),
        Some(Value::Sequence(items)) => items,
        Some(_) => {
            p.push(file, "intel.feeds", "must be a list");
            return Vec::new();
        }
    };
    let mut feeds: Vec<FeedConfig> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let loc = format!("intel.feeds[{i}]");
        let Some(raw) = take::<RawFeed>(item.clone(), file, &loc, p) else {
            continue;
        };
        let loc = format!("intel.feeds[{}]", raw.name);
        if feeds.iter().any(|f| f.name == raw.name) {
            p.push(file, &loc, format!("duplicate feed name {:?}", raw.name));
        }
        if let Some(f) = build(raw, file, &loc, resolve, p) {
            feeds.push(f);
        }
    }
    feeds
}

fn build(
    raw: RawFeed,
    file: &str,
    loc: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> Option<FeedConfig> {
    let before = p.len();
    if raw.name.is_empty() || raw.name.contains(char::is_whitespace) {
        p.push(file, format!("{loc}.name"), "must be a non-empty word");
    }
    let format = match raw.kind.as_str() {
        "misp-feed" => Some(FeedFormat::MispFeed),
        "misp-event" => Some(FeedFormat::MispEvent),
        "misp-rest" => Some(FeedFormat::MispRest),
        "stix" => Some(FeedFormat::Stix),
        "csv" => match raw.csv.clone().unwrap_or_default().build() {
            Ok(f) => Some(FeedFormat::Csv(f)),
            Err(problems) => {
                for m in problems {
                    p.push(file, format!("{loc}.csv"), m);
                }
                None
            }
        },
        other => {
            p.push(
                file,
                format!("{loc}.type"),
                format!("unknown feed type {other:?} (valid: {TYPES})"),
            );
            None
        }
    };
    if raw.csv.is_some() && raw.kind != "csv" {
        p.push(
            file,
            format!("{loc}.csv"),
            "only a csv feed takes a csv mapping",
        );
    }
    let location = match (&raw.path, &raw.url) {
        (Some(path), None) => Some(Location::Path(resolve(path))),
        (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(Location::Url(url.clone()))
        }
        (None, Some(url)) => {
            p.push(
                file,
                format!("{loc}.url"),
                format!("{url:?} is not an http(s) URL"),
            );
            None
        }
        _ => {
            p.push(file, loc, "give exactly one of path and url");
            None
        }
    };
    if raw.kind == "misp-rest" && raw.url.is_none() {
        p.push(
            file,
            format!("{loc}.url"),
            "a misp-rest feed needs the MISP base URL",
        );
    }
    let key = match &raw.key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(k) => Some(k),
            Err(_) => {
                p.push(
                    file,
                    format!("{loc}.key_env"),
                    format!("environment variable {var} is not set"),
                );
                None
            }
        },
    };
    let mut duration = |key: &str, v: &Option<String>| {
        v.as_ref().and_then(|s| match parse_duration(s) {
            Ok(d) if d > chrono::TimeDelta::zero() => Some(d),
            Ok(_) => {
                p.push(
                    file,
                    format!("{loc}.{key}"),
                    format!("{s:?} must be positive"),
                );
                None
            }
            Err(e) => {
                p.push(file, format!("{loc}.{key}"), e);
                None
            }
        })
    };
    let interval = duration("interval", &raw.interval)
        .and_then(|d| d.to_std().ok())
        .unwrap_or(Duration::from_secs(3600));
    let max_age = duration("max_age", &raw.max_age);
    let push_interval = raw
        .sightings
        .as_ref()
        .and_then(|s| duration("sightings.interval", &s.interval))
        .and_then(|d| d.to_std().ok());
    let valid_for = duration("valid_for", &raw.valid_for);
    let mut defaults = FeedDefaults::new(&raw.name, Utc::now());
    if let Some(c) = raw.confidence {
        match Confidence::new(c) {
            Ok(c) => defaults.confidence = c,
            Err(e) => p.push(file, format!("{loc}.confidence"), e.to_string()),
        }
    }
    if let Some(t) = &raw.tlp {
        let t = if t.eq_ignore_ascii_case("white") {
            "clear"
        } else {
            t
        };
        match t.parse::<Tlp>() {
            Ok(t) => defaults.tlp = t,
            Err(e) => p.push(file, format!("{loc}.tlp"), e.to_string()),
        }
    }
    if let Some(t) = &raw.pap {
        match t.parse::<Pap>() {
            Ok(t) => defaults.pap = t,
            Err(e) => p.push(file, format!("{loc}.pap"), e.to_string()),
        }
    }
    defaults.to_ids = raw.to_ids.unwrap_or(true);
    defaults.subdomains = raw.subdomains.unwrap_or(false);
    defaults.valid_for = valid_for;
    defaults.tags = raw.tags;
    let sightings = raw.sightings.and_then(|s| {
        sightings(
            s,
            &raw.kind,
            raw.url.as_deref(),
            push_interval,
            file,
            loc,
            p,
        )
    });
    if p.len() > before {
        return None;
    }
    Some(FeedConfig {
        name: raw.name,
        format: format?,
        location: location?,
        key,
        interval,
        snapshot: raw.snapshot.unwrap_or(false),
        max_age,
        defaults,
        max_bytes: raw.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
        sightings,
    })
}

/// Validates `sightings:`; `None` when push is off.
fn sightings(
    s: RawSightings,
    kind: &str,
    feed_url: Option<&str>,
    interval: Option<Duration>,
    file: &str,
    loc: &str,
    p: &mut Problems,
) -> Option<SightingPush> {
    let loc = format!("{loc}.sightings");
    if !kind.starts_with("misp-") {
        p.push(
            file,
            &loc,
            format!(
                "only a MISP feed (misp-feed, misp-event, misp-rest) pushes sightings, not {kind:?}"
            ),
        );
        return None;
    }
    let url = match (s.url, kind) {
        (Some(u), _) if u.starts_with("http://") || u.starts_with("https://") => Some(u),
        (Some(u), _) => {
            p.push(
                file,
                format!("{loc}.url"),
                format!("{u:?} is not an http(s) URL"),
            );
            None
        }
        (None, "misp-rest") => feed_url.map(str::to_owned),
        (None, _) => {
            p.push(
                file,
                format!("{loc}.url"),
                "the MISP instance to push to is needed (a misp-rest feed uses its own url)",
            );
            None
        }
    };
    let batch = match s.batch {
        None => crate::sightings::DEFAULT_BATCH,
        Some(b) if (1..=10_000).contains(&b) => b,
        Some(b) => {
            p.push(
                file,
                format!("{loc}.batch"),
                format!("{b} is not within 1..=10000"),
            );
            return None;
        }
    };
    let source = s.source.unwrap_or_else(|| "riposte".into());
    if source.is_empty() || source.contains(char::is_control) {
        p.push(
            file,
            format!("{loc}.source"),
            format!("{source:?} must be a non-empty name"),
        );
        return None;
    }
    if !s.push {
        return None;
    }
    Some(SightingPush {
        url: url?,
        interval: interval.unwrap_or(crate::sightings::DEFAULT_INTERVAL),
        source,
        batch,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> (Vec<FeedConfig>, Vec<String>) {
        let doc: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut p = Problems::new();
        let feeds = parse(
            doc.get("intel"),
            "riposte.yaml",
            &|x| Path::new("/base").join(x),
            &mut p,
        );
        (feeds, p.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn feeds_are_validated_with_every_problem() {
        let (feeds, problems) = run(
            "intel:\n  feeds:\n    - { name: a, type: csv, path: a.csv, csv: { preset: feodo }, interval: 30m, snapshot: true, max_age: 7d, confidence: 80, tlp: white }\n    - { name: b, type: nope, url: ftp://x, tlp: purple, interval: -1h }\n    - { name: a, type: stix, path: x.json, colour: red }\n",
        );
        assert_eq!(feeds.len(), 1);
        let a = &feeds[0];
        assert_eq!(a.location, Location::Path("/base/a.csv".into()));
        assert_eq!(a.interval, Duration::from_secs(1800));
        assert!(a.snapshot);
        assert_eq!(a.max_age, Some(chrono::TimeDelta::days(7)));
        assert_eq!(
            (a.defaults.confidence.get(), a.defaults.tlp),
            (80, Tlp::Clear)
        );
        assert_eq!(
            problems,
            [
                "riposte.yaml: intel.feeds[b].type: unknown feed type \"nope\" (valid: misp-feed, misp-event, misp-rest, stix, csv)",
                "riposte.yaml: intel.feeds[b].url: \"ftp://x\" is not an http(s) URL",
                "riposte.yaml: intel.feeds[b].interval: invalid duration \"-1h\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
                "riposte.yaml: intel.feeds[b].tlp: unknown TLP \"purple\" (valid: clear, green, amber, amber+strict, red)",
                "riposte.yaml: intel.feeds[2]: unknown field `colour`, expected one of `name`, `type`, `path`, `url`, `key_env`, `csv`, `interval`, `snapshot`, `max_age`, `confidence`, `tlp`, `pap`, `to_ids`, `subdomains`, `valid_for`, `tags`, `max_bytes`, `sightings`",
            ]
        );
    }

    #[test]
    fn sightings_push_is_validated_for_misp_feeds_only() {
        let (feeds, problems) = run(
            "intel:\n  feeds:\n    - { name: m, type: misp-rest, url: 'https://misp.example.org', sightings: { push: true, interval: 2m, batch: 100 } }\n    - { name: f, type: misp-feed, path: f/, sightings: { push: true, url: 'https://misp.example.org/', source: soc } }\n    - { name: off, type: misp-rest, url: 'https://misp.example.org', sightings: { push: false } }\n    - { name: c, type: csv, path: c.csv, csv: { preset: plain }, sightings: { push: true } }\n    - { name: g, type: misp-feed, path: g/, sightings: { push: true, batch: 0, colour: red } }\n    - { name: h, type: misp-event, path: h.json, sightings: { push: true } }\n",
        );
        let push: Vec<(&str, Option<SightingPush>)> = feeds
            .iter()
            .map(|f| (f.name.as_str(), f.sightings.clone()))
            .collect();
        assert_eq!(
            push,
            [
                (
                    "m",
                    Some(SightingPush {
                        url: "https://misp.example.org".into(),
                        interval: Duration::from_secs(120),
                        source: "riposte".into(),
                        batch: 100,
                    })
                ),
                (
                    "f",
                    Some(SightingPush {
                        url: "https://misp.example.org/".into(),
                        interval: Duration::from_secs(300),
                        source: "soc".into(),
                        batch: 500,
                    })
                ),
                ("off", None),
            ]
        );
        assert_eq!(
            problems,
            [
                "riposte.yaml: intel.feeds[c].sightings: only a MISP feed (misp-feed, misp-event, misp-rest) pushes sightings, not \"csv\"",
                "riposte.yaml: intel.feeds[4]: unknown field `colour`, expected one of `push`, `interval`, `url`, `source`, `batch`",
                "riposte.yaml: intel.feeds[h].sightings.url: the MISP instance to push to is needed (a misp-rest feed uses its own url)",
            ]
        );
    }
}
