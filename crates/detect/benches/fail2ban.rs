//! fail2ban filter throughput, one core: `cargo bench -p riposte-detect
//! --bench fail2ban`. Lines are the sshd sample log of fail2ban's own tests
//! (`$RIPOSTE_CORPORA/fail2ban/logs/sshd`, read in place; the bench prints a
//! note and does nothing when the corpus is absent). Criterion reports
//! lines/s.

use std::hint::black_box;
use std::path::PathBuf;

use chrono::NaiveDateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_detect::fail2ban::Fail2banFilter;

fn corpus() -> Option<PathBuf> {
    let root = std::env::var_os("RIPOSTE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpora"
            ))
        });
    let dir = root.join("fail2ban");
    dir.exists().then_some(dir)
}

fn bench(c: &mut Criterion) {
    let Some(dir) = corpus() else {
        eprintln!("fail2ban corpus not found: set RIPOSTE_CORPORA");
        return;
    };
    let text = std::fs::read_to_string(dir.join("logs/sshd")).expect("sshd sample log");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    eprintln!("{} bytes in {} lines", bytes, lines.len());
    let now: NaiveDateTime = "2005-08-14T12:00:00".parse().expect("time");
    let mut group = c.benchmark_group("fail2ban");
    for mode in ["normal", "aggressive"] {
        let opts = [("mode".to_owned(), mode.to_owned())].into_iter().collect();
        let (filter, _) = Fail2banFilter::load(&dir.join("config/filter.d/sshd.conf"), &opts)
            .unwrap_or_else(|p| panic!("{p}"));
        let matched = lines
            .iter()
            .filter(|l| filter.match_line_at(l, now).is_some())
            .count();
        eprintln!(
            "sshd mode={mode}: {} lines, {matched} match, {} failregexes ({} need fancy-regex)",
            lines.len(),
            filter.stats().failregexes,
            filter.stats().fancy
        );
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_function(format!("sshd_{mode}_lines"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for l in &lines {
                    n += usize::from(filter.match_line_at(black_box(l), now).is_some());
                }
                n
            })
        });
        // What a rule runs: sshd has <F-MLFID>, so its lines go through the
        // session state (one filter, state carried across iterations).
        let stateful = filter.clone();
        group.bench_function(format!("sshd_{mode}_lines_sessions"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for l in &lines {
                    n += usize::from(stateful.process_line_at(black_box(l), now).is_some());
                }
                n
            })
        });
        eprintln!(
            "sshd mode={mode} sessions: {:?}",
            stateful.multiline_stats()
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
