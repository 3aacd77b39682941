use std::net::IpAddr;

use ipnet::IpNet;

/// Networks a decision may never cover. Besides the configured CIDRs, a few
/// are always refused: banning loopback, link-local, unspecified or multicast
/// addresses can only hurt the host itself.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    nets: Vec<IpNet>,
}

const BUILT_IN: [(&str, &str); 6] = [
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("0.0.0.0/32", "unspecified"),
    ("::/128", "unspecified"),
];

impl Allowlist {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self {
            nets: nets.into_iter().map(|n| n.trunc()).collect(),
        }
    }

    /// Why `net` may not be banned, or `None` if it may. A range is refused
    /// if it overlaps an allowlisted network in either direction.
    pub fn refusal(&self, net: IpNet) -> Option<String> {
        let net = riposte_model::canonical_net(net);
        // A range that contains the whole IPv4-mapped space covers every
        // IPv4 address (it is 0.0.0.0/0 in disguise): refuse it outright.
        let mapped_space: IpNet = IpNet::V6(
            ipnet::Ipv6Net::new(std::net::Ipv4Addr::UNSPECIFIED.to_ipv6_mapped(), 96)
                .unwrap_or_default(),
        );
        if net.contains(&mapped_space) {
            return Some(format!(
                "{net} covers the whole IPv4-mapped range {mapped_space}; never banned"
            ));
        }
        let overlaps = |a: &IpNet| a.contains(&net) || net.contains(a);
        if let Some(a) = self.nets.iter().find(|a| overlaps(a)) {
            return Some(format!("{net} is covered by allowlisted {a}"));
        }
        for (cidr, what) in BUILT_IN {
            if let Ok(a) = cidr.parse::<IpNet>()
                && overlaps(&a)
            {
                return Some(format!("{net} is a {what} address ({cidr}); never banned"));
            }
        }
        match net.addr() {
            IpAddr::V4(v4) if v4.is_multicast() || v4.is_broadcast() => Some(format!(
                "{net} is a multicast or broadcast address; never banned"
            )),
            IpAddr::V6(v6) if v6.is_multicast() => {
                Some(format!("{net} is a multicast address; never banned"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_covered_and_overlapping_networks() {
        let a = Allowlist::new(vec![net("10.0.0.0/8"), net("192.0.2.10/32")]);
        assert_eq!(
            a.refusal(net("10.1.2.3/32")).unwrap(),
            "10.1.2.3/32 is covered by allowlisted 10.0.0.0/8"
        );
        assert_eq!(
            a.refusal(net("192.0.2.0/24")).unwrap(),
            "192.0.2.0/24 is covered by allowlisted 192.0.2.10/32"
        );
        assert_eq!(a.refusal(net("203.0.113.7/32")), None);
        assert_eq!(
            a.refusal(net("127.0.0.1/32")).unwrap(),
            "127.0.0.1/32 is a loopback address (127.0.0.0/8); never banned"
        );
        assert!(
            a.refusal(net("fe80::1/128"))
                .unwrap()
                .contains("link-local")
        );
        assert!(
            a.refusal(net("224.0.0.1/32"))
                .unwrap()
                .contains("multicast")
        );
    }
}
