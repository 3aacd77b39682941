use chrono::{TimeZone, Utc};

use super::*;

/// (action, outcome, user, source.ip) of one line of program `app`.
fn decode(
    app: &str,
    message: &str,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let mut ev = Event::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(),
        "dovecot",
    );
    if is_program(app) {
        apply(&mut ev, app, message);
    } else {
        apply_auth_process(&mut ev, app, message);
    }
    let get = |k: &str| ev.get_str(k).map(str::to_owned);
    (
        get("event.action"),
        get("event.outcome"),
        get("user.name"),
        get("source.ip"),
    )
}

fn want(
    action: &str,
    outcome: &str,
    user: Option<&str>,
    ip: Option<&str>,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    (
        Some(action.to_owned()),
        Some(outcome.to_owned()),
        user.map(str::to_owned),
        ip.map(str::to_owned),
    )
}

#[test]
fn login_process_lines() {
    for (app, message, expected) in [
        (
            "dovecot",
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=1.2.3.4, lip=10.0.0.1, TLS, session=<abc>",
            want("imap_auth_failure", FAILURE, Some("x"), Some("1.2.3.4")),
        ),
        (
            "imap-login",
            "Info: Aborted login (auth failed, 1 attempts): user=<m@example.de>, method=CRAM-MD5, rip=2001:db8::1, lip=2001:db8::2, TLS",
            want(
                "imap_auth_failure",
                FAILURE,
                Some("m@example.de"),
                Some("2001:db8::1"),
            ),
        ),
        (
            "dovecot",
            "pop3-login: Aborted login (tried to use disabled plaintext auth): rip=190.210.136.21, lip=113.212.99.193",
            want("pop3_auth_refused", FAILURE, None, Some("190.210.136.21")),
        ),
        (
            "dovecot",
            "managesieve-login: Login aborted: Logged out (auth failed, 1 attempts in 10 secs) (auth_failed): user=<u@d>, method=PLAIN, rip=192.0.2.241, lip=203.0.113.104, TLS",
            want(
                "mail_auth_failure",
                FAILURE,
                Some("u@d"),
                Some("192.0.2.241"),
            ),
        ),
        (
            "dovecot",
            "imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.9, lip=192.0.2.1, mpid=77, TLS, session=<s>",
            want("imap_login", SUCCESS, Some("alice"), Some("192.0.2.9")),
        ),
        (
            "dovecot",
            "imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.5, lip=127.0.0.1, TLS handshaking: SSL_accept() failed",
            want("imap_no_auth_attempts", UNKNOWN, None, Some("192.0.2.5")),
        ),
    ] {
        assert_eq!(decode(app, message), expected, "{message}");
    }
    let mut ev = Event::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(),
        "dovecot",
    );
    apply(
        &mut ev,
        "dovecot",
        "imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 16 secs) (auth_failed): user=<t>, method=PLAIN, rip=192.0.2.241, lip=203.0.113.104",
    );
    assert_eq!(ev.get("dovecot.auth_attempts"), Some(3i64.into()));
    assert_eq!(ev.get_str("dovecot.protocol"), Some("imap"));
}

/// The user name comes before `rip=` and can imitate the fields after
/// it; the last `rip=` is Dovecot's.
#[test]
fn injected_rip_in_the_user_name() {
    assert_eq!(
        decode(
            "dovecot",
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1, TLS, session=<a>>, method=PLAIN, rip=192.0.2.1, lip=10.0.0.1, TLS, session=<b>",
        ),
        want(
            "imap_auth_failure",
            FAILURE,
            Some("x>, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1, TLS, session=<a>"),
            Some("192.0.2.1")
        )
    );
    // A user name that ends the line with a fake `rip=` cannot: Dovecot's
    // own fields follow the user, so the last `rip=` is still Dovecot's…
    // unless the server logs no `rip=` at all, which no login line does.
    assert_eq!(
        decode(
            "dovecot",
            "pop3-login: Disconnected (auth failed, 1 attempts): user=<a, rip=6.6.6.6>, method=PLAIN, rip=192.0.2.2, lip=10.0.0.1",
        )
        .3,
        Some("192.0.2.2".to_owned())
    );
}

