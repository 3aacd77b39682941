//! The `api:` and `auth:` sections of riposte.yaml: where the REST API
//! listens, under which names, with which certificate, behind which
//! proxies, how its connections are bounded, and where the secret that API
//! keys are hashed with lives.
//!
//! ```yaml
//! api:
//!   listen: 0.0.0.0:8443
//!   tls: { cert: /etc/riposte/tls/cert.pem, key: /etc/riposte/tls/key.pem }
//!   hosts: [riposte.example.org]   # Host names the API answers to
//!   trusted_proxies: [10.0.0.5]    # whose X-Forwarded-For to believe
//!   max_connections: 256
//!   header_timeout: 10s
//!   request_timeout: 60s
//! auth:
//!   secret_file: riposte-data/auth.secret
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use riposte_model::yaml::{check_keys, display_value, scalar_text};
use riposte_model::{Problems, parse_duration};
use serde_yaml_ng::{Mapping, Value};

use crate::http::HttpLimits;

pub(crate) const API_KEYS: [&str; 9] = [
    "listen",
    "tls",
    "hosts",
    "trusted_proxies",
    "allow_plaintext",
    "max_connections",
    "header_timeout",
    "request_timeout",
    "handshake_timeout",
];

pub(crate) const AUTH_KEYS: [&str; 1] = ["secret_file"];

/// The API's listener, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// `api.tls`: serve HTTPS with this certificate chain and key.
    pub tls: Option<TlsFiles>,
    /// `api.hosts`: names a request's `Host` may carry besides the listen
    /// address itself (and `localhost` when listening on loopback).
    /// Anything else is answered 421, which defeats DNS rebinding.
    pub hosts: Vec<String>,
    /// `api.trusted_proxies`: peers whose `X-Forwarded-For` names the
    /// client. From anyone else the header is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// `api.allow_plaintext`: a non-loopback listener (the API's, or
    /// TAXII's own) may serve plain HTTP, as behind a TLS-terminating proxy.
    pub allow_plaintext: bool,
    pub limits: HttpLimits,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            allow_plaintext: false,
            limits: HttpLimits::default(),
        }
    }
}

/// PEM files: the certificate chain (leaf first) and its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `auth:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// The server secret API keys are hashed with (HMAC-SHA256), created
    /// (mode 600) on first use. Every host serving one store shares it.
    pub secret_file: PathBuf,
}

/// Most a listener may be told to hold at once: each connection is a
/// descriptor and a task.
const MAX_CONNECTIONS: u64 = 65_536;

pub(crate) fn parse_api(
    section: &Mapping,
    file: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> Option<ApiConfig> {
    let before = p.len();
    let mut api = ApiConfig::default();
    let mut listen_given = false;
    if let Some(v) = section.get("listen") {
        match scalar_text(v).parse::<SocketAddr>() {
            Ok(addr) => {
                api.listen = addr;
                listen_given = true;
            }
            Err(e) => p.push(
                file,
                "api.listen",
                format!("{:?} is not an address:port ({e})", scalar_text(v)),
            ),
        }
    }
    match section.get("tls") {
        None => {}
        Some(Value::Mapping(m)) => {
            check_keys(m, &["cert", "key"], file, "api.tls", p);
            let path = |key: &str, p: &mut Problems| match m.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Some(resolve(Path::new(s))),
                Some(_) => {
                    p.push(file, format!("api.tls.{key}"), "must be a path");
                    None
                }
                None => {
                    p.push(
                        file,
                        format!("api.tls.{key}"),
                        "missing (a PEM file is required)",
                    );
                    None
                }
            };
            let (cert, key) = (path("cert", p), path("key", p));
            if let (Some(cert), Some(key)) = (cert, key) {
                api.tls = Some(TlsFiles { cert, key });
            }
        }
        Some(_) => p.push(file, "api.tls", "must be a mapping {cert, key}"),
    }
    api.hosts = strings(section, "hosts", file, p)
        .into_iter()
        .filter_map(|h| {
            let valid = !h.is_empty()
                && h.len() <= 253
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
            if valid {
                Some(h.to_ascii_lowercase())
            } else {
                p.push(
                    file,
                    "api.hosts",
                    format!("{h:?} is not a host name (or host:port)"),
                );
                None
            }
        })
        .collect();
    api.trusted_proxies = strings(section, "trusted_proxies", file, p)
        .into_iter()
        .filter_map(|t| match parse_net(&t) {
            Some(n) => Some(n),
            None => {
                p.push(
                    file,
                    "api.trusted_proxies",
                    format!("{t:?} is not an address or network"),
                );
                None
            }
        })
        .collect();
    api.allow_plaintext = match section.get("allow_plaintext") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            p.push(
                file,
                "api.allow_plaintext",
                format!("{} must be true or false", display_value(v)),
            );
            false
        }
    };
    if listen_given && !api.listen.ip().is_loopback() && api.tls.is_none() && !api.allow_plaintext {
        p.push(
            file,
            "api.listen",
            format!(
                "{} is not a loopback address and api.tls is not set: API keys would cross the network in clear text; set api.tls (or allow_plaintext: true behind a TLS-terminating proxy on a trusted network)",
                api.listen
            ),
        );
    }
    if let Some(v) = section.get("max_connections") {
        match v.as_u64().filter(|n| (1..=MAX_CONNECTIONS).contains(n)) {
            Some(n) => api.limits.max_connections = n as usize,
            None => p.push(
                file,
                "api.max_connections",
                format!(
                    "{} must be an integer from 1 to {MAX_CONNECTIONS}",
                    display_value(v)
                ),
            ),
        }
    }
    for (key, slot) in [
        ("header_timeout", &mut api.limits.header_timeout),
        ("request_timeout", &mut api.limits.request_timeout),
        ("handshake_timeout", &mut api.limits.handshake_timeout),
    ] {
        if let Some(v) = section.get(key) {
            match timeout(v) {
                Some(d) => *slot = d,
                None => p.push(
                    file,
                    format!("api.{key}"),
                    format!(
                        "{} must be a duration from 1s to 1h, such as 10s",
                        display_value(v)
                    ),
                ),
            }
        }
    }
    (p.len() == before).then_some(api)
}

