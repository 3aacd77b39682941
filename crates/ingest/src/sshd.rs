//! OpenSSH server messages, decoded from the syslog message text.
//!
//! The output is what brute-force rules and ban playbooks need:
//! `event.action`, `event.outcome`, `user.name`, `source.ip`/`source.port`,
//! `sshd.auth_method`, `sshd.invalid_user`. Messages are recognised by their
//! fixed prefixes and split on fixed tokens (` from `, ` port `) rather than
//! by regex.
//!
//! Counting: only `Failed …` and `Invalid user …` lines carry
//! `event.outcome: failure`. The messages that accompany a failure (PAM's
//! `authentication failure`, `maximum authentication attempts exceeded`,
//! `Connection closed by authenticating user`, …) get `unknown`, so a rule
//! counting failures does not count one attempt two or three times.
//!
//! The username is chosen by the client and can imitate the rest of the
//! line (`Failed password for x from 6.6.6.6 port 1 ssh2 from …`). The
//! address is therefore taken from the last ` from ADDR [port N] [sshN]`
//! that ends the line, or from the first one followed by `: ` (the key or
//! auth-info suffix OpenSSH appends) when the username before it is a single
//! word — the same rules fail2ban's sshd filter applies.

use std::net::IpAddr;

use riposte_model::{Event, ObservableKind};

/// What one sshd message says, borrowing from it.
#[derive(Debug, Default, PartialEq, Eq)]
struct SshdMessage<'a> {
    action: &'static str,
    outcome: &'static str,
    user: Option<&'a str>,
    /// An IP address, or a host name when sshd resolves names (`UseDNS`).
    addr: Option<&'a str>,
    port: Option<u16>,
    method: Option<&'a str>,
    invalid_user: Option<bool>,
}

const FAILURE: &str = "failure";
const SUCCESS: &str = "success";
const UNKNOWN: &str = "unknown";

/// Adds the sshd fields to an event whose syslog header is already decoded.
/// Messages it does not recognise leave the event as it is.
pub(crate) fn apply(ev: &mut Event, message: &str) {
    let Some(m) = parse(message) else {
        return;
    };
    ev.set("event.module", "sshd");
    ev.set("event.kind", "event");
    ev.set("event.category", "authentication");
    ev.set("event.action", m.action);
    ev.set("event.outcome", m.outcome);
    if let Some(user) = m.user.filter(|u| !u.is_empty()) {
        ev.set("user.name", user);
        ev.add_observable(ObservableKind::User, user, "user.name");
    }
    if let Some(addr) = m.addr {
        match addr.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical().to_string();
                ev.set("source.ip", ip.clone());
                ev.add_observable(ObservableKind::Ip, ip, "source.ip");
            }
            Err(_) => ev.set("source.domain", addr.to_ascii_lowercase()),
        }
    }
    if let Some(port) = m.port {
        ev.set("source.port", port);
    }
    if let Some(method) = m.method {
        ev.set("sshd.auth_method", method);
    }
    if let Some(invalid) = m.invalid_user {
        ev.set("sshd.invalid_user", invalid);
    }
}

