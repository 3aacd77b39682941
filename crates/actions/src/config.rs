//! The `actions:` section of riposte.yaml: what the outside and enrichment
//! actions may do, and the databases they read.
//!
//! ```yaml
//! actions:
//!   geoip: /var/lib/GeoIP/GeoLite2-City.mmdb   # or a Country database
//!   asn: /var/lib/GeoIP/GeoLite2-ASN.mmdb
//!   rdns_timeout: 5s
//!   http:                        # http.request, notify.webhook/slack, ticket.*
//!     timeout: 30s
//!     max_response_bytes: 1048576
//!     max_redirects: 3           # same host only
//!     allow_private: false       # loopback, RFC 1918, link-local, ULA…
//!     allow_networks: [10.20.30.0/24]   # private ranges allowed anyway
//!   exec:
//!     allowed: [/usr/local/bin/isolate-host]  # absolute paths; empty: exec off
//!     max_output: 65536
//!     timeout: 60s
//! ```

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// Everything [`crate::Actions`] is built from, validated.
#[derive(Clone, Debug)]
pub struct ActionsConfig {
    /// The relay `notify.email` sends through (`notify.smtp`); without
    /// one, `notify.email` fails saying so.
    pub smtp: Option<riposte_notify::SmtpConfig>,
    /// A MaxMind GeoIP2/GeoLite2 City or Country database: country (and
    /// city) for `enrich.geoip`. Read into memory at start; restart to
    /// load a newer file.
    pub geoip: Option<PathBuf>,
    /// A MaxMind GeoLite2/GeoIP2 ASN database: `asn` and `as_org` for
    /// `enrich.geoip`.
    pub asn: Option<PathBuf>,
    /// How long `enrich.rdns` waits for the resolver: a PTR lookup of an
    /// attacker's address can hang on their name server.
    pub rdns_timeout: Duration,
    pub http: HttpConfig,
    pub exec: ExecConfig,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        Self {
            smtp: None,
            geoip: None,
            asn: None,
            rdns_timeout: Duration::from_secs(5),
            http: HttpConfig::default(),
            exec: ExecConfig::default(),
        }
    }
}

/// Outgoing HTTP for `http.request`, `notify.webhook`, `notify.slack` and
/// `ticket.*`: URLs in these inputs may be built from alert fields, so by
/// default they cannot reach this host or the internal network (cloud
/// metadata at 169.254.169.254, an admin interface on 127.0.0.1).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The longest one request may take, body included; a step's
    /// `timeout:` can only shorten it.
    pub timeout: Duration,
    /// The most of a response body that is read; `http.request`'s
    /// `max_response_bytes` can only lower it. The rest is not read.
    pub max_response_bytes: usize,
    /// Redirects followed, and only to the same host and port (an
    /// http→https upgrade is followed); a redirect elsewhere is returned
    /// as the 3xx response it is.
    pub max_redirects: usize,
    /// Whether requests may go to loopback, private (RFC 1918, ULA),
    /// link-local, shared (100.64/10) or unspecified addresses. Off by
    /// default: a URL from an alert must not reach internal services.
    pub allow_private: bool,
    /// Networks reachable even though private (an internal Jira, a
    /// chat server): narrower than `allow_private`.
    pub allow_networks: Vec<IpNet>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
            max_redirects: 3,
            allow_private: false,
            allow_networks: Vec::new(),
        }
    }
}

/// Which programs `exec` may run, and their bounds.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// Absolute paths of the programs a playbook may run (argv[0] must be
    /// one of them, exactly). Empty: `exec` is disabled.
    pub allowed: Vec<PathBuf>,
    /// The most of stdout, and of stderr, kept (each); the rest is read
    /// and dropped so the program does not block, and `truncated` says so.
    /// A step's `max_output` can only lower it.
    pub max_output: usize,
    /// The longest a program may run; then its whole process group is
    /// killed. A step's `timeout:` can only shorten it.
    pub timeout: Duration,
}

impl Default for ExecConfig {
    fn default() -> Self {
        Self {
            allowed: Vec::new(),
            max_output: 64 * 1024,
            timeout: Duration::from_secs(60),
        }
    }
}

/// `actions:` as written in riposte.yaml; [`RawActionsConfig::validate`]
/// turns it into an [`ActionsConfig`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawActionsConfig {
    #[serde(default)]
    pub geoip: Option<PathBuf>,
    #[serde(default)]
    pub asn: Option<PathBuf>,
    #[serde(default)]
    pub rdns_timeout: Option<String>,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub exec: RawExec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub max_response_bytes: Option<usize>,
    #[serde(default)]
    pub max_redirects: Option<usize>,
    #[serde(default)]
    pub allow_private: Option<bool>,
    #[serde(default)]
    pub allow_networks: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExec {
    #[serde(default)]
    pub allowed: Vec<PathBuf>,
    #[serde(default)]
    pub max_output: Option<usize>,
    #[serde(default)]
    pub timeout: Option<String>,
}

fn duration(
    text: Option<&str>,
    key: &str,
    default: Duration,
    problems: &mut Vec<String>,
) -> Duration {
    let Some(text) = text else {
        return default;
    };
    match riposte_model::parse_duration(text).map(|d| d.to_std()) {
        Ok(Ok(d)) if !d.is_zero() => d,
        Ok(_) => {
            problems.push(format!("{key}: {text:?} must be longer than zero"));
            default
        }
        Err(e) => {
            problems.push(format!("{key}: {e}"));
            default
        }
    }
}

