//! List-file enforcers: the three formats, atomic rewrite only on change,
//! and the reload command run as argv with a timeout.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{Decision, DecisionKind, Origin, Scope};
use riposte_respond::{FileEnforcer, ListFormat};

fn decision(kind: DecisionKind, scope: Scope, value: &str) -> Decision {
    let now = Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap();
    let alice = Origin::User {
        name: "alice".into(),
    };
    Decision {
        expires_at: Some(now + TimeDelta::hours(1)),
        ..Decision::active(kind, scope, value, alice, now)
    }
}

fn effective() -> Vec<Decision> {
    vec![
        decision(DecisionKind::Ban, Scope::Ip, "203.0.113.7"),
        decision(DecisionKind::Captcha, Scope::Ip, "203.0.113.7"),
        decision(DecisionKind::Captcha, Scope::Ip, "198.51.100.9"),
        decision(DecisionKind::Ban, Scope::Range, "198.51.100.0/24"),
        decision(DecisionKind::Throttle, Scope::Ip, "2001:db8::5"),
        decision(DecisionKind::Ban, Scope::User, "jdoe"),
        decision(DecisionKind::DisableAccount, Scope::User, "jdoe"),
        decision(DecisionKind::Ban, Scope::Country, "FR"),
    ]
}

#[test]
fn each_format_lists_what_it_can_enforce() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (ListFormat::Plain, "198.51.100.0/24\n203.0.113.7\n"),
        (
            ListFormat::Nginx,
            "deny 198.51.100.0/24;\ndeny 203.0.113.7;\n",
        ),
        (
            ListFormat::Haproxy,
            "198.51.100.0/24 ban\n203.0.113.7 ban\n2001:db8::5 throttle\n",
        ),
    ];
    for (format, expected) in cases {
        let path = dir.path().join(format!("{format:?}.list"));
        FileEnforcer::new(path.clone())
            .with_format(format)
            .apply(&effective())
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            expected,
            "{format:?}"
        );
    }
}

#[test]
fn reload_runs_as_argv_only_when_the_list_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deny.conf");
    let marker = dir.path().join("reloaded");
    let touch = |format| {
        FileEnforcer::new(path.clone())
            .with_format(format)
            .with_reload(
                vec!["touch".into(), marker.to_str().unwrap().into()],
                Duration::from_secs(10),
            )
    };
    let e = touch(ListFormat::Nginx);
    e.apply(&effective()).unwrap();
    assert!(marker.exists(), "reloaded after the first write");
    std::fs::remove_file(&marker).unwrap();
    e.apply(&effective()).unwrap();
    assert!(!marker.exists(), "no reload when nothing changed");
    e.apply(&effective()[..1]).unwrap();
    assert!(marker.exists(), "reloaded after a change");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "deny 203.0.113.7;\n"
    );
}

#[test]
fn a_failing_or_hanging_reload_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list");
    let failing = FileEnforcer::new(path.clone()).with_reload(
        vec!["ls".into(), "/nonexistent-riposte-dir".into()],
        Duration::from_secs(10),
    );
    let err = failing.apply(&effective()).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "reload \"ls\" failed (exit status: 2): ls: cannot access '/nonexistent-riposte-dir'"
        ),
        "{err}"
    );
    // The list itself was written, and the next reconciliation retries the
    // reload although the list is unchanged.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "198.51.100.0/24\n203.0.113.7\n"
    );
    assert!(failing.apply(&effective()).is_err(), "reload retried");
    let marker = dir.path().join("reloaded");
    let fixed = FileEnforcer::new(path.clone()).with_reload(
        vec!["touch".into(), marker.to_str().unwrap().into()],
        Duration::from_secs(10),
    );
    fixed.apply(&effective()).unwrap();
    assert!(marker.exists(), "a new enforcer (a restart) reloads once");
    std::fs::remove_file(&marker).unwrap();
    fixed.apply(&effective()).unwrap();
    assert!(!marker.exists(), "then only on change");

    let hanging = FileEnforcer::new(dir.path().join("list2")).with_reload(
        vec!["sleep".into(), "30".into()],
        Duration::from_millis(200),
    );
    let err = hanging.apply(&effective()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(err.to_string(), "reload \"sleep\" killed after 200ms");

    let missing = FileEnforcer::new(dir.path().join("list3"))
        .with_reload(vec!["/nonexistent/reloader".into()], Duration::from_secs(1));
    assert_eq!(
        missing.apply(&effective()).unwrap_err().to_string(),
        "reload \"/nonexistent/reloader\": No such file or directory (os error 2)"
    );
}

#[test]
fn plans_list_lines_gained_and_lost_and_a_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deny.conf");
    std::fs::write(&path, "deny 192.0.2.99;\ndeny 203.0.113.7;\n").unwrap();
    let dry = FileEnforcer::new(path.clone())
        .with_format(ListFormat::Nginx)
        .with_dry_run(true);
    assert_eq!(
        dry.plan(&effective()),
        "+ deny 198.51.100.0/24;\n- deny 192.0.2.99;\n"
    );
    dry.apply(&effective()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "deny 192.0.2.99;\ndeny 203.0.113.7;\n",
        "a dry run writes nothing"
    );
    let real = FileEnforcer::new(path.clone()).with_format(ListFormat::Nginx);
    real.apply(&effective()).unwrap();
    assert_eq!(real.plan(&effective()), "");
}

