//! The `respond:` section of riposte.yaml: the safety rails of active
//! response.
//!
//! ```yaml
//! respond:
//!   allowlist: [10.0.0.0/8, 192.0.2.1]     # never decided on
//!   assets:                                # named own assets, never decided on
//!     mail relays: [198.51.100.16/28]
//!   gateways: [192.0.2.254]
//!   protect_own_addresses: true            # this host's interface addresses
//!   max_duration: 7d
//!   sweep_interval: 30s
//!   escalation: { lookback: 7d, durations: [1h, 4h, 24h] }
//!   min_confidence: { ban: 70, ban/range: 90, disable_account: 95 }
//!   max_per_minute: 60                     # then the circuit breaker trips
//!   max_prefix: { ipv4: 24, ipv6: 48 }     # wider ranges wait for approval
//!   mode: enforce                          # or shadow / simulate, for everything
//!   rule_modes: { ssh-bruteforce: shadow }
//!   review:
//!     max_age: 24h                         # older unreviewed decisions are flagged
//!     digest: { at: "07:00", window: 24h, to: [soc@example.org] }
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::TimeDelta;
use ipnet::IpNet;
use riposte_model::yaml::{display_value, scalar_text};
use riposte_model::{Confidence, Mode, Problems, parse_duration};
use riposte_respond::{Allowlist, DigestSchedule, Escalation, MinConfidence, ResponderConfig};
use serde_yaml_ng::{Mapping, Value};

pub(crate) const RESPOND_KEYS: [&str; 13] = [
    "allowlist",
    "assets",
    "gateways",
    "protect_own_addresses",
    "max_duration",
    "sweep_interval",
    "escalation",
    "min_confidence",
    "max_per_minute",
    "max_prefix",
    "mode",
    "rule_modes",
    "review",
];

/// What the section configures.
pub(crate) struct RespondSection {
    pub responder: ResponderConfig,
    pub sweep: TimeDelta,
    pub digest: Option<DigestSchedule>,
}

