//! Sharing indicators back out, in the formats sensors and platforms read:
//! plain lists for firewalls, the Zeek Intel framework, Suricata IP
//! reputation and datasets, a MISP feed folder, a STIX 2.1 bundle.
//!
//! Every writer takes indicators one at a time, so a store of any size is
//! exported page by page. Expired indicators are the caller's to filter
//! (`riposte intel export` leaves them out).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use base64::Engine;
use riposte_model::{Indicator, IndicatorKind, Timestamp, Tlp};
use serde_json::{Value, json};

use crate::import::stix::tlp_marking_id;

/// The export formats, as `--format` names them.
pub const FORMATS: &[&str] = &[
    "plain",
    "zeek",
    "suricata-iprep",
    "suricata-dataset",
    "misp-feed",
    "stix",
];

/// Name-based ids (see [`riposte_model::name_uuid`]).
pub use riposte_model::name_uuid;

/// One value per line: what firewalls and `ipset restore` scripts read.
pub fn plain(out: &mut dyn Write, ind: &Indicator) -> io::Result<()> {
    writeln!(out, "{}", ind.value)
}

/// The Zeek Intel framework header (`Intel::read_files`).
pub fn zeek_header(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"
    )
}

/// One Zeek Intel line; kinds Zeek has no type for (JA3, JA3S) are
/// skipped (`Ok(false)`). Zeek's URLs carry no scheme; tabs and newlines in
/// text are replaced by spaces.
pub fn zeek(out: &mut dyn Write, ind: &Indicator) -> io::Result<bool> {
    use IndicatorKind as K;
    let (kind, value) = match ind.kind {
        K::Ip => ("Intel::ADDR", ind.value.as_str()),
        K::Cidr => ("Intel::SUBNET", ind.value.as_str()),
        K::Domain => ("Intel::DOMAIN", ind.value.as_str()),
        K::Url => (
            "Intel::URL",
            ind.value
                .split_once("://")
                .map_or(ind.value.as_str(), |(_, rest)| rest),
        ),
        K::Md5 | K::Sha1 | K::Sha256 => ("Intel::FILE_HASH", ind.value.as_str()),
        K::Email => ("Intel::EMAIL", ind.value.as_str()),
        K::UserAgent => ("Intel::SOFTWARE", ind.value.as_str()),
        K::Filename => ("Intel::FILE_NAME", ind.value.as_str()),
        K::Ja3 | K::Ja3s => return Ok(false),
    };
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let desc = ind.description.as_deref().map_or("-".into(), clean);
    let url = ind.reference.as_deref().map_or("-".into(), clean);
    writeln!(
        out,
        "{}\t{kind}\t{}\t{desc}\t{url}",
        clean(value),
        clean(&ind.feed)
    )?;
    Ok(true)
}

/// Suricata IP reputation: `address,category,score` (score 1–127 from the
/// confidence); only addresses and networks (`Ok(false)` otherwise). The
/// category file is [`suricata_categories`].
pub fn suricata_iprep(out: &mut dyn Write, ind: &Indicator, category: u8) -> io::Result<bool> {
    if !matches!(ind.kind, IndicatorKind::Ip | IndicatorKind::Cidr) {
        return Ok(false);
    }
    let score = (u32::from(ind.confidence.get()) * 127 / 100).max(1);
    writeln!(out, "{},{category},{score}", ind.value)?;
    Ok(true)
}

/// The categories file `reputation-categories-file` names.
pub fn suricata_categories(out: &mut dyn Write, category: u8, name: &str) -> io::Result<()> {
    writeln!(out, "{category},{name},Riposte threat intel ({name})")
}