fn parse(message: &str) -> Option<SshdMessage<'_>> {
    let m = strip_noise(message);
    if let Some(rest) = m.strip_prefix("Failed ") {
        return login(rest, FAILURE);
    }
    if let Some(rest) = m.strip_prefix("Accepted ") {
        return login(rest, SUCCESS);
    }
    if let Some(rest) = m
        .strip_prefix("Invalid user ")
        .or_else(|| m.strip_prefix("Illegal user "))
    {
        let c = from_clause(rest)?;
        return Some(SshdMessage {
            action: "ssh_invalid_user",
            outcome: FAILURE,
            user: Some(c.user),
            addr: Some(c.addr),
            port: c.port,
            invalid_user: Some(true),
            ..SshdMessage::default()
        });
    }
    for (prefix, action) in [
        ("Connection closed by ", "ssh_connection_closed"),
        ("Connection reset by ", "ssh_connection_reset"),
        ("Disconnected from ", "ssh_disconnected"),
        ("Disconnecting ", "ssh_disconnecting"),
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            return closed(rest, action);
        }
    }
    for (prefix, action) in [
        ("Received disconnect from ", "ssh_disconnect_received"),
        (
            "Did not receive identification string from ",
            "ssh_no_identification",
        ),
        (
            "Timeout before authentication for connection from ",
            "ssh_auth_timeout",
        ),
        ("Timeout before authentication for ", "ssh_auth_timeout"),
        ("Unable to negotiate with ", "ssh_negotiation_failed"),
        ("Connection from ", "ssh_connection_opened"),
        (
            "banner exchange: Connection from ",
            "ssh_banner_exchange_failed",
        ),
        (
            "ssh_dispatch_run_fatal: Connection from ",
            "ssh_protocol_error",
        ),
        ("ROOT LOGIN REFUSED FROM ", "ssh_root_login_refused"),
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            let (addr, port, _) = addr_port(rest)?;
            return Some(SshdMessage {
                action,
                outcome: UNKNOWN,
                user: (action == "ssh_root_login_refused").then_some("root"),
                addr: Some(addr),
                port,
                ..SshdMessage::default()
            });
        }
    }
    if let Some(rest) = m.strip_prefix("Bad protocol version identification ") {
        // The quoted version string is the client's; the address follows
        // its closing quote, so take the last one.
        let (_, after) = rest.rsplit_once("' from ")?;
        let (addr, port, _) = addr_port(after)?;
        return Some(SshdMessage {
            action: "ssh_bad_protocol_version",
            outcome: UNKNOWN,
            addr: Some(addr),
            port,
            ..SshdMessage::default()
        });
    }
    if let Some(rest) = m.strip_prefix("refused connect from ") {
        // tcp_wrappers: `refused connect from NAME (ADDR)`.
        let addr = rest.strip_suffix(')')?.rsplit_once(" (")?.1;
        return is_addr_like(addr).then_some(SshdMessage {
            action: "ssh_connection_refused",
            outcome: UNKNOWN,
            addr: Some(addr),
            ..SshdMessage::default()
        });
    }
    if let Some(rest) = m.strip_prefix("Disconnecting: Too many authentication failures") {
        return Some(SshdMessage {
            action: "ssh_too_many_auth_failures",
            outcome: UNKNOWN,
            user: rest.strip_prefix(" for "),
            ..SshdMessage::default()
        });
    }
    // PAM through sshd's own logging, after `error: PAM: `:
    // `Authentication failure for USER from ADDR[ via HOST]`.
    for prefix in [
        "Authentication failure for ",
        "authentication failure for ",
        "Authentication error for ",
        "authentication error for ",
        "User not known to the underlying authentication module for ",
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            let (invalid, body) = match rest
                .strip_prefix("illegal user ")
                .or_else(|| rest.strip_prefix("invalid user "))
            {
                Some(body) => (Some(true), body),
                None => (None, rest),
            };
            let c = from_clause(body)?;
            return Some(SshdMessage {
                action: "ssh_pam_auth_failure",
                outcome: UNKNOWN,
                user: Some(c.user),
                addr: Some(c.addr),
                port: c.port,
                invalid_user: invalid,
                ..SshdMessage::default()
            });
        }
    }
    if let Some(rest) = m.strip_prefix("maximum authentication attempts exceeded for ") {
        let (invalid, body) = match rest.strip_prefix("invalid user ") {
            Some(body) => (true, body),
            None => (false, rest),
        };
        let c = from_clause(body)?;
        return Some(SshdMessage {
            action: "ssh_max_auth_attempts",
            outcome: UNKNOWN,
            user: Some(c.user),
            addr: Some(c.addr),
            port: c.port,
            invalid_user: Some(invalid),
            ..SshdMessage::default()
        });
    }
    if let Some(rest) = m.strip_prefix("User ") {
        return not_allowed(rest);
    }
    if m.starts_with("pam_") {
        return pam_failure(m);
    }
    None
}

