//! One normalization per indicator kind, applied to feed values and event
//! values alike, so that "the same thing" compares equal whichever side
//! wrote it: `Evil.Example.` and `evil.example`, `HTTP://Host:80/a#x` and
//! `http://host/a`, an upper- and a lowercase hash.

use std::net::IpAddr;

use compact_str::{CompactString, ToCompactString, format_compact};
use ipnet::IpNet;
use riposte_model::IndicatorKind;

/// Why a value is not a valid indicator of its kind. The message quotes the
/// value (cut to 200 bytes).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?}: {why}")]
pub struct BadValue {
    pub kind: IndicatorKind,
    pub value: String,
    pub why: &'static str,
}

/// The longest value accepted (a URL or a user agent); longer ones are
/// refused, not cut, since a cut URL would match something else.
pub const MAX_VALUE_BYTES: usize = 4096;

fn bad(kind: IndicatorKind, value: &str, why: &'static str) -> BadValue {
    let mut end = value.len().min(200);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    BadValue {
        kind,
        value: value[..end].to_owned(),
        why,
    }
}

/// A normalized indicator value. An address or network given as `ip` or
/// `cidr` comes back with the kind it really is: `192.0.2.0/24` is a
/// `cidr`, `192.0.2.1/32` and `192.0.2.1` an `ip`, and a network with host
/// bits set (`192.0.2.7/24`) is refused rather than guessed at.
pub fn normalize(
    kind: IndicatorKind,
    raw: &str,
) -> Result<(IndicatorKind, CompactString), BadValue> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(bad(kind, raw, "empty"));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(bad(kind, raw, "longer than 4096 bytes"));
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err(bad(kind, raw, "contains a line break or NUL"));
    }
    use IndicatorKind as K;
    match kind {
        K::Ip | K::Cidr => address(kind, value),
        K::Domain => domain(value)
            .map(|d| (K::Domain, d))
            .ok_or_else(|| bad(kind, raw, "not a DNS name")),
        K::Url => url(value)
            .map(|u| (K::Url, u))
            .ok_or_else(|| bad(kind, raw, "not a URL")),
        K::Md5 | K::Ja3 | K::Ja3s => hex(kind, value, 32),
        K::Sha1 => hex(kind, value, 40),
        K::Sha256 => hex(kind, value, 64),
        K::Email => {
            let lower = value.to_lowercase();
            match lower.rsplit_once('@') {
                Some((local, host))
                    if !local.is_empty()
                        && !local.contains(char::is_whitespace)
                        && domain(host).is_some() =>
                {
                    Ok((K::Email, lower.into()))
                }
                _ => Err(bad(kind, raw, "not an email address")),
            }
        }
        K::UserAgent => Ok((K::UserAgent, value.into())),
        K::Filename => {
            // Feeds often give a path (`%TEMP%\\x.lnk`); events name files
            // by their base name (`file.name`), so that is what is kept.
            let base = value.rsplit(['/', '\\']).next().unwrap_or(value).trim();
            if base.is_empty() {
                Err(bad(kind, raw, "no file name after the directory"))
            } else {
                Ok((K::Filename, base.to_lowercase().into()))
            }
        }
    }
}

fn address(kind: IndicatorKind, value: &str) -> Result<(IndicatorKind, CompactString), BadValue> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok((IndicatorKind::Ip, canonical_ip(ip)));
    }
    let net: IpNet = value
        .parse()
        .map_err(|_| bad(kind, value, "not an IP address or network"))?;
    if net.trunc() != net {
        return Err(bad(kind, value, "network has host bits set"));
    }
    if net.prefix_len() == net.max_prefix_len() {
        return Ok((IndicatorKind::Ip, canonical_ip(net.addr())));
    }
    Ok((IndicatorKind::Cidr, net.to_compact_string()))
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
pub fn canonical_ip(ip: IpAddr) -> CompactString {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_compact_string(),
            None => v6.to_compact_string(),
        },
        IpAddr::V4(v4) => v4.to_compact_string(),
    }
}

fn hex(
    kind: IndicatorKind,
    value: &str,
    len: usize,
) -> Result<(IndicatorKind, CompactString), BadValue> {
    if value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok((kind, value.to_ascii_lowercase().into()))
    } else {
        Err(bad(
            kind,
            value,
            match len {
                32 => "not 32 hex digits",
                40 => "not 40 hex digits",
                _ => "not 64 hex digits",
            },
        ))
    }
}

/// Lowercase, without a trailing dot; labels of letters, digits, `-` and
/// `_` (internationalized names in their `xn--` form). A single label is
/// accepted (`onion`-style TLD blocks, internal names).
pub fn domain(value: &str) -> Option<CompactString> {
    let d = value.strip_suffix('.').unwrap_or(value);
    let d = d.strip_prefix("*.").unwrap_or(d);
    if d.is_empty() || d.len() > 253 || d.parse::<IpAddr>().is_ok() {
        return None;
    }
    for label in d.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
    }
    Some(d.to_ascii_lowercase().into())
}

