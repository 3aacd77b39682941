//! `riposte import fail2ban`: golden output for the example filter and jail,
//! and a refused filter listing every problem.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;
use std::process::{Command, Output};

fn riposte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn examples() -> std::path::PathBuf {
    std::fs::canonicalize(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/fail2ban"
    )))
    .unwrap()
}

#[test]
fn import_fail2ban_prints_a_rule_file_from_filter_and_jail() {
    let ex = examples();
    let filter = ex.join("filter.d/myapp.conf");
    let jail = ex.join("jail.local");
    let out = riposte(&[
        "import",
        "fail2ban",
        filter.to_str().unwrap(),
        "--jail",
        jail.to_str().unwrap(),
        "--name",
        "myapp",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let f = filter.display();
    assert_eq!(
        text(&out.stdout),
        format!(
            "# Imported by `riposte import fail2ban` from {f}.\n\
             version: 1\n\
             rules:\n\
             \x20 - id: fail2ban-myapp\n\
             \x20   title: \"myapp (fail2ban filter)\"\n\
             \x20   kind: threshold\n\
             \x20   fail2ban:\n\
             \x20     filter: \"{f}\"\n\
             \x20     options:\n\
             \x20       \"mode\": \"aggressive\"\n\
             \x20   group_by: [source.ip]\n\
             \x20   count: 3\n\
             \x20   window: 1h\n\
             \x20   severity: medium\n\
             \x20   tags: [fail2ban]\n"
        )
    );
    assert_eq!(
        text(&out.stderr),
        format!(
            "warning: {f}: journalmatch is ignored: read the journal with a riposte source and let this rule match its lines\n"
        )
    );

    // Without a jail: fail2ban's defaults, options from the command line.
    let out = riposte(&[
        "import",
        "fail2ban",
        filter.to_str().unwrap(),
        "--options",
        "mode=normal",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("  - id: fail2ban-myapp\n"), "{stdout}");
    assert!(stdout.contains("        \"mode\": \"normal\"\n    group_by: [source.ip]\n    count: 5\n    window: 10m\n"), "{stdout}");
}

#[test]
fn import_fail2ban_refuses_an_untranslatable_filter_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        "[Definition]\nfailregex = ^ok from <HOST>$\n            ^no host here\n            ^broken [ <HOST>\nmaxlines = 5000\ndatepattern = %%Q\n",
    )
    .unwrap();
    let out = riposte(&["import", "fail2ban", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    let f = bad.display();
    assert!(
        stderr.starts_with("error: cannot translate the filter: 4 problems:\n"),
        "{stderr}"
    );
    for want in [
        format!("{f}: failregex[2]: no failure-id group"),
        format!("{f}: failregex[3]: cannot translate \"^broken [ <HOST>\": error: unopened group"),
        format!("{f}: maxlines: 5000 is out of range: expected 1 to 1000"),
        format!("{f}: datepattern: unsupported strptime directive %Q in datepattern \"%Q\""),
    ] {
        assert!(stderr.contains(&want), "missing {want:?} in\n{stderr}");
    }
}
