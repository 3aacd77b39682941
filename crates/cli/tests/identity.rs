//! `riposte users`, `riposte keys` and `riposte audit verify` through the
//! real binary: the first admin made against the store, keys shown once and
//! stored as hashes only, and an audit log edited or cut behind Riposte's
//! back (with the `sqlite3` program) caught with the first problem.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn riposte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .env("USER", "alice")
        .env_remove("RIPOSTE_STORE")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs and asserts success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = riposte(args);
    assert!(
        out.status.success(),
        "riposte {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs and asserts the exit status; returns stderr.
fn fails(code: i32, args: &[&str]) -> String {
    let out = riposte(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "riposte {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

struct Site {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    config: String,
}

impl Site {
    fn new(extra: &str) -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let config = dir.join("riposte.yaml");
        std::fs::write(&config, format!("version: 1\n{extra}")).unwrap();
        Site {
            config: config.to_str().unwrap().to_owned(),
            dir,
            _tmp: tmp,
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.join("riposte-data/riposte.db")
    }

    /// `riposte WORDS… --config CONFIG REST…`.
    fn run(&self, words: &[&str], rest: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = words.iter().map(|s| (*s).to_owned()).collect();
        args.push("--config".into());
        args.push(self.config.clone());
        args.extend(rest.iter().map(|s| (*s).to_owned()));
        args
    }

    fn ok(&self, words: &[&str], rest: &[&str]) -> String {
        let args = self.run(words, rest);
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn fails(&self, code: i32, words: &[&str], rest: &[&str]) -> String {
        let args = self.run(words, rest);
        fails(code, &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// A statement run by the `sqlite3` program on the database, as
    /// someone with write access to the file would.
    fn sqlite3(&self, sql: &str) -> String {
        let out = Command::new("sqlite3")
            .arg(self.db())
            .arg(sql)
            .output()
            .expect("these tests edit the database with the sqlite3 program: install it");
        assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    }
}

/// Table rows whose last column is a timestamp: the text before it, and
/// checks that it is one.
fn without_times(table: &str) -> Vec<String> {
    table
        .lines()
        .map(|line| {
            let (head, last) = line.rsplit_once("  ").unwrap();
            if last != "CREATED" {
                chrono::DateTime::parse_from_rfc3339(last)
                    .unwrap_or_else(|e| panic!("{last:?} in {line:?}: {e}"));
            }
            format!("{head}  …")
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn users_add_list_disable_enable_and_set_role() {
    let site = Site::new("");
    assert_eq!(
        site.ok(&["users", "list"], &[]),
        "no users (create the first admin with `riposte users add NAME --role admin`)\n"
    );
    assert_eq!(
        site.ok(&["users", "add", "root-admin"], &["--role", "admin"]),
        "created user root-admin (admin)\n"
    );
    assert_eq!(
        site.ok(&["users", "add", "bob"], &["--role", "analyst"]),
        "created user bob (analyst)\n"
    );

    // Mistakes: a usage error (2) for a role or name clap can check, a
    // failure (1) for what the store refuses; each says what is wrong.
    let err = site.fails(2, &["users", "add", "carol"], &["--role", "wizard"]);
    assert!(
        err.contains("unknown role \"wizard\" (valid: viewer, analyst, responder, admin, service)"),
        "{err}"
    );
    assert_eq!(
        site.fails(1, &["users", "add", "bob"], &["--role", "viewer"]),
        "error: user \"bob\" already exists\n"
    );
    assert_eq!(
        site.fails(1, &["users", "add", "Bob"], &["--role", "viewer"]),
        "error: user name \"Bob\" is taken by user \"bob\" (user names are unique, ignoring case)\n"
    );
    assert_eq!(
        site.fails(1, &["users", "add", "local:alice"], &["--role", "admin"]),
        "error: invalid user name \"local:alice\": expected 1 to 64 characters of A-Z a-z 0-9 . _ @ -\n"
    );
    assert_eq!(
        site.fails(1, &["users", "disable", "nobody"], &[]),
        "error: no user named \"nobody\"\n"
    );

    assert_eq!(
        site.ok(&["users", "set-role", "bob", "responder"], &[]),
        "user bob: role responder\n"
    );
    assert_eq!(
        site.ok(&["users", "disable", "bob"], &[]),
        "user bob is disabled\n"
    );
    assert_eq!(
        without_times(&site.ok(&["users", "list"], &[])),
        [
            "NAME        ROLE       STATE     …",
            "bob         responder  disabled  …",
            "root-admin  admin      enabled   …",
        ]
    );
    assert_eq!(
        site.ok(&["users", "enable", "bob"], &[]),
        "user bob is enabled\n"
    );
    let list: serde_json::Value =
        serde_json::from_str(&site.ok(&["users", "list"], &["--json"])).unwrap();
    assert_eq!(list[0]["name"], "bob");
    assert_eq!(list[0]["disabled"], false);

    // Each change is audited as the local admin; refusals change nothing.
    let audit: serde_json::Value =
        serde_json::from_str(&site.ok(&["audit", "list"], &["--json"])).unwrap();
    let mut done: Vec<(String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["actor"]["name"].as_str().unwrap().to_owned(),
                a["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    done.reverse();
    let who = "local:alice".to_owned();
    assert_eq!(
        done,
        [
            ("user.create".into(), who.clone(), "user:root-admin".into()),
            ("user.create".into(), who.clone(), "user:bob".into()),
            ("user.role".into(), who.clone(), "user:bob".into()),
            ("user.disable".into(), who.clone(), "user:bob".into()),
            ("user.enable".into(), who, "user:bob".into()),
        ]
    );
}

#[test]
fn keys_are_shown_once_stored_as_hashes_listed_and_revoked() {
    // The secret in a directory of its own, created under umask 000: it
    // must still come out private.
    let site = Site::new("auth: { secret_file: keyring/auth.secret }\n");
    site.ok(&["users", "add", "shipper"], &["--role", "service"]);
    site.ok(&["users", "add", "ann"], &["--role", "analyst"]);

    let mut args = vec!["keys".to_owned(), "create".to_owned()];
    args.extend(site.run(&[], &[]));
    args.extend(
        [
            "--user",
            "shipper",
            "--name",
            "ship1",
            "--scope",
            "events:write",
            "--expires",
            "90d",
        ]
        .map(String::from),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_riposte"))
        .args(&args)
        .env("USER", "alice")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let key = stdout.strip_suffix('\n').unwrap();
    assert!(!key.contains('\n'), "the key alone on its line: {stdout:?}");
    assert_eq!(key.len(), 64, "{key}");
    let id = key.strip_prefix("rpk_").unwrap()[..16].to_owned();
    let stderr = text(&out.stderr);
    let (first, second) = stderr.split_once('\n').unwrap();
    assert!(
        first.starts_with(&format!(
            "created key {id} (ship1) for user shipper (scope events:write, expires "
        )),
        "{stderr}"
    );
    assert_eq!(second, "This key will not be shown again: store it now.\n");

    let secret = site.dir.join("keyring/auth.secret");
    assert_eq!(mode(&secret), 0o600);
    assert_eq!(mode(&site.dir.join("keyring")), 0o700);
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap().trim().len(),
        64,
        "32 bytes as hex"
    );

    // Only a hash is stored: neither the key nor its secret half is in the
    // database or its WAL, though the key's public id is.
    let secret_half = &key[4 + 16 + 1..];
    let mut seen_id = false;
    for entry in std::fs::read_dir(site.dir.join("riposte-data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!contains(key) && !contains(secret_half));
        seen_id |= contains(&id);
    }
    assert!(seen_id, "the database files were read");

    assert_eq!(
        site.fails(
            1,
            &["keys", "create"],
            &["--user", "shipper", "--name", "ship1"]
        ),
        "error: user \"shipper\" has the service role, so its keys need a scope (events:write or webhook:PLAYBOOK)\n"
    );
    let err = site.fails(
        2,
        &["keys", "create"],
        &["--user", "ann", "--name", "x", "--expires", "90x"],
    );
    assert!(
        err.contains("invalid duration \"90x\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)"),
        "{err}"
    );
    let err = site.fails(
        2,
        &["keys", "create"],
        &["--user", "ann", "--name", "x", "--scope", "everything"],
    );
    assert!(err.contains("invalid key scope \"everything\""), "{err}");
    assert_eq!(
        site.fails(1, &["keys", "create"], &["--user", "nobody", "--name", "x"]),
        "error: no user named \"nobody\"\n"
    );

    let laptop = site.ok(&["keys", "create"], &["--user", "ann", "--name", "laptop"]);
    let laptop_id = laptop.strip_prefix("rpk_").unwrap()[..16].to_owned();
    let brief = site.ok(
        &["keys", "create"],
        &["--user", "ann", "--name", "brief", "--expires", "1s"],
    );
    let brief_id = brief.strip_prefix("rpk_").unwrap()[..16].to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    assert_eq!(
        site.ok(&["keys", "revoke", &laptop_id], &[]),
        format!("revoked key {laptop_id} (laptop)\n")
    );
    let err = site.fails(1, &["keys", "revoke", &laptop_id], &[]);
    assert!(
        err.starts_with(&format!(
            "error: API key {laptop_id} was already revoked at "
        )),
        "{err}"
    );
    assert_eq!(
        site.fails(1, &["keys", "revoke", "0123456789abcdef"], &[]),
        "error: no API key with id 0123456789abcdef\n"
    );
    let err = site.fails(2, &["keys", "revoke", "nope"], &[]);
    assert!(err.contains("invalid key id \"nope\""), "{err}");

    // The table: one row per key with its state, never the key or hash.
    let list = site.ok(&["keys", "list"], &[]);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["ID", "USER", "NAME", "SCOPE", "CREATED", "EXPIRES", "STATE"]
    );
    fn short<'a>(r: &[&'a str]) -> (String, &'a str, &'a str, &'a str, bool, &'a str) {
        (r[0].to_owned(), r[1], r[2], r[3], r[5] == "never", r[6])
    }
    assert_eq!(
        rows[1..].iter().map(|r| short(r)).collect::<Vec<_>>(),
        [
            (
                id.clone(),
                "shipper",
                "ship1",
                "events:write",
                false,
                "active"
            ),
            (laptop_id.clone(), "ann", "laptop", "-", true, "revoked"),
            (brief_id.clone(), "ann", "brief", "-", false, "expired"),
        ]
    );
    assert!(!list.contains(secret_half));
    let one = site.ok(&["keys", "list"], &["--user", "shipper"]);
    assert_eq!(one.lines().count(), 2, "{one}");
    let json: serde_json::Value =
        serde_json::from_str(&site.ok(&["keys", "list"], &["--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    assert_eq!(json[0]["user"], "shipper");
    assert_eq!(json[1]["state"], "revoked");
    assert!(json[0].get("hash").is_none(), "{json}");

    // The audit log has the key's id and what it allows, not its secret.
    let audit = site.ok(&["audit", "list"], &[]);
    assert!(audit.contains(&format!("key:{id}")), "{audit}");
    assert!(!audit.contains(secret_half));

    // Without a configuration there is no secret file to hash with.
    let store = format!("sqlite://{}", site.db().display());
    let missing = site.dir.join("absent.yaml");
    assert_eq!(
        fails(
            1,
            &[
                "keys",
                "create",
                "--config",
                missing.to_str().unwrap(),
                "--store",
                &store,
                "--user",
                "ann",
                "--name",
                "x",
            ],
        ),
        "error: keys create needs --config FILE: keys are hashed with the secret in its auth.secret_file\n"
    );
}

/// Audited actions through the CLI: two users and a key.
fn audited_site() -> Site {
    let site = Site::new("");
    site.ok(&["users", "add", "root-admin"], &["--role", "admin"]);
    site.ok(&["users", "add", "shipper"], &["--role", "service"]);
    site.ok(
        &["keys", "create"],
        &[
            "--user",
            "shipper",
            "--name",
            "ship1",
            "--scope",
            "events:write",
        ],
    );
    site
}

#[test]
fn audit_verify_reports_an_intact_log_then_an_edited_entry() {
    let site = audited_site();
    let head = site.sqlite3("SELECT hash FROM audit_head");
    assert_eq!(head.len(), 64);
    assert_eq!(
        site.ok(&["audit", "verify"], &[]),
        format!("audit log intact: 3 entries checked\nhead: 3 {head}\n")
    );
    let json: serde_json::Value =
        serde_json::from_str(&site.ok(&["audit", "verify"], &["--json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "intact": true, "entries": 3, "head": {"seq": 3, "hash": head}, "first_problem": null
        })
    );

    // Whoever can write the file makes the service user an admin in the
    // record of its creation.
    let id = site.sqlite3("SELECT id FROM audit WHERE seq = 2");
    site.sqlite3("UPDATE audit SET body = replace(body, '\"service\"', '\"admin\"') WHERE seq = 2");
    let out = riposte(&["audit", "verify", "--config", &site.config]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "audit log ALTERED: 1 entry sound before the first problem\n\
             first problem: seq 2, id {id}, what hash-mismatch\n  \
             audit entry 2 ({id}) does not match its hash (altered)\n\
             head: 3 {head}\n"
        )
    );
    assert_eq!(
        text(&out.stderr),
        "error: the audit log was altered outside Riposte (exit status 3); see docs/security.md\n"
    );
    let out = riposte(&["audit", "verify", "--config", &site.config, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["first_problem"],
        serde_json::json!({
            "seq": 2, "id": id, "what": "hash-mismatch",
            "message": format!("audit entry 2 ({id}) does not match its hash (altered)"),
        })
    );

    // A copied column rewritten instead (who did it).
    site.sqlite3("UPDATE audit SET body = replace(body, '\"admin\"', '\"service\"') WHERE seq = 2");
    assert_eq!(
        site.ok(&["audit", "verify"], &[]).lines().next(),
        Some("audit log intact: 3 entries checked")
    );
    let first = site.sqlite3("SELECT id FROM audit WHERE seq = 1");
    site.sqlite3("UPDATE audit SET actor = 'user:someone-else' WHERE seq = 1");
    let out = riposte(&["audit", "verify", "--config", &site.config]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stdout).lines().nth(1),
        Some(format!("first problem: seq 1, id {first}, what column-mismatch:actor").as_str())
    );
}

#[test]
fn audit_verify_reports_deleted_entries() {
    let site = audited_site();
    let head = site.sqlite3("SELECT hash FROM audit_head");
    site.sqlite3("DELETE FROM audit WHERE seq = 2");
    let out = riposte(&["audit", "verify", "--config", &site.config]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "audit log ALTERED: 1 entry sound before the first problem\n\
             first problem: seq 2, id -, what missing\n  \
             audit entry 2 is missing (deleted)\n\
             head: 3 {head}\n"
        )
    );

    // The last entry deleted: the head still names it.
    let site = audited_site();
    let head = site.sqlite3("SELECT hash FROM audit_head");
    site.sqlite3("DELETE FROM audit WHERE seq = 3");
    let out = riposte(&["audit", "verify", "--config", &site.config]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().nth(1),
        Some("first problem: seq 3, id -, what head-mismatch"),
        "{stdout}"
    );
    assert!(stdout.ends_with(&format!("head: 3 {head}\n")), "{stdout}");

    // The head row itself deleted: the store will not open for writing,
    // and verify says why rather than failing to run.
    site.sqlite3("DELETE FROM audit_head");
    let out = riposte(&["audit", "verify", "--config", &site.config]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "audit log ALTERED: 0 entries sound before the first problem\n\
         first problem: seq -, id -, what head-missing\n  \
         the audit head row is missing (deleted)\n\
         head: none\n"
    );
}

/// Ids, keys, hashes and times differ on every run; the rest of the
/// documented transcript must be exactly what `riposte` prints.
fn masked(text: &str) -> String {
    let masks = [
        (r"rpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", "KEY"),
        (r"\b[0-9a-f]{64}\b", "HASH"),
        (r"\b[0-9a-f]{16}\b", "KEYID"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME"),
    ];
    masks.iter().fold(text.to_owned(), |t, (re, with)| {
        regex::Regex::new(re)
            .unwrap()
            .replace_all(&t, *with)
            .into_owned()
    })
}

/// docs/cli.md's users-and-keys transcript, run command by command in a
/// directory whose riposte.yaml is the default `--config`.
#[test]
fn the_documented_users_and_keys_transcript_is_what_riposte_prints() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md"))
            .unwrap();
    let section = &page[page
        .find("## Users, API keys and audit verification")
        .unwrap()..];
    let start = section.find("```text\n").unwrap() + "```text\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let site = Site::new("");
    let mut steps: Vec<(&str, String)> = Vec::new();
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push((command, String::new())),
            None => {
                let (_, expected) = steps.last_mut().expect("the block starts with a command");
                expected.push_str(line);
                expected.push('\n');
            }
        }
    }
    assert_eq!(steps.len(), 6, "{block}");
    for (command, expected) in steps {
        let mut words = command.split_whitespace();
        assert_eq!(words.next(), Some("riposte"));
        let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
            .args(words)
            .current_dir(&site.dir)
            .env("USER", "alice")
            .env_remove("RIPOSTE_STORE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
        // stdout then stderr, as a terminal shows them for these commands.
        let got = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(masked(&got), masked(&expected), "{command}");
    }
}
