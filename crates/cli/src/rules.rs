//! `riposte rules lint` and `riposte rules test`: what loads from a rules
//! directory (native and Sigma), and what a rule set raises on recorded
//! events.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use riposte_detect::{Detector, RuleSet, load_rules_with};
use riposte_ingest::{DecodeCtx, Format};
use riposte_model::Alert;
use riposte_sigma::Mapping;

use crate::commands::terminal_safe;
use crate::ingest::{Input, detect, open_input};

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Load rule files and directories (native rules and Sigma rules and
    /// correlations, searched recursively) and list every rule that cannot
    /// be loaded, with file, rule id and reason. Exits 1 if any is rejected.
    Lint {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A Sigma logsource/field mapping file, applied over the built-in
        /// one (docs/sigma.md).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Also list the Sigma rules whose logsource has no mapping (they
        /// load, but no event reaches them).
        #[arg(long)]
        unmapped: bool,
    },
    /// Run RULES (a file or directory) over the events decoded from EVENTS
    /// and print every alert, one line each (or JSON lines with --json).
    Test {
        rules: PathBuf,
        #[arg(required = true)]
        events: Vec<PathBuf>,
        /// The events' format; detected per file when absent.
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        mapping: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<()> {
    match cmd {
        RulesCommand::Lint {
            paths,
            mapping,
            unmapped,
        } => lint(&paths, mapping.as_deref(), unmapped),
        RulesCommand::Test {
            rules,
            events,
            format,
            mapping,
            json,
        } => test(&rules, &events, format.as_deref(), mapping.as_deref(), json),
    }
}

fn load(paths: &[PathBuf], mapping_file: Option<&Path>) -> anyhow::Result<RuleSet> {
    let mapping = Mapping::builtin_with(mapping_file).map_err(|p| anyhow!("{p}"))?;
    load_rules_with(paths, &mapping).map_err(|p| anyhow!("{p}"))
}

fn lint(paths: &[PathBuf], mapping_file: Option<&Path>, list_unmapped: bool) -> anyhow::Result<()> {
    let set = load(paths, mapping_file)?;
    let report = &set.sigma.report;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for r in &report.rejected {
        writeln!(out, "rejected: {}", terminal_safe(&r.to_string()))?;
    }
    for r in &report.skipped {
        writeln!(out, "skipped: {}", terminal_safe(&r.to_string()))?;
    }
    if list_unmapped {
        for u in &report.unmapped {
            writeln!(
                out,
                "unmapped: {}: rule {}: logsource {}",
                terminal_safe(&u.file.display().to_string()),
                terminal_safe(u.id.as_deref().unwrap_or("(no id)")),
                terminal_safe(&u.logsource)
            )?;
        }
    }
    let sigma = set.sigma.rules.len();
    let total = sigma + report.rejected.len();
    writeln!(
        out,
        "{} native rules; Sigma: {sigma} of {total} rules loaded ({:.2}%), {} rejected, {} skipped, \
         {} with an unmapped logsource; {} correlations",
        set.rules.len(),
        if total == 0 {
            100.0
        } else {
            sigma as f64 * 100.0 / total as f64
        },
        report.rejected.len(),
        report.skipped.len(),
        report.unmapped.len(),
        set.sigma.correlations.len(),
    )?;
    out.flush()?;
    if report.rejected.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("{} rules rejected", report.rejected.len()))
    }
}

fn test(
    rules: &Path,
    events: &[PathBuf],
    format: Option<&str>,
    mapping_file: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    let given = format.map(str::parse::<Format>).transpose()?;
    let set = load(&[rules.to_path_buf()], mapping_file)?;
    for r in &set.sigma.report.rejected {
        eprintln!("rejected: {}", terminal_safe(&r.to_string()));
    }
    let mut detector = Detector::new(Arc::new(set));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    let (mut n_events, mut latest) = (0u64, None);
    let mut emit = |alert: Alert, out: &mut std::io::StdoutLock<'_>| -> anyhow::Result<()> {
        *by_rule.entry(alert.rule_id.clone()).or_default() += 1;
        if json {
            serde_json::to_writer(&mut *out, &alert)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{} {} {} {}",
                alert
                    .last_seen
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                alert.severity,
                terminal_safe(&alert.rule_id),
                terminal_safe(&alert.summary)
            )?;
        }
        Ok(())
    };
    for path in events {
        let (name, mut reader) = open_input(path)?;
        let format = match given {
            Some(f) => f,
            None => detect(&mut reader, &name)?,
        };
        let mut input = Input::new(reader, format, 1 << 20, &name)?;
        loop {
            let ctx = DecodeCtx {
                source: &name,
                now: chrono::Utc::now(),
            };
            let Some((_, batch)) = input
                .next_batch(1000, &ctx)
                .with_context(|| format!("reading {name}"))?
            else {
                break;
            };
            for d in &batch.dead_letters {
                eprintln!(
                    "dead letter: {} offset {}: {}",
                    terminal_safe(&d.source),
                    d.offset.unwrap_or(0),
                    terminal_safe(&d.reason)
                );
            }
            for event in &batch.events {
                n_events += 1;
                latest = latest.max(Some(event.timestamp));
                // Alerts are stamped with event time: the output of a test
                // run depends on the events alone.
                for alert in detector.process(event, event.timestamp) {
                    emit(alert, &mut out)?;
                }
            }
        }
    }
    // The input is over: every correlation window is judged.
    if let Some(latest) = latest {
        let end = latest + chrono::TimeDelta::days(36_500);
        for alert in detector.flush(end, latest) {
            emit(alert, &mut out)?;
        }
    }
    out.flush()?;
    let total: u64 = by_rule.values().sum();
    eprintln!(
        "{n_events} events, {total} alerts from {} rules",
        by_rule.len()
    );
    for (rule, n) in &by_rule {
        eprintln!("  {n:>6}  {}", terminal_safe(rule));
    }
    Ok(())
}