/// Reads the section (its keys already checked); every problem is pushed.
pub(crate) fn parse_respond(
    respond: &Mapping,
    file: &str,
    p: &mut Problems,
) -> Option<RespondSection> {
    let defaults = ResponderConfig::default();
    let mut at = Reader { file, p };
    let allow = at.nets(respond.get("allowlist"), "respond.allowlist");
    let mut allowlist = Allowlist::new(allow);
    match respond.get("assets") {
        None => {}
        Some(Value::Mapping(m)) => {
            for (name, nets) in m {
                let name = scalar_text(name);
                let nets = at.nets(Some(nets), &format!("respond.assets.{name}"));
                allowlist = allowlist.with_asset(&name, nets);
            }
        }
        Some(_) => at.push(
            "respond.assets",
            "must map asset names to lists of addresses or CIDRs",
        ),
    }
    let gateways: Vec<IpAddr> = at
        .list(respond.get("gateways"), "respond.gateways")
        .into_iter()
        .filter_map(|(loc, text)| {
            text.parse::<IpAddr>()
                .map_err(|_| at.push(&loc, format!("{text:?} is not an IP address")))
                .ok()
        })
        .collect();
    allowlist = allowlist.with_gateways(gateways);
    match respond.get("protect_own_addresses") {
        None | Some(Value::Bool(true)) => match Allowlist::local_addresses() {
            Ok(addrs) => allowlist = allowlist.with_own_addresses(addrs),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list this host's addresses to protect them")
            }
        },
        Some(Value::Bool(false)) => {}
        Some(v) => at.push(
            "respond.protect_own_addresses",
            format!("{} must be true or false", display_value(v)),
        ),
    }
    let max_duration = at.duration(respond.get("max_duration"), "respond.max_duration");
    let sweep = at.duration(respond.get("sweep_interval"), "respond.sweep_interval");
    let escalation = match respond.get("escalation") {
        None => None,
        Some(Value::Mapping(m)) => at.escalation(m),
        Some(_) => {
            at.push(
                "respond.escalation",
                "must be a mapping (keys: lookback, durations)",
            );
            None
        }
    };
    let mut min_confidence = MinConfidence::default();
    match respond.get("min_confidence") {
        None => {}
        Some(Value::Mapping(m)) => {
            for (key, v) in m {
                let key = scalar_text(key);
                let loc = format!("respond.min_confidence.{key}");
                let Some(c) = at.confidence(v, &loc) else {
                    continue;
                };
                if let Err(e) = min_confidence.insert(&key, c) {
                    at.push(&loc, e);
                }
            }
        }
        Some(_) => at.push(
            "respond.min_confidence",
            "must map decision kinds (ban, or ban/range) to confidences 0-100",
        ),
    }
    let max_per_minute = match respond.get("max_per_minute") {
        None => Some(defaults.max_per_minute),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .or_else(|| {
                at.push(
                    "respond.max_per_minute",
                    format!("{} must be a positive integer", display_value(v)),
                );
                None
            }),
    };
    let (mut v4, mut v6) = (defaults.max_prefix_v4, defaults.max_prefix_v6);
    match respond.get("max_prefix") {
        None => {}
        Some(Value::Mapping(m)) => {
            for (key, v) in m {
                let key = scalar_text(key);
                let loc = format!("respond.max_prefix.{key}");
                let (slot, max) = match key.as_str() {
                    "ipv4" => (&mut v4, 32),
                    "ipv6" => (&mut v6, 128),
                    _ => {
                        at.push(&loc, "unknown key (valid: ipv4, ipv6)");
                        continue;
                    }
                };
                match v.as_u64().and_then(|n| u8::try_from(n).ok()) {
                    Some(n) if n <= max => *slot = n,
                    _ => at.push(
                        &loc,
                        format!("{} must be a prefix length 0-{max}", display_value(v)),
                    ),
                }
            }
        }
        Some(_) => at.push("respond.max_prefix", "must be a mapping (keys: ipv4, ipv6)"),
    }
    let mode = match respond.get("mode") {
        None => Some(Mode::Enforce),
        Some(v) => at.mode(v, "respond.mode"),
    };
    let mut rule_modes = BTreeMap::new();
    match respond.get("rule_modes") {
        None => {}
        Some(Value::Mapping(m)) => {
            for (rule, v) in m {
                let rule = scalar_text(rule);
                if let Some(mode) = at.mode(v, &format!("respond.rule_modes.{rule}")) {
                    rule_modes.insert(rule, mode);
                }
            }
        }
        Some(_) => at.push(
            "respond.rule_modes",
            "must map rule ids to modes (simulate, shadow, enforce)",
        ),
    }
    let (review_max_age, digest) = match respond.get("review") {
        None => (Some(defaults.review_max_age), None),
        Some(Value::Mapping(m)) => {
            for key in m.keys() {
                let key = scalar_text(key);
                if key != "max_age" && key != "digest" {
                    at.push(
                        &format!("respond.review.{key}"),
                        "unknown key (valid: max_age, digest)",
                    );
                }
            }
            let max_age = match m.get("max_age") {
                None => Some(defaults.review_max_age),
                some => at.duration(some, "respond.review.max_age"),
            };
            let digest = match m.get("digest") {
                None => None,
                Some(Value::Mapping(d)) => at.digest(d),
                Some(_) => {
                    at.push(
                        "respond.review.digest",
                        "must be a mapping (keys: at, window, to, subject)",
                    );
                    None
                }
            };
            (max_age, digest)
        }
        Some(_) => {
            at.push(
                "respond.review",
                "must be a mapping (keys: max_age, digest)",
            );
            (None, None)
        }
    };
    let config = ResponderConfig {
        allowlist,
        max_duration: max_duration.unwrap_or(defaults.max_duration),
        escalation,
        min_confidence,
        max_per_minute: max_per_minute?,
        max_prefix_v4: v4,
        max_prefix_v6: v6,
        mode: mode?,
        rule_modes,
        review_max_age: review_max_age?,
    };
    Some(RespondSection {
        responder: config,
        sweep: sweep.unwrap_or_else(|| TimeDelta::seconds(30)),
        digest,
    })
}

struct Reader<'a> {
    file: &'a str,
    p: &'a mut Problems,
}

