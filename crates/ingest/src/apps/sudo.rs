//! sudo's own lines: `USER : [REASON ; ]TTY=T ; PWD=DIR ; USER=TARGET ;
//! [GROUP=G ; ][TSID=ID ; ][ENV=VARS ; ]COMMAND=CMD`.
//!
//! A line without REASON is a command sudo ran (`sudo_command`, category
//! `process`); with one it is a refusal: `N incorrect password attempts`
//! (`sudo_auth_failure`), `user NOT in sudoers` (`sudo_not_in_sudoers`),
//! `command not allowed` (`sudo_command_not_allowed`), anything else
//! `sudo_denied`, all with `event.outcome: failure` and the reason in
//! `event.reason`.
//!
//! The invoking user is an account name (no spaces, no colon) followed by
//! sudo's ` : `. The working directory and the command are the user's text
//! and either can imitate ` ; USER=root ; COMMAND=…`, so the target user is
//! taken from the one ` ; USER=NAME ; ` that is followed by what sudo writes
//! after it (`GROUP=`, `TSID=`, `ENV=`, `COMMAND=`); when there are several
//! such, the line names no target, directory or command.

use riposte_model::Event;

use super::{FAILURE, Outcome, SUCCESS, set_user};

#[derive(Debug, Default, PartialEq, Eq)]
struct SudoMessage<'a> {
    user: &'a str,
    reason: Option<&'a str>,
    tty: Option<&'a str>,
    pwd: Option<&'a str>,
    target: Option<&'a str>,
    command: Option<&'a str>,
}

/// The keys sudo writes after `USER=` and before the command.
const AFTER_USER: [&str; 6] = ["GROUP=", "TSID=", "ENV=", "CHROOT=", "CWD=", "COMMAND="];

fn parse(message: &str) -> Option<SudoMessage<'_>> {
    let m = message.trim();
    let (user, rest) = m.split_once(" : ")?;
    if user.is_empty() || user.contains([' ', ':']) {
        return None;
    }
    let (reason, fields) = if starts_with_key(rest) {
        (None, rest)
    } else {
        let (reason, fields) = rest.split_once(" ; ")?;
        if !starts_with_key(fields) {
            return None;
        }
        (Some(reason), fields)
    };
    let tty = fields
        .strip_prefix("TTY=")
        .map(|t| t.split(" ; ").next().unwrap_or(t));
    let mut msg = SudoMessage {
        user,
        reason,
        tty,
        ..SudoMessage::default()
    };
    // Readings of ` ; USER=NAME ; ` followed by sudo's next key.
    let keys: Vec<(usize, &str)> = fields
        .match_indices("USER=")
        .filter(|&(i, _)| i == 0 || fields[..i].ends_with(" ; "))
        .take(MAX_READINGS + 1)
        .collect();
    if keys.len() > MAX_READINGS {
        return Some(msg);
    }
    let mut readings = keys.into_iter().filter_map(|(i, key)| {
        let after = &fields[i + key.len()..];
        let (target, next) = after.split_once(" ; ")?;
        if target.is_empty() || target.contains(' ') {
            return None;
        }
        AFTER_USER
            .iter()
            .any(|k| next.starts_with(k))
            .then_some((i, target, next))
    });
    let (Some((at, target, next)), None) = (readings.next(), readings.next()) else {
        return Some(msg);
    };
    msg.target = Some(target);
    msg.pwd = fields[..at]
        .strip_suffix(" ; ")
        .and_then(|head| head.split_once("PWD=").map(|(_, pwd)| pwd));
    msg.command = if let Some(cmd) = next.strip_prefix("COMMAND=") {
        Some(cmd)
    } else {
        next.split_once(" ; COMMAND=").map(|(_, cmd)| cmd)
    };
    Some(msg)
}

/// More `USER=` than sudo writes: ambiguous, and linear work on a hostile
/// line.
const MAX_READINGS: usize = 16;

fn starts_with_key(s: &str) -> bool {
    ["TTY=", "PWD=", "USER="].iter().any(|k| s.starts_with(k))
}

