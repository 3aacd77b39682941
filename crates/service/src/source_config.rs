//! The `sources:` section of riposte.yaml: where events come from and how
//! their records are decoded.
//!
//! ```yaml
//! sources:
//!   - { type: file, path: /var/log/auth.log, format: syslog, read_rotated: true }
//!   - { type: syslog-udp, listen: 0.0.0.0:514 }
//!   - { type: nats, url: nats://127.0.0.1:4222, stream: EVENTS, format: json }
//!   - { type: evtx-dir, path: /srv/evtx }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use riposte_ingest::{DecodeOptions, Format, JsonMapping};
use riposte_model::Problems;
use riposte_model::yaml::take;
use serde::Deserialize;
use serde_yaml_ng::Value;

/// One place events come from, and how its records are decoded.
#[derive(Clone, Debug)]
pub struct SourceConfig {
    /// Unique; the checkpoint key and the events' origin.
    pub name: String,
    pub format: Format,
    /// The `mapping` of a `json` source.
    pub decode: DecodeOptions,
    pub kind: SourceKind,
}

/// The kinds of source, as `type:` names them.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    /// `file`: follows a file from its last committed offset, across
    /// rotations; on its first start, optionally after reading the rotated
    /// files beside it.
    File { path: PathBuf, read_rotated: bool },
    /// `syslog-udp`: one message per datagram.
    SyslogUdp { listen: SocketAddr },
    /// `syslog-tcp`: octet-counted or newline-framed messages (RFC 6587),
    /// told apart per connection by the first byte.
    SyslogTcp { listen: SocketAddr },
    /// `nats`: a JetStream stream, through a durable pull consumer.
    Nats {
        url: String,
        stream: String,
        subject: Option<String>,
        consumer: String,
    },
    /// `evtx-dir`: every `.evtx` file in a directory, each read once.
    EvtxDir { path: PathBuf },
}

impl SourceKind {
    /// The `type:` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::File { .. } => "file",
            SourceKind::SyslogUdp { .. } => "syslog-udp",
            SourceKind::SyslogTcp { .. } => "syslog-tcp",
            SourceKind::Nats { .. } => "nats",
            SourceKind::EvtxDir { .. } => "evtx-dir",
        }
    }
}

const SOURCE_TYPES: &str = "file, syslog-udp, syslog-tcp, nats, evtx-dir";

/// Reads `sources:` (absent: none). Every problem is pushed, each naming
/// its item; a duplicate name is reported and the item still kept, as the
/// whole configuration is refused anyway.
pub(crate) fn parse_sources(
    section: Option<&Value>,
    file: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> Vec<SourceConfig> {
    let mut sources = Vec::new();
    match section {
        None => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let loc = format!("sources[{i}]");
                if item.get("type").is_none() {
                    p.push(
                        file,
                        format!("{loc}.type"),
                        format!("missing (valid: {SOURCE_TYPES})"),
                    );
                    continue;
                }
                let Some(raw) = take::<RawSource>(item.clone(), file, &loc, p) else {
                    continue;
                };
                if let Some(source) = raw.build(file, &loc, resolve, p) {
                    if sources.iter().any(|s: &SourceConfig| s.name == source.name) {
                        p.push(
                            file,
                            &loc,
                            format!("duplicate source name {:?}", source.name),
                        );
                    }
                    sources.push(source);
                }
            }
        }
        Some(_) => p.push(file, "sources", "must be a list"),
    }
    sources
}

/// A `sources` item before validation: the union of every kind's keys, so
/// that one unknown-key check covers them all; keys that do not belong to
/// the item's type are refused by name afterwards.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    consumer: Option<String>,
    #[serde(default)]
    mapping: Option<RawMapping>,
    #[serde(default)]
    read_rotated: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    #[serde(default)]
    dataset: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

