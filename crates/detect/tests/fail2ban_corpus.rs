//! fail2ban's own filter tests (fail2ban/tests/files/logs + filter.d, as
//! `expected.jsonl` in the corpus): every annotated line must match exactly
//! when fail2ban says so, with the same host, user and time. The lines we
//! do not get right would be listed, with the reason, in
//! `fail2ban_known_failures.txt`; this test asserts that list exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc, Weekday};
use riposte_detect::fail2ban::{Fail2banFilter, Fail2banTime};
use serde_json::Value;

const KNOWN_FAILURES: &str = include_str!("fail2ban_known_failures.txt");

/// The harness's clock: 1124013600 = 2005-08-14T10:00:00Z, in Europe/Zurich.
fn now() -> NaiveDateTime {
    "2005-08-14T12:00:00".parse().unwrap()
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap() - TimeDelta::days(1);
    while d.weekday() != Weekday::Sun {
        d -= TimeDelta::days(1);
    }
    d
}

/// The harness runs with TZ=CET-01CEST-02,M3.5.0,M10.5.0 (EU rules).
fn zurich(t: DateTime<Utc>) -> NaiveDateTime {
    let y = t.year();
    let start = last_sunday(y, 3).and_hms_opt(1, 0, 0).unwrap().and_utc();
    let end = last_sunday(y, 10).and_hms_opt(1, 0, 0).unwrap().and_utc();
    let hours = if t >= start && t < end { 2 } else { 1 };
    t.naive_utc() + TimeDelta::hours(hours)
}

fn options_key(o: &BTreeMap<String, String>) -> String {
    if o.is_empty() {
        return "{}".into();
    }
    o.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The few Python expressions the corpus uses in `constraint`/`test.condition`.
fn holds(expr: &str, name: &str, opts: &BTreeMap<String, String>) -> bool {
    let expr = expr.replace(' ', "");
    let (lhs, rhs, eq) = match expr.split_once("==") {
        Some((l, r)) => (l.to_owned(), r.to_owned(), true),
        None => {
            let (l, r) = expr
                .split_once("!=")
                .unwrap_or_else(|| panic!("unknown constraint {expr}"));
            (l.to_owned(), r.to_owned(), false)
        }
    };
    let value = match lhs.as_str() {
        "name" => Some(name.to_owned()),
        l if l.starts_with("opts.get('") => opts.get(&l[10..l.len() - 2]).cloned(),
        l => panic!("unknown constraint {l}"),
    };
    (value.as_deref() == Some(rhs.trim_matches('\''))) == eq
}

#[test]
fn fail2ban_sample_logs_match_as_fail2ban_says() {
    let Some(root) = common::corpus("fail2ban") else {
        return;
    };
    let text = std::fs::read_to_string(root.join("expected.jsonl")).unwrap();
    let mut filters: HashMap<(String, String), Result<Fail2banFilter, String>> = HashMap::new();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut per_filter: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut skipped = 0;
    let (mut times_checked, mut checks) = (0, 0);
    for line in text.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let file = rec["file"].as_str().unwrap();
        let lineno = rec["lineno"].as_u64().unwrap();
        let raw = rec["line"].as_str().unwrap();
        let exp = &rec["expected"];
        // sshd's sample includes sshd-journal (`# addFILE`); the generic
        // example's filter lives in fail2ban's test code, not in filter.d.
        let name = if file == "sshd-journal" { "sshd" } else { file };
        if !root.join(format!("config/filter.d/{name}.conf")).exists() {
            skipped += 1;
            continue;
        }
        for set in rec["filter_options"].as_array().unwrap() {
            let mut opts: BTreeMap<String, String> = BTreeMap::new();
            let mut prefix = String::new();
            let mut condition = None;
            for (k, v) in set.as_object().unwrap() {
                let v = v.as_str().unwrap().to_owned();
                match k.as_str() {
                    "test.prefix-line" => prefix = v,
                    "test.condition" => condition = Some(v),
                    _ => {
                        opts.insert(k.clone(), v);
                    }
                }
            }
            if condition.is_some_and(|c| !holds(&c, name, &opts)) {
                continue;
            }
            if let Some(c) = exp["constraint"].as_str()
                && !holds(c, name, &opts)
            {
                continue;
            }
            let key = (name.to_owned(), options_key(&opts));
            let filter = filters.entry(key.clone()).or_insert_with(|| {
                let path = root.join(format!("config/filter.d/{name}.conf"));
                Fail2banFilter::load(&path, &opts)
                    .map(|(f, _warnings)| f)
                    .map_err(|p| {
                        p.0.iter()
                            .map(|p| format!("{}: {}", p.location, p.message))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
            });
            checks += 1;
            let filter = match filter {
                Ok(f) => f,
                Err(e) => {
                    // One entry per filter and option set that cannot load.
                    failures.insert(format!("{name}:*:{}", key.1), format!("does not load: {e}"));
                    per_filter.entry(name.to_owned()).or_default().1 += 1;
                    continue;
                }
            };
            let id = format!("{file}:{lineno}:{}", key.1);
            // One filter per (name, options) sees every line in file order,
            // as fail2ban's harness feeds them (sshd-journal after sshd), so
            // multi-line state carries from line to line.
            let got = filter.process_line_at(&format!("{prefix}{raw}"), now());
            let want = exp["match"].as_bool().unwrap();
            let entry = per_filter.entry(name.to_owned()).or_default();
            entry.1 += 1;
            let problem = match (&got, want) {
                (None, true) => Some("no match".to_owned()),
                (Some(m), false) => Some(format!("unexpected match (host {})", m.host)),
                (None, false) => None,
                (Some(m), true) => {
                    let mut p = String::new();
                    if let Some(h) = exp["host"].as_str()
                        && h != m.host
                    {
                        write!(p, "host {:?} != {h:?}; ", m.host).unwrap();
                    }
                    if let Some(u) = exp["user"].as_str()
                        && Some(u) != m.user.as_deref()
                    {
                        write!(p, "user {:?} != {u:?}; ", m.user).unwrap();
                    }
                    if let Some(t) = exp["time"].as_str()
                        && opts.get("logtype").map(String::as_str) != Some("journal")
                    {
                        times_checked += 1;
                        let want: NaiveDateTime = t.parse().unwrap();
                        let mut got = match m.time {
                            Some(Fail2banTime::Local(l)) => Some(l),
                            Some(Fail2banTime::Absolute(a)) => Some(zurich(a)),
                            None => None,
                        };
                        // Expected times without a fraction are compared to the second.
                        if !t.contains('.') {
                            got = got.map(|g| g.with_nanosecond(0).unwrap());
                        }
                        if got != Some(want) {
                            write!(p, "time {got:?} != {t}; ").unwrap();
                        }
                    }
                    (!p.is_empty()).then(|| p.trim_end_matches("; ").to_owned())
                }
            };
            match problem {
                Some(p) => {
                    failures.insert(id, p);
                }
                None => entry.0 += 1,
            }
        }
    }
    let mut report = String::new();
    for (name, (ok, all)) in &per_filter {
        writeln!(report, "{name}: {ok}/{all}").unwrap();
    }
    let passed: usize = per_filter.values().map(|v| v.0).sum();
    eprintln!(
        "{report}total: {passed}/{checks} checks pass ({times_checked} times compared); {skipped} records skipped (filter not in filter.d)"
    );
    let listed: BTreeMap<String, String> = KNOWN_FAILURES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (id, reason) = l.split_once(' ').unwrap_or((l, ""));
            (id.to_owned(), reason.to_owned())
        })
        .collect();
    let got_ids: BTreeSet<&String> = failures.keys().collect();
    let listed_ids: BTreeSet<&String> = listed.keys().collect();
    let new: Vec<String> = got_ids
        .difference(&listed_ids)
        .map(|id| format!("{id} {}", failures[*id]))
        .collect();
    let fixed: Vec<&&String> = listed_ids.difference(&got_ids).collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "new failures:\n{}\nno longer failing: {fixed:?}",
        new.join("\n")
    );
    assert_eq!(skipped, 23);
    assert_eq!((passed, checks), (1355, 1355));
}

