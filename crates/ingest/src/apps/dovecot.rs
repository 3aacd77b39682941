//! Dovecot's login processes (`imap-login: Disconnected (auth failed, 1
//! attempts in 2 secs): user=<x>, method=PLAIN, rip=1.2.3.4, lip=…`), its
//! auth processes (`auth-worker(123): pam(user,1.2.3.4): unknown user`,
//! `passwd-file(user,1.2.3.4,<session>): Password mismatch`, 2.4's
//! `auth(user,1.2.3.4,sasl:login)<session>: sql: Password mismatch`), and
//! PAM's lines for the `dovecot` service.
//!
//! # Whose address
//!
//! * Login processes write `user=<U>, method=M, rip=R, lip=L, …`. U is the
//!   client's text and can imitate `>, method=PLAIN, rip=6.6.6.6`; what
//!   follows `rip=` (the local address, `mpid`, the TLS state, the session
//!   ID) is Dovecot's and OpenSSL's. So the **last** `rip=` is Dovecot's,
//!   and U is whatever lies between `user=<` and the `>, method=M, ` before
//!   it.
//! * Auth processes write `DRIVER(U,R[,<SESSION>]): MESSAGE`, U first and
//!   MESSAGE possibly quoting the client (`given password: …` with
//!   `auth_verbose_passwords`), so neither end is safe: every `,ADDR)`/
//!   `,ADDR,<…>)` followed by `: ` is a candidate and **only a line with
//!   exactly one** names an address.
//!
//! A login line with `(auth failed, N attempts …)` carries
//! `event.outcome: failure` and `dovecot.auth_attempts: N`; the auth
//! process's lines for the same attempts (only with `auth_verbose`) are
//! failures too, with their own `event.action`, so count one action.

use std::net::IpAddr;

use riposte_model::Event;

use super::{FAILURE, Outcome, SUCCESS, UNKNOWN, set_source, set_user};

/// Login-process protocols (`imap-login`, …).
const LOGIN_PROTOCOLS: [&str; 5] = ["imap", "pop3", "managesieve", "submission", "lmtp"];

/// Passdb and userdb drivers that prefix auth-process lines.
const DRIVERS: [&str; 14] = [
    "pam",
    "passwd-file",
    "passwd",
    "shadow",
    "sql",
    "ldap",
    "checkpassword",
    "bsdauth",
    "static",
    "lua",
    "oauth2",
    "vpopmail",
    "dict",
    "imap",
];

/// Dovecot's syslog program names: `dovecot`, `dovecot-auth`,
/// `imap-login` and kin, `auth-worker(N)`, and 2.4's
/// `auth(USER,ADDR,…)<SESSION>`. Plain `auth` is left to
/// [`apply_auth_process`], as other daemons use that name too.
pub(crate) fn is_program(app: &str) -> bool {
    matches!(app, "dovecot" | "dovecot-auth")
        || login_protocol(app).is_some()
        || app == "auth-worker"
        || app.starts_with("auth-worker(")
        || app.starts_with("auth(")
}

/// `imap-login` → `imap`.
fn login_protocol(process: &str) -> Option<&'static str> {
    let proto = process.strip_suffix("-login")?;
    LOGIN_PROTOCOLS.iter().copied().find(|p| *p == proto)
}

/// Splits `dovecot: PROCESS: …` and strips the log level, giving the
/// process and the message proper.
fn split_process<'a>(app: &'a str, message: &'a str) -> (&'a str, &'a str) {
    let mut m = message.trim();
    let mut process = app;
    if matches!(app, "dovecot" | "dovecot-auth") {
        if let Some(rest) = m.strip_prefix("dovecot: ") {
            m = rest;
        }
        if let Some((head, rest)) = m.split_once(": ") {
            let name = head.split(['(', '<']).next().unwrap_or(head);
            if login_protocol(name).is_some() || matches!(name, "auth" | "auth-worker") {
                process = head;
                m = rest;
            }
        }
    }
    (process, strip_level(m))
}

