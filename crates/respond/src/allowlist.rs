use std::net::IpAddr;

use ipnet::IpNet;

/// Networks a decision may never cover. Besides the configured CIDRs, named
/// own assets, gateways and this host's own addresses, a few are always
/// refused: banning loopback, link-local, unspecified, multicast or
/// broadcast addresses can only hurt the host itself.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    nets: Vec<(IpNet, Protected)>,
}

/// Why a network is protected, for the refusal's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Protected {
    Listed,
    Asset(String),
    Gateway,
    OwnAddress(String),
}

/// Checked for overlap in both directions like listed networks, so a range
/// that merely contains one (`224.0.0.0/3`, `ff00::/7`) is refused too.
const BUILT_IN: [(&str, &str); 9] = [
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("0.0.0.0/32", "unspecified"),
    ("::/128", "unspecified"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("255.255.255.255/32", "broadcast"),
];

impl Allowlist {
    pub fn new(nets: Vec<IpNet>) -> Self {
        let mut list = Self::default();
        list.add(nets, Protected::Listed);
        list
    }

    fn add(&mut self, nets: impl IntoIterator<Item = IpNet>, why: Protected) {
        for net in nets {
            self.nets
                .push((riposte_model::canonical_net(net).trunc(), why.clone()));
        }
    }

    /// Protects a named own asset (`respond.assets`: a mail relay, a
    /// partner's range): a refusal names it.
    pub fn with_asset(mut self, name: &str, nets: impl IntoIterator<Item = IpNet>) -> Self {
        self.add(nets, Protected::Asset(name.to_owned()));
        self
    }

    /// Protects configured gateways (`respond.gateways`).
    pub fn with_gateways(mut self, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.add(addrs.into_iter().map(IpNet::from), Protected::Gateway);
        self
    }

    /// Protects this host's own addresses, each with the interface it is on.
    pub fn with_own_addresses(mut self, addrs: impl IntoIterator<Item = (String, IpAddr)>) -> Self {
        for (iface, addr) in addrs {
            self.add([IpNet::from(addr)], Protected::OwnAddress(iface));
        }
        self
    }

    /// Every address of this host's interfaces, as the OS lists them.
    pub fn local_addresses() -> std::io::Result<Vec<(String, IpAddr)>> {
        Ok(if_addrs::get_if_addrs()?
            .into_iter()
            .map(|i| {
                let ip = i.ip();
                (i.name, ip)
            })
            .collect())
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
        if let Some((a, why)) = self.nets.iter().find(|(a, _)| overlaps(a)) {
            return Some(match why {
                Protected::Listed => format!("{net} is covered by allowlisted {a}"),
                Protected::Asset(name) => format!("{net} is own asset {name:?} ({a})"),
                Protected::Gateway => format!("{net} is a configured gateway ({})", a.addr()),
                Protected::OwnAddress(iface) => {
                    format!("{net} is an address of this host ({iface}: {})", a.addr())
                }
            });
        }
        for (cidr, what) in BUILT_IN {
            if let Ok(a) = cidr.parse::<IpNet>()
                && overlaps(&a)
            {
                return Some(format!("{net} is a {what} address ({cidr}); never banned"));
            }
        }
        None
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

    /// Regression: multicast and broadcast were checked against a range's
    /// first address only, so ranges starting below them but covering
    /// them passed.
    #[test]
    fn ranges_overlapping_multicast_or_broadcast_are_refused() {
        let a = Allowlist::default();
        assert_eq!(
            a.refusal(net("192.0.0.0/2")).unwrap(),
            "192.0.0.0/2 is a multicast address (224.0.0.0/4); never banned"
        );
        assert_eq!(
            a.refusal(net("255.255.255.0/24")).unwrap(),
            "255.255.255.0/24 is a broadcast address (255.255.255.255/32); never banned"
        );
        assert_eq!(
            a.refusal(net("ff02::1/128")).unwrap(),
            "ff02::1/128 is a multicast address (ff00::/8); never banned"
        );
        assert_eq!(a.refusal(net("203.0.113.0/24")), None);
        assert_eq!(a.refusal(net("2001:db8::/32")), None);
    }

    #[test]
    fn names_assets_gateways_and_own_addresses() {
        let a = Allowlist::default()
            .with_asset("mail relays", [net("198.51.100.16/28")])
            .with_gateways(["192.0.2.1".parse().unwrap()])
            .with_own_addresses([("eth0".to_owned(), "203.0.113.9".parse().unwrap())]);
        assert_eq!(
            a.refusal(net("198.51.100.20/32")).unwrap(),
            "198.51.100.20/32 is own asset \"mail relays\" (198.51.100.16/28)"
        );
        assert_eq!(
            a.refusal(net("192.0.2.0/24")).unwrap(),
            "192.0.2.0/24 is a configured gateway (192.0.2.1)"
        );
        // IPv4-mapped IPv6 is compared as the IPv4 address it is.
        assert_eq!(
            a.refusal(net("::ffff:203.0.113.9/128")).unwrap(),
            "203.0.113.9/32 is an address of this host (eth0: 203.0.113.9)"
        );
        assert_eq!(a.refusal(net("203.0.113.10/32")), None);
    }
}
