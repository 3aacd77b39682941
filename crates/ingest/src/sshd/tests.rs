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

/// Each line's client-chosen text imitates sshd's ` from ADDR port N`
/// with 6.6.6.6 (or fail2ban's 10.10.1.x); the address must be the one
/// sshd wrote, with everything before it kept as the username.
#[test]
fn username_injection_does_not_move_the_address() {
    let cases = [
        (
            "Failed password for invalid user x from 6.6.6.6 port 1 ssh2: from 203.0.113.7 port 4242 ssh2",
            "x from 6.6.6.6 port 1 ssh2:",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Failed password for invalid user a from 6.6.6.6 port 22 from 203.0.113.7 port 4242 ssh2",
            "a from 6.6.6.6 port 22",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Failed password for root from 6.6.6.6 port 1 ssh2 from 203.0.113.7 port 4242 ssh2",
            "root from 6.6.6.6 port 1 ssh2",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Failed keyboard-interactive/pam for invalid user k from 6.6.6.6 port 1 ssh2 [preauth] from 203.0.113.7 port 4242 ssh2 [preauth]",
            "k from 6.6.6.6 port 1 ssh2 [preauth]",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Failed publickey for invalid user f from 6.6.6.6 port 1 ssh2: RSA SHA256:aaa from 203.0.113.7 port 4242 ssh2: RSA SHA256:bbb",
            "f from 6.6.6.6 port 1 ssh2: RSA SHA256:aaa",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Invalid user b from 6.6.6.6 port 9 from 203.0.113.7 port 4242",
            "b from 6.6.6.6 port 9",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Invalid user b from 6.6.6.6 port 9 from 203.0.113.7",
            "b from 6.6.6.6 port 9",
            "203.0.113.7",
            None,
        ),
        (
            "error: maximum authentication attempts exceeded for invalid user e from 6.6.6.6 port 1 ssh2 from 203.0.113.7 port 4242 ssh2 [preauth]",
            "e from 6.6.6.6 port 1 ssh2",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "error: PAM: Authentication failure for g from 6.6.6.6 via 192.0.2.1 from 203.0.113.7",
            "g from 6.6.6.6 via 192.0.2.1",
            "203.0.113.7",
            None,
        ),
        (
            "Connection closed by invalid user c 6.6.6.6 port 1 203.0.113.7 port 4242 [preauth]",
            "c 6.6.6.6 port 1",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Disconnected from invalid user d 6.6.6.6 port 1 203.0.113.7 port 4242 [preauth]",
            "d 6.6.6.6 port 1",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Connection reset by authenticating user r 6.6.6.6 port 1 203.0.113.7 port 4242 [preauth]",
            "r 6.6.6.6 port 1",
            "203.0.113.7",
            Some(4242),
        ),
        // sshd truncates the reason to 100 characters, so the client's
        // service name can end the line; ` port 1` without `:` there
        // is not sshd's.
        (
            "Disconnecting authenticating user root 203.0.113.7 port 4242: Change of username or service not allowed: (root,ssh-connection) -> (x 6.6.6.6 port 1",
            "root",
            "203.0.113.7",
            Some(4242),
        ),
        // An imitation inside the client's parts of the auth info
        // (certificate key ID, hostbased client host) is followed by
        // sshd's own text, which no suffix rule accepts.
        (
            "Failed publickey for root from 203.0.113.7 port 4242 ssh2: ED25519-CERT SHA256:kkk ID x from 6.6.6.6 port 1 ssh2 (serial 7) CA ED25519 SHA256:ccc",
            "root",
            "203.0.113.7",
            Some(4242),
        ),
        (
            "Failed hostbased for dan from 203.0.113.7 port 4242 ssh2: RSA SHA256:aaa, client user \"dan\", client host \"h from 6.6.6.6 port 1 ssh2: RSA SHA256:bbb\"",
            "dan",
            "203.0.113.7",
            Some(4242),
        ),
        // fail2ban's samples.
        (
            "Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
            "from 10.10.1.1",
            "127.0.0.1",
            Some(58946),
        ),
        (
            "Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
            "test from 10.10.1.2 port 55555 ssh2",
            "127.0.0.1",
            Some(58946),
        ),
        // fail2ban reads this one as user `test` from 127.0.0.1 with an
        // injected auth-info suffix `: from 10.10.1.2 …`. We deliberately
        // differ: OpenSSH appends `: INFO` only after publickey,
        // hostbased and gssapi logins, never after a password, so the
        // `ssh2:` here cannot be sshd's and `test from 127.0.0.1 port
        // 58946 ssh2:` is the username the client sent — exactly the
        // attack of the first case above. Reading it fail2ban's way
        // would let any client have 127.0.0.1 (or anyone) banned.
        (
            "Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
            "test from 127.0.0.1 port 58946 ssh2:",
            "10.10.1.2",
            Some(55555),
        ),
        (
            "Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]",
            "test 127.0.0.1 port 12345",
            "192.0.2.11",
            Some(46039),
        ),
    ];
    for (line, user, addr, port) in cases {
        let m = parse(line).unwrap();
        assert_eq!(
            (m.user, m.addr, m.port),
            (Some(user), Some(addr), port),
            "{line}"
        );
    }
}

