//! The `sources:` section of riposte.yaml: where events come from and how
//! their records are decoded.
//!
//! ```yaml
//! sources:
//!   - { type: file, path: /var/log/auth.log, format: syslog, read_rotated: true }
//!   - { type: syslog-udp, listen: 0.0.0.0:514, allow_from: [10.0.0.0/8] }
//!   - { type: syslog-tcp, listen: 0.0.0.0:6514, max_connections: 256, idle_timeout: 5m }
//!   - { type: nats, url: nats://127.0.0.1:4222, stream: EVENTS, format: json }
//!   - { type: evtx-dir, path: /srv/evtx }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use riposte_engine::listener::{AllowFrom, TcpLimits};
use riposte_ingest::{DecodeOptions, Format, JsonMapping};
use riposte_model::yaml::take;
use riposte_model::{Problems, parse_duration};
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
    /// `syslog-udp`: one message per datagram, from senders in `allow_from`.
    SyslogUdp {
        listen: SocketAddr,
        allow_from: AllowFrom,
    },
    /// `syslog-tcp`: octet-counted or newline-framed messages (RFC 6587),
    /// told apart per connection by the first byte.
    SyslogTcp {
        listen: SocketAddr,
        allow_from: AllowFrom,
        limits: TcpLimits,
    },
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
    #[serde(default)]
    allow_from: Option<Vec<serde_yaml_ng::Value>>,
    #[serde(default)]
    max_connections: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    idle_timeout: Option<serde_yaml_ng::Value>,
}

