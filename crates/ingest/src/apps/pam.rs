//! PAM modules' messages, from whatever program loaded them, and su's own.
//!
//! `pam_unix(SERVICE:TYPE): authentication failure; logname=L uid=N euid=N
//! tty=T ruser=RU rhost=RH[ user=U]` (also `pam_sss`, `pam_ldap`, …, the
//! pre-0.99 `(pam_unix) …` and `pam_unix: …`), `check pass; user unknown`,
//! `PAM N more authentication failures; …`, and
//! `session opened/closed for user …`.
//!
//! # Whose address
//!
//! pam_unix writes `ruser=RU rhost=RH` and then ` user=U` last. RH is the
//! address the application passed as `PAM_RHOST`; RU and U are names the
//! application passed, and FTP and mail servers pass the name the client
//! typed, spaces and all (`ruser=test rhost=192.0.2.151 rhost=192.0.2.1`
//! is a client named `test rhost=192.0.2.151`). So the address is taken
//! from a *reading* of the line: each ` rhost=` after `ruser=` could be
//! pam_unix's, and a reading counts only if what follows its one-word value
//! is exactly what pam_unix writes there, the end of the line or
//! ` user=`/`  user=` and anything. One reading → its address. Several →
//! the one whose RU is empty (sshd, su, sudo, login set no `PAM_RUSER`) or
//! equal to its U (the FTP and mail servers copy the user name into both),
//! if exactly one reading is so; otherwise **no address**: the client can
//! make a second reading acceptable, but not make the real one
//! unacceptable.

use riposte_model::Event;

use super::{FAILURE, Outcome, SUCCESS, UNKNOWN, set_source, set_user};

/// What a PAM message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    AuthFailure,
    /// `PAM N more authentication failures`: a summary of failures already
    /// logged one by one.
    MoreFailures,
    UserUnknown,
    SessionOpened,
    SessionClosed,
}

/// One PAM message, borrowing from the line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PamMessage<'a> {
    pub module: &'a str,
    pub service: Option<&'a str>,
    pub kind: Kind,
    /// The account: `user=` (else `ruser=`) of a failure, the session's
    /// owner, or for a session opened by someone else (`su`) that someone.
    pub user: Option<&'a str>,
    /// The account a session was opened for, when someone else opened it.
    pub target: Option<&'a str>,
    /// `rhost=`: an address or a host name; `None` when empty or ambiguous.
    pub addr: Option<&'a str>,
    pub tty: Option<&'a str>,
}

/// Parses a PAM message; `None` when it is not one.
pub(crate) fn parse(message: &str) -> Option<PamMessage<'_>> {
    let m = message.trim();
    let (module, service, rest) = if let Some(rest) = m.strip_prefix("(pam_unix) ") {
        ("pam_unix", None, rest)
    } else if let Some(rest) = m.strip_prefix("PAM ") {
        // `PAM 2 more authentication failures; …`, pam_unix's summary.
        let (_, after) = super::leading_number(rest)?;
        let kv = after
            .strip_prefix(" more authentication failures;")
            .or_else(|| after.strip_prefix(" more authentication failure;"))?;
        let mut msg = auth_failure(kv);
        msg.kind = Kind::MoreFailures;
        return Some(msg);
    } else {
        let head_end = m.find([' ', ':', '('])?;
        let module = &m[..head_end];
        if !is_module(module) {
            return None;
        }
        let after = &m[head_end..];
        if let Some(inner) = after.strip_prefix('(') {
            let (inside, rest) = inner.split_once("): ")?;
            if inside.contains([' ', '(', ')']) {
                return None;
            }
            let service = inside.split_once(':').map(|(s, _)| s);
            (module, service.filter(|s| !s.is_empty()), rest)
        } else {
            (module, None, after.strip_prefix(": ")?)
        }
    };
    let mut msg = if let Some(kv) = rest.strip_prefix("authentication failure;") {
        auth_failure(kv)
    } else if rest == "check pass; user unknown" {
        PamMessage {
            kind: Kind::UserUnknown,
            ..empty()
        }
    } else if let Some(who) = rest.strip_prefix("session opened for user ") {
        session_opened(who)?
    } else if let Some(who) = rest.strip_prefix("session closed for user ") {
        PamMessage {
            kind: Kind::SessionClosed,
            user: Some(strip_uid(who.trim())).filter(|u| !u.is_empty()),
            ..empty()
        }
    } else {
        return None;
    };
    msg.module = module;
    msg.service = service;
    Some(msg)
}