/// `scheme://host[:port]/path?query`: scheme and host lowercased, the
/// default port (80, 443, 21) dropped, an empty path made `/`, the fragment
/// dropped, percent escapes uppercased. A value without a scheme
/// (`evil.example/gate.php`, common in feeds) is read as `http://`.
pub fn url(value: &str) -> Option<CompactString> {
    if value.contains(char::is_whitespace) {
        return None;
    }
    let (scheme, rest) = match value.find("://") {
        Some(i) => (value[..i].to_ascii_lowercase(), &value[i + 3..]),
        None => ("http".to_owned(), value),
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (host, port) = split_port(hostport)?;
    // Trailing dots go (the root label); an empty label in between makes
    // no host name (and `a..` would otherwise lose one dot per pass).
    let host = host.trim_end_matches('.');
    if host.is_empty() || host.contains("..") {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some("80"),
        "https" => Some("443"),
        "ftp" => Some("21"),
        _ => None,
    };
    let mut out = format_compact!("{scheme}://");
    if let Some(u) = userinfo {
        out.push_str(u);
        out.push('@');
    }
    out.push_str(&host);
    if let Some(p) = port
        && Some(p) != default_port
    {
        out.push(':');
        out.push_str(p);
    }
    if !tail.starts_with('/') {
        out.push('/');
    }
    push_escapes_upper(&mut out, tail);
    Some(out)
}

/// Host and optional port of `host:port` or `[v6]:port`.
fn split_port(hostport: &str) -> Option<(&str, Option<&str>)> {
    if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6.find(']')?;
        let host = &hostport[..end + 2];
        let after = &v6[end + 1..];
        return match after.strip_prefix(':') {
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some((host, Some(p))),
            None if after.is_empty() => Some((host, None)),
            _ => None,
        };
    }
    // Outside brackets a host holds no colon (RFC 3986 reg-name): without
    // this, `http:+x:80` (no `//`) would keep `http:+x` as its host and
    // normalize to a URL that does not parse again.
    match hostport.rsplit_once(':') {
        Some((h, _)) if h.contains(':') => None,
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some((h, Some(p)))
        }
        Some((h, "")) => Some((h, None)),
        Some(_) => None,
        None => Some((hostport, None)),
    }
}

fn push_escapes_upper(out: &mut CompactString, s: &str) {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            out.push_str(&s[start..i + 1]);
            out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
            out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use IndicatorKind as K;

    fn n(kind: K, v: &str) -> (K, String) {
        let (k, v) = normalize(kind, v).unwrap();
        (k, v.to_string())
    }

    #[test]
    fn addresses_and_networks_come_back_as_what_they_are() {
        assert_eq!(n(K::Ip, " 192.0.2.1 "), (K::Ip, "192.0.2.1".into()));
        assert_eq!(n(K::Cidr, "192.0.2.1/32"), (K::Ip, "192.0.2.1".into()));
        assert_eq!(
            n(K::Ip, "198.51.100.0/24"),
            (K::Cidr, "198.51.100.0/24".into())
        );
        assert_eq!(n(K::Ip, "2001:DB8::1"), (K::Ip, "2001:db8::1".into()));
        assert_eq!(n(K::Ip, "::ffff:192.0.2.9"), (K::Ip, "192.0.2.9".into()));
        assert_eq!(
            normalize(K::Cidr, "192.0.2.7/24").unwrap_err().to_string(),
            "cidr \"192.0.2.7/24\": network has host bits set"
        );
        assert!(normalize(K::Ip, "192.0.2.256").is_err());
        assert!(normalize(K::Ip, "010.0.0.1").is_err());
    }

    #[test]
    fn domains_hashes_and_names_are_lowercased() {
        assert_eq!(
            n(K::Domain, "Evil.Example."),
            (K::Domain, "evil.example".into())
        );
        assert_eq!(
            n(K::Domain, "*.evil.example"),
            (K::Domain, "evil.example".into())
        );
        assert_eq!(n(K::Domain, "onion"), (K::Domain, "onion".into()));
        assert!(normalize(K::Domain, "domain autuo.xicp.net").is_err());
        assert!(normalize(K::Domain, "192.0.2.1").is_err());
        assert_eq!(n(K::Md5, &"AB".repeat(16)).1, "ab".repeat(16));
        assert!(normalize(K::Sha1, &"ab".repeat(16)).is_err());
        assert_eq!(n(K::Email, "Bad@Evil.Example").1, "bad@evil.example");
        assert_eq!(n(K::Filename, "Cerber.EXE").1, "cerber.exe");
        assert_eq!(n(K::Filename, "%APPDATA%\\Microsoft\\X.exe").1, "x.exe");
        assert_eq!(n(K::Filename, "/tmp/a b.sh").1, "a b.sh");
        assert!(normalize(K::Filename, "C:\\dir\\").is_err());
        assert!(normalize(K::UserAgent, "a\nb").is_err());
    }

    #[test]
    fn urls_compare_equal_whatever_the_spelling() {
        for (raw, want) in [
            (
                "HTTP://Evil.Example:80/a?b=%2f#frag",
                "http://evil.example/a?b=%2F",
            ),
            ("https://evil.example:8443", "https://evil.example:8443/"),
            ("https://evil.example:443?x", "https://evil.example/?x"),
            ("evil.example/gate.php", "http://evil.example/gate.php"),
            ("decrypttozxybarc.onion", "http://decrypttozxybarc.onion/"),
            ("http://u:p@[2001:db8::1]:80/", "http://u:p@[2001:db8::1]/"),
        ] {
            assert_eq!(n(K::Url, raw).1, want, "{raw}");
        }
        assert!(normalize(K::Url, "http://a b/").is_err());
        assert!(normalize(K::Url, "http:///x").is_err());
        assert!(normalize(K::Url, "http://h:port/").is_err());
        // Found by the intel_csv fuzz target: a scheme without `//` left a
        // colon in the host, and the result did not normalize again.
        assert!(normalize(K::Url, "http:+EEvil.Example:80/a#b").is_err());
        assert!(normalize(K::Url, "http://a:b:80/").is_err());
        // Also found by it: trailing dots went one per pass.
        assert_eq!(
            n(K::Url, "http://evil.example../x").1,
            "http://evil.example/x"
        );
        assert!(normalize(K::Url, "http://evil..example/").is_err());
    }
}
