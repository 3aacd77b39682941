//! `riposte serve` as a process: crash recovery of file sources, clean
//! shutdown, the REST API end to end, and configuration errors.
//!
//! Every wait is a bounded poll (see `common`); no assertion depends on how
//! fast the machine is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

mod common;
use common::*;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo");

/// A threshold rule on sshd failures (the demo's ssh-bruteforce rule).
const SSH_RULES: &str = r#"version: 1
rules:
  - id: ssh-bruteforce
    title: SSH brute force
    kind: threshold
    match:
      event.dataset: sshd
      event.action: ssh_login
      event.outcome: failure
    group_by: [source.ip]
    count: 6
    window: 60s
    severity: high
    confidence: 85
    summary: "{{ count }} failed SSH logins from {{ group['source.ip'] }}"
"#;

fn counts_sum(c: &Value) -> u64 {
    c["events"].as_u64().unwrap() + c["dead_letters"].as_u64().unwrap()
}

/// The generated auth.log: its bytes, and the line-start offsets of the lines
/// that decode (events) and of those that do not (dead letters).
struct AuthLog {
    bytes: Vec<u8>,
    good: Vec<u64>,
    garbage: Vec<u64>,
}

fn auth_log(lines: usize) -> AuthLog {
    let mut log = AuthLog {
        bytes: Vec::new(),
        good: Vec::new(),
        garbage: Vec::new(),
    };
    for i in 0..lines {
        let offset = log.bytes.len() as u64;
        let t = 9 * 3600 + i / 4;
        let ts = format!("Mar 14 {:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
        let pid = 1000 + i % 5000;
        let line: Vec<u8> = if i % 997 == 500 {
            format!("garbage line {i}: not a syslog record").into_bytes()
        } else if i % 4999 == 42 {
            // Not UTF-8: a dead letter too.
            let mut v = format!("{ts} bastion sshd[{pid}]: Latin-1 caf").into_bytes();
            v.push(0xe9);
            v
        } else if i % 10 == 0 {
            format!("{ts} bastion sshd[{pid}]: Accepted publickey for alice from 198.51.100.4 port {} ssh2", 40000 + i % 20000)
                .into_bytes()
        } else if i % 10 == 5 {
            format!("{ts} bastion CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
                .into_bytes()
        } else {
            format!(
                "{ts} bastion sshd[{pid}]: Failed password for root from 203.0.113.{} port {} ssh2",
                i % 250 + 1,
                1024 + i % 60000
            )
            .into_bytes()
        };
        if line.starts_with(b"garbage") || std::str::from_utf8(&line).is_err() {
            log.garbage.push(offset);
        } else {
            log.good.push(offset);
        }
        log.bytes.extend_from_slice(&line);
        log.bytes.push(b'\n');
    }
    log
}

fn write_file_source_config(dir: &Path, port: u16) -> PathBuf {
    let config = dir.join("riposte.yaml");
    let text = format!(
        "version: 1\n\
         store: {store}\n\
         api: {{ listen: 127.0.0.1:{port} }}\n\
         rules: [rules.yaml]\n\
         playbooks: []\n\
         sources:\n  - {{ name: auth, type: file, path: auth.log, format: syslog }}\n\
         ingest: {{ batch_lines: 50, poll_interval: 50ms }}\n",
        store = sqlite_url(dir)
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_file_then_restart_processes_every_line_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("rules.yaml"), SSH_RULES).unwrap();
    let log = auth_log(20_000);
    let total = (log.good.len() + log.garbage.len()) as u64;
    assert_eq!(total, 20_000);
    assert!(
        log.garbage.len() >= 20,
        "the file should hold a few dead letters"
    );
    std::fs::write(dir.join("auth.log"), &log.bytes).unwrap();
    let client = client();

    // First run: killed as soon as it has committed something.
    let port = free_port();
    let config = write_file_source_config(dir, port);
    let mut first = Serve::start(&config, port, "first");
    let seen = first
        .wait_health(&client, "the first batches to be committed", |c| {
            counts_sum(c) > 0
        })
        .await;
    first.sigkill();
    assert!(
        counts_sum(&seen) < total,
        "health already counted every line before the kill ({seen}); make the file larger"
    );
    // What the killed process had committed, read from the store itself.
    let store = riposte_store::open(&sqlite_url(dir)).await.unwrap();
    let at_kill = store.counts().await.unwrap();
    let committed = at_kill.events + at_kill.dead_letters;
    assert!(
        committed > 0 && committed < total,
        "the kill should land mid-file: {committed} of {total} lines committed"
    );
    eprintln!(
        "killed after committing {committed} of {total} lines (health had counted {})",
        counts_sum(&seen)
    );
    let cp = store
        .checkpoint("auth")
        .await
        .unwrap()
        .expect("a checkpoint after the first batches")
        .offset;
    assert!(
        cp < log.bytes.len() as u64,
        "checkpoint {cp} already at the end of the file"
    );
    drop(store);

    // Second run: resumes from the checkpoint and finishes the file.
    let port = free_port();
    let config = write_file_source_config(dir, port);
    let mut second = Serve::start(&config, port, "second");
    second
        .wait_health(
            &client,
            "every line to be committed after the restart",
            |c| counts_sum(c) >= total,
        )
        .await;
    second.sigterm();
    let status = second.wait_exit("SIGTERM").await;
    assert!(
        status.success(),
        "serve exited with {status}; stderr:\n{}",
        second.stderr()
    );

    let store = riposte_store::open(&sqlite_url(dir)).await.unwrap();
    let events = store.list_events_by_source("auth", 100_000).await.unwrap();
    assert_eq!(events.len(), log.good.len(), "one event per good line");
    let offsets: Vec<u64> = events
        .iter()
        .map(|e| {
            e.origin
                .as_ref()
                .expect("file events carry their origin")
                .offset
        })
        .collect();
    for pair in offsets.windows(2) {
        assert!(
            pair[0] < pair[1],
            "offsets not strictly increasing (duplicate or disorder): {pair:?}"
        );
    }
    assert_eq!(
        offsets, log.good,
        "event offsets are exactly the good lines' offsets"
    );
    for e in &events {
        let origin = e.origin.as_ref().unwrap();
        assert_eq!(origin.source, "auth");
        let start = origin.offset as usize;
        let end = start + log.bytes[start..].iter().position(|&b| b == b'\n').unwrap();
        assert_eq!(
            e.original.as_deref().map(str::as_bytes),
            Some(&log.bytes[start..end])
        );
    }

    let counts = store.counts().await.unwrap();
    assert_eq!(counts.events, log.good.len() as u64);
    assert_eq!(counts.dead_letters, log.garbage.len() as u64);
    let dead = store.list_dead_letters(100_000).await.unwrap();
    let dead_offsets: BTreeSet<u64> = dead
        .iter()
        .map(|d| d.offset.expect("file dead letters have offsets"))
        .collect();
    assert_eq!(
        dead_offsets.len(),
        dead.len(),
        "a dead letter was stored twice"
    );
    assert_eq!(
        dead_offsets,
        log.garbage.iter().copied().collect::<BTreeSet<_>>()
    );
    assert!(
        dead.iter()
            .all(|d| d.source == "auth" && d.format == "syslog")
    );
    assert_eq!(
        store.checkpoint("auth").await.unwrap().map(|c| c.offset),
        Some(log.bytes.len() as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_keeps_acknowledged_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("rules.yaml"), SSH_RULES).unwrap();
    std::fs::write(dir.join("empty.log"), "").unwrap();
    let port = free_port();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port} }}\n\
             rules: [rules.yaml]\n\
             sources:\n  - {{ name: empty, type: file, path: empty.log, format: syslog }}\n\
             ingest: {{ poll_interval: 50ms }}\n",
            store = sqlite_url(dir)
        ),
    )
    .unwrap();
    let client = client();
    let mut serve = Serve::start(&config, port, "serve");
    serve.wait_up(&client).await;

    let mut sent = 0;
    for (n, ip) in [
        (3, "198.51.100.1"),
        (4, "198.51.100.2"),
        (5, "198.51.100.3"),
    ] {
        let body = post_syslog(&client, &serve, &syslog_lines(n, ip, 100)).await;
        assert_eq!(body["events"], n, "{body}");
        assert_eq!(body["dead_letters"], 0, "{body}");
        sent += n as u64;
    }

    serve.sigterm();
    let status = serve.wait_exit("SIGTERM").await;
    assert_eq!(
        status.code(),
        Some(0),
        "serve exited with {status}; stderr:\n{}",
        serve.stderr()
    );
    assert!(
        serve.stderr().contains("stopped cleanly"),
        "stderr:\n{}",
        serve.stderr()
    );

    let store = riposte_store::open(&sqlite_url(dir)).await.unwrap();
    assert_eq!(store.counts().await.unwrap().events, sent);
    let stored = store.list_events_by_source("api", 1_000).await.unwrap();
    assert_eq!(
        stored.len() as u64,
        sent,
        "every acknowledged event is stored"
    );
    assert_eq!(
        store.checkpoint("empty").await.unwrap(),
        None,
        "nothing was read from the empty file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_lists_alerts_cases_and_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(format!("{DEMO}/rules.yaml"), dir.join("rules.yaml")).unwrap();
    std::fs::create_dir(dir.join("playbooks")).unwrap();
    for pb in ["ssh-bruteforce.yaml", "suricata-high.yaml"] {
        std::fs::copy(
            format!("{DEMO}/playbooks/{pb}"),
            dir.join("playbooks").join(pb),
        )
        .unwrap();
    }
    let port = free_port();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port} }}\n\
             rules: [rules.yaml]\n\
             playbooks: [playbooks/]\n\
             respond: {{ allowlist: [10.0.0.0/8] }}\n\
             enforcers: [{{ type: file, path: blocklist.txt }}]\n",
            store = sqlite_url(dir)
        ),
    )
    .unwrap();
    let client = client();
    let mut serve = Serve::start(&config, port, "serve");
    serve.wait_up(&client).await;

    let body = post_syslog(&client, &serve, &syslog_lines(6, "203.0.113.7", 200)).await;
    assert_eq!(
        body,
        json!({"events": 6, "dead_letters": 0, "ignored": 0, "alerts": 1, "decisions": 1})
    );
    // 10.0.0.5 is allowlisted: an alert and a case, but the ban is refused.
    let body = post_syslog(&client, &serve, &syslog_lines(6, "10.0.0.5", 300)).await;
    assert_eq!(
        body,
        json!({"events": 6, "dead_letters": 0, "ignored": 0, "alerts": 1, "decisions": 0})
    );

    let get = |path: &str| {
        let url = serve.url(path);
        let client = client.clone();
        async move {
            let resp = client.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), reqwest::StatusCode::OK, "GET {url}");
            resp.json::<Value>().await.unwrap()
        }
    };

    let alerts = get("/api/v1/alerts").await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts.iter().all(|a| a["rule_id"] == "ssh-bruteforce"),
        "{alerts:?}"
    );
    let alerted: BTreeSet<&str> = alerts
        .iter()
        .map(|a| a["group"]["source.ip"].as_str().unwrap())
        .collect();
    assert_eq!(alerted, BTreeSet::from(["10.0.0.5", "203.0.113.7"]));

    let cases = get("/api/v1/cases").await;
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 2, "{cases:?}");
    let titles: BTreeSet<&str> = cases.iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        BTreeSet::from([
            "SSH brute force from 10.0.0.5",
            "SSH brute force from 203.0.113.7"
        ])
    );

    let decisions = get("/api/v1/decisions").await;
    let decisions = decisions.as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let d = &decisions[0];
    assert_eq!(d["value"], "203.0.113.7");
    assert_eq!(d["kind"], "ban");
    assert_eq!(d["scope"], "ip");
    assert_eq!(d["state"], "active");
    let time = |key: &str| serde_json::from_value::<DateTime<Utc>>(d[key].clone()).unwrap();
    assert_eq!(time("expires_at") - time("created_at"), TimeDelta::hours(4));
    let active = get("/api/v1/decisions?state=active").await;
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");

    assert_eq!(
        std::fs::read_to_string(dir.join("blocklist.txt")).unwrap(),
        "203.0.113.7\n"
    );

    // Bad requests are refused and change nothing.
    let resp = client
        .post(serve.url("/api/v1/events?format=syslog"))
        .header("content-type", "application/json")
        .body("this is not JSON")
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_client_error(),
        "malformed body answered {}",
        resp.status()
    );
    let resp = client
        .post(serve.url("/api/v1/events?format=nope"))
        .json(&json!(["Mar 14 09:26:53 bastion sshd[1]: hello"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("nope") && error.contains("suricata-eve") && error.contains("syslog"),
        "the error should name the bad format and list valid ones: {body}"
    );
    assert_eq!(
        get("/api/v1/health").await,
        serde_json::json!({"status": "ok"})
    );
    let health = get("/api/v1/status").await;
    assert_eq!(health["counts"]["events"], 12, "{health}");
    assert_eq!(health["counts"]["dead_letters"], 0, "{health}");

    serve.sigterm();
    let status = serve.wait_exit("SIGTERM").await;
    assert!(
        status.success(),
        "serve exited with {status}; stderr:\n{}",
        serve.stderr()
    );
}

#[test]
fn serve_rejects_a_bad_config_listing_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("rules.yaml"), SSH_RULES).unwrap();
    let config = dir.join("riposte.yaml");
    let port = free_port();
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port} }}\n\
             rules: [rules.yaml]\n\
             colour: blue\n\
             sources:\n  - {{ name: auth, type: file, path: auth.log, format: sylog }}\n\
             respond: {{ allowlist: [10.0.0.0/8, 10.0.0.300] }}\n",
            store = sqlite_url(dir)
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("running riposte serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a bad config must fail; stderr:\n{stderr}"
    );
    let file = config.display().to_string();
    let mut missing = String::new();
    for want in [
        format!("{file}: colour: unknown key"),
        format!("{file}: respond.allowlist[1]: \"10.0.0.300\" is not an IP address or CIDR"),
        format!(
            "{file}: sources[0].format: {}",
            riposte_ingest::UnknownFormat("sylog".into())
        ),
        "3 problems".to_owned(),
    ] {
        if !stderr.contains(&want) {
            writeln!(missing, "  {want}").unwrap();
        }
    }
    assert!(
        missing.is_empty(),
        "stderr lacks:\n{missing}stderr was:\n{stderr}"
    );
    assert!(
        !dir.join("riposte.db").exists(),
        "nothing is opened when the config is invalid"
    );
}

