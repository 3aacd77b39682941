//! Decisions: what Riposte decided to do about an observable, for how long,
//! and why. Shaped after CrowdSec's decisions so its bouncers can enforce them.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::{AlertId, Confidence, DecisionId, RunId, Timestamp};

crate::string_enum::string_enum! {
    /// What a decision applies to.
    #[derive(PartialOrd, Ord)]
    Scope("scope") {
        Ip = "ip",
        Range = "range",
        User = "user",
        Domain = "domain",
        /// ISO 3166-1 alpha-2 country code, for enforcers that geolocate.
        Country = "country",
        /// Autonomous system number, for enforcers that map addresses to
        /// ASNs.
        Asn = "asn",
    }
}

impl Scope {
    /// Checks and canonicalizes a value for this scope: `ip` values must be
    /// addresses, `range` values CIDRs (host bits cleared).
    pub fn normalize(self, value: &str) -> Result<String, String> {
        let value = value.trim();
        match self {
            // IPv4-mapped IPv6 (::ffff:10.0.0.5) is written as the IPv4
            // address it is, so allowlists and lists compare like with like.
            Scope::Ip => value
                .parse::<IpAddr>()
                .map(|ip| ip.to_canonical().to_string())
                .map_err(|_| format!("{value:?} is not an IP address")),
            Scope::Range => value
                .parse::<IpNet>()
                .map(|net| canonical_net(net).trunc().to_string())
                .map_err(|_| format!("{value:?} is not a CIDR range")),
            Scope::User | Scope::Domain if value.is_empty() => {
                Err(format!("empty {} value", self.as_str()))
            }
            Scope::User => Ok(value.to_owned()),
            Scope::Domain => Ok(value.trim_end_matches('.').to_ascii_lowercase()),
            Scope::Country => {
                if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
                    Ok(value.to_ascii_uppercase())
                } else {
                    Err(format!(
                        "{value:?} is not a two-letter country code (ISO 3166-1 alpha-2)"
                    ))
                }
            }
            Scope::Asn => {
                let digits = value
                    .strip_prefix("AS")
                    .or_else(|| value.strip_prefix("as"))
                    .unwrap_or(value);
                digits
                    .parse::<u32>()
                    .ok()
                    .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
                    .map(|n| n.to_string())
                    .ok_or_else(|| format!("{value:?} is not an AS number (e.g. 64496 or AS64496)"))
            }
        }
    }

    /// The network a decision covers, for scopes that are addresses.
    pub fn network(self, value: &str) -> Option<IpNet> {
        match self {
            Scope::Ip => value.parse::<IpAddr>().ok().map(IpNet::from),
            Scope::Range => value.parse::<IpNet>().ok(),
            Scope::User | Scope::Domain | Scope::Country | Scope::Asn => None,
        }
    }
}

/// An IPv6 range inside ::ffff:0:0/96 as the IPv4 range it maps; other
/// networks unchanged.
pub fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

crate::string_enum::string_enum! {
    /// What is to be done. Firewalls and bouncers enforce `ban`; `throttle`
    /// and `captcha` are carried to enforcers that support them (CrowdSec
    /// bouncers, webhooks); `disable_account` and `quarantine_host` are
    /// carried to connectors (webhooks, playbooks).
    #[derive(PartialOrd, Ord)]
    DecisionKind("decision kind") {
        Ban = "ban",
        Throttle = "throttle",
        Captcha = "captcha",
        DisableAccount = "disable_account",
        QuarantineHost = "quarantine_host",
    }
}

impl DecisionKind {
    /// The scopes a decision of this kind can name: accounts are disabled by
    /// user name, hosts quarantined by address.
    pub fn allows(self, scope: Scope) -> bool {
        match self {
            DecisionKind::Ban | DecisionKind::Throttle | DecisionKind::Captcha => true,
            DecisionKind::DisableAccount => scope == Scope::User,
            DecisionKind::QuarantineHost => scope == Scope::Ip,
        }
    }
}

crate::string_enum::string_enum! {
    /// The life of a decision. Only `Active` decisions reach enforcers.
    DecisionState("decision state") {
        Active = "active",
        Expired = "expired",
        Revoked = "revoked",
        /// Recorded in simulate or shadow mode; never enforced.
        Simulated = "simulated",
        /// Held back by a safety rail (a tripped circuit breaker, a range
        /// wider than allowed) until a person approves or rejects it.
        PendingApproval = "pending_approval",
    }
}

crate::string_enum::string_enum! {
    /// Whether side effects happen, per rule, playbook or the whole
    /// responder. Ordered from the most to the least cautious, so the
    /// effective mode of several is their minimum.
    #[derive(PartialOrd, Ord, Default)]
    Mode("mode") {
        /// Recorded as simulated, never enforced: for trying a playbook on
        /// live traffic or recorded data.
        Simulate = "simulate",
        /// Recorded as simulated together with what enforce mode would have
        /// done at that moment (active, pending approval, refused, already
        /// active), for comparing before promotion.
        Shadow = "shadow",
        #[default]
        Enforce = "enforce",
    }
}