/// A Suricata dataset line: `md5`/`sha256` types as hex, `ipv4`/`ip`
/// types as addresses, `string` types (domains, URLs, …) base64-encoded as
/// Suricata requires.
pub fn suricata_dataset(out: &mut dyn Write, ind: &Indicator) -> io::Result<()> {
    use IndicatorKind as K;
    match ind.kind {
        K::Md5 | K::Sha256 | K::Ip | K::Sha1 => writeln!(out, "{}", ind.value),
        _ => writeln!(
            out,
            "{}",
            base64::engine::general_purpose::STANDARD.encode(ind.value.as_bytes())
        ),
    }
}

fn misp_type(kind: IndicatorKind) -> &'static str {
    use IndicatorKind as K;
    match kind {
        K::Ip | K::Cidr => "ip-dst",
        K::Domain => "domain",
        K::Url => "url",
        K::Md5 => "md5",
        K::Sha1 => "sha1",
        K::Sha256 => "sha256",
        K::Email => "email-src",
        K::Ja3 => "ja3-fingerprint-md5",
        K::Ja3s => "ja3s-fingerprint-md5",
        K::UserAgent => "user-agent",
        K::Filename => "filename",
    }
}

fn misp_category(kind: IndicatorKind) -> &'static str {
    match kind {
        IndicatorKind::Md5
        | IndicatorKind::Sha1
        | IndicatorKind::Sha256
        | IndicatorKind::Filename => "Payload delivery",
        _ => "Network activity",
    }
}

/// A MISP feed folder being written: one event per feed, its attributes
/// gathered in memory (a MISP event is one JSON document), then
/// `manifest.json` and `hashes.csv`.
#[derive(Debug, Default)]
pub struct MispFeedWriter {
    events: BTreeMap<String, Vec<Value>>,
    tlp: BTreeMap<String, Tlp>,
}

impl MispFeedWriter {
    pub fn add(&mut self, ind: &Indicator) {
        let ts = ind.last_seen.map_or(0, |t| t.timestamp());
        let mut attr = json!({
            "uuid": name_uuid(&format!("{}|{}|{}", ind.kind, ind.value, ind.feed)).to_string(),
            "type": misp_type(ind.kind),
            "category": misp_category(ind.kind),
            "value": ind.value.as_str(),
            "to_ids": ind.to_ids,
            "timestamp": ts.to_string(),
            "comment": ind.description.clone().unwrap_or_default(),
            "Tag": ind.tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        });
        if let Some(t) = ind.first_seen {
            attr["first_seen"] = json!(t.to_rfc3339());
        }
        if let Some(t) = ind.last_seen {
            attr["last_seen"] = json!(t.to_rfc3339());
        }
        let tlp = self.tlp.entry(ind.feed.to_string()).or_default();
        *tlp = (*tlp).max(ind.tlp);
        self.events
            .entry(ind.feed.to_string())
            .or_default()
            .push(attr);
    }

    /// Writes the folder; returns the number of events.
    pub fn finish(self, dir: &Path, now: Timestamp) -> io::Result<usize> {
        std::fs::create_dir_all(dir)?;
        let mut manifest = serde_json::Map::new();
        let mut hashes = io::BufWriter::new(std::fs::File::create(dir.join("hashes.csv"))?);
        let n = self.events.len();
        for (feed, attrs) in self.events {
            let uuid = name_uuid(&format!("riposte feed {feed}")).to_string();
            let tlp = self.tlp.get(&feed).copied().unwrap_or_default();
            let tlp_tag = if tlp == Tlp::Clear {
                "tlp:white".to_owned()
            } else {
                format!("tlp:{tlp}")
            };
            let info = format!("Riposte threat intel: {feed}");
            let tags = json!([{"name": tlp_tag}]);
            let meta = json!({
                "Orgc": {"name": "Riposte", "uuid": name_uuid("riposte org").to_string()},
                "Tag": tags,
                "info": info,
                "date": now.format("%Y-%m-%d").to_string(),
                "analysis": 2,
                "threat_level_id": 3,
                "timestamp": now.timestamp(),
            });
            for a in &attrs {
                use md5::Digest;
                let v = a["value"].as_str().unwrap_or_default();
                writeln!(
                    hashes,
                    "{},{uuid}",
                    hex::encode(md5::Md5::digest(v.as_bytes()))
                )?;
            }
            let mut event = meta.clone();
            event["uuid"] = json!(uuid);
            event["published"] = json!(true);
            event["Attribute"] = Value::Array(attrs);
            let file = io::BufWriter::new(std::fs::File::create(dir.join(format!("{uuid}.json")))?);
            serde_json::to_writer(file, &json!({"Event": event}))?;
            manifest.insert(uuid, meta);
        }
        hashes.flush()?;
        std::fs::write(
            dir.join("manifest.json"),
            serde_json::to_vec(&Value::Object(manifest))?,
        )?;
        Ok(n)
    }
}

