//! Decisions: what Riposte decided to do about an observable, for how long,
//! and why. Shaped after CrowdSec's decisions so its bouncers can enforce them.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::{AlertId, Confidence, DecisionId, RunId, Timestamp};

crate::string_enum::string_enum! {
    /// What a decision applies to.
    Scope("scope") {
        Ip = "ip",
        Range = "range",
        User = "user",
        Domain = "domain",
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
            Scope::Domain => Ok(value.to_ascii_lowercase()),
        }
    }

    /// The network a decision covers, for scopes that are addresses.
    pub fn network(self, value: &str) -> Option<IpNet> {
        match self {
            Scope::Ip => value.parse::<IpAddr>().ok().map(IpNet::from),
            Scope::Range => value.parse::<IpNet>().ok(),
            Scope::User | Scope::Domain => None,
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
    /// What is to be done.
    DecisionKind("decision kind") {
        Ban = "ban",
    }
}

crate::string_enum::string_enum! {
    /// The life of a decision. Only `Active` decisions reach enforcers.
    DecisionState("decision state") {
        Active = "active",
        Expired = "expired",
        Revoked = "revoked",
        /// Recorded by a playbook in simulate mode; never enforced.
        Simulated = "simulated",
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
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Playbook { playbook, step, .. } => write!(f, "playbook {playbook} step {step}"),
            Origin::User { name } => write!(f, "user {name}"),
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
}

impl Decision {
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
