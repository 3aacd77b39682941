//! The OASIS reference matcher's STIX 2.1 test vectors
//! (`stix2/pattern-matcher-tests/cases.jsonl`, 288 cases) run through the
//! pattern parser and evaluator. Every case with a pattern and a known
//! answer must give that answer — a match, no match, or an error — except
//! the ones `stix_pattern_unsupported.txt` lists, which must be *rejected*
//! with an error (never answered wrongly). `see_source` cases (internals of
//! the Python matcher, answers only in its source) are counted apart.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::TimeDelta;
use riposte_intel::stix::eval::{Observations, intervals_within, matches};
use riposte_intel::stix::pattern::{parse, parse_timestamp};
use serde_json::Value;

#[derive(Debug, PartialEq)]
enum Outcome {
    Match(bool),
    Error(String),
}

fn run(case: &Value) -> Outcome {
    let args = &case["args"];
    if let (Some(i1), Some(i2), Some(d)) = (
        args.get("interval1").and_then(Value::as_array),
        args.get("interval2").and_then(Value::as_array),
        args.get("duration").and_then(Value::as_i64),
    ) {
        let iv = |a: &Vec<Value>| {
            (
                parse_timestamp(a[0].as_str().unwrap()).unwrap(),
                parse_timestamp(a[1].as_str().unwrap()).unwrap(),
            )
        };
        return Outcome::Match(intervals_within(&[iv(i1), iv(i2)], TimeDelta::seconds(d)));
    }
    let pattern = args["pattern"].as_str().unwrap();
    let bundles = case["observations"].as_array().unwrap();
    let parsed = match parse(pattern) {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let obs = match Observations::from_bundles(bundles) {
        Ok(o) => o,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    match matches(&parsed, &obs) {
        Ok(m) => Outcome::Match(m),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

#[test]
fn reference_matcher_cases() {
    let Some(path) = riposte_testkit::corpus("stix2/pattern-matcher-tests/cases.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let unsupported: BTreeSet<String> = include_str!("stix_pattern_unsupported.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(" -- ").next().unwrap().to_owned())
        .collect();
    let (mut passed, mut see_source, mut rejected) = (0, 0, BTreeSet::new());
    let mut wrong = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        let case: Value = serde_json::from_str(line).unwrap();
        let key = format!("{}:{}", case["file"].as_str().unwrap(), n + 1);
        let expected = &case["expected"];
        if expected == "see_source" {
            see_source += 1;
            continue;
        }
        let got = run(&case);
        let ok = match (&got, expected) {
            (Outcome::Match(m), Value::Bool(want)) => m == want,
            (Outcome::Error(_), Value::String(s)) => s == "error",
            _ => false,
        };
        if ok {
            passed += 1;
        } else if let (Outcome::Error(_), true) = (&got, unsupported.contains(&key)) {
            rejected.insert(key);
        } else {
            wrong.push(format!(
                "{key} {:?}: expected {expected}, got {got:?}",
                case["args"].get("pattern")
            ));
        }
    }
    eprintln!(
        "STIX pattern cases: {} total, {passed} passed, {} rejected as unsupported, {see_source} see_source",
        lines.len(),
        rejected.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(rejected, unsupported, "the expectation file is out of date");
    assert_eq!((lines.len(), passed, see_source), (288, 255, 27));
}

/// The OASIS example bundles (`stix2/examples`, threat reports included)
/// import: every object accounted for, every indicator either a list of
/// values or skipped with the reason, none rejected but the one whose
/// domain value has a space in it.
#[test]
fn example_bundles_import() {
    use riposte_intel::import::FeedDefaults;
    use riposte_intel::import::misp::collect;
    use riposte_intel::import::stix::import_bundle_file;
    let Some(dir) = riposte_testkit::corpus("stix2/examples") else {
        return;
    };
    let now = chrono::Utc::now();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("threat-reports")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut got, mut errors) = (Vec::new(), Vec::new());
    for f in &files {
        let mut out = Vec::new();
        let r = import_bundle_file(f, &FeedDefaults::new("oasis", now), &mut collect(&mut out))
            .unwrap();
        assert_eq!(
            r.read,
            r.accepted + r.skipped_total() + r.rejected,
            "{}",
            f.display()
        );
        got.push((
            f.file_name().unwrap().to_string_lossy().into_owned(),
            r.read,
            r.accepted,
            out.len(),
            r.rejected,
        ));
        errors.extend(r.errors.iter().map(|e| e.message.clone()));
    }
    let row = |f: &str, read, accepted, indicators, rejected| {
        (f.to_owned(), read, accepted, indicators, rejected)
    };
    assert_eq!(
        got,
        [
            row("indicator-for-c2-ip-address.json", 1, 1, 1, 0),
            row("indicator-to-campaign-relationship.json", 3, 1, 1, 0),
            row("indicators-for-C2-with-COA.json", 8, 2, 2, 0),
            row("infrastructure.json", 10, 0, 0, 0),
            // A single campaign object, not a bundle.
            row("interop-objectmarking-test.json", 1, 0, 0, 0),
            // Two MATCHES patterns on email subject and attachment name.
            row("malicious-email-indicator-with-attachment.json", 6, 0, 0, 0),
            // 12 indicators: 10 hashes, CIDRs and domains; 2 x509 AND patterns.
            row("apt1.json", 76, 10, 10, 0),
            // OR-ed domain and address lists: 24 indicators, 65 values.
            row("poisonivy.json", 155, 24, 65, 1),
        ]
    );
    assert_eq!(errors, ["domain \"domain autuo.xicp.net\": not a DNS name"]);
}