/// The STIX pattern for one indicator.
pub fn stix_pattern(ind: &Indicator) -> String {
    use IndicatorKind as K;
    let v = ind.value.replace('\\', "\\\\").replace('\'', "\\'");
    match ind.kind {
        K::Ip | K::Cidr if ind.value.contains(':') => format!("[ipv6-addr:value = '{v}']"),
        K::Ip | K::Cidr => format!("[ipv4-addr:value = '{v}']"),
        K::Domain => format!("[domain-name:value = '{v}']"),
        K::Url => format!("[url:value = '{v}']"),
        K::Md5 => format!("[file:hashes.MD5 = '{v}']"),
        K::Sha1 => format!("[file:hashes.'SHA-1' = '{v}']"),
        K::Sha256 => format!("[file:hashes.'SHA-256' = '{v}']"),
        K::Email => format!("[email-addr:value = '{v}']"),
        K::Filename => format!("[file:name = '{v}']"),
        K::UserAgent => format!(
            "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '{v}']"
        ),
        // No standard STIX object carries JA3: a custom property.
        K::Ja3 => format!("[network-traffic:extensions.'x-ja3'.hash = '{v}']"),
        K::Ja3s => format!("[network-traffic:extensions.'x-ja3s'.hash = '{v}']"),
    }
}

/// One STIX 2.1 indicator object.
pub fn stix_indicator(ind: &Indicator, now: Timestamp) -> Value {
    let fmt = |t: Timestamp| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let id = ind.stix_id();
    let mut o = json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id,
        "created": fmt(ind.first_seen.unwrap_or(now)),
        "modified": fmt(ind.last_seen.unwrap_or(now)),
        "name": ind.description.clone().unwrap_or_else(|| format!("{} {}", ind.kind, ind.value)),
        "pattern": stix_pattern(ind),
        "pattern_type": "stix",
        "valid_from": fmt(ind.first_seen.unwrap_or(now)),
        "confidence": ind.confidence.get(),
        "indicator_types": [if ind.to_ids { "malicious-activity" } else { "anomalous-activity" }],
        "object_marking_refs": [tlp_marking_id(ind.tlp)],
        "x_riposte_feed": ind.feed.as_str(),
        "x_riposte_to_ids": ind.to_ids,
    });
    if let Some(t) = ind.valid_until {
        o["valid_until"] = json!(fmt(t));
    }
    if !ind.tags.is_empty() {
        o["labels"] = json!(ind.tags);
    }
    o
}

/// Writes a bundle `{"type":"bundle","id":…,"objects":[…]}` object by
/// object, without holding the objects.
#[derive(Debug)]
pub struct StixBundleWriter<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> StixBundleWriter<W> {
    pub fn new(mut out: W, now: Timestamp) -> io::Result<Self> {
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[",
            name_uuid(&format!(
                "riposte bundle {}",
                now.timestamp_nanos_opt().unwrap_or(0)
            ))
        )?;
        Ok(Self { out, first: true })
    }

    pub fn add(&mut self, ind: &Indicator, now: Timestamp) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, &stix_indicator(ind, now))?;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"]}\n")?;
        Ok(self.out)
    }
}
