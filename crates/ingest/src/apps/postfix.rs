//! Postfix's smtpd and postscreen lines (program `postfix/smtpd`,
//! `postfix/submission/smtpd`, `postfix-in/postscreen`, …).
//!
//! # Whose address
//!
//! Postfix names a client `NAME[ADDR]` (`unknown` when the reverse lookup
//! did not confirm; NAME is a validated host name, never the client's own
//! text) or, in postscreen, `[ADDR]:PORT`, and always writes it *before*
//! anything the client sent (HELO names, addresses, SASL replies, pregreet
//! bytes). So the client is read at a fixed place after Postfix's own fixed
//! words, and only when ADDR parses as an IP address; the text after it is
//! never searched for addresses.

use riposte_model::Event;

use super::{FAILURE, Outcome, SUCCESS, UNKNOWN, set_user};

/// `postfix/…/DAEMON` or `postfix-INSTANCE/…/DAEMON`.
pub(crate) fn is_program(app: &str) -> bool {
    app.starts_with("postfix") && app.contains('/')
}

/// `NAME[ADDR][:PORT]` or `[ADDR]:PORT` at the start of a string.
#[derive(Debug, PartialEq, Eq)]
struct Client<'a> {
    name: Option<&'a str>,
    addr: &'a str,
    port: Option<u16>,
}

/// Reads a client at the start of `s`; returns it and the text after it.
fn client(s: &str) -> Option<(Client<'_>, &str)> {
    let open = s.find('[')?;
    let name = &s[..open];
    if !(name.is_empty() || super::is_addr_like(name)) {
        return None;
    }
    let inner = &s[open + 1..];
    let close = inner.find(']')?;
    let addr = &inner[..close];
    addr.parse::<std::net::IpAddr>().ok()?;
    let mut rest = &inner[close + 1..];
    let mut port = None;
    if let Some(after) = rest.strip_prefix(':')
        && let Some((n, tail)) = super::leading_number(after)
    {
        port = u16::try_from(n).ok();
        rest = tail;
    }
    let name = Some(name).filter(|n| !n.is_empty() && *n != "unknown");
    Some((Client { name, addr, port }, rest))
}

/// One recognised line.
#[derive(Debug, PartialEq, Eq)]
struct PostfixMessage<'a> {
    action: &'static str,
    category: &'static str,
    outcome: &'static str,
    client: Option<Client<'a>>,
    /// The SMTP command a reject or disconnect was about.
    command: Option<&'a str>,
    queue_id: Option<&'a str>,
    /// The SMTP reply or Postfix's reason.
    reason: Option<&'a str>,
    sasl_user: Option<&'a str>,
    sasl_method: Option<&'a str>,
}

impl<'a> PostfixMessage<'a> {
    fn new(action: &'static str, outcome: &'static str, client: Client<'a>) -> Self {
        PostfixMessage {
            action,
            category: "email",
            outcome,
            client: Some(client),
            command: None,
            queue_id: None,
            reason: None,
            sasl_user: None,
            sasl_method: None,
        }
    }
}

/// An SMTP command name as Postfix logs it (`RCPT`, `END-OF-MESSAGE`).
fn is_command(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b.is_ascii_digit())
}

/// A queue ID (`NOQUEUE`, `00ADB3C0899`, `44JCRG5tYPzCqt2`).
fn is_queue_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn parse<'a>(daemon: &str, message: &'a str) -> Option<PostfixMessage<'a>> {
    let m = message.trim_end();
    // `QUEUEID: ` before rejects (and a stray `NOQUEUE: lost connection`).
    let (queue_id, m) = match m.split_once(": ") {
        Some((id, rest)) if is_queue_id(id) && !id.eq_ignore_ascii_case("warning") => {
            (Some(id), rest)
        }
        _ => (None, m),
    };
    let mut msg = parse_body(m).or_else(|| {
        if daemon == "postscreen" {
            postscreen(m)
        } else {
            None
        }
    })?;
    msg.queue_id = queue_id.filter(|q| *q != "NOQUEUE");
    Some(msg)
}

