#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! What `riposte serve`'s listeners let a client hold (issue #16): HTTPS
//! with the configured certificate, the API's and TAXII's connection cap and
//! header timeout, TAXII connections that never send a request while bans
//! are made and expire, and the syslog listeners' `allow_from` and limits.
//!
//! HTTP checks use `GET /api/v1/health` (it needs no API key) and `/api/v1/status` with a fixture key; bans
//! come from a tailed log file, not from the API.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A TCP connection that sends nothing; reads are bounded so that a server
/// which never closes it fails the test instead of hanging it.
fn idle_connection(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Reads until the server closes the connection (EOF, or a reset when it
/// closed with our bytes unread); what it sent before closing.
fn closed_by_server(s: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("{what}: expected the server to close the connection, got {e}"),
        }
    }
}

/// Whether the server still holds the connection open: nothing to read and
/// no EOF right now.
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1];
    let open = matches!(s.peek(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

/// Asserts that one line of `log` (its colour codes removed) holds every
/// part.
fn assert_logged(log: &str, parts: &[&str]) {
    let mut plain = String::with_capacity(log.len());
    let mut rest = log;
    while let Some(i) = rest.find("\x1b[") {
        plain.push_str(&rest[..i]);
        rest = rest[i..].split_once('m').map_or("", |(_, after)| after);
    }
    plain.push_str(rest);
    assert!(
        plain.lines().any(|l| parts.iter().all(|p| l.contains(p))),
        "no line holds all of {parts:?}:\n{plain}"
    );
}

/// A client that keeps no idle connection, so that none of its requests
/// holds one of a capped listener's slots afterwards.
fn unpooled_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A connection that has had one request answered (so it holds one of the
/// listener's slots) and stays open, idle, after it. A connection the
/// server closes before answering is retried: a slot another connection
/// just gave up is released an instant after its close.
fn served_keep_alive(port: u16, path: &str) -> TcpStream {
    for _ in 0..POLL_ATTEMPTS {
        let mut s = idle_connection(port);
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        if head.starts_with(b"HTTP/1.1 ") {
            // Read the body too (Content-Length), so the next read waits
            // for the server.
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let end = text.find("\r\n\r\n").unwrap() + 4;
            let len: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            let mut rest = vec![0u8; (end + len).saturating_sub(head.len())];
            s.read_exact(&mut rest).unwrap();
            return s;
        }
        std::thread::sleep(POLL_SLEEP);
    }
    panic!("port {port}: no connection was served");
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as
/// cert.pem and key.pem in `dir`; its PEM.
fn write_certificate(dir: &Path) -> String {
    let ck = rcgen::generate_simple_self_signed(["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    ck.cert.pem()
}

/// `api.tls`: `serve` answers HTTPS with the configured certificate, and a
/// plain-HTTP request to the same port gets no HTTP answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_https_with_the_configured_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pem = write_certificate(dir);
    let port = free_port();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port}, tls: {{ cert: cert.pem, key: key.pem }} }}\n",
            store = sqlite_url(dir)
        ),
    )
    .unwrap();
    let mut serve = Serve::start(&config, port, "serve");
    // Trusting this certificate only: the handshake proves it is the one
    // served.
    let https = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/api/v1/health");
    let mut answer = None;
    for _ in 0..POLL_ATTEMPTS {
        serve.assert_running("the HTTPS API");
        if let Ok(resp) = https.get(&url).send().await {
            answer = Some((resp.status(), resp.json::<Value>().await.unwrap()));
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    let (status, body) = answer.expect("the HTTPS API never answered");
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    // An authenticated route over the same connection kind.
    let resp = https
        .get(format!("https://localhost:{port}/api/v1/status"))
        .bearer_auth(riposte_testkit::identity::VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["counts"]["events"], 0, "{body}");

    // Plain HTTP to the TLS port: the TLS handshake fails and the
    // connection is closed; no HTTP response comes back.
    let mut plain = idle_connection(port);
    plain
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let got = closed_by_server(&mut plain, "plain HTTP on the TLS port");
    assert!(
        !got.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer: {:?}",
        String::from_utf8_lossy(&got)
    );
    // And reqwest over http:// fails outright.
    let err = client()
        .get(format!("http://127.0.0.1:{port}/api/v1/health"))
        .send()
        .await;
    assert!(err.is_err(), "plain HTTP answered: {err:?}");

    serve.sigterm();
    let status = serve.wait_exit("SIGTERM").await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
}

/// Certificate and key files that cannot be read fail `serve` (and
/// `check`) at start with both files named, before the store is created.
#[test]
fn unreadable_tls_files_fail_the_start_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port}, tls: {{ cert: missing-cert.pem, key: missing-key.pem }} }}\n",
            store = sqlite_url(dir)
        ),
    )
    .unwrap();
    for command in ["serve", "check"] {
        let out = Command::new(BIN)
            .args([command, "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        for want in [
            format!(
                "api.tls.cert: cannot read {}: ",
                dir.join("missing-cert.pem").display()
            ),
            format!(
                "api.tls.key: cannot read a private key from {}: ",
                dir.join("missing-key.pem").display()
            ),
        ] {
            assert!(
                stderr.contains(&want),
                "{command}: lacks {want:?}:\n{stderr}"
            );
        }
    }
    assert!(
        !dir.join("riposte.db").exists(),
        "the store is not opened with a bad certificate"
    );
}

