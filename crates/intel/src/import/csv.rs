//! CSV and plain-text blocklists with a declared column mapping, streamed
//! line by line (lines over [`MAX_LINE_BYTES`] are rejected and skipped
//! without being held), so a multi-gigabyte feed needs no more memory than
//! its longest accepted line.
//!
//! Presets cover the common public formats: abuse.ch Feodo Tracker
//! (`feodo`), URLhaus (`urlhaus`) and ThreatFox (`threatfox`) CSV exports,
//! Spamhaus DROP/EDROP (`spamhaus-drop`), and one value per line (`plain`).

use std::borrow::Cow;
use std::io::BufRead;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use riposte_model::{Confidence, IndicatorKind, Timestamp};
use serde::Deserialize;

use super::{BoundedLines, FeedDefaults, ImportError, ImportReport, Line, Sink};

/// The longest line read; longer ones are rejected.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Where a row's indicator kind comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum KindSpec {
    /// Every row is of this kind (addresses and networks are told apart by
    /// value: an `ip` column may hold `/24`s).
    Fixed(IndicatorKind),
    /// Guessed from the value: address or network, URL (has `://`), MD5 /
    /// SHA-1 / SHA-256 by length, email (has `@`), else domain.
    Auto,
    /// Read from a column, through a table of the feed's type names
    /// (ThreatFox `ip:port` → ip). Rows whose type is not in the table are
    /// skipped, counted under the type.
    Column {
        index: usize,
        names: Vec<(String, IndicatorKind)>,
    },
}

/// How to read one CSV/plain feed.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvFormat {
    pub delimiter: u8,
    /// Lines starting with one of these (after leading spaces) are comments.
    pub comments: Vec<String>,
    /// The first non-comment line is a header, not a record.
    pub header: bool,
    /// 0-based columns.
    pub value: usize,
    pub kind: KindSpec,
    pub first_seen: Option<usize>,
    pub last_seen: Option<usize>,
    pub description: Option<usize>,
    /// Comma-separated tags in one column.
    pub tags: Option<usize>,
    /// 0–100.
    pub confidence: Option<usize>,
    /// Values may carry a port (`192.0.2.1:443`), removed before parsing.
    pub strip_port: bool,
}

impl CsvFormat {
    fn base(value: usize, kind: KindSpec) -> Self {
        Self {
            delimiter: b',',
            comments: vec!["#".into()],
            header: false,
            value,
            kind,
            first_seen: None,
            last_seen: None,
            description: None,
            tags: None,
            confidence: None,
            strip_port: false,
        }
    }

    /// A named preset.
    pub fn preset(name: &str) -> Option<Self> {
        use IndicatorKind as K;
        Some(match name {
            // "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
            "feodo" => Self {
                first_seen: Some(0),
                last_seen: Some(4),
                description: Some(5),
                ..Self::base(1, KindSpec::Fixed(K::Ip))
            },
            // id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
            "urlhaus" => Self {
                first_seen: Some(1),
                last_seen: Some(4),
                description: Some(5),
                tags: Some(6),
                ..Self::base(2, KindSpec::Fixed(K::Url))
            },
            // first_seen_utc, ioc_id, ioc_value, ioc_type, threat_type, fk_malware,
            // malware_alias, malware_printable, last_seen_utc, confidence_level,
            // reference, tags, anonymous, reporter
            "threatfox" => Self {
                first_seen: Some(0),
                last_seen: Some(8),
                description: Some(7),
                tags: Some(11),
                confidence: Some(9),
                strip_port: true,
                ..Self::base(
                    2,
                    KindSpec::Column {
                        index: 3,
                        names: vec![
                            ("ip:port".into(), K::Ip),
                            ("domain".into(), K::Domain),
                            ("url".into(), K::Url),
                            ("md5_hash".into(), K::Md5),
                            ("sha1_hash".into(), K::Sha1),
                            ("sha256_hash".into(), K::Sha256),
                        ],
                    },
                )
            },
            // 1.10.16.0/20 ; SBL256894
            "spamhaus-drop" => Self {
                delimiter: b';',
                comments: vec![";".into(), "#".into()],
                description: Some(1),
                ..Self::base(0, KindSpec::Fixed(K::Cidr))
            },
            "plain" => Self {
                delimiter: b'\0',
                comments: vec!["#".into(), ";".into(), "//".into()],
                ..Self::base(0, KindSpec::Auto)
            },
            _ => return None,
        })
    }