/// Drops what varies around the message proper: Solaris' `[ID 800047
/// auth.info] `, OpenSSH's `error: `/`fatal: ` and `PAM: ` prefixes, and the
/// ` [preauth]`/` [net]` suffixes of privilege-separated children.
fn strip_noise(message: &str) -> &str {
    let mut m = message.trim();
    if m.starts_with("[ID ")
        && let Some(end) = m.find("] ")
    {
        m = &m[end + 2..];
    }
    for prefix in ["error: ", "fatal: "] {
        if let Some(rest) = m.strip_prefix(prefix) {
            m = rest;
            break;
        }
    }
    if let Some(rest) = m.strip_prefix("PAM: ") {
        m = rest;
    }
    for suffix in ["[preauth]", "[net]"] {
        if let Some(rest) = m.strip_suffix(suffix) {
            m = rest.trim_end();
            break;
        }
    }
    m
}

/// `METHOD for [invalid user ]USER from ADDR port N sshN[: INFO]`.
fn login<'a>(rest: &'a str, outcome: &'static str) -> Option<SshdMessage<'a>> {
    let (method, rest) = rest.split_once(" for ")?;
    if method.is_empty() || method.contains(' ') {
        return None;
    }
    let (mut invalid, body) = match rest.strip_prefix("invalid user ") {
        Some(body) => (true, body),
        None => (false, rest),
    };
    let c = from_clause(body)?;
    // Solaris logs this placeholder instead of a name it will not repeat.
    let user = if c.user == "<invalid username>" {
        invalid = true;
        None
    } else {
        Some(c.user)
    };
    Some(SshdMessage {
        action: "ssh_login",
        outcome,
        user,
        addr: Some(c.addr),
        port: c.port,
        method: Some(method),
        invalid_user: Some(invalid),
    })
}

/// The parts of `USER from ADDR [port N] [sshN][TAIL]`.
#[derive(Debug, PartialEq, Eq)]
struct FromClause<'a> {
    user: &'a str,
    addr: &'a str,
    port: Option<u16>,
}

/// Finds the ` from ADDR` that belongs to sshd rather than to the username
/// (see the module documentation): the first candidate whose tail is empty
/// or free of further ` from `, or starts with `: ` after a one-word user.
fn from_clause(body: &str) -> Option<FromClause<'_>> {
    let mut search = 0;
    while let Some(found) = body[search..].find("from ") {
        let at = search + found;
        search = at + 5;
        let user = match at {
            0 => "",
            _ if body.as_bytes()[at - 1] == b' ' => &body[..at - 1],
            _ => continue,
        };
        let Some((addr, port, tail)) = addr_port(&body[at + 5..]) else {
            continue;
        };
        let tail = skip_protocol(tail);
        let ends_line =
            !tail.contains(" from ") && (tail.is_empty() || tail.starts_with([' ', ':']));
        let info_suffix = tail.starts_with(": ") && !user.contains(' ');
        if ends_line || info_suffix {
            return Some(FromClause { user, addr, port });
        }
    }
    None
}

/// Skips ` ssh2` / ` ssh1` after the port.
fn skip_protocol(tail: &str) -> &str {
    if let Some(rest) = tail.strip_prefix(" ssh") {
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        if rest.is_empty() || rest.starts_with([' ', ':']) {
            return rest;
        }
    }
    tail
}

/// `ADDR[:][ port N]…` at the start of `s`: the address, the port, and what
/// follows. `None` when the first word cannot be an address or host name.
fn addr_port(s: &str) -> Option<(&str, Option<u16>, &str)> {
    let end = s.find(' ').unwrap_or(s.len());
    let mut addr = &s[..end];
    let mut tail = &s[end..];
    // `Received disconnect from 192.0.2.1: 11: Bye`; an IPv6 address never
    // ends with a single colon, so stripping one is safe.
    if let Some(stripped) = addr.strip_suffix(':')
        && addr.parse::<IpAddr>().is_err()
    {
        addr = stripped;
        tail = &s[end - 1..];
    }
    if !is_addr_like(addr) {
        return None;
    }
    let mut port = None;
    if let Some(rest) = tail.strip_prefix(" port ") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            port = rest[..digits].parse().ok();
            tail = &rest[digits..];
        }
    }
    Some((addr, port, tail))
}

/// Characters of IPv4/IPv6 addresses (with zone) and host names.
fn is_addr_like(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'_' | b'%'))
}

