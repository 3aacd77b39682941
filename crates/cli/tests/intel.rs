#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! `riposte intel` end to end on the corpora, and the output docs/intel.md
//! shows.

use std::path::Path;
use std::process::{Command, Output};

fn riposte(store: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .env("RIPOSTE_STORE", store)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The ```text block of docs/intel.md.
fn documented_output() -> String {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/intel.md"))
            .unwrap();
    let start = page.find("```text\n").unwrap() + "```text\n".len();
    page[start..start + page[start..].find("```").unwrap()].to_owned()
}

#[test]
fn import_lookup_export_and_stats_on_the_misp_corpus() {
    let Some(feed) = riposte_testkit::corpus("misp/feed") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("r.db").display());
    let none = dir.path().join("none.yaml");
    let none = none.to_str().unwrap();

    let out = riposte(
        &store,
        &[
            "intel",
            "import",
            "--config",
            none,
            "--format",
            "misp-feed",
            "--name",
            "circl",
            feed.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().next().unwrap(),
        documented_output().trim_end()
    );
    assert!(
        stdout.contains("  skipped 62: MISP type text\n"),
        "{stdout}"
    );

    let blocklist = dir.path().join("drop.txt");
    std::fs::write(
        &blocklist,
        "; Spamhaus DROP\n98.101.211.0/24 ; SBL1\n10.0.0.1/8 ; SBL2\n",
    )
    .unwrap();
    let out = riposte(
        &store,
        &[
            "intel",
            "import",
            "--config",
            none,
            "--format",
            "csv",
            "--preset",
            "spamhaus-drop",
            "--name",
            "drop",
            "--tlp",
            "green",
            blocklist.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "drop: 2 records read, 1 indicators (1 new), 0 skipped, 1 rejected, 0 aged out\n  rejected: {}:3: cidr \"10.0.0.1/8\": network has host bits set\n",
            blocklist.display()
        )
    );

    let out = riposte(
        &store,
        &["intel", "lookup", "--config", none, "98.101.211.162"],
    );
    assert_eq!(
        text(&out.stdout),
        "ip 98.101.211.162 — feed circl: confidence 50, TLP:CLEAR, PAP:CLEAR, fit for detection\n  \
         OSINT - HIDDEN COBRA – North Korean Remote Administration Tool: FALLCHILL\n  \
         tags: misp-galaxy:rat=\"FALLCHILL\", misp-galaxy:threat-actor=\"Lazarus Group\", osint:source-type=\"technical-report\", tlp:white, type:OSINT\n  \
         reference: 5a0d5bf4-99c8-4f15-9879-22b1950d210f\n\
         cidr 98.101.211.0/24 — feed drop: confidence 50, TLP:GREEN, PAP:CLEAR, fit for detection\n  SBL1\n"
    );
    let out = riposte(
        &store,
        &["intel", "lookup", "--config", none, "Example.ORG"],
    );
    assert_eq!(text(&out.stdout), "domain example.org: not in any feed\n");

    let out = riposte(
        &store,
        &[
            "intel", "export", "--config", none, "--format", "plain", "--kind", "cidr",
        ],
    );
    assert_eq!(
        (text(&out.stdout).as_str(), text(&out.stderr).as_str()),
        ("98.101.211.0/24\n", "1 indicators exported\n")
    );
    let out = riposte(
        &store,
        &[
            "intel", "export", "--config", none, "--format", "zeek", "--feed", "circl", "--kind",
            "sha256",
        ],
    );
    let zeek = text(&out.stdout);
    assert_eq!(zeek.lines().count(), 1 + 117, "{zeek}");
    assert!(
        zeek.lines()
            .skip(1)
            .all(|l| l.split('\t').nth(1) == Some("Intel::FILE_HASH"))
    );
    let out = riposte(
        &store,
        &["intel", "export", "--config", none, "--format", "nope"],
    );
    assert_eq!(
        text(&out.stderr),
        "error: unknown --format \"nope\" (valid: plain, zeek, suricata-iprep, suricata-dataset, misp-feed, stix)\n"
    );

    let out = riposte(&store, &["intel", "stats", "--config", none]);
    let stats = text(&out.stdout);
    assert!(stats.starts_with("Indicators (774)\n"), "{stats}");
    assert!(
        stats.contains("  circl                ip                153 (152 fit for detection)\n"),
        "{stats}"
    );
}