/// Most a TCP listener may be told to hold at once: each connection is a
/// descriptor and a task.
const MAX_CONNECTIONS: u64 = 65_536;

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
                    let allow_from = self.allow_from(file, loc, p);
                    if self.kind == "syslog-udp" {
                        (
                            addr.map(|listen| SourceKind::SyslogUdp { listen, allow_from }),
                            Some(Format::Syslog),
                            &["listen", "format", "mapping", "allow_from"],
                        )
                    } else {
                        let limits = self.tcp_limits(file, loc, p);
                        (
                            addr.map(|listen| SourceKind::SyslogTcp {
                                listen,
                                allow_from,
                                limits,
                            }),
                            Some(Format::Syslog),
                            &[
                                "listen",
                                "format",
                                "mapping",
                                "allow_from",
                                "max_connections",
                                "idle_timeout",
                            ],
                        )
                    }
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
            ("allow_from", self.allow_from.is_some()),
            ("max_connections", self.max_connections.is_some()),
            ("idle_timeout", self.idle_timeout.is_some()),
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
            Some(SourceKind::SyslogUdp { listen, .. }) => Some(format!("syslog-udp:{listen}")),
            Some(SourceKind::SyslogTcp { listen, .. }) => Some(format!("syslog-tcp:{listen}")),
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

    /// `allow_from`: addresses and networks; each bad item is reported.
    fn allow_from(&self, file: &str, loc: &str, p: &mut Problems) -> AllowFrom {
        let items = self.allow_from.as_deref().unwrap_or_default();
        if self.allow_from.as_ref().is_some_and(Vec::is_empty) {
            p.push(
                file,
                format!("{loc}.allow_from"),
                "is empty, which would admit nobody (leave it out to admit every sender)",
            );
        }
        let nets = items.iter().enumerate().filter_map(|(i, item)| {
            let text = riposte_model::yaml::scalar_text(item);
            let net = crate::api_config::parse_net(&text);
            if net.is_none() {
                p.push(
                    file,
                    format!("{loc}.allow_from[{i}]"),
                    format!("{text:?} is not an IP address or CIDR"),
                );
            }
            net
        });
        AllowFrom::new(nets.collect::<Vec<_>>())
    }

    fn tcp_limits(&self, file: &str, loc: &str, p: &mut Problems) -> TcpLimits {
        use riposte_model::yaml::{display_value, scalar_text};
        let mut limits = TcpLimits::default();
        if let Some(v) = &self.max_connections {
            match v.as_u64().filter(|n| (1..=MAX_CONNECTIONS).contains(n)) {
                Some(n) => limits.max_connections = n as usize,
                None => p.push(
                    file,
                    format!("{loc}.max_connections"),
                    format!(
                        "{} must be an integer from 1 to {MAX_CONNECTIONS}",
                        display_value(v)
                    ),
                ),
            }
        }
        if let Some(v) = &self.idle_timeout {
            let d = parse_duration(&scalar_text(v))
                .ok()
                .and_then(|d| d.to_std().ok())
                .filter(|d| (Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(d));
            match d {
                Some(d) => limits.idle_timeout = d,
                None => p.push(
                    file,
                    format!("{loc}.idle_timeout"),
                    format!(
                        "{} must be a duration from 1s to 1d, such as 5m",
                        display_value(v)
                    ),
                ),
            }
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Vec<SourceConfig>, String> {
        let section: Value = serde_yaml_ng::from_str(text).unwrap();
        let mut p = Problems::new();
        let resolve = |x: &Path| Path::new("/srv").join(x);
        let sources = parse_sources(Some(&section), "r.yaml", &resolve, &mut p);
        if p.is_empty() {
            Ok(sources)
        } else {
            Err(p.to_string())
        }
    }

    #[test]
    fn network_sources_take_allow_from_and_tcp_limits() {
        let sources = parse(
            "- { type: syslog-udp, listen: '0.0.0.0:514', allow_from: [10.0.0.0/8, 192.0.2.7] }\n\
             - { type: syslog-tcp, listen: '[::]:6514', allow_from: ['2001:db8::/32'], max_connections: 32, idle_timeout: 90s }\n\
             - { type: syslog-tcp, listen: '127.0.0.1:6515' }\n",
        )
        .unwrap();
        let nets = |list: &[&str]| AllowFrom::new(list.iter().map(|n| n.parse().unwrap()));
        assert_eq!(
            sources[0].kind,
            SourceKind::SyslogUdp {
                listen: "0.0.0.0:514".parse().unwrap(),
                allow_from: nets(&["10.0.0.0/8", "192.0.2.7/32"]),
            }
        );
        assert_eq!(
            sources[1].kind,
            SourceKind::SyslogTcp {
                listen: "[::]:6514".parse().unwrap(),
                allow_from: nets(&["2001:db8::/32"]),
                limits: TcpLimits {
                    max_connections: 32,
                    idle_timeout: Duration::from_secs(90)
                },
            }
        );
        assert_eq!(
            sources[2].kind,
            SourceKind::SyslogTcp {
                listen: "127.0.0.1:6515".parse().unwrap(),
                allow_from: AllowFrom::default(),
                limits: TcpLimits {
                    max_connections: 256,
                    idle_timeout: Duration::from_secs(300)
                },
            }
        );
    }

    #[test]
    fn every_network_mistake_is_listed_with_its_item() {
        let err = parse(
            "- { type: syslog-udp, listen: '0.0.0.0:514', allow_from: [10.0.0.0/8, 10.0.0.300, nope/8], max_connections: 4 }\n\
             - { type: syslog-tcp, listen: '0.0.0.0:6514', allow_from: [], max_connections: 0, idle_timeout: 0s }\n\
             - { type: syslog-tcp, listen: '0.0.0.0:6515', max_connections: many, idle_timeout: forever }\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "8 problems:\n  \
             r.yaml: sources[0].allow_from[1]: \"10.0.0.300\" is not an IP address or CIDR\n  \
             r.yaml: sources[0].allow_from[2]: \"nope/8\" is not an IP address or CIDR\n  \
             r.yaml: sources[0].max_connections: not a key of type syslog-udp (valid: listen, format, mapping, allow_from)\n  \
             r.yaml: sources[1].allow_from: is empty, which would admit nobody (leave it out to admit every sender)\n  \
             r.yaml: sources[1].max_connections: 0 must be an integer from 1 to 65536\n  \
             r.yaml: sources[1].idle_timeout: \"0s\" must be a duration from 1s to 1d, such as 5m\n  \
             r.yaml: sources[2].max_connections: \"many\" must be an integer from 1 to 65536\n  \
             r.yaml: sources[2].idle_timeout: \"forever\" must be a duration from 1s to 1d, such as 5m"
        );
    }
}
