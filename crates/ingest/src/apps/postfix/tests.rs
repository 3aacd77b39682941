use chrono::{TimeZone, Utc};

use super::*;

fn c(name: Option<&'static str>, addr: &'static str, port: Option<u16>) -> Option<Client<'static>> {
    Some(Client { name, addr, port })
}

fn got(daemon: &str, line: &'static str) -> (&'static str, &'static str, Option<Client<'static>>) {
    let m = parse(daemon, line).unwrap_or_else(|| panic!("not recognised: {line}"));
    (m.action, m.outcome, m.client)
}

#[test]
fn smtpd_lines() {
    for (line, action, outcome, client) in [
        (
            "warning: unknown[1.2.3.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "smtp_sasl_auth_failure",
            FAILURE,
            c(None, "1.2.3.4", None),
        ),
        (
            "warning: unknown[192.0.2.237]:55729: SASL LOGIN authentication failed: authentication failure",
            "smtp_sasl_auth_failure",
            FAILURE,
            c(None, "192.0.2.237", Some(55729)),
        ),
        (
            "NOQUEUE: reject: RCPT from x.example[1.2.3.4]: 554 5.7.1 <a@b.example>: Relay access denied; from=<a@b.example> to=<c@d.example> proto=SMTP helo=<e>",
            "smtp_reject",
            FAILURE,
            c(Some("x.example"), "1.2.3.4", None),
        ),
        (
            "1D8CC1CA0A7F: milter-reject: END-OF-MESSAGE from m.example[2001:db8::5]: 550 5.7.1 Command rejected",
            "smtp_reject",
            FAILURE,
            c(Some("m.example"), "2001:db8::5", None),
        ),
        (
            "connect from unknown[192.0.2.1]",
            "smtp_connect",
            UNKNOWN,
            c(None, "192.0.2.1", None),
        ),
        (
            "disconnect from unknown[192.0.2.1] ehlo=1 auth=0/1 quit=1 commands=2/3",
            "smtp_disconnect",
            UNKNOWN,
            c(None, "192.0.2.1", None),
        ),
        (
            "lost connection after AUTH from unknown[192.0.2.23]",
            "smtp_lost_connection",
            UNKNOWN,
            c(None, "192.0.2.23", None),
        ),
        (
            "NOQUEUE: lost connection after CONNECT from unknown[192.0.2.25]",
            "smtp_lost_connection",
            UNKNOWN,
            c(None, "192.0.2.25", None),
        ),
        (
            "improper command pipelining after AUTH from unknown[192.0.2.11]: QUIT",
            "smtp_improper_pipelining",
            FAILURE,
            c(None, "192.0.2.11", None),
        ),
        (
            "warning: Connection rate limit exceeded: 31 from spam.example[192.0.2.123] for service smtpd",
            "smtp_rate_limit",
            FAILURE,
            c(Some("spam.example"), "192.0.2.123", None),
        ),
        (
            "warning: hostname bad.example.com does not resolve to address 192.0.2.44: Name or service not known",
            "smtp_reverse_dns_mismatch",
            UNKNOWN,
            c(Some("bad.example.com"), "192.0.2.44", None),
        ),
    ] {
        assert_eq!(got("smtpd", line), (action, outcome, client), "{line}");
    }
}

#[test]
fn postscreen_lines() {
    for (line, action, client) in [
        (
            "PREGREET 14 after 0.08 from [192.0.2.2]:59415: EHLO ylmf-pc\\r\\n",
            "postscreen_pregreet",
            c(None, "192.0.2.2", Some(59415)),
        ),
        (
            "HANGUP after 16 from [192.0.2.3]:48119 in tests after SMTP handshake",
            "postscreen_hangup",
            c(None, "192.0.2.3", Some(48119)),
        ),
        (
            "COMMAND TIME LIMIT from [192.0.2.77]:3608 after CONNECT",
            "postscreen_protocol_violation",
            c(None, "192.0.2.77", Some(3608)),
        ),
        (
            "DNSBL rank 3 for [2001:db8::9]:25",
            "postscreen_dnsbl",
            c(None, "2001:db8::9", Some(25)),
        ),
        (
            "NOQUEUE: reject: RCPT from [216.245.194.173]:60591: 550 5.7.1 Service unavailable; client [216.245.194.173] blocked",
            "smtp_reject",
            c(None, "216.245.194.173", Some(60591)),
        ),
    ] {
        let (a, _, cl) = got("postscreen", line);
        assert_eq!((a, cl), (action, client), "{line}");
    }
    // postscreen's verdict words are only read from postscreen.
    assert_eq!(parse("smtpd", "PASS NEW [192.0.2.1]:25"), None);
}

/// The client's own text (HELO, SASL reply, pregreet bytes, addresses)
/// comes after Postfix's client; an address in it is never read.
#[test]
fn client_text_never_moves_the_address() {
    for (daemon, line, addr) in [
        (
            "smtpd",
            "NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x>: from unknown[6.6.6.6]: Relay access denied; from=<a@[6.6.6.6]> to=<b@c> proto=ESMTP helo=<unknown[6.6.6.6]>",
            Some("192.0.2.1"),
        ),
        (
            "smtpd",
            "warning: unknown[192.0.2.2]: SASL PLAIN authentication failed: x, sasl_username=warning: unknown[6.6.6.6]: SASL",
            Some("192.0.2.2"),
        ),
        (
            "postscreen",
            "PREGREET 30 after 0.1 from [192.0.2.3]:1234: HELO [6.6.6.6]:25",
            Some("192.0.2.3"),
        ),
        (
            "smtpd",
            "improper command pipelining after DATA from unknown[192.0.2.4]: connect from unknown[6.6.6.6]",
            Some("192.0.2.4"),
        ),
    ] {
        let m = parse(daemon, line).unwrap();
        assert_eq!(m.client.map(|c| c.addr), addr, "{line}");
    }
    // Not a client where Postfix writes one: nothing is taken.
    for line in [
        "connect from unknown[6.6.6.6] trailing",
        "reject: RCPT from a b[6.6.6.6]: 554",
        "warning: some text unknown[6.6.6.6]: SASL LOGIN authentication failed: x",
        "lost connection after rcpt from unknown[6.6.6.6]",
        "connect from unknown[not-an-ip]",
    ] {
        assert_eq!(parse("smtpd", line), None, "{line}");
    }
}

#[test]
fn event_fields_for_a_sasl_failure() {
    let mut ev = Event::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(),
        "postfix",
    );
    apply(
        &mut ev,
        "postfix/submission/smtpd",
        "warning: mail.example[::ffff:192.0.2.152]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=admin",
    );
    let fields: Vec<(&str, String)> = ev
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_string()))
        .collect();
    assert_eq!(
        fields,
        [
            ("event.action", "smtp_sasl_auth_failure".to_owned()),
            ("event.category", "authentication".into()),
            ("event.kind", "event".into()),
            ("event.module", "postfix".into()),
            ("event.outcome", "failure".into()),
            ("event.reason", "(reason unavailable)".into()),
            ("postfix.daemon", "smtpd".into()),
            ("postfix.sasl_method", "LOGIN".into()),
            ("source.domain", "mail.example".into()),
            ("source.ip", "192.0.2.152".into()),
            ("user.name", "admin".into()),
        ]
    );
}
