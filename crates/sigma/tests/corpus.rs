//! SigmaHQ corpus conformance (issue #4): load rate of the three rule
//! directories with every rejection listed in `tests/rejected.tsv`, and
//! every rule of `regression_manifest.tsv` firing on its own regression
//! EVTX read through riposte-ingest's decoder, except those listed with a
//! reason in `tests/regression_exceptions.tsv`.
//!
//! `RIPOSTE_SIGMA_BLESS=1` rewrites both expectation files from the run.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use riposte_ingest::{DecodeCtx, read_evtx};
use riposte_sigma::{Mapping, load};

const RULE_DIRS: [&str; 3] = ["rules", "rules-emerging-threats", "rules-threat-hunting"];

fn bless() -> bool {
    std::env::var("RIPOSTE_SIGMA_BLESS").as_deref() == Ok("1")
}

fn expectation(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// Lines of a checked-in TSV, comments and blank lines dropped.
fn read_tsv(name: &str) -> Vec<String> {
    std::fs::read_to_string(expectation(name))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn write_tsv(name: &str, header: &str, lines: &[String]) {
    let mut text = String::from(header);
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(expectation(name), text).expect("write the expectation file");
}

/// One line per rejection: path relative to the corpus, id, reason (tabs
/// and newlines in the reason flattened).
fn tsv_line(root: &Path, file: &Path, id: Option<&str>, reason: &str) -> String {
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let reason = reason.replace(['\t', '\n'], " ");
    format!("{rel}\t{}\t{reason}", id.unwrap_or("-"))
}

#[test]
fn sigmahq_rules_load_at_least_99_percent() {
    let Some(root) = common::corpus("sigma") else {
        return;
    };
    let dirs: Vec<_> = RULE_DIRS.iter().map(|d| root.join(d)).collect();
    let loaded = load(&dirs, &Mapping::builtin());
    let rejected: Vec<String> = loaded
        .rejected
        .iter()
        .map(|r| tsv_line(&root, &r.file, r.id.as_deref(), &r.reason))
        .collect();
    let total = loaded.rules.len() + loaded.rejected.len();
    let rate = loaded.rules.len() as f64 * 100.0 / total as f64;
    let unmapped = loaded.rules.unmapped().len();
    println!(
        "sigma corpus: {} of {total} rules loaded ({rate:.2}%), {} rejected, {} correlations, {} skipped, {unmapped} loaded with an unmapped logsource",
        loaded.rules.len(),
        loaded.rejected.len(),
        loaded.correlations.len(),
        loaded.skipped.len(),
    );
    let mut by_logsource: BTreeMap<String, usize> = BTreeMap::new();
    for u in loaded.rules.unmapped() {
        *by_logsource.entry(u.logsource).or_default() += 1;
    }
    let mut by_logsource: Vec<_> = by_logsource.into_iter().collect();
    by_logsource.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("unmapped logsources (rules): {by_logsource:?}");
    if bless() {
        write_tsv(
            "rejected.tsv",
            "# SigmaHQ rules riposte-sigma rejects (tests/corpus.rs): path\tid\treason\n",
            &rejected,
        );
    }
    assert_eq!(rejected, read_tsv("rejected.tsv"));
    assert!(rate >= 99.0, "load rate {rate:.2}% is below 99%");
}

#[test]
fn regression_evtx_fire_their_rules() {
    let Some(root) = common::corpus("sigma") else {
        return;
    };
    let manifest = std::fs::read_to_string(root.join("regression_manifest.tsv")).unwrap();
    let ctx = DecodeCtx {
        source: "regression",
        now: Default::default(),
    };
    let mapping = Mapping::builtin();
    let mut failures = Vec::new();
    let (mut checked, mut passed) = (0, 0);
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [id, rule_path, _status, _ls, _test, kind, count, evtx, ..] = cols[..] else {
            continue;
        };
        if kind != "evtx" {
            continue;
        }
        checked += 1;
        let want: usize = count.parse().unwrap_or(1);
        let loaded = load(&[root.join(rule_path)], &mapping);
        let rule = loaded.rules.rules().iter().find(|r| r.id() == Some(id));
        let Some(rule) = rule else {
            failures.push(format!("{id}\t{rule_path}\trule did not load"));
            continue;
        };
        let batch = read_evtx(&root.join(evtx), &ctx).unwrap();
        let got = batch.events.iter().filter(|e| rule.is_match(e)).count();
        if got >= want {
            passed += 1;
        } else {
            let why = if rule.is_mapped() {
                let detection = batch
                    .events
                    .iter()
                    .filter(|e| rule.detection_matches(e))
                    .count();
                format!("{got} of {want} matches ({detection} on detection alone)")
            } else {
                "unmapped logsource".to_owned()
            };
            failures.push(format!("{id}\t{rule_path}\t{why}"));
        }
    }
    println!(
        "sigma regression: {passed} of {checked} rules fire on their EVTX as often as expected"
    );
    if bless() {
        write_tsv(
            "regression_exceptions.tsv",
            "# Regression rules that do not fire on their EVTX (tests/corpus.rs): id\tpath\twhat happened\n",
            &failures,
        );
    }
    let expected: Vec<String> = read_tsv("regression_exceptions.tsv")
        .into_iter()
        .map(|l| l.splitn(4, '\t').take(3).collect::<Vec<_>>().join("\t"))
        .collect();
    assert_eq!(failures, expected);
}

/// The logsource index and the prefilter only skip rules that cannot
/// match: over every regression event, `SigmaRules::for_each_match` gives
/// exactly the rules `SigmaRule::is_match` accepts one by one.
#[test]
fn index_and_prefilter_agree_with_rule_by_rule_matching() {
    let Some(root) = common::corpus("sigma") else {
        return;
    };
    let dirs: Vec<_> = RULE_DIRS.iter().map(|d| root.join(d)).collect();
    let mut rules = load(&dirs, &Mapping::builtin()).rules;
    rules.retain(|r| r.meta().product.as_deref() == Some("windows"));
    let ctx = DecodeCtx {
        source: "regression",
        now: Default::default(),
    };
    let mut files = Vec::new();
    let manifest = std::fs::read_to_string(root.join("regression_manifest.tsv")).unwrap();
    for line in manifest.lines().skip(1) {
        if let Some(evtx) = line.split('\t').nth(7).filter(|p| p.ends_with(".evtx")) {
            files.push(root.join(evtx));
        }
    }
    let mut scratch = riposte_sigma::Scratch::default();
    let (mut events, mut hits) = (0, 0);
    for f in files {
        for ev in read_evtx(&f, &ctx).unwrap().events {
            events += 1;
            let mut fast: Vec<*const riposte_sigma::SigmaRule> = Vec::new();
            rules.for_each_match(&ev, &mut scratch, |r| fast.push(r));
            let mut slow: Vec<*const riposte_sigma::SigmaRule> = rules
                .rules()
                .iter()
                .filter(|r| r.is_match(&ev))
                .map(|r| r as *const _)
                .collect();
            fast.sort();
            slow.sort();
            assert_eq!(fast, slow, "{}", f.display());
            hits += fast.len();
        }
    }
    println!(
        "index/prefilter check: {events} events, {hits} matches, {} rules",
        rules.len()
    );
}