/// Where the client's text may follow sshd's address too, or the suffix
/// is not one sshd writes for the message, the event is decoded without
/// user, address or port rather than with a possibly chosen address.
#[test]
fn ambiguous_lines_name_no_address() {
    let failed = |method| SshdMessage {
        method: Some(method),
        invalid_user: Some(false),
        ..msg("ssh_login", FAILURE, None, None, None)
    };
    let many = format!(
        "Failed password for {}x from 203.0.113.7 port 4242 ssh2",
        "x from 6.6.6.6 ".repeat(MAX_CANDIDATES)
    );
    let cases = [
        // The key ID holds a whole second certificate suffix: both
        // ` from `s are followed by acceptable text.
        (
            "Failed publickey for root from 203.0.113.7 port 4242 ssh2: ED25519-CERT SHA256:kkk ID x from 6.6.6.6 port 1 ssh2: ED25519-CERT SHA256:kkk ID y (serial 7) CA ED25519 SHA256:ccc",
            failed("publickey"),
        ),
        // Likewise in hostbased's client host.
        (
            "Failed hostbased for dan from 203.0.113.7 port 4242 ssh2: RSA SHA256:aaa, client user \"dan\", client host \"h from 6.6.6.6 port 1 ssh2: RSA SHA256:bbb, client user \"u\", client host \"v\"",
            failed("hostbased"),
        ),
        // SSH-1's `ruser NAME` is the client's and ends the line.
        (
            "Failed rhosts-rsa for u from 203.0.113.7 port 4242 ssh1: ruser x from 6.6.6.6 port 1 ssh1",
            failed("rhosts-rsa"),
        ),
        (
            "Failed rhosts-rsa for u from 203.0.113.7 port 4242 ruser x from 6.6.6.6 port 1",
            failed("rhosts-rsa"),
        ),
        // fail2ban's sample of the same; it reads 127.0.0.1.
        (
            "Failed password for user from 127.0.0.1 port 20000 ssh1: ruser from 1.2.3.4",
            failed("password"),
        ),
        // Auth info after a password: not something sshd writes.
        (
            "Failed password for x from 6.6.6.6 port 1 ssh2: RSA SHA256:aaa",
            failed("password"),
        ),
        // A port-less (old sshd) address after a ported imitation.
        (
            "Failed password for x from 6.6.6.6 port 1 ssh2 from 203.0.113.7",
            failed("password"),
        ),
        // Both the username and the quoted reason are the client's.
        (
            "Disconnecting authenticating user root 203.0.113.7 port 4242: Change of username or service not allowed: (root,ssh-connection) -> (x 6.6.6.6 port 1:,ssh-connection) [preauth]",
            SshdMessage {
                invalid_user: Some(false),
                ..msg("ssh_disconnecting", UNKNOWN, None, None, None)
            },
        ),
        (
            "Disconnecting invalid user x 6.6.6.6 port 1: y 203.0.113.7 port 4242: Too many authentication failures [preauth]",
            SshdMessage {
                invalid_user: Some(true),
                ..msg("ssh_disconnecting", UNKNOWN, None, None, None)
            },
        ),
        (
            "ssh_dispatch_run_fatal: Connection from invalid user x 6.6.6.6 port 1: y 203.0.113.7 port 4242: Broken pipe [preauth]",
            SshdMessage {
                invalid_user: Some(true),
                ..msg("ssh_protocol_error", UNKNOWN, None, None, None)
            },
        ),
        // More imitations than a 100-byte username holds.
        (many.as_str(), failed("password")),
        // Two `rhost=` before pam_unix's `user=`.
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=a rhost=6.6.6.6 rhost=203.0.113.7  user=root",
            msg("ssh_pam_auth_failure", UNKNOWN, Some("root"), None, None),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parse(line), Some(want), "{line}");
    }
}

