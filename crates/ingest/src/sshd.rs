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
//! # Whose address
//!
//! The username is chosen by the client and sshd writes it *before* the
//! address, so it can imitate the rest of the line: with the username
//! `x from 6.6.6.6 port 1 ssh2:` sshd logs
//! `Failed password for invalid user x from 6.6.6.6 port 1 ssh2: from
//! 203.0.113.7 port 4242 ssh2`. Blaming 6.6.6.6 would let the client get any
//! address it likes banned, so the address is never taken from the first
//! ` from ` but anchored on what sshd writes *after* it, which the client
//! does not control:
//!
//! * each ` from ADDR[ port N]` in the line is a candidate, and a candidate
//!   counts only if the text after it is exactly one of sshd's own suffixes
//!   for that message (` ssh2`, ` ssh1`, ` [preauth]`, ` via HOST`, and for
//!   `publickey`/`hostbased`/`gssapi-*` logins the `: KEYTYPE FINGERPRINT…`
//!   auth info; a password, keyboard-interactive or none login never has
//!   one). Everything between `for [invalid user ]` and the chosen ` from `
//!   is the username, whatever it contains.
//! * Where the client's text can also follow the address (a certificate's
//!   key ID, hostbased's client user and host, SSH-1's `ruser`) the rules
//!   below make sure that an imitation there cannot be the only candidate
//!   that counts.
//! * **When the line is ambiguous — no candidate counts, or more than one —
//!   the event is still decoded but carries no address, user or port.** A
//!   missed address only loses one failure from a count; a wrong one bans
//!   an innocent host.
//!
//! `Connection closed by authenticating user USER ADDR port N` and its kin
//! are anchored on the end of the line; `Disconnecting … ADDR port N:
//! REASON`, whose reason can quote the client, needs sshd's ` port N:` to
//! occur exactly once. PAM's `rhost=` is read only before the `user=` that
//! pam_unix writes last.

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
        // `Invalid user USER from ADDR port N`: nothing after the port.
        let c = from_clause(rest, After::Nothing)?;
        return Some(SshdMessage {
            action: "ssh_invalid_user",
            outcome: FAILURE,
            user: c.user,
            addr: c.addr,
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
            let mut msg = SshdMessage {
                action,
                outcome: UNKNOWN,
                user: (action == "ssh_root_login_refused").then_some("root"),
                ..SshdMessage::default()
            };
            if let Some((invalid, body)) = split_preamble(rest) {
                // `… from authenticating user USER ADDR port N: REASON`
                // once the client has named a user.
                msg.invalid_user = invalid;
                if let Some(id) = id_before_reason(body) {
                    (msg.user, msg.addr, msg.port) = (Some(id.user), Some(id.addr), id.port);
                }
            } else {
                // Nothing of the client's comes before the address here.
                let (addr, port, _) = addr_port(rest)?;
                (msg.addr, msg.port) = (Some(addr), port);
            }
            return Some(msg);
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
            let c = from_clause(body, After::Via)?;
            return Some(SshdMessage {
                action: "ssh_pam_auth_failure",
                outcome: UNKNOWN,
                user: c.user,
                addr: c.addr,
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
        let c = from_clause(body, After::Protocol)?;
        return Some(SshdMessage {
            action: "ssh_max_auth_attempts",
            outcome: UNKNOWN,
            user: c.user,
            addr: c.addr,
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

/// `METHOD for [invalid user ]USER from ADDR port N ssh2[: INFO]`.
fn login<'a>(rest: &'a str, outcome: &'static str) -> Option<SshdMessage<'a>> {
    let (method, rest) = rest.split_once(" for ")?;
    if method.is_empty() || method.contains(' ') {
        return None;
    }
    let (mut invalid, body) = match rest.strip_prefix("invalid user ") {
        Some(body) => (true, body),
        None => (false, rest),
    };
    let c = from_clause(body, After::Login { method })?;
    // Solaris logs this placeholder instead of a name it will not repeat.
    let user = if c.user == Some("<invalid username>") {
        invalid = true;
        None
    } else {
        c.user
    };
    Some(SshdMessage {
        action: "ssh_login",
        outcome,
        user,
        addr: c.addr,
        port: c.port,
        method: Some(method),
        invalid_user: Some(invalid),
    })
}

/// The parts of `USER from ADDR [port N][SUFFIX]`; all `None` when the
/// line is ambiguous (see [`from_clause`]).
#[derive(Debug, Default, PartialEq, Eq)]
struct FromClause<'a> {
    user: Option<&'a str>,
    addr: Option<&'a str>,
    port: Option<u16>,
}

/// What sshd itself writes after its ` from ADDR[ port N]`, by message.
#[derive(Debug, Clone, Copy)]
enum After<'m> {
    /// Nothing: `Invalid user USER from ADDR port N`.
    Nothing,
    /// At most ` ssh2`/` ssh1`: `maximum authentication attempts exceeded`.
    Protocol,
    /// At most ` via HOST`: PAM's `Authentication failure for USER from ADDR`.
    Via,
    /// `auth_log()`: ` ssh2`, then `: INFO` for the methods that have one.
    Login { method: &'m str },
}

impl After<'_> {
    /// Whether `tail`, the text after a candidate's address and port, is
    /// something sshd writes there. `sole` says that the line has no other
    /// ` from ADDR` at all.
    fn accepts(self, tail: &str, sole: bool) -> bool {
        match self {
            After::Nothing => tail.is_empty(),
            After::Protocol => matches!(tail, "" | " ssh1" | " ssh2"),
            After::Via => tail.is_empty() || tail.strip_prefix(" via ").is_some_and(is_addr_like),
            After::Login { method } => match tail.strip_prefix(" ssh2") {
                Some("") => true,
                Some(rest) => rest
                    .strip_prefix(": ")
                    .is_some_and(|info| auth_info_ok(method, info)),
                // SSH-1 and pre-port OpenSSH: an SSH-1 login could end with
                // `: ruser NAME` (or ` ruser NAME`), NAME the client's, so
                // such lines are trusted only without a second ` from `.
                None => sole && matches!(tail, "" | " ssh1"),
            },
        }
    }
}

/// Finds the ` from ADDR` sshd wrote in `body` (`USER from ADDR …`, USER
/// chosen by the client): the only candidate whose tail `after` accepts.
///
/// `None` when `body` has no ` from ADDR` at all (not this message). When
/// no candidate or more than one is acceptable the line is ambiguous and
/// the result is empty: **we would rather not name an address than name one
/// the client may have chosen**. In a login line, where the client's text
/// may follow the address, a candidate without a port (which only old sshd
/// versions write) does not count when another one has a port.
///
/// More than [`MAX_CANDIDATES`] are ambiguous too: sshd cuts the username
/// to 100 bytes, which leaves room for fewer imitations, and the bound
/// keeps the work linear on a hostile megabyte-long line.
fn from_clause<'a>(body: &'a str, after: After<'_>) -> Option<FromClause<'a>> {
    let candidates: Vec<Candidate<'a>> = candidates(body).take(MAX_CANDIDATES + 1).collect();
    let sole = match candidates.len() {
        0 => return None,
        n if n > MAX_CANDIDATES => return Some(FromClause::default()),
        n => n == 1,
    };
    let need_port =
        matches!(after, After::Login { .. }) && candidates.iter().any(|c| c.port.is_some());
    let mut valid = candidates
        .iter()
        .filter(|c| (c.port.is_some() || !need_port) && after.accepts(c.tail, sole));
    Some(match (valid.next(), valid.next()) {
        (Some(c), None) => FromClause {
            user: Some(c.user),
            addr: Some(c.addr),
            port: c.port,
        },
        _ => FromClause::default(),
    })
}

/// How many ` from ADDR` a line may hold before [`from_clause`] gives up.
const MAX_CANDIDATES: usize = 16;

/// One reading of `USER from ADDR[ port N]TAIL`.
#[derive(Debug)]
struct Candidate<'a> {
    user: &'a str,
    addr: &'a str,
    port: Option<u16>,
    tail: &'a str,
}

/// Every `from ` at the start of `body` or after a space that is followed
/// by something address-like.
fn candidates(body: &str) -> impl Iterator<Item = Candidate<'_>> {
    body.match_indices("from ").filter_map(|(at, _)| {
        let user = match at {
            0 => "",
            _ if body.as_bytes()[at - 1] == b' ' => &body[..at - 1],
            _ => return None,
        };
        let (addr, port, tail) = addr_port(&body[at + 5..])?;
        Some(Candidate {
            user,
            addr,
            port,
            tail,
        })
    })
}

/// The auth info OpenSSH's `auth_log()` appends after `ssh2: `, by method.
/// Password, keyboard-interactive and none logins have none.
fn auth_info_ok(method: &str, info: &str) -> bool {
    match method {
        // `KEY[, signature count = N]` (the count for FIDO keys).
        "publickey" => key_then(info, |rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(", signature count = ")
                    .is_some_and(all_digits)
        }),
        // `KEY, client user "CUSER", client host "CHOST"`, both the client's.
        "hostbased" => key_then(info, |rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(", client user \"")
                    .is_some_and(|r| r.ends_with('"') && r.contains("\", client host \""))
        }),
        // The GSSAPI display name, e.g. a Kerberos principal: one word,
        // so it cannot hold a ` from ADDR port N`.
        "gssapi-with-mic" | "gssapi-keyex" | "gssapi" => {
            !info.is_empty() && !info.contains(char::is_whitespace)
        }
        _ => false,
    }
}

