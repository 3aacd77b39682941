#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! `riposte ingest`: format detection, gzip and stdin inputs, decode-only
//! output, and one-shot ingestion into the configured store.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn riposte(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo");
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).unwrap();
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &to).unwrap();
    }
    dir
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn ingest_detects_formats_and_stores_through_the_pipeline() {
    let dir = demo_copy();
    let d = dir.path();
    let config = d.join("riposte.yaml");
    let out = riposte(
        &[
            "ingest",
            "-c",
            config.to_str().unwrap(),
            d.join("auth.log").to_str().unwrap(),
            d.join("eve.json").to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}: syslog (detected), 21 records: 20 events, 1 dead-lettered, 0 ignored\n\
             {}: suricata-eve (detected), 7 records: 5 events, 1 dead-lettered, 1 ignored\n\
             stored: 5 alerts, 4 cases touched, 2 decisions, 2 refused\n",
            d.join("auth.log").display(),
            d.join("eve.json").display()
        )
    );
    let blocklist = std::fs::read_to_string(d.join("riposte-data/blocklist.txt")).unwrap();
    assert_eq!(blocklist, "198.51.100.23\n203.0.113.7\n");
}

#[test]
fn decode_only_reads_gzip_and_stdin_and_refuses_to_guess() {
    let dir = demo_copy();
    let auth = std::fs::read(dir.path().join("auth.log")).unwrap();
    let gz = dir.path().join("auth.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&auth).unwrap();
    enc.finish().unwrap();

    let out = riposte(&["ingest", "--decode-only", gz.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 20);
    assert_eq!(events[0]["dataset"], "sshd");
    assert_eq!(events[0]["fields"]["event.action"], "ssh_login");
    assert!(
        text(&out.stderr).ends_with(&format!(
            "{}: syslog (detected), 21 records: 20 events, 1 dead-lettered, 0 ignored\n",
            gz.display()
        )),
        "{}",
        text(&out.stderr)
    );

    let eve = std::fs::read(dir.path().join("eve.json")).unwrap();
    let out = riposte(&["ingest", "--decode-only", "-"], Some(&eve));
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 5);
    assert_eq!(
        text(&out.stderr),
        "dead letter: stdin offset 2619: truncated JSON: EOF while parsing an object at line 1 column 240\n\
         stdin: suricata-eve (detected), 7 records: 5 events, 1 dead-lettered, 1 ignored\n"
    );

    // The same bytes read as syslog because --format says so.
    let out = riposte(
        &["ingest", "--decode-only", "--format", "syslog", "-"],
        Some(&eve),
    );
    assert!(out.status.success());
    assert!(
        text(&out.stderr)
            .ends_with("stdin: syslog (given), 7 records: 0 events, 7 dead-lettered, 0 ignored\n"),
        "{}",
        text(&out.stderr)
    );

    let out = riposte(&["ingest", "--decode-only", "-"], Some(b"hello\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(
            "error: cannot tell the format of stdin; pass --format (one of: suricata-eve, syslog"
        ),
        "{}",
        text(&out.stderr)
    );
}