fn empty() -> PamMessage<'static> {
    PamMessage {
        module: "pam_unix",
        service: None,
        kind: Kind::AuthFailure,
        user: None,
        target: None,
        addr: None,
        tty: None,
    }
}

/// `pam_unix`, `pam_sss`, `pam_ldap`, …
fn is_module(s: &str) -> bool {
    s.strip_prefix("pam_").is_some_and(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// `USER(uid=N)` → `USER`.
fn strip_uid(s: &str) -> &str {
    match s.strip_suffix(')').and_then(|r| r.rsplit_once("(uid=")) {
        Some((name, uid)) if uid.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => s,
    }
}

/// `TARGET[(uid=N)] by [LOGNAME](uid=N)`: the owner, and who opened it when
/// that is someone else (su, sudo).
fn session_opened(who: &str) -> Option<PamMessage<'_>> {
    let (target, by) = match who.trim().rsplit_once(" by ") {
        Some((target, by)) => (strip_uid(target), Some(strip_uid(by))),
        None => (strip_uid(who.trim()), None),
    };
    if target.is_empty() {
        return None;
    }
    let opener = by.filter(|b| !b.is_empty() && *b != target);
    Some(PamMessage {
        kind: Kind::SessionOpened,
        user: Some(opener.unwrap_or(target)),
        target: opener.map(|_| target),
        ..empty()
    })
}

/// One reading of `… ruser=RU rhost=RH[ user=U]`.
struct Reading<'a> {
    ruser: &'a str,
    rhost: &'a str,
    user: Option<&'a str>,
}

/// The key-value part of an `authentication failure;` (see the module
/// documentation for how the address is chosen).
fn auth_failure(kv: &str) -> PamMessage<'_> {
    let kv = kv.trim_end();
    let tty = kv
        .split(' ')
        .find_map(|f| f.strip_prefix("tty="))
        .filter(|t| !t.is_empty());
    // Where RU starts; readings look for ` rhost=` from there on.
    let ruser_at = match kv.find(" ruser=") {
        Some(i) => i + " ruser=".len(),
        None => 0,
    };
    let keys: Vec<(usize, &str)> = kv[ruser_at..]
        .match_indices(" rhost=")
        .take(MAX_READINGS + 1)
        .collect();
    let too_many = keys.len() > MAX_READINGS;
    let readings: Vec<Reading<'_>> = keys
        .into_iter()
        .filter_map(|(i, m)| {
            let at = ruser_at + i;
            let after = &kv[at + m.len()..];
            let end = after.find(' ').unwrap_or(after.len());
            let rest = &after[end..];
            let user = if rest.is_empty() {
                None
            } else {
                Some(
                    rest.strip_prefix(" user=")
                        .or_else(|| rest.strip_prefix("  user="))?,
                )
            };
            Some(Reading {
                ruser: if ruser_at == 0 { "" } else { &kv[ruser_at..at] },
                rhost: &after[..end],
                user,
            })
        })
        .collect();
    let chosen = match readings.len() {
        _ if too_many => None,
        0 => None,
        1 => readings.first(),
        _ => {
            let mut consistent = readings
                .iter()
                .filter(|r| r.ruser.is_empty() || Some(r.ruser) == r.user);
            match (consistent.next(), consistent.next()) {
                (Some(r), None) => Some(r),
                _ => None,
            }
        }
    };
    let (user, addr) = match chosen {
        Some(r) => (
            r.user
                .filter(|u| !u.is_empty())
                .or(Some(r.ruser).filter(|u| !u.is_empty())),
            Some(r.rhost).filter(|h| super::is_addr_like(h)),
        ),
        None => (None, None),
    };
    PamMessage {
        user,
        addr,
        tty,
        ..empty()
    }
}

/// More ` rhost=` than any real line holds: ambiguous, and the bound keeps
/// the work linear on a hostile line.
const MAX_READINGS: usize = 16;

/// Decodes a PAM message into `ev`; false when `message` is not one.
pub(crate) fn apply(ev: &mut Event, message: &str) -> bool {
    apply_with(ev, message, false)
}

/// As [`apply`] for PAM lines that accompany the application's own line
/// for the same attempt (sshd's `Failed password …`): a failure there gets
/// `event.outcome: unknown` so that one attempt is not counted twice.
pub(crate) fn apply_accompanying(ev: &mut Event, message: &str) {
    if apply_with(ev, message, true) {
        crate::observe::add_ecs_observables(ev);
    }
}

