//! `riposte intel import|export|lookup|stats`: threat-intel feeds into the
//! store, indicators out in the formats sensors read.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use riposte_intel::export;
use riposte_intel::feed::{FeedConfig, FeedFormat, FeedState, Location, run_feed, state_key};
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::csv::CsvFormat;
use riposte_model::{Clock, Confidence, IndicatorKind, SystemClock, Tlp};
use riposte_store::Store;

use crate::commands::StoreArgs;

#[derive(Subcommand, Debug)]
pub enum IntelCommand {
    /// Import a feed into the store: a feed the configuration names
    /// (`--feed NAME`), or a file given here with its format.
    Import(ImportArgs),
    /// Write the stored, unexpired indicators in a sensor's format.
    Export(ExportArgs),
    /// What every feed says about one value.
    Lookup {
        #[command(flatten)]
        store: StoreArgs,
        /// An address, domain, URL, hash, email, …
        value: String,
        /// The kind, when the guess (address, URL, hash length, email,
        /// domain) is not what you mean.
        #[arg(long)]
        kind: Option<IndicatorKind>,
    },
    /// Indicators per feed and kind, each feed's last fetch, and the most
    /// recent sightings.
    Stats {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Sightings of MISP feeds' indicators pushed back to MISP.
    #[command(subcommand)]
    Sightings(SightingsCommand),
}

#[derive(Subcommand, Debug)]
pub enum SightingsCommand {
    /// Push the queued sightings now (every feed with `sightings: {push:
    /// true}`, or one), instead of waiting for `serve`'s interval.
    Push {
        #[command(flatten)]
        store: StoreArgs,
        /// Only this feed.
        #[arg(long)]
        feed: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// A feed from the configuration's `intel.feeds`.
    #[arg(long, conflicts_with_all = ["format", "path"])]
    feed: Option<String>,
    /// misp-feed (a folder), misp-event, stix, csv.
    #[arg(long, requires = "path")]
    format: Option<String>,
    /// For csv: feodo, urlhaus, threatfox, spamhaus-drop or plain.
    #[arg(long, default_value = "plain")]
    preset: String,
    /// The feed name the indicators are stored under (default: the file
    /// name).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    confidence: Option<u8>,
    #[arg(long)]
    tlp: Option<Tlp>,
    /// Store as context only: never raise alerts.
    #[arg(long)]
    no_ids: bool,
    /// Remove the feed's indicators this import does not list.
    #[arg(long)]
    snapshot: bool,
    path: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// plain, zeek, suricata-iprep, suricata-dataset, misp-feed, stix.
    #[arg(long)]
    format: String,
    /// Only this kind (e.g. ip and cidr for a firewall list).
    #[arg(long)]
    kind: Vec<IndicatorKind>,
    /// Only this feed.
    #[arg(long)]
    feed: Option<String>,
    /// Include indicators not fit for detection (to_ids false).
    #[arg(long)]
    all: bool,
    /// Output file (a directory for misp-feed); default standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub async fn run(cmd: IntelCommand) -> anyhow::Result<()> {
    match cmd {
        IntelCommand::Import(args) => import(args).await,
        IntelCommand::Export(args) => export_cmd(args).await,
        IntelCommand::Lookup { store, value, kind } => lookup(store, value, kind).await,
        IntelCommand::Stats { store } => stats(store).await,
        IntelCommand::Sightings(SightingsCommand::Push { store, feed }) => {
            push_sightings(store, feed).await
        }
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let ctx = args.store.open().await?;
    let now = SystemClock.now();
    let feed = match (&args.feed, &args.path) {
        (Some(name), _) => {
            let config = crate::commands::load_config(args.store.config_path())?;
            config
                .intel_feeds
                .iter()
                .find(|f| &f.name == name)
                .cloned()
                .with_context(|| {
                    let names: Vec<&str> =
                        config.intel_feeds.iter().map(|f| f.name.as_str()).collect();
                    format!(
                        "no feed {name:?} in the configuration (feeds: {})",
                        names.join(", ")
                    )
                })?
        }
        (None, Some(path)) => {
            let format = match args.format.as_deref().unwrap_or("") {
                "misp-feed" => FeedFormat::MispFeed,
                "misp-event" => FeedFormat::MispEvent,
                "stix" => FeedFormat::Stix,
                "csv" => FeedFormat::Csv(CsvFormat::preset(&args.preset).with_context(|| {
                    format!(
                        "unknown preset {:?} (valid: {})",
                        args.preset,
                        CsvFormat::PRESETS.join(", ")
                    )
                })?),
                other => bail!(
                    "unknown or missing --format {other:?} (valid: misp-feed, misp-event, stix, csv)"
                ),
            };
            let name = args.name.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map_or_else(|| "import".into(), |s| s.to_string_lossy().into_owned())
            });
            let mut defaults = FeedDefaults::new(&name, now);
            if let Some(c) = args.confidence {
                defaults.confidence = Confidence::new(c)?;
            }
            if let Some(t) = args.tlp {
                defaults.tlp = t;
            }
            defaults.to_ids = !args.no_ids;
            FeedConfig {
                name,
                format,
                location: Location::Path(path.clone()),
                key: None,
                interval: std::time::Duration::from_secs(3600),
                snapshot: args.snapshot,
                max_age: None,
                defaults,
                max_bytes: riposte_intel::config::DEFAULT_MAX_BYTES,
                sightings: None,
            }
        }
        (None, None) => bail!("give --feed NAME, or --format FORMAT and a PATH"),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} indicators ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("importing {}", feed.name));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let progress = {
        let bar = bar.clone();
        move |n: u64| bar.set_position(n)
    };
    let result = run_feed(&feed, &ctx.store, None, now, Some(&progress)).await;
    bar.finish_and_clear();
    let r = result?;
    if r.not_modified {
        println!("{}: not modified since the last fetch", feed.name);
        return Ok(());
    }
    let i = &r.import;
    println!(
        "{}: {} records read, {} indicators ({} new), {} skipped, {} rejected, {} aged out",
        feed.name,
        i.read,
        i.indicators,
        r.added,
        i.skipped_total(),
        i.rejected,
        r.aged_out
    );
    for (why, n) in &i.skipped {
        println!("  skipped {n}: {why}");
    }
    for e in &i.errors {
        println!("  rejected: {e}");
    }
    if i.rejected as usize > i.errors.len() {
        println!(
            "  … and {} more rejected",
            i.rejected as usize - i.errors.len()
        );
    }
    Ok(())
}

