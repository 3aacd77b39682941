use chrono::{TimeZone, Utc};
use riposte_model::FieldValue;

use super::*;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap()
}

fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn fields(ev: &Event) -> Vec<(&str, String)> {
    ev.fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_string()))
        .collect()
}

fn get(ev: &Event, k: &str) -> Option<String> {
    ev.get(k).map(|v| v.to_string())
}

#[test]
fn combined_access_line_has_exact_fields() {
    let ev = decode(
        r#"203.0.113.7 - alice [10/Oct/2000:13:55:36 -0700] "GET /a/b.php?x=1&y=2 HTTP/1.1" 404 2326 "http://ref.example/" "Mozilla/5.0 (X11)""#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.dataset, "webserver.access");
    assert_eq!(ev.timestamp, ts(2000, 10, 10, 20, 55, 36));
    assert_eq!(
        fields(&ev),
        [
            ("event.category", "web".to_owned()),
            ("event.kind", "event".into()),
            ("event.module", "webserver".into()),
            ("event.outcome", "failure".into()),
            ("event.type", "access".into()),
            ("http.request.method", "GET".into()),
            ("http.request.referrer", "http://ref.example/".into()),
            ("http.response.body.bytes", "2326".into()),
            ("http.response.status_code", "404".into()),
            ("http.version", "1.1".into()),
            ("message", "GET /a/b.php?x=1&y=2 HTTP/1.1".into()),
            ("source.ip", "203.0.113.7".into()),
            ("url.original", "/a/b.php?x=1&y=2".into()),
            ("url.path", "/a/b.php".into()),
            ("url.query", "x=1&y=2".into()),
            ("user.name", "alice".into()),
            ("user_agent.original", "Mozilla/5.0 (X11)".into()),
        ]
    );
    assert_eq!(
        ev.get("http.response.status_code"),
        Some(FieldValue::Int(404))
    );
    assert_eq!(
        ev.get("http.response.body.bytes"),
        Some(FieldValue::Int(2326))
    );
    let mut obs: Vec<(String, String)> = ev
        .observables
        .iter()
        .map(|o| (o.kind.to_string(), o.value.to_string()))
        .collect();
    obs.sort();
    assert_eq!(
        obs,
        [
            ("ip".to_owned(), "203.0.113.7".to_owned()),
            ("user".into(), "alice".into())
        ]
    );
}

#[test]
fn access_variants() {
    // (line, source.ip, user, url.domain, status, method, url.original, user agent)
    type Want = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: [(&str, Want); 10] = [
        // Common log format, no referrer or agent, `-` size.
        (
            r#"192.0.2.1 - - [14/Mar/2026:09:00:00 +0000] "HEAD / HTTP/1.0" 200 -"#,
            (
                Some("192.0.2.1"),
                None,
                None,
                Some("200"),
                Some("HEAD"),
                Some("/"),
                None,
            ),
        ),
        // IPv6 client, nginx's extra "$http_x_forwarded_for".
        (
            r#"2001:db8::1 - - [14/Mar/2026:09:00:00 +0100] "GET /x HTTP/2.0" 200 5 "-" "curl/8" "-""#,
            (
                Some("2001:db8::1"),
                None,
                None,
                Some("200"),
                Some("GET"),
                Some("/x"),
                Some("curl/8"),
            ),
        ),
        // Virtual host in front (vhost_combined), with its port.
        (
            r#"www.example.com:443 192.0.2.2 - bob [14/Mar/2026:09:00:00 +0000] "POST /login HTTP/1.1" 401 12 "-" "ua""#,
            (
                Some("192.0.2.2"),
                Some("bob"),
                Some("www.example.com"),
                Some("401"),
                Some("POST"),
                Some("/login"),
                Some("ua"),
            ),
        ),
        // A TLS handshake sent to the plain port.
        (
            r#"192.0.2.3 - - [14/Mar/2026:09:00:00 +1100] "\x16\x03\x01\x01 \x02" 400 226 "-" "-""#,
            (Some("192.0.2.3"), None, None, Some("400"), None, None, None),
        ),
        // An empty request.
        (
            r#"192.0.2.4 - - [14/Mar/2026:09:00:00 +0000] "" 400 0 "-" "-""#,
            (Some("192.0.2.4"), None, None, Some("400"), None, None, None),
        ),
        // Escaped quotes in the request and the agent (escape=json / Apache).
        (
            r#"192.0.2.5 - - [14/Mar/2026:09:00:00 +0000] "GET /q?a=\"x\" HTTP/1.1" 200 1 "-" "say \"hi\"""#,
            (
                Some("192.0.2.5"),
                None,
                None,
                Some("200"),
                Some("GET"),
                Some("/q?a=\"x\""),
                Some("say \"hi\""),
            ),
        ),
        // No zone, a space before the bracket, a virtual host after it,
        // Apache's `+ 293 1149 546` trailer (fail2ban's googlebot sample).
        (
            r#"66.249.66.1 - - - [31/Jan/2015:14:29:44 ] fail2ban.org "GET / HTTP/1.1" 200 814 "-" "Googlebot" + 293 1149 546"#,
            (
                Some("66.249.66.1"),
                None,
                Some("fail2ban.org"),
                Some("200"),
                Some("GET"),
                Some("/"),
                Some("Googlebot"),
            ),
        ),
        // Apache's `""` for an empty user.
        (
            r#"192.0.2.6 - "" [14/Mar/2026:09:00:00 +0000] "GET / HTTP/1.1" 401 0"#,
            (
                Some("192.0.2.6"),
                None,
                None,
                Some("401"),
                Some("GET"),
                Some("/"),
                None,
            ),
        ),
        // Absolute-form target (a proxy request).
        (
            r#"192.0.2.7 - - [14/Mar/2026:09:00:00 +0000] "GET http://evil.example/p?q=1 HTTP/1.1" 403 0"#,
            (
                Some("192.0.2.7"),
                None,
                None,
                Some("403"),
                Some("GET"),
                Some("http://evil.example/p?q=1"),
                None,
            ),
        ),
        // A client host name (HostnameLookups on).
        (
            r#"client.example.net - - [14/Mar/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
            (None, None, None, Some("200"), Some("GET"), Some("/"), None),
        ),
    ];
    for (line, want) in cases {
        let ev = decode(line, now()).unwrap_or_else(|e| panic!("{line}: {e}"));
        let got = (
            ev.get_str("source.ip"),
            ev.get_str("user.name"),
            ev.get_str("url.domain"),
            get(&ev, "http.response.status_code")
                .as_deref()
                .map(|s| match s {
                    "200" => "200",
                    "400" => "400",
                    "401" => "401",
                    "403" => "403",
                    _ => "other",
                }),
            ev.get_str("http.request.method"),
            ev.get_str("url.original"),
            ev.get_str("user_agent.original"),
        );
        assert_eq!(got, want, "{line}");
    }
    let ev = decode(
        r#"client.example.net - - [14/Mar/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.get_str("source.domain"), Some("client.example.net"));
    let ev = decode(
        r#"192.0.2.7 - - [14/Mar/2026:09:00:00 +0000] "GET http://evil.example/p?q=1 HTTP/1.1" 403 0"#,
        now(),
    )
    .unwrap();
    assert_eq!(
        (ev.get_str("url.path"), ev.get_str("url.query")),
        (Some("/p"), Some("q=1"))
    );
    let ev = decode(
        r#"66.249.66.1 - - - [31/Jan/2015:14:29:44 ] fail2ban.org "GET / HTTP/1.1" 200 814 "-" "G" + 1"#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.timestamp, ts(2015, 1, 31, 14, 29, 44));
}

/// The remote user is the client's text; it may imitate an address, a
/// time and a request, but not move the client or the request.
#[test]
fn hostile_remote_user() {
    let ev = decode(
        r#"192.0.2.9 - 6.6.6.6 - - [01/Jan/2000:00:00:00 +0000] \"GET /fake HTTP/1.1\" 200 1 [14/Mar/2026:09:00:00 +0000] "GET /real HTTP/1.1" 401 0"#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.get_str("source.ip"), Some("192.0.2.9"));
    assert_eq!(ev.get_str("url.original"), Some("/real"));
    assert_eq!(ev.timestamp, ts(2026, 3, 14, 9, 0, 0));
    assert_eq!(
        ev.get_str("user.name"),
        Some(r#"6.6.6.6 - - [01/Jan/2000:00:00:00 +0000] \"GET /fake HTTP/1.1\" 200 1"#)
    );
    // Two addresses in front: an IP-named virtual host, or an identd
    // answer that is an address. No client.
    let ev = decode(
        r#"192.0.2.9 6.6.6.6 - [14/Mar/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.get("source.ip"), None);
}

#[test]
fn access_errors_quote_the_line() {
    for (line, want) in [
        (
            "hello world",
            "not a webserver record: no quoted request in \"hello world\"",
        ),
        (
            r#"192.0.2.1 - - "GET / HTTP/1.1" 200 1"#,
            "not a webserver record: no [time] before the request in \"192.0.2.1 - - \\\"GET / HTTP/1.1\\\" 200 1\"",
        ),
        (
            r#"192.0.2.1 - - [14/Mar/2026:25:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
            "invalid timestamp \"14/Mar/2026:25:00:00 +0000\" (expected dd/Mmm/yyyy:hh:mm:ss[ ±hhmm])",
        ),
        (
            r#"192.0.2.1 - - [14/Mar/2026:09:00:00 +0000] "GET / HTTP/1.1" abc 1"#,
            "not a webserver record: expected a status after the request in \" abc 1\"",
        ),
        (
            r#"192.0.2.1 - - [14/Mar/2026:09:00:00 +0000] "GET / HTTP/1.1"#,
            "not a webserver record: unclosed request in \"\\\"GET / HTTP/1.1\"",
        ),
    ] {
        assert_eq!(decode(line, now()).unwrap_err().to_string(), want, "{line}");
    }
}

#[test]
fn nginx_error_line() {
    let ev = decode(
        r#"2024/01/01 12:00:00 [error] 123#0: *1 open() "/var/www/x" failed (2: No such file or directory), client: 192.0.2.1, server: x, request: "GET /x?a=b HTTP/1.1", host: "x""#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.dataset, "webserver.error");
    assert_eq!(ev.timestamp, ts(2024, 1, 1, 12, 0, 0));
    assert_eq!(
        fields(&ev),
        [
            ("event.category", "web".to_owned()),
            ("event.kind", "event".into()),
            ("event.module", "webserver".into()),
            ("event.type", "error".into()),
            ("http.request.method", "GET".into()),
            ("http.version", "1.1".into()),
            ("log.level", "error".into()),
            (
                "message",
                r#"open() "/var/www/x" failed (2: No such file or directory), client: 192.0.2.1, server: x, request: "GET /x?a=b HTTP/1.1", host: "x""#.into()
            ),
            ("process.pid", "123".into()),
            ("process.thread.id", "0".into()),
            ("source.ip", "192.0.2.1".into()),
            ("url.original", "/x?a=b".into()),
            ("url.path", "/x".into()),
            ("url.query", "a=b".into()),
        ]
    );
    let ev = decode(
        "2020/11/25 14:42:16 [crit] 76952#76952: *2454307 SSL_do_handshake() failed (SSL: error) while SSL handshaking, client: 2001:db8::5, server: 0.0.0.0:443",
        now(),
    )
    .unwrap();
    assert_eq!(
        (ev.get_str("source.ip"), ev.get_str("log.level")),
        (Some("2001:db8::5"), Some("crit"))
    );
    let ev = decode(
        r#"2022/04/02 13:39:51 [info] 8#8: *6631 client login failed: "AUTH not supported" while in http auth state, client: 5.34.207.182, server: 0.0.0.0:25, login: "a@example.com""#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.get_str("source.ip"), Some("5.34.207.182"));
}

/// The message before nginx's context and the context after it both hold
/// the client's text: an imitation of `, client: ADDR, server: NAME` on
/// either side leaves the line without a client, never with the fake.
#[test]
fn nginx_injected_client() {
    for line in [
        // In the user name, before (fail2ban's nginx-http-auth sample).
        r#"2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 6.6.6.6, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#,
        // In the request line, after.
        r#"2014/04/03 22:20:40 [error] 1#0: *3 open() "/x" failed, client: 192.0.2.2, server: a, request: "GET /", client: 6.6.6.6, server: b, request: "GET / HTTP/1.1", host: "h""#,
        // In the referrer, at the very end.
        r#"2014/04/03 22:20:40 [error] 1#0: *3 x, client: 192.0.2.2, server: a, request: "GET / HTTP/1.1", referrer: "r", client: 6.6.6.6, server: b"#,
    ] {
        let ev = decode(line, now()).unwrap();
        assert_eq!(ev.get("source.ip"), None, "{line}");
        assert_eq!(ev.get_str("log.level"), Some("error"));
    }
    // More imitations than the bound: no client, even though nginx's
    // own comes after them.
    let many = ", client: 6.6.6.6, x".repeat(17);
    let ev = decode(
        &format!(
            r#"2014/04/03 22:20:40 [error] 1#0: *3 user "{many}": password mismatch, client: 192.0.2.3, server: s, request: "GET / HTTP/1.1", host: "h""#
        ),
        now(),
    )
    .unwrap();
    assert_eq!(ev.get("source.ip"), None);
    let few = ", client: 6.6.6.6, x".repeat(15);
    let ev = decode(
        &format!(
            r#"2014/04/03 22:20:40 [error] 1#0: *3 user "{few}": password mismatch, client: 192.0.2.3, server: s, request: "GET / HTTP/1.1", host: "h""#
        ),
        now(),
    )
    .unwrap();
    assert_eq!(ev.get_str("source.ip"), Some("192.0.2.3"));
    // Text that only looks like it (no `server:` after it) is no candidate.
    let ev = decode(
        r#"2014/04/03 22:20:40 [error] 1#0: *3 user "a, client: 6.6.6.6, x": password mismatch, client: 192.0.2.3, server: s, request: "GET / HTTP/1.1", host: "h""#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.get_str("source.ip"), Some("192.0.2.3"));
}

#[test]
fn apache_error_lines() {
    let ev = decode(
        "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 123:tid 456] [client 192.0.2.1:5678] AH00126: Invalid URI in request GET /../ HTTP/1.1",
        now(),
    )
    .unwrap();
    assert_eq!(
        ev.timestamp,
        ts(2000, 10, 11, 14, 32, 52) + TimeDelta::microseconds(123_456)
    );
    assert_eq!(
        fields(&ev),
        [
            ("error.code", "AH00126".to_owned()),
            ("event.category", "web".into()),
            ("event.kind", "event".into()),
            ("event.module", "webserver".into()),
            ("event.type", "error".into()),
            ("log.level", "error".into()),
            ("log.logger", "core".into()),
            (
                "message",
                "AH00126: Invalid URI in request GET /../ HTTP/1.1".into()
            ),
            ("process.pid", "123".into()),
            ("process.thread.id", "456".into()),
            ("source.ip", "192.0.2.1".into()),
            ("source.port", "5678".into()),
        ]
    );
    for (line, ip, port) in [
        (
            "[Wed Oct 11 14:32:52 2000] [error] [client 192.0.2.2] user x not found: /",
            Some("192.0.2.2"),
            None,
        ),
        (
            "[Sat Jul 20 22:11:44.147674 2013] [authz_owner:error] [pid 1:tid 2] [client [2001:db8::8b2c]:51548] AH01637: x",
            Some("2001:db8::8b2c"),
            Some("51548"),
        ),
        (
            "[Thu Jul 11 01:21:44 2013] [error] [client 2001:db8::80da] user test-ipv6 not found: /",
            Some("2001:db8::80da"),
            None,
        ),
        (
            "[Mon Nov 06 13:39:56.637868 2023] [auth_basic:error] [pid 3175001:tid 1] [remote 192.0.2.111:35924] AH01618: user whatever not found: /admin",
            Some("192.0.2.111"),
            Some("35924"),
        ),
        // The message quoting another `[client …]` does not move it.
        (
            "[Sat Jun 01 02:17:42 2013] [error] [client 192.168.33.1] File does not exist: /srv/http/site/[client 6.6.6.6] user root not found",
            Some("192.168.33.1"),
            None,
        ),
        // No client in the header: the message's is not taken.
        (
            "[Sat Jun 01 02:17:42 2013] [notice] [pid 1] caught SIGTERM [client 6.6.6.6]",
            None,
            None,
        ),
    ] {
        let ev = decode(line, now()).unwrap();
        assert_eq!(
            (ev.get_str("source.ip"), get(&ev, "source.port").as_deref()),
            (ip, port),
            "{line}"
        );
    }
    assert_eq!(
        decode("[Wed Oct 11 14:32:52 2000] [fatal] x", now())
            .unwrap_err()
            .to_string(),
        "not a webserver record: unknown Apache log level \"fatal\""
    );
}

#[test]
fn syslog_wrapped_lines() {
    // Apache `ErrorLog syslog`: the time comes from the syslog header.
    let ev = decode(
        "Feb 15 16:23:00 srv httpd/backend1[22034]: [authz_core:error] [pid 22036] [client 192.0.2.2:59392] AH01630: client denied by server configuration: /home/backend1/",
        now(),
    )
    .unwrap();
    assert_eq!(ev.timestamp, ts(2026, 2, 15, 16, 23, 0));
    assert_eq!(ev.get_str("source.ip"), Some("192.0.2.2"));
    assert_eq!(ev.get_str("host.hostname"), Some("srv"));
    assert_eq!(ev.get_str("process.name"), Some("httpd/backend1"));
    assert_eq!(ev.get("process.pid"), Some(FieldValue::Int(22036)));
    // An access line behind a syslog header keeps its own time.
    let ev = decode(
        r#"<190>Sep 15 16:13:46 web nginx[2869]: 81.150.104.130 - - [15/Sep/2021:16:13:46 +0000] "POST /wp-login.php HTTP/1.1" 200 5364 "-" "Firefox""#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.timestamp, ts(2021, 9, 15, 16, 13, 46));
    assert_eq!(ev.dataset, "webserver.access");
    assert_eq!(ev.get_str("source.ip"), Some("81.150.104.130"));
    assert_eq!(ev.get_str("process.name"), Some("nginx"));
    // A journal export without a timestamp, twice wrapped.
    let ev = decode(
        r#"host nginx[23141]: host nginx: 2025/09/07 21:20:40 [error] 23141#23141: *24470 PAM: user 'u' - not authenticated: Authentication failure, client: 192.0.2.120, server: w, request: "GET / HTTP/2.0", host: "w""#,
        now(),
    )
    .unwrap();
    assert_eq!(ev.timestamp, ts(2025, 9, 7, 21, 20, 40));
    assert_eq!(ev.get_str("source.ip"), Some("192.0.2.120"));
    assert_eq!(ev.get_str("host.hostname"), Some("host"));
    // A syslog line whose message is not a web server line.
    assert_eq!(
        decode("Feb 15 16:23:00 srv cron[1]: (root) CMD (true)", now())
            .unwrap_err()
            .to_string(),
        "not a webserver record: the syslog message is not a web server line: no quoted request in \"(root) CMD (true)\""
    );
}
