//! The Sigma entries: the SigmaHQ Windows rules over every regression EVTX
//! event of the corpus (`RIPOSTE_CORPORA`, else `../shared/corpora`),
//! decoded once outside the timing. Skipped, with a note, without the corpus.

use std::path::{Path, PathBuf};

use riposte_ingest::{DecodeCtx, read_evtx};
use riposte_model::Event;
use riposte_sigma::{Mapping, SigmaRules, load};

pub fn corpus_root() -> Option<PathBuf> {
    let root = std::env::var_os("RIPOSTE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"));
    let sigma = root.join("sigma");
    sigma.is_dir().then_some(sigma)
}

/// Every rule of the three SigmaHQ directories whose product is windows.
pub fn windows_rules(sigma: &Path) -> SigmaRules {
    let dirs: Vec<PathBuf> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d))
        .collect();
    let mut rules = load(&dirs, &Mapping::builtin()).rules;
    rules.retain(|r| r.meta().product.as_deref() == Some("windows"));
    rules
}

/// `n` rules spread evenly over the set (every k-th), so that a subset has
/// the set's mix of logsources.
pub fn spread(rules: &SigmaRules, n: usize) -> SigmaRules {
    let total = rules.len();
    let mut out = rules.clone();
    let mut i = 0usize;
    out.retain(|_| {
        let keep = n >= total || (i * n / total) != ((i + 1) * n / total);
        i += 1;
        keep
    });
    out
}

/// Every event of every regression EVTX, decoded once.
pub fn regression_events(sigma: &Path) -> Vec<Event> {
    let mut files = Vec::new();
    walk(&sigma.join("regression_data"), &mut files);
    files.sort();
    let ctx = DecodeCtx {
        source: "bench",
        now: Default::default(),
    };
    let mut events = Vec::new();
    for f in files {
        if let Ok(batch) = read_evtx(&f, &ctx) {
            events.extend(batch.events);
        }
    }
    events
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}
