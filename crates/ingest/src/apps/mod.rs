//! Application messages inside syslog lines: sudo, PAM (and su), Postfix
//! and Dovecot. [`crate::syslog`] decodes the header and hands the program
//! name and message text here, the way it hands sshd's to [`crate::sshd`].
//!
//! Each application's module recognises its messages by their fixed text
//! and sets ECS fields: `event.category`, `event.action`, `event.outcome`,
//! `user.name`, `source.ip`, … The address rule is sshd's: **an address is
//! taken only where the daemon wrote it**, anchored on text the client
//! cannot forge; when a line can be read two ways the event keeps its
//! action and outcome but names no address (see each module for its
//! anchors).
//!
//! Datasets: the program decides (`sudo`, `postfix`, `dovecot`), and a PAM
//! module's message from any other program is dataset `pam`; su's own lines
//! are `pam` too (su authenticates through PAM and its lines answer the
//! same questions). A PAM line for Dovecot's service lands in `dovecot`.

use std::net::IpAddr;

use riposte_model::Event;

pub(crate) mod dovecot;
pub(crate) mod pam;
pub(crate) mod postfix;
pub(crate) mod sudo;

/// Recognises the program `app` and decodes its `message` into `ev`.
/// Returns the dataset when the line belongs to one of the applications,
/// `None` to leave it a plain `syslog` event.
pub(crate) fn apply(ev: &mut Event, app: Option<&str>, message: &str) -> Option<&'static str> {
    let app = app?;
    let dataset = if postfix::is_program(app) {
        postfix::apply(ev, app, message);
        "postfix"
    } else if dovecot::is_program(app) {
        dovecot::apply(ev, app, message);
        "dovecot"
    } else if app == "sudo" {
        if !pam::apply(ev, message) {
            sudo::apply(ev, message);
        }
        "sudo"
    } else if app == "su" {
        if !pam::apply(ev, message) {
            pam::apply_su(ev, message);
        }
        "pam"
    } else if let Some(service) = pam::parse(message).map(|m| m.service) {
        pam::apply(ev, message);
        if service == Some("dovecot") {
            ev.set("event.module", "dovecot");
            "dovecot"
        } else {
            "pam"
        }
    } else if dovecot::apply_auth_process(ev, app, message) {
        // Dovecot's auth process logging as `auth` (no `dovecot` prefix).
        "dovecot"
    } else {
        return None;
    };
    crate::observe::add_ecs_observables(ev);
    Some(dataset)
}

/// The event fields every recognised application message gets.
pub(crate) struct Outcome {
    pub module: &'static str,
    pub category: &'static str,
    pub action: &'static str,
    pub outcome: &'static str,
}

pub(crate) const FAILURE: &str = "failure";
pub(crate) const SUCCESS: &str = "success";
pub(crate) const UNKNOWN: &str = "unknown";

impl Outcome {
    pub(crate) fn set(&self, ev: &mut Event) {
        ev.set("event.module", self.module);
        ev.set("event.kind", "event");
        ev.set("event.category", self.category);
        ev.set("event.action", self.action);
        ev.set("event.outcome", self.outcome);
    }
}

/// Sets `source.ip` (canonical form, IPv4-mapped IPv6 unwrapped) for an
/// address, or `source.domain` (lower case) for a host name; anything else
/// is dropped.
pub(crate) fn set_source(ev: &mut Event, addr: &str) {
    if let Ok(ip) = addr.parse::<IpAddr>() {
        ev.set("source.ip", ip.to_canonical().to_string());
    } else if crate::observe::is_domain(addr) {
        ev.set("source.domain", addr.to_ascii_lowercase());
    }
}

/// Sets `user.name` unless the name is empty.
pub(crate) fn set_user(ev: &mut Event, field: &str, user: Option<&str>) {
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        ev.set(field, user);
    }
}

/// Characters of IPv4/IPv6 addresses (with zone) and host names.
pub(crate) fn is_addr_like(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'_' | b'%'))
}

/// A leading run of ASCII digits as a number, and the text after it.
pub(crate) fn leading_number(s: &str) -> Option<(i64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 18 {
        return None;
    }
    Some((s[..digits].parse().ok()?, &s[digits..]))
}