/// `KEY` followed by a `rest` that `rest_ok` accepts. KEY is `TYPE FP`, or
/// for certificates `TYPE-CERT [FP ]ID KEYID (serial N) CA TYPE FP`, KEYID
/// being the client's free text: every split of it is tried, since an
/// imitation inside it makes the real candidate acceptable too, which
/// [`from_clause`] then reports as ambiguous.
fn key_then(info: &str, rest_ok: impl Fn(&str) -> bool) -> bool {
    let Some((key_type, after)) = info.split_once(' ') else {
        return false;
    };
    if !is_key_type(key_type) {
        return false;
    }
    if !key_type.ends_with("-CERT") {
        let end = after.find([' ', ',']).unwrap_or(after.len());
        return is_fingerprint(&after[..end]) && rest_ok(&after[end..]);
    }
    let ids = match after.split_once(' ') {
        Some((fp, id)) if is_fingerprint(fp) && id.starts_with("ID ") => id,
        _ => after,
    };
    let Some(ids) = ids.strip_prefix("ID ") else {
        return false;
    };
    ids.match_indices(" (serial ").any(|(i, m)| {
        let r = &ids[i + m.len()..];
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        let Some(r) = r[digits..].strip_prefix(") CA ") else {
            return false;
        };
        digits > 0
            && r.split_once(' ').is_some_and(|(ca_type, r)| {
                let end = r.find([' ', ',']).unwrap_or(r.len());
                is_key_type(ca_type) && is_fingerprint(&r[..end]) && rest_ok(&r[end..])
            })
    })
}