/// `[authenticating user |invalid user |user ]USER ADDR[ port N][: REASON]`,
/// after `Connection closed by` and its kin. The username may contain
/// spaces, so the address is the last word before the final ` port N`.
fn closed<'a>(rest: &'a str, action: &'static str) -> Option<SshdMessage<'a>> {
    let (kind, body) = [
        ("authenticating user ", Some(false)),
        ("invalid user ", Some(true)),
        ("user ", None),
    ]
    .into_iter()
    .find_map(|(prefix, invalid)| rest.strip_prefix(prefix).map(|b| (Some(invalid), b)))
    .unwrap_or((None, rest));
    let (head, port) = split_trailing_port(body);
    let (user, addr) = match kind {
        Some(_) => match head.rfind(' ') {
            Some(i) => (Some(&head[..i]), &head[i + 1..]),
            None => (Some(""), head),
        },
        None => (None, head),
    };
    if !is_addr_like(addr) {
        return None;
    }
    Some(SshdMessage {
        action,
        outcome: UNKNOWN,
        user,
        addr: Some(addr),
        port,
        invalid_user: kind.flatten(),
        ..SshdMessage::default()
    })
}

/// Splits `HEAD port N[:…]` at the last such ` port N`; without one the
/// head is the text up to a `: ` reason, if any.
fn split_trailing_port(s: &str) -> (&str, Option<u16>) {
    for (i, _) in s.rmatch_indices(" port ") {
        let rest = &s[i + 6..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && (digits == rest.len() || rest.as_bytes()[digits] == b':') {
            return (&s[..i], rest[..digits].parse().ok());
        }
    }
    (s.split_once(": ").map_or(s, |(head, _)| head), None)
}

/// `USER [from ADDR ]not allowed because …` (AllowUsers, DenyGroups, a
/// locked account).
fn not_allowed(rest: &str) -> Option<SshdMessage<'_>> {
    let (head, _) = rest.rsplit_once(" not allowed because ")?;
    let (user, addr) = match head.rsplit_once(" from ") {
        Some((user, addr)) if is_addr_like(addr) => (user, Some(addr)),
        _ => (head, None),
    };
    Some(SshdMessage {
        action: "ssh_user_not_allowed",
        outcome: UNKNOWN,
        user: Some(user),
        addr,
        ..SshdMessage::default()
    })
}