impl RawActionsConfig {
    /// Checks every value, reporting each problem with its key
    /// (`actions.exec.allowed[1]: …`); `smtp` is `notify.smtp`, read
    /// elsewhere. Files are opened by [`crate::Actions::new`].
    pub fn validate(
        self,
        smtp: Option<riposte_notify::SmtpConfig>,
    ) -> Result<ActionsConfig, Vec<String>> {
        let mut p = Vec::new();
        let d = ActionsConfig::default();
        let rdns_timeout = duration(
            self.rdns_timeout.as_deref(),
            "actions.rdns_timeout",
            d.rdns_timeout,
            &mut p,
        );
        let mut allow_networks = Vec::new();
        for (i, net) in self.http.allow_networks.iter().enumerate() {
            let parsed = net
                .parse::<IpNet>()
                .or_else(|_| net.parse::<std::net::IpAddr>().map(IpNet::from));
            match parsed {
                Ok(n) => allow_networks.push(n.trunc()),
                Err(_) => p.push(format!(
                    "actions.http.allow_networks[{i}]: {net:?} is not an address or CIDR network"
                )),
            }
        }
        let http = HttpConfig {
            timeout: duration(
                self.http.timeout.as_deref(),
                "actions.http.timeout",
                d.http.timeout,
                &mut p,
            ),
            max_response_bytes: positive(
                self.http.max_response_bytes,
                "actions.http.max_response_bytes",
                d.http.max_response_bytes,
                &mut p,
            ),
            max_redirects: self.http.max_redirects.unwrap_or(d.http.max_redirects),
            allow_private: self.http.allow_private.unwrap_or(false),
            allow_networks,
        };
        for (i, prog) in self.exec.allowed.iter().enumerate() {
            if let Err(e) = crate::exec::check_allowed_entry(prog) {
                p.push(format!("actions.exec.allowed[{i}]: {e}"));
            }
        }
        let exec = ExecConfig {
            allowed: self.exec.allowed,
            max_output: positive(
                self.exec.max_output,
                "actions.exec.max_output",
                d.exec.max_output,
                &mut p,
            ),
            timeout: duration(
                self.exec.timeout.as_deref(),
                "actions.exec.timeout",
                d.exec.timeout,
                &mut p,
            ),
        };
        if p.is_empty() {
            Ok(ActionsConfig {
                smtp,
                geoip: self.geoip,
                asn: self.asn,
                rdns_timeout,
                http,
                exec,
            })
        } else {
            Err(p)
        }
    }
}

fn positive(v: Option<usize>, key: &str, default: usize, p: &mut Vec<String>) -> usize {
    match v {
        None => default,
        Some(0) => {
            p.push(format!("{key}: must be more than 0"));
            default
        }
        Some(n) => n,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let raw: RawActionsConfig = serde_json::from_value(serde_json::json!({
            "rdns_timeout": "soon",
            "http": {"timeout": "0s", "allow_networks": ["10.1.2.0/24", "intranet"],
                     "max_response_bytes": 0},
            "exec": {"allowed": ["/bin/echo", "echo", "/usr/bin/../bin/sh"], "timeout": "5m"},
        }))
        .unwrap();
        let errs = raw.validate(None).unwrap_err();
        assert_eq!(
            errs,
            [
                "actions.rdns_timeout: invalid duration \"soon\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
                "actions.http.allow_networks[1]: \"intranet\" is not an address or CIDR network",
                "actions.http.timeout: duration \"0s\" must be positive",
                "actions.http.max_response_bytes: must be more than 0",
                "actions.exec.allowed[1]: \"echo\" is not an absolute path",
                "actions.exec.allowed[2]: \"/usr/bin/../bin/sh\" has a `..` component",
            ]
        );
    }

    /// The section as the module documentation (and docs/actions.md)
    /// shows it.
    #[test]
    fn the_documented_section_loads() {
        let doc: String = include_str!("config.rs")
            .lines()
            .skip_while(|l| *l != "//! ```yaml")
            .skip(1)
            .take_while(|l| *l != "//! ```")
            .map(|l| format!("{}\n", l.strip_prefix("//! ").unwrap_or("")))
            .collect();
        let mut top: BTreeMap<String, RawActionsConfig> = serde_yaml_ng::from_str(&doc).unwrap();
        let c = top.remove("actions").unwrap().validate(None).unwrap();
        assert_eq!(
            c.geoip.unwrap(),
            PathBuf::from("/var/lib/GeoIP/GeoLite2-City.mmdb")
        );
        assert_eq!(
            c.http.allow_networks,
            vec!["10.20.30.0/24".parse::<IpNet>().unwrap()]
        );
        assert_eq!(c.http.max_redirects, 3);
        assert_eq!(
            c.exec.allowed,
            vec![PathBuf::from("/usr/local/bin/isolate-host")]
        );
        assert_eq!(c.exec.timeout, Duration::from_secs(60));
    }

    #[test]
    fn defaults_and_values() {
        let raw: RawActionsConfig = serde_json::from_value(serde_json::json!({
            "geoip": "/var/lib/GeoIP/GeoLite2-City.mmdb",
            "http": {"allow_networks": ["10.1.2.3"], "timeout": "10s"},
            "exec": {"allowed": ["/bin/echo"], "max_output": 100},
        }))
        .unwrap();
        let c = raw.validate(None).unwrap();
        assert_eq!(c.http.timeout, Duration::from_secs(10));
        assert_eq!(c.http.max_response_bytes, 1024 * 1024);
        assert!(!c.http.allow_private);
        assert_eq!(
            c.http.allow_networks,
            vec!["10.1.2.3/32".parse::<IpNet>().unwrap()]
        );
        assert_eq!(c.exec.max_output, 100);
        assert_eq!(c.exec.timeout, Duration::from_secs(60));
        assert_eq!(c.rdns_timeout, Duration::from_secs(5));
        assert!(
            serde_json::from_value::<RawActionsConfig>(serde_json::json!({"htpp": {}})).is_err()
        );
    }
}