fn parse_body(m: &str) -> Option<PostfixMessage<'_>> {
    if let Some(rest) = m.strip_prefix("connect from ") {
        let (c, tail) = client(rest)?;
        return tail
            .is_empty()
            .then(|| PostfixMessage::new("smtp_connect", UNKNOWN, c));
    }
    if let Some(rest) = m.strip_prefix("disconnect from ") {
        let (c, tail) = client(rest)?;
        return (tail.is_empty() || tail.starts_with(' '))
            .then(|| PostfixMessage::new("smtp_disconnect", UNKNOWN, c));
    }
    for (prefix, action, outcome) in [
        ("lost connection after ", "smtp_lost_connection", UNKNOWN),
        ("timeout after ", "smtp_timeout", UNKNOWN),
        ("too many errors after ", "smtp_too_many_errors", FAILURE),
        (
            "improper command pipelining after ",
            "smtp_improper_pipelining",
            FAILURE,
        ),
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            let (command, rest) = rest.split_once(" from ")?;
            if !is_command(command) {
                return None;
            }
            let (c, tail) = client(rest)?;
            if !(tail.is_empty() || tail.starts_with(':')) {
                return None;
            }
            let mut msg = PostfixMessage::new(action, outcome, c);
            msg.command = Some(command);
            return Some(msg);
        }
    }
    for (prefix, action, outcome) in [
        ("reject: ", "smtp_reject", FAILURE),
        ("milter-reject: ", "smtp_reject", FAILURE),
        ("reject_warning: ", "smtp_reject_warning", UNKNOWN),
        ("discard: ", "smtp_discard", FAILURE),
        ("hold: ", "smtp_hold", UNKNOWN),
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            // `CMD from CLIENT: REPLY; from=<…> to=<…> proto=… helo=<…>`
            let (command, rest) = rest.split_once(" from ")?;
            if !is_command(command) {
                return None;
            }
            let (c, tail) = client(rest)?;
            let reply = tail.strip_prefix(": ")?;
            let mut msg = PostfixMessage::new(action, outcome, c);
            msg.command = Some(command);
            msg.reason = Some(reply);
            return Some(msg);
        }
    }
    warning(m.strip_prefix("warning: ")?)
}

/// smtpd's `warning: …` lines that name a client.
fn warning(rest: &str) -> Option<PostfixMessage<'_>> {
    if let Some(after) = rest.strip_prefix("hostname ") {
        // `hostname NAME does not resolve to address ADDR[: reason]`; NAME
        // came from a PTR lookup and Postfix checked its syntax.
        let (name, after) = after.split_once(" does not resolve to address ")?;
        if !super::is_addr_like(name) {
            return None;
        }
        let end = after.find(": ").unwrap_or(after.len());
        let addr = &after[..end];
        addr.parse::<std::net::IpAddr>().ok()?;
        let c = Client {
            name: Some(name),
            addr,
            port: None,
        };
        return Some(PostfixMessage::new("smtp_reverse_dns_mismatch", UNKNOWN, c));
    }
    if let Some((head, after)) = rest.split_once(" limit exceeded: ") {
        // `Connection rate limit exceeded: 31 from NAME[ADDR] for service smtpd`
        if !head.bytes().all(|b| b.is_ascii_alphabetic() || b == b' ') {
            return None;
        }
        let (_, after) = super::leading_number(after)?;
        let (c, tail) = client(after.strip_prefix(" from ")?)?;
        tail.strip_prefix(" for service ")?;
        let mut msg = PostfixMessage::new("smtp_rate_limit", FAILURE, c);
        msg.reason = Some(head);
        return Some(msg);
    }
    if let Some(after) = rest.strip_prefix("non-SMTP command from ") {
        let (c, tail) = client(after)?;
        return (tail.is_empty() || tail.starts_with(": "))
            .then(|| PostfixMessage::new("smtp_non_smtp_command", FAILURE, c));
    }
    // `NAME[ADDR][:PORT]: SASL MECH authentication failed: REASON`
    let (c, tail) = client(rest)?;
    let sasl = tail.strip_prefix(": SASL ")?;
    let (method, result) = sasl.split_once(' ')?;
    let (action, outcome, reason) =
        if let Some(reason) = result.strip_prefix("authentication failed:") {
            ("smtp_sasl_auth_failure", FAILURE, reason.trim())
        } else if let Some(reason) = result.strip_prefix("authentication aborted") {
            ("smtp_sasl_auth_aborted", UNKNOWN, reason.trim())
        } else {
            return None;
        };
    // Newer Postfix appends `, sasl_username=NAME` (the client's text).
    let (reason, user) = match reason.split_once(", sasl_username=") {
        Some((reason, user)) => (reason, Some(user)),
        None => (reason, None),
    };
    let mut msg = PostfixMessage::new(action, outcome, c);
    msg.category = "authentication";
    msg.reason = Some(reason).filter(|r| !r.is_empty());
    msg.sasl_user = user;
    msg.sasl_method = Some(method);
    Some(msg)
}