#[test]
fn auth_process_lines() {
    for (app, message, expected) in [
        (
            "dovecot",
            "auth-worker(304): pam(username,1.2.3.4): pam_authenticate() failed: Authentication failure (password mismatch?)",
            want(
                "dovecot_auth_failure",
                FAILURE,
                Some("username"),
                Some("1.2.3.4"),
            ),
        ),
        (
            "dovecot",
            "auth: passwd-file(username,1.2.3.4): unknown user",
            want(
                "dovecot_unknown_user",
                FAILURE,
                Some("username"),
                Some("1.2.3.4"),
            ),
        ),
        (
            "auth-worker(22401)",
            "Info: sql(admin@example.de,192.0.2.5,<n4JLdHNVngZGpV2j>): unknown user",
            want(
                "dovecot_unknown_user",
                FAILURE,
                Some("admin@example.de"),
                Some("192.0.2.5"),
            ),
        ),
        (
            "auth-worker(80180)",
            "Info: conn unix:auth-worker (uid=143): auth-worker<13247>: sql(support,192.0.2.6): unknown user",
            want(
                "dovecot_unknown_user",
                FAILURE,
                Some("support"),
                Some("192.0.2.6"),
            ),
        ),
        (
            "auth",
            "Info: ldap(dog,52.37.139.121,): invalid credentials",
            want(
                "dovecot_auth_failure",
                FAILURE,
                Some("dog"),
                Some("52.37.139.121"),
            ),
        ),
        (
            "auth(info@example.com,192.0.2.110,sasl:login)<CvN+E95Uf4e7eEnj>",
            "Info: sql: Password mismatch (given password: XxxxXXxx123)",
            want(
                "dovecot_auth_failure",
                FAILURE,
                Some("info@example.com"),
                Some("192.0.2.110"),
            ),
        ),
        (
            "dovecot",
            "dovecot: auth(default): pam(a@b.example,200.76.17.206): pam_authenticate() failed: User not known: 2 Time(s)",
            want(
                "dovecot_auth_failure",
                FAILURE,
                Some("a@b.example"),
                Some("200.76.17.206"),
            ),
        ),
        (
            "dovecot",
            "auth: passwd-file(u,192.0.2.8,master,<s1>): Password mismatch",
            want(
                "dovecot_auth_failure",
                FAILURE,
                Some("u"),
                Some("192.0.2.8"),
            ),
        ),
    ] {
        assert_eq!(decode(app, message), expected, "{message}");
    }
}

/// The user (first) and a logged password (last) are the client's: an
/// imitation of `,ADDR): ` in either leaves the line without an address,
/// and one in a request that has no address of its own is not taken.
#[test]
fn injected_request_close_in_user_or_password() {
    for message in [
        // In the user name, before the real close.
        "auth: passwd-file(a,6.6.6.6): unknown user,192.0.2.1): unknown user",
        // In the logged password, after it.
        "auth: sql(u,192.0.2.1,<s>): Password mismatch (given password: x,6.6.6.6): y)",
        // A request without an address (local LMTP delivery) whose user
        // imitates one: with a session…
        "auth: passwd-file(a,6.6.6.6): unknown user,<s>): unknown user",
        // …and without.
        "auth: passwd-file(a,6.6.6.6): x): unknown user",
    ] {
        let (_, _, user, ip) = decode("dovecot", message);
        assert_eq!((user, ip), (None, None), "{message}");
    }
}

#[test]
fn pam_lines_and_unrecognised() {
    assert_eq!(
        decode(
            "dovecot-auth",
            "pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=1.2.3.4 rhost=192.0.43.10",
        ),
        want(
            "pam_auth_failure",
            FAILURE,
            Some("rhost=1.2.3.4"),
            Some("192.0.43.10")
        )
    );
    assert_eq!(
        decode("dovecot", "master: Dovecot v2.3.21 starting up for imap"),
        (None, None, None, None)
    );
    assert_eq!(
        decode("auth", "pam(u,1.2.3.4): lookup service=dovecot"),
        (None, None, None, None)
    );
}
