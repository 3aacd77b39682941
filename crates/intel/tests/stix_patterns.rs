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
