//! `POST /api/v1/events` against `riposte serve` as a process: bodies built
//! to cost memory (a gzip'd NDJSON bomb of short lines, a gzip'd JSON array
//! of a huge number of elements) are refused, and the process's peak
//! resident set (`VmHWM`) stays under a bound; the service still answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

mod common;
use common::*;

/// The most the serve process may ever have held resident, bombs included.
/// Measured with this test (debug build, VmHWM): idle 52 MiB; before
/// intake was streamed, 3,556 MiB after the JSON array bomb (the inflated
/// body, then a `Value` per element) and 1,924 MiB after the NDJSON bomb
/// alone (the body, then a `Line` per line); streamed, 69 MiB after both.
/// The bound leaves about 3 times the streamed figure's margin over idle.
const MAX_PEAK_RSS_KIB: u64 = 200 * 1024;

/// The 64 MiB an intake body may inflate to (`MAX_INFLATED_BYTES`).
const INFLATED: usize = 64 << 20;

/// `pattern` repeated to `total` bytes, gzip'd as one member per MiB
/// (gzip readers inflate concatenated members as one stream): 64 MiB of
/// short lines in about 64 KiB, built without compressing 64 MiB.
fn gzip_bomb(head: &[u8], pattern: &[u8], tail: &[u8], total: usize) -> Vec<u8> {
    let gz = |data: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    };
    let mib = pattern.repeat((1 << 20) / pattern.len());
    let member = gz(&mib);
    let mut out = gz(head);
    let mut inflated = head.len();
    while inflated + mib.len() + tail.len() <= total {
        out.extend_from_slice(&member);
        inflated += mib.len();
    }
    out.extend_from_slice(&gz(tail));
    out
}

/// The process's peak resident set, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn post_gzip(
    client: &reqwest::Client,
    serve: &Serve,
    content_type: &str,
    body: Vec<u8>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let resp = client
        .post(serve.url("/api/v1/events?format=syslog"))
        .header("content-type", content_type)
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .expect("POST /api/v1/events");
    let status = resp.status();
    (status, resp.json().await.expect("the answer is JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_bombs_are_refused_within_a_memory_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\nstore: {}\napi: {{ listen: 127.0.0.1:{port} }}\n",
            sqlite_url(dir)
        ),
    )
    .unwrap();
    let mut serve = Serve::start(&config, port, "serve");
    let client = client();
    serve.wait_up(&client).await;
    // Bounded too, but long enough for a server that inflates everything.
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", riposte_testkit::identity::INTAKE)
            .parse()
            .unwrap(),
    );
    let slow = reqwest::Client::builder()
        .default_headers(auth)
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap();
    let pid = serve.child.id();
    let idle = peak_rss_kib(pid);

    let array = gzip_bomb(b"[0", b",0", b"]", INFLATED);
    assert!(array.len() < 128 << 10, "a small bomb: {}", array.len());
    let array_answer = post_gzip(&slow, &serve, "application/json", array).await;
    let after_array = peak_rss_kib(pid);
    eprintln!("VmHWM: {idle} KiB idle, {after_array} KiB after the JSON array bomb");

    let lines = gzip_bomb(b"", b"a\n", b"", INFLATED);
    assert!(lines.len() < 128 << 10, "a small bomb: {}", lines.len());
    let lines_answer = post_gzip(&slow, &serve, "application/x-ndjson", lines).await;
    let peak = peak_rss_kib(pid);
    eprintln!("VmHWM: {peak} KiB after the NDJSON bomb too");
    for (status, body) in [array_answer, lines_answer] {
        assert_eq!(
            (status, body["error"].as_str()),
            (
                reqwest::StatusCode::BAD_REQUEST,
                Some("more than 10000 records in one request; the limit is 10000")
            )
        );
    }
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB (idle {idle} KiB, after the JSON array bomb {after_array} KiB) exceeds {MAX_PEAK_RSS_KIB} KiB"
    );

    // Nothing of either bomb was stored, and the service goes on.
    let counts = serve.wait_health(&client, "the API", |_| true).await;
    assert_eq!(
        (counts["events"].as_u64(), counts["dead_letters"].as_u64()),
        (Some(0), Some(0))
    );
    let line = "Mar 14 09:27:01 bastion sshd[2303]: Failed password for root from 203.0.113.7 port 52230 ssh2";
    let summary = post_syslog(&client, &serve, &[line.to_owned()]).await;
    assert_eq!(summary["events"], 1, "{summary}");
    serve
        .wait_health(&client, "the record stored", |c| c["events"] == 1)
        .await;
}
