//! Profiling helper for the Sigma engine, not a benchmark:
//! `sigma_prof N PASSES` runs N of the SigmaHQ Windows rules (spread as in
//! the bench; 0 = all) over the regression events PASSES times inside
//! `run`, so that `valgrind --tool=callgrind
//! --toggle-collect='*sigma_prof*run*'` counts the matching alone: an
//! instruction count that a busy machine does not disturb (BENCHMARKS.md).
#[path = "../src/sigma.rs"]
#[allow(dead_code)]
mod sigma;

#[inline(never)]
fn run(rules: &riposte_sigma::SigmaRules, events: &[riposte_model::Event], passes: usize) -> usize {
    let mut scratch = riposte_sigma::Scratch::default();
    let mut hits = 0;
    for _ in 0..passes {
        for e in events {
            rules.for_each_match(e, &mut scratch, |_| hits += 1);
        }
    }
    hits
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let passes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let root = sigma::corpus_root().expect("corpus");
    let all = sigma::windows_rules(&root);
    let rules = if n == 0 { all } else { sigma::spread(&all, n) };
    let events = sigma::regression_events(&root);
    let t = std::time::Instant::now();
    let hits = run(&rules, &events, passes);
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{} rules, {} events x {passes}: {} hits/pass, {:.0} events/s (wall)",
        rules.len(),
        events.len(),
        hits / passes.max(1),
        (events.len() * passes) as f64 / dt
    );
}