impl RawSource {
    /// Validates one item; problems are reported against `loc`.
    fn build(
        self,
        file: &str,
        loc: &str,
        resolve: &dyn Fn(&Path) -> PathBuf,
        p: &mut Problems,
    ) -> Option<SourceConfig> {
        let before = p.len();
        let need = |key: &str, v: Option<String>, p: &mut Problems| {
            if v.is_none() {
                p.push(
                    file,
                    format!("{loc}.{key}"),
                    format!("missing (required for type {})", self.kind),
                );
            }
            v
        };
        let listen = |v: Option<String>, p: &mut Problems| {
            let v = v?;
            match v.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    p.push(
                        file,
                        format!("{loc}.listen"),
                        format!("not an address:port: {v:?}"),
                    );
                    None
                }
            }
        };
        let path = self.path.as_deref().map(resolve);
        let (kind, default_format, used): (Option<SourceKind>, Option<Format>, &[&str]) =
            match self.kind.as_str() {
                "file" => (
                    need("path", path.as_ref().map(|p| p.display().to_string()), p)
                        .and(path.clone())
                        .map(|path| SourceKind::File {
                            path,
                            read_rotated: self.read_rotated.unwrap_or(false),
                        }),
                    None,
                    &["path", "format", "mapping", "read_rotated"],
                ),
                "syslog-udp" | "syslog-tcp" => {
                    let addr = need("listen", self.listen.clone(), p);
                    let addr = listen(addr, p);
                    let kind = addr.map(|listen| {
                        if self.kind == "syslog-udp" {
                            SourceKind::SyslogUdp { listen }
                        } else {
                            SourceKind::SyslogTcp { listen }
                        }
                    });
                    (kind, Some(Format::Syslog), &["listen", "format", "mapping"])
                }
                "nats" => {
                    let url = need("url", self.url.clone(), p);
                    let stream = need("stream", self.stream.clone(), p);
                    let kind = match (url, stream) {
                        (Some(url), Some(stream)) => Some(SourceKind::Nats {
                            consumer: self
                                .consumer
                                .clone()
                                .unwrap_or_else(|| format!("riposte-{stream}")),
                            url,
                            stream,
                            subject: self.subject.clone(),
                        }),
                        _ => None,
                    };
                    (
                        kind,
                        None,
                        &["url", "stream", "subject", "consumer", "format", "mapping"],
                    )
                }
                "evtx-dir" => (
                    need("path", path.as_ref().map(|p| p.display().to_string()), p)
                        .and(path.clone())
                        .map(|path| SourceKind::EvtxDir { path }),
                    Some(Format::Evtx),
                    &["path"],
                ),
                other => {
                    p.push(
                        file,
                        format!("{loc}.type"),
                        format!("unknown source type {other:?} (valid: {SOURCE_TYPES})"),
                    );
                    return None;
                }
            };
        let present = [
            ("path", self.path.is_some()),
            ("listen", self.listen.is_some()),
            ("url", self.url.is_some()),
            ("stream", self.stream.is_some()),
            ("subject", self.subject.is_some()),
            ("consumer", self.consumer.is_some()),
            ("mapping", self.mapping.is_some()),
            ("format", self.format.is_some() && self.kind != "evtx-dir"),
            ("read_rotated", self.read_rotated.is_some()),
        ];
        for (key, is_set) in present {
            if is_set && !used.contains(&key) {
                p.push(
                    file,
                    format!("{loc}.{key}"),
                    format!(
                        "not a key of type {} (valid: {})",
                        self.kind,
                        used.join(", ")
                    ),
                );
            }
        }
        let format = match (&self.format, default_format) {
            (Some(f), _) => match f.parse::<Format>() {
                Ok(f) => Some(f),
                Err(e) => {
                    p.push(file, format!("{loc}.format"), e.to_string());
                    None
                }
            },
            (None, Some(d)) => Some(d),
            (None, None) => {
                p.push(
                    file,
                    format!("{loc}.format"),
                    format!("missing (required for type {})", self.kind),
                );
                None
            }
        };
        let mut decode = DecodeOptions::default();
        if let Some(m) = self.mapping {
            if format != Some(Format::Json) {
                p.push(
                    file,
                    format!("{loc}.mapping"),
                    "only a json source takes a mapping",
                );
            }
            let mut mapping = JsonMapping::default();
            if let Some(d) = m.dataset {
                mapping.dataset = d;
            }
            mapping.timestamp = m.timestamp;
            mapping.fields = m.fields.into_iter().collect();
            decode.json_mapping = Some(mapping);
        }
        let name = self.name.or_else(|| match &kind {
            Some(SourceKind::File { path, .. } | SourceKind::EvtxDir { path }) => {
                Some(path.display().to_string())
            }
            Some(SourceKind::SyslogUdp { listen }) => Some(format!("syslog-udp:{listen}")),
            Some(SourceKind::SyslogTcp { listen }) => Some(format!("syslog-tcp:{listen}")),
            Some(SourceKind::Nats {
                stream, consumer, ..
            }) => Some(format!("nats:{stream}:{consumer}")),
            None => None,
        });
        if p.len() > before {
            return None;
        }
        Some(SourceConfig {
            name: name?,
            format: format?,
            decode,
            kind: kind?,
        })
    }
}
