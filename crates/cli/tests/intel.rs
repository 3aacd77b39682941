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

/// A MISP instance on a local port: `restSearch` lists one attribute,
/// `sightings/add` records what it gets and answers the first with 500.
type Requests = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

fn fake_misp() -> (String, Requests) {
    use axum::Json;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use std::sync::Arc;
    let got: Requests = Arc::default();
    let seen = got.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route(
                    "/attributes/restSearch",
                    post(|| async {
                        Json(serde_json::json!({"response": {"Attribute": [{
                            "type": "ip-dst", "value": "198.51.100.7", "to_ids": true,
                            "uuid": "5f0c6a3e-0000-4000-8000-000000000001",
                            "Event": {"uuid": "5f0c6a3e-0000-4000-8000-0000000000e1", "info": "C2"}
                        }]}}))
                    }),
                )
                .route(
                    "/sightings/add",
                    post(move |headers: HeaderMap, body: String| {
                        let seen = seen.clone();
                        async move {
                            let auth = headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let mut seen = seen.lock().unwrap();
                            seen.push((auth, body));
                            if seen.len() == 1 {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::OK
                            }
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}", rx.recv().unwrap()), got)
}

#[test]
fn sightings_of_a_misp_feed_are_pushed_by_the_command_once_after_a_failure() {
    let (base, got) = fake_misp();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\ndata_dir: data\nstore: sqlite://{}/r.db\nintel:\n  feeds:\n    - {{ name: misp, type: misp-rest, url: '{base}', key_env: TEST_MISP_KEY, sightings: {{ push: true, interval: 5m }} }}\n",
            d.display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_riposte"))
            .args(args)
            .env("TEST_MISP_KEY", "k-123")
            .env_remove("RIPOSTE_STORE")
            .output()
            .unwrap()
    };
    let out = run(&["intel", "import", "-c", cfg, "--feed", "misp"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().next().unwrap(),
        "misp: 1 records read, 1 indicators (1 new), 0 skipped, 0 rejected, 0 aged out"
    );
    let eve = d.join("eve.json");
    std::fs::write(
        &eve,
        concat!(
            r#"{"timestamp":"2026-03-14T09:00:01.000000+0000","event_type":"flow","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"198.51.100.7","dest_port":443,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60,"start":"2026-03-14T09:00:01.000000+0000","end":"2026-03-14T09:00:02.000000+0000","age":1,"state":"closed","reason":"timeout"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = run(&["ingest", "-c", cfg, eve.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The first push meets a 500: a failure exit, and stats shows it.
    let out = run(&["intel", "sightings", "push", "-c", cfg]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "feed misp: sightings push: {base}/sightings/add: HTTP 500 Internal Server Error: "
        )),
        "{err}"
    );
    let stats = text(&run(&["intel", "stats", "-c", cfg]).stdout);
    assert!(
        stats.contains(&format!("  sightings push misp: 1 queued, 0 pushed, last success never, 1 failures, last error: {base}/sightings/add: HTTP 500 Internal Server Error: \n")),
        "{stats}"
    );

    let out = run(&["intel", "sightings", "push", "-c", cfg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "misp: 1 sightings pushed in 1 requests\n"
    );
    let out = run(&["intel", "sightings", "push", "-c", cfg, "--feed", "misp"]);
    assert_eq!(
        text(&out.stdout),
        "misp: 0 sightings pushed in 0 requests\n"
    );
    let stats = text(&run(&["intel", "stats", "-c", cfg]).stdout);
    assert!(
        stats.contains("  sightings push misp: 0 queued, 1 pushed, last success 20"),
        "{stats}"
    );

    // `riposte ingest` names the event source after the file.
    let body = serde_json::json!({
        "values": ["198.51.100.7"],
        "source": format!("riposte:{}", eve.display()),
        "timestamp": 1_773_478_801,
        "type": "0"
    });
    let got: Vec<(String, serde_json::Value)> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(auth, b)| (auth.clone(), serde_json::from_str(b).unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("k-123".to_owned(), body.clone()),
            ("k-123".to_owned(), body)
        ]
    );

    let out = run(&["intel", "sightings", "push", "-c", cfg, "--feed", "nope"]);
    assert_eq!(
        text(&out.stderr),
        "error: no feed \"nope\" pushes sightings (feeds with sightings.push: misp)\n"
    );
}