/// Every stored indicator, page by page.
async fn each_indicator(
    store: &Arc<dyn Store>,
    mut f: impl FnMut(&riposte_model::Indicator) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let page = store.indicators_page(after.as_ref(), 10_000).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some((last.kind, last.value.to_string(), last.feed.to_string()));
        for i in &page {
            f(i)?;
        }
    }
}

async fn export_cmd(args: ExportArgs) -> anyhow::Result<()> {
    if !export::FORMATS.contains(&args.format.as_str()) {
        bail!(
            "unknown --format {:?} (valid: {})",
            args.format,
            export::FORMATS.join(", ")
        );
    }
    let ctx = args.store.open().await?;
    let now = SystemClock.now();
    let keep = |i: &riposte_model::Indicator| {
        i.is_valid_at(now)
            && (args.all || i.to_ids)
            && (args.kind.is_empty() || args.kind.contains(&i.kind))
            && args.feed.as_deref().is_none_or(|f| i.feed == f)
    };
    let mut n = 0u64;
    if args.format == "misp-feed" {
        let Some(dir) = &args.out else {
            bail!("misp-feed writes a folder: give --out DIR");
        };
        let mut w = export::MispFeedWriter::default();
        each_indicator(&ctx.store, |i| {
            if keep(i) {
                w.add(i);
                n += 1;
            }
            Ok(())
        })
        .await?;
        let events = w.finish(dir, now)?;
        eprintln!("{n} indicators in {events} events under {}", dir.display());
        return Ok(());
    }
    let out: Box<dyn Write> = match &args.out {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::new(out);
    match args.format.as_str() {
        "stix" => {
            let mut w = export::StixBundleWriter::new(&mut out, now)?;
            each_indicator(&ctx.store, |i| {
                if keep(i) {
                    w.add(i, now)?;
                    n += 1;
                }
                Ok(())
            })
            .await?;
            w.finish()?;
        }
        format => {
            if format == "zeek" {
                export::zeek_header(&mut out)?;
            }
            each_indicator(&ctx.store, |i| {
                if keep(i) {
                    let written = match format {
                        "plain" => export::plain(&mut out, i).map(|()| true)?,
                        "zeek" => export::zeek(&mut out, i)?,
                        "suricata-iprep" => export::suricata_iprep(&mut out, i, 1)?,
                        _ => export::suricata_dataset(&mut out, i).map(|()| true)?,
                    };
                    n += u64::from(written);
                }
                Ok(())
            })
            .await?;
        }
    }
    out.flush()?;
    eprintln!("{n} indicators exported");
    Ok(())
}

async fn lookup(
    store: StoreArgs,
    value: String,
    kind: Option<IndicatorKind>,
) -> anyhow::Result<()> {
    let ctx = store.open().await?;
    let riposte_intel::lookup::Lookup {
        kind,
        value: normalized,
        found,
    } = riposte_intel::lookup::lookup(ctx.store.as_ref(), kind, &value).await?;
    if found.is_empty() {
        println!("{kind} {normalized}: not in any feed");
        return Ok(());
    }
    let now = SystemClock.now();
    for i in found {
        println!(
            "{} {} — feed {}: confidence {}, TLP:{}, PAP:{}, {}{}",
            i.kind,
            i.value,
            i.feed,
            i.confidence,
            i.tlp.as_str().to_uppercase(),
            i.pap.as_str().to_uppercase(),
            if i.to_ids {
                "fit for detection"
            } else {
                "context only"
            },
            if i.is_valid_at(now) { "" } else { ", expired" },
        );
        if let Some(d) = &i.description {
            println!("  {d}");
        }
        if !i.tags.is_empty() {
            println!("  tags: {}", i.tags.join(", "));
        }
        if let Some(r) = &i.reference {
            println!("  reference: {r}");
        }
    }
    Ok(())
}

async fn push_sightings(store: StoreArgs, only: Option<String>) -> anyhow::Result<()> {
    let config = crate::commands::load_config(store.config_path())?;
    let ctx = store.open().await?;
    let feeds: Vec<&FeedConfig> = config
        .intel_feeds
        .iter()
        .filter(|f| f.sightings.is_some())
        .filter(|f| only.as_ref().is_none_or(|n| &f.name == n))
        .collect();
    if feeds.is_empty() {
        let names: Vec<&str> = config
            .intel_feeds
            .iter()
            .filter(|f| f.sightings.is_some())
            .map(|f| f.name.as_str())
            .collect();
        bail!(
            "no feed {} pushes sightings (feeds with sightings.push: {})",
            only.map_or("in the configuration".into(), |n| format!("{n:?}")),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        );
    }
    let mut failed = 0;
    for f in feeds {
        match riposte_intel::sightings::push_now(f, &ctx.store, SystemClock.now()).await {
            Ok(r) => println!(
                "{}: {} sightings pushed in {} requests",
                f.name, r.pushed, r.requests
            ),
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} feed(s) could not push; their sightings stay queued");
    }
    Ok(())
}

async fn stats(store: StoreArgs) -> anyhow::Result<()> {
    let ctx = store.open().await?;
    let counts = ctx.store.intel_counts().await?;
    let total: u64 = counts.iter().map(|c| c.indicators).sum();
    println!("Indicators ({total})");
    let mut feeds: Vec<&str> = Vec::new();
    for c in &counts {
        println!(
            "  {:<20} {:<10} {:>10} ({} fit for detection)",
            c.feed, c.kind, c.indicators, c.to_ids
        );
        if !feeds.contains(&c.feed.as_str()) {
            feeds.push(&c.feed);
        }
    }
    for f in feeds {
        if let Some(s) = ctx.store.setting(&state_key(f)).await? {
            let s: FeedState = serde_json::from_str(&s).unwrap_or_default();
            println!(
                "  feed {f}: last success {}, {} indicators, {} rejected{}",
                s.last_success.map_or("never".into(), |t| t.to_rfc3339()),
                s.indicators,
                s.rejected,
                s.last_error
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            );
        }
    }
    // Sightings push (MISP feeds): what waits, what went, the last error.
    let queued = ctx.store.sighting_queue_counts().await?;
    let mut names: Vec<&str> = counts.iter().map(|c| c.feed.as_str()).collect();
    names.extend(queued.iter().map(|(f, _)| f.as_str()));
    names.sort_unstable();
    names.dedup();
    for feed in names {
        let n = queued
            .iter()
            .find(|(f, _)| f == feed)
            .map_or(0, |(_, n)| *n);
        let Some(s) = ctx
            .store
            .setting(&riposte_intel::sightings::state_key(feed))
            .await?
        else {
            if n > 0 {
                println!("  sightings push {feed}: {n} queued, none pushed yet");
            }
            continue;
        };
        let s: riposte_intel::sightings::PushState = serde_json::from_str(&s).unwrap_or_default();
        println!(
            "  sightings push {feed}: {n} queued, {} pushed, last success {}{}",
            s.pushed,
            s.last_success.map_or("never".into(), |t| t.to_rfc3339()),
            s.last_error
                .map(|e| format!(", {} failures, last error: {e}", s.failures))
                .unwrap_or_default()
        );
    }
    let sightings = ctx.store.list_sightings(10).await?;
    println!("Recent sightings ({})", sightings.len());
    for s in sightings {
        println!(
            "  {} {} in {} {} ×{} (last {})",
            s.kind,
            s.value,
            s.source,
            s.field,
            s.count,
            s.last_seen.to_rfc3339()
        );
    }
    Ok(())
}