/// Regression: the temporary file was `.{name}.tmp.{pid}`, shared by every
/// write in the process, so concurrent writes of one list truncated each
/// other's file or renamed it away (ENOENT).
#[test]
fn concurrent_writes_of_one_list_each_land_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocklist.txt");
    let contents: Vec<String> = (0..8)
        .map(|t| format!("203.0.113.{t}\n").repeat(2000))
        .collect();
    std::thread::scope(|scope| {
        for content in &contents {
            let path = &path;
            scope.spawn(move || {
                for _ in 0..50 {
                    riposte_respond::write_atomically(path, content.as_bytes()).unwrap();
                }
            });
        }
    });
    let last = std::fs::read_to_string(&path).unwrap();
    assert!(
        contents.contains(&last),
        "a torn list: {} bytes",
        last.len()
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["blocklist.txt"]);
}

/// Regression: the map held `203.0.113.0/24 ban` and `203.0.113.7 captcha`;
/// map_ip takes the longest match, so the address got a captcha although a
/// ban covers it. Entries a ban covers are left out; others stay.
#[test]
fn an_haproxy_map_never_lets_a_weaker_kind_inside_a_ban_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("riposte.map");
    let effective = vec![
        decision(DecisionKind::Ban, Scope::Range, "203.0.113.0/24"),
        decision(DecisionKind::Captcha, Scope::Ip, "203.0.113.7"),
        decision(DecisionKind::Throttle, Scope::Range, "203.0.113.128/25"),
        decision(DecisionKind::Captcha, Scope::Ip, "198.51.100.9"),
        decision(DecisionKind::Ban, Scope::Range, "2001:db8::/48"),
        decision(DecisionKind::Throttle, Scope::Ip, "2001:db8::5"),
        decision(DecisionKind::Throttle, Scope::Ip, "2001:db9::5"),
    ];
    FileEnforcer::new(path.clone())
        .with_format(ListFormat::Haproxy)
        .apply(&effective)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "198.51.100.9 captcha\n203.0.113.0/24 ban\n2001:db8::/48 ban\n2001:db9::5 throttle\n"
    );
}

/// Lists are written 0600 by default and exactly the configured `mode`
/// otherwise (whatever the umask, which only ever narrows a created file;
/// the CLI tests run the binary under umask 000); rewrites keep the mode.
#[test]
fn lists_are_private_unless_a_mode_is_configured() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let private = dir.path().join("lists/private.txt");
    FileEnforcer::new(private.clone())
        .apply(&effective())
        .unwrap();
    assert_eq!(mode(&private), 0o600);
    let config: riposte_respond::EnforcerConfig = serde_json::from_value(serde_json::json!(
        {"type": "file", "path": dir.path().join("shared.txt"), "mode": "0640"}
    ))
    .unwrap();
    let shared = config.build();
    shared.apply(&effective(), Utc::now()).unwrap();
    assert_eq!(mode(&dir.path().join("shared.txt")), 0o640);
    // A rewrite (new content) is a new file: the mode again, not the umask's.
    shared.apply(&effective()[..1], Utc::now()).unwrap();
    assert_eq!(mode(&dir.path().join("shared.txt")), 0o640);
    riposte_respond::write_atomically(&private, b"x\n").unwrap();
    assert_eq!(mode(&private), 0o600);
    // An unchanged list written with another mode (an older Riposte wrote
    // 0644 under the usual umask) is given the configured one.
    let list = FileEnforcer::new(private.clone());
    list.apply(&effective()).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    list.apply(&effective()).unwrap();
    assert_eq!(mode(&private), 0o600);
}

#[test]
fn a_list_mode_is_a_quoted_octal_string_within_bounds() {
    let parse = |mode: serde_json::Value| {
        serde_json::from_value::<riposte_respond::EnforcerConfig>(serde_json::json!(
            {"type": "file", "path": "l.txt", "mode": mode}
        ))
        .map(|c| match c {
            riposte_respond::EnforcerConfig::File { mode, .. } => mode.map(|m| m.to_string()),
            _ => None,
        })
        .map_err(|e| e.to_string())
    };
    assert_eq!(parse("0640".into()), Ok(Some("0640".into())));
    assert_eq!(parse("644".into()), Ok(Some("0644".into())));
    assert_eq!(parse("0600".into()), Ok(Some("0600".into())));
    for (bad, why) in [
        (
            serde_json::json!(640),
            "640 is a number: give the mode as a quoted octal string, e.g. mode: \"0640\"",
        ),
        (
            "0x640".into(),
            "\"0x640\" is not an octal file mode (3 or 4 digits 0-7, e.g. \"0640\")",
        ),
        (
            "0648".into(),
            "\"0648\" is not an octal file mode (3 or 4 digits 0-7, e.g. \"0640\")",
        ),
        (
            "04755".into(),
            "\"04755\" is not an octal file mode (3 or 4 digits 0-7, e.g. \"0640\")",
        ),
        (
            "4755".into(),
            "\"4755\": setuid, setgid and sticky bits are not allowed on a list file",
        ),
        (
            "0646".into(),
            "\"0646\": other users may not write a list file",
        ),
        (
            "0440".into(),
            "\"0440\": the owner must be able to read and write the list (e.g. \"0640\")",
        ),
    ] {
        let got = parse(bad.clone()).unwrap_err();
        assert!(got.starts_with(why), "{bad}: {got}");
    }
}