#[test]
fn pam_rhost_is_read_before_the_user() {
    let cases = [
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.2  user=test rhost=192.0.2.152",
            Some("test rhost=192.0.2.152"),
            Some("192.0.2.2"),
        ),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.2  user=x user=y rhost=6.6.6.6",
            Some("x user=y rhost=6.6.6.6"),
            Some("192.0.2.2"),
        ),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.113 [preauth]",
            None,
            Some("192.0.2.113"),
        ),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=  user=root",
            Some("root"),
            None,
        ),
    ];
    for (line, user, addr) in cases {
        assert_eq!(
            parse(line),
            Some(msg("ssh_pam_auth_failure", UNKNOWN, user, addr, None)),
            "{line}"
        );
    }
}

#[test]
fn auth_info_suffixes_sshd_writes() {
    let ok = |outcome, method, user, addr, port| SshdMessage {
        invalid_user: Some(false),
        ..login(outcome, method, Some(user), addr, Some(port), false)
    };
    let cases = [
        (
            "Accepted publickey for alice from 198.51.100.4 port 50122 ssh2: ED25519 SHA256:abc",
            ok(SUCCESS, "publickey", "alice", "198.51.100.4", 50122),
        ),
        (
            "Failed publickey for root from 1.2.3.4 port 5 ssh2: RSA SHA256:v3dpapGleDaUKf+4V1vKyR9ZyU/gjaJAmoCTcb2PLljI",
            ok(FAILURE, "publickey", "root", "1.2.3.4", 5),
        ),
        (
            "Accepted publickey for git from 192.0.2.1 port 57904 ssh2: DSA 36:48:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77",
            ok(SUCCESS, "publickey", "git", "192.0.2.1", 57904),
        ),
        (
            "Accepted publickey for alice from 198.51.100.4 port 50122 ssh2: ECDSA-SK SHA256:abc, signature count = 12",
            ok(SUCCESS, "publickey", "alice", "198.51.100.4", 50122),
        ),
        (
            "Accepted publickey for alice from 198.51.100.4 port 50122 ssh2: ED25519-CERT SHA256:kkk ID alice@example.com (serial 0) CA ED25519 SHA256:ccc",
            ok(SUCCESS, "publickey", "alice", "198.51.100.4", 50122),
        ),
        (
            "Accepted publickey for alice from 198.51.100.4 port 50122 ssh2: RSA-CERT ID alice (vault) (serial 3) CA RSA SHA256:ccc",
            ok(SUCCESS, "publickey", "alice", "198.51.100.4", 50122),
        ),
        (
            "Failed hostbased for dan from 127.0.0.1 port 45785 ssh2: RSA 8c:e3:aa:0f:64:51:02:f7:14:79:89:3f:65:84:7c:30, client user \"dan\", client host \"localhost.localdomain\"",
            ok(FAILURE, "hostbased", "dan", "127.0.0.1", 45785),
        ),
        (
            "Accepted gssapi-with-mic for alice from 198.51.100.4 port 50122 ssh2: alice@EXAMPLE.COM",
            ok(SUCCESS, "gssapi-with-mic", "alice", "198.51.100.4", 50122),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parse(line), Some(want), "{line}");
    }
}