pub(crate) fn parse_auth(
    section: &Mapping,
    data_dir: &Path,
    file: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> AuthConfig {
    let secret_file = match section.get("secret_file") {
        None => data_dir.join("auth.secret"),
        Some(Value::String(s)) if !s.is_empty() => resolve(Path::new(s)),
        Some(_) => {
            p.push(file, "auth.secret_file", "must be a path");
            data_dir.join("auth.secret")
        }
    };
    AuthConfig { secret_file }
}

fn timeout(v: &Value) -> Option<Duration> {
    let d = parse_duration(&scalar_text(v)).ok()?.to_std().ok()?;
    (Duration::from_secs(1)..=Duration::from_secs(3600))
        .contains(&d)
        .then_some(d)
}

/// An address (a /32 or /128) or a network.
pub(crate) fn parse_net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

/// A string or a list of strings at `key`.
fn strings(section: &Mapping, key: &str, file: &str, p: &mut Problems) -> Vec<String> {
    match section.get(key) {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items.iter().map(scalar_text).collect(),
        Some(v @ (Value::String(_) | Value::Number(_))) => vec![scalar_text(v)],
        Some(_) => {
            p.push(file, format!("api.{key}"), "must be a list");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<ApiConfig, String> {
        let section: Mapping = serde_yaml_ng::from_str(text).unwrap();
        let mut p = Problems::new();
        let resolve = |x: &Path| Path::new("/srv").join(x);
        match parse_api(&section, "r.yaml", &resolve, &mut p) {
            Some(api) if p.is_empty() => Ok(api),
            _ => Err(p.to_string()),
        }
    }

    #[test]
    fn a_public_address_needs_tls_or_an_explicit_plaintext() {
        assert_eq!(
            parse("listen: 0.0.0.0:8080").unwrap_err(),
            "1 problem:\n  r.yaml: api.listen: 0.0.0.0:8080 is not a loopback address and api.tls is not set: API keys would cross the network in clear text; set api.tls (or allow_plaintext: true behind a TLS-terminating proxy on a trusted network)"
        );
        let api = parse("listen: 0.0.0.0:8443\ntls: {cert: c.pem, key: k.pem}").unwrap();
        assert_eq!(
            api.tls,
            Some(TlsFiles {
                cert: "/srv/c.pem".into(),
                key: "/srv/k.pem".into()
            })
        );
        let api = parse("listen: 10.1.2.3:8080\nallow_plaintext: true").unwrap();
        assert_eq!(api.listen.to_string(), "10.1.2.3:8080");
        assert_eq!(api.tls, None);
    }

    #[test]
    fn every_mistake_is_listed() {
        let err = parse(
            "tls: {cert: c.pem}\nhosts: [ok.example, 'bad host']\ntrusted_proxies: [10.0.0.0/8, nope]\nmax_connections: 0\nheader_timeout: 0s\nrequest_timeout: forever",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "6 problems:\n  r.yaml: api.tls.key: missing (a PEM file is required)\n  r.yaml: api.hosts: \"bad host\" is not a host name (or host:port)\n  r.yaml: api.trusted_proxies: \"nope\" is not an address or network\n  r.yaml: api.max_connections: 0 must be an integer from 1 to 65536\n  r.yaml: api.header_timeout: \"0s\" must be a duration from 1s to 1h, such as 10s\n  r.yaml: api.request_timeout: \"forever\" must be a duration from 1s to 1h, such as 10s"
        );
    }

    #[test]
    fn proxies_and_hosts_are_normalised() {
        let api = parse("hosts: [Riposte.Example.ORG]\ntrusted_proxies: [10.0.0.5, 192.0.2.7/24]")
            .unwrap();
        assert_eq!(api.hosts, ["riposte.example.org"]);
        assert_eq!(
            api.trusted_proxies,
            [
                "10.0.0.5/32".parse::<IpNet>().unwrap(),
                "192.0.2.0/24".parse().unwrap()
            ]
        );
        assert_eq!(api.limits, HttpLimits::default());
    }
}