/// `RSA`, `ED25519-CERT`, `ECDSA-SK`, … as `sshkey_type()` names them.
fn is_key_type(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// `SHA256:…`, `MD5:…` or a bare hex fingerprint: one word without the
/// quotes, parentheses and commas of the text around it.
fn is_fingerprint(s: &str) -> bool {
    !s.is_empty()
        && !s
            .bytes()
            .any(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'(' | b')' | b','))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
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

/// sshd names a connection `ADDR port N`, and once the client has sent a
/// username `authenticating user USER ADDR port N` (`invalid user` for an
/// unknown account, `user` after authentication). Splits off that preamble:
/// whether the user is invalid, and the `USER ADDR port N…` after it.
fn split_preamble(s: &str) -> Option<(Option<bool>, &str)> {
    [
        ("authenticating user ", Some(false)),
        ("invalid user ", Some(true)),
        ("user ", None),
    ]
    .into_iter()
    .find_map(|(prefix, invalid)| s.strip_prefix(prefix).map(|body| (invalid, body)))
}

/// `USER ADDR[ port N]` after a preamble.
#[derive(Debug, PartialEq, Eq)]
struct ConnectionId<'a> {
    user: &'a str,
    addr: &'a str,
    port: Option<u16>,
}

/// Splits `USER ADDR` at its last space: USER may contain spaces, ADDR not.
fn user_addr(head: &str, port: Option<u16>) -> Option<ConnectionId<'_>> {
    let (user, addr) = head.rsplit_once(' ').unwrap_or(("", head));
    is_addr_like(addr).then_some(ConnectionId { user, addr, port })
}