/// Decodes a sudo line into `ev`; false when it is not one of sudo's.
pub(crate) fn apply(ev: &mut Event, message: &str) -> bool {
    let Some(m) = parse(message) else {
        return false;
    };
    let (category, action, outcome) = match m.reason {
        None => ("process", "sudo_command", SUCCESS),
        Some(r)
            if r.ends_with("incorrect password attempts")
                || r.ends_with("incorrect password attempt") =>
        {
            ("authentication", "sudo_auth_failure", FAILURE)
        }
        Some("user NOT in sudoers") => ("authentication", "sudo_not_in_sudoers", FAILURE),
        Some("command not allowed") => ("authentication", "sudo_command_not_allowed", FAILURE),
        Some(_) => ("authentication", "sudo_denied", FAILURE),
    };
    Outcome {
        module: "sudo",
        category,
        action,
        outcome,
    }
    .set(ev);
    if let Some(reason) = m.reason {
        ev.set("event.reason", reason);
    }
    set_user(ev, "user.name", Some(m.user));
    set_user(ev, "user.target.name", m.target);
    if let Some(tty) = m.tty.filter(|t| !t.is_empty() && *t != "unknown") {
        ev.set("process.tty.name", tty);
    }
    if let Some(pwd) = m.pwd {
        ev.set_static("process.working_directory", pwd);
    }
    if let Some(cmd) = m.command {
        ev.set("process.command_line", cmd);
        if let Some(exe) = cmd.split(' ').next().filter(|e| e.starts_with('/')) {
            ev.set("process.executable", exe);
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn command_and_refusals() {
        assert_eq!(
            parse(
                "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh -c 'id ; ls'"
            ),
            Some(SudoMessage {
                user: "alice",
                reason: None,
                tty: Some("pts/0"),
                pwd: Some("/home/alice"),
                target: Some("root"),
                command: Some("/bin/sh -c 'id ; ls'"),
            })
        );
        assert_eq!(
            parse(
                "bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/apt update"
            ),
            Some(SudoMessage {
                user: "bob",
                reason: Some("3 incorrect password attempts"),
                tty: Some("pts/1"),
                pwd: Some("/"),
                target: Some("root"),
                command: Some("/usr/bin/apt update"),
            })
        );
        let m = parse("eve : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; GROUP=wheel ; TSID=000001 ; ENV=A=1 B=2 ; COMMAND=/bin/ls").unwrap();
        assert_eq!(
            (m.reason, m.target, m.command),
            (Some("user NOT in sudoers"), Some("root"), Some("/bin/ls"))
        );
        for not_sudo in [
            "pam_unix(sudo:auth): authentication failure; logname=a",
            "a b : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
            "alice : unable to resolve host web1",
        ] {
            assert_eq!(parse(not_sudo), None, "{not_sudo}");
        }
    }

    /// The directory and the command are the user's; an imitation of
    /// sudo's fields in them either loses to sudo's own or makes the line
    /// name no target.
    #[test]
    fn hostile_directory_and_command() {
        // The imitation in the command is not followed by sudo's keys.
        let m = parse(
            "mallory : TTY=pts/0 ; PWD=/home/m ; USER=nobody ; COMMAND=/bin/echo ; USER=root ; x",
        )
        .unwrap();
        assert_eq!(m.target, Some("nobody"));
        assert_eq!(m.command, Some("/bin/echo ; USER=root ; x"));
        // A directory that imitates a whole tail: two readings, no target.
        let m = parse("mallory : TTY=pts/0 ; PWD=/tmp/x ; USER=root ; COMMAND=y ; USER=nobody ; COMMAND=/bin/ls").unwrap();
        assert_eq!((m.target, m.pwd, m.command), (None, None, None));
        assert_eq!(m.user, "mallory");
    }

    #[test]
    fn event_fields() {
        let mut ev = Event::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(), "sudo");
        assert!(apply(
            &mut ev,
            "alice : 1 incorrect password attempt ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u"
        ));
        let got: Vec<(&str, String)> = ev
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("event.action", "sudo_auth_failure".to_owned()),
                ("event.category", "authentication".into()),
                ("event.kind", "event".into()),
                ("event.module", "sudo".into()),
                ("event.outcome", "failure".into()),
                ("event.reason", "1 incorrect password attempt".into()),
                ("process.command_line", "/usr/bin/id -u".into()),
                ("process.executable", "/usr/bin/id".into()),
                ("process.tty.name", "pts/0".into()),
                ("process.working_directory", "/home/alice".into()),
                ("user.name", "alice".into()),
                ("user.target.name", "root".into()),
            ]
        );
    }
}