/// postscreen's verdicts: `WORDS [from |for ][ADDR]:PORT…`, the words
/// postscreen's own (upper case, numbers, `after`/`from`/`for`).
fn postscreen(m: &str) -> Option<PostfixMessage<'_>> {
    let open = m.find('[')?;
    let words = m[..open].trim_end();
    let (verdict, rest) = words.split_once(' ').unwrap_or((words, ""));
    let (action, outcome) = match verdict {
        "CONNECT" => ("postscreen_connect", UNKNOWN),
        "PASS" => ("postscreen_pass", SUCCESS),
        "WHITELISTED" | "ALLOWLISTED" => ("postscreen_allowlisted", SUCCESS),
        "BLACKLISTED" | "DENYLISTED" => ("postscreen_denylisted", FAILURE),
        "PREGREET" => ("postscreen_pregreet", FAILURE),
        "HANGUP" => ("postscreen_hangup", UNKNOWN),
        "DISCONNECT" => ("postscreen_disconnect", UNKNOWN),
        "DNSBL" => ("postscreen_dnsbl", UNKNOWN),
        "COMMAND" | "NON-SMTP" | "BARE" => ("postscreen_protocol_violation", FAILURE),
        _ => return None,
    };
    // Every word before the client is postscreen's.
    if !rest.split(' ').all(|w| {
        w.is_empty()
            || w.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            || w.bytes().all(|b| b.is_ascii_uppercase() || b == b'-')
            || matches!(w, "after" | "from" | "for" | "rank")
    }) {
        return None;
    }
    let (c, _) = client(&m[open..])?;
    Some(PostfixMessage::new(action, outcome, c))
}

/// Decodes a Postfix line into `ev`; unrecognised lines keep only their
/// syslog fields.
pub(crate) fn apply(ev: &mut Event, app: &str, message: &str) {
    let daemon = app.rsplit('/').next().unwrap_or(app);
    ev.set("postfix.daemon", daemon);
    let Some(m) = parse(daemon, message) else {
        return;
    };
    Outcome {
        module: "postfix",
        category: m.category,
        action: m.action,
        outcome: m.outcome,
    }
    .set(ev);
    if let Some(c) = &m.client {
        ev.set("source.ip", canonical(c.addr));
        if let Some(port) = c.port {
            ev.set("source.port", port);
        }
        if let Some(name) = c.name {
            ev.set("source.domain", name.to_ascii_lowercase());
        }
    }
    if let Some(command) = m.command {
        ev.set("postfix.smtp_command", command);
    }
    if let Some(id) = m.queue_id {
        ev.set("postfix.queue_id", id);
    }
    if let Some(reason) = m.reason {
        ev.set("event.reason", reason);
    }
    if let Some(method) = m.sasl_method {
        ev.set("postfix.sasl_method", method);
    }
    set_user(ev, "user.name", m.sasl_user);
}

/// The canonical text of an address [`client`] already parsed.
fn canonical(addr: &str) -> String {
    addr.parse::<std::net::IpAddr>()
        .map(|ip| ip.to_canonical().to_string())
        .unwrap_or_else(|_| addr.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