    pub const PRESETS: &'static [&'static str] =
        &["feodo", "urlhaus", "threatfox", "spamhaus-drop", "plain"];
}

/// The `csv:` section of a feed's configuration: a preset, or columns, or
/// a preset with some columns overridden.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCsvFormat {
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub comment: Option<Vec<String>>,
    #[serde(default)]
    pub header: Option<bool>,
    /// `ip`, `domain`, …, or `auto`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub columns: Option<RawColumns>,
    #[serde(default)]
    pub strip_port: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumns {
    #[serde(default)]
    pub value: Option<usize>,
    #[serde(default)]
    pub kind: Option<usize>,
    #[serde(default)]
    pub first_seen: Option<usize>,
    #[serde(default)]
    pub last_seen: Option<usize>,
    #[serde(default)]
    pub description: Option<usize>,
    #[serde(default)]
    pub tags: Option<usize>,
    #[serde(default)]
    pub confidence: Option<usize>,
}

impl RawCsvFormat {
    /// Validates into a [`CsvFormat`]; every problem is returned.
    pub fn build(self) -> Result<CsvFormat, Vec<String>> {
        let mut problems = Vec::new();
        let mut format = match &self.preset {
            Some(p) => CsvFormat::preset(p).unwrap_or_else(|| {
                problems.push(format!(
                    "unknown preset {p:?} (valid: {})",
                    CsvFormat::PRESETS.join(", ")
                ));
                CsvFormat::base(0, KindSpec::Auto)
            }),
            None => CsvFormat::base(0, KindSpec::Auto),
        };
        if let Some(d) = &self.delimiter {
            match d.as_bytes() {
                [b] if b.is_ascii() => format.delimiter = *b,
                _ if d == "\\t" => format.delimiter = b'\t',
                _ => problems.push(format!("delimiter {d:?} must be one ASCII character")),
            }
        }
        if let Some(c) = self.comment {
            format.comments = c;
        }
        if let Some(h) = self.header {
            format.header = h;
        }
        if let Some(k) = &self.kind {
            if k == "auto" {
                format.kind = KindSpec::Auto;
            } else {
                match k.parse::<IndicatorKind>() {
                    Ok(k) => format.kind = KindSpec::Fixed(k),
                    Err(e) => problems.push(format!("kind: {e} (or auto)")),
                }
            }
        }
        if let Some(c) = self.columns {
            if let Some(v) = c.value {
                format.value = v;
            }
            if let Some(k) = c.kind {
                format.kind = KindSpec::Column {
                    index: k,
                    names: IndicatorKind::ALL
                        .iter()
                        .map(|k| (k.as_str().to_owned(), *k))
                        .collect(),
                };
            }
            format.first_seen = c.first_seen.or(format.first_seen);
            format.last_seen = c.last_seen.or(format.last_seen);
            format.description = c.description.or(format.description);
            format.tags = c.tags.or(format.tags);
            format.confidence = c.confidence.or(format.confidence);
        } else if self.preset.is_none() && self.kind.is_none() {
            problems.push("give a preset, or a kind and columns".into());
        }
        if let Some(s) = self.strip_port {
            format.strip_port = s;
        }
        if problems.is_empty() {
            Ok(format)
        } else {
            Err(problems)
        }
    }
}

/// Splits one CSV line: fields separated by `delim`, a field may be
/// double-quoted with `""` for a quote inside; spaces around fields are
/// trimmed. A NUL delimiter means "one field: the whole line".
pub fn split_fields(line: &str, delim: u8) -> Result<Vec<Cow<'_, str>>, &'static str> {
    if delim == 0 {
        return Ok(vec![Cow::Borrowed(line.trim())]);
    }
    let delim = char::from(delim);
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start();
        if let Some(body) = trimmed.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = body.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated quoted field"),
                    Some((i, '"')) => {
                        if body[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => value.push(c),
                }
            };
            fields.push(Cow::Owned(value));
            let after = body[end..].trim_start();
            match after.chars().next() {
                None => return Ok(fields),
                Some(c) if c == delim => rest = &after[c.len_utf8()..],
                Some(_) => return Err("text after a closing quote"),
            }
        } else {
            match rest.find(delim) {
                Some(i) => {
                    fields.push(Cow::Borrowed(rest[..i].trim()));
                    rest = &rest[i + delim.len_utf8()..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest.trim()));
                    return Ok(fields);
                }
            }
        }
    }
}