impl Reader<'_> {
    fn push(&mut self, loc: &str, message: impl Into<String>) {
        self.p.push(self.file, loc, message);
    }

    /// A list's items as text, each with its location.
    fn list(&mut self, v: Option<&Value>, loc: &str) -> Vec<(String, String)> {
        match v {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{loc}[{i}]"), scalar_text(item)))
                .collect(),
            Some(_) => {
                self.push(loc, "must be a list of addresses or CIDRs");
                Vec::new()
            }
        }
    }

    fn nets(&mut self, v: Option<&Value>, loc: &str) -> Vec<IpNet> {
        self.list(v, loc)
            .into_iter()
            .filter_map(|(loc, text)| {
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| self.push(&loc, format!("{text:?} is not an IP address or CIDR")))
                    .ok()
            })
            .collect()
    }

    /// `None` (and a problem) when present but invalid; `None` without a
    /// problem when absent.
    fn duration(&mut self, v: Option<&Value>, loc: &str) -> Option<TimeDelta> {
        let v = v?;
        parse_duration(&scalar_text(v))
            .map_err(|e| self.push(loc, e))
            .ok()
    }

    fn confidence(&mut self, v: &Value, loc: &str) -> Option<Confidence> {
        v.as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .and_then(|n| Confidence::new(n).ok())
            .or_else(|| {
                self.push(
                    loc,
                    format!("{} must be a confidence 0-100", display_value(v)),
                );
                None
            })
    }

    fn mode(&mut self, v: &Value, loc: &str) -> Option<Mode> {
        scalar_text(v)
            .parse::<Mode>()
            .map_err(|e| self.push(loc, e.to_string()))
            .ok()
    }

    fn digest(&mut self, m: &Mapping) -> Option<DigestSchedule> {
        for key in m.keys() {
            let key = scalar_text(key);
            if !["at", "window", "to", "subject"].contains(&key.as_str()) {
                self.push(
                    &format!("respond.review.digest.{key}"),
                    "unknown key (valid: at, window, to, subject)",
                );
            }
        }
        let at = match m.get("at") {
            None => Some(chrono::NaiveTime::MIN),
            Some(v) => {
                let text = scalar_text(v);
                chrono::NaiveTime::parse_from_str(&text, "%H:%M")
                    .map_err(|_| {
                        self.push(
                            "respond.review.digest.at",
                            format!("{text:?} is not a time of day HH:MM (UTC)"),
                        )
                    })
                    .ok()
            }
        };
        let window = match m.get("window") {
            None => Some(TimeDelta::hours(24)),
            some => self.duration(some, "respond.review.digest.window"),
        };
        let to: Vec<String> = match m.get("to") {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let text = scalar_text(v);
                    riposte_notify::parse_mailbox(&text)
                        .map_err(|e| {
                            self.push(&format!("respond.review.digest.to[{i}]"), e.to_string())
                        })
                        .ok()
                        .map(|_| text)
                })
                .collect(),
            Some(_) => {
                self.push(
                    "respond.review.digest.to",
                    "must be a list of email addresses",
                );
                Vec::new()
            }
        };
        let subject = m.get("subject").map(scalar_text);
        Some(DigestSchedule {
            at: at?,
            window: window?,
            to,
            subject,
        })
    }

    fn escalation(&mut self, m: &Mapping) -> Option<Escalation> {
        for key in m.keys() {
            let key = scalar_text(key);
            if key != "lookback" && key != "durations" {
                self.push(
                    &format!("respond.escalation.{key}"),
                    "unknown key (valid: lookback, durations)",
                );
            }
        }
        let lookback = match m.get("lookback") {
            None => {
                self.push("respond.escalation.lookback", "missing (e.g. 7d)");
                None
            }
            some => self.duration(some, "respond.escalation.lookback"),
        };
        let durations: Option<Vec<TimeDelta>> = match m.get("durations") {
            Some(Value::Sequence(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.duration(Some(v), &format!("respond.escalation.durations[{i}]")))
                .collect(),
            _ => {
                self.push(
                    "respond.escalation.durations",
                    "must be a non-empty list of durations (e.g. [1h, 4h, 24h])",
                );
                None
            }
        };
        Some(Escalation {
            lookback: lookback?,
            durations: durations?,
        })
    }
}