#[test]
fn connection_ids_with_a_username() {
    let cases = [
        (
            "ssh_dispatch_run_fatal: Connection from authenticating user root 192.0.2.13 port 33738: Broken pipe [preauth]",
            SshdMessage {
                invalid_user: Some(false),
                ..msg(
                    "ssh_protocol_error",
                    UNKNOWN,
                    Some("root"),
                    Some("192.0.2.13"),
                    Some(33738),
                )
            },
        ),
        (
            "Disconnecting invalid user admin 192.0.2.117 port 44004: Change of username or service not allowed: (admin,ssh-connection) -> (user,ssh-connection) [preauth]",
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
    ];
    for (line, want) in cases {
        assert_eq!(parse(line), Some(want), "{line}");
    }
}

/// Client-controlled text built from sshd's own vocabulary, dropped
/// into every slot of every message form where sshd logs the client's
/// text: the address decoded must be sshd's (203.0.113.7) or none.
#[test]
fn generated_injections_never_become_the_address() {
    const PIECES: [&str; 36] = [
        "from",
        "6.6.6.6",
        "port",
        "1",
        "ssh2",
        "ssh1",
        "ssh2:",
        ":",
        "[preauth]",
        "via",
        "evil.example",
        "rhost=6.6.6.6",
        "user=",
        "invalid",
        "user",
        "authenticating",
        "RSA",
        "SHA256:x",
        "ED25519-CERT",
        "ID",
        "(serial",
        "1)",
        "CA",
        ",",
        "client",
        "host",
        "\"",
        "\",",
        "signature",
        "count",
        "=",
        "ruser",
        "6.6.6.6:",
        "port 1:",
        "2001:db8::6",
        "port 1",
    ];
    let templates: [fn(&str, &str) -> String; 21] = [
        |u, _| format!("Failed password for {u} from 203.0.113.7 port 4242 ssh2"),
        |u, _| format!("Failed password for invalid user {u} from 203.0.113.7 port 4242 ssh2"),
        |u, _| {
            format!(
                "Failed password for invalid user {u} from 203.0.113.7 port 4242 ssh2 [preauth]"
            )
        },
        |u, _| {
            format!(
                "Failed publickey for invalid user {u} from 203.0.113.7 port 4242 ssh2: RSA SHA256:abc"
            )
        },
        |u, k| {
            format!(
                "Failed publickey for {u} from 203.0.113.7 port 4242 ssh2: ED25519-CERT SHA256:abc ID {k} (serial 5) CA ED25519 SHA256:def"
            )
        },
        |u, k| {
            format!(
                "Accepted publickey for {u} from 203.0.113.7 port 4242 ssh2: RSA-CERT ID {k} (serial 5) CA RSA SHA256:def"
            )
        },
        |u, k| {
            format!(
                "Failed hostbased for {u} from 203.0.113.7 port 4242 ssh2: RSA SHA256:abc, client user \"{k}\", client host \"{u}\""
            )
        },
        |u, k| {
            format!(
                "Failed hostbased for {u} from 203.0.113.7 port 4242 ssh2: RSA-CERT SHA256:abc ID {k} (serial 5) CA RSA SHA256:def, client user \"{u}\", client host \"{k}\""
            )
        },
        |u, _| {
            format!(
                "Accepted gssapi-with-mic for {u} from 203.0.113.7 port 4242 ssh2: alice@EXAMPLE.COM"
            )
        },
        |u, k| format!("Failed rhosts-rsa for {u} from 203.0.113.7 port 4242 ssh1: ruser {k}"),
        |u, k| format!("Failed rhosts-rsa for {u} from 203.0.113.7 port 4242 ruser {k}"),
        |u, _| format!("Invalid user {u} from 203.0.113.7 port 4242"),
        |u, _| {
            format!(
                "error: maximum authentication attempts exceeded for invalid user {u} from 203.0.113.7 port 4242 ssh2 [preauth]"
            )
        },
        |u, _| format!("error: PAM: Authentication failure for illegal user {u} from 203.0.113.7"),
        |u, _| format!("Connection closed by invalid user {u} 203.0.113.7 port 4242 [preauth]"),
        |u, _| format!("Disconnected from authenticating user {u} 203.0.113.7 port 4242 [preauth]"),
        |u, k| {
            let reason = format!(
                "Change of username or service not allowed: ({u},ssh-connection) -> ({k},ssh-connection)"
            );
            let reason: String = reason.chars().take(100).collect();
            format!(
                "Disconnecting authenticating user {u} 203.0.113.7 port 4242: {reason} [preauth]"
            )
        },
        |u, _| {
            format!(
                "ssh_dispatch_run_fatal: Connection from invalid user {u} 203.0.113.7 port 4242: Broken pipe [preauth]"
            )
        },
        |u, _| {
            format!(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user={u}"
            )
        },
        |u, _| format!("Failed password for {u} from 203.0.113.7"),
        |u, k| format!("Received disconnect from 203.0.113.7 port 4242:11: {u} {k} [preauth]"),
    ];
    // xorshift64*, fixed seed: the same strings on every run.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    };
    let text = |next: &mut dyn FnMut(usize) -> usize| {
        let mut s = String::new();
        for i in 0..1 + next(12) {
            if i > 0 && next(6) != 0 {
                s.push(' ');
            }
            s.push_str(PIECES[next(PIECES.len())]);
        }
        s
    };
    let mut named = 0;
    for _ in 0..4000 {
        let (u, k) = (text(&mut next), text(&mut next));
        for template in templates {
            let line = template(&u, &k);
            let m = parse(&line).unwrap_or_else(|| panic!("not decoded: {line}"));
            assert!(
                matches!(m.addr, None | Some("203.0.113.7")),
                "{line} -> {:?}",
                m.addr
            );
            named += usize::from(m.addr.is_some());
        }
    }
    // Most generated text imitates nothing: the address is still found.
    assert!(named > 4000 * templates.len() / 2, "named {named}");
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
    let s = |v: &str| FieldValue::from(v);
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
fn injected_addresses_never_reach_the_event() {
    let ev = event(
        "Mar 14 09:26:53 h sshd[1]: Failed password for invalid user x from 6.6.6.6 port 1 ssh2: from 203.0.113.7 port 4242 ssh2",
    );
    assert_eq!(ev.get_str("source.ip"), Some("203.0.113.7"));
    assert_eq!(ev.get("source.port"), Some(FieldValue::Int(4242)));
    assert_eq!(ev.get_str("user.name"), Some("x from 6.6.6.6 port 1 ssh2:"));
    assert_eq!(
        ev.observables,
        vec![
            Observable::new(ObservableKind::Host, "h", Some("host.hostname")),
            Observable::new(
                ObservableKind::User,
                "x from 6.6.6.6 port 1 ssh2:",
                Some("user.name")
            ),
            Observable::new(ObservableKind::Ip, "203.0.113.7", Some("source.ip")),
        ]
    );

    let ev = event(
        "Mar 14 09:26:53 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.2  user=test rhost=192.0.2.152",
    );
    assert_eq!(ev.get_str("source.ip"), Some("192.0.2.2"));
    assert_eq!(ev.get_str("user.name"), Some("test rhost=192.0.2.152"));

    // Ambiguous: still an sshd login failure, without user or address.
    let ev = event(
        "Mar 14 09:26:53 h sshd[1]: Failed rhosts-rsa for u from 203.0.113.7 port 4242 ssh1: ruser x from 6.6.6.6 port 1 ssh1",
    );
    let keys: Vec<&str> = ev.fields.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "event.action",
            "event.category",
            "event.kind",
            "event.module",
            "event.outcome",
            "host.hostname",
            "message",
            "process.name",
            "process.pid",
            "sshd.auth_method",
            "sshd.invalid_user",
        ]
    );
    assert_eq!(ev.get_str("event.outcome"), Some("failure"));
    assert_eq!(
        ev.observables,
        vec![Observable::new(
            ObservableKind::Host,
            "h",
            Some("host.hostname")
        )]
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
    let keys: Vec<&str> = ev.fields.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        ["host.hostname", "message", "process.name", "process.pid"]
    );
}