/// `USER ADDR[ port N]` ending the message (`Connection closed by …`):
/// only the username is the client's, so the last ` port N` and the word
/// before it are sshd's.
fn id_at_end(body: &str) -> Option<ConnectionId<'_>> {
    if let Some((head, port)) = body.rsplit_once(" port ")
        && all_digits(port)
    {
        return user_addr(head, Some(port.parse().ok()?));
    }
    user_addr(body, None)
}

/// `USER ADDR port N: REASON`, where both USER and REASON can carry the
/// client's text (`Change of username or service not allowed: (a,b) ->
/// (c,d)` quotes it; sshd also truncates the reason). Only when ` port N:`
/// occurs exactly once is it certainly sshd's; otherwise `None`.
fn id_before_reason(body: &str) -> Option<ConnectionId<'_>> {
    let mut found = body.match_indices(" port ").filter_map(|(i, m)| {
        let rest = &body[i + m.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0 && rest.as_bytes().get(digits) == Some(&b':'))
            .then(|| (&body[..i], &rest[..digits]))
    });
    match (found.next(), found.next()) {
        (Some((head, port)), None) => user_addr(head, Some(port.parse().ok()?)),
        _ => None,
    }
}

/// `[authenticating user |invalid user |user ]USER ADDR[ port N]`, after
/// `Connection closed by` and its kin, and `… ADDR port N: REASON` after
/// `Disconnecting`.
fn closed<'a>(rest: &'a str, action: &'static str) -> Option<SshdMessage<'a>> {
    let msg = SshdMessage {
        action,
        outcome: UNKNOWN,
        ..SshdMessage::default()
    };
    let Some((invalid, body)) = split_preamble(rest) else {
        // No username yet: the message starts with sshd's address.
        let (addr, port, tail) = addr_port(rest)?;
        if !(tail.is_empty() || tail.starts_with(':')) {
            return None;
        }
        return Some(SshdMessage {
            addr: Some(addr),
            port,
            ..msg
        });
    };
    let id = if action == "ssh_disconnecting" {
        id_before_reason(body)
    } else {
        id_at_end(body)
    };
    Some(SshdMessage {
        user: id.as_ref().map(|id| id.user),
        addr: id.as_ref().map(|id| id.addr),
        port: id.and_then(|id| id.port),
        invalid_user: invalid,
        ..msg
    })
}

/// `USER [from ADDR ]not allowed because …` (AllowUsers, DenyGroups, a
/// locked account). USER is an existing account's name and the reason is
/// sshd's, so the last ` from ` before the last ` not allowed because ` is
/// sshd's.
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
///
/// pam_unix writes `user=` last, and its value is the username the client
/// sent, spaces and all (`user=test rhost=192.0.2.152`). So the user is
/// everything after the first ` user=`, and `rhost=` is read only before
/// it; two `rhost=` there are ambiguous and give no address.
fn pam_failure(m: &str) -> Option<SshdMessage<'_>> {
    let (module, rest) = m.split_once("(sshd:auth): ")?;
    if module.contains(' ') {
        return None;
    }
    let kv = rest.strip_prefix("authentication failure;")?;
    let (fields, user) = match kv.split_once(" user=") {
        Some((fields, user)) => (fields, Some(user)),
        None => (kv, None),
    };
    let mut rhosts = fields.split(' ').filter_map(|f| f.strip_prefix("rhost="));
    let addr = match (rhosts.next(), rhosts.next()) {
        (Some(host), None) if is_addr_like(host) => Some(host),
        _ => None,
    };
    Some(SshdMessage {
        action: "ssh_pam_auth_failure",
        outcome: UNKNOWN,
        user: user.filter(|u| !u.is_empty()),
        addr,
        ..SshdMessage::default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