crate::string_enum::string_enum! {
    /// Where an automated decision stands in the daily review.
    ReviewStatus("review status") {
        /// Not looked at yet.
        Pending = "pending",
        /// A person kept it.
        Approved = "approved",
        /// A person revoked it (or rejected it while pending approval): a
        /// false positive, counted per rule in the digest.
        Reverted = "reverted",
        /// A person kept it and made it last longer.
        Extended = "extended",
    }
}

/// A person's verdict on an automated decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub status: ReviewStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Review {
    pub fn pending() -> Self {
        Self {
            status: ReviewStatus::Pending,
            by: None,
            at: None,
            note: None,
        }
    }
}

/// Where a decision came from, so every block can be traced back to the rule,
/// the playbook step and the alert — or the person — behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Origin {
    Playbook {
        playbook: String,
        step: String,
        run: RunId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert: Option<AlertId>,
    },
    User {
        name: String,
    },
    /// Loaded from another system (a CrowdSec or fail2ban export, a list).
    Import {
        source: String,
    },
}

impl Origin {
    /// Made by automation (a playbook or an import) rather than by a
    /// person: subject to the automated safety rails and to review.
    pub fn is_automated(&self) -> bool {
        !matches!(self, Origin::User { .. })
    }

    /// The rule behind an automated decision, if one is known.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Origin::Playbook { rule, .. } => rule.as_deref(),
            Origin::User { .. } | Origin::Import { .. } => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Playbook { playbook, step, .. } => write!(f, "playbook {playbook} step {step}"),
            Origin::User { name } => write!(f, "user {name}"),
            Origin::Import { source } => write!(f, "import {source}"),
        }
    }
}

/// A decision with its time to live.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: DecisionId,
    pub kind: DecisionKind,
    pub scope: Scope,
    /// Canonical value for the scope (see [`Scope::normalize`]).
    pub value: String,
    pub origin: Origin,
    pub reason: String,
    pub confidence: Confidence,
    pub created_at: Timestamp,
    /// `None` only for permanent decisions, which only a person can make.
    pub expires_at: Option<Timestamp>,
    pub state: DecisionState,
    /// When the state last changed (expiry, revocation).
    pub updated_at: Timestamp,
    /// The mode it was made in; simulate and shadow decisions are in state
    /// `simulated`.
    #[serde(default)]
    pub mode: Mode,
    /// For shadow decisions: the state enforce mode would have given it
    /// (`active`, `pending_approval`), or why it would not exist
    /// (`refused: …`, `already active: <id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_verdict: Option<String>,
    /// Why a safety rail held it for approval (state `pending_approval`,
    /// kept after approval for the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// What caused it, as links: `alert:<id>`, `event:<id>`, `case:<id>`,
    /// `run:<id>`, or a URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// How long it was asked to last, kept so that a decision held for
    /// approval lasts that long from the moment it is approved.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration::serde_opt"
    )]
    pub duration: Option<chrono::TimeDelta>,
    /// Repeat offences on the same value within the escalation lookback,
    /// this one included (1 for a first offence); `None` when escalation
    /// is off or the decision was made by a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offence: Option<u32>,
    /// The daily review of automated decisions; `None` for decisions made
    /// by a person, which need no review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
}

impl Decision {
    /// An active, enforce-mode decision made at `at`: permanent, full
    /// confidence, no reason, evidence or review yet. Set the rest with
    /// struct update syntax (`Decision { expires_at, ..Decision::active(..) }`).
    pub fn active(
        kind: DecisionKind,
        scope: Scope,
        value: impl Into<String>,
        origin: Origin,
        at: Timestamp,
    ) -> Self {
        Self {
            id: DecisionId::new(),
            kind,
            scope,
            value: value.into(),
            origin,
            reason: String::new(),
            confidence: Confidence::MAX,
            created_at: at,
            expires_at: None,
            state: DecisionState::Active,
            updated_at: at,
            mode: Mode::Enforce,
            shadow_verdict: None,
            held: None,
            evidence: Vec::new(),
            duration: None,
            offence: None,
            review: None,
        }
    }

    /// True while the decision should be enforced at `now`.
    pub fn is_effective(&self, now: Timestamp) -> bool {
        self.state == DecisionState::Active && self.expires_at.is_none_or(|exp| exp > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_normalizes_values() {
        assert_eq!(Scope::Ip.normalize(" 203.0.113.7 ").unwrap(), "203.0.113.7");
        assert_eq!(Scope::Ip.normalize("2001:DB8::1").unwrap(), "2001:db8::1");
        assert_eq!(
            Scope::Range.normalize("198.51.100.77/24").unwrap(),
            "198.51.100.0/24"
        );
        assert_eq!(
            Scope::Ip.normalize("not-an-ip").unwrap_err(),
            "\"not-an-ip\" is not an IP address"
        );
        assert_eq!(
            Scope::Ip.network("203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(Scope::Ip.normalize("::ffff:10.0.0.5").unwrap(), "10.0.0.5");
        assert_eq!(
            Scope::Range.normalize("::ffff:10.0.0.0/104").unwrap(),
            "10.0.0.0/8"
        );
    }
}
