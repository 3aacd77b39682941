#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! Format detection on the real corpora: every sample whose format is known
//! from its origin is detected as that format, from its first bytes.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use riposte_ingest::{Format, SAMPLE_BYTES, fingerprint, sniff};

fn head(path: &Path) -> Vec<u8> {
    let mut buf = Vec::new();
    fingerprint::open_content(path)
        .unwrap()
        .take(SAMPLE_BYTES as u64)
        .read_to_end(&mut buf)
        .unwrap();
    buf
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.to_str().unwrap().ends_with(ext) {
            out.push(p);
        }
    }
}

/// The test folders of a crowdsec-hub log type, from tests_index.tsv.
fn crowdsec_logs(root: &Path, log_type: &str) -> Vec<PathBuf> {
    let index = std::fs::read_to_string(root.join("tests_index.tsv")).unwrap();
    index
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[1] == log_type).then(|| root.join(".tests").join(cols[0]).join(cols[2]))
        })
        .filter(|p| p.exists())
        .collect()
}

fn check(paths: &[PathBuf], want: Format) -> usize {
    assert!(!paths.is_empty(), "no samples for {want}");
    for p in paths {
        assert_eq!(sniff(&head(p)), Some(want), "{}", p.display());
    }
    paths.len()
}

#[test]
fn corpus_samples_are_detected_as_their_format() {
    let Some(root) = common::corpus("") else {
        return;
    };
    let mut counts = Vec::new();

    let mut zeek = Vec::new();
    files(
        &root.join("zeek-sample-data/zeek-json"),
        ".json.gz",
        &mut zeek,
    );
    files(
        &root.join("zeek-sample-data/zeek-default"),
        ".log.gz",
        &mut zeek,
    );
    counts.push(("zeek", check(&zeek, Format::Zeek)));

    let mut evtx = Vec::new();
    files(&root.join("sigma/regression_data"), ".evtx", &mut evtx);
    counts.push(("evtx", check(&evtx, Format::Evtx)));
    let mut winjson = Vec::new();
    files(&root.join("sigma/regression_data"), ".json", &mut winjson);
    counts.push(("windows-json", check(&winjson, Format::WindowsJson)));

    let hub = root.join("crowdsec-hub");
    counts.push((
        "windows-xml",
        check(&crowdsec_logs(&hub, "wineventlog"), Format::WindowsXml),
    ));
    counts.push((
        "suricata-eve",
        check(
            &crowdsec_logs(&hub, "suricata-evelogs"),
            Format::SuricataEve,
        ),
    ));
    let nginx: Vec<PathBuf> = crowdsec_logs(&hub, "nginx")
        .into_iter()
        .chain(crowdsec_logs(&hub, "apache2"))
        .collect();
    counts.push(("webserver", check(&nginx, Format::Webserver)));
    counts.push((
        "cef",
        check(&[hub.join(".tests/unifi-cef/cef-logs.log")], Format::Cef),
    ));
    counts.push((
        "syslog",
        check(
            &[
                root.join("fail2ban/logs/sshd"),
                root.join("fail2ban/logs/postfix"),
                root.join("fail2ban/logs/dovecot"),
            ],
            Format::Syslog,
        ),
    ));
    eprintln!("detected: {counts:?}");
    assert_eq!(
        counts.iter().map(|c| c.1).collect::<Vec<_>>(),
        [64, 128, 128, 3, 2, 41, 1, 3]
    );
}