/// `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0
/// tty=ssh ruser= rhost=203.0.113.7  user=root`.
fn pam_failure(m: &str) -> Option<SshdMessage<'_>> {
    let (module, rest) = m.split_once("(sshd:auth): ")?;
    if module.contains(' ') {
        return None;
    }
    let kv = rest.strip_prefix("authentication failure;")?;
    let mut msg = SshdMessage {
        action: "ssh_pam_auth_failure",
        outcome: UNKNOWN,
        ..SshdMessage::default()
    };
    for pair in kv.split(' ') {
        match pair.split_once('=') {
            Some(("rhost", v)) if is_addr_like(v) => msg.addr = Some(v),
            Some(("user", v)) if !v.is_empty() => msg.user = Some(v),
            _ => {}
        }
    }
    Some(msg)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use riposte_model::{FieldValue, Observable};

    use super::*;

    fn msg(
        action: &'static str,
        outcome: &'static str,
        user: Option<&'static str>,
        addr: Option<&'static str>,
        port: Option<u16>,
    ) -> SshdMessage<'static> {
        SshdMessage {
            action,
            outcome,
            user,
            addr,
            port,
            ..SshdMessage::default()
        }
    }

    fn login(
        outcome: &'static str,
        method: &'static str,
        user: Option<&'static str>,
        addr: &'static str,
        port: Option<u16>,
        invalid: bool,
    ) -> SshdMessage<'static> {
        SshdMessage {
            action: "ssh_login",
            outcome,
            user,
            addr: Some(addr),
            port,
            method: Some(method),
            invalid_user: Some(invalid),
        }
    }

    #[test]
    fn login_failures_and_successes() {
        let cases = [
            (
                "Failed password for root from 203.0.113.7 port 52211 ssh2",
                login(
                    FAILURE,
                    "password",
                    Some("root"),
                    "203.0.113.7",
                    Some(52211),
                    false,
                ),
            ),
            (
                "Failed password for invalid user admin from 203.0.113.7 port 52211 ssh2",
                login(
                    FAILURE,
                    "password",
                    Some("admin"),
                    "203.0.113.7",
                    Some(52211),
                    true,
                ),
            ),
            (
                "Failed publickey for git from 192.0.2.1 port 57904 ssh2: RSA SHA256:v3dpapGleDaUKf$4V1vKyR9ZyU",
                login(
                    FAILURE,
                    "publickey",
                    Some("git"),
                    "192.0.2.1",
                    Some(57904),
                    false,
                ),
            ),
            (
                "Failed none for invalid user  from 192.0.2.9 port 1 ssh2",
                login(FAILURE, "none", Some(""), "192.0.2.9", Some(1), true),
            ),
            (
                "Failed keyboard-interactive/pam for invalid user jo from 2001:db8::7 port 33723 ssh2",
                login(
                    FAILURE,
                    "keyboard-interactive/pam",
                    Some("jo"),
                    "2001:db8::7",
                    Some(33723),
                    true,
                ),
            ),
            (
                "[ID 800047 auth.info] Failed keyboard-interactive for <invalid username> from 192.0.2.55 port 42742 ssh2",
                login(
                    FAILURE,
                    "keyboard-interactive",
                    None,
                    "192.0.2.55",
                    Some(42742),
                    true,
                ),
            ),
            (
                "Failed password for invalid user ROOT from 192.0.2.70",
                login(FAILURE, "password", Some("ROOT"), "192.0.2.70", None, true),
            ),
            (
                "Accepted password for alice from 198.51.100.4 port 50000 ssh2",
                login(
                    SUCCESS,
                    "password",
                    Some("alice"),
                    "198.51.100.4",
                    Some(50000),
                    false,
                ),
            ),
            (
                "Accepted publickey for git from 192.0.2.1 port 57904 ssh2: ED25519 SHA256:abc",
                login(
                    SUCCESS,
                    "publickey",
                    Some("git"),
                    "192.0.2.1",
                    Some(57904),
                    false,
                ),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line), Some(want), "{line}");
        }
    }

    #[test]
    fn username_injection_does_not_move_the_address() {
        let cases = [
            (
                "Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
                "from 10.10.1.1",
                "127.0.0.1",
            ),
            (
                "Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
                "test from 10.10.1.2 port 55555 ssh2",
                "127.0.0.1",
            ),
            (
                "Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
                "test",
                "127.0.0.1",
            ),
            (
                "Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]",
                "test 127.0.0.1 port 12345",
                "192.0.2.11",
            ),
        ];
        for (line, user, addr) in cases {
            let m = parse(line).unwrap();
            assert_eq!((m.user, m.addr), (Some(user), Some(addr)), "{line}");
        }
    }

    #[test]
    fn invalid_user_and_secondary_messages() {
        let invalid = |user, addr, port| SshdMessage {
            invalid_user: Some(true),
            ..msg("ssh_invalid_user", FAILURE, Some(user), Some(addr), port)
        };
        let cases = [
            (
                "Invalid user admin from 203.0.113.7 port 4242",
                invalid("admin", "203.0.113.7", Some(4242)),
            ),
            (
                "Invalid user  from 192.0.2.68 port 34916",
                invalid("", "192.0.2.68", Some(34916)),
            ),
            (
                "Illegal user ftp from 192.0.2.1",
                invalid("ftp", "192.0.2.1", None),
            ),
            (
                "Connection closed by authenticating user root 203.0.113.7 port 22 [preauth]",
                SshdMessage {
                    invalid_user: Some(false),
                    ..msg(
                        "ssh_connection_closed",
                        UNKNOWN,
                        Some("root"),
                        Some("203.0.113.7"),
                        Some(22),
                    )
                },
            ),
            (
                "Connection closed by 192.0.2.212 [preauth]",
                msg(
                    "ssh_connection_closed",
                    UNKNOWN,
                    None,
                    Some("192.0.2.212"),
                    None,
                ),
            ),
            (
                "Connection reset by 192.0.2.39 port 14282 [preauth]",
                msg(
                    "ssh_connection_reset",
                    UNKNOWN,
                    None,
                    Some("192.0.2.39"),
                    Some(14282),
                ),
            ),
            (
                "Disconnected from invalid user x 1.2.3.4 port 5 [preauth]",
                SshdMessage {
                    invalid_user: Some(true),
                    ..msg(
                        "ssh_disconnected",
                        UNKNOWN,
                        Some("x"),
                        Some("1.2.3.4"),
                        Some(5),
                    )
                },
            ),
            (
                "Disconnected from user alice 198.51.100.4 port 50000",
                msg(
                    "ssh_disconnected",
                    UNKNOWN,
                    Some("alice"),
                    Some("198.51.100.4"),
                    Some(50000),
                ),
            ),
            (
                "Disconnecting invalid user admin 192.0.2.117 port 44004: Too many authentication failures [preauth]",
                SshdMessage {
                    invalid_user: Some(true),
                    ..msg(
                        "ssh_disconnecting",
                        UNKNOWN,
                        Some("admin"),
                        Some("192.0.2.117"),
                        Some(44004),
                    )
                },
            ),
            (
                "Received disconnect from 198.51.100.76 port 58846:11: Bye Bye [preauth]",
                msg(
                    "ssh_disconnect_received",
                    UNKNOWN,
                    None,
                    Some("198.51.100.76"),
                    Some(58846),
                ),
            ),
            (
                "error: Received disconnect from 94.249.236.6: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
                msg(
                    "ssh_disconnect_received",
                    UNKNOWN,
                    None,
                    Some("94.249.236.6"),
                    None,
                ),
            ),
            (
                "Did not receive identification string from 1.2.3.4 port 5",
                msg(
                    "ssh_no_identification",
                    UNKNOWN,
                    None,
                    Some("1.2.3.4"),
                    Some(5),
                ),
            ),
            (
                "fatal: Timeout before authentication for 192.0.2.14 port 55555",
                msg(
                    "ssh_auth_timeout",
                    UNKNOWN,
                    None,
                    Some("192.0.2.14"),
                    Some(55555),
                ),
            ),
            (
                "Unable to negotiate with 192.0.2.4 port 50404: no matching host key type found. Their offer: ssh-dss",
                msg(
                    "ssh_negotiation_failed",
                    UNKNOWN,
                    None,
                    Some("192.0.2.4"),
                    Some(50404),
                ),
            ),
            (
                "error: maximum authentication attempts exceeded for root from 1.2.3.4 port 5 ssh2 [preauth]",
                SshdMessage {
                    invalid_user: Some(false),
                    ..msg(
                        "ssh_max_auth_attempts",
                        UNKNOWN,
                        Some("root"),
                        Some("1.2.3.4"),
                        Some(5),
                    )
                },
            ),
            (
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root",
                msg(
                    "ssh_pam_auth_failure",
                    UNKNOWN,
                    Some("root"),
                    Some("203.0.113.7"),
                    None,
                ),
            ),
            (
                "User root from 192.0.2.54 not allowed because a group is listed in DenyGroups",
                msg(
                    "ssh_user_not_allowed",
                    UNKNOWN,
                    Some("root"),
                    Some("192.0.2.54"),
                    None,
                ),
            ),
            (
                "User root not allowed because account is locked",
                msg("ssh_user_not_allowed", UNKNOWN, Some("root"), None, None),
            ),
            (
                "error: PAM: Authentication failure for james from 192.0.2.99 via 192.168.1.201",
                msg(
                    "ssh_pam_auth_failure",
                    UNKNOWN,
                    Some("james"),
                    Some("192.0.2.99"),
                    None,
                ),
            ),
            (
                "error: PAM: User not known to the underlying authentication module for illegal user kit from 10.215.4.227 ",
                SshdMessage {
                    invalid_user: Some(true),
                    ..msg(
                        "ssh_pam_auth_failure",
                        UNKNOWN,
                        Some("kit"),
                        Some("10.215.4.227"),
                        None,
                    )
                },
            ),
            (
                "ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4 port 12345 [preauth]",
                msg(
                    "ssh_root_login_refused",
                    UNKNOWN,
                    Some("root"),
                    Some("::ffff:1.2.3.4"),
                    Some(12345),
                ),
            ),
            (
                "Bad protocol version identification 'x' from 6.6.6.6 port 1' from 192.0.2.115 port 31778",
                msg(
                    "ssh_bad_protocol_version",
                    UNKNOWN,
                    None,
                    Some("192.0.2.115"),
                    Some(31778),
                ),
            ),
            (
                "refused connect from host.example (::ffff:192.0.2.161)",
                msg(
                    "ssh_connection_refused",
                    UNKNOWN,
                    None,
                    Some("::ffff:192.0.2.161"),
                    None,
                ),
            ),
            (
                "Disconnecting: Too many authentication failures for root [preauth]",
                msg(
                    "ssh_too_many_auth_failures",
                    UNKNOWN,
                    Some("root"),
                    None,
                    None,
                ),
            ),
            (
                "Connection from 192.0.2.10 port 62004 on 192.0.2.20 port 22 rdomain \"\"",
                msg(
                    "ssh_connection_opened",
                    UNKNOWN,
                    None,
                    Some("192.0.2.10"),
                    Some(62004),
                ),
            ),
            (
                "ssh_dispatch_run_fatal: Connection from 192.0.2.13 port 33738: message authentication code incorrect [preauth]",
                msg(
                    "ssh_protocol_error",
                    UNKNOWN,
                    None,
                    Some("192.0.2.13"),
                    Some(33738),
                ),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line), Some(want), "{line}");
        }
    }

    #[test]
    fn unrecognised_messages_are_not_parsed() {
        for line in [
            "Server listening on 0.0.0.0 port 22.",
            "pam_unix(sshd:session): session opened for user alice(uid=1000) by alice(uid=0)",
            "Failed to bind",
            "Connection closed by",
            "",
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
    }

    fn event(line: &str) -> Event {
        let now = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap();
        crate::syslog::decode(line, now).unwrap()
    }

    #[test]
    fn failed_password_event_has_exact_fields_and_observables() {
        let ev = event(
            "Mar 14 09:26:53 bastion sshd[812]: Failed password for invalid user admin from 203.0.113.7 port 52211 ssh2",
        );
        assert_eq!(ev.dataset, "sshd");
        let got: Vec<(&str, FieldValue)> = ev
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let s = |v: &str| FieldValue::Str(v.to_owned());
        assert_eq!(
            got,
            vec![
                ("event.action", s("ssh_login")),
                ("event.category", s("authentication")),
                ("event.kind", s("event")),
                ("event.module", s("sshd")),
                ("event.outcome", s("failure")),
                ("host.hostname", s("bastion")),
                (
                    "message",
                    s("Failed password for invalid user admin from 203.0.113.7 port 52211 ssh2")
                ),
                ("process.name", s("sshd")),
                ("process.pid", FieldValue::Int(812)),
                ("source.ip", s("203.0.113.7")),
                ("source.port", FieldValue::Int(52211)),
                ("sshd.auth_method", s("password")),
                ("sshd.invalid_user", FieldValue::Bool(true)),
                ("user.name", s("admin")),
            ]
        );
        assert_eq!(
            ev.observables,
            vec![
                Observable::new(ObservableKind::Host, "bastion", Some("host.hostname")),
                Observable::new(ObservableKind::User, "admin", Some("user.name")),
                Observable::new(ObservableKind::Ip, "203.0.113.7", Some("source.ip")),
            ]
        );
    }

    #[test]
    fn sshd_session_mapped_addresses_and_host_names() {
        let ev = event(
            "Mar 14 09:26:53 h sshd-session[1571]: Accepted publickey for bob from ::ffff:192.0.2.1 port 5 ssh2",
        );
        assert_eq!(ev.dataset, "sshd");
        assert_eq!(ev.get_str("event.outcome"), Some("success"));
        assert_eq!(ev.get_str("source.ip"), Some("192.0.2.1"));

        let ev = event(
            "Mar 14 09:26:53 h sshd[1]: Failed password for bob from Client.Example.COM port 5 ssh2",
        );
        assert_eq!(ev.get("source.ip"), None);
        assert_eq!(ev.get_str("source.domain"), Some("client.example.com"));
    }

    #[test]
    fn other_sshd_messages_keep_only_syslog_fields() {
        let ev = event("Mar 14 09:26:53 h sshd[1]: Server listening on :: port 22.");
        assert_eq!(ev.dataset, "sshd");
        let keys: Vec<&str> = ev.fields.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["host.hostname", "message", "process.name", "process.pid"]
        );
    }
}