/// Drops Dovecot's `Info: `-style level prefix.
fn strip_level(m: &str) -> &str {
    [
        "Info: ",
        "Error: ",
        "Warning: ",
        "Debug: ",
        "Fatal: ",
        "Panic: ",
    ]
    .iter()
    .find_map(|level| m.strip_prefix(level))
    .unwrap_or(m)
}

/// Decodes a line of a Dovecot program into `ev`; unrecognised lines keep
/// their syslog fields only.
pub(crate) fn apply(ev: &mut Event, app: &str, message: &str) {
    let (process, body) = split_process(app, message);
    if let Some(proto) = login_protocol(process) {
        login(ev, proto, body);
    } else if !apply_auth_process(ev, process, body) && super::pam::apply(ev, body) {
        ev.set("event.module", "dovecot");
    }
}

/// A login process's line (see the module documentation).
fn login(ev: &mut Event, proto: &str, body: &str) {
    let Some(rip_at) = last_rip(body) else {
        return;
    };
    // Dovecot's reason comes before the first `key=value`.
    let kv_start = [": user=<", ": method=", ": rip="]
        .iter()
        .filter_map(|k| body.find(k))
        .min()
        .unwrap_or(rip_at);
    let reason = &body[..kv_start];
    let (action, outcome, attempts) = classify_login(reason);
    let action = match (proto, action) {
        ("imap", a) => a.imap,
        ("pop3", a) => a.pop3,
        (_, a) => a.other,
    };
    Outcome {
        module: "dovecot",
        category: "authentication",
        action,
        outcome,
    }
    .set(ev);
    ev.set("dovecot.protocol", proto);
    if let Some(n) = attempts {
        ev.set("dovecot.auth_attempts", n);
    }
    if let Some(user) = login_user(body, kv_start, rip_at) {
        set_user(ev, "user.name", Some(user));
    }
    let rip = &body[rip_at..];
    let rip = &rip[..rip.find(',').unwrap_or(rip.len())];
    set_source(ev, rip);
}

/// Start of the value of the last `rip=` that follows `, ` or `: `, whose
/// value parses as an address and ends the line or a `, ` field.
fn last_rip(body: &str) -> Option<usize> {
    let at = body.rfind("rip=")?;
    let start = at + 4;
    let prefix = &body[..at];
    if !(prefix.ends_with(", ") || prefix.ends_with(": ")) {
        return None;
    }
    let rest = &body[start..];
    let end = rest.find(',').unwrap_or(rest.len());
    rest[..end].parse::<IpAddr>().ok()?;
    (end == rest.len() || rest[end..].starts_with(", ")).then_some(start)
}

/// U of `user=<U>, [method=M, ]rip=` before the chosen `rip=`.
fn login_user(body: &str, kv_start: usize, rip_at: usize) -> Option<&str> {
    let head = body.get(kv_start..rip_at)?.strip_prefix(": user=<")?;
    let head = head.strip_suffix(", rip=")?;
    let head = match head.rsplit_once(", method=") {
        Some((before, method)) if !method.is_empty() && !method.contains([' ', ',', '>']) => before,
        _ => head,
    };
    head.strip_suffix('>').filter(|u| !u.is_empty())
}

/// Actions by protocol: `imap_auth_failure`, `pop3_…`, `mail_…` (other).
#[derive(Clone, Copy)]
struct Actions {
    imap: &'static str,
    pop3: &'static str,
    other: &'static str,
}

const AUTH_FAILURE: Actions = Actions {
    imap: "imap_auth_failure",
    pop3: "pop3_auth_failure",
    other: "mail_auth_failure",
};
const AUTH_REFUSED: Actions = Actions {
    imap: "imap_auth_refused",
    pop3: "pop3_auth_refused",
    other: "mail_auth_refused",
};
const LOGIN: Actions = Actions {
    imap: "imap_login",
    pop3: "pop3_login",
    other: "mail_login",
};
const NO_AUTH: Actions = Actions {
    imap: "imap_no_auth_attempts",
    pop3: "pop3_no_auth_attempts",
    other: "mail_no_auth_attempts",
};
const DISCONNECTED: Actions = Actions {
    imap: "imap_disconnected",
    pop3: "pop3_disconnected",
    other: "mail_disconnected",
};