/// `serve` wires every configured source type: syslog over TCP and UDP, a
/// generic JSON file with a mapping, and an EVTX directory, all into one
/// store; a port already in use fails the start with the source named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_network_json_and_evtx_dir_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (api, tcp, udp) = (free_port(), free_port(), free_port());
    std::fs::write(
        dir.join("app.json"),
        "{\"when\":\"2026-03-14T09:00:00Z\",\"client\":{\"addr\":\"203.0.113.9\"},\"who\":\"eve\"}\nnot json\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("evtx")).unwrap();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{api} }}\n\
             sources:\n\
             \x20 - {{ type: syslog-tcp, listen: \"127.0.0.1:{tcp}\" }}\n\
             \x20 - {{ type: syslog-udp, listen: \"127.0.0.1:{udp}\" }}\n\
             \x20 - {{ name: app, type: file, path: app.json, format: json, mapping: {{ dataset: app, timestamp: when, fields: {{ source.ip: client.addr, user.name: who }} }} }}\n\
             \x20 - {{ name: win, type: evtx-dir, path: evtx }}\n\
             ingest: {{ poll_interval: 20ms }}\n",
            store = sqlite_url(dir)
        ),
    )
    .unwrap();
    let client = client();
    let mut serve = Serve::start(&config, api, "serve");
    serve.wait_up(&client).await;

    let line = "<38>Mar 14 09:27:01 bastion sshd[2303]: Failed password for root from 203.0.113.7 port 52230 ssh2";
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", tcp)).unwrap();
    std::io::Write::write_all(&mut stream, format!("{} {line}", line.len()).as_bytes()).unwrap();
    drop(stream);
    let udp_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_socket
        .send_to(line.as_bytes(), ("127.0.0.1", udp))
        .unwrap();
    serve
        .wait_health(&client, "tcp, udp and the json file", |c| {
            c["events"].as_u64() == Some(3) && c["dead_letters"].as_u64() == Some(1)
        })
        .await;
    serve.sigterm();
    assert_eq!(serve.wait_exit("SIGTERM").await.code(), Some(0));

    let store = riposte_store::open(&sqlite_url(dir)).await.unwrap();
    let tcp_events = store
        .list_events_by_source(&format!("syslog-tcp:127.0.0.1:{tcp}"), 10)
        .await
        .unwrap();
    let udp_events = store
        .list_events_by_source(&format!("syslog-udp:127.0.0.1:{udp}"), 10)
        .await
        .unwrap();
    for events in [&tcp_events, &udp_events] {
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].get_str("source.ip"), Some("203.0.113.7"));
        assert_eq!(events[0].dataset, "sshd");
    }
    let app = store.list_events_by_source("app", 10).await.unwrap();
    assert_eq!(app.len(), 1);
    assert_eq!(app[0].dataset, "app");
    assert_eq!(app[0].get_str("source.ip"), Some("203.0.113.9"));
    assert_eq!(app[0].get_str("user.name"), Some("eve"));
    assert_eq!(app[0].timestamp.to_rfc3339(), "2026-03-14T09:00:00+00:00");
    let dl = &store.list_dead_letters(10).await.unwrap()[0];
    assert_eq!((dl.source.as_str(), dl.format.as_str()), ("app", "json"));

    // The TCP port is taken now by another listener: start fails, naming it.
    let _holder = std::net::TcpListener::bind(("127.0.0.1", tcp)).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: source syslog-tcp:127.0.0.1:{tcp}: binding TCP 127.0.0.1:{tcp}"
        )),
        "{stderr}"
    );
}

