//! Sigma engine throughput, one core: `cargo bench -p riposte-sigma`.
//! The SigmaHQ Windows rules (100 / 1,000 / all, spread evenly over the set)
//! against every event of the corpus's regression EVTX files, decoded once
//! outside the timing. Needs the corpora (`RIPOSTE_CORPORA`, else
//! `../shared/corpora`); without them it prints a note and measures nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_ingest::{DecodeCtx, read_evtx};
use riposte_model::Event;
use riposte_sigma::{Mapping, SigmaRules, load};

fn sigma_root() -> Option<PathBuf> {
    let root = std::env::var_os("RIPOSTE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"));
    let sigma = root.join("sigma");
    sigma.is_dir().then_some(sigma)
}

fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}

fn events(sigma: &Path) -> Vec<Event> {
    let mut files = Vec::new();
    evtx_files(&sigma.join("regression_data"), &mut files);
    files.sort();
    let ctx = DecodeCtx {
        source: "bench",
        now: Default::default(),
    };
    files
        .iter()
        .filter_map(|f| read_evtx(f, &ctx).ok())
        .flat_map(|b| b.events)
        .collect()
}

fn spread(rules: &SigmaRules, n: usize) -> SigmaRules {
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

fn bench(c: &mut Criterion) {
    let Some(sigma) = sigma_root() else {
        eprintln!("sigma bench: corpus not found (set RIPOSTE_CORPORA); nothing measured");
        return;
    };
    let dirs: Vec<PathBuf> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d))
        .collect();
    let mut all = load(&dirs, &Mapping::builtin()).rules;
    all.retain(|r| r.meta().product.as_deref() == Some("windows"));
    let events = events(&sigma);
    let mut group = c.benchmark_group("sigma");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    for (name, n) in [
        ("windows_100", 100),
        ("windows_1000", 1000),
        ("windows_all", usize::MAX),
    ] {
        let rules = spread(&all, n);
        let mut scratch = riposte_sigma::Scratch::default();
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut hits = 0usize;
                for e in &events {
                    rules.for_each_match(black_box(e), &mut scratch, |_| hits += 1);
                }
                hits
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