/// How every filter in filter.d translates with its default options: how
/// many load, how many failregexes they have, and how many of those need
/// `fancy-regex` (lookaround, backreferences, conditionals). The numbers are
/// in docs/fail2ban.md; a change here is a change in what we run.
#[test]
fn fail2ban_filter_d_translates() {
    let Some(root) = common::corpus("fail2ban") else {
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(root.join("config/filter.d"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".conf").map(str::to_owned)
        })
        .collect();
    names.sort();
    let (mut loaded, mut refused, mut failregexes, mut fancy) = (Vec::new(), Vec::new(), 0, 0);
    let mut fancy_filters = Vec::new();
    for name in &names {
        let path = root.join(format!("config/filter.d/{name}.conf"));
        match Fail2banFilter::load(&path, &BTreeMap::new()) {
            Ok((f, _)) => {
                let s = f.stats();
                failregexes += s.failregexes;
                fancy += s.fancy;
                if s.fancy > 0 {
                    fancy_filters.push(format!("{name}:{}", s.fancy));
                }
                loaded.push(name.clone());
            }
            Err(p) => refused.push(format!("{name}: {}", p.0[0].message)),
        }
    }
    eprintln!(
        "{} filters: {} load, {failregexes} failregexes, {fancy} need fancy-regex ({})\nrefused:\n  {}",
        names.len(),
        loaded.len(),
        fancy_filters.join(" "),
        refused.join("\n  ")
    );
    // 103 files: 97 filters and 6 shared includes (*common), which are not
    // filters; every filter loads, the multi-line ones (ejabberd-auth,
    // guacamole, mongodb-auth) included.
    assert_eq!(
        (names.len(), loaded.len(), failregexes, fancy),
        (103, 97, 196, 23)
    );
    let refused: Vec<&str> = refused
        .iter()
        .map(|r| r.split(':').next().unwrap())
        .collect();
    assert_eq!(
        refused,
        [
            "apache-common",
            "botsearch-common",
            "common",
            "exim-common",
            "nginx-error-common",
            "selinux-common"
        ]
    );
}
