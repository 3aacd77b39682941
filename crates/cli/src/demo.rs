//! `riposte demo`: the bundled sample, end to end, on an embedded store.
//!
//! The sample is replayed on its own clock (the engine's "now" follows the
//! events' timestamps), so the output — which address is banned, and until
//! when — is the same on every machine and every day.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use chrono::{TimeZone, Utc};
use riposte_engine::BatchReport;
use riposte_ingest::{DecodeCtx, DecodedBatch, Decoder, FileTail, Line};
use riposte_model::{Clock, ManualClock, Timestamp, format_duration};
use riposte_service::{Config, SourceKind, build_engine};

/// The bundled files, written into the demo directory.
const FILES: [(&str, &str); 6] = [
    (
        "riposte.yaml",
        include_str!("../../../examples/demo/riposte.yaml"),
    ),
    (
        "rules.yaml",
        include_str!("../../../examples/demo/rules.yaml"),
    ),
    (
        "playbooks/ssh-bruteforce.yaml",
        include_str!("../../../examples/demo/playbooks/ssh-bruteforce.yaml"),
    ),
    (
        "playbooks/suricata-high.yaml",
        include_str!("../../../examples/demo/playbooks/suricata-high.yaml"),
    ),
    ("auth.log", include_str!("../../../examples/demo/auth.log")),
    ("eve.json", include_str!("../../../examples/demo/eve.json")),
];

/// The sample's clock starts shortly before its first line.
fn sample_start() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 20, 0)
        .single()
        .unwrap_or_default()
}

pub async fn run(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = match dir {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("riposte-demo-")
            .tempdir()?
            .keep(),
    };
    for (name, content) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    let config_path = dir.join("riposte.yaml");
    let config =
        Config::load(&config_path).map_err(|p| anyhow!("bundled configuration is invalid, {p}"))?;
    let clock = Arc::new(ManualClock::new(sample_start()));
    let mut engine = build_engine(&config, clock.clone())
        .await?
        .follow_event_time(clock.clone());

    println!(
        "Riposte demo: embedded SQLite store in {}",
        config.data_dir.display()
    );
    println!(
        "Replaying the bundled sample on its own clock, from {}.",
        fmt_ts(sample_start())
    );
    println!();
    println!("Ingested");
    let mut all = DecodedBatch::default();
    for source in &config.sources {
        let SourceKind::File { path, .. } = &source.kind else {
            anyhow::bail!("the demo reads files only");
        };
        let format = source.format;
        let lines = read_lines(path, config.ingest.max_line_bytes)?;
        let ctx = DecodeCtx {
            source: &source.name,
            now: clock.now(),
        };
        let decoded = Decoder::new(format, &source.decode).decode_batch(&lines, &ctx);
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut parts = vec![format!("{} events", decoded.events.len())];
        if decoded.ignored > 0 {
            parts.push(format!("{} ignored", decoded.ignored));
        }
        if !decoded.dead_letters.is_empty() {
            parts.push(format!("{} dead-lettered", decoded.dead_letters.len()));
        }
        println!(
            "  {:<9} {:<13} {:>3} lines: {}",
            file,
            format.as_str(),
            lines.len(),
            parts.join(", ")
        );
        all.extend(decoded);
    }
    // Sources interleave in time; detection must see them in event order.
    all.events.sort_by_key(|e| e.timestamp);
    let report = engine.commit_batch(all, None).await?;
    print_report(&report, &config);
    Ok(())
}

/// Reads a whole (complete) file as lines, through the same bounded reader
/// the file source uses.
fn read_lines(path: &Path, max: usize) -> anyhow::Result<Vec<Line>> {
    let mut tail =
        FileTail::open(path, 0).with_context(|| format!("opening {}", path.display()))?;
    let mut lines = Vec::new();
    loop {
        let batch = tail.read_batch_flush(10_000, max)?;
        if batch.lines.is_empty() {
            return Ok(lines);
        }
        lines.extend(batch.lines);
    }
}

fn fmt_ts(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn print_report(report: &BatchReport, config: &Config) {
    if !report.dead_letters.is_empty() {
        println!("\nDead letters (kept in the store with the reason)");
        for d in &report.dead_letters {
            println!(
                "  {} offset {}: {}",
                d.source,
                d.offset.unwrap_or(0),
                d.reason
            );
        }
    }
    println!("\nAlerts ({})", report.alerts.len());
    for a in &report.alerts {
        println!(
            "  {}  {:<6} {:<15} {}",
            fmt_ts(a.last_seen),
            a.severity,
            a.rule_id,
            a.summary
        );
    }
    println!("\nCases ({})", report.cases.len());
    for (c, _) in &report.cases {
        println!(
            "  {}  {:<6} {}  ({} alert{})",
            c.id,
            c.severity,
            c.title,
            c.alerts.len(),
            if c.alerts.len() == 1 { "" } else { "s" }
        );
    }
    println!("\nDecisions ({})", report.decisions.len());
    for d in &report.decisions {
        let (duration, until) = match d.expires_at {
            Some(t) => (format_duration(t - d.created_at), fmt_ts(t)),
            None => ("ever".to_owned(), "-".to_owned()),
        };
        println!(
            "  ban {} for {duration}, until {until} — {}, {}",
            d.value, d.reason, d.origin
        );
    }
    for r in &report.refusals {
        println!(
            "  refused ban {} — {} (playbook {} step {})",
            r.value, r.reason, r.playbook, r.step
        );
    }
    for path in config.enforcers.iter().filter_map(|e| e.path()) {
        println!("\nBlocklist {}", path.display());
        match std::fs::read_to_string(path) {
            Ok(text) if text.is_empty() => println!("  (empty)"),
            Ok(text) => text.lines().for_each(|l| println!("  {l}")),
            Err(err) => println!("  (unreadable: {err})"),
        }
    }
    println!(
        "\nInspect the store: riposte decisions list --config {}",
        config.base_dir.join("riposte.yaml").display()
    );
}