fn classify_login(reason: &str) -> (Actions, &'static str, Option<i64>) {
    if reason == "Login" {
        return (LOGIN, SUCCESS, None);
    }
    if let Some((_, after)) = reason.split_once("(auth failed, ") {
        let attempts = super::leading_number(after).map(|(n, _)| n);
        return (AUTH_FAILURE, FAILURE, attempts);
    }
    if reason.contains("(proxy dest auth failed)") {
        return (AUTH_FAILURE, FAILURE, None);
    }
    if reason.contains("(tried to use disabled ") || reason.contains("(tried to use disallowed ") {
        return (AUTH_REFUSED, FAILURE, None);
    }
    if reason.contains("(no auth attempts") {
        return (NO_AUTH, UNKNOWN, None);
    }
    (DISCONNECTED, UNKNOWN, None)
}

/// One `DRIVER(U,R…)` reading.
struct AuthRequest<'a> {
    /// The passdb or userdb (`pam`, `sql`, …).
    passdb: &'a str,
    user: Option<&'a str>,
    addr: Option<&'a str>,
    /// Dovecot's text after the request, the level and 2.4's `DRIVER: `.
    reason: &'a str,
}

/// An auth process's `DRIVER(USER,ADDR[,…]): MESSAGE` line; false when
/// `body` is not one. `process` is the syslog program, which for 2.4 is
/// itself `auth(USER,ADDR,…)<SESSION>`.
pub(crate) fn apply_auth_process(ev: &mut Event, process: &str, body: &str) -> bool {
    let joined;
    let text = if process.starts_with("auth(") && process.contains(',') {
        joined = format!("{process}: {body}");
        joined.as_str()
    } else {
        // `conn unix:auth-worker (uid=143): auth-worker<13247>: sql(…)…`
        let mut t = strip_level(body);
        if t.starts_with("conn ")
            && let Some((_, rest)) = t.split_once("): ")
        {
            t = rest;
            if t.starts_with("auth-worker<")
                && let Some((_, rest)) = t.split_once(">: ")
            {
                t = rest;
            }
        }
        t
    };
    let Some(req) = auth_request(text) else {
        return false;
    };
    let lower = req.reason.to_ascii_lowercase();
    let (action, outcome) = if lower.starts_with("unknown user") {
        ("dovecot_unknown_user", FAILURE)
    } else if lower.starts_with("password mismatch")
        || lower.starts_with("pam_authenticate() failed")
        || lower.starts_with("invalid credentials")
        || lower.starts_with("authentication failure")
    {
        ("dovecot_auth_failure", FAILURE)
    } else {
        return false;
    };
    Outcome {
        module: "dovecot",
        category: "authentication",
        action,
        outcome,
    }
    .set(ev);
    ev.set("dovecot.passdb", req.passdb);
    ev.set("event.reason", req.reason);
    set_user(ev, "user.name", req.user);
    if let Some(addr) = req.addr {
        set_source(ev, addr);
    }
    true
}