/// The kind a bare value looks like.
pub fn guess_kind(value: &str) -> IndicatorKind {
    use IndicatorKind as K;
    let v = value.trim();
    if v.parse::<std::net::IpAddr>().is_ok() || v.parse::<ipnet::IpNet>().is_ok() {
        return K::Ip;
    }
    if v.contains("://") {
        return K::Url;
    }
    if v.bytes().all(|b| b.is_ascii_hexdigit()) {
        match v.len() {
            32 => return K::Md5,
            40 => return K::Sha1,
            64 => return K::Sha256,
            _ => {}
        }
    }
    if v.contains('@') {
        return K::Email;
    }
    if v.contains('/') {
        return K::Url;
    }
    K::Domain
}

/// `2021-01-17 07:44:46` (UTC), `2021-01-17`, or RFC 3339.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn strip_port(v: &str) -> &str {
    if let Some(inner) = v.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(v);
    }
    match v.rsplit_once(':') {
        // One colon: IPv4 (or name) with a port; more: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => v,
    }
}

/// Reads a CSV/plain feed from `reader`; `name` (the file or URL) names it
/// in errors, with the line number.
pub fn import_csv(
    reader: impl BufRead,
    name: &str,
    format: &CsvFormat,
    defaults: &FeedDefaults,
    sink: &mut Sink<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::new(&defaults.feed);
    let mut lines = BoundedLines::new(reader, MAX_LINE_BYTES);
    let mut header_pending = format.header;
    loop {
        let line = lines.next_line().map_err(|source| ImportError::Io {
            path: name.to_owned(),
            source,
        })?;
        let Some((line_no, line)) = line else { break };
        let loc = || format!("{name}:{line_no}");
        let text = match line {
            Line::Text(t) => t,
            Line::TooLong(n) => {
                report.read += 1;
                report.reject(
                    loc(),
                    format!("line of {n} bytes is over the {MAX_LINE_BYTES}-byte limit"),
                );
                continue;
            }
            Line::NotUtf8 => {
                report.read += 1;
                report.reject(loc(), "not UTF-8");
                continue;
            }
        };
        let trimmed = text.trim_start_matches('\u{feff}').trim();
        if trimmed.is_empty()
            || format
                .comments
                .iter()
                .any(|c| trimmed.starts_with(c.as_str()))
        {
            continue;
        }
        if header_pending {
            header_pending = false;
            continue;
        }
        report.read += 1;
        let fields = match split_fields(trimmed, format.delimiter) {
            Ok(f) => f,
            Err(why) => {
                report.reject(loc(), why);
                continue;
            }
        };
        let col = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(|f| f.as_ref());
        let Some(raw) = col(Some(format.value)) else {
            report.reject(
                loc(),
                format!(
                    "no column {} (the value); the line has {}",
                    format.value + 1,
                    fields.len()
                ),
            );
            continue;
        };
        let kind = match &format.kind {
            KindSpec::Fixed(k) => *k,
            KindSpec::Auto => guess_kind(raw),
            KindSpec::Column { index, names } => {
                let Some(t) = col(Some(*index)) else {
                    report.reject(loc(), format!("no column {} (the kind)", index + 1));
                    continue;
                };
                match names.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
                    Some((_, k)) => *k,
                    None => {
                        report.skip(format!("type {t}"));
                        continue;
                    }
                }
            }
        };
        let value = if format.strip_port
            && matches!(
                kind,
                IndicatorKind::Ip | IndicatorKind::Cidr | IndicatorKind::Domain
            ) {
            strip_port(raw)
        } else {
            raw
        };
        let mut ind = match defaults.indicator(kind, value) {
            Ok(i) => i,
            Err(e) => {
                report.reject(loc(), e.to_string());
                continue;
            }
        };
        ind.first_seen = col(format.first_seen).and_then(parse_time);
        ind.last_seen = col(format.last_seen)
            .and_then(parse_time)
            .or(ind.first_seen);
        if let Some(d) = col(format.description).filter(|d| !d.is_empty()) {
            ind.description = Some(d.to_owned());
        }
        if let Some(t) = col(format.tags) {
            ind.tags.extend(
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            );
            ind.tags.sort();
            ind.tags.dedup();
        }
        if let Some(c) = col(format.confidence).filter(|c| !c.is_empty()) {
            match c.parse::<u8>().ok().and_then(|c| Confidence::new(c).ok()) {
                Some(c) => ind.confidence = c,
                None => {
                    report.reject(loc(), format!("confidence {c:?} is not 0-100"));
                    continue;
                }
            }
        }
        defaults.expire(&mut ind);
        report.accepted += 1;
        report.indicators += 1;
        sink(ind)?;
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::import::misp::collect;
    use chrono::TimeZone;
    use riposte_model::Indicator;

    fn defaults() -> FeedDefaults {
        FeedDefaults::new("bl", Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap())
    }

    fn run(text: &str, preset: &str) -> (Vec<Indicator>, ImportReport) {
        let mut out = Vec::new();
        let report = import_csv(
            text.as_bytes(),
            "feed.csv",
            &CsvFormat::preset(preset).unwrap(),
            &defaults(),
            &mut collect(&mut out),
        )
        .unwrap();
        (out, report)
    }

    fn values(out: &[Indicator]) -> Vec<String> {
        out.iter()
            .map(|i| format!("{} {}", i.kind, i.value))
            .collect()
    }

    #[test]
    fn fields_split_with_quotes_and_trimming() {
        assert_eq!(
            split_fields(r#""a, b", c ,"say ""hi""","""#, b',').unwrap(),
            ["a, b", "c", "say \"hi\"", ""]
        );
        assert_eq!(
            split_fields("1.2.3.0/24 ; SBL1", b';').unwrap(),
            ["1.2.3.0/24", "SBL1"]
        );
        assert_eq!(
            split_fields(r#""open"#, b',').unwrap_err(),
            "unterminated quoted field"
        );
        assert_eq!(
            split_fields(r#""a"x,b"#, b',').unwrap_err(),
            "text after a closing quote"
        );
    }

    #[test]
    fn feodo_rows_and_broken_rows_are_all_accounted_for() {
        let text = "################\n\
# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n\
# \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\
\"2021-01-17 07:44:46\",\"51.178.161.32\",\"4643\",\"online\",\"2021-06-24\",\"Dridex\"\n\
\"2021-01-18 07:44:46\",\"51.178.161.999\",\"4643\",\"online\",\"2021-06-24\",\"Dridex\"\n\
\"2021-01-19 07:44:46\"\n\
\"2021-01-20 07:44:46\",\"2001:db8::1\",\"443\",\"offline\",\"\",\"QakBot\"\n";
        let (out, report) = run(text, "feodo");
        assert_eq!(values(&out), ["ip 51.178.161.32", "ip 2001:db8::1"]);
        assert_eq!(out[0].description.as_deref(), Some("Dridex"));
        assert_eq!(
            out[0].first_seen,
            Some(Utc.with_ymd_and_hms(2021, 1, 17, 7, 44, 46).unwrap())
        );
        assert_eq!(
            out[0].last_seen,
            Some(Utc.with_ymd_and_hms(2021, 6, 24, 0, 0, 0).unwrap())
        );
        assert_eq!(out[1].last_seen, out[1].first_seen);
        assert_eq!((report.read, report.accepted, report.rejected), (4, 2, 2));
        assert_eq!(
            report
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "feed.csv:5: ip \"51.178.161.999\": not an IP address or network",
                "feed.csv:6: no column 2 (the value); the line has 1",
            ]
        );
    }

    #[test]
    fn threatfox_types_ports_confidence_and_tags() {
        let text = "# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n\
\"2021-06-24 10:00:00\", \"1\", \"198.51.100.4:443\", \"ip:port\", \"botnet_cc\", \"win.cobalt_strike\", \"\", \"Cobalt Strike\", \"\", \"75\", \"\", \"CobaltStrike,c2\", \"0\", \"abuse_ch\"\n\
\"2021-06-24 10:00:00\", \"2\", \"evil.example\", \"domain\", \"botnet_cc\", \"x\", \"\", \"X\", \"\", \"100\", \"\", \"\", \"0\", \"abuse_ch\"\n\
\"2021-06-24 10:00:00\", \"3\", \"ab\", \"sha3_384_hash\", \"payload\", \"x\", \"\", \"X\", \"\", \"50\", \"\", \"\", \"0\", \"abuse_ch\"\n\
\"2021-06-24 10:00:00\", \"4\", \"evil.example\", \"domain\", \"botnet_cc\", \"x\", \"\", \"X\", \"\", \"200\", \"\", \"\", \"0\", \"abuse_ch\"\n";
        let (out, report) = run(text, "threatfox");
        assert_eq!(values(&out), ["ip 198.51.100.4", "domain evil.example"]);
        assert_eq!(out[0].confidence.get(), 75);
        assert_eq!(out[0].tags, ["CobaltStrike", "c2"]);
        assert_eq!(out[1].confidence.get(), 100);
        assert_eq!(report.skipped.get("type sha3_384_hash"), Some(&1));
        assert_eq!(report.rejected, 1);
        assert_eq!(
            report.errors[0].to_string(),
            "feed.csv:5: confidence \"200\" is not 0-100"
        );
    }

    #[test]
    fn spamhaus_drop_urlhaus_and_plain_lists() {
        let (out, report) = run(
            "; Spamhaus DROP List 2021/06/24\n; Last-Modified: Thu, 24 Jun 2021\n1.10.16.0/20 ; SBL256894\n2.56.192.0/22 ; SBL459831\n",
            "spamhaus-drop",
        );
        assert_eq!(values(&out), ["cidr 1.10.16.0/20", "cidr 2.56.192.0/22"]);
        assert_eq!(out[0].description.as_deref(), Some("SBL256894"));
        assert_eq!(report.read, 2);
        let (out, _) = run(
            "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\"1\",\"2021-06-24 10:10:10\",\"http://198.51.100.9:8080/bins/x.arm7\",\"online\",\"2021-06-24 10:10:10\",\"malware_download\",\"elf,Mozi\",\"https://urlhaus.abuse.ch/url/1/\",\"r\"\n",
            "urlhaus",
        );
        assert_eq!(values(&out), ["url http://198.51.100.9:8080/bins/x.arm7"]);
        assert_eq!(out[0].tags, ["Mozi", "elf"]);
        let (out, report) = run(
            "# plain\n192.0.2.1\n198.51.100.0/24\nevil.example\n\nhttp://evil.example/x\nd41d8cd98f00b204e9800998ecf8427e\nbad value here\n",
            "plain",
        );
        assert_eq!(
            values(&out),
            [
                "ip 192.0.2.1",
                "cidr 198.51.100.0/24",
                "domain evil.example",
                "url http://evil.example/x",
                "md5 d41d8cd98f00b204e9800998ecf8427e"
            ]
        );
        assert_eq!(report.rejected, 1);
        assert_eq!(report.errors[0].location, "feed.csv:8");
    }

    #[test]
    fn a_mapping_is_validated_with_every_problem() {
        let raw: RawCsvFormat =
            serde_yaml_ng::from_str("{preset: nope, delimiter: ab, kind: ipv9}").unwrap();
        assert_eq!(
            raw.build().unwrap_err(),
            [
                "unknown preset \"nope\" (valid: feodo, urlhaus, threatfox, spamhaus-drop, plain)",
                "delimiter \"ab\" must be one ASCII character",
                "kind: unknown indicator kind \"ipv9\" (valid: ip, cidr, domain, url, md5, sha1, sha256, email, ja3, ja3s, user-agent, filename) (or auto)",
            ]
        );
        let raw: RawCsvFormat = serde_yaml_ng::from_str(
            "{delimiter: ';', kind: domain, columns: {value: 2, description: 0}}",
        )
        .unwrap();
        let f = raw.build().unwrap();
        assert_eq!((f.delimiter, f.value, f.description), (b';', 2, Some(0)));
        assert_eq!(f.kind, KindSpec::Fixed(IndicatorKind::Domain));
    }
}