/// `taxii.listen`: TAXII on a listener of its own (and not on the API's),
/// authenticated, serving what the store holds; the intel routes on the
/// API; SIGTERM stops both listeners cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shares_intel_over_taxii_on_its_own_listener() {
    use riposte_model::{Indicator, IndicatorKind, Tlp};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = riposte_store::open(&sqlite_url(dir)).await.unwrap();
    let shared = Indicator::new(IndicatorKind::Ip, "203.0.113.7", "bl");
    let mut red = Indicator::new(IndicatorKind::Ip, "203.0.113.8", "bl");
    red.tlp = Tlp::Red;
    let mut tx = store.begin().await.unwrap();
    tx.upsert_indicators(&[shared.clone(), red], Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drop(store);

    let (port, taxii_port) = (free_port(), free_port());
    let config = dir.join("riposte.yaml");
    // sha256("partner-token-0123456789")
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             store: {store}\n\
             api: {{ listen: 127.0.0.1:{port} }}\n\
             taxii:\n  listen: 127.0.0.1:{taxii_port}\n  \
             collections:\n    - {{ id: blocklist, title: Blocklist, max_tlp: amber }}\n  \
             clients:\n    - name: partner\n      \
             token_sha256: {digest}\n      collections: [blocklist]\n",
            store = sqlite_url(dir),
            digest = "806c00f30f63076c92fbeb415fb31ae9de08cb8d981c648e90f73a335a5533cc"
        ),
    )
    .unwrap();
    let client = client();
    let mut serve = Serve::start(&config, port, "serve");
    serve.wait_up(&client).await;

    let objects = client
        .get(format!(
            "http://127.0.0.1:{taxii_port}/taxii2/riposte/collections/blocklist/objects/"
        ))
        .header("Accept", "application/taxii+json;version=2.1")
        .bearer_auth("partner-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(objects.status(), 200);
    let body: Value = objects.json().await.unwrap();
    let ids: Vec<&str> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [shared.stix_id().as_str()]);
    let refused = client
        .get(format!("http://127.0.0.1:{taxii_port}/taxii2/"))
        .bearer_auth("partner-token-012345678X")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // Not on the API's listener.
    let api = client.get(serve.url("/taxii2/")).send().await.unwrap();
    assert_eq!(api.status(), 404);
    let lookup: Value = client
        .get(serve.url("/api/v1/intel/lookup?value=203.0.113.7"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lookup["found"][0]["feed"], "bl");

    serve.sigterm();
    let status = serve.wait_exit("SIGTERM").await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
}