/// The TAXII section of the tests below; `partner-token-0123456789` is the
/// client's token.
fn taxii_section(taxii_port: u16) -> String {
    format!(
        "taxii:\n  listen: 127.0.0.1:{taxii_port}\n  \
         collections:\n    - {{ id: blocklist, title: Blocklist }}\n  \
         clients:\n    - name: partner\n      \
         token_sha256: 806c00f30f63076c92fbeb415fb31ae9de08cb8d981c648e90f73a335a5533cc\n      \
         collections: [blocklist]\n"
    )
}

/// `api.max_connections` and `api.header_timeout`, on the API's listener
/// and TAXII's: past the cap a connection is closed at once while the held
/// ones stay open; the held ones, which never finish a request, are closed
/// after the header timeout; then both listeners serve again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_taxii_close_connections_past_the_cap_and_after_the_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (port, taxii_port) = (free_port(), free_port());
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port}, max_connections: 4, header_timeout: 5s }}\n\
             {taxii}",
            store = sqlite_url(dir),
            taxii = taxii_section(taxii_port)
        ),
    )
    .unwrap();
    let client = unpooled_client();
    let mut serve = Serve::start(&config, port, "serve");
    serve.wait_up(&client).await;

    let mut held = Vec::new();
    for (p, path) in [(port, "/api/v1/health"), (taxii_port, "/taxii2/")] {
        // Four held: three that had a request answered and went quiet (a
        // keep-alive connection between requests), the last one silent from
        // the start; one of the three then starts a request and never ends
        // its headers.
        for i in 0..3 {
            let mut s = served_keep_alive(p, path);
            if i == 2 {
                s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    .unwrap();
            }
            held.push((p, s));
        }
        held.push((p, idle_connection(p)));
        // The kernel queues connections in order, so the silent one is
        // accepted before these.
        for _ in 0..2 {
            let mut extra = idle_connection(p);
            let got = closed_by_server(&mut extra, "a connection past the cap");
            assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
        }
    }
    // The extras were closed for the cap, not for the timeout: the held
    // ones are all still open.
    let open: Vec<bool> = held.iter().map(|(_, s)| still_open(s)).collect();
    assert_eq!(open, [true; 8], "held connections (API ×4, TAXII ×4)");
    for (p, s) in &mut held {
        let got = closed_by_server(s, "a held connection after the header timeout");
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
            "port {p}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // The slots are free again.
    serve.wait_up(&client).await;
    let taxii = client
        .get(format!("http://127.0.0.1:{taxii_port}/taxii2/"))
        .bearer_auth("partner-token-0123456789")
        .header("Accept", "application/taxii+json;version=2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(taxii.status(), 200);
    let stderr = serve.stderr();
    for listener in ["listener=\"api\"", "listener=\"taxii\""] {
        assert_logged(
            &stderr,
            &[listener, "refused=2 max=4", "connection cap reached"],
        );
    }

    serve.sigterm();
    let status = serve.wait_exit("SIGTERM").await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
}

/// Issue #16's acceptance: 600 half-open TAXII connections must not starve
/// enforcers or the sweeper. With all 600 held open (header timeout 1h),
/// failed logins tailed from a file make a 3 s ban, the file enforcer
/// writes it, the sweeper expires it and the enforcer removes it, and the
/// API keeps answering throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_hundred_half_open_taxii_connections_do_not_starve_bans_or_the_sweeper() {
    const HALF_OPEN: usize = 600;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo");
    std::fs::copy(format!("{demo}/rules.yaml"), dir.join("rules.yaml")).unwrap();
    std::fs::create_dir(dir.join("playbooks")).unwrap();
    let playbook = std::fs::read_to_string(format!("{demo}/playbooks/ssh-bruteforce.yaml"))
        .unwrap()
        .replace("duration: 4h", "duration: 3s");
    assert!(playbook.contains("duration: 3s"), "{playbook}");
    std::fs::write(dir.join("playbooks/ssh-bruteforce.yaml"), playbook).unwrap();
    std::fs::write(dir.join("auth.log"), "").unwrap();
    let (port, taxii_port) = (free_port(), free_port());
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port}, max_connections: 1000, header_timeout: 1h }}\n\
             rules: [rules.yaml]\n\
             playbooks: [playbooks/]\n\
             sources:\n  - {{ name: auth, type: file, path: auth.log, format: syslog }}\n\
             respond: {{ sweep_interval: 1s }}\n\
             enforcers: [{{ type: file, path: blocklist.txt }}]\n\
             ingest: {{ poll_interval: 20ms }}\n\
             {taxii}",
            store = sqlite_url(dir),
            taxii = taxii_section(taxii_port)
        ),
    )
    .unwrap();
    let client = client();
    let mut serve = Serve::start(&config, port, "serve");
    serve.wait_up(&client).await;

    let half_open: Vec<TcpStream> = (0..HALF_OPEN)
        .map(|_| idle_connection(taxii_port))
        .collect();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("auth.log"))
        .unwrap();
    for line in syslog_lines(6, "203.0.113.7", 500) {
        writeln!(log, "{line}").unwrap();
    }
    drop(log);
    let blocklist = || std::fs::read_to_string(dir.join("blocklist.txt")).unwrap_or_default();

    let counts = serve
        .wait_health(&client, "the ban", |c| c["decisions_active"] == 1)
        .await;
    assert_eq!(counts["events"], 6, "{counts}");
    // The enforcer runs after the commit; give it its own bounded wait.
    let mut banned = false;
    for _ in 0..POLL_ATTEMPTS {
        if blocklist() == "203.0.113.7\n" {
            banned = true;
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    assert!(
        banned,
        "the blocklist never held the ban: {:?}",
        blocklist()
    );
    let counts = serve
        .wait_health(&client, "the sweeper to expire the ban", |c| {
            c["decisions_active"] == 0
        })
        .await;
    assert_eq!(counts["decisions_total"], 1, "{counts}");
    let mut lifted = false;
    for _ in 0..POLL_ATTEMPTS {
        if blocklist().is_empty() {
            lifted = true;
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    assert!(lifted, "the blocklist still holds {:?}", blocklist());
    // The half-open connections were held all along (none was refused or
    // timed out), so they were what the server carried meanwhile.
    let open = half_open.iter().filter(|s| still_open(s)).count();
    assert_eq!(open, HALF_OPEN);

    serve.sigterm();
    let status = serve.wait_exit("SIGTERM").await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
    drop(half_open);

    let store = riposte_store::open(&sqlite_url(dir)).await.unwrap();
    let decisions = store
        .list_decisions(&riposte_store::DecisionFilter::default())
        .await
        .unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let d = &decisions[0];
    assert_eq!(d.value, "203.0.113.7");
    assert_eq!(d.state, riposte_model::DecisionState::Expired, "{d:?}");
    assert_eq!(
        d.expires_at.unwrap() - d.created_at,
        chrono::TimeDelta::seconds(3),
        "{d:?}"
    );
}

/// The syslog listeners' `allow_from`, `max_connections` and
/// `idle_timeout`, wired through riposte.yaml: senders outside
/// `allow_from` are dropped (and logged), those inside are ingested; a TCP
/// listener with one slot closes a second connection, and frees the slot
/// when the first goes idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_listeners_filter_senders_and_bound_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let api = free_port();
    let [udp_far, udp_near, tcp_far, tcp_near] = [(); 4].map(|()| free_port());
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{api} }}\n\
             sources:\n\
             \x20 - {{ name: udp-far, type: syslog-udp, listen: \"127.0.0.1:{udp_far}\", allow_from: [10.0.0.0/8] }}\n\
             \x20 - {{ name: udp-near, type: syslog-udp, listen: \"127.0.0.1:{udp_near}\", allow_from: [127.0.0.0/8] }}\n\
             \x20 - {{ name: tcp-far, type: syslog-tcp, listen: \"127.0.0.1:{tcp_far}\", allow_from: [10.0.0.0/8] }}\n\
             \x20 - {{ name: tcp-near, type: syslog-tcp, listen: \"127.0.0.1:{tcp_near}\", allow_from: [127.0.0.1], max_connections: 1, idle_timeout: 2s }}\n\
             ingest: {{ poll_interval: 20ms }}\n",
            store = sqlite_url(dir)
        ),
    )
    .unwrap();
    let client = client();
    let mut serve = Serve::start(&config, api, "serve");
    serve.wait_up(&client).await;
    let line = |i: u32| {
        format!(
            "<38>Mar 14 09:27:0{i} bastion sshd[2303]: Failed password for root from 203.0.113.7 port 52230 ssh2\n"
        )
    };

    // From 127.0.0.1 to the sources that admit 10.0.0.0/8 only.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(line(1).as_bytes(), ("127.0.0.1", udp_far))
        .unwrap();
    let mut far = idle_connection(tcp_far);
    far.write_all(line(2).as_bytes()).unwrap();
    closed_by_server(&mut far, "a sender outside allow_from");
    // To the ones that admit it: the TCP one has a single slot.
    udp.send_to(line(3).as_bytes(), ("127.0.0.1", udp_near))
        .unwrap();
    let mut near = idle_connection(tcp_near);
    near.write_all(line(4).as_bytes()).unwrap();
    serve
        .wait_health(&client, "the admitted messages", |c| c["events"] == 2)
        .await;
    let mut second = idle_connection(tcp_near);
    closed_by_server(&mut second, "a second connection to a one-slot listener");
    assert!(still_open(&near), "the first connection keeps its slot");
    closed_by_server(&mut near, "an idle connection after idle_timeout");
    // Its slot serves the next sender (which may be turned away once while
    // the slot is released, and then reconnects, as syslog daemons do).
    'sender: for _ in 0..100 {
        let mut s = idle_connection(tcp_near);
        s.write_all(line(5).as_bytes()).unwrap();
        for _ in 0..POLL_ATTEMPTS {
            let health: Value = client
                .get(serve.url("/api/v1/status"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if health["counts"]["events"] == 3 {
                break 'sender;
            }
            if !still_open(&s) {
                continue 'sender;
            }
            tokio::time::sleep(POLL_SLEEP).await;
        }
        panic!("the message after the idle close was not ingested");
    }
    let stderr = serve.stderr();
    for parts in [
        [
            "source=udp-far",
            "refused=1",
            "datagram from a sender outside allow_from dropped",
        ],
        [
            "source=tcp-far",
            "refused=1",
            "connection from a sender outside allow_from closed",
        ],
        [
            "source=tcp-near",
            "refused=1",
            "connection cap reached; closing new connections",
        ],
        ["source=tcp-near", "closed=1", "idle connection closed"],
    ] {
        assert_logged(&stderr, &parts);
    }
    serve.sigterm();
    assert_eq!(serve.wait_exit("SIGTERM").await.code(), Some(0));

    let store = riposte_store::open(&sqlite_url(dir)).await.unwrap();
    for (source, want) in [
        ("udp-far", 0),
        ("tcp-far", 0),
        ("udp-near", 1),
        ("tcp-near", 2),
    ] {
        let got = store.list_events_by_source(source, 10).await.unwrap();
        assert_eq!(got.len(), want, "{source}: {got:?}");
    }
}