/// Reads `DRIVER(U,R[,master][,<S>])[<S>]: MESSAGE`.
///
/// Every `,ADDR` closed the way Dovecot closes a request is a candidate.
/// It counts only if neither the text before it (U) nor MESSAGE after it
/// holds a request close (`)` or `)<S>` then `: `): Dovecot's own messages
/// never do, and an imitation always has the real close on one side, in
/// the MESSAGE after it when it is inside U (also when the real request
/// has no address, as for local LMTP deliveries whose user the sender
/// chose), before it when it is inside a logged password. One counting
/// candidate names the address; otherwise none is named, and the line is
/// read for its action after the request's first close.
fn auth_request(text: &str) -> Option<AuthRequest<'_>> {
    let open = text.find('(')?;
    let driver = &text[..open];
    if !(DRIVERS.contains(&driver) || driver == "auth") {
        return None;
    }
    let args = &text[open + 1..];
    let commas: Vec<usize> = args
        .match_indices(',')
        .take(MAX_COMMAS + 1)
        .map(|(i, _)| i)
        .collect();
    // More commas than a request and Dovecot's message hold: no reading.
    let candidates: Vec<(usize, &str, &str)> = if commas.len() > MAX_COMMAS {
        Vec::new()
    } else {
        commas
            .into_iter()
            .filter_map(|i| request_end(args, i).map(|(addr, rest)| (i, addr, rest)))
            .collect()
    };
    let mut counting = candidates
        .iter()
        .filter(|(i, _, rest)| !has_close(&args[..*i]) && !has_close(rest));
    let (user, addr, rest) = match (counting.next(), counting.next()) {
        (Some(&(user_end, addr, rest)), None) => (Some(&args[..user_end]), Some(addr), rest),
        _ => {
            let rest = match candidates.first() {
                Some(&(_, _, rest)) => rest,
                None => args.split_once("): ")?.1,
            };
            (None, None, rest)
        }
    };
    let (passdb, reason) = reason_text(driver, rest);
    Some(AuthRequest {
        passdb,
        user,
        addr,
        reason,
    })
}

/// Whether `s` holds `)` or `)<…>` followed by `: `, the way a request
/// prefix ends.
fn has_close(s: &str) -> bool {
    s.match_indices(')').any(|(i, _)| {
        let after = &s[i + 1..];
        if after.starts_with(": ") {
            return true;
        }
        // Session IDs are short; a bounded look keeps hostile lines linear.
        after.strip_prefix('<').is_some_and(|r| {
            r.bytes()
                .take(MAX_SESSION_ID)
                .position(|b| b == b'>')
                .is_some_and(|close| r[close + 1..].starts_with(": "))
        })
    })
}

/// The longest session ID `<…>` looked for.
const MAX_SESSION_ID: usize = 64;

/// A bound on how far a hostile line is scanned (user names are cut to
/// 64 characters by Dovecot).
const MAX_COMMAS: usize = 64;

/// At a `,` in ARGS: `ADDR`, then `)` or `,` and Dovecot's extra fields
/// (`master`, `<SESSION>`, 2.4's `sasl:MECH`, or empty) and `)`, then an
/// optional `<SESSION>` and `: `. Returns the address and the text after
/// `: `.
fn request_end(args: &str, comma: usize) -> Option<(&str, &str)> {
    let after = &args[comma + 1..];
    let end = after.find([',', ')'])?;
    let addr = &after[..end];
    addr.parse::<IpAddr>().ok()?;
    let mut rest = &after[end..];
    if let Some(r) = rest.strip_prefix(',') {
        let close = r.find(')')?;
        let extras_ok = r[..close].split(',').all(|extra| {
            extra.is_empty()
                || extra == "master"
                || (extra.len() >= 2
                    && extra.starts_with('<')
                    && extra.ends_with('>')
                    && !extra[1..extra.len() - 1].contains(['<', '>', ' ']))
                || (extra.contains(':') && !extra.contains([' ', '(', ')', '<', '>']))
        });
        if !extras_ok {
            return None;
        }
        rest = &r[close..];
    }
    let mut rest = rest.strip_prefix(')')?;
    if rest.starts_with('<') {
        let close = rest.find('>')?;
        rest = &rest[close + 1..];
    }
    Some((addr, rest.strip_prefix(": ")?))
}

/// The passdb and the message after a request: level and, for 2.4's
/// `auth(…)`, the `DRIVER: ` stripped.
fn reason_text<'a>(driver: &'a str, rest: &'a str) -> (&'a str, &'a str) {
    let r = strip_level(rest);
    if driver == "auth"
        && let Some((d, x)) = r.split_once(": ")
        && DRIVERS.contains(&d)
    {
        return (d, x);
    }
    (driver, r)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