fn apply_with(ev: &mut Event, message: &str, accompanying: bool) -> bool {
    let Some(m) = parse(message) else {
        return false;
    };
    let failure = if accompanying { UNKNOWN } else { FAILURE };
    let (category, action, outcome) = match m.kind {
        Kind::AuthFailure => ("authentication", "pam_auth_failure", failure),
        Kind::MoreFailures => ("authentication", "pam_more_auth_failures", UNKNOWN),
        Kind::UserUnknown => ("authentication", "pam_user_unknown", failure),
        Kind::SessionOpened => ("session", "pam_session_opened", SUCCESS),
        Kind::SessionClosed => ("session", "pam_session_closed", SUCCESS),
    };
    Outcome {
        module: "pam",
        category,
        action,
        outcome,
    }
    .set(ev);
    ev.set("pam.module", m.module);
    if let Some(service) = m.service {
        ev.set("pam.service", service);
    }
    if let Some(tty) = m.tty {
        ev.set("pam.tty", tty);
    }
    set_user(ev, "user.name", m.user);
    set_user(ev, "user.target.name", m.target);
    if let Some(addr) = m.addr {
        set_source(ev, addr);
    }
    true
}

/// su's own lines: `(to root) alice on pts/0`, `FAILED SU (to root) alice
/// on pts/0`, `Successful su for root by alice`, `FAILED su for root by
/// alice`, `+ pts/0 alice:root`, `- pts/0 alice:root`. The names are local
/// accounts, so they are split plainly.
pub(crate) fn apply_su(ev: &mut Event, message: &str) -> bool {
    let m = message.trim();
    let (ok, user, target) = if let Some(rest) = m.strip_prefix("FAILED SU (to ") {
        let (target, rest) = rest.split_once(") ").unwrap_or((rest, ""));
        (false, rest.split(" on ").next(), Some(target))
    } else if let Some(rest) = m.strip_prefix("(to ") {
        let (target, rest) = rest.split_once(") ").unwrap_or((rest, ""));
        (true, rest.split(" on ").next(), Some(target))
    } else if let Some(rest) = m.strip_prefix("Successful su for ") {
        let (target, user) = rest.split_once(" by ").unwrap_or((rest, ""));
        (true, Some(user), Some(target))
    } else if let Some(rest) = m.strip_prefix("FAILED su for ") {
        let (target, user) = rest.split_once(" by ").unwrap_or((rest, ""));
        (false, Some(user), Some(target))
    } else if let Some(rest) = m.strip_prefix("+ ").or_else(|| m.strip_prefix("- ")) {
        let (_, pair) = rest.split_once(' ').unwrap_or(("", rest));
        let Some((user, target)) = pair.split_once(':') else {
            return false;
        };
        (m.starts_with('+'), Some(user), Some(target))
    } else {
        return false;
    };
    Outcome {
        module: "pam",
        category: "authentication",
        action: if ok { "su_success" } else { "su_failure" },
        outcome: if ok { SUCCESS } else { FAILURE },
    }
    .set(ev);
    set_user(ev, "user.name", user);
    set_user(ev, "user.target.name", target);
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn failure(line: &str) -> (Option<&str>, Option<&str>) {
        let m = parse(line).unwrap();
        assert_eq!(m.kind, Kind::AuthFailure, "{line}");
        (m.user, m.addr)
    }

    #[test]
    fn auth_failure_forms() {
        let m = parse(
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
        )
        .unwrap();
        assert_eq!(
            m,
            PamMessage {
                module: "pam_unix",
                service: Some("sshd"),
                kind: Kind::AuthFailure,
                user: Some("root"),
                target: None,
                addr: Some("1.2.3.4"),
                tty: Some("ssh"),
            }
        );
        for (line, user, addr) in [
            (
                "(pam_unix) authentication failure; logname= uid=0 euid=0 tty=pure-ftpd ruser=sample-user rhost=192.168.1.1 ",
                Some("sample-user"),
                Some("192.168.1.1"),
            ),
            (
                "pam_unix: authentication failure; logname= uid=0 euid=0 tty=ftp ruser=an8767 rhost=www.google.com",
                Some("an8767"),
                Some("www.google.com"),
            ),
            (
                "pam_sss(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=bob rhost=2001:db8::7 user=bob",
                Some("bob"),
                Some("2001:db8::7"),
            ),
            (
                "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root",
                Some("root"),
                None,
            ),
        ] {
            assert_eq!(failure(line), (user, addr), "{line}");
        }
    }

    /// The client chooses RU and U; every line imitates pam_unix's
    /// `rhost=` with 6.6.6.6, and the address is the one pam_unix wrote or
    /// none.
    #[test]
    fn injected_rhost_never_becomes_the_address() {
        for (line, user, addr) in [
            // fail2ban's own cases: the name is in ruser, then in user.
            (
                "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=6.6.6.6 rhost=192.0.2.1",
                Some("test rhost=6.6.6.6"),
                Some("192.0.2.1"),
            ),
            (
                "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 user=test rhost=6.6.6.6",
                Some("test rhost=6.6.6.6"),
                Some("192.0.2.2"),
            ),
            (
                "pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=6.6.6.6 rhost=192.0.43.10",
                Some("rhost=6.6.6.6"),
                Some("192.0.43.10"),
            ),
            // The name copied into both ruser and user (vsftpd, dovecot).
            (
                "pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=6.6.6.6 user=y rhost=192.0.2.3  user=x rhost=6.6.6.6 user=y",
                Some("x rhost=6.6.6.6 user=y"),
                Some("192.0.2.3"),
            ),
            // A name that imitates a whole tail in ruser alone: two
            // readings, neither with an empty or matching ruser.
            (
                "pam_unix(x:auth): authentication failure; logname= uid=0 euid=0 tty=t ruser=a rhost=6.6.6.6 user=b rhost=192.0.2.4",
                None,
                None,
            ),
            // Empty ruser, and a user that repeats the whole tail: two
            // consistent readings, so none.
            (
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.5  user=P rhost=6.6.6.6 user= rhost=192.0.2.5  user=P",
                None,
                None,
            ),
        ] {
            assert_eq!(failure(line), (user, addr), "{line}");
        }
    }

    #[test]
    fn more_rhost_than_the_bound_is_ambiguous() {
        let line = |n: usize| {
            format!(
                "pam_unix(ftp:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x{} rhost=192.0.2.1",
                " rhost=6.6.6.6 y".repeat(n)
            )
        };
        assert_eq!(failure(&line(15)).1, Some("192.0.2.1"));
        assert_eq!(failure(&line(16)), (None, None));
    }

    #[test]
    fn sessions_and_other_messages() {
        let m =
            parse("pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)")
                .unwrap();
        assert_eq!(
            (m.kind, m.service, m.user, m.target),
            (Kind::SessionOpened, Some("su"), Some("alice"), Some("root"))
        );
        let m = parse("pam_unix(cron:session): session opened for user root by (uid=0)").unwrap();
        assert_eq!((m.user, m.target), (Some("root"), None));
        let m = parse("pam_unix(sshd:session): session closed for user bob").unwrap();
        assert_eq!((m.kind, m.user), (Kind::SessionClosed, Some("bob")));
        let m = parse("pam_unix(sshd:auth): check pass; user unknown").unwrap();
        assert_eq!((m.kind, m.user), (Kind::UserUnknown, None));
        let m = parse(
            "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=root",
        )
        .unwrap();
        assert_eq!(
            (m.kind, m.user, m.addr),
            (Kind::MoreFailures, Some("root"), Some("192.0.2.9"))
        );
        for not_pam in [
            "pam_unix(sshd:auth): something else",
            "pam_(x:auth): authentication failure; rhost=1.2.3.4",
            "pampam: authentication failure; rhost=1.2.3.4",
            "authentication failure; rhost=1.2.3.4",
            "pam_unix(a b:auth): authentication failure; rhost=1.2.3.4",
        ] {
            assert_eq!(parse(not_pam), None, "{not_pam}");
        }
    }

    #[test]
    fn su_lines() {
        use chrono::{TimeZone, Utc};
        for (line, action, user, target) in [
            ("(to root) alice on pts/0", "su_success", "alice", "root"),
            (
                "FAILED SU (to root) alice on pts/0",
                "su_failure",
                "alice",
                "root",
            ),
            (
                "Successful su for root by alice",
                "su_success",
                "alice",
                "root",
            ),
            ("FAILED su for root by alice", "su_failure", "alice", "root"),
            ("+ pts/0 alice:root", "su_success", "alice", "root"),
            ("- pts/0 alice:root", "su_failure", "alice", "root"),
        ] {
            let mut ev = Event::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), "t");
            assert!(apply_su(&mut ev, line), "{line}");
            assert_eq!(ev.get_str("event.action"), Some(action), "{line}");
            assert_eq!(ev.get_str("user.name"), Some(user), "{line}");
            assert_eq!(ev.get_str("user.target.name"), Some(target), "{line}");
        }
    }
}
