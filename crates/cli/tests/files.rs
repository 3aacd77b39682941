//! The files Riposte creates are private whatever the umask: the data
//! directory 0700, the SQLite database and its `-wal`/`-shm` 0600, list
//! files 0600 unless the enforcer gives a `mode`. Every run here is under
//! umask 000, which would otherwise make them world-writable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::*;

/// `riposte ARGS…` run by `sh` after `umask 000`.
fn under_umask_000(args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args);
    cmd
}

/// The permission bits, in octal.
fn mode(path: &Path) -> String {
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    format!("{:o}", mode & 0o7777)
}

#[test]
fn ingest_creates_a_private_data_directory_database_and_blocklist() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo");
    for name in ["riposte.yaml", "rules.yaml", "auth.log", "eve.json"] {
        std::fs::copy(demo.join(name), dir.join(name)).unwrap();
    }
    std::fs::create_dir(dir.join("playbooks")).unwrap();
    for entry in std::fs::read_dir(demo.join("playbooks")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("playbooks").join(path.file_name().unwrap())).unwrap();
    }
    let config = dir.join("riposte.yaml");
    let out = under_umask_000(&[
        "ingest",
        "-c",
        config.to_str().unwrap(),
        dir.join("auth.log").to_str().unwrap(),
    ])
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = dir.join("riposte-data");
    let blocklist = std::fs::read_to_string(data.join("blocklist.txt")).unwrap();
    assert!(blocklist.contains("203.0.113.7"), "{blocklist}");
    assert_eq!(
        [
            mode(&data),
            mode(&data.join("riposte.db")),
            mode(&data.join("blocklist.txt")),
        ],
        ["700", "600", "600"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_its_database_files_private_and_lists_at_their_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             data_dir: state/riposte-data\n\
             api: {{ listen: 127.0.0.1:{port} }}\n\
             enforcers:\n\
             \x20 - {{ type: file, path: lists/private.txt }}\n\
             \x20 - {{ type: file, path: lists/shared.txt, mode: \"0640\" }}\n"
        ),
    )
    .unwrap();
    let stderr = std::fs::File::create(dir.join("serve.stderr")).unwrap();
    let child = under_umask_000(&["serve", "--config", config.to_str().unwrap()])
        .env("RIPOSTE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    // `sh` execs riposte: the child is the server.
    let mut serve = Serve {
        child,
        port,
        stderr_path: dir.join("serve.stderr"),
    };
    let client = client();
    serve.wait_up(&client).await;
    let data = dir.join("state/riposte-data");
    let lists = dir.join("lists");
    for _ in 0..POLL_ATTEMPTS {
        if lists.join("shared.txt").exists() && lists.join("private.txt").exists() {
            break;
        }
        tokio::time::sleep(POLL_SLEEP).await;
    }
    let db = data.join("riposte.db");
    let wal = data.join("riposte.db-wal");
    let shm = data.join("riposte.db-shm");
    assert!(
        wal.exists() && shm.exists(),
        "WAL mode keeps both while serving"
    );
    assert_eq!(
        [
            mode(&dir.join("state")),
            mode(&data),
            mode(&db),
            mode(&wal),
            mode(&shm),
            mode(&lists),
            mode(&lists.join("private.txt")),
            mode(&lists.join("shared.txt")),
        ],
        ["700", "700", "600", "600", "600", "755", "600", "640"],
        "state/, state/riposte-data/, riposte.db, -wal, -shm, lists/, private.txt, shared.txt"
    );
    serve.sigterm();
    assert!(
        serve.wait_exit("SIGTERM").await.success(),
        "{}",
        serve.stderr()
    );
}
